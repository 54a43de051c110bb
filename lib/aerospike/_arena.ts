/**
 * Copies of small byte ranges out of reused read buffers, carved from shared chunks.
 *
 * Decoded records must own their bytes (the frame buffer they came from is reused for the
 * next frame), but a `slice()` per value allocates an ArrayBuffer with its own backing
 * store each time, which costs far more than the copy itself and loads the GC: a scan
 * decodes several values per record. Values are copied into a chunk instead and handed out
 * as views of it; a chunk lives as long as any value in it.
 *
 * @module
 */

/** Chunk size: small enough that a long-lived value pins little, large enough to amortize. */
const CHUNK_SIZE = 32 * 1024;
/** Values at least this long get their own buffer (a chunk would be mostly one value). */
const OWN_BUFFER_SIZE = 2048;

let chunk = new Uint8Array(CHUNK_SIZE);
let used = 0;

/**
 * Copies `src[start, end)` into memory that no reader reuses.
 *
 * @param src The buffer to copy from.
 * @param start First byte.
 * @param end After the last byte.
 * @returns A copy (possibly a view of a shared chunk: do not grow or transfer its buffer).
 */
export function copyBytes(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n >= OWN_BUFFER_SIZE) return src.slice(start, end);
  if (used + n > CHUNK_SIZE) {
    chunk = new Uint8Array(CHUNK_SIZE);
    used = 0;
  }
  const at = used;
  used += n;
  if (n > 64) chunk.set(src.subarray(start, end), at);
  else for (let i = 0; i < n; i++) chunk[at + i] = src[start + i];
  return chunk.subarray(at, at + n);
}
