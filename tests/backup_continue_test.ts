/**
 * End-to-end tests of `asbackup --state-file-dst` and `--continue`: interrupted in
 * process, and SIGKILLed as a real subprocess at several moments, every record is in the
 * backup at least once after continuing.
 */

import assert from "node:assert/strict";
import { PartitionFilter } from "../lib/aerospike/partition_filter.ts";
import { decodeBackupState } from "../lib/backup/state.ts";
import { MANIFEST_FILE_NAME } from "../lib/backup/manifest.ts";
import { main as backupMain } from "../cli/asbackup.ts";
import {
  assertAtLeastOnce,
  assertManifestMatches,
  backupArgs,
  countByDigest,
  DENO,
  fakeIo,
  killWhen,
  readBackup,
  ROOT,
  seeded,
  spawnTool,
  tempDir,
  waitFor,
} from "./_backup_e2e.ts";

const STATE = "backup.state";

/** ~8 MiB of ASB: 1900 records with a 3 KB blob each. */
async function bigEmulator() {
  const emu = await seeded(0);
  const blob = new Uint8Array(3000);
  for (let i = 0; i < 1900; i++) {
    blob.fill(i & 255);
    emu.put({ namespace: "test", set: i % 2 ? "odd" : "even", key: i, bins: { b: blob, i } });
  }
  return emu;
}

function dataFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    n.endsWith(".asb") && !n.startsWith("metadata_")
  );
}

async function stateOf(dir: string) {
  return decodeBackupState(await Deno.readFile(`${dir}/${STATE}`), STATE);
}

Deno.test("asbackup --state-file-dst interrupted by a signal says how to resume; --continue completes it", async () => {
  await using emu = await bigEmulator();
  await using dir = await tempDir();
  const abort = new AbortController();
  const io = { ...fakeIo(), signal: abort.signal };
  // Two sets, scanned one after the other by each reader: the cursor carries the set.
  const args = [
    ...backupArgs(emu, dir.path),
    "-F",
    "1",
    "-w",
    "2",
    "-s",
    "even,odd",
  ];
  // 2 MiB/s after a free first 2 MiB: about 3 s for the ~8 MiB; it is stopped at ~2 MiB.
  const run = backupMain(
    [...args, "-N", "2", "--state-file-dst", STATE, "--scan-page-size", "100"],
    io,
  );
  await waitFor(() => dataFiles(dir.path).length >= 3, "3 data files");
  abort.abort(new Error("interrupted by signal"));
  assert.equal(await run, 1);
  assert.match(
    io.err.text,
    /msg="backup failed" error="Job cancelled \[CANCELLED\]" resume="run again with --continue backup\.state/,
  );
  assert.equal(io.err.text.trim().split("\n").length, 1, io.err.text);
  const state = await stateOf(dir.path);
  assert.equal(state.counter, 0);

  // Without --continue the directory is refused; with -r too.
  const refused = fakeIo();
  assert.equal(await backupMain([...args, "--state-file-dst", STATE], refused), 1);
  assert.match(refused.err.text, /not empty/);
  const conflicting = fakeIo();
  assert.equal(await backupMain([...args, "-r", "--continue", STATE], conflicting), 1);
  assert.match(conflicting.err.text, /--continue/);

  const io2 = fakeIo();
  assert.equal(await backupMain([...args, "--continue", STATE], io2), 0, io2.err.text);
  const b = await readBackup(dir.path);
  assert.deepEqual(b.others, [MANIFEST_FILE_NAME], "state file removed on success");
  assertAtLeastOnce(b.records, emu.dump("test"));
  // The continued run's manifest lists the files of both runs.
  await assertManifestMatches(dir.path, b);
  const names = b.files.map((f) => f.name);
  assert.ok(names.some((n) => /^[01]_test_\d+\(1\)\.asb$/.test(n)), names.join());
  assert.ok(names.some((n) => /^[01]_test_\d+\.asb$/.test(n)), names.join());
  for (const n of names) assert.match(n, /^(metadata|[01])_test_\d+(\(1\))?\.asb$/);
});

Deno.test("asbackup --continue names a missing or corrupt state file and exits 1", async () => {
  await using emu = await seeded(50);
  await using dir = await tempDir();
  const args = ["-h", emu.seeds, "-n", "test", "-d", dir.path, "--continue", STATE];
  const missing = fakeIo();
  assert.equal(await backupMain(args, missing), 1);
  assert.match(missing.err.text, /backup\.state/);
  assert.doesNotMatch(missing.err.text, /\n\s+at /);
  await Deno.writeTextFile(`${dir.path}/${STATE}`, '{"version": 1, "namesp');
  const corrupt = fakeIo();
  assert.equal(await backupMain(args, corrupt), 1);
  assert.match(
    corrupt.err.text,
    /Invalid backup state file backup\.state: not JSON \[STATE_INVALID\]/,
  );
  const other = fakeIo();
  await Deno.writeTextFile(
    `${dir.path}/${STATE}`,
    JSON.stringify({
      version: 1,
      namespace: "bar",
      counter: 0,
      metadataDone: true,
      readers: [{ setIndex: 0, filter: PartitionFilter.all().toJSON() }],
      openFiles: [],
    }),
  );
  assert.equal(await backupMain(args, other), 1);
  assert.match(other.err.text, /namespace bar/);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), [STATE]);
});

Deno.test("asbackup SIGKILLed at several moments continues with --continue to a complete backup", async () => {
  await using emu = await bigEmulator();
  const all = emu.dump("test");
  // Kill points: as soon as the state file exists; after the 2nd data file; after the 4th.
  const moments: [string, (dir: string) => boolean][] = [
    ["state file written", (d) => {
      try {
        Deno.statSync(`${d}/${STATE}`);
        return true;
      } catch {
        return false;
      }
    }],
    ["2 data files", (d) => dataFiles(d).length >= 2],
    ["4 data files", (d) => dataFiles(d).length >= 4],
  ];
  for (const [label, ready] of moments) {
    await using dir = await tempDir();
    // 4 MiB/s after a free first 4 MiB: the ~8 MiB take at least a second, and every
    // kill moment comes before 4 MiB are written, so each one is mid-scan.
    const base = ["-h", emu.seeds, "-n", "test", "-d", dir.path, "-F", "1", "-w", "2", "-N", "4"];
    const first = spawnTool("asbackup", [
      ...base,
      "--state-file-dst",
      STATE,
      "--scan-page-size",
      "50",
    ]);
    assert.ok(await killWhen(first, () => ready(dir.path)), `${label}: finished before the kill`);
    // The state is whole after the kill (written atomically).
    const state = await stateOf(dir.path);
    assert.equal(state.counter, 0, label);

    // Kill the first continue too, once it wrote a file of its own.
    const second = spawnTool("asbackup", [...base, "--continue", STATE]);
    const killed = await killWhen(second, () => dataFiles(dir.path).some((n) => n.includes("(1)")));
    if (killed) assert.equal((await stateOf(dir.path)).counter, 1, label);

    const last = await new Deno.Command(DENO, {
      args: ["run", "-A", "--quiet", `${ROOT}cli/asbackup.ts`, ...base, "--continue", STATE],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(last.stderr);
    assert.equal(last.code, 0, `${label}: ${err}`);
    assert.match(err, /Backup report/);
    const b = await readBackup(dir.path);
    assert.ok(!b.others.includes(STATE), `${label}: state file removed`);
    assertAtLeastOnce(b.records, all);
    await assertManifestMatches(dir.path, b);
    for (const f of b.files) {
      assert.match(f.name, /^(metadata|[01])_test_\d+(\((1|2)\))?\.asb$/, label);
      assert.ok(f.size <= 1024 * 1024 + 5000, `${label}: ${f.name} ${f.size}`);
    }
    if (killed) assert.ok(b.files.some((f) => f.name.includes("(2)")), label);
    // Repeats only come from re-reading across runs: within one run's files (same suffix)
    // every record is there once.
    const runs = Map.groupBy(b.files, (f) => /\(\d+\)\.asb$/.exec(f.name)?.[0] ?? "");
    for (const [suffix, files] of runs) {
      const counts = countByDigest(files.flatMap((f) => f.records));
      const repeated = [...counts.values()].filter((n) => n > 1).length;
      assert.equal(repeated, 0, `${label}: ${repeated} records repeated within run "${suffix}"`);
    }
  }
});
