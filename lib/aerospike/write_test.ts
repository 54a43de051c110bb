import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { decodeRecordRequest, encodeReply } from "./requests.ts";
import { checkTtl, deleteRecord, getRecord, putRecord } from "./write.ts";
import { fakeServer, readMessage } from "./_test_server.ts";
import { TEST_WRITE_POLICY as policy, testNode, testRecord as rec } from "./_test_node.ts";

Deno.test("putRecord() sends the policy bits and returns the server's code and generation", async () => {
  let header;
  await using server = fakeServer(async (c) => {
    const m = (await readMessage(c))!;
    header = decodeRecordRequest(m.subarray(8)).header;
    await c.write(encodeReply({ resultCode: 3, generation: 9 }));
  });
  const node = testNode(server.port);
  assert.deepEqual(await putRecord(node, rec(1), policy, -1, 1000), {
    resultCode: 3,
    generation: 9,
  });
  assert.equal(header!.info2 & 0x08, 0x08); // GENERATION_GT
  assert.equal(header!.generation, 7);
  assert.equal(header!.recordTtl, 0xffffffff);
  assert.equal(node.pool.idle, 1, "a clean connection goes back to the pool");
  await node.close();
});

Deno.test("putRecord() marks a failure after sending as in doubt", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([2, 3, 0, 0, 0, 0, 0, 50, 22])); // cut short
  });
  const node = testNode(server.port);
  await assert.rejects(putRecord(node, rec(1), policy, 0, 1000), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "CONNECTION_CLOSED");
    assert.equal(e.inDoubt, true);
    assert.match(e.message, /^Put on 127\.0\.0\.1:\d+ \(node N1\) failed/);
    return true;
  });
  assert.equal(node.pool.size, 0);
  await node.close();
});

Deno.test("putRecord() refuses a reply with a broken message header", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([2, 3, 0, 0, 0, 0, 0, 4, 22, 0, 0, 0])); // 4-byte AS_MSG
  });
  const node = testNode(server.port);
  await assert.rejects(putRecord(node, rec(1), policy, 0, 1000), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "MESSAGE_INVALID");
    assert.equal(e.node?.name, "N1");
    return true;
  });
  await node.close();
});

Deno.test("deleteRecord() and getRecord() map 2 to not found and throw other codes", async () => {
  const replies = [
    encodeReply({ resultCode: 2 }),
    encodeReply({ resultCode: 2 }),
    encodeReply({ resultCode: 8 }),
  ];
  await using server = fakeServer(async (c) => {
    for (const r of replies) {
      await readMessage(c);
      await c.write(r);
    }
  });
  const node = testNode(server.port);
  const target = { namespace: "test", set: "s", digest: rec(1).digest };
  assert.equal(await deleteRecord(node, target, policy, 1000), 2);
  assert.equal(
    await getRecord(node, target, { totalTimeoutMs: 0, socketTimeoutMs: 1000, poolWaitMs: 1000 }),
    null,
  );
  await assert.rejects(
    deleteRecord(node, target, policy, 1000),
    (e: unknown) => e instanceof AerobakError && e.code === "SERVER_ERROR" && e.resultCode === 8,
  );
  await node.close();
});

Deno.test("checkTtl() accepts -2..2^32-3 and refuses the rest", () => {
  for (const ok of [-2, -1, 0, 1, 0xfffffffd]) checkTtl(ok);
  for (const bad of [-3, 1.5, 0xfffffffe]) assert.throws(() => checkTtl(bad), RangeError);
});
