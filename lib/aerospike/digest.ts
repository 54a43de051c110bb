/**
 * Record digests (RIPEMD-160 of set name + key) and partition ids.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { UserKey } from "./record.ts";

/** Number of partitions per namespace. */
export const PARTITION_COUNT = 4096;

/** Size of a digest in bytes. */
export const DIGEST_SIZE = 20;

const encoder = new TextEncoder();

/**
 * Computes a record's digest: `RIPEMD160(set || keyType || keyBytes)`. The namespace is
 * not part of it.
 *
 * @param set Set name, `""` for none.
 * @param key The user key.
 * @returns The 20-byte digest.
 *
 * @example The spec's test vector
 * ```ts
 * import { computeDigest, keyFromJs } from "./digest.ts";
 * computeDigest("demo", keyFromJs(1)); // b7f4b83889e2da67de683e1df6919a1eacc446c8
 * ```
 */
export function computeDigest(set: string, key: UserKey): Uint8Array {
  const h = createHash("ripemd160");
  if (set !== "") h.update(encoder.encode(set));
  const head = new Uint8Array(key.type === 1 || key.type === 2 ? 9 : 1);
  head[0] = key.type;
  if (key.type === 1) new DataView(head.buffer).setBigInt64(1, key.value);
  else if (key.type === 2) new DataView(head.buffer).setFloat64(1, key.value);
  h.update(head);
  if (key.type === 3 || key.type === 4) h.update(key.value);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * The partition a digest belongs to: its first two bytes as a little-endian u16, masked
 * to 12 bits.
 *
 * @param digest A 20-byte digest.
 * @returns 0..4095.
 */
export function partitionId(digest: Uint8Array): number {
  return (digest[0] | (digest[1] << 8)) & (PARTITION_COUNT - 1);
}

/**
 * Builds a user key from a JS value: bigint and integral numbers → integer, other
 * numbers → float, string → string (UTF-8), bytes → blob.
 *
 * @param v The value.
 * @returns The key.
 * @throws {RangeError} For an integer outside int64 or an unsafe integral number.
 */
export function keyFromJs(v: number | bigint | string | Uint8Array): UserKey {
  if (typeof v === "bigint") {
    if (BigInt.asIntN(64, v) !== v) throw new RangeError(`Cannot use key ${v}: outside int64`);
    return { type: 1, value: v };
  }
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return { type: 2, value: v };
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`Cannot use key ${v}: not a safe integer, pass a bigint`);
    }
    return { type: 1, value: BigInt(v) };
  }
  if (typeof v === "string") return { type: 3, value: encoder.encode(v) };
  return { type: 4, value: v };
}
