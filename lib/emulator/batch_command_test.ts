import assert from "node:assert/strict";
import { Info3 } from "../aerospike/message.ts";
import { intBin } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { encodeBatchReadRequest, encodeBatchWriteRequest } from "../aerospike/requests.ts";
import { startEmulator } from "./emulator.ts";
import { demoRecord, RawClient } from "./_test_client.ts";

function rec(key: number, generation = 0): AerospikeRecord {
  return demoRecord(key, [intBin("v", key)], generation);
}

Deno.test("executeBatch() answers each row with its index and code, then a separate LAST", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  const c = await RawClient.connect(emu.seeds);
  try {
    const records = [rec(1, 3), rec(2, 3), rec(3, 3)];
    await c.send(encodeBatchWriteRequest({
      records,
      ttls: [-1, -1, -1],
      policy: { generationPolicy: "expectGenGreater" },
      indexes: [10, 11, 12],
    }));
    const first = await c.messages();
    assert.equal(c.protoTypes.length, 2, "rows and LAST come in two protos");
    assert.deepEqual(first.map((m) => m.header.transactionTtl), [10, 11, 12, 0]);
    assert.deepEqual(first.map((m) => m.header.resultCode), [0, 0, 0, 0]);
    assert.deepEqual(first[0].opNames, ["v"], "RESPOND_ALL_OPS answers every bin");
    assert.equal(first.at(-1)!.header.info3 & Info3.LAST, Info3.LAST);
    // Unique restore again: every row exists (5) and reports the existing generation.
    await c.send(encodeBatchWriteRequest({
      records,
      ttls: [-1, -1, -1],
      policy: { recordExistsAction: "createOnly", generationPolicy: "expectGenGreater" },
    }));
    const again = await c.messages();
    assert.deepEqual(
      again.slice(0, 3).map((m) => [m.header.resultCode, m.header.generation, m.header.nOps]),
      [
        [5, 1, 0],
        [5, 1, 0],
        [5, 1, 0],
      ],
    );
    emu.faults.failWrite(2, 14);
    await c.send(
      encodeBatchWriteRequest({ records: [rec(4), rec(5), rec(6)], ttls: [-1, -1, 100] }),
    );
    const faulty = await c.messages();
    assert.deepEqual(faulty.slice(0, 3).map((m) => m.header.resultCode), [0, 14, 22]);
    const read = [rec(1), rec(5), rec(4)].map((r) => ({
      namespace: "test",
      set: "demo",
      digest: r.digest,
    }));
    await c.send(encodeBatchReadRequest({ keys: read }));
    const got = await c.messages();
    assert.deepEqual(got.slice(0, 3).map((m) => m.header.resultCode), [0, 2, 0]);
    assert.deepEqual(got[0].bins, [intBin("v", 1)]);
    assert.equal(got[1].header.generation, 0, "a miss has generation 0");
  } finally {
    c.close();
  }
});

Deno.test("executeBatch() fails the whole batch with 150 when batch-index-threads is 0", async () => {
  await using emu = await startEmulator({ nodes: 1, batchIndexThreads: 0 });
  const c = await RawClient.connect(emu.seeds);
  try {
    await c.send(encodeBatchWriteRequest({ records: [rec(1)], ttls: [-1] }));
    const m = await c.messages();
    assert.equal(m.length, 1);
    assert.equal(m[0].header.resultCode, 150);
    const svc = (await c.info("get-config:context=service")).get("get-config:context=service")!;
    assert.match(svc, /batch-index-threads=0/);
  } finally {
    c.close();
  }
});
