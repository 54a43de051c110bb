/**
 * End-to-end: nodes killed as SIGKILL kills them (`Emulator.killNode`: sockets cut, new
 * connections refused, the node listed by its peers until the heartbeat drops it, writes
 * held by the survivors meanwhile) at chosen points of backups and restores, rolling
 * restarts, and a cluster that dies whole. Each job must lose nothing, or fail with one
 * clear line and leave what it wrote consistent.
 *
 * The kill points are counts of records served (`Faults.atProgress`), not moments: a slow
 * machine moves them in time, never in the job.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { Cluster } from "../lib/aerospike/cluster.ts";
import type { Emulator, EmulatorOptions } from "../lib/emulator/emulator.ts";
import { startEmulator } from "../lib/emulator/emulator.ts";
import { XdrEmulation } from "../lib/emulator/xdr.ts";
import { runTestBackupXdr } from "../lib/xdr/_test_util.ts";
import {
  addMetadata,
  assertAtLeastOnce,
  assertExactlyOnce,
  DENO,
  fakeIo,
  readBackup,
  ROOT,
  runBackupProcess,
  seeded,
  tempDir,
} from "./_backup_e2e.ts";
import {
  assertAccounted,
  assertSameRecords,
  fakeIo as restoreIo,
  jsonReport,
} from "./_restore_helpers.ts";

const RECORDS = 3000;
/** A quick heartbeat: a killed node leaves the cluster ~0.3 s later. */
const QUICK: EmulatorOptions = {
  heartbeat: { intervalMs: 40, timeout: 5 },
  clusterFormationMs: 100,
};

/** Kills `node` once the cluster has served `count` more records of `kind`. */
function killAt(emu: Emulator, kind: "scan" | "write", count: number, node: number): void {
  emu.faults.atProgress(kind, count, () => void emu.killNode(node));
}

/** Runs asbackup in-process; returns its exit code and standard error. */
async function backup(args: string[]): Promise<{ code: number; err: string }> {
  const io = fakeIo();
  const code = await backupMain(args, io);
  return { code, err: io.err.text };
}

interface BackupCase {
  name: string;
  args: string[];
  /** Records served before the kill. */
  at: number;
  /** Which node dies. */
  victim: number;
}

const BACKUP_CASES: BackupCase[] = [
  { name: "-w 1, early", args: ["-w", "1"], at: 40, victim: 1 },
  { name: "-w 1, late", args: ["-w", "1"], at: 2600, victim: 0 },
  { name: "-w 4, first frame", args: ["-w", "4"], at: 1, victim: 2 },
  { name: "-w 4, middle", args: ["-w", "4"], at: 1500, victim: 1 },
  { name: "-w 4 -L 4000", args: ["-w", "4", "-L", "4000"], at: 700, victim: 1 },
  { name: "-w 2 -L 6000, late", args: ["-w", "2", "-L", "6000"], at: 2200, victim: 0 },
  { name: "--partition-list 0-2048", args: ["--partition-list", "0-2048"], at: 300, victim: 2 },
  {
    name: "--partition-list 1000-3000 -w 3",
    args: ["--partition-list", "1000-2000", "-w", "3"],
    at: 900,
    victim: 1,
  },
  { name: "-w 8 --no-bins", args: ["-w", "8", "--no-bins"], at: 2000, victim: 2 },
  { name: "-w 3 -s alpha,beta", args: ["-w", "3", "-s", "alpha,beta"], at: 500, victim: 0 },
];

for (const c of BACKUP_CASES) {
  Deno.test(`asbackup loses nothing when a node is killed (${c.name})`, async () => {
    await using emu = await seeded(RECORDS, QUICK);
    const expected = expectedOf(emu, c.args);
    await using dir = await tempDir();
    killAt(emu, "scan", c.at, c.victim);
    const { code, err } = await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, ...c.args]);
    assert.equal(code, 0, err);
    assert.equal(emu.cluster.nodes[c.victim].alive, false, "the node was killed mid-job");
    assertExactlyOnce((await readBackup(dir.path)).records, expected);
  });
}

/** The records a backup with these flags must hold. */
function expectedOf(emu: Emulator, args: string[]) {
  const all = emu.dump("test");
  const sets = args.includes("-s") ? args[args.indexOf("-s") + 1].split(",") : undefined;
  const list = args.includes("--partition-list")
    ? args[args.indexOf("--partition-list") + 1].split("-").map(Number)
    : undefined;
  return all.filter((r) => {
    if (sets && !sets.includes(r.set)) return false;
    if (!list) return true;
    const pid = (r.digest[0] | (r.digest[1] << 8)) & 0xfff;
    return pid >= list[0] && pid < list[0] + list[1];
  });
}

Deno.test("asbackup --node-list reads the listed nodes' partitions whole when another node dies", async () => {
  await using emu = await seeded(RECORDS, QUICK);
  const [a, , c] = emu.nodeNames;
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const mine = new Set([
    ...cluster.masterPartitions("test", a),
    ...cluster.masterPartitions("test", c),
  ]);
  await cluster.close();
  const expected = emu.dump("test").filter((r) =>
    mine.has((r.digest[0] | (r.digest[1] << 8)) & 0xfff)
  );
  await using dir = await tempDir();
  killAt(emu, "scan", 400, 1);
  const { code, err } = await backup([
    ...["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "2"],
    ...["--node-list", `${a},${c}`],
  ]);
  assert.equal(code, 0, err);
  assertExactlyOnce((await readBackup(dir.path)).records, expected);
});

Deno.test("asbackup --node-list naming only the node that dies fails with one clear line", async () => {
  await using emu = await seeded(RECORDS, QUICK);
  const victim = emu.nodeNames[1];
  await using dir = await tempDir();
  killAt(emu, "scan", 200, 1);
  const { code, err } = await backup([
    ...["-h", emu.seeds, "-n", "test", "-d", dir.path, "--node-list", victim],
  ]);
  assert.equal(code, 1);
  const lines = err.trim().split("\n").filter((l) => /error/i.test(l));
  assert.equal(lines.length, 1, err);
  assert.match(lines[0], /gave up after 5 retries with \d+ partitions unfinished/);
  assert.match(lines[0], /Connection refused|connection closed|not reachable|refused/i);
  // Nothing incomplete is left behind for a restore to take for a whole backup.
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("asbackup through a rolling restart of every node loses nothing", async () => {
  await using emu = await seeded(RECORDS, QUICK);
  await using dir = await tempDir();
  const roll = (async () => {
    for (const node of [0, 1, 2]) {
      await new Promise<void>((resolve) => emu.faults.atProgress("scan", 250, () => resolve()));
      await emu.killNode(node);
      await emu.settled();
      emu.restartNode(node);
      await emu.settled();
    }
  })();
  // -L keeps the backup going for the whole roll (the nodes throttle to 600 records/s).
  const { code, err } = await backup([
    ...["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "3", "-L", "600"],
  ]);
  assert.equal(code, 0, err);
  await roll;
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup of a cluster that dies whole fails clearly, keeps its state, and --continue completes", async () => {
  await using emu = await seeded(RECORDS, QUICK);
  await using dir = await tempDir();
  const state = ["--state-file-dst", "run.state", "--scan-page-size", "100"];
  emu.faults.atProgress("scan", 1200, () => {
    for (const n of [0, 1, 2]) void emu.killNode(n);
  });
  const started = performance.now();
  const failed = await backup([
    ...["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "2", ...state],
  ]);
  assert.equal(failed.code, 1);
  assert.ok(performance.now() - started < 60_000, "no hang");
  const errors = failed.err.trim().split("\n").filter((l) => /error/i.test(l));
  assert.equal(errors.length, 1, failed.err);
  assert.match(errors[0], /retries|reachable|Cannot connect/);
  assert.ok(Deno.statSync(`${dir.path}/run.state`).isFile, "the state file is kept");
  for (const n of [0, 1, 2]) emu.restartNode(n);
  await emu.settled();
  const resumed = await backup([
    ...["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "2", "--continue", "run.state"],
    "--scan-page-size",
    "100",
  ]);
  assert.equal(resumed.code, 0, resumed.err);
  const b = await readBackup(dir.path);
  assertAtLeastOnce(b.records, emu.dump("test"));
  assert.deepEqual(
    b.others,
    ["backup.manifest.json"],
    "the state file is gone, the manifest there",
  );
});

// ---- restore ----

/** A backup of `emu`'s namespace `test` into `dir`, made before any fault. */
async function backupOf(emu: Emulator, dir: string): Promise<void> {
  const { code, err } = await backup(["-h", emu.seeds, "-n", "test", "-d", dir, "-w", "2"]);
  assert.equal(code, 0, err);
}

/** Runs asrestore in-process with --log-json; returns the exit code and the report. */
async function restore(
  emu: Emulator,
  args: string[],
): Promise<{ code: number; err: string; report?: Record<string, unknown> }> {
  // The CLI's clock is the emulator's: records with a TTL are not expired yet.
  const io = restoreIo(emu);
  const code = await restoreMain(["--log-json", "-h", emu.seeds, ...args], io);
  return { code, err: io.err.text, report: code === 0 ? jsonReport(io) : undefined };
}

interface RestoreCase {
  name: string;
  args: string[];
  at: number;
  victim: number;
}

const RESTORE_CASES: RestoreCase[] = [
  { name: "batch writes, early", args: [], at: 50, victim: 1 },
  { name: "batch writes, middle", args: ["--batch-size", "64"], at: 1500, victim: 0 },
  { name: "batch writes, late", args: ["--max-async-batches", "8"], at: 2800, victim: 2 },
  { name: "single writes, early", args: ["--disable-batch-writes"], at: 10, victim: 2 },
  {
    name: "single writes, middle",
    args: ["--disable-batch-writes", "-w", "4"],
    at: 1400,
    victim: 1,
  },
  { name: "--unique, batch", args: ["--unique"], at: 900, victim: 0 },
  { name: "--unique, single", args: ["--unique", "--disable-batch-writes"], at: 2100, victim: 1 },
  { name: "--replace, batch", args: ["--replace", "--batch-size", "16"], at: 600, victim: 2 },
  { name: "--no-generation", args: ["--no-generation", "-w", "2"], at: 1900, victim: 0 },
];

for (const c of RESTORE_CASES) {
  Deno.test(`asrestore restores every record when a node is killed (${c.name})`, async () => {
    await using emu = await seeded(RECORDS, QUICK);
    await using dir = await tempDir();
    await backupOf(emu, dir.path);
    killAt(emu, "write", c.at, c.victim);
    const r = await restore(emu, ["-n", "test,bar", "-d", dir.path, ...c.args]);
    assert.equal(r.code, 0, r.err);
    assert.equal(emu.cluster.nodes[c.victim].alive, false, "the node was killed mid-job");
    assertSameRecords(emu, "test", "bar");
    const report = r.report!;
    assertAccounted(report);
    assert.equal(report.records_read, RECORDS);
    assert.equal(report.failed_records ?? 0, 0);
    // Writes that reached the dead node but got no answer may have been applied.
    assert.ok(Number(report.in_doubt_errors) <= Number(report.retries), JSON.stringify(report));
  });
}

Deno.test("asrestore --mode asbx replays every message when a node is killed", async () => {
  await using dir = await tempDir();
  await using source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < 1500; i++) {
    source.put({ namespace: "test", set: "x", key: i, bins: { i, s: `v${i}` } });
  }
  XdrEmulation.attach(source.cluster);
  {
    await using cluster = await Cluster.connect({ hosts: source.seeds });
    await runTestBackupXdr(cluster, dir.path, { namespace: "test", dc: "nk", parallelWrite: 1 });
  }
  await using target = await startEmulator({ nodes: 3, ...QUICK });
  killAt(target, "write", 700, 1);
  const r = await restore(target, ["-d", dir.path, "--mode", "asbx"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(target.count("test", "x"), 1500);
  const key = (e: Emulator) => e.dump("test").map((x) => [x.digest.join(","), x.bins.length]);
  assert.deepEqual(key(target), key(source));
});

Deno.test("asrestore through a rolling restart of every node restores every record", async () => {
  await using emu = await seeded(RECORDS, QUICK);
  await using dir = await tempDir();
  await backupOf(emu, dir.path);
  const roll = (async () => {
    for (const node of [2, 0, 1]) {
      await new Promise<void>((resolve) => emu.faults.atProgress("write", 200, () => resolve()));
      await emu.killNode(node);
      await emu.settled();
      emu.restartNode(node);
      await emu.settled();
    }
  })();
  // -L keeps the restore going for the whole roll.
  const r = await restore(emu, ["-n", "test,bar", "-d", dir.path, "-L", "800"]);
  assert.equal(r.code, 0, r.err);
  await roll;
  assertSameRecords(emu, "test", "bar");
  assertAccounted(r.report!);
});

// ---- the real processes with the default policies and the captures' heartbeat ----

async function runRestoreProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}cli/asrestore.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("asbackup and asrestore processes with their default retries ride out a node killed under the captures' 1.5 s heartbeat", async () => {
  // The emulator's defaults are the captures' cluster: a dead node leaves after ~1.95 s.
  // No TTLs: the processes run on the real clock, which would find them expired.
  await using emu = await startEmulator({ nodes: 3 });
  for (let i = 0; i < RECORDS; i++) {
    emu.put({ namespace: "test", set: "p", key: i, bins: { i, s: `value ${i}`.repeat(4) } });
  }
  await using dir = await tempDir();
  killAt(emu, "scan", 1000, 1);
  const b = await runBackupProcess(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "4"]);
  assert.equal(b.code, 0, b.stderr);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
  emu.restartNode(1);
  await emu.settled();
  killAt(emu, "write", 1000, 2);
  const r = await runRestoreProcess(["-h", emu.seeds, "-n", "test,bar", "-d", dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Retries: +[1-9]/);
  assertSameRecords(emu, "test", "bar");
});

Deno.test("asrestore --apply-metadata-last restores indexes and UDFs while a dead node is still listed", async () => {
  // The captures' heartbeat: the node stays in the cluster ~1.95 s after its death, long
  // after the last record is written.
  await using emu = await seeded(RECORDS);
  addMetadata(emu);
  await using dir = await tempDir();
  await backupOf(emu, dir.path);
  // Kill a node other than the one answering the last write, so the records finish first.
  emu.faults.atProgress("write", RECORDS, (serving) => {
    void emu.killNode(emu.nodeNames.findIndex((n) => n !== serving));
  });
  const r = await restore(emu, ["-n", "test,bar", "-d", dir.path, "--apply-metadata-last"]);
  assert.equal(r.code, 0, r.err);
  assert.ok(emu.cluster.nodes.some((n) => !n.alive), "a node died");
  assertSameRecords(emu, "test", "bar");
  assert.ok(emu.sindexes.some((s) => s.namespace === "bar" && s.name === "idx_i"));
  assert.ok(emu.udfs.some((u) => u.name === "hello.lua"));
});
