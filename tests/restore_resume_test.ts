/**
 * End-to-end tests of resumable restores (`asrestore --state-file-dst`, `--continue`): a
 * restore of a 3-node cluster's backup interrupted in process, and SIGKILLed as a real
 * subprocess at random moments (before and after a state save, in the middle of files),
 * then continued until it completes; the whole namespace is compared with the source. Also
 * with `--unique`, and for ASBX files, whose records must be replayed in order.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { keyFromJs } from "../lib/aerospike/digest.ts";
import type { AerospikeRecord } from "../lib/aerospike/record.ts";
import { startEmulator } from "../lib/emulator/emulator.ts";
import type { Emulator } from "../lib/emulator/emulator.ts";
import { XdrEmulation } from "../lib/emulator/xdr.ts";
import { parseRestoreState, type RestoreState } from "../lib/restore/state.ts";
import { runTestBackupXdr } from "../lib/xdr/_test_util.ts";
import { fakeIo, killWhen, runTool, seeded, spawnTool, tempDir } from "./_backup_e2e.ts";

const STATE = "restore.state";

/** Records of {@linkcode backedUp}. */
const RECORDS = 4800;

/** 4800 records of ~600 bytes on a 3-node cluster, backed up into 8 files. */
async function backedUp(dir: string): Promise<Emulator> {
  const emu = await seeded(0);
  const blob = new Uint8Array(600);
  for (let i = 0; i < RECORDS; i++) {
    blob.fill(i & 255);
    emu.put({ namespace: "test", set: i % 2 ? "odd" : "even", key: i, bins: { b: blob, i } });
  }
  const io = fakeIo();
  const code = await backupMain(
    ["-h", emu.seeds, "-n", "test", "-d", dir, "-w", "8", "-F", "0"],
    io,
  );
  assert.equal(code, 0, io.err.text);
  return emu;
}

/** The records of a namespace as comparable text: digest, set, key, generation-free bins. */
function contents(emu: Emulator, namespace: string): string[] {
  return emu.dump(namespace).map((r: AerospikeRecord) =>
    [
      btoa(String.fromCharCode(...r.digest)),
      r.set,
      String(r.key?.value),
      ...r.bins.map((b) =>
        `${b.name}=${b.value instanceof Uint8Array ? b.value.join(",") : b.value}`
      ),
    ].join(" ")
  );
}

async function stateOf(dir: string): Promise<RestoreState | undefined> {
  try {
    return parseRestoreState(await Deno.readFile(`${dir}/${STATE}`), STATE);
  } catch {
    return undefined;
  }
}

function savedAt(dir: string): string | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/${STATE}`)).savedAt;
  } catch {
    return undefined;
  }
}

Deno.test("asrestore --state-file-dst interrupted by a signal says how to resume; --continue restores the rest", async () => {
  await using dir = await tempDir();
  await using emu = await backedUp(dir.path);
  const abort = new AbortController();
  const io = { ...fakeIo(), signal: abort.signal };
  const args = ["-h", emu.seeds, "-d", dir.path, "-n", "test,bar", "-w", "2", "--batch-size", "16"];
  const run = restoreMain([...args, "-L", "3000", "--state-file-dst", STATE], io);
  let finished = false;
  run.then(() => finished = true);
  // Stopped once half is there and the state has saved progress in a file.
  const saved = async () => Object.keys((await stateOf(dir.path))?.offsets ?? {}).length > 0;
  while (!finished && (emu.count("bar") < RECORDS / 2 || !(await saved()))) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(finished, false, "the restore ended before it could be interrupted");
  abort.abort(new Error("interrupted by signal"));
  assert.equal(await run, 1);
  assert.match(io.err.text, /resume="run again with --continue restore\.state/);
  const state = (await stateOf(dir.path))!;
  assert.deepEqual(state.namespace, { source: "test", destination: "bar" });
  const progress = state.done.length + Object.keys(state.offsets).length;
  assert.ok(progress > 0, JSON.stringify(state));

  // Another backup's state (or another mapping) is refused, one line each.
  for (
    const [other, why] of [
      [["-n", "test,other"], /namespace mapping test,bar, this run asks for test,other/],
    ] as const
  ) {
    const bad = fakeIo();
    assert.equal(
      await restoreMain(["-h", emu.seeds, "-d", dir.path, ...other, "--continue", STATE], bad),
      1,
    );
    assert.equal(bad.err.text.trim().split("\n").length, 1, bad.err.text);
    assert.match(bad.err.text, why);
  }

  const rest = fakeIo();
  assert.equal(
    await restoreMain([...args, "--continue", STATE, "--log-json"], rest),
    0,
    rest.err.text,
  );
  const report = JSON.parse(rest.err.text.trim().split("\n").at(-1)!);
  assert.ok(report.records_read < RECORDS, `resumed: read ${report.records_read} of ${RECORDS}`);
  assert.deepEqual(contents(emu, "bar"), contents(emu, "test"));
  assert.equal(await stateOf(dir.path), undefined, "state file removed on success");
});

Deno.test("asrestore --continue names a missing, corrupt or foreign state file, one line each", async () => {
  await using dir = await tempDir();
  await using emu = await seeded(40);
  const io = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir.path], io), 0);
  const args = ["-h", emu.seeds, "-d", dir.path, "-n", "test,bar", "--continue", STATE];
  const cases: [string | undefined, RegExp][] = [
    [
      undefined,
      /Cannot continue the restore from .*restore\.state: no such state file \[STATE_INVALID\]/,
    ],
    [
      '{"format": "aerobak-rest',
      /Invalid restore state file .*restore\.state: not JSON \[STATE_INVALID\]/,
    ],
    [
      JSON.stringify({
        format: "aerobak-restore-state",
        version: 1,
        backup: { files: [{ name: "0_test_1.asb", size: 5 }] },
        done: [],
        offsets: {},
        savedAt: "",
      }),
      /it is the state of another backup \(0_test_1\.asb had 5 bytes, it has \d+ now\) \[STATE_INVALID\]/,
    ],
  ];
  for (const [content, why] of cases) {
    if (content !== undefined) await Deno.writeTextFile(`${dir.path}/${STATE}`, content);
    const p = fakeIo();
    assert.equal(await restoreMain(args, p), 1);
    assert.equal(p.err.text.trim().split("\n").length, 1, p.err.text);
    assert.match(p.err.text, why);
  }
  assert.equal(emu.count("bar"), 0);
  for (
    const [flags, why] of [
      [["--state-file-dst", "x.asb"], /invalid state file name .*x\.asb/],
      [["--state-file-dst", "a", "--continue", "a"], /mutually exclusive/],
      [["--state-file-dst", "a", "--validate"], /cannot be used with --validate/],
    ] as const
  ) {
    const p = fakeIo();
    assert.equal(await restoreMain(["-h", emu.seeds, "-d", dir.path, ...flags], p), 1);
    assert.match(p.err.text, why);
  }
});

/**
 * Kills `asrestore` runs with SIGKILL at `points` moments, each once the restore has got
 * past a random point between 5 % and 70 % (odd kills also wait for a state save of their
 * own run, which comes within a second), and continues until a run completes.
 *
 * @param dir The backup directory (where the state file is).
 * @param args The restore's arguments.
 * @param progress How far the restore got, in `[0, total]` and never going back.
 * @param total Where progress ends.
 * @param points How many kills.
 * @returns The last run's stderr.
 */
async function killAndContinue(
  dir: string,
  args: string[],
  progress: () => number,
  total: number,
  points: number,
): Promise<string> {
  const thresholds = Array.from({ length: points }, () => 0.05 + Math.random() * 0.65)
    .sort((a, b) => a - b)
    .map((f) => Math.floor(f * total));
  for (const [k, threshold] of thresholds.entries()) {
    const before = savedAt(dir);
    const child = spawnTool("asrestore", [
      ...args,
      ...(k === 0 ? ["--state-file-dst", STATE] : ["--continue", STATE]),
    ]);
    const saved = () => savedAt(dir) !== undefined && savedAt(dir) !== before;
    const killed = await killWhen(child, () => progress() >= threshold && (k % 2 === 0 || saved()));
    assert.ok(killed, `run ${k} finished before its kill at ${threshold} (${thresholds})`);
    // Whatever the moment, the state on disk is whole (written atomically).
    assert.ok(await stateOf(dir), `run ${k}: state file readable after the kill`);
  }
  const last = await runTool("asrestore", [...args, "--continue", STATE]);
  assert.equal(last.code, 0, last.stderr);
  return last.stderr;
}

/** A 3-node restore of `test` into `bar`, two readers, 1200 records a second. */
function throttled(emu: Emulator, dir: string, more: string[] = []): string[] {
  return ["-h", emu.seeds, "-d", dir, "-n", "test,bar", "-w", "2", "-L", "1200", ...more];
}

Deno.test("asrestore SIGKILLed at 10 random moments of a 3-node restore continues to the whole namespace", async () => {
  await using dir = await tempDir();
  await using emu = await backedUp(dir.path);
  const args = throttled(emu, dir.path, ["--batch-size", "32"]);
  const lastErr = await killAndContinue(dir.path, args, () => emu.count("bar"), RECORDS, 10);
  assert.match(lastErr, /Restore report/);
  assert.deepEqual(contents(emu, "bar"), contents(emu, "test"));
  assert.equal(await stateOf(dir.path), undefined, "state file removed on success");
});

Deno.test("asrestore --unique SIGKILLed and continued: records the killed runs wrote count as existed", async () => {
  await using dir = await tempDir();
  await using emu = await backedUp(dir.path);
  const args = throttled(emu, dir.path, ["--unique", "--log-json"]);
  const lastErr = await killAndContinue(dir.path, args, () => emu.count("bar"), RECORDS, 4);
  const report = JSON.parse(lastErr.trim().split("\n").at(-1)!);
  assert.equal(report.msg, "restore report");
  assert.equal(report.failed_records, undefined);
  assert.deepEqual(contents(emu, "bar"), contents(emu, "test"));
});

Deno.test("asrestore of ASBX files SIGKILLed and continued replays every record's versions in order", async () => {
  await using dir = await tempDir();
  await using source = await startEmulator({ nodes: 3 });
  for (let i = 0; i < 1500; i++) {
    source.put({
      namespace: "test",
      set: "w",
      key: i,
      bins: { i, v: `first ${i} ${"x".repeat(300)}` },
    });
  }
  XdrEmulation.attach(source.cluster, { window: 32 });
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  // Updates and deletes while the rewind ships: later versions come after earlier ones.
  let step = 0;
  await runTestBackupXdr(
    cluster,
    dir.path,
    { namespace: "test", dc: "resume", parallelWrite: 3, fileLimit: 64 * 1024 },
    async (round) => {
      for (let k = 0; k < 100 && round < 3; k++, step++) {
        source.put({
          namespace: "test",
          set: "w",
          key: step,
          generation: 2,
          bins: { i: step, v: "updated" },
        });
        assert.equal(await cluster.delete("test", "w", keyFromJs(1499 - step)), 0);
      }
    },
  );
  const files = [...Deno.readDirSync(dir.path)].filter((e) => e.name.endsWith(".asbx"));
  assert.ok(files.length >= 6, `${files.length} ASBX files`);
  await using target = await startEmulator({ nodes: 3 });
  const args = ["-h", target.seeds, "-d", dir.path, "--mode", "asbx", "-w", "3", "-L", "800"];
  // Every message counts (updates and deletes too): kill by the messages applied so far.
  const messages = JSON.parse(Deno.readTextFileSync(`${dir.path}/backup.manifest.json`)).totals
    .records;
  let applied = 0;
  const unsubscribe = target.subscribe("test", () => applied++);
  try {
    await killAndContinue(dir.path, args, () => Math.min(applied, messages), messages, 4);
  } finally {
    unsubscribe();
  }
  const state = (emu: Emulator) =>
    emu.dump("test").map((r) =>
      `${r.digest.join(",")} ${r.bins.map((b) => `${b.name}=${String(b.value)}`).join(" ")}`
    );
  assert.deepEqual(state(target), state(source));
});
