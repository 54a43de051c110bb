/**
 * End-to-end tests of `asbackup`'s general, client, timeout and info flags
 * (cli-flags.md §1) on a 3-node emulator.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import * as nodeTls from "node:tls";
import { createTestCertificates, type TestCertificates } from "../lib/secret_agent/test_tls.ts";
import { main as backupMain } from "../cli/asbackup.ts";
import {
  assertExactlyOnce,
  backupArgs,
  decodeFile,
  type FakeIo,
  fakeIo,
  readBackup,
  runBackupProcess,
  seeded,
  tempDir,
} from "./_backup_e2e.ts";

async function backup(args: string[], io: FakeIo = fakeIo()): Promise<FakeIo> {
  const code = await backupMain(args, io);
  assert.equal(code, 0, io.err.text);
  return io;
}

Deno.test("asbackup --help and --version print to stdout and exit 0", async () => {
  for (const flag of ["--help", "-Z"]) {
    const io = await backup([flag]);
    for (const f of ["--namespace", "--state-file-dst", "--records-per-second", "--rack-list"]) {
      assert.ok(io.out.text.includes(f), `${flag} lists ${f}`);
    }
    assert.equal(io.err.text, "");
  }
  for (const flag of ["--version", "-V"]) {
    const io = await backup([flag]);
    assert.match(io.out.text, /^version: \d+\.\d+\.\d+/);
  }
});

Deno.test("asbackup -v and --log-level choose which log lines are shown", async () => {
  await using dir = await tempDir();
  const quiet = await backup(["-n", "test", "-d", dir.path, "--remove-artifacts"]);
  assert.equal(quiet.err.text, "");
  const verbose = await backup(["-n", "test", "-d", dir.path, "--remove-artifacts", "-v"]);
  assert.match(verbose.err.text, /level=INFO msg="backup artifacts removed"/);
  const json = await backup([
    "-n",
    "test",
    "-d",
    dir.path,
    "--remove-artifacts",
    "--verbose",
    "--log-json",
  ]);
  assert.equal(JSON.parse(json.err.text).msg, "backup artifacts removed");
  const errorsOnly = await backup([
    "-n",
    "test",
    "-d",
    dir.path,
    "--remove-artifacts",
    "-v",
    "--log-level",
    "error",
  ]);
  assert.equal(errorsOnly.err.text, "");
  const bad = fakeIo();
  assert.equal(await backupMain(["-n", "test", "-d", dir.path, "--log-level", "loud"], bad), 1);
  assert.match(bad.err.text, /log-level/);
});

Deno.test("asbackup -h host -p port, --client-*-timeout and --services-alternate connect", async () => {
  await using emu = await seeded(200);
  const { host, port } = emu.hosts[2];
  for (
    const extra of [
      ["-h", host, "-p", String(port)],
      [
        "-h",
        `${host}:${port}`,
        "--client-timeout",
        "2000",
        "--client-idle-timeout",
        "5000",
        "--client-login-timeout",
        "2000",
      ],
    ]
  ) {
    await using dir = await tempDir();
    await backup([...extra, "-n", "test", "-d", dir.path, "-w", "2"]);
    assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
  }
  // The emulator, like a server without alternate-access-address, lists no alternate
  // peers: with --services-alternate only the seed node is known, so use a 1-node cluster.
  await using single = await seeded(200, { nodes: 1 });
  await using dir = await tempDir();
  await backup(["-h", single.seeds, "--services-alternate", "-n", "test", "-d", dir.path]);
  assertExactlyOnce((await readBackup(dir.path)).records, single.dump("test"));
});

Deno.test("asbackup -U/-P log in with every password form, --client-login-timeout bounds the login, bad credentials fail clearly", async () => {
  await using emu = await seeded(100, { users: { admin: "s3cret" } });
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/pw`, "s3cret\n");
  const forms = [
    "s3cret",
    "env:PW",
    "env-b64:PWB64",
    `b64:${btoa("s3cret")}`,
    `file:${dir.path}/pw`,
  ];
  for (const [i, pw] of forms.entries()) {
    const out = `${dir.path}/out${i}`;
    await backup(
      ["-h", emu.seeds, "-U", "admin", "-P", pw, "--auth", "INTERNAL", "-n", "test", "-d", out],
      fakeIo({ PW: "s3cret", PWB64: btoa("s3cret") }),
    );
    assertExactlyOnce((await readBackup(out)).records, emu.dump("test"));
  }
  const wrong = fakeIo();
  assert.equal(
    await backupMain([
      "-h",
      emu.seeds,
      "-U",
      "admin",
      "-P",
      "nope",
      "-n",
      "test",
      "-d",
      `${dir.path}/x`,
    ], wrong),
    1,
  );
  assert.equal(wrong.err.text.trim().split("\n").length, 1, wrong.err.text);
  assert.match(wrong.err.text, /admin|password|auth/i);
  // --client-login-timeout bounds the login: slow admin answers fail it, then pass.
  emu.faults.delay(400, { kinds: ["admin"] });
  const login = ["-h", emu.seeds, "-U", "admin", "-P", "s3cret", "-n", "test"];
  const slow = fakeIo();
  assert.equal(
    await backupMain([...login, "-d", `${dir.path}/l1`, "--client-login-timeout", "100"], slow),
    1,
  );
  assert.equal(slow.err.text.trim().split("\n").length, 1, slow.err.text);
  // The socket and the total timeout are both 100 ms: the total one governs.
  assert.match(slow.err.text, /Login on .* failed: total timeout of 100 ms passed/);
  await backup([...login, "-d", `${dir.path}/l2`, "--client-login-timeout", "3000"]);
  emu.faults.clear();
  const none = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-d", `${dir.path}/y`], none), 1);
  assert.match(none.err.text, /msg="backup failed"/);
  const external = fakeIo();
  assert.equal(
    await backupMain([
      "-h",
      emu.seeds,
      "-U",
      "a",
      "-P",
      "b",
      "--auth",
      "EXTERNAL",
      "-n",
      "test",
      "-d",
      `${dir.path}/z`,
    ], external),
    1,
  );
  assert.match(external.err.text, /EXTERNAL|TLS/);
});

Deno.test("asbackup --socket-timeout and --total-timeout end a stalled scan with one clear error", async () => {
  await using emu = await seeded(300);
  await using dir = await tempDir();
  // Answers come 400 ms late: a 2 s socket timeout waits them out ...
  emu.faults.delay(400, { kinds: ["scan"] });
  await backup(["-h", emu.seeds, "-n", "test", "-d", `${dir.path}/ok`, "--socket-timeout", "2000"]);
  assertExactlyOnce((await readBackup(`${dir.path}/ok`)).records, emu.dump("test"));
  // ... a 100 ms one gives up after its retries ...
  const io = fakeIo();
  const args = [
    "-h",
    emu.seeds,
    "-n",
    "test",
    "--max-retries",
    "1",
    "--sleep-between-retries",
    "1",
  ];
  assert.equal(
    await backupMain([...args, "-d", `${dir.path}/s`, "--socket-timeout", "100"], io),
    1,
  );
  assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
  assert.match(io.err.text, /msg="backup failed" error=".*no data for 100 ms/);
  // ... and so does a 300 ms total timeout.
  const io2 = fakeIo();
  const t = performance.now();
  assert.equal(
    await backupMain([...args, "-d", `${dir.path}/t`, "--total-timeout", "300"], io2),
    1,
  );
  assert.ok(performance.now() - t < 5000);
  assert.match(io2.err.text, /msg="backup failed" error=".*(timeout|timed out)/i);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["ok"]);
});

Deno.test("asbackup -T and --info-* retry slow info commands, then fail naming the command", async () => {
  await using emu = await seeded(50, { nodes: 1 });
  await using dir = await tempDir();
  const { host, port } = emu.hosts[0];
  // Every info answer comes 150 ms late: the connection (not governed by -T) waits, the
  // backup's own info commands time out at 100 ms.
  const io = fakeIo();
  emu.faults.delay(150, { kinds: ["info"] });
  const run = backupMain([
    "-h",
    `${host}:${port}`,
    "-n",
    "test",
    "-d",
    dir.path,
    "-T",
    "100",
    "--info-max-retries",
    "3",
    "--info-retry-interval",
    "200",
    "--info-retry-multiplier",
    "2",
  ], io);
  const t = performance.now();
  assert.equal(await run, 1);
  const ms = performance.now() - t;
  emu.faults.clear();
  // 3 attempts of 100 ms with waits of 200 and 400 ms between them.
  assert.ok(ms >= 800, `gave up after ${ms.toFixed(0)} ms`);
  assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
  assert.match(
    io.err.text,
    /msg="backup failed" error="Info build .* total timeout of 100 ms passed while reading/,
  );
  // With room to answer, the same flags succeed.
  await backup([
    ...backupArgs(emu, dir.path),
    "-T",
    "5000",
    "--info-max-retries",
    "1",
  ]);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup --prefer-racks reads every record once from the preferred rack", async () => {
  await using emu = await seeded(1000, { racks: [1, 2, 2] });
  // Every scan served by the rack-1 node breaks at once, and nothing is retried: only a
  // backup that reads from rack 2 alone can succeed.
  emu.faults.dropScanConnection(0, { node: emu.nodeNames[0], times: 1_000_000 });
  const args = ["-h", emu.seeds, "-n", "test", "-w", "3", "--max-retries", "0"];
  await using dir = await tempDir();
  await backup([...args, "-d", dir.path, "--prefer-racks", "2"]);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
  const io = fakeIo();
  assert.equal(await backupMain([...args, "-d", `${dir.path}/any`], io), 1);
  assert.match(io.err.text, /msg="backup failed"/);
});

Deno.test("asbackup --local-buffer-size and --std-buffer set the write buffers", async () => {
  await using emu = await seeded(300);
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "--local-buffer-size", "1"]);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
  const r = await runBackupProcess(["-h", emu.seeds, "-n", "test", "-o", "-", "--std-buffer", "1"]);
  assert.equal(r.code, 0, r.stderr);
  const f = await decodeFile("<stdout>", new Blob([r.stdout.slice()]).stream(), r.stdout.length);
  assertExactlyOnce(f.records, emu.dump("test"));
});

/** A TLS front for a 1-node emulator: terminates TLS and forwards the bytes. */
async function tlsFront(
  certs: TestCertificates,
  target: { host: string; port: number },
  mutual: boolean,
  minVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.2",
): Promise<{ port: number } & AsyncDisposable> {
  const sockets = new Set<import("node:net").Socket>();
  const server = nodeTls.createServer({
    cert: await Deno.readTextFile(certs.serverCertFile),
    key: await Deno.readTextFile(certs.serverKeyFile),
    ca: await Deno.readTextFile(certs.caFile),
    requestCert: mutual,
    rejectUnauthorized: mutual,
    minVersion,
  }, (client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    [Symbol.asyncDispose]: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

Deno.test("asbackup --tls-* back up over TLS, server-verified and mutual, and refuse a wrong CA or name", async () => {
  const certs = await createTestCertificates({ serverName: "aero.test" });
  try {
    // Racks make the emulator answer the TLS peer commands as an Enterprise server.
    await using emu = await seeded(100, { nodes: 1, racks: [1] });
    const all = emu.dump("test");
    await using dir = await tempDir();
    await using front = await tlsFront(certs, emu.hosts[0], false);
    const ok = async (args: string[], out: string) => {
      await backup([...args, "-n", "test", "-d", `${dir.path}/${out}`]);
      assertExactlyOnce((await readBackup(`${dir.path}/${out}`)).records, all);
    };
    // By address (checked against the certificate's IP), and by TLS name in the host.
    await ok(["-h", `127.0.0.1:${front.port}`, "--tls-enable", "--tls-cafile", certs.caFile], "ip");
    await ok([
      "-h",
      `127.0.0.1:aero.test:${front.port}`,
      "--tls-enable",
      "--tls-cafile",
      certs.caFile,
      "--tls-protocols",
      "+TLSv1.2 +TLSv1.3",
    ], "name");
    await ok([
      "-h",
      `127.0.0.1:${front.port}`,
      "--tls-enable",
      "--tls-name",
      "localhost",
      "--tls-cafile",
      `b64:${btoa(await Deno.readTextFile(certs.caFile))}`,
    ], "b64");
    const refused = async (args: string[], re: RegExp) => {
      const io = fakeIo();
      assert.equal(
        await backupMain(
          [...args, "-n", "test", "-d", `${dir.path}/x`, "--client-timeout", "2000"],
          io,
        ),
        1,
      );
      assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
      assert.match(io.err.text, re);
    };
    await refused(["-h", `127.0.0.1:${front.port}`, "--tls-enable"], /self-signed certificate/);
    await refused(
      [
        "-h",
        `127.0.0.1:${front.port}`,
        "--tls-enable",
        "--tls-cafile",
        certs.caFile,
        "--tls-name",
        "other.name",
      ],
      /other\.name\. is not in the cert's altnames/,
    );
    await refused(["-h", `127.0.0.1:${front.port}`], /127\.0\.0\.1/);

    // Mutual TLS: the front demands a client certificate signed by the CA.
    await using mutual = await tlsFront(certs, emu.hosts[0], true);
    await ok([
      "-h",
      `127.0.0.1:${mutual.port}`,
      "--tls-enable",
      "--tls-cafile",
      certs.caFile,
      "--tls-certfile",
      certs.clientCertFile,
      "--tls-keyfile",
      certs.clientKeyFile,
    ], "mutual");
    await refused(
      ["-h", `127.0.0.1:${mutual.port}`, "--tls-enable", "--tls-cafile", certs.caFile],
      /CertificateRequired|certificate/i,
    );
    // --tls-protocols: a TLSv1.3-only server refuses the default +TLSv1.2.
    await using v13 = await tlsFront(certs, emu.hosts[0], false, "TLSv1.3");
    const tls13 = ["-h", `127.0.0.1:${v13.port}`, "--tls-enable", "--tls-cafile", certs.caFile];
    await refused(tls13, /version|protocol/i);
    await ok([...tls13, "--tls-protocols", "+TLSv1.3"], "tls13");

    // A CA directory, and a client key encrypted with a password.
    await Deno.mkdir(`${certs.dir}/cas`);
    await Deno.copyFile(certs.caFile, `${certs.dir}/cas/root.crt`);
    const encrypted = `${certs.dir}/client.enc.key`;
    const openssl = await new Deno.Command("openssl", {
      args: [
        "pkcs8",
        "-topk8",
        "-in",
        certs.clientKeyFile,
        "-out",
        encrypted,
        "-passout",
        "pass:kpw",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(openssl.success);
    const withKey = (password: string) => [
      "-h",
      `127.0.0.1:${mutual.port}`,
      "--tls-enable",
      "--tls-capath",
      `${certs.dir}/cas`,
      "--tls-certfile",
      certs.clientCertFile,
      "--tls-keyfile",
      encrypted,
      "--tls-keyfile-password",
      password,
    ];
    await ok(withKey("kpw"), "encrypted-key");
    await refused(withKey("wrong"), /key/i);
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
});
