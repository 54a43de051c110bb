import assert from "node:assert/strict";
import { crc32c, crc32cBase64 } from "./gcs_crc32c.ts";

/** Bit-at-a-time reference, to check the slice-by-8 tables against. */
function slowCrc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

Deno.test("crc32c() matches the RFC 3720 appendix B.4 test vectors", () => {
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(ascending.slice().reverse()), 0x113fdb5c);
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c() continues across any split and agrees with a bitwise reference", () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  const whole = crc32c(data);
  assert.equal(whole, slowCrc32c(data));
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole, `cut ${cut}`);
  }
  for (let n = 0; n < 20; n++) {
    assert.equal(crc32c(data.subarray(3, 3 + n)), slowCrc32c(data.subarray(3, 3 + n)));
  }
});

Deno.test("crc32cBase64() writes the four big-endian bytes as Cloud Storage does", () => {
  assert.equal(crc32cBase64(0xe3069283), "4waSgw==");
  assert.equal(crc32cBase64(0), "AAAAAA==");
  assert.equal(crc32cBase64(0xffffffff), "/////w==");
});
