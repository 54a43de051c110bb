/**
 * Byte-level mutators of the fuzz suite: what time, disks and broken proxies do to a file
 * or a reply (flipped bits, bytes lost or repeated, files cut short, two files spliced),
 * plus what a hostile or confused writer does to its structure (huge decimal lengths and
 * counts, 32-bit length fields set to extremes, lines repeated or swapped).
 *
 * @module
 */

import type { Random } from "./random.ts";

/** Bytes that mean something in one of the formats (separators, escapes, signs, braces). */
const INTERESTING = [
  0x00,
  0x0a,
  0x0d,
  0x20,
  0x21,
  0x22,
  0x23,
  0x2a,
  0x2b,
  0x2c,
  0x2d,
  0x2e,
  0x2f,
  0x30,
  0x31,
  0x39,
  0x3a,
  0x3b,
  0x3c,
  0x3d,
  0x3e,
  0x5b,
  0x5c,
  0x5d,
  0x7b,
  0x7d,
  0x7f,
  0x80,
  0xc3,
  0xff,
];

/** 32-bit values a length field may be stretched to. */
const EXTREME_U32 = [
  0xffffffff,
  0x7fffffff,
  0x80000000,
  0x10000000,
  0x08000001,
  0x01000000,
  0x00ffffff,
  0x00010000,
  0,
];

/** Decimal texts for lengths and counts: past every cap, at the edges of the number types. */
const HUGE_DECIMALS = [
  "99999999999999999999",
  "4294967296",
  "2147483648",
  "268435457",
  "134217729",
  "18446744073709551616",
  "9223372036854775808",
  "-1",
  "1e309",
  "0x7fffffff",
];

type Edit = (b: Uint8Array, r: Random, others: readonly Uint8Array[]) => Uint8Array;

function join(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const at = (b: Uint8Array, r: Random) => r.int(b.length + 1);

/** Positions just after a line feed (and 0): where text lines start. */
function lineStarts(b: Uint8Array): number[] {
  const starts = [0];
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a && i + 1 < b.length) starts.push(i + 1);
  return starts;
}

function lineAt(b: Uint8Array, r: Random): [number, number] {
  const starts = lineStarts(b);
  const k = r.int(starts.length);
  return [starts[k], k + 1 < starts.length ? starts[k + 1] : b.length];
}

const EDITS: { weight: number; edit: Edit }[] = [
  {
    weight: 4,
    edit(b, r) { // flip one bit
      if (b.length > 0) b[r.int(b.length)] ^= 1 << r.int(8);
      return b;
    },
  },
  {
    weight: 4,
    edit(b, r) { // overwrite a byte
      if (b.length > 0) b[r.int(b.length)] = r.chance(0.5) ? r.int(256) : r.pick(INTERESTING);
      return b;
    },
  },
  {
    weight: 2,
    edit(b, r) { // overwrite a run with noise (a bad sector)
      const from = r.int(b.length + 1);
      const to = Math.min(b.length, from + r.small(64));
      for (let i = from; i < to; i++) b[i] = r.int(256);
      return b;
    },
  },
  {
    weight: 3,
    edit(b, r) { // insert a few bytes
      const ins = Uint8Array.from({ length: r.small(8) }, () => r.pick(INTERESTING));
      const p = at(b, r);
      return join(b.subarray(0, p), ins, b.subarray(p));
    },
  },
  {
    weight: 3,
    edit(b, r) { // lose a run
      const p = at(b, r);
      return join(b.subarray(0, p), b.subarray(p + r.small(64)));
    },
  },
  {
    weight: 2,
    edit(b, r) { // repeat a run elsewhere
      const from = at(b, r);
      const run = b.slice(from, from + r.small(256));
      const p = at(b, r);
      return join(b.subarray(0, p), run, b.subarray(p));
    },
  },
  {
    weight: 2,
    edit(b, r) { // cut the end off
      return b.slice(0, at(b, r));
    },
  },
  {
    weight: 1,
    edit(b, r, others) { // the front of this input, the back of another
      const o = others.length > 0 ? r.pick(others) : b;
      return join(b.subarray(0, at(b, r)), o.subarray(r.int(o.length + 1)));
    },
  },
  {
    weight: 2,
    edit(b, r) { // a decimal number made huge (lengths, counts)
      const digits: number[] = [];
      for (let i = 0; i < b.length; i++) if (b[i] >= 0x30 && b[i] <= 0x39) digits.push(i);
      const text = new TextEncoder().encode(r.pick(HUGE_DECIMALS));
      if (digits.length === 0) {
        const p = at(b, r);
        return join(b.subarray(0, p), text, b.subarray(p));
      }
      let from = r.pick(digits);
      let to = from + 1;
      while (from > 0 && b[from - 1] >= 0x30 && b[from - 1] <= 0x39) from--;
      while (to < b.length && b[to] >= 0x30 && b[to] <= 0x39) to++;
      return join(b.subarray(0, from), text, b.subarray(to));
    },
  },
  {
    weight: 2,
    edit(b, r) { // a 32-bit length field set to an extreme, big- or little-endian
      if (b.length < 4) return b;
      const p = r.int(b.length - 3);
      const v = r.pick(EXTREME_U32);
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      view.setUint32(p, v, r.chance(0.5));
      return b;
    },
  },
  {
    weight: 1,
    edit(b, r) { // a line repeated
      const [from, to] = lineAt(b, r);
      const times = r.small(4);
      const parts = [b.subarray(0, to)];
      for (let i = 0; i < times; i++) parts.push(b.subarray(from, to));
      parts.push(b.subarray(to));
      return join(...parts);
    },
  },
  {
    weight: 1,
    edit(b, r) { // a line dropped
      const [from, to] = lineAt(b, r);
      return join(b.subarray(0, from), b.subarray(to));
    },
  },
];

const TOTAL_WEIGHT = EDITS.reduce((n, e) => n + e.weight, 0);

/**
 * A mutated copy of an input: one to eight edits drawn from the operators above.
 *
 * @param input The real sample.
 * @param r The iteration's generator.
 * @param others Other samples of the same kind, for splicing.
 * @returns A new array; `input` is left as it was.
 */
export function mutateBytes(
  input: Uint8Array,
  r: Random,
  others: readonly Uint8Array[] = [],
): Uint8Array {
  let b: Uint8Array = input.slice();
  const edits = r.small(8);
  for (let e = 0; e < edits; e++) {
    let w = r.int(TOTAL_WEIGHT);
    let k = 0;
    while (w >= EDITS[k].weight) w -= EDITS[k++].weight;
    b = EDITS[k].edit(b, r, others);
  }
  return b;
}

/**
 * A mutated copy of a text (a command-line value, a config line): the byte mutators over
 * its UTF-8, decoded back (bytes that are no longer UTF-8 become U+FFFD).
 *
 * @param text The text.
 * @param r The iteration's generator.
 * @returns The mutated text.
 */
export function mutateText(text: string, r: Random): string {
  return new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), r));
}
