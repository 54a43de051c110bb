/**
 * End-to-end tests of `asrestore`: backup files → the CLI → a 3-node emulator → the
 * emulator's records, for every flag of cli-flags.md §2.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import {
  assertAccounted,
  assertSameRecords,
  fakeIo,
  jsonReport,
  seedEveryKind,
  startCluster,
  withTempDir,
} from "./_restore_helpers.ts";
import type { Emulator } from "../lib/emulator/emulator.ts";

async function backup(emu: Emulator, args: string[]): Promise<void> {
  const io = fakeIo(emu);
  const code = await backupMain(["-h", emu.seeds, ...args], io);
  assert.equal(code, 0, io.err.text);
}

async function restore(
  emu: Emulator | null,
  args: string[],
  expectCode = 0,
): Promise<ReturnType<typeof fakeIo>> {
  const io = fakeIo(emu ?? undefined);
  const hosts = emu ? ["-h", emu.seeds] : [];
  const code = await restoreMain([...hosts, "--log-json", ...args], io);
  assert.equal(code, expectCode, io.err.text);
  return io;
}

for (const mode of [[], ["--disable-batch-writes"]]) {
  Deno.test(`asrestore -n test,bar round-trips every particle, key, set, TTL and generation on 3 nodes ${mode}`, async () => {
    await using emu = await startCluster();
    const seeded = seedEveryKind(emu, 40);
    await withTempDir(async (dir) => {
      await backup(emu, ["-n", "test", "-d", dir, "-w", "3"]);
      const io = await restore(emu, ["-d", dir, "-n", "test,bar", ...mode]);
      const r = jsonReport(io);
      assert.equal(r.records_read, seeded.records);
      assert.equal(r.inserted_records, seeded.records);
      assertAccounted(r);
      assertSameRecords(emu, "test", "bar");
      // A new record gets the server's first generation, whatever the file says.
      assert.ok(emu.dump("bar").every((x) => x.generation === 1));
    });
  });
}

Deno.test("asrestore keeps newer cluster data by default: GEN_GT with the file's generation", async () => {
  await using emu = await startCluster();
  const seeded = seedEveryKind(emu, 20);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    const before = emu.dump("test");
    // Same generation on the cluster as in the file: the cluster's copy is not older.
    const io = await restore(emu, ["-d", dir]);
    const r = jsonReport(io);
    assert.equal(r.fresher_records, seeded.records);
    assert.equal(r.inserted_records, 0);
    assertAccounted(r);
    assert.deepStrictEqual(emu.dump("test"), before);
  });
});

// ---------------------------------------------------------------------------------------
// Generation and exists semantics: -u, -r, -g.

/** Batch writes (the default) and single puts encode the policies differently. */
const WRITE_MODES = [
  { label: "(batch)", args: [] as string[] },
  { label: "(single)", args: ["--disable-batch-writes"] },
];

/**
 * Backs up 3 records (generation 5, bins a=1 b=1), then changes the cluster: `fresh` gets
 * generation 9 and bins {a: 9, extra: 1} (newer than the file), `stale` generation 2 and
 * bins {a: 2, extra: 2} (older than the file), and `gone` is deleted; then restores.
 */
async function generationScenario(
  args: string[],
): Promise<{ emu: Emulator; r: Record<string, unknown>; bins: (k: string) => unknown }> {
  const emu = await startCluster();
  const digests: Record<string, Uint8Array> = {};
  for (const k of ["fresh", "stale", "gone"]) {
    digests[k] = emu.put({
      namespace: "test",
      set: "g",
      key: k,
      generation: 5,
      bins: { a: 1, b: 1 },
    });
  }
  return await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    emu.put({ namespace: "test", set: "g", key: "fresh", generation: 9, bins: { a: 9, extra: 1 } });
    emu.put({ namespace: "test", set: "g", key: "stale", generation: 2, bins: { a: 2, extra: 2 } });
    emu.cluster.namespace("test")!.store.remove(digests.gone);
    const io = await restore(emu, ["-d", dir, ...args]);
    const r = jsonReport(io);
    assertAccounted(r);
    const bins = (k: string) => {
      const rec = emu.get("test", digests[k]);
      if (rec === undefined) return undefined;
      return Object.fromEntries(rec.bins.map((b) => [b.name, b.value]));
    };
    return { emu, r, bins };
  });
}

for (const mode of WRITE_MODES) {
  Deno.test(`asrestore default: GEN_GT + update merges older records, keeps fresher ones ${mode.label}`, async () => {
    const { emu, r, bins } = await generationScenario([...mode.args]);
    await using _ = emu;
    assert.equal(r.fresher_records, 1);
    assert.equal(r.inserted_records, 2);
    assert.deepEqual(bins("fresh"), { a: 9n, extra: 1n });
    assert.deepEqual(bins("stale"), { a: 1n, extra: 2n, b: 1n });
    assert.deepEqual(bins("gone"), { a: 1n, b: 1n });
  });
}

for (const mode of WRITE_MODES) {
  Deno.test(`asrestore -u creates missing records only; existing ones count as existed ${mode.label}`, async () => {
    const { emu, r, bins } = await generationScenario(["-u", ...mode.args]);
    await using _ = emu;
    assert.equal(r.existed_records, 2);
    assert.equal(r.inserted_records, 1);
    assert.deepEqual(bins("fresh"), { a: 9n, extra: 1n });
    assert.deepEqual(bins("stale"), { a: 2n, extra: 2n });
    assert.deepEqual(bins("gone"), { a: 1n, b: 1n });
  });
}

for (const mode of WRITE_MODES) {
  Deno.test(`asrestore -r replaces all bins of older records and still checks generations ${mode.label}`, async () => {
    const { emu, r, bins } = await generationScenario(["-r", ...mode.args]);
    await using _ = emu;
    assert.equal(r.fresher_records, 1);
    assert.equal(r.inserted_records, 2);
    assert.deepEqual(bins("fresh"), { a: 9n, extra: 1n });
    assert.deepEqual(bins("stale"), { a: 1n, b: 1n });
    assert.deepEqual(bins("gone"), { a: 1n, b: 1n });
  });
}

for (const mode of WRITE_MODES) {
  Deno.test(`asrestore -g overwrites whatever the generation; -r -g replaces everything ${mode.label}`, async () => {
    {
      const { emu, r, bins } = await generationScenario(["-g", ...mode.args]);
      await using _ = emu;
      assert.equal(r.inserted_records, 3);
      assert.deepEqual(bins("fresh"), { a: 1n, extra: 1n, b: 1n });
      assert.deepEqual(bins("stale"), { a: 1n, extra: 2n, b: 1n });
    }
    {
      const { emu, r, bins } = await generationScenario(["-r", "-g", ...mode.args]);
      await using _ = emu;
      assert.equal(r.inserted_records, 3);
      assert.deepEqual(bins("fresh"), { a: 1n, b: 1n });
      assert.deepEqual(bins("stale"), { a: 1n, b: 1n });
    }
  });
}

Deno.test("asrestore refuses -u together with -r (exit 1, no cluster contact)", async () => {
  const io = await restore(null, ["-h", "127.0.0.1:1", "-d", "/nonexistent", "-u", "-r"], 1);
  assert.match(io.err.text, /--unique and --replace are mutually exclusive/);
});

// ---------------------------------------------------------------------------------------
// Sources: -d, -i file, -i -, --directory-list + --parent-directory.

Deno.test("asrestore -i restores one file written by asbackup -o", async () => {
  await using emu = await startCluster();
  const seeded = seedEveryKind(emu, 12);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-o", `${dir}/one.asb`]);
    const r = jsonReport(await restore(emu, ["-i", `${dir}/one.asb`, "-n", "test,bar"]));
    assert.equal(r.inserted_records, seeded.records);
    assertSameRecords(emu, "test", "bar");
  });
});

Deno.test("asrestore -i - reads the backup from stdin (subprocess)", async () => {
  await using emu = await startCluster({ clock: undefined });
  for (let i = 0; i < 30; i++) {
    emu.put({ namespace: "test", set: "s", key: i, bins: { n: i, s: `v${i}` } });
  }
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-o", `${dir}/one.asb`]);
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../cli/asrestore.ts", import.meta.url).pathname,
        "-h",
        emu.seeds,
        "-i",
        "-",
        "-n",
        "test,bar",
        "--log-json",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const child = cmd.spawn();
    const file = await Deno.open(`${dir}/one.asb`);
    await file.readable.pipeTo(child.stdin);
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const r = JSON.parse(stderr.trim().split("\n").at(-1)!);
    assert.equal(r.inserted_records, 30);
    assertSameRecords(emu, "test", "bar");
  });
});

Deno.test("asrestore --directory-list with --parent-directory restores every listed directory", async () => {
  await using emu = await startCluster();
  for (let i = 0; i < 10; i++) emu.put({ namespace: "test", set: "a", key: i, bins: { n: i } });
  for (let i = 0; i < 7; i++) emu.put({ namespace: "test", set: "b", key: i, bins: { n: i } });
  await withTempDir(async (parent) => {
    await backup(emu, ["-n", "test", "-s", "a", "-d", `${parent}/one`]);
    await backup(emu, ["-n", "test", "-s", "b", "-d", `${parent}/two`]);
    // Not listed: must not be read.
    await backup(emu, ["-n", "test", "-d", `${parent}/three`]);
    const r = jsonReport(
      await restore(emu, [
        "--parent-directory",
        parent,
        "--directory-list",
        "one,two",
        "-n",
        "test,bar",
      ]),
    );
    assert.equal(r.records_read, 17);
    assert.equal(emu.count("bar", "a"), 10);
    assert.equal(emu.count("bar", "b"), 7);
    const io = await restore(emu, ["--parent-directory", parent, "-d", `${parent}/one`], 1);
    assert.match(io.err.text, /--parent-directory requires --directory-list/);
  });
});

Deno.test("asrestore needs exactly one source", async () => {
  for (const args of [[], ["-d", "/x", "-i", "/y"], ["-d", "/x", "--directory-list", "/y"]]) {
    const io = await restore(null, ["-h", "127.0.0.1:1", ...args], 1);
    assert.match(io.err.text, /exactly one of --directory, --input-file or --directory-list/);
  }
});

// ---------------------------------------------------------------------------------------
// Filters: -s, -B, -R, -I, --no-udfs.

Deno.test("asrestore -s restores only the listed sets; the others count as skipped", async () => {
  await using emu = await startCluster();
  const seeded = seedEveryKind(emu, 20);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    const r = jsonReport(await restore(emu, ["-d", dir, "-n", "test,bar", "-s", "types"]));
    assertAccounted(r);
    assert.equal(r.inserted_records, emu.count("test", "types"));
    assert.equal(r.skipped_records, seeded.records - emu.count("test", "types"));
    assert.equal(emu.count("bar"), emu.count("test", "types"));
    assert.equal(emu.count("bar", ""), 0);
  });
});

Deno.test("asrestore -B restores only the listed bins; records left with none are skipped", async () => {
  await using emu = await startCluster();
  for (let i = 0; i < 10; i++) {
    emu.put({ namespace: "test", key: i, bins: i < 4 ? { keep: i, drop: 1 } : { drop: 1 } });
  }
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    const r = jsonReport(await restore(emu, ["-d", dir, "-n", "test,bar", "-B", "keep,other"]));
    assertAccounted(r);
    assert.equal(r.inserted_records, 4);
    assert.equal(r.skipped_records, 6);
    for (const rec of emu.dump("bar")) assert.deepEqual(rec.bins.map((b) => b.name), ["keep"]);
  });
});

// ---------------------------------------------------------------------------------------
// Metadata: sindexes (bin, list, context, expression), UDFs, -R, -I, --no-udfs,
// --apply-metadata-last, replacing an index with another definition.

const UDF_SOURCE = "function hello()\n  return 'hi'\nend\n";

function seedMetadata(emu: Emulator): void {
  const base = { namespace: "test", context: "", expression: "", createdAtMs: 0, readyAtMs: 0 };
  const m = emu.cluster.metadata;
  m.createSIndex({
    ...base,
    set: "demo",
    name: "idx_age",
    bin: "age",
    binType: "numeric",
    indexType: "default",
  });
  m.createSIndex({
    ...base,
    set: "",
    name: "idx_name",
    bin: "name",
    binType: "string",
    indexType: "default",
  });
  m.createSIndex({
    ...base,
    set: "demo",
    name: "idx_tags",
    bin: "tags",
    binType: "string",
    indexType: "list",
  });
  m.createSIndex({
    ...base,
    set: "demo",
    name: "idx_m_a",
    bin: "m",
    binType: "numeric",
    indexType: "mapvalues",
    context: "kiKiA2E=",
  });
  m.createSIndex({
    ...base,
    set: "demo",
    name: "idx_exp",
    bin: "",
    binType: "numeric",
    indexType: "default",
    expression: "k1EBo2FnZQ==",
  });
  m.putUdf("hello.lua", btoa(UDF_SOURCE));
  for (let i = 0; i < 5; i++) emu.put({ namespace: "test", set: "demo", key: i, bins: { age: i } });
}

function sindexDefs(emu: Emulator): string[] {
  return emu.sindexes.map((d) =>
    [d.namespace, d.set, d.name, d.bin, d.binType, d.indexType, d.context, d.expression].join("|")
  ).sort();
}

Deno.test("asrestore restores sindexes (incl. context and expression) and UDFs, then waits for the builds", async () => {
  await using source = await startCluster();
  seedMetadata(source);
  await using target = await startCluster({ sindexBuildMs: 60_000 });
  await withTempDir(async (dir) => {
    await backup(source, ["-n", "test", "-d", dir]);
    // The builds take 60 s of emulator time: the restore must still be polling when we
    // look, and finish only once the clock has moved.
    let done = false;
    const running = restore(target, ["-d", dir]).then((io) => {
      done = true;
      return io;
    });
    // Wait (up to 10 s on a loaded machine) for the first index, then give the restore
    // time to go wrong.
    for (let i = 0; i < 200 && target.sindexes.length === 0 && !done; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 400));
    const pending = !done;
    const created = target.sindexes.length;
    // Each index created from now on needs its own minute of emulator time.
    const ticker = setInterval(() => target.advanceClock(60_000), 20);
    const io = await running.finally(() => clearInterval(ticker));
    assert.ok(pending, "restore did not wait for the index builds");
    assert.equal(created, 1, "indexes are created and waited for one at a time");
    const r = jsonReport(io);
    assert.equal(r.s_index_read, 5);
    assert.equal(r.udf_read, 1);
    assert.equal(r.inserted_records, 5);
    assert.deepEqual(sindexDefs(target), sindexDefs(source));
    assert.deepEqual(target.udfs.map((u) => [u.name, atob(u.content64)]), [[
      "hello.lua",
      UDF_SOURCE,
    ]]);
  });
});

Deno.test("asrestore -R restores metadata only; -I and --no-udfs leave them out", async () => {
  await using source = await startCluster();
  seedMetadata(source);
  await withTempDir(async (dir) => {
    await backup(source, ["-n", "test", "-d", dir]);
    {
      await using target = await startCluster();
      const r = jsonReport(await restore(target, ["-d", dir, "-R"]));
      assertAccounted(r);
      assert.equal(r.skipped_records, 5);
      assert.equal(target.count("test"), 0);
      assert.equal(target.sindexes.length, 5);
      assert.equal(target.udfs.length, 1);
    }
    {
      await using target = await startCluster();
      jsonReport(await restore(target, ["-d", dir, "-I"]));
      assert.equal(target.count("test"), 5);
      assert.equal(target.sindexes.length, 0);
      assert.equal(target.udfs.length, 1);
    }
    {
      await using target = await startCluster();
      jsonReport(await restore(target, ["-d", dir, "--no-udfs"]));
      assert.equal(target.count("test"), 5);
      assert.equal(target.sindexes.length, 5);
      assert.equal(target.udfs.length, 0);
    }
  });
});

Deno.test("asrestore replaces an existing index of the same name with another definition", async () => {
  await using source = await startCluster();
  seedMetadata(source);
  await using target = await startCluster();
  target.cluster.metadata.createSIndex({
    namespace: "test",
    set: "other",
    name: "idx_age",
    bin: "x",
    binType: "string",
    indexType: "default",
    context: "",
    expression: "",
    createdAtMs: 0,
    readyAtMs: 0,
  });
  await withTempDir(async (dir) => {
    await backup(source, ["-n", "test", "-d", dir]);
    jsonReport(await restore(target, ["-d", dir, "-R"]));
    assert.deepEqual(sindexDefs(target), sindexDefs(source));
  });
});

Deno.test("asrestore --apply-metadata-last writes the records before the sindexes and UDFs", async () => {
  await using source = await startCluster();
  seedMetadata(source);
  await withTempDir(async (dir) => {
    await backup(source, ["-n", "test", "-d", dir]);
    await using target = await startCluster();
    const seen: number[] = [];
    target.subscribe("test", () => seen.push(target.sindexes.length + target.udfs.length));
    // Several readers: without the flag the metadata file would be read alongside.
    jsonReport(await restore(target, ["-d", dir, "-w", "4", "--apply-metadata-last"]));
    assert.deepEqual(seen, [0, 0, 0, 0, 0]);
    assert.deepEqual(sindexDefs(target), sindexDefs(source));
    assert.equal(target.udfs.length, 1);
  });
});

// ---------------------------------------------------------------------------------------
// Writers: --disable-batch-writes, --batch-size, --max-async-batches, --warm-up, -w.

/** Backs up `n` plain records of `test` into `dir`. */
async function plainBackup(emu: Emulator, dir: string, n: number, args: string[] = []) {
  for (let i = 0; i < n; i++) emu.put({ namespace: "test", set: "p", key: i, bins: { n: i } });
  await backup(emu, ["-n", "test", "-d", dir, ...args]);
}

Deno.test("asrestore --disable-batch-writes uses single puts (works where batches are off)", async () => {
  await using source = await startCluster();
  // batch-index-threads 0: the cluster answers every batch with 150 BATCH_DISABLED.
  await using target = await startCluster({ batchIndexThreads: 0 });
  await withTempDir(async (dir) => {
    await plainBackup(source, dir, 20);
    const io = await restore(target, ["-d", dir, "--retry-max-attempts", "1"], 1);
    assert.match(io.err.text, /restore failed.*150/);
    assert.equal(target.count("test"), 0);
    const r = jsonReport(await restore(target, ["-d", dir, "--disable-batch-writes"]));
    assert.equal(r.inserted_records, 20);
    assert.equal(target.count("test"), 20);
  });
});

async function timedRestore(emu: Emulator, args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = jsonReport(await restore(emu, args));
  assert.equal(r.inserted_records, 40);
  return performance.now() - t0;
}

Deno.test("asrestore --batch-size sets the records per batch call", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await plainBackup(source, dir, 40, ["-w", "1"]);
    await using target = await startCluster();
    // Every batch request answers after 100 ms; one writer sends its batches in turn.
    target.faults.delay(100, { kinds: ["batch"] });
    const one = ["-d", dir, "-g", "-w", "1", "--max-async-batches", "1"];
    const big = await timedRestore(target, [...one, "--batch-size", "40"]);
    const small = await timedRestore(target, [...one, "--batch-size", "5"]);
    assert.ok(big < small - 400, `40 records in one batch took ${big} ms, 8 batches ${small}`);
    assert.ok(small >= 750, `8 batches of 5 took only ${small} ms`);
  });
});

Deno.test("asrestore --max-async-batches runs batch writers in parallel", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await plainBackup(source, dir, 40, ["-w", "1"]);
    await using target = await startCluster();
    target.faults.delay(250, { kinds: ["batch"] });
    const base = ["-d", dir, "-g", "-w", "1", "--batch-size", "10"];
    const serial = await timedRestore(target, [...base, "--max-async-batches", "1"]);
    const parallel = await timedRestore(target, [...base, "--max-async-batches", "4"]);
    assert.ok(serial >= 950, `4 batches one after another took only ${serial} ms`);
    assert.ok(parallel < serial - 400, `4 batches in parallel took ${parallel} ms`);
  });
});

function opened(emu: Emulator): number[] {
  return emu.cluster.nodes.map((n) => n.clientConnectionsOpened);
}

Deno.test("asrestore --warm-up pre-opens connections on every node (default max-async-batches + 1)", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await plainBackup(source, dir, 3);
    for (
      const [args, want] of [
        [["--warm-up", "12"], 12],
        [["--max-async-batches", "7"], 8],
        [[], 33],
      ] as const
    ) {
      await using target = await startCluster();
      jsonReport(await restore(target, ["-d", dir, ...args]));
      // 3 records use at most 3 connections; the tend and info add a couple more.
      for (const n of opened(target)) {
        assert.ok(n >= want && n <= want + 4, `${args}: ${opened(target)} opened, want ${want}`);
      }
    }
  });
});

Deno.test("asrestore -w reads several files in parallel (and rejects 0 < w <= 1024 violations)", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await plainBackup(source, dir, 40, ["-w", "4"]);
    const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".asb"));
    assert.ok(files.length >= 4, files.map((f) => f.name).join());
    for (const w of ["1", "4", "0"]) {
      await using target = await startCluster();
      const r = jsonReport(await restore(target, ["-d", dir, "-w", w]));
      assert.equal(r.inserted_records, 40);
      assert.equal(target.count("test"), 40);
    }
    const io = await restore(null, ["-h", "127.0.0.1:1", "-d", dir, "-w", "1025"], 1);
    assert.match(io.err.text, /invalid restore configuration.*parallel.*1025/);
  });
});

// ---------------------------------------------------------------------------------------
// Throttles: -L, -N, --nice.

Deno.test("asrestore -L limits the records written per second", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await plainBackup(source, dir, 21, ["-w", "1"]);
    await using target = await startCluster();
    const t0 = performance.now();
    jsonReport(await restore(target, ["-d", dir, "-L", "20"]));
    const ms = performance.now() - t0;
    // 21 records at 20/s: the last one is due 1 s after the first.
    assert.ok(ms >= 950, `21 records at -L 20 took only ${ms} ms`);
    assert.equal(target.count("test"), 21);
  });
});

Deno.test("asrestore -N and --nice limit the bytes read per second", async () => {
  await using source = await startCluster();
  for (let i = 0; i < 12; i++) {
    source.put({ namespace: "test", key: i, bins: { big: new Uint8Array(100_000).fill(i) } });
  }
  await withTempDir(async (dir) => {
    await backup(source, ["-n", "test", "-d", dir, "-w", "1"]);
    // ~1.6 MB of base64 at 1 MiB/s (one second of burst): at least ~0.5 s.
    for (const flag of ["-N", "--nice"]) {
      await using target = await startCluster();
      const t0 = performance.now();
      const r = jsonReport(await restore(target, ["-d", dir, flag, "1"]));
      const ms = performance.now() - t0;
      assert.ok(Number(r.total_bytes_read) > 1_500_000);
      assert.ok(ms >= 450, `${flag} 1 read ${r.total_bytes_read} bytes in ${ms} ms`);
      assert.equal(target.count("test"), 12);
    }
  });
});

// ---------------------------------------------------------------------------------------
// TTLs: expired records, --extra-ttl.

Deno.test("asrestore drops records that expired since the backup; --extra-ttl extends them", async () => {
  await using emu = await startCluster();
  const seeded = seedEveryKind(emu, 24);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    const before = new Map(
      emu.dump("test").map((r) => [btoa(String.fromCharCode(...r.digest)), r]),
    );
    // The 100 s records are past their void time now.
    emu.advanceClock(200_000);
    const r = jsonReport(await restore(emu, ["-d", dir, "-n", "test,bar"]));
    assertAccounted(r);
    assert.equal(r.expired_records, seeded.soon);
    assert.equal(r.inserted_records, seeded.records - seeded.soon);
    const r2 = jsonReport(
      await restore(emu, ["-d", dir, "-n", "test,bar", "-g", "--extra-ttl", "3600"]),
    );
    assert.equal(r2.expired_records, 0);
    assert.equal(r2.inserted_records, seeded.records);
    for (const rec of emu.dump("bar")) {
      const orig = before.get(btoa(String.fromCharCode(...rec.digest)))!;
      // Never-expiring records stay so; the others get exactly 3600 s more.
      assert.equal(rec.voidTime, orig.voidTime === 0 ? 0 : orig.voidTime + 3600);
    }
  });
});

Deno.test("asrestore of records with a TTL into a namespace without nsup fails with 22 unless ignored", async () => {
  await using source = await startCluster();
  for (let i = 0; i < 5; i++) source.put({ namespace: "test", key: i, ttl: 1000, bins: { n: i } });
  for (let i = 5; i < 8; i++) source.put({ namespace: "test", key: i, bins: { n: i } });
  await withTempDir(async (dir) => {
    await backup(source, ["-n", "test", "-d", dir]);
    // nsup-period 0 on the target, as a real server's default.
    await using target = await startCluster({ namespaces: ["test"] });
    const single = ["-d", dir, "--disable-batch-writes"];
    const io = await restore(target, single, 1);
    assert.match(io.err.text, /22 FAIL_FORBIDDEN|FAIL_FORBIDDEN/);
    const r = jsonReport(await restore(target, [...single, "--ignore-record-error"]));
    assertAccounted(r);
    assert.equal(r.ignored_records, 5);
    assert.equal(target.count("test"), 3);
    // Batch mode counts record-specific codes as ignored even without the flag (backup-go).
    await using target2 = await startCluster({ namespaces: ["test"] });
    const r2 = jsonReport(await restore(target2, ["-d", dir]));
    assert.equal(r2.ignored_records, 5);
    assert.equal(r2.inserted_records, 3);
  });
});

// ---------------------------------------------------------------------------------------
// --config, --log-json, text report, exit codes.

Deno.test("asrestore --config reads every setting from YAML (flags ignored)", async () => {
  await using emu = await startCluster();
  const seeded = seedEveryKind(emu, 12);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", `${dir}/bk`]);
    const [host, port] = emu.hosts.map((h) => [h.host, h.port])[0];
    const yaml = `app:
  log-json: true
cluster:
  seeds:
    - host: ${host}
      port: ${port}
restore:
  directory: ${dir}/bk
  namespace: test,bar
  set-list: [types]
  parallel: 2
  batch-size: 3
  max-async-batches: 2
  extra-ttl: 10
  no-generation: true
  retry-max-attempts: 2
  total-timeout: 5000
`;
    await Deno.writeTextFile(`${dir}/restore.yaml`, yaml);
    const io = fakeIo(emu);
    // The bogus flags would fail if they were read.
    const code = await restoreMain(["--config", `${dir}/restore.yaml`, "-d", "/nonexistent"], io);
    assert.equal(code, 0, io.err.text);
    const r = jsonReport(io);
    assert.equal(r.inserted_records, emu.count("test", "types"));
    assert.equal(r.skipped_records, seeded.records - emu.count("test", "types"));
    assert.equal(emu.count("bar"), emu.count("test", "types"));
    for (const rec of emu.dump("bar")) {
      const orig = emu.get("test", rec.digest)!;
      assert.equal(rec.voidTime, orig.voidTime === 0 ? 0 : orig.voidTime + 10);
    }
    await Deno.writeTextFile(`${dir}/bad.yaml`, "restore:\n  no-such-key: 1\n");
    const bad = fakeIo();
    assert.equal(await restoreMain(["--config", `${dir}/bad.yaml`], bad), 1);
    assert.match(bad.err.text, /bad\.yaml.*no-such-key|no-such-key.*bad\.yaml/);
  });
});

Deno.test("asrestore --log-json prints one report line with every backup-go stats key", async () => {
  await using emu = await startCluster();
  seedEveryKind(emu, 9);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    const io = await restore(emu, ["-d", dir, "-n", "test,bar"]);
    const lines = io.err.text.trim().split("\n").map((l) => JSON.parse(l));
    const r = jsonReport(io);
    assert.deepEqual(Object.keys(r).sort(), [
      "duration",
      "existed_records",
      "expired_records",
      "fresher_records",
      "ignored_records",
      "in_doubt_errors",
      "inserted_records",
      "level",
      "msg",
      "records_read",
      "retries", // ours beside backup-go's: the C asrestore reports retries too
      "s_index_read",
      "skipped_records",
      "start_time",
      "time",
      "total_bytes_read",
      "udf_read",
    ]);
    assert.equal(r.level, "INFO");
    assert.equal(r.records_read, 9);
    assert.ok(Number(r.total_bytes_read) > 0);
    assert.ok(lines.every((l) => typeof l.msg === "string"), "every stderr line is JSON");
  });
});

Deno.test("asrestore prints the text report with backup-go's labels and exits 0", async () => {
  await using emu = await startCluster();
  seedEveryKind(emu, 6);
  await withTempDir(async (dir) => {
    await backup(emu, ["-n", "test", "-d", dir]);
    const io = fakeIo(emu);
    assert.equal(await restoreMain(["-h", emu.seeds, "-d", dir, "-n", "test,bar"], io), 0);
    for (
      const label of [
        "Records Read:         6",
        "sIndex Read:          0",
        "UDFs Read:            0",
        "Expired Records:      0",
        "Skipped Records:      0",
        "Ignored Records:      0",
        "Fresher Records:      0",
        "Existed Records:      0",
        "Inserted Records:     6",
        "In Doubt Errors:      0",
        "Total Bytes Read:",
      ]
    ) assert.ok(io.err.text.includes(label), `${label} missing in:\n${io.err.text}`);
    assert.ok(io.err.text.startsWith("\nRestore report\n--------------\n"), io.err.text);
  });
});

Deno.test("asrestore --help and --version exit 0; an unknown flag exits 1", async () => {
  const help = fakeIo();
  assert.equal(await restoreMain(["--help"], help), 0);
  for (const f of ["--directory", "--apply-metadata-last", "--warm-up", "--retry-multiplier"]) {
    assert.ok(help.out.text.includes(f), f);
  }
  const version = fakeIo();
  assert.equal(await restoreMain(["--version"], version), 0);
  assert.match(version.out.text, /^version: /);
  const bad = fakeIo();
  assert.equal(await restoreMain(["--no-such-flag"], bad), 1);
  assert.match(bad.err.text, /no-such-flag/);
});
