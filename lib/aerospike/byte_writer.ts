/**
 * A growable big-endian byte buffer that encoders write into.
 *
 * One writer is meant to live as long as a connection or an encoder and be `reset()`
 * between messages, so the hot paths (scan requests, puts, batch writes, ASB lines)
 * allocate nothing once the buffer has grown to the largest message.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Growable byte buffer with big-endian integer writers and back-filled lengths.
 *
 * @example Write a length-prefixed field
 * ```ts
 * import { ByteWriter } from "./byte_writer.ts";
 * const w = new ByteWriter();
 * const at = w.reserve(4);
 * w.u8(0);
 * w.utf8("test");
 * w.setU32At(at, w.length - at - 4);
 * console.log(w.subarray()); // 00 00 00 05 00 74 65 73 74
 * ```
 */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  /**
   * Creates an empty writer.
   *
   * @param initialSize Initial capacity in bytes. @default 4096
   */
  constructor(initialSize = 4096) {
    this.#buf = new Uint8Array(Math.max(16, initialSize));
    this.#view = new DataView(this.#buf.buffer);
  }

  /**
   * The whole backing array (bytes from {@linkcode length} on are free space): for
   * encoders that write in place after a {@linkcode reserve}, without a view per call.
   * Valid until a write grows the buffer.
   */
  get backing(): Uint8Array {
    return this.#buf;
  }

  /** Number of bytes written since construction or the last {@linkcode reset}. */
  get length(): number {
    return this.#pos;
  }

  /**
   * Makes room for `n` more bytes, growing the buffer ×1.5 (or more) when needed.
   *
   * @param n Number of bytes about to be written.
   */
  ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = Math.ceil(this.#buf.length * 1.5);
    if (size < need) size = need;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /**
   * Appends one unsigned byte.
   *
   * @param v Value 0..255.
   */
  u8(v: number): void {
    this.ensure(1);
    this.#buf[this.#pos++] = v;
  }

  /**
   * Appends a big-endian uint16.
   *
   * @param v Value 0..65535.
   */
  u16(v: number): void {
    this.ensure(2);
    this.#view.setUint16(this.#pos, v);
    this.#pos += 2;
  }

  /**
   * Appends a little-endian uint16 (partition id arrays use it).
   *
   * @param v Value 0..65535.
   */
  u16le(v: number): void {
    this.ensure(2);
    this.#view.setUint16(this.#pos, v, true);
    this.#pos += 2;
  }

  /**
   * Appends a big-endian uint32.
   *
   * @param v Value 0..2^32-1 (negative int32 values are written as their two's complement).
   */
  u32(v: number): void {
    this.ensure(4);
    this.#view.setUint32(this.#pos, v >>> 0);
    this.#pos += 4;
  }

  /**
   * Appends a big-endian uint64.
   *
   * @param v Value 0..2^64-1.
   */
  u64(v: bigint): void {
    this.ensure(8);
    this.#view.setBigUint64(this.#pos, v);
    this.#pos += 8;
  }

  /**
   * Appends a big-endian two's-complement int64.
   *
   * @param v Value -2^63..2^63-1.
   */
  i64(v: bigint): void {
    this.ensure(8);
    this.#view.setBigInt64(this.#pos, v);
    this.#pos += 8;
  }

  /**
   * Appends a big-endian IEEE-754 double.
   *
   * @param v Any number, NaN and infinities included.
   */
  f64(v: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.#pos, v);
    this.#pos += 8;
  }

  /**
   * Appends bytes.
   *
   * @param b The bytes to copy in.
   */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /**
   * Appends the UTF-8 encoding of a string.
   *
   * @param s The text.
   * @returns Number of bytes written.
   */
  utf8(s: string): number {
    // Worst case 3 bytes per UTF-16 code unit.
    this.ensure(s.length * 3);
    const buf = this.#buf;
    const pos = this.#pos;
    // Names (namespace, set, bins) are short ASCII and written on every record: copying
    // the code units beats encodeInto's subarray and result object.
    if (s.length <= 32) {
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos + i] = c;
      }
      if (i === s.length) {
        this.#pos = pos + i;
        return i;
      }
    }
    const { written } = encoder.encodeInto(s, buf.subarray(pos));
    this.#pos += written;
    return written;
  }

  /**
   * Appends `n` zero bytes to be filled in later (lengths known only at the end).
   *
   * @param n Number of bytes.
   * @returns The offset of the first reserved byte.
   */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.#pos;
    const buf = this.#buf;
    // Length slots (1..4 bytes) are reserved per op and field: a loop beats fill()'s call.
    if (n <= 8) { for (let i = 0; i < n; i++) buf[at + i] = 0; }
    else buf.fill(0, at, at + n);
    this.#pos += n;
    return at;
  }

  /**
   * Overwrites one byte already written.
   *
   * @param offset Offset from the start of the written data.
   * @param v Value 0..255.
   */
  setU8At(offset: number, v: number): void {
    this.#check(offset, 1);
    this.#buf[offset] = v;
  }

  /**
   * Overwrites a big-endian uint16 already written.
   *
   * @param offset Offset from the start of the written data.
   * @param v Value 0..65535.
   */
  setU16At(offset: number, v: number): void {
    this.#check(offset, 2);
    this.#view.setUint16(offset, v);
  }

  /**
   * Overwrites a big-endian uint32 already written.
   *
   * @param offset Offset from the start of the written data.
   * @param v Value 0..2^32-1.
   */
  setU32At(offset: number, v: number): void {
    this.#check(offset, 4);
    this.#view.setUint32(offset, v >>> 0);
  }

  /**
   * A view of the bytes written so far. It aliases the writer's buffer: it stays valid
   * until the next write that grows the buffer or the next {@linkcode reset}; copy it
   * (`slice()`) to keep it longer.
   *
   * @returns The written bytes.
   */
  subarray(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Forgets what was written and keeps the capacity for reuse. */
  reset(): void {
    this.#pos = 0;
  }

  #check(offset: number, n: number): void {
    if (offset < 0 || offset + n > this.#pos) {
      throw new RangeError(
        `Cannot overwrite ${n} bytes at offset ${offset}: only ${this.#pos} bytes written`,
      );
    }
  }
}
