import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { Connection, readLimits } from "./connection.ts";
import { encodeInfoResponse } from "./info.ts";
import { infoRequest, infoValue } from "./info_client.ts";
import { fakeServer, readMessage } from "./_test_server.ts";

async function open(port: number): Promise<Connection> {
  return await Connection.open({ name: "127.0.0.1", port }, { timeoutMs: 2000, nodeName: "N1" });
}

Deno.test("infoRequest() sends several commands in one request and keys the answers", async () => {
  let seen = "";
  await using server = fakeServer(async (c) => {
    const m = (await readMessage(c))!;
    seen = new TextDecoder().decode(m.subarray(8));
    await c.write(
      encodeInfoResponse(
        new Map([["node", "N1"], ["build", "8.1.2.0"], ["rack-ids", "ERROR:25:enterprise only"]]),
      ),
    );
  });
  const conn = await open(server.port);
  const a = await infoRequest(conn, ["node", "build", "rack-ids"], readLimits(2000, 0));
  assert.equal(seen, "node\nbuild\nrack-ids\n");
  assert.equal(infoValue(a, "build", conn.node), "8.1.2.0");
  assert.throws(() => infoValue(a, "rack-ids", conn.node), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "INFO_ERROR");
    assert.equal(e.resultCode, 25);
    assert.match(e.message, /rack-ids.*N1.*25 enterprise only/);
    return true;
  });
  assert.throws(
    () => infoValue(a, "replicas", conn.node),
    (e: unknown) => e instanceof AerobakError && e.code === "INFO_INVALID",
  );
  assert.equal(conn.finish(), true);
  conn.close();
});
