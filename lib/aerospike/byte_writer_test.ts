import assert from "node:assert/strict";
import { ByteWriter } from "./byte_writer.ts";

Deno.test("ByteWriter writes big-endian integers and floats", () => {
  const w = new ByteWriter(16);
  w.u8(0xab);
  w.u16(0x0102);
  w.u16le(0x0102);
  w.u32(0xdeadbeef);
  w.u32(-1);
  w.u64(0x1122334455667788n);
  w.i64(-2n);
  w.f64(1);
  assert.deepEqual(
    Array.from(w.subarray()),
    [
      0xab,
      1,
      2,
      2,
      1,
      0xde,
      0xad,
      0xbe,
      0xef,
      0xff,
      0xff,
      0xff,
      0xff,
      0x11,
      0x22,
      0x33,
      0x44,
      0x55,
      0x66,
      0x77,
      0x88,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xfe,
      0x3f,
      0xf0,
      0,
      0,
      0,
      0,
      0,
      0,
    ],
  );
});

Deno.test("ByteWriter grows and keeps earlier bytes", () => {
  const w = new ByteWriter(16);
  for (let i = 0; i < 1000; i++) w.u8(i & 0xff);
  assert.equal(w.length, 1000);
  const b = w.subarray();
  for (let i = 0; i < 1000; i++) assert.equal(b[i], i & 0xff);
});

Deno.test("ByteWriter.utf8() returns the byte count of multi-byte text", () => {
  const w = new ByteWriter(16);
  assert.equal(w.utf8("añ€😀"), 1 + 2 + 3 + 4);
  assert.equal(new TextDecoder().decode(w.subarray()), "añ€😀");
  assert.equal(w.utf8("x".repeat(100)), 100);
});

Deno.test("ByteWriter.reserve() back-fills lengths and rejects writes past the end", () => {
  const w = new ByteWriter();
  w.u8(9);
  const at = w.reserve(4);
  w.utf8("abc");
  w.setU32At(at, 3);
  w.setU16At(1, 0x0102);
  w.setU8At(0, 7);
  assert.deepEqual(Array.from(w.subarray()), [7, 1, 2, 0, 3, 0x61, 0x62, 0x63]);
  assert.throws(() => w.setU32At(6, 1), RangeError);
  w.reset();
  assert.equal(w.length, 0);
  assert.equal(w.reserve(2), 0);
  assert.deepEqual(Array.from(w.subarray()), [0, 0]);
});
