import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { loadCapture } from "./_captures.ts";
import { dataViewOf, forEachOp, MSG_HEADER_SIZE, readMessageHeader } from "./message.ts";
import {
  binToJs,
  blobBin,
  boolBin,
  floatBin,
  geoJsonBin,
  intBin,
  listBin,
  mapBin,
  nullBin,
  particleSize,
  readParticle,
  readUserKey,
  stringBin,
  userKeySize,
  writeParticle,
  writeUserKey,
} from "./particle.ts";
import type { Bin, UserKey } from "./record.ts";

function roundTrip(bin: Bin): Bin {
  const w = new ByteWriter();
  writeParticle(w, bin);
  const b = w.subarray().slice();
  assert.equal(b.length, particleSize(bin));
  return readParticle(b, dataViewOf(b), 0, b.length, bin.type, bin.name);
}

Deno.test("readParticle() decodes the int read reply of the Node client (±2^63 edges)", () => {
  const m = loadCapture("official-node-client.jsonl")[41].bytes;
  const view = dataViewOf(m);
  const h = readMessageHeader(view, 8);
  const bins: Bin[] = [];
  forEachOp(view, m, 8 + MSG_HEADER_SIZE, h.nOps, (op) => {
    bins.push(readParticle(m, view, op.valueOffset, op.valueLength, op.particleType, "x"));
  });
  assert.deepEqual(bins.map((b) => b.value), [42n, -7n, 2n ** 63n - 1n, -(2n ** 63n)]);
});

Deno.test("writeParticle() round-trips every bin type", () => {
  const bins: Bin[] = [
    nullBin("n"),
    intBin("i", -(2n ** 63n)),
    intBin("j", 5),
    floatBin("f", 1),
    floatBin("nan", NaN),
    boolBin("b", true),
    stringBin("s", "héllo"),
    blobBin("blob", new Uint8Array([0, 1, 255])),
    blobBin("java", new Uint8Array([9]), 7),
    blobBin("hll", new Uint8Array([1, 2]), 18),
    listBin("l", new Uint8Array([0x91, 0x01])),
    mapBin("m", new Uint8Array([0x81, 0xa2, 3, 0x6b, 1])),
    geoJsonBin("g", '{"type":"Point","coordinates":[1,2]}'),
  ];
  for (const b of bins) assert.deepEqual(roundTrip(b), b);
  assert.equal(roundTrip(floatBin("f", 1)).type, 2);
});

Deno.test("readParticle() skips GeoJSON cell ids", () => {
  const b = new Uint8Array([0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0x7b, 0x7d]);
  const bin = readParticle(b, dataViewOf(b), 0, b.length, 23, "g");
  assert.equal(binToJs(bin), "{}");
  const bad = new Uint8Array([0, 0, 2, 1]);
  assert.throws(() => readParticle(bad, dataViewOf(bad), 0, 4, 23, "g"), AerobakError);
});

Deno.test("readParticle() rejects bad sizes and unsupported types", () => {
  const b = new Uint8Array(9);
  const v = dataViewOf(b);
  const code = (c: string) => (e: unknown) => e instanceof AerobakError && e.code === c;
  assert.throws(() => readParticle(b, v, 0, 4, 2, "f"), code("MESSAGE_INVALID"));
  assert.throws(() => readParticle(b, v, 0, 2, 17, "b"), code("MESSAGE_INVALID"));
  assert.throws(() => readParticle(b, v, 0, 9, 1, "i"), code("MESSAGE_INVALID"));
  assert.throws(() => readParticle(b, v, 0, 8, 16, "vec"), code("PARTICLE_UNSUPPORTED"));
  assert.equal(
    readParticle(new Uint8Array([1, 0]), dataViewOf(new Uint8Array([1, 0])), 0, 2, 1, "i").value,
    256n,
  );
});

Deno.test("writeUserKey() round-trips every key type", () => {
  const keys: UserKey[] = [
    { type: 1, value: -1n },
    { type: 2, value: 1.5 },
    { type: 3, value: new TextEncoder().encode("key1") },
    { type: 4, value: new Uint8Array([1, 2, 3]) },
  ];
  for (const k of keys) {
    const w = new ByteWriter();
    writeUserKey(w, k);
    const b = w.subarray().slice();
    assert.equal(b.length, userKeySize(k));
    assert.deepEqual(readUserKey(b, dataViewOf(b), 0, b.length), k);
  }
  assert.throws(
    () => readUserKey(new Uint8Array([]), dataViewOf(new Uint8Array(0)), 0, 0),
    AerobakError,
  );
});

Deno.test("binToJs() gives plain JS values", () => {
  assert.equal(binToJs(intBin("i", 3n)), 3n);
  assert.equal(binToJs(stringBin("s", "x")), "x");
  assert.equal(binToJs(boolBin("b", false)), false);
  assert.equal(binToJs(nullBin("n")), null);
  assert.deepEqual(binToJs(listBin("l", new Uint8Array([0x92, 0x01, 0xa2, 0x03, 0x61]))), [
    1n,
    "a",
  ]);
  assert.deepEqual(binToJs(blobBin("b", new Uint8Array([1]))), new Uint8Array([1]));
});

Deno.test("readParticle() quotes a bin name holding control characters on one line", () => {
  const buf = new Uint8Array([1, 2, 3]);
  assert.throws(
    () => readParticle(buf, new DataView(buf.buffer), 0, 3, 35, "a\nb"),
    (e: unknown) =>
      e instanceof AerobakError && /^Cannot decode bin "a\\nb": particle type 35/.test(e.message),
  );
});
