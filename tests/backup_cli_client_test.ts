/**
 * End-to-end tests of `asbackup`'s general, client, timeout and info flags
 * (cli-flags.md §1) on a 3-node emulator.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import {
  assertExactlyOnce,
  decodeFile,
  fakeIo,
  type FakeIo,
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

Deno.test("asbackup -U/-P log in (clear text, env:, b64:, file:) and a wrong password fails clearly", async () => {
  await using emu = await seeded(100, { users: { admin: "s3cret" } });
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/pw`, "s3cret\n");
  const forms = ["s3cret", "env:PW", `b64:${btoa("s3cret")}`, `file:${dir.path}/pw`];
  for (const [i, pw] of forms.entries()) {
    const out = `${dir.path}/out${i}`;
    await backup(
      ["-h", emu.seeds, "-U", "admin", "-P", pw, "--auth", "INTERNAL", "-n", "test", "-d", out],
      fakeIo({ PW: "s3cret" }),
    );
    assertExactlyOnce((await readBackup(out)).records, emu.dump("test"));
  }
  const wrong = fakeIo();
  assert.equal(
    await backupMain(["-h", emu.seeds, "-U", "admin", "-P", "nope", "-n", "test", "-d", `${dir.path}/x`], wrong),
    1,
  );
  assert.equal(wrong.err.text.trim().split("\n").length, 1, wrong.err.text);
  assert.match(wrong.err.text, /admin|password|auth/i);
  const none = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-d", `${dir.path}/y`], none), 1);
  assert.match(none.err.text, /msg="backup failed"/);
  const external = fakeIo();
  assert.equal(
    await backupMain(["-h", emu.seeds, "-U", "a", "-P", "b", "--auth", "EXTERNAL", "-n", "test", "-d", `${dir.path}/z`], external),
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
  const args = ["-h", emu.seeds, "-n", "test", "--max-retries", "1", "--sleep-between-retries", "1"];
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
  console.log(io.err.text);
  assert.match(io.err.text, /msg="backup failed" error=".*(timeout|timed out)/i);
  // With room to answer, the same flags succeed.
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-T", "5000", "--info-max-retries", "1"]);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup --prefer-racks reads every record once from the preferred rack", async () => {
  await using emu = await seeded(1000, { racks: [1, 2, 2] });
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "--prefer-racks", "2", "-w", "3"]);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
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
