import assert from "node:assert/strict";
import { startEmulator } from "../emulator/emulator.ts";
import { loadCapture } from "./_captures.ts";
import { batchReadNode, type BatchReadResult, encodeBatchGetRequest } from "./batch_read.ts";
import { Cluster } from "./cluster.ts";
import { computeDigest, keyFromJs } from "./digest.ts";
import { encodeExpression, Exp } from "./expression.ts";
import { intBin } from "./particle.ts";
import { decodeBatchRequest } from "./requests.ts";
import { fakeServer, readMessage } from "./_test_server.ts";
import { testNode } from "./_test_node.ts";

// official-node-client.jsonl #56–#58: a batch read of 3 keys of set `cap`, the last missing.
const capture = loadCapture("official-node-client.jsonl");
const request = capture[55].bytes;
const replies = [capture[56].bytes, capture[57].bytes];
const capturedKeys = decodeBatchRequest(request.subarray(8)).rows.map((r) => ({
  namespace: r.namespace,
  set: r.set,
  digest: r.digest,
}));

Deno.test("encodeBatchGetRequest() writes the Node client's batch read byte for byte", () => {
  assert.equal(capturedKeys.length, 3);
  const bytes = encodeBatchGetRequest(capturedKeys, [0, 1, 2], { totalTimeoutMs: 1000 });
  assert.deepEqual(bytes, request);
});

Deno.test("encodeBatchGetRequest() sends keys, bins and a batch filter the server can read", () => {
  const key = keyFromJs(7);
  const filter = encodeExpression(Exp.lt(Exp.lastUpdate(), Exp.int(5n)));
  const keys = [
    { namespace: "test", set: "s", digest: computeDigest("s", key), key },
    { namespace: "test", set: "s", digest: new Uint8Array(20).fill(1) },
    { namespace: "test", set: "s", digest: new Uint8Array(20).fill(2) },
  ];
  const bytes = encodeBatchGetRequest(keys, [0, 1, 2], {
    binNames: ["a", "b"],
    filterExpression: filter,
  });
  const req = decodeBatchRequest(bytes.subarray(8));
  assert.deepEqual(req.filterExpression, filter);
  assert.deepEqual(req.rows.map((r) => r.index), [0, 1, 2]);
  assert.deepEqual(req.rows[0].key, key);
  // Row 2 repeats row 1 (same set, no key); the keyed row 0 is a row of its own.
  assert.equal(req.rows[1].key, undefined);
  assert.deepEqual(req.rows[2].digest, keys[2].digest);
  for (const r of req.rows) {
    assert.deepEqual(r.ops.map((o) => o.bin.name), ["a", "b"]);
    assert.equal(r.set, "s");
  }
});

Deno.test("batchReadNode() decodes the server's answers of the capture, a miss included", async () => {
  let sent: Uint8Array | null = null;
  await using server = fakeServer(async (c) => {
    sent = await readMessage(c);
    for (const r of replies) await c.write(r);
  });
  const node = testNode(server.port);
  const results: BatchReadResult[] = [];
  await batchReadNode(node, capturedKeys, [0, 1, 2], results, { totalTimeoutMs: 1000 }, 1000);
  assert.deepEqual(sent, request);
  assert.deepEqual(results, [
    { resultCode: 0, generation: 1, voidTime: 0, bins: [intBin("v", 0)] },
    { resultCode: 0, generation: 1, voidTime: 0, bins: [intBin("v", 1)] },
    { resultCode: 2, generation: 0, voidTime: 0 },
  ]);
  assert.equal(node.pool.idle, 1);
  await node.close();
});

Deno.test("batchReadNode() gives keys a node left unanswered a negative code", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(replies[0].subarray(0, 40)); // cut short, then the connection drops
  });
  const node = testNode(server.port);
  const results: BatchReadResult[] = [];
  await batchReadNode(node, capturedKeys, [0, 1, 2], results, {}, 1000);
  assert.deepEqual(results.map((r) => r.resultCode), [-18, -18, -18]);
  await node.close();
});

Deno.test("Cluster.batchRead() routes keys to their masters and reports found, missing, filtered, set and key mismatches", async () => {
  await using emu = await startEmulator({ nodes: 3 });
  const keyOf = (i: number) => keyFromJs(i);
  for (let i = 0; i < 40; i++) {
    emu.put({ namespace: "test", set: "s", key: i, bins: { a: i }, lastUpdateMs: 1000 + i });
  }
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const keys = Array.from({ length: 40 }, (_, i) => ({
    namespace: "test",
    set: "s",
    digest: computeDigest("s", keyOf(i)),
  }));
  const all = await cluster.batchRead(keys);
  assert.deepEqual(all.map((r) => r.bins), keys.map((_, i) => [intBin("a", i)]));
  const missing = { namespace: "test", set: "s", digest: computeDigest("s", keyOf(99)) };
  const wrongSet = { namespace: "test", set: "t", digest: keys[1].digest };
  const wrongKey = { namespace: "test", set: "s", digest: keys[2].digest, key: keyOf(3) };
  const rightKey = { namespace: "test", set: "s", digest: keys[3].digest, key: keyOf(3) };
  const noSet = { namespace: "test", set: "", digest: keys[4].digest };
  const codes = await cluster.batchRead([missing, wrongSet, wrongKey, rightKey, noSet]);
  assert.deepEqual(codes.map((r) => r.resultCode), [2, 4, 19, 0, 0]);
  // Records last updated at 1000 + i ms: those from 1020 on are filtered out.
  const filter = encodeExpression(Exp.lt(Exp.lastUpdate(), Exp.int(1_020_000_000n)));
  const filtered = await cluster.batchRead(keys, { filterExpression: filter, binNames: ["a"] });
  assert.deepEqual(filtered.map((r) => r.resultCode), keys.map((_, i) => (i < 20 ? 0 : 27)));
});
