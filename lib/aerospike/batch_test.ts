import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { BatchRows, batchWriteRows, unansweredCode } from "./batch.ts";
import { partitionId } from "./digest.ts";
import { Info3 } from "./message.ts";
import { intBin } from "./particle.ts";
import { beginProto, endProto, ProtoType } from "./proto.ts";
import { decodeBatchRequest, encodeBatchWriteRequest, writeReplyHeader } from "./requests.ts";
import { fakeServer, readMessage } from "./_test_server.ts";
import { TEST_WRITE_POLICY as policy, testNode, testRecord as rec } from "./_test_node.ts";

function batchReply(codes: [number, number][], last: boolean): Uint8Array {
  const w = new ByteWriter(1024);
  const p = beginProto(w);
  for (const [index, rc] of codes) {
    writeReplyHeader(w, { resultCode: rc, transactionTtl: index, generation: 1 });
  }
  if (last) writeReplyHeader(w, { info3: Info3.LAST });
  endProto(w, p, ProtoType.MESSAGE);
  return w.subarray().slice();
}

function rowsOf(n: number, ttl = 0): BatchRows {
  const rows = new BatchRows(policy, 2);
  for (let i = 0; i < n; i++) rows.add(rec(i), ttl);
  return rows;
}

Deno.test("BatchRows.encodeRequest() sends the bytes of encodeBatchWriteRequest()", () => {
  const records = Array.from({ length: 5 }, (_, i) => rec(i));
  const ttls = [-1, 100, 0, -2, 7];
  // Capacity 2: the buffers grow on the way.
  const rows = new BatchRows(policy, 2);
  records.forEach((r, i) => assert.equal(rows.add(r, ttls[i]), i));
  assert.equal(rows.length, 5);
  const all = [0, 1, 2, 3, 4];
  const expected = (indexes: number[]) =>
    encodeBatchWriteRequest({
      records: indexes.map((i) => records[i]),
      ttls: indexes.map((i) => ttls[i]),
      indexes,
      policy,
    });
  assert.deepEqual(rows.encodeRequest(all), expected(all));
  // A subset keeps each row's index: runs and single rows alike.
  assert.deepEqual(rows.encodeRequest([0, 2, 3]), expected([0, 2, 3]));
  assert.equal(rows.byteLength, expected(all).length - 8 - 22 - 10);
  assert.equal(rows.namespace(3), "test");
  assert.equal(rows.set(3), "s");
  assert.deepEqual(rows.digest(3), records[3].digest);
  assert.equal(rows.partition(3), partitionId(records[3].digest));
  assert.throws(() => rows.digest(5), RangeError);
});

Deno.test("BatchRows.retain() keeps the rows to retry, renumbered, with the same bytes", () => {
  const rows = rowsOf(5, 9);
  rows.retain([false, true, false, false, true]);
  assert.equal(rows.length, 2);
  const sent = decodeBatchRequest(rows.encodeRequest([0, 1]).subarray(8)).rows;
  assert.deepEqual(sent.map((r) => r.index), [0, 1]);
  assert.deepEqual(sent.map((r) => r.digest), [rec(1).digest, rec(4).digest]);
  assert.deepEqual(
    rows.encodeRequest([0, 1]),
    encodeBatchWriteRequest({ records: [rec(1), rec(4)], ttls: [9, 9], policy }),
  );
  rows.clear();
  assert.equal(rows.length, 0);
  assert.equal(rows.byteLength, 0);
  rows.add(rec(6), 1);
  assert.deepEqual(rows.digest(0), rec(6).digest);
  // A batch of large records leaves a fresh buffer behind: still usable.
  rows.add({ ...rec(7), bins: [{ name: "b", type: 4, value: new Uint8Array(2 << 20) }] }, 1);
  rows.clear();
  rows.add(rec(8), 1);
  assert.deepEqual(
    rows.encodeRequest([0]),
    encodeBatchWriteRequest({ records: [rec(8)], ttls: [1], policy }),
  );
});

Deno.test("BatchRows.add() refuses a bad TTL, digest or bin name and adds no row", () => {
  const rows = rowsOf(1);
  const size = rows.byteLength;
  assert.throws(() => rows.add(rec(1), -3), RangeError);
  assert.throws(() => rows.add({ ...rec(1), digest: new Uint8Array(19) }, 0), RangeError);
  // The name fails half-way through the row: the bytes written so far are dropped.
  const long = { ...rec(1), bins: [intBin("a", 1), intBin("sixteen-bytes-xx", 2)] };
  assert.throws(() => rows.add(long, 0), RangeError);
  assert.equal(rows.length, 1);
  assert.equal(rows.byteLength, size);
  rows.add(rec(2), 0);
  assert.deepEqual(
    rows.encodeRequest([0, 1]),
    encodeBatchWriteRequest({ records: [rec(0), rec(2)], ttls: [0, 0], policy }),
  );
});

Deno.test("batchWriteRows() stores each row's code at its index", async () => {
  let sentIndexes: number[] = [];
  await using server = fakeServer(async (c) => {
    const m = (await readMessage(c))!;
    sentIndexes = decodeBatchRequest(m.subarray(8)).rows.map((r) => r.index);
    await c.write(batchReply([[1, 0], [3, 5]], false));
    await c.write(batchReply([[4, 13]], true));
  });
  const node = testNode(server.port);
  const results = new Int32Array(6).fill(99);
  await batchWriteRows(node, rowsOf(6), [1, 3, 4], results, 1000);
  assert.deepEqual(sentIndexes, [1, 3, 4]);
  assert.deepEqual([...results], [99, 0, 99, 5, 13, 99]);
  assert.equal(node.pool.idle, 1);
  await node.close();
});

Deno.test("batchWriteRows() gives rows a node left unanswered a negative code", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(batchReply([[0, 0]], false));
    // connection drops before the rest
  });
  const node = testNode(server.port);
  const results = new Int32Array(3);
  await batchWriteRows(node, rowsOf(3), [0, 1, 2], results, 1000);
  assert.deepEqual([...results], [0, -18, -18]);
  assert.equal(node.pool.size, 0);
  await node.close();
});

Deno.test("batchWriteRows() refuses an answer for an index it did not send", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(batchReply([[1, 0]], true));
  });
  const node = testNode(server.port);
  const results = new Int32Array(3);
  await batchWriteRows(node, rowsOf(3), [0, 2], results, 1000);
  assert.deepEqual([...results], [-20, 0, -20]);
  await node.close();
});

Deno.test("unansweredCode() tells unreachable from maybe-applied", () => {
  assert.equal(unansweredCode(new AerobakError("CONNECT_FAILED", "x")), -11);
  assert.equal(unansweredCode(new AerobakError("NO_CONNECTIONS", "x")), -8);
  assert.equal(unansweredCode(new AerobakError("SOCKET_TIMEOUT", "x")), -18);
  assert.equal(unansweredCode(new AerobakError("PROTO_INVALID", "x")), -20);
});
