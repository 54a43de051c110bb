/**
 * End-to-end tests of `asbackup` under faults (a node stopped mid-scan, dropped scan
 * connections, unavailable partitions) and bad targets (unwritable, full disk), plus
 * standard output as a real process.
 */

import { MANIFEST_FILE_NAME } from "../lib/backup/manifest.ts";
import assert from "node:assert/strict";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { BackupClient } from "../lib/client.ts";
import { AerobakError } from "../lib/errors.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";
import { main as backupMain } from "../cli/asbackup.ts";
import {
  assertAtLeastOnce,
  assertExactlyOnce,
  backupArgs,
  decodeFile,
  fakeIo,
  readBackup,
  runBackupProcess,
  seeded,
  tempDir,
} from "./_backup_e2e.ts";

Deno.test("asbackup completes with every record when a node stops mid-scan", async () => {
  await using emu = await seeded(3000);
  const all = emu.dump("test");
  await using dir = await tempDir();
  const io = fakeIo();
  // 3000 records/s: a second of scanning, so the node stops with the scan well under way.
  const run = backupMain([
    ...backupArgs(emu, dir.path),
    "-w",
    "4",
    "-L",
    "3000",
    "--sleep-between-retries",
    "20",
  ], io);
  // The first data file opens with the first record written.
  const deadline = performance.now() + 20_000;
  while ([...Deno.readDirSync(dir.path)].length === 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2));
  }
  await emu.stopNode(1);
  assert.equal(await run, 0, io.err.text);
  assert.match(io.err.text, /Records Read: +3000\n/);
  // Partitions of the stopped node are read again from the replicas after their last digest.
  assertExactlyOnce((await readBackup(dir.path)).records, all);
});

Deno.test("asbackup resumes dropped scan connections without losing or repeating records", async () => {
  await using emu = await seeded(2000);
  emu.faults.dropScanConnection(40, { times: 6 });
  await using dir = await tempDir();
  const io = fakeIo();
  assert.equal(
    await backupMain(
      ["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "3", "--sleep-between-retries", "10"],
      io,
    ),
    0,
    io.err.text,
  );
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup paged by a state file reads every record once through dropped connections", async () => {
  await using emu = await seeded(2500);
  emu.faults.dropScanConnection(30, { times: 8 });
  await using dir = await tempDir();
  const io = fakeIo();
  const args = ["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "3", "-F", "1"];
  const paging = ["--state-file-dst", "s.state", "--scan-page-size", "70"];
  assert.equal(
    await backupMain([...args, ...paging, "--sleep-between-retries", "10", "-s", "alpha,beta"], io),
    0,
    io.err.text,
  );
  const b = await readBackup(dir.path);
  assert.deepEqual(b.others, [MANIFEST_FILE_NAME], "state file removed on success");
  assertExactlyOnce(
    b.records,
    emu.dump("test").filter((r) => r.set === "alpha" || r.set === "beta"),
  );
});

Deno.test("asbackup waits out partitions that are unavailable for a while", async () => {
  await using emu = await seeded(2000);
  const pids = Array.from({ length: 200 }, (_, i) => i * 7);
  emu.faults.makeUnavailable("test", pids, 300);
  await using dir = await tempDir();
  const io = fakeIo();
  assert.equal(
    await backupMain([
      ...backupArgs(emu, dir.path),
      "-w",
      "2",
      "--sleep-between-retries",
      "100",
      "--max-retries",
      "20",
    ], io),
    0,
    io.err.text,
  );
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup fails clearly on partitions that stay unavailable, and leaves a state to continue", async () => {
  await using emu = await seeded(1500);
  emu.faults.makeUnavailable("test", [5, 6, 7]);
  const args = (dir: string) => [
    ...backupArgs(emu, dir),
    "--sleep-between-retries",
    "5",
    "--max-retries",
    "2",
  ];
  // Without a state file: exit 1, one line, and no file a restore would take for whole.
  await using plain = await tempDir();
  const io = fakeIo();
  assert.equal(await backupMain(args(plain.path), io), 1);
  assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
  assert.match(io.err.text, /msg="backup failed" error=".*partition/i);
  assert.deepEqual([...Deno.readDirSync(plain.path)], [], "incomplete files removed");
  // --sleep-between-retries grows with each round: 150 ms, then 300 ms, before giving up.
  const slow = fakeIo();
  const t = performance.now();
  const slowArgs = [...args(plain.path), "--sleep-between-retries", "150", "--max-retries", "2"];
  assert.equal(await backupMain(slowArgs, slow), 1);
  const ms = performance.now() - t;
  assert.ok(ms >= 400, `gave up after ${ms.toFixed(0)} ms`);
  assert.match(slow.err.text, /after 2 retries with 3 partitions unfinished \(5, 6, 7\)/);

  // With a state file: the error says how to resume; --continue finishes once they are back.
  await using dir = await tempDir();
  const io2 = fakeIo();
  const stateArgs = [...args(dir.path), "-F", "1", "--scan-page-size", "100"];
  assert.equal(await backupMain([...stateArgs, "--state-file-dst", "s.state"], io2), 1);
  assert.match(io2.err.text, /resume="run again with --continue s\.state/);
  emu.faults.clear();
  const io3 = fakeIo();
  assert.equal(await backupMain([...stateArgs, "--continue", "s.state"], io3), 0, io3.err.text);
  assertAtLeastOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup -o /dev/full fails with one line naming the full disk", async () => {
  await using emu = await seeded(500);
  const io = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-o", "/dev/full"], io), 1);
  assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
  assert.match(io.err.text, /\/dev\/full: no space left on device/);
  // Even the header-only file of an empty namespace reports the full disk.
  const empty = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "empty", "-o", "/dev/full"], empty), 1);
  assert.match(empty.err.text, /\/dev\/full: no space left on device/);
  // The failed run removes what it wrote, but never a device given as the target.
  assert.ok(Deno.statSync("/dev/full").isCharDevice, "/dev/full is still a device");
});

Deno.test("asbackup into an unusable directory fails with one line naming it", async () => {
  await using emu = await seeded(20);
  await using dir = await tempDir();
  const file = `${dir.path}/plain-file`;
  await Deno.writeTextFile(file, "x");
  for (const target of [file, `${file}/sub`]) {
    const io = fakeIo();
    assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-d", target], io), 1);
    assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
    assert.ok(io.err.text.includes(file), io.err.text);
  }
  assert.equal(await Deno.readTextFile(file), "x");
});

/** A directory whose disk fills up after `limit` bytes. */
class FillingDirectory extends DirectoryWriter {
  #left: number;

  constructor(dir: string, limit: number) {
    super(dir);
    this.#left = limit;
  }

  override async open(name: string): Promise<WritableStream<Uint8Array>> {
    const inner = (await super.open(name)).getWriter();
    return new WritableStream<Uint8Array>({
      write: (chunk) => {
        this.#left -= chunk.length;
        if (this.#left < 0) {
          throw new AerobakError("STORAGE_WRITE", `Cannot write ${name}: no space left on device`);
        }
        return inner.write(chunk);
      },
      close: () => inner.close(),
      abort: (r) => inner.abort(r),
    });
  }
}

Deno.test("a backup whose disk fills up fails and removes the files it wrote", async () => {
  await using emu = await seeded(3000);
  await using dir = await tempDir();
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const job = new BackupClient(cluster).backup(
    { namespace: "test", parallelRead: 2, parallelWrite: 2, fileLimit: 50_000 },
    new FillingDirectory(dir.path, 200_000),
  );
  await assert.rejects(job.wait(), /no space left on device/);
  assert.equal(job.status, "failed");
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), []);
});

Deno.test("asbackup -o - writes the backup to standard output (real process)", async () => {
  await using emu = await seeded(400);
  const r = await runBackupProcess(["-h", emu.seeds, "-n", "test", "-o", "-", "-w", "3"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Records Read: +400\n/);
  const f = await decodeFile("<stdout>", new Blob([r.stdout.slice()]).stream(), r.stdout.length);
  assert.equal(f.header.firstFile, true);
  assertExactlyOnce(f.records, emu.dump("test"));
  const empty = await runBackupProcess(["-h", emu.seeds, "-n", "empty", "-o", "-"]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(
    new TextDecoder().decode(empty.stdout),
    "Version 3.1\n# namespace empty\n# first-file\n",
  );
});

Deno.test("asbackup exits 1 on SIGTERM and removes what it wrote (real process)", async () => {
  await using emu = await seeded(0);
  const blob = new Uint8Array(20_000);
  for (let i = 0; i < 300; i++) emu.put({ namespace: "test", key: i, bins: { b: blob } });
  await using dir = await tempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli/asbackup.ts", "-h", emu.seeds, "-n", "test"].concat([
      "-d",
      dir.path,
      "-N",
      "2",
    ]),
    cwd: new URL("..", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const deadline = performance.now() + 20_000;
  while ([...Deno.readDirSync(dir.path)].length === 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGTERM");
  const out = await child.output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, err);
  assert.match(err, /msg="backup failed"/);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "incomplete files removed");
});
