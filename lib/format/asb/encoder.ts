/**
 * The ASB text encoder: file headers, UDF and secondary-index lines, and record blocks,
 * written straight into a {@linkcode ByteWriter}.
 *
 * @module
 */

import type { ByteWriter } from "../../aerospike/byte_writer.ts";
import type { SIndexInfo } from "../../aerospike/info.ts";
import { type AerospikeRecord, type Bin, ParticleType } from "../../aerospike/record.ts";
import { base64Length, writeBase64 } from "./_base64.ts";
import {
  decimalLength,
  decimalScale,
  escapeName,
  formatFloatC,
  formatFloatFixed,
  formatFloatShortest,
  shortDecimalLength,
  writeAscii,
  writeShortDecimal,
  writeUint,
} from "./_text.ts";

/** ASB format versions this library reads; it writes `3.1`, and `3.2` for expression indexes. */
export type AsbVersion = "3.0" | "3.1" | "3.2";

/** Options of {@linkcode AsbEncoder}. */
export interface AsbEncoderOptions {
  /**
   * Write byte values raw (`- B! name LEN bytes`) instead of base64. In the Go style this
   * applies to BLOB, HLL, MAP and LIST bins; in the C style also to language blobs and
   * bytes keys (`+ k B!`).
   * @default {false}
   */
  compact?: boolean;
  /**
   * Whose output to match: `"go"` (backup-go: shortest float text, keys always base64) or
   * `"c"` (C asbackup: `%.17g` floats, compact applies to every byte type).
   * @default {"go"}
   */
  style?: "go" | "c";
}

/** Options of {@linkcode AsbEncoder.header}. */
export interface AsbHeaderOptions {
  /**
   * Add the `# first-file` line.
   *
   * @default {false}
   */
  firstFile?: boolean;
  /**
   * Version to write: `"3.2"` only for a metadata file holding expression indexes.
   *
   * @default {"3.1"}
   */
  version?: "3.1" | "3.2";
}

/** A UDF module as stored in a backup. */
export interface AsbUdf {
  /** File name, e.g. `"hello.lua"`. */
  name: string;
  /** The Lua source, raw bytes. */
  content: Uint8Array;
}

const CH_LF = 0x0a;
const CH_SP = 0x20;
const CH_BANG = 0x21;

/** Per particle type: the ASB type letter (0 = not encodable). */
const LETTER = new Uint8Array(24);
/** Per particle type: 1 when the value is raw bytes written base64 (or raw when compact). */
const BYTES_B64 = new Uint8Array(24);
/** Per particle type: 1 when compact mode writes it raw, per style. */
const COMPACT_GO = new Uint8Array(24);
const COMPACT_C = new Uint8Array(24);
{
  const letters: [number, string][] = [
    [ParticleType.NULL, "N"],
    [ParticleType.INTEGER, "I"],
    [ParticleType.FLOAT, "D"],
    [ParticleType.STRING, "S"],
    [ParticleType.BLOB, "B"],
    [ParticleType.JAVA_BLOB, "J"],
    [ParticleType.CSHARP_BLOB, "C"],
    [ParticleType.PYTHON_BLOB, "P"],
    [ParticleType.RUBY_BLOB, "R"],
    [ParticleType.PHP_BLOB, "H"],
    [ParticleType.ERLANG_BLOB, "E"],
    [ParticleType.BOOL, "Z"],
    [ParticleType.HLL, "Y"],
    [ParticleType.MAP, "M"],
    [ParticleType.LIST, "L"],
    [ParticleType.GEOJSON, "G"],
  ];
  for (const [t, l] of letters) LETTER[t] = l.charCodeAt(0);
  for (const t of [4, 7, 8, 9, 10, 11, 12, 18, 19, 20]) {
    BYTES_B64[t] = 1;
    COMPACT_C[t] = 1;
  }
  for (const t of [4, 18, 19, 20]) COMPACT_GO[t] = 1;
}

const INDEX_TYPE_LETTER: Record<SIndexInfo["indexType"], string> = {
  default: "N",
  list: "L",
  mapkeys: "K",
  mapvalues: "V",
};
const BIN_TYPE_LETTER: Record<SIndexInfo["binType"], string> = {
  numeric: "N",
  string: "S",
  blob: "B",
  geo2dsphere: "G",
};

const NAME_CACHE_LIMIT = 4096;
const utf8 = new TextEncoder();

/**
 * The ASB version a metadata file needs for these indexes: `"3.2"` when one of them is an
 * expression index (only backup-go reads those), else `"3.1"`.
 *
 * @param sindexes The indexes the file will hold.
 * @returns The version to pass to {@linkcode AsbEncoder.header}.
 */
export function asbVersionFor(sindexes: readonly SIndexInfo[]): "3.1" | "3.2" {
  for (const s of sindexes) if (s.expression !== undefined && s.expression !== "") return "3.2";
  return "3.1";
}

/**
 * Encodes ASB files. One encoder per writer: it caches escaped names between records, so
 * it is not shared between concurrent writers.
 *
 * @example Encode one record
 * ```ts
 * import { AsbEncoder } from "./encoder.ts";
 * import { ByteWriter } from "../../aerospike/byte_writer.ts";
 * const enc = new AsbEncoder();
 * const w = new ByteWriter();
 * w.bytes(enc.header("test", { firstFile: true }));
 * enc.encodeRecord(w, {
 *   namespace: "test", set: "demo", digest: new Uint8Array(20), generation: 1, voidTime: 0,
 *   bins: [{ name: "a", type: 1, value: 5n }],
 * });
 * console.log(new TextDecoder().decode(w.subarray()));
 * ```
 */
export class AsbEncoder {
  readonly #compact: boolean;
  readonly #c: boolean;
  readonly #compactTypes: Uint8Array;
  readonly #names = new Map<string, Uint8Array>();
  #nsValue = "";
  #nsLine: Uint8Array = new Uint8Array(0);
  #setValue = "";
  #setLine: Uint8Array = new Uint8Array(0);
  // Per-bin scratch filled by the sizing pass and read by the writing pass.
  #binNames: Uint8Array[] = [];
  #binText: string[] = [];
  /** Per float bin: its {@linkcode decimalScale}, or -1 when `#binText` holds its text. */
  #binScale: number[] = [];

  /**
   * Creates an encoder.
   *
   * @param options Style and compact mode.
   */
  constructor(options: AsbEncoderOptions = {}) {
    const style = options.style ?? "go";
    if (style !== "go" && style !== "c") {
      throw new TypeError(`Cannot create ASB encoder with style "${style}": expected "go" or "c"`);
    }
    this.#c = style === "c";
    this.#compact = options.compact ?? false;
    this.#compactTypes = this.#compact ? (this.#c ? COMPACT_C : COMPACT_GO) : new Uint8Array(24);
  }

  /**
   * The header every file starts with: `Version`, `# namespace`, optionally `# first-file`.
   *
   * @param namespace Source namespace.
   * @param options First-file flag and version.
   * @returns The header bytes.
   */
  header(namespace: string, options: AsbHeaderOptions = {}): Uint8Array {
    const version = options.version ?? "3.1";
    if (version !== "3.1" && version !== "3.2") {
      throw new TypeError(`Cannot write ASB version "${version}": expected "3.1" or "3.2"`);
    }
    const ns = escapeName(namespace);
    const first = options.firstFile === true;
    const out = new Uint8Array(12 + 12 + ns.length + 1 + (first ? 13 : 0));
    let p = writeAscii(out, 0, `Version ${version}\n# namespace `);
    out.set(ns, p);
    p += ns.length;
    out[p++] = CH_LF;
    if (first) writeAscii(out, p, "# first-file\n");
    return out;
  }

  /**
   * Appends a `* u` line.
   *
   * @param w Destination.
   * @param udf Module name and source.
   * @returns Number of bytes written.
   */
  encodeUdf(w: ByteWriter, udf: AsbUdf): number {
    const name = escapeName(udf.name);
    const len = udf.content.length;
    const size = 6 + name.length + 1 + decimalLength(len) + 1 + len + 1;
    const at = w.reserve(size);
    const buf = w.subarray();
    let p = writeAscii(buf, at, "* u L ");
    buf.set(name, p);
    p += name.length;
    buf[p++] = CH_SP;
    p = writeUint(buf, p, len);
    buf[p++] = CH_SP;
    buf.set(udf.content, p);
    buf[p + len] = CH_LF;
    return size;
  }

  /**
   * Appends a `* i` line, or a `* e` line for an expression index (which needs a `3.2`
   * header, see {@linkcode asbVersionFor}).
   *
   * @param w Destination.
   * @param sindex The index as listed by the server.
   * @returns Number of bytes written.
   */
  encodeSIndex(w: ByteWriter, sindex: SIndexInfo): number {
    const itype = INDEX_TYPE_LETTER[sindex.indexType];
    const btype = BIN_TYPE_LETTER[sindex.binType];
    if (itype === undefined) {
      throw new RangeError(`Cannot encode sindex type "${sindex.indexType}": unknown index type`);
    }
    if (btype === undefined) {
      throw new RangeError(`Cannot encode sindex bin type "${sindex.binType}": unknown bin type`);
    }
    const expr = sindex.expression !== undefined && sindex.expression !== "";
    const parts: Uint8Array[] = [
      utf8.encode(expr ? "* e " : "* i "),
      escapeName(sindex.namespace),
      escapeName(sindex.set),
      escapeName(sindex.name),
      utf8.encode(`${itype} 1`),
      escapeName(sindex.bin),
      utf8.encode(btype),
    ];
    if (sindex.context !== undefined && sindex.context !== "") {
      parts.push(escapeName(sindex.context));
    }
    if (expr) parts.push(utf8.encode(sindex.expression));
    let size = 0;
    for (const part of parts) size += part.length + 1;
    size -= 1; // "* i " carries its own space
    const at = w.reserve(size);
    const buf = w.subarray();
    let p = at;
    for (let i = 0; i < parts.length; i++) {
      buf.set(parts[i], p);
      p += parts[i].length;
      if (i > 0) buf[p++] = i === parts.length - 1 ? CH_LF : CH_SP;
    }
    return size;
  }

  /**
   * Appends one record block (`+` lines then one `-` line per bin).
   *
   * @param w Destination.
   * @param record The record; bins are written in their order.
   * @returns Number of bytes written.
   * @throws {RangeError} for a digest that is not 20 bytes, a generation, void time or bin
   * count out of range, or a bin type ASB cannot hold (VECTOR).
   * @throws {TypeError} for a bin value of the wrong JS type.
   */
  encodeRecord(w: ByteWriter, record: AerospikeRecord): number {
    const { digest, generation, voidTime, bins, key } = record;
    if (digest.length !== 20) {
      throw new RangeError(`Cannot encode record digest of ${digest.length} bytes: expected 20`);
    }
    if (!(generation >= 0 && generation <= 0xffff) || !Number.isInteger(generation)) {
      throw new RangeError(`Cannot encode generation ${generation}: expected 0..65535`);
    }
    if (!(voidTime >= 0 && voidTime <= 0xffffffff) || !Number.isInteger(voidTime)) {
      throw new RangeError(`Cannot encode void time ${voidTime}: expected 0..4294967295`);
    }
    const nb = bins.length;
    if (nb > 0xffff) throw new RangeError(`Cannot encode ${nb} bins: expected at most 65535`);

    if (record.namespace !== this.#nsValue || this.#nsLine.length === 0) {
      this.#nsLine = this.#line("+ n ", record.namespace);
      this.#nsValue = record.namespace;
    }
    const setName = record.set;
    if (setName !== "" && (setName !== this.#setValue || this.#setLine.length === 0)) {
      this.#setLine = this.#line("+ s ", setName);
      this.#setValue = setName;
    }
    let size = this.#nsLine.length + 33 + (setName === "" ? 0 : this.#setLine.length) +
      15 + decimalLength(generation) + decimalLength(voidTime) + decimalLength(nb);

    let keyText = "";
    if (key !== undefined) {
      switch (key.type) {
        case 1:
          keyText = String(key.value);
          size += 7 + keyText.length;
          break;
        case 2:
          keyText = this.#c ? formatFloatC(key.value) : formatFloatFixed(key.value);
          size += 7 + keyText.length;
          break;
        case 3:
          size += 8 + decimalLength(key.value.length) + key.value.length;
          break;
        case 4: {
          const n = key.value.length;
          size += this.#c && this.#compact
            ? 9 + decimalLength(n) + n
            : 8 + decimalLength(base64Length(n)) + base64Length(n);
          break;
        }
        default:
          throw new RangeError(`Cannot encode user key type ${(key as { type: number }).type}`);
      }
    }

    const names = this.#binNames;
    const texts = this.#binText;
    const scales = this.#binScale;
    const compactTypes = this.#compactTypes;
    for (let i = 0; i < nb; i++) {
      const bin = bins[i];
      const t = bin.type;
      const letter = t < 24 ? LETTER[t] : 0;
      if (letter === 0) {
        throw new RangeError(`Cannot encode bin "${bin.name}" of particle type ${t} in ASB`);
      }
      const name = this.#name(bin.name);
      names[i] = name;
      size += 5 + name.length; // "- X " + name + LF
      switch (t) {
        case 0:
          break;
        case 1: {
          const v = bin.value;
          if (typeof v !== "bigint") throw binTypeError(bin, "bigint");
          const n = Number(v);
          if (n >= -Number.MAX_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER) {
            // Safe integers skip the bigint-to-string conversion.
            texts[i] = "";
            size += n < 0 ? 2 + decimalLength(-n) : 1 + decimalLength(n);
          } else {
            const s = String(v);
            texts[i] = s;
            size += 1 + s.length;
          }
          break;
        }
        case 2: {
          const v = bin.value;
          if (typeof v !== "number") throw binTypeError(bin, "number");
          const k = this.#c ? -1 : decimalScale(v);
          scales[i] = k;
          if (k >= 0) {
            size += 1 + shortDecimalLength(v, k);
            break;
          }
          const s = this.#c ? formatFloatC(v) : formatFloatShortest(v);
          texts[i] = s;
          size += 1 + s.length;
          break;
        }
        case 17:
          if (typeof bin.value !== "boolean") throw binTypeError(bin, "boolean");
          size += 2;
          break;
        default: {
          const v = bin.value;
          if (!(v instanceof Uint8Array)) throw binTypeError(bin, "Uint8Array");
          const n = v.length;
          if (BYTES_B64[t] === 1 && compactTypes[t] === 0) {
            const b = base64Length(n);
            size += 2 + decimalLength(b) + b;
          } else {
            size += 2 + decimalLength(n) + n + compactTypes[t];
          }
        }
      }
    }

    const at = w.reserve(size);
    const buf = w.subarray();
    let p = at;
    if (key !== undefined) {
      buf[p] = 0x2b;
      buf[p + 1] = CH_SP;
      buf[p + 2] = 0x6b;
      buf[p + 3] = CH_SP;
      p += 4;
      switch (key.type) {
        case 1:
          buf[p++] = 0x49;
          buf[p++] = CH_SP;
          p = writeAscii(buf, p, keyText);
          break;
        case 2:
          buf[p++] = 0x44;
          buf[p++] = CH_SP;
          p = writeAscii(buf, p, keyText);
          break;
        case 3:
          buf[p++] = 0x53;
          buf[p++] = CH_SP;
          p = writeUint(buf, p, key.value.length);
          buf[p++] = CH_SP;
          p = copyIn(buf, p, key.value);
          break;
        case 4:
          buf[p++] = 0x42;
          if (this.#c && this.#compact) {
            buf[p++] = CH_BANG;
            buf[p++] = CH_SP;
            p = writeUint(buf, p, key.value.length);
            buf[p++] = CH_SP;
            buf.set(key.value, p);
            p += key.value.length;
          } else {
            buf[p++] = CH_SP;
            p = writeUint(buf, p, base64Length(key.value.length));
            buf[p++] = CH_SP;
            p = writeBase64(buf, p, key.value);
          }
          break;
      }
      buf[p++] = CH_LF;
    }
    p = copyIn(buf, p, this.#nsLine);
    p = writeHeaderPrefix(buf, p, 0x64);
    p = writeBase64(buf, p, digest);
    buf[p++] = CH_LF;
    if (setName !== "") {
      p = copyIn(buf, p, this.#setLine);
    }
    p = writeHeaderPrefix(buf, p, 0x67);
    p = writeUint(buf, p, generation);
    buf[p++] = CH_LF;
    p = writeHeaderPrefix(buf, p, 0x74);
    p = writeUint(buf, p, voidTime);
    buf[p++] = CH_LF;
    p = writeHeaderPrefix(buf, p, 0x62);
    p = writeUint(buf, p, nb);
    buf[p++] = CH_LF;

    for (let i = 0; i < nb; i++) {
      const bin = bins[i];
      const t = bin.type;
      buf[p] = 0x2d;
      buf[p + 1] = CH_SP;
      buf[p + 2] = LETTER[t];
      p += 3;
      const compact = compactTypes[t] === 1;
      if (compact) buf[p++] = CH_BANG;
      buf[p++] = CH_SP;
      p = copyIn(buf, p, names[i]);
      switch (t) {
        case 0:
          break;
        case 1: {
          buf[p++] = CH_SP;
          const s = texts[i];
          if (s === "") {
            const n = Number(bin.value);
            if (n < 0) {
              buf[p++] = 0x2d;
              p = writeUint(buf, p, -n);
            } else {
              p = writeUint(buf, p, n);
            }
          } else {
            p = writeAscii(buf, p, s);
          }
          break;
        }
        case 2:
          buf[p++] = CH_SP;
          p = scales[i] >= 0
            ? writeShortDecimal(buf, p, bin.value as number, scales[i])
            : writeAscii(buf, p, texts[i]);
          break;
        case 17:
          buf[p] = CH_SP;
          buf[p + 1] = bin.value ? 0x54 : 0x46;
          p += 2;
          break;
        default: {
          const v = bin.value as Uint8Array;
          buf[p++] = CH_SP;
          if (BYTES_B64[t] === 1 && !compact) {
            p = writeUint(buf, p, base64Length(v.length));
            buf[p++] = CH_SP;
            p = writeBase64(buf, p, v);
          } else {
            p = writeUint(buf, p, v.length);
            buf[p++] = CH_SP;
            p = copyIn(buf, p, v);
          }
        }
      }
      buf[p++] = CH_LF;
    }
    names.length = 0;
    return size;
  }

  #line(prefix: string, value: string): Uint8Array {
    const esc = escapeName(value);
    const out = new Uint8Array(prefix.length + esc.length + 1);
    writeAscii(out, 0, prefix);
    out.set(esc, prefix.length);
    out[out.length - 1] = CH_LF;
    return out;
  }

  #name(name: string): Uint8Array {
    let esc = this.#names.get(name);
    if (esc === undefined) {
      if (this.#names.size >= NAME_CACHE_LIMIT) this.#names.clear();
      esc = escapeName(name);
      this.#names.set(name, esc);
    }
    return esc;
  }
}

/**
 * Copies `src` into `buf` at `p`; short arrays by hand, since `set()` costs a builtin call
 * that outweighs copying a few name bytes.
 */
function copyIn(buf: Uint8Array, p: number, src: Uint8Array): number {
  const n = src.length;
  if (n > 32) {
    buf.set(src, p);
  } else {
    for (let i = 0; i < n; i++) buf[p + i] = src[i];
  }
  return p + n;
}

/** Writes `+ X ` (X = the line letter). */
function writeHeaderPrefix(buf: Uint8Array, p: number, letter: number): number {
  buf[p] = 0x2b;
  buf[p + 1] = CH_SP;
  buf[p + 2] = letter;
  buf[p + 3] = CH_SP;
  return p + 4;
}

function binTypeError(bin: Bin, expected: string): TypeError {
  return new TypeError(
    `Cannot encode bin "${bin.name}" of particle type ${bin.type}: value is ${typeof bin
      .value}, expected ${expected}`,
  );
}
