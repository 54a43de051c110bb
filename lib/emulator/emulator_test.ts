import assert from "node:assert/strict";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import {
  decodeLoginReply,
  encodeAuthenticateRequest,
  encodeLoginRequest,
  encodeReadRequest,
} from "../aerospike/requests.ts";
import { floatBin } from "../aerospike/particle.ts";
import { ManualClock } from "./clock.ts";
import { startEmulator } from "./emulator.ts";
import { compareDigests } from "./record_store.ts";
import { RawClient } from "./_test_client.ts";

Deno.test("Emulator seeds JS values, dumps sorted by digest and expires with its clock", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  await using emu = await startEmulator({ nodes: 2, clock });
  emu.put({
    set: "s",
    key: "a",
    bins: { i: 5, f: floatBin("f", 1), l: [1, "x"], m: { b: 1, a: true } },
  });
  emu.put({ set: "s", key: 7n, bins: { s: "text" }, ttl: 60 });
  const dump = emu.dump("test");
  assert.equal(dump.length, 2);
  assert.ok(compareDigests(dump[0].digest, dump[1].digest) < 0);
  const a = dump.find((r) => r.key?.type === 3)!;
  assert.deepEqual(a.digest, computeDigest("s", keyFromJs("a")));
  assert.deepEqual(a.bins.map((b) => [b.name, b.type]), [["i", 1], ["f", 2], ["l", 20], ["m", 19]]);
  // Key-ordered map as the Node client writes it: ext flags entry, then sorted keys.
  assert.deepEqual([...a.bins[3].value as Uint8Array], [
    0x83,
    0xc7,
    0,
    1,
    0xc0,
    0xa2,
    3,
    0x61,
    0xc3,
    0xa2,
    3,
    0x62,
    1,
  ]);
  emu.advanceClock(61_000);
  assert.equal(emu.count("test"), 1);
  assert.equal(emu.dump("test").length, 1);
});

Deno.test("Emulator stop/restart moves partitions and changes generations", async () => {
  await using emu = await startEmulator({ nodes: 3 });
  const [n0, n1] = emu.hosts;
  const c = await RawClient.connect(`${n0.host}:${n0.port}`);
  try {
    const before = await c.info("partition-generation", "peers-generation", "replicas-master");
    await emu.stopNode(n1.name);
    assert.equal(emu.hosts.length, 2);
    await assert.rejects(() => RawClient.connect(`${n1.host}:${n1.port}`));
    const after = await c.info(
      "partition-generation",
      "peers-generation",
      "replicas-master",
      "services",
    );
    assert.notEqual(after.get("partition-generation"), before.get("partition-generation"));
    assert.notEqual(after.get("peers-generation"), before.get("peers-generation"));
    assert.notEqual(after.get("replicas-master"), before.get("replicas-master"));
    assert.equal(after.get("services")!.split(";").length, 1);
    emu.restartNode(n1.name);
    const back = await RawClient.connect(`${n1.host}:${n1.port}`);
    assert.equal((await back.info("node")).get("node"), n1.name);
    back.close();
    const restored = await c.info("replicas-master");
    assert.equal(restored.get("replicas-master"), before.get("replicas-master"));
  } finally {
    c.close();
  }
});

Deno.test("Emulator answers LOGIN with 52 without security and checks credentials with it", async () => {
  await using open = await startEmulator({ nodes: 1 });
  const c = await RawClient.connect(open.seeds);
  try {
    await c.send(
      encodeLoginRequest({
        user: "admin",
        credential: "$2a$10$7EqJtq98hPqEX7fNZaFWoO1mVO/4MLpGzsqojz6E9Gef6iXDjXdDa",
      }),
    );
    assert.equal(decodeLoginReply((await c.frame()).body).resultCode, 52);
  } finally {
    c.close();
  }
  await using secure = await startEmulator({ nodes: 1, users: { admin: "admin" } });
  const s = await RawClient.connect(secure.seeds);
  const s2 = await RawClient.connect(secure.seeds);
  try {
    const digest = computeDigest("x", keyFromJs(1));
    assert.equal(
      (await s.call(encodeReadRequest({ namespace: "test", set: "x", digest }))).header.resultCode,
      80,
    );
    assert.equal((await s.info("build")).get("build"), "ERROR:80:not authenticated");
    await s.send(encodeLoginRequest({ user: "admin", password: "wrong" }));
    assert.equal(decodeLoginReply((await s.frame()).body).resultCode, 65);
    await s.send(
      encodeLoginRequest({
        user: "admin",
        credential: "$2a$10$7EqJtq98hPqEX7fNZaFWoO1mVO/4MLpGzsqojz6E9Gef6iXDjXdDa",
      }),
    );
    const ok = decodeLoginReply((await s.frame()).body);
    assert.equal(ok.resultCode, 0);
    assert.equal(ok.sessionTtl, 86400);
    assert.equal(
      (await s.call(encodeReadRequest({ namespace: "test", set: "x", digest }))).header.resultCode,
      2,
    );
    await s2.send(encodeAuthenticateRequest("admin", ok.sessionToken!));
    assert.equal(decodeLoginReply((await s2.frame()).body).resultCode, 0);
    assert.equal((await s2.info("build")).get("build"), "8.1.2.0");
  } finally {
    s.close();
    s2.close();
  }
});
