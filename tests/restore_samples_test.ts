/**
 * `asrestore` of files written by other tools: the ASB examples of asb-format.md §10 and
 * the C asbackup 4.5.8 samples (plain, compact, single file, split), checked record by
 * record on a 3-node emulator against what the files say.
 */

import assert from "node:assert/strict";
import { main as restoreMain } from "../cli/asrestore.ts";
import { computeDigest } from "../lib/aerospike/digest.ts";
import type { AerospikeRecord, Bin } from "../lib/aerospike/record.ts";
import type { Emulator } from "../lib/emulator/emulator.ts";
import { decodeAsb } from "../lib/format/asb/decoder.ts";
import { assertAccounted, fakeIo, jsonReport, startCluster } from "./_restore_helpers.ts";

const TESTDATA = new URL("../testdata/", import.meta.url).pathname;
const C_SAMPLES = `${TESTDATA}c-asbackup-4.5.8/`;
const EXAMPLES = `${TESTDATA}asb-examples/`;

async function restore(emu: Emulator, args: string[]): Promise<Record<string, unknown>> {
  const io = fakeIo(emu);
  const code = await restoreMain(["-h", emu.seeds, "--log-json", ...args], io);
  assert.equal(code, 0, io.err.text);
  const r = jsonReport(io);
  assertAccounted(r);
  return r;
}

/** Every record token of the files, decoded independently of the restore. */
async function recordsOf(paths: string[]): Promise<AerospikeRecord[]> {
  const out: AerospikeRecord[] = [];
  for (const path of paths) {
    const file = await Deno.open(path);
    for await (const t of decodeAsb(file.readable, { file: path })) {
      if (t.kind === "record") out.push(t.record);
    }
  }
  return out;
}

function b64(d: Uint8Array): string {
  return btoa(String.fromCharCode(...d));
}

/** A null bin in a file removes nothing and stores nothing. */
function storedBins(bins: readonly Bin[]): Bin[] {
  return bins.filter((b) => b.type !== 0);
}

/** Asserts that every record of the files is on the cluster, as the files say. */
function assertRestored(emu: Emulator, records: readonly AerospikeRecord[], ns = "test"): void {
  for (const want of records) {
    const got = emu.get(ns, want.digest);
    assert.ok(got, `record ${b64(want.digest)} missing`);
    assert.equal(got.set, want.set);
    assert.deepStrictEqual(got.key, want.key, b64(want.digest));
    assert.equal(got.voidTime, want.voidTime);
    assert.deepStrictEqual(got.bins, storedBins(want.bins), b64(want.digest));
    if (want.key !== undefined) {
      // The digest the file gives is the one of its set and key.
      assert.deepStrictEqual(computeDigest(want.set, want.key), want.digest);
    }
  }
}

async function asbFiles(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).filter((e) => e.name.endsWith(".asb")).map((
    e,
  ) => `${dir}${e.name}`).sort();
}

for (const sample of ["plain", "compact", "split"]) {
  Deno.test(`asrestore restores the C asbackup 4.5.8 sample ${sample}/ with its sindexes and UDF`, async () => {
    await using emu = await startCluster();
    const dir = `${C_SAMPLES}${sample}/`;
    const records = await recordsOf(await asbFiles(dir));
    assert.equal(records.length, 19);
    const r = await restore(emu, ["-d", dir]);
    assert.equal(r.records_read, 19);
    assert.equal(r.inserted_records, 19);
    assert.equal(r.s_index_read, 3);
    assert.equal(r.udf_read, 1);
    assert.equal(emu.count("test"), 19);
    assertRestored(emu, records);
    assert.deepEqual(emu.sindexes.map((s) => `${s.set}/${s.name}/${s.bin}/${s.binType}`).sort(), [
      "alpha/idx s/s/string",
      "alpha/idx_geo/g/geo2dsphere",
      "alpha/idx_i/i/numeric",
    ]);
    assert.equal(emu.udfs.length, 1);
    assert.equal(emu.udfs[0].name, "sample.lua");
    assert.match(atob(emu.udfs[0].content64), /function add_bins\(rec, a, b\)/);
  });
}

Deno.test("asrestore -i single.asb (C, metadata in the data file) with --apply-metadata-last into another namespace", async () => {
  await using emu = await startCluster();
  const file = `${C_SAMPLES}single.asb`;
  const records = await recordsOf([file]);
  const r = await restore(emu, ["-i", file, "-n", "test,bar", "--apply-metadata-last"]);
  assert.equal(r.inserted_records, 19);
  assertRestored(emu, records, "bar");
  // Known values from the sample: int key 7 → "int key"; string key "int" → 43 (gen 3).
  const intKey = emu.get("bar", computeDigest("cap", { type: 1, value: 7n }))!;
  assert.deepEqual(intKey.bins, [{
    name: "v",
    type: 3,
    value: new TextEncoder().encode("int key"),
  }]);
  const int = emu.get(
    "bar",
    computeDigest("cap", { type: 3, value: new TextEncoder().encode("int") }),
  )!;
  assert.deepEqual(int.bins, [{ name: "v", type: 1, value: 43n }]);
  // The C tool remaps sindexes too.
  assert.deepEqual(new Set(emu.sindexes.map((s) => s.namespace)), new Set(["bar"]));
});

Deno.test("asrestore restores the asb-format.md §10 examples (Go metadata + records, C compact)", async () => {
  await using emu = await startCluster();
  const records = await recordsOf(await asbFiles(EXAMPLES));
  assert.equal(records.length, 5);
  const r = await restore(emu, ["-d", EXAMPLES]);
  assert.equal(r.records_read, 5);
  assert.equal(r.inserted_records, 5);
  assert.equal(r.s_index_read, 4);
  assert.equal(r.udf_read, 1);
  assertRestored(emu, records);
  const enc = new TextEncoder();
  const get = (d: string) => emu.get("test", Uint8Array.from(atob(d), (c) => c.charCodeAt(0)))!;
  // Record 1: int key 1 in set demo, void time 500000000.
  const r1 = get("t/S4OIni2mfeaD4d9pGaHqzERsg=");
  assert.equal(r1.voidTime, 500000000);
  assert.deepEqual(r1.key, { type: 1, value: 1n });
  assert.deepEqual(r1.bins.map((b) => [b.name, b.value]), [
    ["age", 42n],
    ["name", enc.encode("Hello World")],
    ["ratio", 0.5],
    ["ok", true],
  ]);
  // Record 2: raw map/list bytes, GeoJSON, escaped bin name, string with SP and LF; the
  // nil bin stores nothing.
  const r2 = get("J7/lCxqosJ9pPsj/7c5Qt6b4XXk=");
  assert.deepEqual(r2.bins.map((b) => [b.name, b.type, b.value]), [
    ["raw", 4, new Uint8Array([0, 1, 2, 0xff])],
    ["prefs", 19, new Uint8Array([0x81, 0xa2, 0x03, 0x6b, 0x01])],
    ["tags", 20, new Uint8Array([0x92, 0xa2, 0x03, 0x78, 0x02])],
    ["loc", 23, enc.encode('{"type":"Point","coordinates":[103.9,1.3]}')],
    ["my bin", 3, enc.encode("a b\nc d")],
  ]);
  // Record 3: no set, bytes key, min int64. Record 4: no key, base64 string.
  const r3 = get("FA4ZC5J4EVI0mjxvInD/P7YaKXs=");
  assert.equal(r3.set, "");
  assert.deepEqual(r3.bins, [{ name: "n", type: 1, value: -9223372036854775808n }]);
  const r4 = get("aVX1wx1ahRNN795hur2MjCzFb4A=");
  assert.equal(r4.key, undefined);
  assert.deepEqual(r4.bins, [{ name: "enc", type: 3, value: enc.encode("hello") }]);
  // Example 3 (C compact): bytes key "abc", raw blob and Java blob.
  const c = emu.get("test", computeDigest("demo", { type: 4, value: enc.encode("abc") }))!;
  assert.deepEqual(c.bins.map((b) => [b.name, b.type, b.value]), [
    ["blob", 4, enc.encode("wxyz")],
    ["jblob", 7, new Uint8Array([0x6a, 0x01, 0x6b])],
  ]);
  // Example 1: the UDF and the four indexes (one with a CDT context).
  assert.equal(atob(emu.udfs[0].content64), "function hello()\n  return 'hi'\nend\n");
  assert.deepEqual(
    emu.sindexes.map((s) => `${s.set}|${s.name}|${s.bin}|${s.indexType}|${s.binType}|${s.context}`)
      .sort(),
    [
      "demo|idx_age|age|default|numeric|",
      "demo|idx_m_a|m|mapvalues|numeric|kiKiA2E=",
      "demo|idx_tags|tags|list|string|",
      "|idx_name|name|default|string|",
    ],
  );
});

Deno.test("asrestore --validate checks the samples without a cluster", async () => {
  for (const dir of [`${C_SAMPLES}plain`, `${C_SAMPLES}split`, EXAMPLES]) {
    const io = fakeIo();
    assert.equal(await restoreMain(["-d", dir, "--validate", "--log-json"], io), 0, io.err.text);
    const r = jsonReport(io, "validation report");
    assert.ok(Number(r.records_read) > 0);
    assert.ok(Number(r.total_bytes_read) > 0);
    assert.equal(r.inserted_records, undefined);
  }
});
