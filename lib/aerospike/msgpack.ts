/**
 * A small msgpack writer and reader with Aerospike's conventions: strings and blobs use
 * the str family with a leading particle-type byte (`"a"` = `a2 03 61`), integers are
 * `bigint`, floats are `number`.
 *
 * Used by filter expressions, sindex contexts and the emulator; lists and maps of
 * records are never decoded on the backup path.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { ByteWriter } from "./byte_writer.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Writes nil.
 *
 * @param w Destination.
 */
export function packNil(w: ByteWriter): void {
  w.u8(0xc0);
}

/**
 * Writes a boolean.
 *
 * @param w Destination.
 * @param v Value.
 */
export function packBool(w: ByteWriter, v: boolean): void {
  w.u8(v ? 0xc3 : 0xc2);
}

/**
 * Writes an integer in the smallest form, like the Go client: fixint, `cc/cd/ce` for
 * positive values below 2^32, `d0/d1/d2` for negative values, `d3` (int64) otherwise.
 *
 * @param w Destination.
 * @param value Value in int64 range.
 * @throws {RangeError} Outside int64.
 */
export function packInt(w: ByteWriter, value: bigint | number): void {
  const v = BigInt(value);
  if (v >= 0n) {
    if (v < 128n) w.u8(Number(v));
    else if (v < 256n) {
      w.u8(0xcc);
      w.u8(Number(v));
    } else if (v < 65536n) {
      w.u8(0xcd);
      w.u16(Number(v));
    } else if (v < 4294967296n) {
      w.u8(0xce);
      w.u32(Number(v));
    } else {
      if (v > 0x7fffffffffffffffn) throw new RangeError(`Cannot pack ${v}: outside int64`);
      w.u8(0xd3);
      w.i64(v);
    }
    return;
  }
  if (v >= -32n) w.u8(Number(v) & 0xff);
  else if (v >= -128n) {
    w.u8(0xd0);
    w.u8(Number(v) & 0xff);
  } else if (v >= -32768n) {
    w.u8(0xd1);
    w.u16(Number(v) & 0xffff);
  } else if (v >= -2147483648n) {
    w.u8(0xd2);
    w.u32(Number(v) >>> 0);
  } else {
    if (v < -0x8000000000000000n) throw new RangeError(`Cannot pack ${v}: outside int64`);
    w.u8(0xd3);
    w.i64(v);
  }
}

/**
 * Writes an unsigned 64-bit integer as `cf` (the C tool's form for positive literals).
 *
 * @param w Destination.
 * @param v Value 0..2^64-1.
 */
export function packUint64(w: ByteWriter, v: bigint): void {
  w.u8(0xcf);
  w.u64(v);
}

/**
 * Writes a double (`cb`).
 *
 * @param w Destination.
 * @param v Value.
 */
export function packFloat(w: ByteWriter, v: number): void {
  w.u8(0xcb);
  w.f64(v);
}

function packStrHeader(w: ByteWriter, n: number): void {
  if (n < 32) w.u8(0xa0 | n);
  else if (n < 256) {
    w.u8(0xd9);
    w.u8(n);
  } else if (n < 65536) {
    w.u8(0xda);
    w.u16(n);
  } else {
    w.u8(0xdb);
    w.u32(n);
  }
}

/**
 * Writes bytes in the str family preceded by a particle type byte (Aerospike strings and
 * blobs).
 *
 * @param w Destination.
 * @param bytes Payload.
 * @param particleType Type byte. @default 4 (BLOB)
 */
export function packBlob(w: ByteWriter, bytes: Uint8Array, particleType = 4): void {
  packStrHeader(w, bytes.length + 1);
  w.u8(particleType);
  w.bytes(bytes);
}

/**
 * Writes an Aerospike string: str header, particle type 3, UTF-8.
 *
 * @param w Destination.
 * @param s Text.
 */
export function packString(w: ByteWriter, s: string): void {
  packBlob(w, encoder.encode(s), 3);
}

/**
 * Writes a plain msgpack string without particle byte (bin names in expressions).
 *
 * @param w Destination.
 * @param s Text.
 */
export function packRawString(w: ByteWriter, s: string): void {
  const b = encoder.encode(s);
  packStrHeader(w, b.length);
  w.bytes(b);
}

/**
 * Writes an array header.
 *
 * @param w Destination.
 * @param n Element count.
 */
export function packArrayHeader(w: ByteWriter, n: number): void {
  if (n < 16) w.u8(0x90 | n);
  else if (n < 65536) {
    w.u8(0xdc);
    w.u16(n);
  } else {
    w.u8(0xdd);
    w.u32(n);
  }
}

/**
 * Writes a map header.
 *
 * @param w Destination.
 * @param n Pair count.
 */
export function packMapHeader(w: ByteWriter, n: number): void {
  if (n < 16) w.u8(0x80 | n);
  else if (n < 65536) {
    w.u8(0xde);
    w.u16(n);
  } else {
    w.u8(0xdf);
    w.u32(n);
  }
}

/**
 * Writes an extension value (ordered-collection flags use `c7 00 <flags>`).
 *
 * @param w Destination.
 * @param type Extension type byte.
 * @param data Payload.
 */
export function packExt(w: ByteWriter, type: number, data: Uint8Array): void {
  const n = data.length;
  const fix = [1, 2, 4, 8, 16].indexOf(n);
  if (fix >= 0) w.u8(0xd4 + fix);
  else if (n < 256) {
    w.u8(0xc7);
    w.u8(n);
  } else if (n < 65536) {
    w.u8(0xc8);
    w.u16(n);
  } else {
    w.u8(0xc9);
    w.u32(n);
  }
  w.u8(type);
  w.bytes(data);
}

/** A bytes value with its Aerospike particle type (blobs, GeoJSON, raw strings). */
export interface MsgBytes {
  /** Particle type byte (4 blob, 23 GeoJSON, …; -1 for a bin-family value without one). */
  particleType: number;
  /** The payload (copied). */
  bytes: Uint8Array;
}

/** An extension value. */
export interface MsgExt {
  /** Extension type (for ordered collections: the flags). */
  extType: number;
  /** Payload (copied). */
  data: Uint8Array;
}

/** A generic decoded msgpack value. */
export type MsgValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | MsgBytes
  | MsgExt
  | MsgValue[]
  | Map<MsgValue, MsgValue>;

/** Kinds returned by {@linkcode MsgpackReader.peekKind}. */
export type MsgKind =
  | "nil"
  | "bool"
  | "int"
  | "float"
  | "str"
  | "bin"
  | "array"
  | "map"
  | "ext";

/**
 * Sequential msgpack reader over one buffer.
 *
 * @example Read an expression header
 * ```ts
 * import { MsgpackReader } from "./msgpack.ts";
 * const r = new MsgpackReader(new Uint8Array([0x93, 0x01, 0x91, 0x45, 0xff]));
 * r.readArrayHeader(); // 3
 * r.readInt(); // 1n
 * ```
 */
export class MsgpackReader {
  #buf: Uint8Array;
  #view: DataView;
  #pos: number;

  /**
   * Creates a reader.
   *
   * @param buf The bytes.
   * @param offset Start offset. @default 0
   */
  constructor(buf: Uint8Array, offset = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = offset;
  }

  /** Current offset. */
  get offset(): number {
    return this.#pos;
  }

  /** Whether every byte has been read. */
  get done(): boolean {
    return this.#pos >= this.#buf.length;
  }

  #fail(what: string): never {
    throw new AerobakError(
      "MSGPACK_INVALID",
      `Invalid msgpack: ${what} at byte offset ${this.#pos}`,
      {
        location: { offset: this.#pos },
      },
    );
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) this.#fail(`truncated value (need ${n} bytes)`);
  }

  #byte(): number {
    this.#need(1);
    return this.#buf[this.#pos++];
  }

  /**
   * The kind of the next value, without consuming it.
   *
   * @returns The kind.
   */
  peekKind(): MsgKind {
    this.#need(1);
    const b = this.#buf[this.#pos];
    if (b <= 0x7f || b >= 0xe0) return "int";
    if (b <= 0x8f) return "map";
    if (b <= 0x9f) return "array";
    if (b <= 0xbf) return "str";
    switch (b) {
      case 0xc0:
        return "nil";
      case 0xc2:
      case 0xc3:
        return "bool";
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return "bin";
      case 0xc7:
      case 0xc8:
      case 0xc9:
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return "ext";
      case 0xca:
      case 0xcb:
        return "float";
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf:
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3:
        return "int";
      case 0xd9:
      case 0xda:
      case 0xdb:
        return "str";
      case 0xdc:
      case 0xdd:
        return "array";
      case 0xde:
      case 0xdf:
        return "map";
    }
    return this.#fail(`unknown type byte 0x${b.toString(16)}`);
  }

  /**
   * Reads an integer of any encoding (`cf` values above int64 stay unsigned).
   *
   * @returns The value.
   */
  readInt(): bigint {
    const b = this.#byte();
    if (b <= 0x7f) return BigInt(b);
    if (b >= 0xe0) return BigInt(b - 256);
    const sizes: Record<number, number> = {
      0xcc: 1,
      0xcd: 2,
      0xce: 4,
      0xcf: 8,
      0xd0: 1,
      0xd1: 2,
      0xd2: 4,
      0xd3: 8,
    };
    const n = sizes[b];
    if (n === undefined) {
      this.#pos--;
      this.#fail(`expected an integer, found 0x${b.toString(16)}`);
    }
    this.#need(n);
    const p = this.#pos;
    this.#pos += n;
    const v = this.#view;
    switch (b) {
      case 0xcc:
        return BigInt(v.getUint8(p));
      case 0xcd:
        return BigInt(v.getUint16(p));
      case 0xce:
        return BigInt(v.getUint32(p));
      case 0xcf:
        return v.getBigUint64(p);
      case 0xd0:
        return BigInt(v.getInt8(p));
      case 0xd1:
        return BigInt(v.getInt16(p));
      case 0xd2:
        return BigInt(v.getInt32(p));
      default:
        return v.getBigInt64(p);
    }
  }

  /**
   * Reads a float (`ca` or `cb`).
   *
   * @returns The value.
   */
  readFloat(): number {
    const b = this.#byte();
    if (b === 0xca) {
      this.#need(4);
      this.#pos += 4;
      return this.#view.getFloat32(this.#pos - 4);
    }
    if (b === 0xcb) {
      this.#need(8);
      this.#pos += 8;
      return this.#view.getFloat64(this.#pos - 8);
    }
    this.#pos--;
    return this.#fail(`expected a float, found 0x${b.toString(16)}`);
  }

  /**
   * Reads a boolean.
   *
   * @returns The value.
   */
  readBool(): boolean {
    const b = this.#byte();
    if (b === 0xc2) return false;
    if (b === 0xc3) return true;
    this.#pos--;
    return this.#fail(`expected a boolean, found 0x${b.toString(16)}`);
  }

  /** Reads nil. */
  readNil(): void {
    if (this.#byte() !== 0xc0) {
      this.#pos--;
      this.#fail("expected nil");
    }
  }

  /**
   * Reads a str- or bin-family value as a view of its raw payload (particle byte
   * included, if any).
   *
   * @returns A view aliasing the reader's buffer.
   */
  readRawBytes(): Uint8Array {
    const b = this.#byte();
    let n: number;
    if (b >= 0xa0 && b <= 0xbf) n = b & 0x1f;
    else if (b === 0xd9 || b === 0xc4) n = this.#byte();
    else if (b === 0xda || b === 0xc5) {
      this.#need(2);
      n = this.#view.getUint16(this.#pos);
      this.#pos += 2;
    } else if (b === 0xdb || b === 0xc6) {
      this.#need(4);
      n = this.#view.getUint32(this.#pos);
      this.#pos += 4;
    } else {
      this.#pos--;
      return this.#fail(`expected a string, found 0x${b.toString(16)}`);
    }
    this.#need(n);
    this.#pos += n;
    return this.#buf.subarray(this.#pos - n, this.#pos);
  }

  /**
   * Reads a plain msgpack string (no particle byte).
   *
   * @returns The text.
   */
  readRawString(): string {
    return decoder.decode(this.readRawBytes());
  }

  /**
   * Reads an array header.
   *
   * @returns Element count.
   */
  readArrayHeader(): number {
    const b = this.#byte();
    if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
    if (b === 0xdc) return this.#u16();
    if (b === 0xdd) return this.#u32();
    this.#pos--;
    return this.#fail(`expected an array, found 0x${b.toString(16)}`);
  }

  /**
   * Reads a map header.
   *
   * @returns Pair count.
   */
  readMapHeader(): number {
    const b = this.#byte();
    if (b >= 0x80 && b <= 0x8f) return b & 0x0f;
    if (b === 0xde) return this.#u16();
    if (b === 0xdf) return this.#u32();
    this.#pos--;
    return this.#fail(`expected a map, found 0x${b.toString(16)}`);
  }

  #u16(): number {
    this.#need(2);
    this.#pos += 2;
    return this.#view.getUint16(this.#pos - 2);
  }

  #u32(): number {
    this.#need(4);
    this.#pos += 4;
    return this.#view.getUint32(this.#pos - 4);
  }

  /**
   * Reads an extension value.
   *
   * @returns Type and payload (copied).
   */
  readExt(): MsgExt {
    const b = this.#byte();
    let n: number;
    if (b >= 0xd4 && b <= 0xd8) n = 1 << (b - 0xd4);
    else if (b === 0xc7) n = this.#byte();
    else if (b === 0xc8) n = this.#u16();
    else if (b === 0xc9) n = this.#u32();
    else {
      this.#pos--;
      return this.#fail(`expected an extension, found 0x${b.toString(16)}`);
    }
    const extType = this.#byte();
    this.#need(n);
    this.#pos += n;
    return { extType, data: this.#buf.slice(this.#pos - n, this.#pos) };
  }

  /**
   * Reads any value. Str-family values are taken as Aerospike particles: type 3 gives a
   * string, others a {@linkcode MsgBytes}; bin-family values give `particleType -1`.
   *
   * @param depth Current nesting (guards against hostile input). @default 0
   * @returns The value.
   */
  readValue(depth = 0): MsgValue {
    if (depth > 256) this.#fail("nesting deeper than 256");
    switch (this.peekKind()) {
      case "nil":
        this.#pos++;
        return null;
      case "bool":
        return this.readBool();
      case "int":
        return this.readInt();
      case "float":
        return this.readFloat();
      case "str": {
        const raw = this.readRawBytes();
        if (raw.length === 0) return { particleType: -1, bytes: new Uint8Array(0) };
        if (raw[0] === 3) return decoder.decode(raw.subarray(1));
        return { particleType: raw[0], bytes: raw.slice(1) };
      }
      case "bin":
        return { particleType: -1, bytes: this.readRawBytes().slice() };
      case "array": {
        const n = this.readArrayHeader();
        const out: MsgValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.readValue(depth + 1));
        return out;
      }
      case "map": {
        const n = this.readMapHeader();
        const out = new Map<MsgValue, MsgValue>();
        for (let i = 0; i < n; i++) {
          const k = this.readValue(depth + 1);
          out.set(k, this.readValue(depth + 1));
        }
        return out;
      }
      case "ext":
        return this.readExt();
    }
  }

  /**
   * Skips one value (with everything nested in it).
   */
  skip(): void {
    let pending = 1;
    while (pending > 0) {
      pending--;
      switch (this.peekKind()) {
        case "array":
          pending += this.readArrayHeader();
          break;
        case "map":
          pending += 2 * this.readMapHeader();
          break;
        case "nil":
          this.#pos++;
          break;
        case "bool":
          this.readBool();
          break;
        case "int":
          this.readInt();
          break;
        case "float":
          this.readFloat();
          break;
        case "str":
        case "bin":
          this.readRawBytes();
          break;
        case "ext":
          this.readExt();
          break;
      }
    }
  }
}

/**
 * Decodes one complete msgpack value (Aerospike conventions, see
 * {@linkcode MsgpackReader.readValue}).
 *
 * @param bytes The bytes.
 * @returns The value.
 * @throws {AerobakError} `MSGPACK_INVALID` when malformed or followed by extra bytes.
 */
export function unpack(bytes: Uint8Array): MsgValue {
  const r = new MsgpackReader(bytes);
  const v = r.readValue();
  if (!r.done) {
    throw new AerobakError(
      "MSGPACK_INVALID",
      `Invalid msgpack: ${bytes.length - r.offset} extra bytes at byte offset ${r.offset}`,
      { location: { offset: r.offset } },
    );
  }
  return v;
}
