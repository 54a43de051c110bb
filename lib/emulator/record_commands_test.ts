import assert from "node:assert/strict";
import { encodeExpression, Exp } from "../aerospike/expression.ts";
import { floatBin, intBin, stringBin } from "../aerospike/particle.ts";
import type { AerospikeRecord, Bin } from "../aerospike/record.ts";
import {
  encodeDeleteRequest,
  encodePutRequest,
  encodeReadRequest,
  type WriteRequestPolicy,
} from "../aerospike/requests.ts";
import { ManualClock } from "./clock.ts";
import { type Emulator, startEmulator } from "./emulator.ts";
import { demoRecord, RawClient } from "./_test_client.ts";

const T0 = Date.UTC(2026, 0, 1);
const CL_NOW = T0 / 1000 - 1262304000;

function rec(
  key: number,
  bins: Bin[] = [intBin("a", key), stringBin("s", "hi")],
  generation = 0,
): AerospikeRecord {
  return demoRecord(key, bins, generation);
}

async function withClient(
  opts: Parameters<typeof startEmulator>[0],
  fn: (c: RawClient, emu: Emulator) => Promise<void>,
): Promise<void> {
  await using emu = await startEmulator(opts);
  const c = await RawClient.connect(emu.seeds.split(",")[0]);
  try {
    await fn(c, emu);
  } finally {
    c.close();
  }
}

function put(r: AerospikeRecord, ttl: number, policy?: WriteRequestPolicy): Uint8Array {
  return encodePutRequest({ record: r, ttl, policy });
}

Deno.test("executeRecordCommand() writes and reads back every bin exactly", async () => {
  await withClient({ nodes: 1 }, async (c) => {
    const bins = [
      intBin("min", -(2n ** 63n)),
      intBin("max", 2n ** 63n - 1n),
      floatBin("f", 1),
      stringBin("s", "é"),
    ];
    const w = await c.call(put(rec(1, bins), -1));
    assert.equal(w.header.resultCode, 0);
    assert.equal(w.header.generation, 1);
    assert.equal(w.header.recordTtl, 0);
    const r = await c.call(
      encodeReadRequest({ namespace: "test", set: "demo", digest: rec(1).digest }),
    );
    assert.equal(r.header.resultCode, 0);
    assert.equal(r.header.nFields, 0);
    assert.deepEqual(r.bins, bins);
    const sel = await c.call(
      encodeReadRequest({ namespace: "test", set: "demo", digest: rec(1).digest, binNames: ["f"] }),
    );
    assert.deepEqual(sel.bins, [floatBin("f", 1)]);
    const miss = await c.call(
      encodeReadRequest({ namespace: "test", set: "demo", digest: rec(2).digest }),
    );
    assert.equal(miss.header.resultCode, 2);
    assert.equal(miss.header.generation, 0);
  });
});

Deno.test("executeRecordCommand() applies record-exists and generation policies like the server", async () => {
  await withClient({ nodes: 1 }, async (c) => {
    assert.equal(
      (await c.call(put(rec(1), -1, { recordExistsAction: "updateOnly" }))).header.resultCode,
      2,
    );
    assert.equal(
      (await c.call(put(rec(1), -1, { recordExistsAction: "replaceOnly" }))).header.resultCode,
      2,
    );
    assert.equal((await c.call(put(rec(1), -1))).header.generation, 1);
    const exists = await c.call(put(rec(1), -1, { recordExistsAction: "createOnly" }));
    assert.equal(exists.header.resultCode, 5);
    assert.equal(exists.header.generation, 1, "the existing generation is reported");
    // GEN_GT: gen 1 is not > 1; gen 99 is (captured: accepted, new generation 2).
    assert.equal(
      (await c.call(put(rec(1, undefined, 1), -1, { generationPolicy: "expectGenGreater" }))).header
        .resultCode,
      3,
    );
    const gt = await c.call(
      put(rec(1, [intBin("a", 9)], 99), -1, { generationPolicy: "expectGenGreater" }),
    );
    assert.equal(gt.header.resultCode, 0);
    assert.equal(gt.header.generation, 2);
    assert.equal(
      (await c.call(put(rec(1, undefined, 1), -1, { generationPolicy: "expectGenEqual" }))).header
        .resultCode,
      3,
    );
    // Update merges bins, replace drops the others.
    await c.call(put(rec(1, [intBin("b", 2)]), -1));
    let r = await c.call(
      encodeReadRequest({ namespace: "test", set: "demo", digest: rec(1).digest }),
    );
    assert.deepEqual(r.bins.map((b) => b.name), ["a", "s", "b"]);
    await c.call(put(rec(1, [intBin("c", 3)]), -1, { recordExistsAction: "replace" }));
    r = await c.call(encodeReadRequest({ namespace: "test", set: "demo", digest: rec(1).digest }));
    assert.deepEqual(r.bins, [intBin("c", 3)]);
    assert.equal(r.header.generation, 4);
    const del = await c.call(
      encodeDeleteRequest({ namespace: "test", set: "demo", digest: rec(1).digest }),
    );
    assert.equal(del.header.resultCode, 0);
    const again = await c.call(
      encodeDeleteRequest({ namespace: "test", set: "demo", digest: rec(1).digest }),
    );
    assert.equal(again.header.resultCode, 2);
  });
});

Deno.test("executeRecordCommand() refuses TTL writes with 22 unless nsup is configured", async () => {
  await withClient({ nodes: 1, clock: new ManualClock(T0) }, async (c, emu) => {
    assert.equal((await c.call(put(rec(1), 100))).header.resultCode, 22);
    assert.equal((await c.call(put(rec(1), -1))).header.resultCode, 0, "never-expire is allowed");
    assert.equal((await c.call(put(rec(1), -2))).header.resultCode, 0, "keep-TTL is allowed");
    assert.equal((await c.call(put(rec(1), 0))).header.resultCode, 0, "default-ttl 0 is allowed");
    assert.equal(emu.count("test"), 1);
  });
  await withClient({
    nodes: 1,
    clock: new ManualClock(T0),
    namespaces: [{ name: "test", nsupPeriod: 60 }],
  }, async (c, emu) => {
    const w = await c.call(put(rec(1), 100));
    assert.equal(w.header.resultCode, 0);
    assert.equal(w.header.recordTtl, CL_NOW + 100);
    assert.equal((await c.call(put(rec(1), 315360001))).header.resultCode, 4, "above 10 years");
    const keep = await c.call(put(rec(1, [intBin("z", 1)]), -2));
    assert.equal(keep.header.recordTtl, CL_NOW + 100, "-2 keeps the void time");
    emu.advanceClock(100_000);
    const gone = await c.call(
      encodeReadRequest({ namespace: "test", set: "demo", digest: rec(1).digest }),
    );
    assert.equal(gone.header.resultCode, 2, "expired records vanish");
    assert.equal(emu.count("test"), 0);
  });
});

Deno.test("executeRecordCommand() evaluates filter expressions and injected write failures", async () => {
  await withClient({ nodes: 1, clock: new ManualClock(T0) }, async (c, emu) => {
    await c.call(put(rec(1), -1));
    emu.faults.failWrite(2, 14);
    assert.equal((await c.call(put(rec(2), -1))).header.resultCode, 0);
    assert.equal((await c.call(put(rec(3), -1))).header.resultCode, 14);
    assert.equal(emu.count("test"), 2);
    assert.equal((await c.call(put(rec(3), -1))).header.resultCode, 0);
    emu.faults.makeUnavailable("test", [Number(rec(1).digest[0] | (rec(1).digest[1] << 8)) & 4095]);
    const un = await c.call(
      encodeReadRequest({ namespace: "test", set: "demo", digest: rec(1).digest }),
    );
    assert.equal(un.header.resultCode, 11);
    emu.faults.clear();
    // A read with FILTER_EXP: built with the codec, spliced in as field 43.
    const stored = emu.get("test", rec(2).digest)!;
    assert.equal(stored.lastUpdateMs, T0);
    const miss = Exp.gt(Exp.lastUpdate(), Exp.int(BigInt(T0) * 1_000_000n));
    const hit = Exp.ge(Exp.lastUpdate(), Exp.int(BigInt(T0) * 1_000_000n));
    for (const [exp, code] of [[miss, 27], [hit, 0]] as const) {
      const req = encodeDeleteRequest({ namespace: "test", set: "demo", digest: rec(2).digest });
      const withExp = addField(req, 43, encodeExpression(exp));
      assert.equal((await c.call(withExp)).header.resultCode, code);
    }
  });
});

/** Appends a field to a single AS_MSG request (fixing sizes and the field count). */
function addField(msg: Uint8Array, type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 5 + data.length);
  out.set(msg);
  const v = new DataView(out.buffer);
  v.setUint32(msg.length, data.length + 1);
  out[msg.length + 4] = type;
  out.set(data, msg.length + 5);
  v.setUint32(4, out.length - 8);
  v.setUint16(26, v.getUint16(26) + 1);
  return out;
}
