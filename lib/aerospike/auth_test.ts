import assert from "node:assert/strict";
import { ManualClock, startEmulator } from "../emulator/mod.ts";
import { AerobakError } from "../errors.ts";
import { Authenticator } from "./auth.ts";
import { Cluster } from "./cluster.ts";
import { Connection } from "./connection.ts";
import { PartitionFilter } from "./partition_filter.ts";
import { AdminCommand, AdminField, decodeAdminMessage, encodeAdminMessage } from "./requests.ts";
import { fakeServer, readMessage } from "./_test_server.ts";

Deno.test("Authenticator refuses EXTERNAL and PKI without TLS", () => {
  for (const mode of ["EXTERNAL", "PKI"] as const) {
    assert.throws(
      () => new Authenticator({ mode, user: "u", password: "p", loginTimeoutMs: 1000, tls: false }),
      (e: unknown) => e instanceof AerobakError && e.code === "AUTH_REQUIRES_TLS",
    );
  }
});

Deno.test("Authenticator sends the bcrypt credential, and the clear password only for EXTERNAL", async () => {
  const seen: Map<number, Uint8Array>[] = [];
  await using server = fakeServer(async (c) => {
    const m = (await readMessage(c))!;
    const msg = decodeAdminMessage(m.subarray(8));
    seen.push(msg.fields);
    const ttl = new Uint8Array([0, 0, 0x0e, 0x10]); // 3600 s
    await c.write(encodeAdminMessage(AdminCommand.LOGIN, [
      [AdminField.SESSION_TOKEN, new Uint8Array([1, 2, 3])],
      [AdminField.SESSION_TTL, ttl],
    ]));
  });
  for (const mode of ["INTERNAL", "EXTERNAL"] as const) {
    const auth = new Authenticator({
      mode,
      user: "admin",
      password: "admin",
      loginTimeoutMs: 2000,
      tls: true,
    });
    const conn = await Connection.open({ name: "127.0.0.1", port: server.port }, {
      timeoutMs: 2000,
    });
    const session = { sessionToken: null as Uint8Array | null, sessionExpires: 0 };
    const before = Date.now();
    await auth.authenticate(conn, session);
    assert.deepEqual(session.sessionToken, new Uint8Array([1, 2, 3]));
    // Renewed a minute before the server's TTL.
    assert.ok(
      session.sessionExpires >= before + 3540_000 &&
        session.sessionExpires <= Date.now() + 3540_000,
    );
    conn.close();
  }
  const text = (b?: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(text(seen[0].get(AdminField.USER)), "admin");
  assert.equal(
    text(seen[0].get(AdminField.CREDENTIAL)),
    "$2a$10$7EqJtq98hPqEX7fNZaFWoO1mVO/4MLpGzsqojz6E9Gef6iXDjXdDa",
  );
  assert.equal(seen[0].has(AdminField.CLEAR_PASSWORD), false);
  assert.equal(text(seen[1].get(AdminField.CLEAR_PASSWORD)), "admin");
});

Deno.test("Authenticator proceeds without a token when security is not enabled (52)", async () => {
  let logins = 0;
  await using server = fakeServer(async (c) => {
    await readMessage(c);
    logins++;
    await c.write(encodeAdminMessage(AdminCommand.LOGIN, [], 52));
  });
  const auth = new Authenticator({
    mode: "INTERNAL",
    user: "u",
    password: "p",
    loginTimeoutMs: 2000,
    tls: false,
  });
  const session = { sessionToken: null, sessionExpires: 0 };
  const conn = await Connection.open({ name: "127.0.0.1", port: server.port }, { timeoutMs: 2000 });
  await auth.authenticate(conn, session);
  assert.equal(auth.securityDisabled, true);
  await auth.authenticate(conn, session); // nothing sent the second time
  assert.equal(logins, 1);
  conn.close();
});

Deno.test("Cluster logs in again when the server expired the session (66)", async () => {
  const clock = new ManualClock();
  await using emu = await startEmulator({
    nodes: 1,
    users: { u: "p" },
    clock,
    sessionTtlSeconds: 600,
  });
  for (let i = 0; i < 5; i++) emu.put({ namespace: "test", key: i, bins: { a: i } });
  await using cluster = await Cluster.connect({
    hosts: emu.seeds,
    user: "u",
    password: "p",
    maxConnectionsPerNode: 4,
  });
  const node = cluster.nodes[0] as unknown as { sessionToken: Uint8Array };
  const firstToken = node.sessionToken;
  emu.advanceClock(3600_000); // the server's tokens are now expired; ours still looks valid
  const counts = await Promise.all([1, 2, 3].map(async () => {
    let n = 0;
    for await (const _ of cluster.scan(PartitionFilter.all(), { namespace: "test" })) n++;
    return n;
  }));
  assert.deepEqual(counts, [5, 5, 5]);
  assert.notDeepEqual(node.sessionToken, firstToken, "a new login replaced the token");
});
