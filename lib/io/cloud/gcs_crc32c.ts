/**
 * CRC32C (Castagnoli), the checksum Google Cloud Storage keeps for every object and checks
 * uploads against (`x-goog-hash: crc32c=…`, the object's `crc32c` field).
 *
 * @module
 */

/** Reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

/**
 * Slice-by-8 tables: table `t` maps a byte to its CRC contribution `t` bytes further on, so
 * eight input bytes cost eight lookups and no inner loop.
 */
const TABLES = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) {
      const prev = t[(s - 1) * 256 + i];
      t[s * 256 + i] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

/**
 * Computes the CRC32C of `bytes`, or continues one: `crc32c(b, crc32c(a))` equals the CRC32C
 * of `a` followed by `b`.
 *
 * @example RFC 3720 check value
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32c } from "./gcs_crc32c.ts";
 * assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
 * ```
 *
 * @param bytes The data.
 * @param crc The CRC32C of the data before `bytes`. @default {0}
 * @returns The CRC32C as an unsigned 32-bit number.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  while (i < end8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
    i += 8;
  }
  while (i < bytes.length) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Formats a CRC32C as Cloud Storage writes it: base64 of the four big-endian bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32cBase64 } from "./gcs_crc32c.ts";
 * assert.equal(crc32cBase64(0), "AAAAAA==");
 * ```
 *
 * @param crc The CRC32C.
 * @returns For example `"4waSgw=="` for `0xe3069283`.
 */
export function crc32cBase64(crc: number): string {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, crc >>> 0);
  return btoa(String.fromCharCode(b[0], b[1], b[2], b[3]));
}
