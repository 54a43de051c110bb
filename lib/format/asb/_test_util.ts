/**
 * Helpers shared by the ASB tests: streams with chosen chunk splits and decoding to arrays.
 *
 * @module
 */

import { AsbDecoder } from "./decoder.ts";
import type { AsbHeader, AsbToken } from "./parser.ts";

/**
 * A stream that hands out `bytes` in chunks of the given sizes (cycled).
 *
 * @param bytes The whole input.
 * @param sizes Chunk sizes, used in turn.
 * @returns The stream.
 */
export function chunkedStream(bytes: Uint8Array, sizes: number[] = [bytes.length || 1]) {
  let at = 0;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const n = Math.max(1, sizes[i++ % sizes.length]);
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/**
 * Decodes a whole buffer.
 *
 * @param bytes File bytes.
 * @param sizes Chunk sizes.
 * @returns Header and tokens.
 */
export async function decodeAll(
  bytes: Uint8Array,
  sizes?: number[],
  file = "t.asb",
): Promise<{ header: AsbHeader; tokens: AsbToken[] }> {
  const dec = new AsbDecoder(chunkedStream(bytes, sizes), { file });
  const tokens: AsbToken[] = [];
  for await (const t of dec) tokens.push(t);
  return { header: dec.header!, tokens };
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
