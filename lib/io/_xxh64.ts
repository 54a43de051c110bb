/**
 * Streaming XXH64 (seed 0) for zstd content checksums, on 32-bit halves (no BigInt on the
 * hot path). zstd stores the low 32 bits of XXH64 of a frame's content.
 *
 * @module
 */

// Primes as [high, low] 32-bit halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Result registers of the 64-bit helpers (synchronous use only).
let rh = 0;
let rl = 0;

function mul(ah: number, al: number, bh: number, bl: number): void {
  // High half of al*bl from 16-bit partial products (each below 2^32, exact).
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p10 = a1 * b0, p01 = a0 * b1;
  const t = ((a0 * b0) >>> 16) + (p10 & 0xffff) + (p01 & 0xffff);
  const hi = a1 * b1 + (p10 >>> 16) + (p01 >>> 16) + (t >>> 16);
  rl = Math.imul(al, bl) >>> 0;
  rh = (hi + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rl = lo >>> 0;
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

function rotl(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** acc = rotl(acc + input * P2, 31) * P1, result in rh/rl. */
function round(acch: number, accl: number, inh: number, inl: number): void {
  mul(inh, inl, P2H, P2L);
  add(acch, accl, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

/** Incremental XXH64 with seed 0. */
export class Xxh64 {
  #v = new Uint32Array(8); // v1..v4 as (hi, lo) pairs
  #buf = new Uint8Array(32);
  #bufDv = new DataView(this.#buf.buffer);
  #bufLen = 0;
  #total = 0;

  /** Creates a hasher in its initial state. */
  constructor() {
    this.reset();
  }

  /** Returns to the initial state. */
  reset(): void {
    const v = this.#v;
    add(P1H, P1L, P2H, P2L);
    v[0] = rh, v[1] = rl;
    v[2] = P2H, v[3] = P2L;
    v[4] = 0, v[5] = 0;
    // 0 - P1 (two's complement)
    add(~P1H >>> 0, ~P1L >>> 0, 0, 1);
    v[6] = rh, v[7] = rl;
    this.#bufLen = 0;
    this.#total = 0;
  }

  #stripe(dv: DataView, off: number): void {
    const v = this.#v;
    for (let i = 0; i < 4; i++) {
      round(
        v[2 * i],
        v[2 * i + 1],
        dv.getUint32(off + 8 * i + 4, true),
        dv.getUint32(off + 8 * i, true),
      );
      v[2 * i] = rh;
      v[2 * i + 1] = rl;
    }
  }

  /**
   * Adds bytes.
   *
   * @param data Next bytes of the content.
   */
  update(data: Uint8Array): void {
    this.#total += data.length;
    let i = 0;
    if (this.#bufLen > 0) {
      const take = Math.min(32 - this.#bufLen, data.length);
      this.#buf.set(data.subarray(0, take), this.#bufLen);
      this.#bufLen += take;
      i = take;
      if (this.#bufLen < 32) return;
      this.#stripe(this.#bufDv, 0);
      this.#bufLen = 0;
    }
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; i + 32 <= data.length; i += 32) this.#stripe(dv, i);
    if (i < data.length) {
      this.#buf.set(data.subarray(i), 0);
      this.#bufLen = data.length - i;
    }
  }

  /**
   * Finishes the hash (the state is left unusable until {@linkcode reset}).
   *
   * @returns The low 32 bits of XXH64, as zstd stores them.
   */
  digest32(): number {
    const v = this.#v;
    let h: number, l: number;
    if (this.#total >= 32) {
      rotl(v[0], v[1], 1);
      let hh = rh, hl = rl;
      for (const [k, r] of [[2, 7], [4, 12], [6, 18]]) {
        const ah = hh, al = hl;
        rotl(v[k], v[k + 1], r);
        add(ah, al, rh, rl);
        hh = rh, hl = rl;
      }
      for (let k = 0; k < 8; k += 2) {
        round(0, 0, v[k], v[k + 1]);
        hh = (hh ^ rh) >>> 0, hl = (hl ^ rl) >>> 0;
        mul(hh, hl, P1H, P1L);
        add(rh, rl, P4H, P4L);
        hh = rh, hl = rl;
      }
      h = hh, l = hl;
    } else {
      h = P5H, l = P5L;
    }
    // + total length (below 2^53)
    add(h, l, Math.floor(this.#total / 4294967296) >>> 0, this.#total >>> 0);
    h = rh, l = rl;
    const buf = this.#buf;
    const dv = this.#bufDv;
    let i = 0;
    const n = this.#bufLen;
    for (; i + 8 <= n; i += 8) {
      round(0, 0, dv.getUint32(i + 4, true), dv.getUint32(i, true));
      h = (h ^ rh) >>> 0, l = (l ^ rl) >>> 0;
      rotl(h, l, 27);
      mul(rh, rl, P1H, P1L);
      add(rh, rl, P4H, P4L);
      h = rh, l = rl;
    }
    if (i + 4 <= n) {
      mul(0, dv.getUint32(i, true), P1H, P1L);
      h = (h ^ rh) >>> 0, l = (l ^ rl) >>> 0;
      rotl(h, l, 23);
      mul(rh, rl, P2H, P2L);
      add(rh, rl, P3H, P3L);
      h = rh, l = rl;
      i += 4;
    }
    for (; i < n; i++) {
      mul(0, buf[i], P5H, P5L);
      h = (h ^ rh) >>> 0, l = (l ^ rl) >>> 0;
      rotl(h, l, 11);
      mul(rh, rl, P1H, P1L);
      h = rh, l = rl;
    }
    // avalanche
    l = (l ^ (h >>> 1)) >>> 0; // h >> 33
    mul(h, l, P2H, P2L);
    h = rh, l = rl;
    l = (l ^ ((l >>> 29) | (h << 3))) >>> 0, h = (h ^ (h >>> 29)) >>> 0;
    mul(h, l, P3H, P3L);
    h = rh, l = rl;
    l = (l ^ h) >>> 0; // h >> 32
    return l;
  }
}
