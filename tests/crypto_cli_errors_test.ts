/**
 * Bad compression, encryption and Secret Agent input through `asrestore` (and `asbackup`)
 * main(): each fails with exit code 1 and one error line naming the file, flag, variable or
 * agent, writes no garbage records, and prints no stack trace.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as net from "node:net";
import { generateKeyPairSync } from "node:crypto";
import type { Emulator } from "../lib/emulator/mod.ts";
import { SecretAgentTestServer } from "../lib/secret_agent/test_server.ts";
import { createTestCertificates } from "../lib/secret_agent/test_tls.ts";
import {
  asbackup,
  asrestore,
  assertFailsCleanly,
  assertOk,
  type CliRun,
  emulator3,
  listFiles,
  seedRecords,
  writeTestKeys,
} from "./_crypto_helpers.ts";

const KEYS = await writeTestKeys();
const OTHER_KEY = `${KEYS.dir}/other.pem`;
await Deno.writeTextFile(
  OTHER_KEY,
  generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
    .export({ type: "pkcs1", format: "pem" }) as string,
);
const SOURCE = await emulator3();
seedRecords(SOURCE, 200, 512);
const SOURCE_DUMP = new Map(
  SOURCE.dump("test").map((r) => [Buffer.from(r.digest).toString("hex"), r]),
);

/** Backups written once: `<dir>/<name>/` per flag set (one file each, `-o`). */
const DIR = await Deno.makeTempDir({ prefix: "aerobak-bad-" });
const BACKUPS: Record<string, string[]> = {
  plain: [],
  zstd: ["-z", "ZSTD"],
  aes256: ["--encrypt", "AES256", "--encryption-key-file", KEYS.pkcs1],
  "zstd-aes256": ["-z", "ZSTD", "--encrypt", "AES256", "--encryption-key-file", KEYS.pkcs1],
};
for (const [name, flags] of Object.entries(BACKUPS)) {
  await Deno.mkdir(`${DIR}/${name}`);
  const run = await asbackup([
    "-h",
    SOURCE.seeds,
    "-n",
    "test",
    "-o",
    `${DIR}/${name}/test.asb`,
    ...flags,
  ]);
  assertOk(run, `asbackup ${name}`);
}
Deno.test.afterAll(async () => {
  await SOURCE.close();
  await Deno.remove(DIR, { recursive: true });
  await Deno.remove(KEYS.dir, { recursive: true });
});

/** Restores `input` (a backup name or a path) into a new cluster; returns run and cluster. */
async function restore(input: string, flags: string[]): Promise<{ run: CliRun; emu: Emulator }> {
  const emu = await emulator3();
  const path = input.startsWith("/") ? input : `${DIR}/${input}/test.asb`;
  const run = await asrestore(["-h", emu.seeds, "-i", path, ...flags]);
  return { run, emu };
}

/** No record in the cluster differs from a source record (a partial restore is allowed). */
function assertNoGarbage(emu: Emulator): void {
  for (const r of emu.dump("test")) {
    const src = SOURCE_DUMP.get(Buffer.from(r.digest).toString("hex"));
    assert.ok(src, "a restored record that the source does not hold");
    assert.deepEqual(r.bins, src.bins);
  }
}

async function failsWithNothingRestored(input: string, flags: string[], pattern: RegExp) {
  const { run, emu } = await restore(input, flags);
  try {
    assertFailsCleanly(run, pattern);
    assert.equal(emu.count("test"), 0, "records were restored");
  } finally {
    await emu.close();
  }
}

Deno.test("asrestore with a wrong key names the file and restores nothing", async () => {
  await failsWithNothingRestored(
    "zstd-aes256",
    ["-z", "ZSTD", "--encrypt", "AES256", "--encryption-key-file", OTHER_KEY],
    /zstd-aes256\/test\.asb: expected a zstd frame .* \(wrong encryption key or --encrypt mode\?\) \[ZSTD_CORRUPT\]/,
  );
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES256", "--encryption-key-file", OTHER_KEY],
    /aes256\/test\.asb does not start with an ASB header.*wrong encryption key or --encrypt mode\? \[BACKUP_HEADER_INVALID\]/,
  );
  // Right key, wrong length: AES-128 takes the first half of the digest only.
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES128", "--encryption-key-file", KEYS.pkcs1],
    /aes256\/test\.asb does not start with an ASB header.*wrong encryption key or --encrypt mode\? \[BACKUP_HEADER_INVALID\]/,
  );
});

Deno.test("asrestore with a missing key file or a key that is not RSA names the file", async () => {
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES256", "--encryption-key-file", `${KEYS.dir}/missing.pem`],
    /encryption key from file .*missing\.pem: no such file \[ENCRYPTION_KEY\]/,
  );
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES256", "--encryption-key-file", KEYS.ec],
    /encryption key from file .*ec\.pem: expected an RSA private key, found a key of type ec/,
  );
  // Not a PEM file at all: the backup file itself given as the key.
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES256", "--encryption-key-file", `${DIR}/plain/test.asb`],
    /encryption key from file .*plain\/test\.asb: no PEM block/,
  );
});

Deno.test("asrestore with a bad --encryption-key-env names the variable", async () => {
  const name = `AEROBAK_TEST_BAD_KEY_${crypto.randomUUID().replaceAll("-", "")}`;
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES256", "--encryption-key-env", name],
    new RegExp(`environment variable ${name}: it is not set \\[ENCRYPTION_KEY\\]`),
  );
  Deno.env.set(name, "not a key!");
  try {
    await failsWithNothingRestored(
      "aes256",
      ["--encrypt", "AES256", "--encryption-key-env", name],
      new RegExp(`environment variable ${name}: the value is neither PEM nor base64`),
    );
  } finally {
    Deno.env.delete(name);
  }
});

Deno.test("asrestore of an encrypted or compressed backup without --encrypt/--compress says so", async () => {
  await failsWithNothingRestored(
    "aes256",
    [],
    /aes256\/test\.asb does not start with an ASB header.*missing --encrypt/,
  );
  await failsWithNothingRestored(
    "zstd",
    [],
    /zstd\/test\.asb does not start with an ASB header.*zstd-compressed: missing --compress ZSTD\?/,
  );
  await failsWithNothingRestored(
    "zstd-aes256",
    ["-z", "ZSTD"],
    /zstd-aes256\/test\.asb: .*an encrypted file restored without --encrypt.*\[ZSTD_CORRUPT\]/,
  );
  await failsWithNothingRestored(
    "plain",
    ["-z", "ZSTD"],
    /plain\/test\.asb: .*the file is not compressed: drop --compress\?.*\[ZSTD_CORRUPT\]/,
  );
  // A mode without a key source is refused before any file is read.
  await failsWithNothingRestored(
    "aes256",
    ["--encrypt", "AES256"],
    /invalid restore configuration.*--encrypt AES256 needs the private key: set one of --encryption-key-file, --encryption-key-env, --encryption-key-secret/,
  );
});

Deno.test("asrestore of a truncated stream fails naming the file, without garbage records", async () => {
  const crypt = ["-z", "ZSTD", "--encrypt", "AES256", "--encryption-key-file", KEYS.pkcs1];
  const full = await Deno.readFile(`${DIR}/zstd-aes256/test.asb`);
  const plain = await Deno.readFile(`${DIR}/plain/test.asb`);
  const cut = `${DIR}/cut`;
  await Deno.mkdir(cut, { recursive: true });
  const cases: [string, Uint8Array, string[], RegExp][] = [
    ["half.asb", full.subarray(0, full.length >> 1), crypt, /half\.asb.*\[ZSTD_TRUNCATED\]/],
    [
      "end.asb",
      full.subarray(0, full.length - 5),
      crypt,
      /end\.asb.*\[(ZSTD_TRUNCATED|ZSTD_CORRUPT)\]/,
    ],
    [
      "counter.asb",
      full.subarray(0, 10),
      crypt,
      /counter\.asb: it has 10 bytes, fewer than the 16-byte counter block.*\[ENCRYPTION_TRUNCATED\]/,
    ],
    ["empty.asb", new Uint8Array(0), crypt, /empty\.asb.*\[ENCRYPTION_TRUNCATED\]/],
    [
      "plain-cut.asb",
      plain.subarray(0, Math.floor(plain.length * 0.6)),
      [],
      /plain-cut\.asb.*(line \d+|offset \d+).*\[ASB_SYNTAX\]|plain-cut\.asb/,
    ],
  ];
  for (const [name, bytes, flags, pattern] of cases) {
    await Deno.writeFile(`${cut}/${name}`, bytes);
    const { run, emu } = await restore(`${cut}/${name}`, flags);
    try {
      assertFailsCleanly(run, pattern);
      assert.ok(emu.count("test") < SOURCE_DUMP.size, `${name}: everything was restored`);
      assertNoGarbage(emu);
    } finally {
      await emu.close();
    }
  }
});

Deno.test("Secret Agent failures name the secret and the agent: unknown key, agent down, silent, bad TLS name", async () => {
  const secret = ["--encrypt", "AES256", "--encryption-key-secret"];
  {
    await using agent = await SecretAgentTestServer.start({ secrets: { vault: { key: "x" } } });
    const sa = ["--sa-address", agent.address, "--sa-port", String(agent.port)];
    await failsWithNothingRestored(
      "aes256",
      [...secret, "secrets:vault:nokey", ...sa],
      /secret vault:nokey from the Secret Agent at 127\.0\.0\.1:\d+: the agent answered .*not found in resource.*\[SECRET_AGENT_ERROR\]/,
    );
    // The agent's value is not a key at all.
    await failsWithNothingRestored(
      "aes256",
      [...secret, "secrets:vault:key", ...sa],
      /encryption key from secret secrets:vault:key: .*\[ENCRYPTION_KEY\]/,
    );
    await failsWithNothingRestored(
      "aes256",
      [...secret, "secrets:nokey", ...sa],
      /secret reference \\?"secrets:nokey\\?": expected secrets:<resource>:<key>/,
    );
  }
  // Agent down: a port nobody listens on.
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  await failsWithNothingRestored(
    "aes256",
    [...secret, "secrets:vault:key", "--sa-address", "127.0.0.1", "--sa-port", String(closed)],
    new RegExp(`Secret Agent at 127\\.0\\.0\\.1:${closed}: .*\\[SECRET_AGENT_CONNECT\\]`),
  );
  await failsWithNothingRestored(
    "aes256",
    [
      ...secret,
      "secrets:vault:key",
      "--sa-connection-type",
      "UNIX",
      "--sa-address",
      `${DIR}/no-agent.sock`,
    ],
    /Secret Agent at unix:.*no-agent\.sock: .*\[SECRET_AGENT_CONNECT\]/,
  );
  {
    await using agent = await SecretAgentTestServer.start({ secrets: {}, behaviour: "silent" });
    await failsWithNothingRestored(
      "aes256",
      [
        ...secret,
        "secrets:vault:key",
        "--sa-address",
        agent.address,
        "--sa-port",
        String(agent.port),
        "--sa-timeout",
        "300",
      ],
      /Secret Agent at 127\.0\.0\.1:\d+: no complete answer within 300 ms \[SECRET_AGENT_TIMEOUT\]/,
    );
  }
  // No agent configured at all.
  await failsWithNothingRestored(
    "aes256",
    [...secret, "secrets:vault:key"],
    /--encryption-key-secret \\?"secrets:vault:key\\?" needs a Secret Agent: set --sa-address/,
  );
  // TLS with a name the agent's certificate does not carry.
  const certs = await createTestCertificates({ serverName: "agent.aerobak.test" });
  try {
    await using agent = await SecretAgentTestServer.start({
      transport: "tls",
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
      secrets: { vault: { key: KEYS.pkcs1Pem } },
    });
    await failsWithNothingRestored(
      "aes256",
      [
        ...secret,
        "secrets:vault:key",
        "--sa-address",
        agent.address,
        "--sa-port",
        String(agent.port),
        "--sa-ca-file",
        certs.caFile,
        "--sa-tls-name",
        "other.aerobak.test",
      ],
      /Secret Agent at 127\.0\.0\.1:\d+: .*other\.aerobak\.test.*\[SECRET_AGENT_CONNECT\]/,
    );
    await failsWithNothingRestored(
      "aes256",
      [
        ...secret,
        "secrets:vault:key",
        "--sa-address",
        agent.address,
        "--sa-port",
        String(agent.port),
        "--sa-ca-file",
        `${certs.dir}/missing-ca.pem`,
      ],
      /Secret Agent CA file .*missing-ca\.pem/,
    );
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test("asbackup with a bad key or an unreachable agent fails before writing any file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aerobak-bad-" });
  try {
    const base = ["-h", SOURCE.seeds, "-n", "test", "-d", dir];
    assertFailsCleanly(
      await asbackup([...base, "--encrypt", "AES128", "--encryption-key-file", KEYS.ec]),
      /backup failed.*ec\.pem: expected an RSA private key/,
    );
    assertFailsCleanly(
      await asbackup([...base, "-z", "LZ4"]),
      /invalid value \\?"LZ4\\?" for --compress: expected one of NONE, ZSTD/,
    );
    assertFailsCleanly(
      await asbackup([...base, "--encrypt", "AES512", "--encryption-key-file", KEYS.pkcs1]),
      /invalid value \\?"AES512\\?" for --encrypt: expected one of NONE, AES128, AES256/,
    );
    assertFailsCleanly(
      await asbackup([...base, "-z", "ZSTD", "--compression-level", "99"]),
      /invalid value \\?"99\\?" for --compression-level: expected an integer from -131072 to 22/,
    );
    assertFailsCleanly(
      await asbackup([
        ...base,
        "--encrypt",
        "AES256",
        "--encryption-key-secret",
        "secrets:vault:key",
        "--sa-connection-type",
        "UNIX",
        "--sa-address",
        `${dir}/none.sock`,
      ]),
      /backup failed.*Secret Agent at unix:.*none\.sock.*\[SECRET_AGENT_CONNECT\]/,
    );
    assert.deepEqual(await listFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asrestore --validate decrypts and decompresses without a cluster, and catches a wrong key", async () => {
  const crypt = ["-z", "ZSTD", "--encrypt", "AES256"];
  const ok = await asrestore([
    "-i",
    `${DIR}/zstd-aes256/test.asb`,
    "--validate",
    ...crypt,
    "--encryption-key-file",
    KEYS.pkcs8,
  ]);
  assertOk(ok, "asrestore --validate");
  assert.match(ok.stderr, /Validation report/);
  assert.match(ok.stderr, new RegExp(`Records Read: +${SOURCE_DUMP.size}\\n`));
  assertFailsCleanly(
    await asrestore([
      "-i",
      `${DIR}/zstd-aes256/test.asb`,
      "--validate",
      ...crypt,
      "--encryption-key-file",
      OTHER_KEY,
    ]),
    /validation failed.*zstd-aes256\/test\.asb: .*wrong encryption key or --encrypt mode\?/,
  );
});

Deno.test("secrets: user/password without an agent or with the agent down name the flag and agent", async () => {
  assertFailsCleanly(
    await asrestore(["-h", SOURCE.seeds, "-i", `${DIR}/plain/test.asb`, "-P", "secrets:db:pw"]),
    /--password \\?"secrets:db:pw\\?" needs a Secret Agent: set --sa-address/,
  );
  assertFailsCleanly(
    await asbackup([
      "-h",
      SOURCE.seeds,
      "-n",
      "test",
      "-o",
      `${DIR}/never.asb`,
      "-U",
      "secrets:db:user",
      "--sa-connection-type",
      "UNIX",
      "--sa-address",
      `${DIR}/down.sock`,
    ]),
    /backup failed.*secret db:user from the Secret Agent at unix:.*down\.sock.*\[SECRET_AGENT_CONNECT\]/,
  );
  await assert.rejects(Deno.stat(`${DIR}/never.asb`), Deno.errors.NotFound);
});
