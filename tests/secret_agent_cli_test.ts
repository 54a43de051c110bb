/**
 * `--encryption-key-secret` and `secrets:` user/password through `asbackup`/`asrestore`
 * main() with a live test Secret Agent over TCP, TLS (CA + SNI name, mutual TLS) and a Unix
 * socket, with and without `--sa-is-base64`.
 */

import assert from "node:assert/strict";
import { SecretAgentTestServer } from "../lib/secret_agent/test_server.ts";
import { createTestCertificates } from "../lib/secret_agent/test_tls.ts";
import {
  asbackup,
  asrestore,
  assertFailsCleanly,
  assertOk,
  assertRestoresSame,
  assertSameRecords,
  emulator3,
  pemBody,
  seedRecords,
  writeTestKeys,
} from "./_crypto_helpers.ts";
import { backupArgs } from "./_backup_e2e.ts";
import type { Emulator } from "../lib/emulator/mod.ts";

const RECORDS = 120;
const KEYS = await writeTestKeys();
Deno.test.afterAll(() => Deno.remove(KEYS.dir, { recursive: true }));

/** `--sa-*` flags that reach a test agent over TCP or a Unix socket. */
function saFlags(agent: SecretAgentTestServer): string[] {
  return agent.port === 0
    ? ["--sa-connection-type", "UNIX", "--sa-address", agent.address]
    : ["--sa-address", agent.address, "--sa-port", String(agent.port)];
}

/**
 * Backs up with the key from the agent (`secretFlags`), restores once with the key file and
 * once with the agent again, and compares both restores with the source.
 */
async function secretRoundTrip(
  source: Emulator,
  mode: "AES128" | "AES256",
  secretFlags: string[],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aerobak-sa-" });
  try {
    const backup = await asbackup([
      ...backupArgs(source, dir),
      "-z",
      "ZSTD",
      "--encrypt",
      mode,
      ...secretFlags,
    ]);
    assertOk(backup, `asbackup ${secretFlags.join(" ")}`);
    for (const keyFlags of [["--encryption-key-file", KEYS.pkcs1], secretFlags]) {
      await assertRestoresSame(
        source,
        dir,
        ["-z", "ZSTD", "--encrypt", mode, ...keyFlags],
        `asrestore ${keyFlags.join(" ")}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--encryption-key-secret fetches the key from a Secret Agent over TCP", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  await using agent = await SecretAgentTestServer.start({
    // PEM text (backup-go form) and base64 PKCS#1 DER (the form the C tool also reads).
    secrets: { vault: { pem: KEYS.pkcs8Pem, der: pemBody(KEYS.pkcs1Pem) } },
  });
  await secretRoundTrip(source, "AES256", [
    "--encryption-key-secret",
    "secrets:vault:pem",
    ...saFlags(agent),
  ]);
  await secretRoundTrip(source, "AES128", [
    "--encryption-key-secret",
    "secrets:vault:der",
    "--sa-address",
    // backup-go also reads host:port from the address alone.
    `${agent.address}:${agent.port}`,
    "--sa-timeout",
    "5000",
  ]);
  assert.ok(agent.requests.every((r) => r.resource === "vault"));
  assert.deepEqual(new Set(agent.requests.map((r) => r.key)), new Set(["pem", "der"]));
});

Deno.test("--encryption-key-secret over a Unix socket, with --sa-is-base64 values", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  {
    await using agent = await SecretAgentTestServer.start({
      transport: "unix",
      secrets: { vault: { key: KEYS.pkcs1Pem } },
    });
    await secretRoundTrip(source, "AES256", [
      "--encryption-key-secret",
      "secrets:vault:key",
      ...saFlags(agent),
    ]);
    // One fetch by the backup, one by the restore that used the agent.
    assert.equal(agent.requests.length, 2);
  }
  {
    // The agent sends base64 of the PEM; --sa-is-base64 decodes it back to the PEM text.
    await using agent = await SecretAgentTestServer.start({
      transport: "unix",
      base64: true,
      secrets: { vault: { key: KEYS.pkcs1Pem } },
    });
    await secretRoundTrip(source, "AES128", [
      "--encryption-key-secret",
      "secrets:vault:key",
      "--sa-is-base64",
      ...saFlags(agent),
    ]);
  }
});

Deno.test("--encryption-key-secret over TLS with --sa-ca-file and --sa-tls-name, and mutual TLS", async () => {
  const certs = await createTestCertificates({ serverName: "agent.aerobak.test" });
  try {
    await using source = await emulator3();
    seedRecords(source, RECORDS);
    {
      await using agent = await SecretAgentTestServer.start({
        transport: "tls",
        tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
        secrets: { vault: { key: KEYS.pkcs8Pem } },
      });
      await secretRoundTrip(source, "AES256", [
        "--encryption-key-secret",
        "secrets:vault:key",
        ...saFlags(agent),
        "--sa-ca-file",
        certs.caFile,
        "--sa-tls-name",
        certs.serverName,
      ]);
      // Without --sa-tls-name the certificate is checked against the address, an IP here.
      await secretRoundTrip(source, "AES128", [
        "--encryption-key-secret",
        "secrets:vault:key",
        ...saFlags(agent),
        "--sa-ca-file",
        certs.caFile,
      ]);
    }
    {
      await using agent = await SecretAgentTestServer.start({
        transport: "tls",
        tls: {
          certFile: certs.serverCertFile,
          keyFile: certs.serverKeyFile,
          caFile: certs.caFile,
          requireClientCert: true,
        },
        base64: true,
        secrets: { vault: { key: KEYS.pkcs1Pem } },
      });
      const flags = [
        "--encryption-key-secret",
        "secrets:vault:key",
        ...saFlags(agent),
        "--sa-ca-file",
        certs.caFile,
        "--sa-tls-name",
        certs.serverName,
        "--sa-is-base64",
      ];
      await secretRoundTrip(source, "AES128", [
        ...flags,
        "--sa-cert-file",
        certs.clientCertFile,
        "--sa-key-file",
        certs.clientKeyFile,
      ]);
      // Without the client certificate the agent refuses the handshake.
      const dir = await Deno.makeTempDir({ prefix: "aerobak-sa-" });
      try {
        const run = await asbackup([
          ...backupArgs(source, dir),
          "--encrypt",
          "AES128",
          ...flags,
        ]);
        assertFailsCleanly(run, /Secret Agent at 127\.0\.0\.1:\d+.*SECRET_AGENT_CONNECT/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test("secrets: references for --user and --password log in to a cluster with security", async () => {
  await using source = await emulator3({ backup: "b4ckup-pw" });
  seedRecords(source, RECORDS);
  await using agent = await SecretAgentTestServer.start({
    transport: "unix",
    secrets: { db: { user: "backup", password: "b4ckup-pw", wrong: "nope" } },
  });
  const dir = await Deno.makeTempDir({ prefix: "aerobak-sa-" });
  try {
    const auth = ["-U", "secrets:db:user", "-P", "secrets:db:password", ...saFlags(agent)];
    assertOk(
      await asbackup(["-h", source.seeds, "-n", "test", "-d", dir, ...auth]),
      "asbackup with secrets",
    );
    await using target = await emulator3({ backup: "b4ckup-pw" });
    assertOk(await asrestore(["-h", target.seeds, "-d", dir, ...auth]), "asrestore with secrets");
    assertSameRecords(target.dump("test"), source.dump("test"));
    assert.deepEqual(agent.requests.slice(0, 2), [
      { resource: "db", key: "user" },
      { resource: "db", key: "password" },
    ]);

    // The secret is really used: a wrong one is refused by the cluster.
    const wrong = await asrestore([
      "-h",
      target.seeds,
      "-d",
      dir,
      "-U",
      "secrets:db:user",
      "-P",
      "secrets:db:wrong",
      ...saFlags(agent),
    ]);
    assertFailsCleanly(wrong, /restore failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--config YAML: compression, encryption key-secret and secret-agent sections work end to end", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  await using agent = await SecretAgentTestServer.start({
    transport: "unix",
    base64: true,
    secrets: { vault: { key: KEYS.pkcs8Pem } },
  });
  const dir = await Deno.makeTempDir({ prefix: "aerobak-sa-" });
  try {
    const common = (port: number) => `
cluster:
  seeds:
    - host: 127.0.0.1
      port: ${port}
compression:
  compress: ZSTD
  level: 7
encryption:
  encrypt: AES256
  key-secret: secrets:vault:key
secret-agent:
  connection-type: UNIX
  address: ${agent.address}
  timeout: 5000
  is-base64: true
`;
    const port = (emu: Emulator) => Number(emu.seeds.split(",")[0].split(":")[1]);
    await Deno.writeTextFile(
      `${dir}/backup.yaml`,
      `${common(port(source))}backup:\n  namespace: test\n  directory: ${dir}/out\n`,
    );
    assertOk(await asbackup(["--config", `${dir}/backup.yaml`]), "asbackup --config");
    await using target = await emulator3();
    await Deno.writeTextFile(
      `${dir}/restore.yaml`,
      `${common(port(target))}restore:\n  directory: ${dir}/out\n`,
    );
    assertOk(await asrestore(["--config", `${dir}/restore.yaml`]), "asrestore --config");
    assertSameRecords(target.dump("test"), source.dump("test"));
    assert.equal(agent.requests.length, 2);
    // The key really is the agent's: the file restores with the same key from a file too.
    await using check = await emulator3();
    assertOk(
      await asrestore([
        "-h",
        check.seeds,
        "-d",
        `${dir}/out`,
        "-z",
        "ZSTD",
        "--encrypt",
        "AES256",
        "--encryption-key-file",
        KEYS.pkcs1,
      ]),
      "asrestore with the key file",
    );
    assertSameRecords(check.dump("test"), source.dump("test"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
