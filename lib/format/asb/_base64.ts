/**
 * Standard base64 (RFC 4648 §4, `=` padding, no line breaks) written straight into and read
 * straight out of caller-owned buffers, so ASB lines need no intermediate strings.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ENCODE = new Uint8Array(64);
/** Byte → 6-bit value, 255 for bytes outside the alphabet. */
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}
const PAD = 0x3d;

/**
 * Length of the base64 text of `n` bytes.
 *
 * @param n Number of raw bytes.
 * @returns Number of base64 characters (a multiple of 4).
 */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

/**
 * Writes the base64 text of `src[start, start + length)` into `dst` at `offset`.
 *
 * @param dst Destination with room for {@linkcode base64Length}(length) bytes.
 * @param offset Where to start writing.
 * @param src Bytes to encode.
 * @param start First byte of `src` to encode. @default 0
 * @param length Bytes to encode. @default src.length - start
 * @returns The offset after the last written byte.
 */
export function writeBase64(
  dst: Uint8Array,
  offset: number,
  src: Uint8Array,
  start = 0,
  length = src.length - start,
): number {
  const end = start + length;
  const full = end - (length % 3);
  let p = offset;
  let i = start;
  for (; i < full; i += 3) {
    const t = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
    dst[p] = ENCODE[t >>> 18];
    dst[p + 1] = ENCODE[(t >>> 12) & 63];
    dst[p + 2] = ENCODE[(t >>> 6) & 63];
    dst[p + 3] = ENCODE[t & 63];
    p += 4;
  }
  const rest = end - full;
  if (rest === 1) {
    const t = src[i] << 16;
    dst[p] = ENCODE[t >>> 18];
    dst[p + 1] = ENCODE[(t >>> 12) & 63];
    dst[p + 2] = PAD;
    dst[p + 3] = PAD;
    p += 4;
  } else if (rest === 2) {
    const t = (src[i] << 16) | (src[i + 1] << 8);
    dst[p] = ENCODE[t >>> 18];
    dst[p + 1] = ENCODE[(t >>> 12) & 63];
    dst[p + 2] = ENCODE[(t >>> 6) & 63];
    dst[p + 3] = PAD;
    p += 4;
  }
  return p;
}

/**
 * Number of bytes the base64 text `src[start, start + len)` decodes to, or -1 when its
 * length is not a multiple of 4.
 *
 * @param src Buffer holding the text.
 * @param start Offset of the first character.
 * @param len Number of characters.
 * @returns The decoded length, or -1.
 */
export function base64DecodedLength(src: Uint8Array, start: number, len: number): number {
  if (len % 4 !== 0) return -1;
  if (len === 0) return 0;
  let n = (len / 4) * 3;
  if (src[start + len - 1] === PAD) n--;
  if (src[start + len - 2] === PAD) n--;
  return n;
}

/**
 * Decodes the base64 text `src[start, start + len)` into `dst` (sized by
 * {@linkcode base64DecodedLength}).
 *
 * @param src Buffer holding the text.
 * @param start Offset of the first character.
 * @param len Number of characters (a multiple of 4).
 * @param dst Destination, exactly the decoded length.
 * @returns -1 on success, else the offset in `src` of the first invalid character.
 */
export function decodeBase64Into(
  src: Uint8Array,
  start: number,
  len: number,
  dst: Uint8Array,
): number {
  const end = start + len;
  let q = 0;
  const fullEnd = dst.length - (dst.length % 3);
  let p = start;
  while (q < fullEnd) {
    const a = DECODE[src[p]],
      b = DECODE[src[p + 1]],
      c = DECODE[src[p + 2]],
      d = DECODE[src[p + 3]];
    if ((a | b | c | d) === 255) return firstInvalid(src, p, p + 4);
    const t = (a << 18) | (b << 12) | (c << 6) | d;
    dst[q] = t >>> 16;
    dst[q + 1] = (t >>> 8) & 255;
    dst[q + 2] = t & 255;
    q += 3;
    p += 4;
  }
  const rest = dst.length - fullEnd;
  if (rest === 0) return p === end ? -1 : p;
  const a = DECODE[src[p]], b = DECODE[src[p + 1]];
  if ((a | b) === 255) return firstInvalid(src, p, p + 2);
  if (rest === 1) {
    if (src[p + 2] !== PAD) return p + 2;
    dst[q] = (a << 2) | (b >>> 4);
    return -1;
  }
  const c = DECODE[src[p + 2]];
  if (c === 255) return p + 2;
  dst[q] = (a << 2) | (b >>> 4);
  dst[q + 1] = ((b & 15) << 4) | (c >>> 2);
  return -1;
}

function firstInvalid(src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (DECODE[src[i]] === 255) return i;
  return from;
}
