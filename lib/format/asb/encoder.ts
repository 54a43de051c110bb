/**
 * The ASB text encoder: file headers, UDF and secondary-index lines, and record blocks,
 * written straight into a {@linkcode ByteWriter}.
 *
 * @module
 */

import type { ByteWriter } from "../../aerospike/byte_writer.ts";
import type { SIndexInfo } from "../../aerospike/info.ts";
import { type AerospikeRecord, type Bin, ParticleType } from "../../aerospike/record.ts";
import type { RecordView } from "../../aerospike/record_view.ts";
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
  // Per-bin scratch: filled from the record or the message, sized, then written.
  readonly #scratch = new RecordScratch();

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
    const buf = w.backing;
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
    const buf = w.backing;
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
    const { digest, bins, key } = record;
    if (digest.length !== 20) {
      throw new RangeError(`Cannot encode record digest of ${digest.length} bytes: expected 20`);
    }
    const nb = bins.length;
    this.#checkCount(nb);
    const s = this.#scratch;
    if (key === undefined) s.keyType = 0;
    else {
      switch (key.type) {
        case 1:
          this.#keyInteger(key.value);
          break;
        case 2:
          s.keyType = 2;
          s.keyNumber = key.value;
          break;
        case 3:
        case 4:
          s.keyType = key.type;
          s.keySource = key.value;
          s.keyOffset = 0;
          s.keyLength = key.value.length;
          break;
        default:
          throw new RangeError(`Cannot encode user key type ${(key as { type: number }).type}`);
      }
    }
    for (let i = 0; i < nb; i++) {
      const bin = bins[i];
      const t = bin.type;
      s.types[i] = t;
      s.names[i] = this.#name(bin.name);
      switch (t) {
        case 0:
          break;
        case 1:
          if (typeof bin.value !== "bigint") throw binTypeError(bin, "bigint");
          this.#integer(i, bin.value);
          break;
        case 2:
          if (typeof bin.value !== "number") throw binTypeError(bin, "number");
          s.numbers[i] = bin.value;
          break;
        case 17:
          if (typeof bin.value !== "boolean") throw binTypeError(bin, "boolean");
          s.numbers[i] = bin.value ? 1 : 0;
          break;
        default: {
          const v = bin.value;
          if (!(v instanceof Uint8Array)) {
            if (t < 24 && LETTER[t] !== 0) throw binTypeError(bin, "Uint8Array");
            throw new RangeError(`Cannot encode bin "${bin.name}" of particle type ${t} in ASB`);
          }
          s.sources[i] = v;
          s.offsets[i] = 0;
          s.lengths[i] = v.length;
        }
      }
    }
    return this.#encode(
      w,
      record.namespace,
      record.set,
      digest,
      0,
      record.generation,
      record.voidTime,
      nb,
    );
  }

  /**
   * Appends the record block of a record message as it lies in a reply frame (a scan's
   * {@linkcode RecordView}), with the same output as {@linkcode encodeRecord} of the
   * decoded record, and no record object, value copy or string in between.
   *
   * @param w Destination.
   * @param rv The record message, located.
   * @returns Number of bytes written.
   * @throws {RangeError} For a bin type ASB cannot hold.
   */
  encodeView(w: ByteWriter, rv: RecordView): number {
    const body = rv.body;
    const view = rv.view;
    const nb = rv.binCount;
    this.#checkCount(nb);
    const s = this.#scratch;
    switch (rv.keyType) {
      case 0:
        s.keyType = 0;
        break;
      case ParticleType.INTEGER:
        this.#keyInteger(rv.integer(rv.keyOffset, rv.keyLength));
        break;
      case ParticleType.FLOAT:
        s.keyType = 2;
        s.keyNumber = view.getFloat64(rv.keyOffset);
        break;
      default:
        // Strings keep their type; every blob type is a bytes key (as decoded).
        s.keyType = rv.keyType === ParticleType.STRING ? 3 : 4;
        s.keySource = body;
        s.keyOffset = rv.keyOffset;
        s.keyLength = rv.keyLength;
    }
    const bins = rv.bins;
    for (let i = 0; i < nb; i++) {
      const bin = bins[i];
      const t = bin.type;
      s.types[i] = t;
      s.names[i] = this.#name(bin.name);
      switch (t) {
        case 0:
          break;
        case 1:
          this.#integer(i, rv.integer(bin.offset, bin.length));
          break;
        case 2:
          s.numbers[i] = view.getFloat64(bin.offset);
          break;
        case 17:
          s.numbers[i] = body[bin.offset] !== 0 ? 1 : 0;
          break;
        default:
          s.sources[i] = body;
          s.offsets[i] = bin.offset;
          s.lengths[i] = bin.length;
      }
    }
    return this.#encode(
      w,
      rv.namespace,
      rv.set,
      body,
      rv.digestOffset,
      rv.generation,
      rv.voidTime,
      nb,
    );
  }

  #checkCount(nb: number): void {
    if (nb > 0xffff) throw new RangeError(`Cannot encode ${nb} bins: expected at most 65535`);
  }

  /** Keeps an integer bin's value: a number when safe (no bigint-to-string), else its text. */
  #integer(i: number, v: number | bigint): void {
    const s = this.#scratch;
    if (typeof v === "number") {
      s.numbers[i] = v;
      s.texts[i] = "";
      return;
    }
    const n = Number(v);
    if (n >= -Number.MAX_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER) {
      s.numbers[i] = n;
      s.texts[i] = "";
    } else {
      s.texts[i] = String(v);
    }
  }

  #keyInteger(v: number | bigint): void {
    const s = this.#scratch;
    s.keyType = 1;
    // A safe integer is written digit by digit, with no string per record.
    if (typeof v === "number" && Number.isSafeInteger(v)) {
      s.keyNumber = v;
      s.keyText = "";
    } else {
      s.keyText = String(v);
    }
  }

  /**
   * Writes the record block held by the scratch arrays: sizes every line first, reserves
   * the block once, then writes it.
   */
  #encode(
    w: ByteWriter,
    namespace: string,
    setName: string,
    digest: Uint8Array,
    digestOffset: number,
    generation: number,
    voidTime: number,
    nb: number,
  ): number {
    if (!(generation >= 0 && generation <= 0xffff) || !Number.isInteger(generation)) {
      throw new RangeError(`Cannot encode generation ${generation}: expected 0..65535`);
    }
    if (!(voidTime >= 0 && voidTime <= 0xffffffff) || !Number.isInteger(voidTime)) {
      throw new RangeError(`Cannot encode void time ${voidTime}: expected 0..4294967295`);
    }
    if (namespace !== this.#nsValue || this.#nsLine.length === 0) {
      this.#nsLine = this.#line("+ n ", namespace);
      this.#nsValue = namespace;
    }
    if (setName !== "" && (setName !== this.#setValue || this.#setLine.length === 0)) {
      this.#setLine = this.#line("+ s ", setName);
      this.#setValue = setName;
    }
    let size = this.#nsLine.length + 33 + (setName === "" ? 0 : this.#setLine.length) +
      15 + decimalLength(generation) + decimalLength(voidTime) + decimalLength(nb);

    const s = this.#scratch;
    const keyType = s.keyType;
    switch (keyType) {
      case 0:
        break;
      case 1:
        if (s.keyText === "") {
          const n = s.keyNumber;
          size += n < 0 ? 8 + decimalLength(-n) : 7 + decimalLength(n);
        } else {
          size += 7 + s.keyText.length;
        }
        break;
      case 2:
        s.keyText = this.#c ? formatFloatC(s.keyNumber) : formatFloatFixed(s.keyNumber);
        size += 7 + s.keyText.length;
        break;
      case 3:
        size += 8 + decimalLength(s.keyLength) + s.keyLength;
        break;
      default: {
        const n = s.keyLength;
        size += this.#c && this.#compact
          ? 9 + decimalLength(n) + n
          : 8 + decimalLength(base64Length(n)) + base64Length(n);
      }
    }

    const { types, names, texts, numbers, scales, lengths } = s;
    const compactTypes = this.#compactTypes;
    for (let i = 0; i < nb; i++) {
      const t = types[i];
      const letter = t < 24 ? LETTER[t] : 0;
      if (letter === 0) {
        throw new RangeError(
          `Cannot encode bin "${binNameOf(names[i])}" of particle type ${t} in ASB`,
        );
      }
      size += 5 + names[i].length; // "- X " + name + LF
      switch (t) {
        case 0:
          break;
        case 1:
          if (texts[i] === "") {
            const n = numbers[i];
            size += n < 0 ? 2 + decimalLength(-n) : 1 + decimalLength(n);
          } else {
            size += 1 + texts[i].length;
          }
          break;
        case 2: {
          const v = numbers[i];
          const k = this.#c ? -1 : decimalScale(v);
          scales[i] = k;
          if (k >= 0) {
            size += 1 + shortDecimalLength(v, k);
            break;
          }
          const text = this.#c ? formatFloatC(v) : formatFloatShortest(v);
          texts[i] = text;
          size += 1 + text.length;
          break;
        }
        case 17:
          size += 2;
          break;
        default: {
          const n = lengths[i];
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
    const buf = w.backing;
    let p = at;
    if (keyType !== 0) {
      buf[p] = 0x2b;
      buf[p + 1] = CH_SP;
      buf[p + 2] = 0x6b;
      buf[p + 3] = CH_SP;
      p += 4;
      switch (keyType) {
        case 1:
          buf[p++] = 0x49;
          buf[p++] = CH_SP;
          if (s.keyText !== "") p = writeAscii(buf, p, s.keyText);
          else if (s.keyNumber < 0) {
            buf[p++] = 0x2d;
            p = writeUint(buf, p, -s.keyNumber);
          } else p = writeUint(buf, p, s.keyNumber);
          break;
        case 2:
          buf[p++] = 0x44;
          buf[p++] = CH_SP;
          p = writeAscii(buf, p, s.keyText);
          break;
        case 3:
          buf[p++] = 0x53;
          buf[p++] = CH_SP;
          p = writeUint(buf, p, s.keyLength);
          buf[p++] = CH_SP;
          p = copyIn(buf, p, s.keySource, s.keyOffset, s.keyLength);
          break;
        default:
          buf[p++] = 0x42;
          if (this.#c && this.#compact) {
            buf[p++] = CH_BANG;
            buf[p++] = CH_SP;
            p = writeUint(buf, p, s.keyLength);
            buf[p++] = CH_SP;
            p = copyIn(buf, p, s.keySource, s.keyOffset, s.keyLength);
          } else {
            buf[p++] = CH_SP;
            p = writeUint(buf, p, base64Length(s.keyLength));
            buf[p++] = CH_SP;
            p = writeBase64(buf, p, s.keySource, s.keyOffset, s.keyLength);
          }
      }
      buf[p++] = CH_LF;
    }
    p = copyIn(buf, p, this.#nsLine, 0, this.#nsLine.length);
    p = writeHeaderPrefix(buf, p, 0x64);
    p = writeBase64(buf, p, digest, digestOffset, 20);
    buf[p++] = CH_LF;
    if (setName !== "") {
      p = copyIn(buf, p, this.#setLine, 0, this.#setLine.length);
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

    const { sources, offsets } = s;
    for (let i = 0; i < nb; i++) {
      const t = types[i];
      buf[p] = 0x2d;
      buf[p + 1] = CH_SP;
      buf[p + 2] = LETTER[t];
      p += 3;
      const compact = compactTypes[t] === 1;
      if (compact) buf[p++] = CH_BANG;
      buf[p++] = CH_SP;
      const name = names[i];
      p = copyIn(buf, p, name, 0, name.length);
      switch (t) {
        case 0:
          break;
        case 1: {
          buf[p++] = CH_SP;
          if (texts[i] === "") {
            const n = numbers[i];
            if (n < 0) {
              buf[p++] = 0x2d;
              p = writeUint(buf, p, -n);
            } else {
              p = writeUint(buf, p, n);
            }
          } else {
            p = writeAscii(buf, p, texts[i]);
          }
          break;
        }
        case 2:
          buf[p++] = CH_SP;
          p = scales[i] >= 0
            ? writeShortDecimal(buf, p, numbers[i], scales[i])
            : writeAscii(buf, p, texts[i]);
          break;
        case 17:
          buf[p] = CH_SP;
          buf[p + 1] = numbers[i] !== 0 ? 0x54 : 0x46;
          p += 2;
          break;
        default: {
          const n = lengths[i];
          buf[p++] = CH_SP;
          if (BYTES_B64[t] === 1 && !compact) {
            p = writeUint(buf, p, base64Length(n));
            buf[p++] = CH_SP;
            p = writeBase64(buf, p, sources[i], offsets[i], n);
          } else {
            p = writeUint(buf, p, n);
            buf[p++] = CH_SP;
            p = copyIn(buf, p, sources[i], offsets[i], n);
          }
        }
      }
      buf[p++] = CH_LF;
    }
    // Let go of the frames and values the scratch arrays point into.
    for (let i = 0; i < nb; i++) sources[i] = EMPTY;
    s.keySource = EMPTY;
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
 * Copies `src[start, start + n)` into `buf` at `p`; runs of up to a few hundred bytes (names,
 * most strings) by hand, since `set()` of a subarray costs a view (garbage per record) and
 * a builtin call that outweigh copying them.
 */
function copyIn(buf: Uint8Array, p: number, src: Uint8Array, start: number, n: number): number {
  if (n > 256) {
    buf.set(src.subarray(start, start + n), p);
  } else {
    for (let i = 0; i < n; i++) buf[p + i] = src[start + i];
  }
  return p + n;
}

/** The text of an escaped bin name, for errors. */
function binNameOf(escaped: Uint8Array): string {
  return new TextDecoder().decode(escaped);
}

const EMPTY = new Uint8Array(0);

/** Per-record scratch of {@linkcode AsbEncoder}: one entry per bin, reused for every record. */
class RecordScratch {
  /**
   * 0 none, 1 integer (keyNumber, or keyText beyond 2^53), 2 float (keyNumber), 3 string,
   * 4 bytes (keySource range).
   */
  keyType = 0;
  keyText = "";
  keyNumber = 0;
  keySource: Uint8Array = EMPTY;
  keyOffset = 0;
  keyLength = 0;
  readonly types: number[] = [];
  readonly names: Uint8Array[] = [];
  /** Integer (when safe), float or bool (1/0) values. */
  readonly numbers: number[] = [];
  /** Text of an integer beyond 2^53, or of a float; "" when `numbers` holds the value. */
  readonly texts: string[] = [];
  /** Per float bin: its decimal scale, or -1 when `texts` holds its text. */
  readonly scales: number[] = [];
  /** Where a bytes-typed value lies: buffer, offset, length. */
  readonly sources: Uint8Array[] = [];
  readonly offsets: number[] = [];
  readonly lengths: number[] = [];
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
