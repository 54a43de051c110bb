import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import {
  decodeRecordRequest,
  encodePutRequest,
  encodeReadRequest,
  encodeReply,
} from "./requests.ts";
import { checkTtl, deleteRecord, getRecord, putRecord, writePayload } from "./write.ts";
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

Deno.test("writePayload() sends the payload byte for byte and returns the server's code", async () => {
  const payload = encodePutRequest({ record: rec(3), ttl: 60, policy }).slice();
  payload[8 + 6] = 0xab; // a generation the client would never write: it must arrive as is
  let received: Uint8Array | undefined;
  await using server = fakeServer(async (c) => {
    received = (await readMessage(c))!.slice();
    await c.write(encodeReply({ resultCode: 5, generation: 4 }));
  });
  const node = testNode(server.port);
  assert.deepEqual(await writePayload(node, payload, policy, 1000), {
    resultCode: 5,
    generation: 4,
  });
  assert.deepEqual(received, payload);
  assert.equal(node.pool.idle, 1, "a clean connection goes back to the pool");
  await node.close();
});

Deno.test("writePayload() marks a failure after sending as in doubt", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    c.close();
  });
  const node = testNode(server.port);
  const payload = encodePutRequest({ record: rec(1), ttl: 0 }).slice();
  await assert.rejects(writePayload(node, payload, policy, 1000), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.inDoubt, true);
    assert.match(e.message, /^Write payload on 127\.0\.0\.1:\d+ \(node N1\) failed/);
    return true;
  });
  await node.close();
});

Deno.test("writePayload() refuses a malformed header before sending anything", async () => {
  let connections = 0;
  await using server = fakeServer((_c) => {
    connections++;
    return Promise.resolve();
  });
  const node = testNode(server.port);
  const good = encodePutRequest({ record: rec(1), ttl: 0 }).slice();
  const edit = (at: number, v: number) => {
    const p = good.slice();
    p[at] = v;
    return p;
  };
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 20), /of 20 bytes: expected at least 30/],
    [edit(1, 1), /proto version 2 type 1, expected version 2 type 3/],
    [edit(0, 3), /proto version 3 type 3/],
    [good.subarray(0, good.length - 1), /gives a body of \d+ bytes, the payload holds \d+/],
    [edit(3, 1), /gives a body of 4294967\d+ bytes/],
    [edit(8, 0), /message header size 0, expected 22/],
    [
      encodeReadRequest({ namespace: "test", set: "s", digest: rec(1).digest }).slice(),
      /no WRITE bit/,
    ],
  ];
  for (const [payload, message] of cases) {
    await assert.rejects(writePayload(node, payload, policy, 1000), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "PAYLOAD_INVALID");
      assert.equal(e.inDoubt, false);
      assert.equal(e.retriable, false);
      assert.equal(e.node?.name, "N1");
      assert.match(e.message, /^Cannot write a payload of \d+ bytes: /);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.equal(node.pool.size, 0, "no connection was opened");
  assert.equal(connections, 0);
  await node.close();
});
