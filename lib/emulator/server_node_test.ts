import assert from "node:assert/strict";
import { FieldType, MSG_HEADER_SIZE } from "../aerospike/message.ts";
import { intBin } from "../aerospike/particle.ts";
import { PROTO_HEADER_SIZE, ProtoType, writeProtoHeader } from "../aerospike/proto.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { encodePutRequest, encodeReadRequest } from "../aerospike/requests.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import { encodeXdrDelete, encodeXdrWrite, xdrPayload } from "../xdr/message.ts";
import { startEmulator } from "./emulator.ts";
import { XdrEmulation } from "./xdr.ts";
import { demoRecord, RawClient } from "./_test_client.ts";

/**
 * A write inside a transaction: a plain put with an MRT_ID field (u64 little-endian) after
 * its header, as the client adds one.
 */
function mrtWrite(r: AerospikeRecord, mrtId: bigint): Uint8Array {
  const msg = encodePutRequest({ record: r, ttl: -1 });
  const at = PROTO_HEADER_SIZE + MSG_HEADER_SIZE;
  const out = new Uint8Array(msg.length + 13);
  out.set(msg.subarray(0, at));
  out.set(msg.subarray(at), at + 13);
  const view = new DataView(out.buffer);
  view.setUint32(at, 9);
  out[at + 4] = FieldType.MRT_ID;
  view.setBigUint64(at + 5, mrtId, true);
  view.setUint16(PROTO_HEADER_SIZE + 18, view.getUint16(PROTO_HEADER_SIZE + 18) + 1);
  writeProtoHeader(out, 0, ProtoType.MESSAGE, out.length - PROTO_HEADER_SIZE);
  return out;
}

const DISABLE = "set-config:context=namespace;namespace=test;disable-mrt-writes=";

Deno.test("ServerNode refuses transaction writes with MRT_BLOCKED where disable-mrt-writes is set", async () => {
  await using emu = await startEmulator({ nodes: 2 });
  XdrEmulation.attach(emu.cluster);
  const [a, b] = await Promise.all(emu.seeds.split(",").map((s) => RawClient.connect(s)));
  try {
    assert.equal((await b.info(DISABLE + "true")).get(DISABLE + "true"), "ok");
    const r = demoRecord(1, [intBin("x", 1)]);
    const blocked = await b.call(mrtWrite(r, 77n));
    assert.equal(blocked.header.resultCode, ResultCode.MRT_BLOCKED);
    assert.equal(emu.get("test", r.digest), undefined, "nothing written");
    // Only on that node, and only transaction writes: plain writes and the XDR messages a
    // restore replays still go through.
    assert.equal((await a.call(mrtWrite(r, 77n))).header.resultCode, 0);
    const shipped = xdrPayload(encodeXdrWrite(demoRecord(2, [intBin("y", 2)], 3)).subarray(8));
    assert.equal((await b.call(shipped)).header.resultCode, 0);
    const gone = xdrPayload(encodeXdrDelete(demoRecord(2, []), { generation: 4 }).subarray(8));
    assert.equal((await b.call(gone)).header.resultCode, 0);
    // Reads are not blocked either.
    const read = encodeReadRequest({ namespace: "test", set: "demo", digest: r.digest });
    assert.equal((await b.call(read)).header.resultCode, 0);

    assert.equal((await b.info(DISABLE + "false")).get(DISABLE + "false"), "ok");
    // Accepted again, and applied as a plain write (no provisional version is kept).
    const applied = await b.call(mrtWrite(demoRecord(1, [intBin("x", 5)]), 78n));
    assert.equal(applied.header.resultCode, 0);
    assert.equal(applied.header.generation, 2);
    assert.deepEqual(emu.get("test", r.digest)?.bins, [intBin("x", 5)]);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("ServerNode applies transaction writes as plain writes on a cluster without XDR", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  const c = await RawClient.connect(emu.seeds);
  try {
    const r = demoRecord(3, [intBin("z", 3)]);
    assert.equal((await c.call(mrtWrite(r, 1n))).header.resultCode, 0);
    assert.deepEqual(emu.get("test", r.digest)?.bins, [intBin("z", 3)]);
  } finally {
    c.close();
  }
});
