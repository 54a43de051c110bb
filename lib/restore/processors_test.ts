import assert from "node:assert/strict";
import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { restoreProcessors, restoreTtl } from "./processors.ts";
import { RestoreCounters } from "./stats.ts";

const NOW = CITRUSLEAF_EPOCH_SECONDS + 1000;

function rec(set: string, voidTime = 0, bins = ["a", "b"]): AsbToken {
  const r: AerospikeRecord = {
    namespace: "src",
    set,
    digest: new Uint8Array(20),
    generation: 1,
    voidTime,
    bins: bins.map((name) => ({ name, type: 1 as const, value: 1n })),
  };
  return { kind: "record", record: r };
}

function runAll(tokens: AsbToken[], opts: Partial<Parameters<typeof restoreProcessors>[1]>) {
  const counters = new RestoreCounters();
  const chain = restoreProcessors(counters, {
    noRecords: false,
    noIndexes: false,
    noUdfs: false,
    setList: [],
    binList: [],
    extraTtl: 0,
    nowSeconds: () => NOW,
    ...opts,
  });
  const out: AsbToken[] = [];
  for (let t of tokens) {
    let kept: AsbToken | null = t;
    for (const p of chain) {
      kept = p.process(kept!) as AsbToken | null;
      if (kept === null) break;
    }
    if (kept) out.push(kept);
    t = kept!;
  }
  return { counters, out };
}

Deno.test("restoreTtl() maps void times to TTLs", () => {
  const r = rec("", 0).kind === "record"
    ? (rec("", 0) as { record: AerospikeRecord }).record
    : null!;
  assert.equal(restoreTtl(r, 100, NOW), -1);
  r.voidTime = 1100;
  assert.equal(restoreTtl(r, 0, NOW), 100);
  assert.equal(restoreTtl(r, 50, NOW), 150);
});

Deno.test("restoreProcessors() skips, expires and counts every record once", () => {
  const { counters, out } = runAll([
    rec("keep"),
    rec("other"),
    rec("keep", 900), // expired
    rec("keep", 1100), // alive
    rec("keep", 0, ["c"]), // no bin left
  ], { setList: ["keep"], binList: ["a"] });
  assert.equal(counters.recordsRead, 5);
  assert.equal(counters.recordsSkipped, 2);
  assert.equal(counters.recordsExpired, 1);
  assert.equal(out.length, 2);
  for (const t of out) {
    assert.equal(t.kind, "record");
    if (t.kind === "record") assert.deepEqual(t.record.bins.map((b) => b.name), ["a"]);
  }
});

Deno.test("restoreProcessors() changes the namespace and refuses foreign records", () => {
  const ns = { source: "src", destination: "dst" };
  const { out } = runAll([rec("")], { namespace: ns });
  assert.equal(out[0].kind === "record" && out[0].record.namespace, "dst");
  const foreign = rec("");
  if (foreign.kind === "record") foreign.record.namespace = "zzz";
  assert.throws(() => runAll([foreign], { namespace: ns }), { code: "NAMESPACE_MISMATCH" });
});

Deno.test("restoreProcessors() drops metadata and records by type", () => {
  const sindex: AsbToken = {
    kind: "sindex",
    sindex: {
      namespace: "src",
      set: "",
      name: "i",
      indexType: "default",
      bin: "a",
      binType: "numeric",
    },
  };
  const udf: AsbToken = { kind: "udf", udf: { name: "f.lua", content: new Uint8Array() } };
  const r = runAll([sindex, udf, rec("")], { noIndexes: true, noUdfs: true, noRecords: true });
  assert.equal(r.out.length, 0);
  assert.equal(r.counters.sindexesRead, 1);
  assert.equal(r.counters.udfsRead, 1);
  assert.equal(r.counters.recordsSkipped, 1);
});
