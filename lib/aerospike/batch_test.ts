import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { batchWrite, unansweredCode } from "./batch.ts";
import { Info3 } from "./message.ts";
import { beginProto, endProto, ProtoType } from "./proto.ts";
import { decodeBatchRequest, writeReplyHeader } from "./requests.ts";
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

Deno.test("batchWrite() stores each record's code at its index", async () => {
  let sentIndexes: number[] = [];
  await using server = fakeServer(async (c) => {
    const m = (await readMessage(c))!;
    sentIndexes = decodeBatchRequest(m.subarray(8)).rows.map((r) => r.index);
    await c.write(batchReply([[1, 0], [3, 5]], false));
    await c.write(batchReply([[4, 13]], true));
  });
  const node = testNode(server.port);
  const records = Array.from({ length: 6 }, (_, i) => rec(i));
  const results = new Int32Array(6).fill(99);
  await batchWrite(node, records, records.map(() => 0), [1, 3, 4], policy, results, 1000);
  assert.deepEqual(sentIndexes, [1, 3, 4]);
  assert.deepEqual([...results], [99, 0, 99, 5, 13, 99]);
  assert.equal(node.pool.idle, 1);
  await node.close();
});

Deno.test("batchWrite() gives records a node left unanswered a negative code", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(batchReply([[0, 0]], false));
    // connection drops before the rest
  });
  const node = testNode(server.port);
  const records = [rec(0), rec(1), rec(2)];
  const results = new Int32Array(3);
  await batchWrite(node, records, [0, 0, 0], [0, 1, 2], policy, results, 1000);
  assert.deepEqual([...results], [0, -18, -18]);
  assert.equal(node.pool.size, 0);
  await node.close();
});

Deno.test("batchWrite() refuses an answer for an index it did not send", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(batchReply([[7, 0]], true));
  });
  const node = testNode(server.port);
  const results = new Int32Array(2);
  await batchWrite(node, [rec(0), rec(1)], [0, 0], [0, 1], policy, results, 1000);
  assert.deepEqual([...results], [-20, -20]);
  await node.close();
});

Deno.test("unansweredCode() tells unreachable from maybe-applied", () => {
  assert.equal(unansweredCode(new AerobakError("CONNECT_FAILED", "x")), -11);
  assert.equal(unansweredCode(new AerobakError("NO_CONNECTIONS", "x")), -8);
  assert.equal(unansweredCode(new AerobakError("SOCKET_TIMEOUT", "x")), -18);
  assert.equal(unansweredCode(new AerobakError("PROTO_INVALID", "x")), -20);
});
