import assert from "node:assert/strict";
import { Node, parseRackIds } from "./node.ts";
import { encodeInfoResponse } from "./info.ts";
import { fakeServer, readMessage } from "./_test_server.ts";

Deno.test("parseRackIds() reads ns:rack pairs and skips the rest", () => {
  assert.deepEqual(parseRackIds("test:1;bar:2"), { test: 1, bar: 2 });
  assert.deepEqual(parseRackIds("test:x;;bar"), {});
});

Deno.test("Node.info() runs commands on a pooled, authenticated connection", async () => {
  let authenticated = 0;
  await using server = fakeServer(async (c) => {
    for (;;) {
      const m = await readMessage(c);
      if (m === null) return;
      await c.write(encodeInfoResponse(new Map([["node", "N1"]])));
    }
  });
  const node = new Node({
    name: "N1",
    host: { name: "127.0.0.1", port: server.port },
    build: "8.1.2.0",
    maxConnections: 2,
    idleTimeoutMs: 0,
    connector: {
      connectTimeoutMs: 1000,
      authenticate: () => {
        authenticated++;
        return Promise.resolve();
      },
    },
  });
  assert.equal(node.address, `127.0.0.1:${server.port}`);
  for (let i = 0; i < 3; i++) assert.equal((await node.info(["node"], 1000)).get("node"), "N1");
  assert.equal(authenticated, 1);
  assert.equal(node.pool.size, 1);
  await node.close();
});
