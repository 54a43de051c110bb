import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { Connection, readLimits } from "./connection.ts";
import { encodeInfoResponse } from "./info.ts";
import { infoRequest } from "./info_client.ts";
import { fakeServer, readMessage } from "./_test_server.ts";

function isError(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof AerobakError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

async function open(port: number): Promise<Connection> {
  return await Connection.open({ name: "127.0.0.1", port }, { timeoutMs: 2000, nodeName: "N1" });
}

Deno.test("Connection.request() refuses a wrong version, naming node and command", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([9, 1, 0, 0, 0, 0, 0, 2, 0x41, 0x0a]));
  });
  const conn = await open(server.port);
  await assert.rejects(
    infoRequest(conn, ["node"], readLimits(2000, 0)),
    isError("PROTO_INVALID", /Info node on 127\.0\.0\.1:\d+ \(node N1\) failed: .*version 9/),
  );
  assert.equal(conn.closed, true);
});

Deno.test("Connection.request() refuses a reply of the wrong proto type", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([2, 3, 0, 0, 0, 0, 0, 0]));
  });
  const conn = await open(server.port);
  await assert.rejects(
    infoRequest(conn, ["node"], readLimits(2000, 0)),
    isError("PROTO_INVALID", /proto type 3, expected 1/),
  );
  assert.equal(conn.closed, true);
});

Deno.test("Connection.read() refuses an absurd length and drops the connection", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([2, 1, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff]));
  });
  const conn = await open(server.port);
  await assert.rejects(
    infoRequest(conn, ["node"], readLimits(2000, 0)),
    isError("PROTO_INVALID", /exceeds/),
  );
  assert.equal(conn.closed, true);
});

Deno.test("Connection.read() reports a short frame when the server closes mid-reply", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([2, 1, 0, 0, 0, 0, 0, 100, 1, 2, 3]));
  });
  const conn = await open(server.port);
  await assert.rejects(
    infoRequest(conn, ["node"], readLimits(2000, 0)),
    isError("CONNECTION_CLOSED", /after 11 of 108 bytes/),
  );
});

Deno.test("Connection.read() gives up with SOCKET_TIMEOUT when the server goes quiet", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    await c.write(new Uint8Array([2, 1, 0, 0]));
    await held;
  });
  const conn = await open(server.port);
  await assert.rejects(
    infoRequest(conn, ["node"], readLimits(100, 0)),
    isError("SOCKET_TIMEOUT", /100 ms/),
  );
  assert.equal(conn.closed, true);
  release();
});

Deno.test("Connection.finish() refuses a connection with unread reply bytes", async () => {
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    // Two replies for one request, in one segment: the second would desynchronise the
    // next command on this connection.
    const one = encodeInfoResponse(new Map([["node", "N1"]]));
    const two = new Uint8Array(one.length * 2);
    two.set(one);
    two.set(one, one.length);
    await c.write(two);
  });
  const conn = await open(server.port);
  await infoRequest(conn, ["node"], readLimits(2000, 0));
  assert.equal(conn.finish(), false);
  assert.equal(conn.closed, true);
});

Deno.test("Connection.open() reports a refused connection as CONNECT_FAILED", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await assert.rejects(open(port), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "CONNECT_FAILED");
    assert.equal(e.retriable, true);
    assert.equal(e.node?.address, `127.0.0.1:${port}`);
    return true;
  });
});
