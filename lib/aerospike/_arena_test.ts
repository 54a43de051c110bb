import assert from "node:assert/strict";
import { copyBytes } from "./_arena.ts";

Deno.test("copyBytes() returns copies that outlive changes to the source", () => {
  const src = new Uint8Array(256).map((_, i) => i);
  const copies = [];
  // Enough values to fill several chunks, of every small length.
  for (let i = 0; i < 5000; i++) {
    const start = i % 100;
    copies.push({ start, bytes: copyBytes(src, start, start + (i % 150)) });
  }
  src.fill(0xee);
  for (const { start, bytes } of copies) {
    for (let j = 0; j < bytes.length; j++) assert.equal(bytes[j], start + j);
  }
});

Deno.test("copyBytes() gives large values their own buffer", () => {
  const src = new Uint8Array(10000).fill(7);
  const big = copyBytes(src, 100, 9100);
  assert.equal(big.length, 9000);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, 9000);
  const small = copyBytes(src, 0, 20);
  assert.notEqual(small.buffer, src.buffer);
  assert.deepEqual([...small], new Array(20).fill(7));
  assert.equal(copyBytes(src, 5, 5).length, 0);
});
