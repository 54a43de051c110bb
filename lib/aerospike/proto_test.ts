import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { loadCapture } from "./_captures.ts";
import {
  beginProto,
  compressMessage,
  decompressMessage,
  endProto,
  MAX_PROTO_SIZE,
  ProtoType,
  readProtoHeader,
  writeProtoHeader,
} from "./proto.ts";

Deno.test("writeProtoHeader() frames the build info request of the spec", () => {
  const buf = new Uint8Array(14);
  writeProtoHeader(buf, 0, ProtoType.INFO, 6);
  buf.set(new TextEncoder().encode("build\n"), 8);
  assert.deepEqual(
    Array.from(buf),
    [0x02, 0x01, 0, 0, 0, 0, 0, 0x06, 0x62, 0x75, 0x69, 0x6c, 0x64, 0x0a],
  );
  assert.deepEqual(readProtoHeader(buf, 0), { version: 2, type: 1, size: 6 });
});

Deno.test("readProtoHeader() reads every captured message header", () => {
  for (const m of loadCapture("official-node-client.jsonl")) {
    const h = readProtoHeader(m.bytes, 0);
    assert.equal(h.type, m.type);
    assert.equal(h.size + 8, m.len);
  }
});

Deno.test("readProtoHeader() rejects a bad version, type or size", () => {
  const bad = (bytes: number[]) =>
    assert.throws(
      () => readProtoHeader(new Uint8Array(bytes), 0),
      (e) => e instanceof AerobakError && e.code === "PROTO_INVALID",
    );
  bad([3, 1, 0, 0, 0, 0, 0, 0]);
  bad([2, 9, 0, 0, 0, 0, 0, 0]);
  bad([2, 3, 0, 1, 0, 0, 0, 0]);
  bad([2, 3, 0, 0, 0x08, 0, 0, 1]);
  bad([2, 3, 0]);
  assert.equal(
    readProtoHeader(new Uint8Array([2, 3, 0, 0, 0x08, 0, 0, 0]), 0).size,
    MAX_PROTO_SIZE,
  );
});

Deno.test("beginProto()/endProto() back-fill the body size", () => {
  const w = new ByteWriter();
  const at = beginProto(w);
  w.utf8("node\n");
  endProto(w, at, ProtoType.INFO);
  assert.deepEqual(readProtoHeader(w.subarray(), 0), { version: 2, type: 1, size: 5 });
});

Deno.test("compressMessage() round-trips through decompressMessage()", () => {
  const msg = loadCapture("official-node-client.jsonl")[59].bytes;
  const z = compressMessage(msg);
  const h = readProtoHeader(z, 0);
  assert.equal(h.type, ProtoType.COMPRESSED);
  assert.equal(h.size, z.length - 8);
  assert.deepEqual(decompressMessage(z.subarray(8)), msg);
});

Deno.test("decompressMessage() rejects a corrupt stream or wrong size", () => {
  const z = compressMessage(new Uint8Array(100));
  const body = z.slice(8);
  body[8 + 4] ^= 0xff;
  assert.throws(
    () => decompressMessage(body),
    (e) => e instanceof AerobakError && e.code === "PROTO_INVALID",
  );
  const wrongSize = z.slice(8);
  wrongSize[7] = 99;
  assert.throws(
    () => decompressMessage(wrongSize),
    (e) => e instanceof AerobakError && e.code === "PROTO_INVALID",
  );
  assert.throws(() => decompressMessage(new Uint8Array(3)), AerobakError);
});
