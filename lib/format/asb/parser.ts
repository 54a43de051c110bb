/**
 * The push parser behind the ASB decoder: fed chunks of any size, it hands out one token
 * (record, secondary index, UDF) at a time and keeps only the unfinished entity buffered.
 *
 * @module
 */

import { AerobakError, type FileLocation, formatLocation } from "../../errors.ts";
import type { SIndexInfo } from "../../aerospike/info.ts";
import type { AerospikeRecord, Bin, UserKey } from "../../aerospike/record.ts";
import { base64DecodedLength, decodeBase64Into } from "./_base64.ts";
import { parseFloatText } from "./_text.ts";
import type { AsbUdf, AsbVersion } from "./encoder.ts";

/** What the lines before the first entity said. */
export interface AsbHeader {
  /** The `Version` line's value. */
  version: AsbVersion;
  /** The `# namespace` value, when the file has one. */
  namespace?: string;
  /** Whether the file has a `# first-file` line. */
  firstFile: boolean;
}

/** One entity of an ASB file. */
export type AsbToken =
  | { kind: "record"; record: AerospikeRecord }
  | { kind: "sindex"; sindex: SIndexInfo }
  | { kind: "udf"; udf: AsbUdf };

/** Options of {@linkcode AsbParser}. */
export interface AsbParserOptions {
  /**
   * File name used in error locations.
   *
   * @default {"<input>"}
   */
  file?: string;
  /**
   * Largest `LEN` accepted for a length-prefixed value (raw bytes or base64 text); a bigger
   * one is an error before anything is buffered.
   *
   * @default {268435456} (256 MiB)
   */
  maxValueLength?: number;
}

/** Longest escaped token (names), as in both reference tools. */
const MAX_TOKEN = 1000;
const DEFAULT_MAX_VALUE = 256 * 1024 * 1024;
const SLAB_SIZE = 65536;
const SLAB_MAX_VALUE = 4096;

const LF = 0x0a,
  SP = 0x20,
  BANG = 0x21,
  BACKSLASH = 0x5c,
  PLUS = 0x2b,
  STAR = 0x2a,
  HASH = 0x23,
  DASH = 0x2d;

/** Thrown inside the parser when the buffered bytes end mid-entity (never escapes it). */
const NEED_MORE = new Error("ASB parser needs more input");

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bin type letter → particle type for byte values written base64 or raw (`!`). */
const BYTES_PARTICLE = new Int8Array(128).fill(-1);
for (
  const [l, t] of [
    ["B", 4],
    ["J", 7],
    ["C", 8],
    ["P", 9],
    ["R", 10],
    ["H", 11],
    ["E", 12],
    [
      "Y",
      18,
    ],
    ["M", 19],
    ["L", 20],
  ] as const
) BYTES_PARTICLE[l.charCodeAt(0)] = t;

const INDEX_TYPES: Record<string, SIndexInfo["indexType"]> = {
  N: "default",
  L: "list",
  K: "mapkeys",
  V: "mapvalues",
};
const BIN_TYPES: Record<string, SIndexInfo["binType"]> = {
  N: "numeric",
  S: "string",
  B: "blob",
  G: "geo2dsphere",
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

interface NameCacheEntry {
  raw: Uint8Array;
  value: string;
}

/**
 * Incremental ASB parser. Feed it with {@linkcode push} and {@linkcode end}, pull tokens with
 * {@linkcode next}. Values are copied out of the input, so chunks may be reused afterwards.
 * Values up to 4 KiB (and digests) are views into shared 64 KiB slabs (like Node's Buffer
 * pool): `value.buffer` is shared, and keeping one value alive keeps its slab alive; copy
 * with `slice()` to hold a value long-term on its own.
 *
 * Memory stays bounded by the largest entity: an entity is parsed only once all its bytes
 * are buffered (retried when more arrive, with the buffered amount at least doubling
 * between tries so a record split into 1-byte chunks costs linear time).
 *
 * @example Parse a whole buffer
 * ```ts
 * import { AsbParser } from "./parser.ts";
 * const p = new AsbParser({ file: "x.asb" });
 * p.push(new TextEncoder().encode("Version 3.1\n+ n test\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ g 1\n+ t 0\n+ b 0\n"));
 * p.end();
 * console.log(p.next()?.kind); // "record"
 * ```
 */
export class AsbParser {
  readonly #file: string;
  readonly #maxValue: number;
  #buf: Uint8Array = EMPTY;
  #owned = false;
  /** Offset of the first unconsumed byte (an entity start). */
  #start = 0;
  #end = 0;
  /** Absolute stream offset of `#buf[0]`. */
  #base = 0;
  /** Line number (1-based) of `#start`. */
  #line = 1;
  /** Parse cursor and LF count within the entity being parsed. */
  #pos = 0;
  #lf = 0;
  /** Buffered bytes wanted before the next try. */
  #want = 0;
  #ended = false;
  #done = false;
  /** 0 = before `Version`, 1 = metadata lines, 2 = entities. */
  #state = 0;
  #version: AsbVersion = "3.1";
  #escaping = true;
  #namespace: string | undefined;
  #firstFile = false;
  #scratch = new Uint8Array(MAX_TOKEN);
  #nsCache: NameCacheEntry = { raw: EMPTY, value: "" };
  #setCache: NameCacheEntry = { raw: EMPTY, value: "" };
  #binCache: NameCacheEntry[] = [];
  #tokA = 0;
  #slab = new ArrayBuffer(0);
  #slabPos = 0;
  #tokB = 0;
  #tokEsc = false;

  /**
   * Creates a parser.
   *
   * @param options File name for errors and the value length cap.
   */
  constructor(options: AsbParserOptions = {}) {
    this.#file = options.file ?? "<input>";
    this.#maxValue = options.maxValueLength ?? DEFAULT_MAX_VALUE;
  }

  /** The header, once every line before the first entity has been read. */
  get header(): AsbHeader | undefined {
    if (this.#state < 2 && !this.#done) return undefined;
    const h: AsbHeader = { version: this.#version, firstFile: this.#firstFile };
    if (this.#namespace !== undefined) h.namespace = this.#namespace;
    return h;
  }

  /** Whether the input has ended and every token has been handed out. */
  get done(): boolean {
    return this.#done;
  }

  /** Bytes consumed so far (entities fully parsed). */
  get offset(): number {
    return this.#base + this.#start;
  }

  /** Line number of the next entity (1-based). */
  get line(): number {
    return this.#line;
  }

  /**
   * Adds input. The parser keeps a reference to `chunk` until it is consumed; it never
   * writes to it.
   *
   * @param chunk The next bytes of the file.
   */
  push(chunk: Uint8Array): void {
    if (this.#ended) throw new TypeError("Cannot push to an ASB parser after end()");
    const n = chunk.length;
    if (n === 0) return;
    const avail = this.#end - this.#start;
    if (avail === 0) {
      this.#base += this.#end;
      this.#buf = chunk;
      this.#owned = false;
      this.#start = 0;
      this.#end = n;
      return;
    }
    if (this.#owned && this.#end + n <= this.#buf.length) {
      this.#buf.set(chunk, this.#end);
      this.#end += n;
      return;
    }
    const total = avail + n;
    let target = this.#buf;
    if (!this.#owned || total > target.length) {
      target = new Uint8Array(Math.max(total, this.#owned ? target.length * 2 : 0, 65536));
      target.set(this.#buf.subarray(this.#start, this.#end));
    } else {
      target.copyWithin(0, this.#start, this.#end);
    }
    target.set(chunk, avail);
    this.#base += this.#start;
    this.#buf = target;
    this.#owned = true;
    this.#start = 0;
    this.#end = total;
  }

  /** Marks the end of input: what is still unparsed must now be complete. */
  end(): void {
    this.#ended = true;
  }

  /**
   * The next token, or `undefined` when more input is needed (or, once {@linkcode done},
   * when there is nothing left).
   *
   * @returns A token or `undefined`.
   * @throws {AerobakError} code `"ASB_SYNTAX"` with a location for malformed input.
   */
  next(): AsbToken | undefined {
    for (;;) {
      const avail = this.#end - this.#start;
      if (avail === 0) {
        if (this.#ended && !this.#done) {
          if (this.#state === 0) {
            this.#pos = this.#start;
            this.#fail(this.#start, "Unexpected end of file", "'Version 3.1' line");
          }
          this.#done = true;
        }
        return undefined;
      }
      if (!this.#ended && avail < this.#want) return undefined;
      this.#pos = this.#start;
      this.#lf = 0;
      let token: AsbToken | null;
      try {
        token = this.#entity();
      } catch (e) {
        if (e === NEED_MORE) return undefined;
        throw e;
      }
      this.#start = this.#pos;
      this.#line += this.#lf;
      this.#want = 0;
      if (token !== null) return token;
    }
  }

  // ---- entities ----

  #entity(): AsbToken | null {
    if (this.#state === 0) {
      this.#versionLine();
      return null;
    }
    const c = this.#buf[this.#pos];
    if (c === PLUS) {
      this.#state = 2;
      return this.#record();
    }
    if (c === STAR) {
      this.#state = 2;
      return this.#global();
    }
    if (c === HASH && this.#state === 1) {
      this.#metaLine();
      return null;
    }
    if (c === HASH) {
      this.#fail(this.#pos, "Unexpected metadata line after the first entity", "'+' or '*'");
    }
    if (c === DASH) {
      this.#fail(
        this.#pos,
        "Unexpected bin line after the last bin of a record",
        "'+' or '*' (is the '+ b' count too small?)",
      );
    }
    this.#fail(this.#pos, `Unexpected byte ${show(c)} at the start of a line`, "'+' or '*'");
  }

  #versionLine(): void {
    const buf = this.#buf;
    const p = this.#pos;
    const prefix = "Version ";
    for (let i = 0; i < 8; i++) {
      if (p + i >= this.#end) this.#needBytes(p + i, 1, "'Version 3.1' line");
      if (buf[p + i] !== prefix.charCodeAt(i)) {
        this.#fail(
          p + i,
          "Unexpected start of file",
          "'Version 3.1' (is the file compressed or encrypted?)",
        );
      }
    }
    this.#needBytes(p + 8, 4, "version number and LF");
    const v = String.fromCharCode(buf[p + 8], buf[p + 9], buf[p + 10]);
    if (v !== "3.0" && v !== "3.1" && v !== "3.2") {
      this.#fail(
        p + 8,
        `Unsupported ASB version '${printable(buf, p + 8, p + 11)}'`,
        "3.0, 3.1 or 3.2",
      );
    }
    this.#pos = p + 11;
    this.#expectLF("LF after the version");
    this.#version = v;
    this.#escaping = v !== "3.0";
    this.#state = 1;
  }

  #metaLine(): void {
    const buf = this.#buf;
    const p = this.#pos;
    const ns = "# namespace ";
    const ff = "# first-file\n";
    let i = 0;
    // Match the longest known prefix byte by byte, so a short buffer asks for more input.
    for (;; i++) {
      if (p + i >= this.#end) this.#needBytes(p + i, 1, "'# namespace' or '# first-file'");
      const b = buf[p + i];
      const okNs = i < ns.length && b === ns.charCodeAt(i);
      const okFf = i < ff.length && b === ff.charCodeAt(i);
      if (!okNs && !okFf) {
        this.#fail(p, "Unknown metadata line", "'# namespace <ns>' or '# first-file'");
      }
      if (okNs && i === ns.length - 1) {
        this.#pos = p + ns.length;
        this.#token(false, "namespace");
        this.#namespace = this.#tokenString("namespace");
        this.#expectLF("LF after the namespace");
        return;
      }
      if (okFf && i === ff.length - 1) {
        this.#pos = p + ff.length;
        this.#lf++;
        this.#firstFile = true;
        return;
      }
    }
  }

  #record(): AsbToken {
    let letter = this.#lineLetter("'+ k' or '+ n'");
    let key: UserKey | undefined;
    if (letter === 0x6b) {
      key = this.#key();
      letter = this.#lineLetter("'+ n'");
    }
    if (letter !== 0x6e) this.#orderError(key === undefined ? "'+ k' or '+ n'" : "'+ n'");
    this.#token(false, "namespace");
    const namespace = this.#cachedString(this.#nsCache, "namespace");
    this.#expectLF("LF after the namespace");
    if (this.#lineLetter("'+ d'") !== 0x64) this.#orderError("'+ d'");
    const digest = this.#digest();
    letter = this.#lineLetter("'+ s' or '+ g'");
    let set = "";
    if (letter === 0x73) {
      this.#token(false, "set name");
      set = this.#cachedString(this.#setCache, "set name");
      this.#expectLF("LF after the set name");
      letter = this.#lineLetter("'+ g'");
      if (letter !== 0x67) this.#orderError("'+ g'");
    } else if (letter !== 0x67) {
      this.#orderError("'+ s' or '+ g'");
    }
    const generation = this.#uint(5, "generation");
    if (generation > 0xffff) {
      this.#fail(this.#pos - 1, `Generation ${generation} out of range`, "0..65535");
    }
    this.#expectLF("LF after the generation");
    if (this.#lineLetter("'+ t'") !== 0x74) this.#orderError("'+ t'");
    const voidTime = this.#uint(10, "void time");
    if (voidTime > 0xffffffff) {
      this.#fail(this.#pos - 1, `Void time ${voidTime} out of range`, "0..4294967295");
    }
    this.#expectLF("LF after the void time");
    if (this.#lineLetter("'+ b'") !== 0x62) this.#orderError("'+ b'");
    const count = this.#uint(5, "bin count");
    if (count > 0xffff) this.#fail(this.#pos - 1, `Bin count ${count} out of range`, "0..65535");
    this.#expectLF("LF after the bin count");
    const bins: Bin[] = [];
    for (let i = 0; i < count; i++) bins.push(this.#bin(i, count));
    const record: AerospikeRecord = key === undefined
      ? { namespace, set, digest, generation, voidTime, bins }
      : { namespace, set, digest, key, generation, voidTime, bins };
    return { kind: "record", record };
  }

  #key(): UserKey {
    const letter = this.#byte("key type");
    let compact = false;
    if (this.#peek("key value") === BANG) {
      this.#pos++;
      compact = true;
    }
    this.#expect(SP, "space after the key type");
    let key: UserKey;
    switch (letter) {
      case 0x49: // I
        key = { type: 1, value: this.#int64("integer key") };
        break;
      case 0x44: // D
        key = { type: 2, value: this.#float("float key") };
        break;
      case 0x53: // S
        key = { type: 3, value: this.#raw("string key") };
        break;
      case 0x58: // X
        key = { type: 3, value: compact ? this.#raw("string key") : this.#base64("string key") };
        break;
      case 0x42: // B
        key = { type: 4, value: compact ? this.#raw("bytes key") : this.#base64("bytes key") };
        break;
      default:
        this.#fail(
          this.#pos - (compact ? 3 : 2),
          `Unknown key type ${show(letter)}`,
          "I, D, S, X or B",
        );
    }
    this.#expectLF("LF after the key");
    return key;
  }

  #digest(): Uint8Array {
    const p = this.#pos;
    this.#needBytes(p, 29, "28-character base64 digest and LF");
    if (this.#buf[p + 28] !== LF || base64DecodedLength(this.#buf, p, 28) !== 20) {
      this.#fail(p, "Invalid digest", "28 base64 characters (20 bytes) then LF");
    }
    const digest = this.#alloc(20);
    const bad = decodeBase64Into(this.#buf, p, 28, digest);
    if (bad >= 0) {
      this.#fail(
        bad,
        `Invalid base64 character ${show(this.#buf[bad])} in digest`,
        "A-Z a-z 0-9 + / =",
      );
    }
    this.#pos = p + 29;
    this.#lf++;
    return digest;
  }

  #bin(i: number, count: number): Bin {
    const p = this.#pos;
    if (this.#end - p < 4) this.#needBytes(p, 4, "bin line");
    const buf = this.#buf;
    if (buf[p] !== DASH || buf[p + 1] !== SP) {
      this.#fail(
        p,
        `Unexpected ${show(buf[p])} where bin ${i + 1} of ${count} starts`,
        "'- ' bin line (does the '+ b' count match the bins?)",
      );
    }
    const letter = buf[p + 2];
    let q = p + 3;
    let compact = false;
    if (buf[q] === BANG) {
      compact = true;
      q++;
      if (q >= this.#end) this.#needBytes(q, 1, "space after the bin type");
    }
    if (buf[q] !== SP) this.#fail(q, `Unexpected ${show(buf[q])} after the bin type`, "a space");
    this.#pos = q + 1;
    this.#token(true, "bin name");
    const name = this.#binName(i);
    if (letter === 0x4e) { // N
      this.#expectLF("LF after a nil bin's name");
      return { name, type: 0, value: null };
    }
    if (letter === 0x55) {
      this.#fail(
        p + 2,
        "Cannot restore an LDT bin",
        "a current bin type (use an older tool for LDT backups)",
      );
    }
    this.#expect(SP, "space after the bin name");
    let bin: Bin;
    switch (letter) {
      case 0x49: // I
        bin = { name, type: 1, value: this.#int64("integer value") };
        break;
      case 0x44: // D
        bin = { name, type: 2, value: this.#float("float value") };
        break;
      case 0x5a: { // Z
        const v = this.#byte("T or F");
        if (v !== 0x54 && v !== 0x46) {
          this.#fail(this.#pos - 1, `Invalid bool ${show(v)}`, "T or F");
        }
        bin = { name, type: 17, value: v === 0x54 };
        break;
      }
      case 0x53: // S
        bin = { name, type: 3, value: this.#raw("string value") };
        break;
      case 0x47: // G
        bin = { name, type: 23, value: this.#raw("GeoJSON value") };
        break;
      case 0x58: // X
        bin = {
          name,
          type: 3,
          value: compact ? this.#raw("string value") : this.#base64("string value"),
        };
        break;
      default: {
        const t = letter < 128 ? BYTES_PARTICLE[letter] : -1;
        if (t < 0) {
          this.#fail(
            p + 2,
            `Unknown bin type ${show(letter)}`,
            "one of N Z I D S X G B J C P R H E Y M L",
          );
        }
        const value = compact ? this.#raw("bytes value") : this.#base64("bytes value");
        bin = { name, type: t as 4 | 7 | 8 | 9 | 10 | 11 | 12 | 18 | 19 | 20, value };
      }
    }
    this.#expectLF("LF after the bin value");
    return bin;
  }

  #global(): AsbToken {
    const p = this.#pos;
    if (this.#end - p < 4) this.#needBytes(p, 4, "global line");
    const buf = this.#buf;
    const letter = buf[p + 2];
    if (
      buf[p + 1] !== SP || buf[p + 3] !== SP ||
      (letter !== 0x69 && letter !== 0x65 && letter !== 0x75)
    ) {
      this.#fail(p, `Unknown global line '${printable(buf, p, p + 3)}'`, "'* i', '* e' or '* u'");
    }
    this.#pos = p + 4;
    return letter === 0x75 ? this.#udf() : this.#sindex(letter === 0x65);
  }

  #sindex(expression: boolean): AsbToken {
    const namespace = this.#field("sindex namespace", true);
    const set = this.#field("sindex set", true);
    const name = this.#field("sindex name", true);
    const itypeAt = this.#pos;
    const itype = INDEX_TYPES[this.#field("index type", true)];
    if (itype === undefined) this.#fail(itypeAt, "Unknown index type", "N, L, K or V");
    const npathsAt = this.#pos;
    const npaths = this.#uint(3, "path count");
    if (npaths !== 1) this.#fail(npathsAt, `Unsupported sindex path count ${npaths}`, "1");
    this.#expect(SP, "space after the path count");
    const bin = this.#field("sindex bin", true);
    const btypeAt = this.#pos;
    const btype = BIN_TYPES[this.#field("sindex bin type", false)];
    if (btype === undefined) this.#fail(btypeAt, "Unknown sindex bin type", "N, S, B or G");
    const extra: string[] = [];
    while (this.#peek("LF after the sindex") === SP) {
      this.#pos++;
      if (extra.length === 2) this.#fail(this.#pos, "Too many sindex fields", "LF");
      extra.push(this.#field("base64 context or expression", false));
    }
    this.#expectLF("LF after the sindex");
    const sindex: SIndexInfo = { namespace, set, name, indexType: itype, bin, binType: btype };
    if (expression) {
      if (extra.length === 0) {
        this.#fail(this.#pos - 1, "Missing expression of '* e' line", "base64 expression");
      }
      if (extra.length === 2) sindex.context = extra[0];
      sindex.expression = extra[extra.length - 1];
    } else {
      if (extra.length === 2) {
        this.#fail(this.#pos - 1, "Too many fields in '* i' line", "at most a context");
      }
      if (extra.length === 1) sindex.context = extra[0];
    }
    return { kind: "sindex", sindex };
  }

  #udf(): AsbToken {
    const type = this.#byte("UDF type");
    if (type !== 0x4c) this.#fail(this.#pos - 1, `Unknown UDF type ${show(type)}`, "L (Lua)");
    this.#expect(SP, "space after the UDF type");
    const name = this.#field("UDF file name", true);
    const content = this.#raw("UDF content");
    this.#expectLF("LF after the UDF content");
    return { kind: "udf", udf: { name, content } };
  }

  // ---- values ----

  /** An escaped field ending at SP (consumed when `thenSpace`) or, if `!thenSpace`, SP or LF (not consumed). */
  #field(what: string, thenSpace: boolean): string {
    this.#token(true, what);
    const s = this.#tokenString(what);
    if (thenSpace) this.#expect(SP, `space after the ${what}`);
    return s;
  }

  /** `LEN SP bytes` copied raw. */
  #raw(what: string): Uint8Array {
    const len = this.#length(what);
    const p = this.#pos;
    const value = this.#copy(p, len);
    this.#lf += countLF(this.#buf, p, p + len);
    this.#pos = p + len;
    return value;
  }

  /** `LEN SP base64`, decoded. */
  #base64(what: string): Uint8Array {
    const len = this.#length(what);
    const p = this.#pos;
    const buf = this.#buf;
    const n = base64DecodedLength(buf, p, len);
    if (n < 0) this.#fail(p - 1, `Invalid base64 length ${len} of ${what}`, "a multiple of 4");
    const value = this.#alloc(n);
    const bad = decodeBase64Into(buf, p, len, value);
    if (bad >= 0) {
      this.#fail(bad, `Invalid base64 character ${show(buf[bad])} in ${what}`, "A-Z a-z 0-9 + / =");
    }
    this.#pos = p + len;
    return value;
  }

  /** Reads `LEN SP` and makes sure the value and its LF are buffered. */
  #length(what: string): number {
    // Messages are built only on failure: template strings here cost more than the parse.
    const at = this.#pos;
    const len = this.#uint(15, "value length");
    if (len > this.#maxValue) {
      this.#fail(at, `Length ${len} of the ${what} exceeds the limit`, `at most ${this.#maxValue}`);
    }
    const p = this.#pos;
    if (p >= this.#end) this.#needBytes(p, 1, "space after the value length");
    if (this.#buf[p] !== SP) {
      this.#fail(p, `Unexpected ${show(this.#buf[p])}`, `space after the length of the ${what}`);
    }
    this.#pos = p + 1;
    if (p + 2 + len > this.#end) this.#needBytes(p + 1, len + 1, `${len} bytes of ${what} and LF`);
    return len;
  }

  #uint(maxDigits: number, what: string): number {
    const buf = this.#buf;
    const start = this.#pos;
    let p = start;
    let n = 0;
    for (;;) {
      if (p >= this.#end) this.#needScan(p, what);
      const c = buf[p];
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      if (++p - start > maxDigits) {
        this.#fail(start, `Number too long for the ${what}`, `at most ${maxDigits} digits`);
      }
    }
    if (p === start) this.#fail(p, `Unexpected ${show(buf[p])}`, `digits of the ${what}`);
    this.#pos = p;
    return n;
  }

  #int64(what: string): bigint {
    const buf = this.#buf;
    const start = this.#pos;
    let p = start;
    if (p >= this.#end) this.#needScan(p, what);
    const neg = buf[p] === DASH;
    if (neg) p++;
    const digits = p;
    let n = 0;
    for (;;) {
      if (p >= this.#end) this.#needScan(p, what);
      const c = buf[p];
      if (c < 48 || c > 57) break;
      if (p - digits < 15) n = n * 10 + (c - 48);
      if (++p - digits > 20) this.#fail(start, `Integer too long for the ${what}`, "an int64");
    }
    if (p === digits) this.#fail(p, `Unexpected ${show(buf[p])}`, `digits of the ${what}`);
    this.#pos = p;
    if (p - digits <= 15) return BigInt(neg ? -n : n);
    const v = BigInt(latin1(buf, start, p));
    if (v < INT64_MIN || v > INT64_MAX) {
      this.#fail(start, `Integer ${v} out of range for the ${what}`, "an int64");
    }
    return v;
  }

  #float(what: string): number {
    const buf = this.#buf;
    const start = this.#pos;
    let p = start;
    for (;;) {
      if (p >= this.#end) this.#needScan(p, what);
      if (buf[p] === LF) break;
      // Fixed notation of extreme doubles (Go `'f'` keys) runs to ~330 characters.
      if (++p - start > MAX_TOKEN) {
        this.#fail(start, `Float text too long for the ${what}`, `at most ${MAX_TOKEN} characters`);
      }
    }
    this.#pos = p;
    const v = decimalFloat(buf, start, p);
    if (v === v) return v;
    // Not plain decimal: nan/inf spellings, or invalid.
    const special = parseFloatText(latin1(buf, start, p));
    if (special === undefined) {
      this.#fail(start, `Invalid float '${printable(buf, start, p)}'`, `a number for the ${what}`);
    }
    return special;
  }

  /**
   * Scans an escaped token from `#pos` to the next unescaped LF (or SP when `atSpace`);
   * leaves `#pos` on the delimiter and the raw range in `#tokA`/`#tokB`.
   */
  #token(atSpace: boolean, what: string): void {
    const buf = this.#buf;
    const end = this.#end;
    const escaping = this.#escaping;
    const a = this.#pos;
    let p = a;
    let n = 0;
    let esc = false;
    let lf = 0;
    for (;;) {
      if (p >= end) this.#needScan(p, what);
      const b = buf[p];
      if (b === LF || (b === SP && atSpace)) break;
      if (b === BACKSLASH && escaping) {
        esc = true;
        if (++p >= end) this.#needScan(p, what);
        if (buf[p] === LF) lf++;
      }
      p++;
      if (++n > MAX_TOKEN) {
        this.#fail(a, `Token of the ${what} too long`, `at most ${MAX_TOKEN} bytes`);
      }
    }
    this.#lf += lf;
    this.#tokA = a;
    this.#tokB = p;
    this.#tokEsc = esc;
    this.#pos = p;
  }

  #tokenString(what: string): string {
    const buf = this.#buf;
    const a = this.#tokA, b = this.#tokB;
    if (!this.#tokEsc) {
      let ascii = true;
      for (let i = a; i < b; i++) {
        if (buf[i] >= 128) {
          ascii = false;
          break;
        }
      }
      if (ascii && b - a <= 32) return latin1(buf, a, b);
      return this.#utf8(buf.subarray(a, b), a, what);
    }
    const out = this.#scratch;
    let n = 0;
    for (let i = a; i < b; i++) {
      if (buf[i] === BACKSLASH) i++;
      out[n++] = buf[i];
    }
    return this.#utf8(out.subarray(0, n), a, what);
  }

  #utf8(bytes: Uint8Array, at: number, what: string): string {
    try {
      return utf8.decode(bytes);
    } catch {
      this.#fail(at, `Invalid UTF-8 in the ${what}`, "UTF-8 text");
    }
  }

  /** The token as a string, reusing the cached one when the bytes are the same. */
  #cachedString(cache: NameCacheEntry, what: string): string {
    const buf = this.#buf;
    const a = this.#tokA, len = this.#tokB - a;
    const raw = cache.raw;
    if (raw.length === len && len > 0) {
      let i = 0;
      while (i < len && raw[i] === buf[a + i]) i++;
      if (i === len) return cache.value;
    }
    const value = this.#tokenString(what);
    cache.raw = buf.slice(a, a + len);
    cache.value = value;
    return value;
  }

  #binName(i: number): string {
    let cache = this.#binCache[i];
    if (cache === undefined) {
      if (i >= 256) return this.#tokenString("bin name");
      cache = { raw: EMPTY, value: "" };
      this.#binCache[i] = cache;
    }
    return this.#cachedString(cache, "bin name");
  }

  // ---- primitives ----

  /**
   * A fresh array for a decoded value. Small ones are views into a shared 64 KiB slab: a
   * `new Uint8Array(n)` costs ~250 ns under Deno (its backing store is always malloc'ed),
   * more than parsing the whole line.
   */
  #alloc(len: number): Uint8Array {
    if (len > SLAB_MAX_VALUE) return new Uint8Array(len);
    let at = this.#slabPos;
    if (at + len > this.#slab.byteLength) {
      this.#slab = new ArrayBuffer(SLAB_SIZE);
      at = 0;
    }
    this.#slabPos = at + len;
    return new Uint8Array(this.#slab, at, len);
  }

  /** A copy of `#buf[p, p + len)`. */
  #copy(p: number, len: number): Uint8Array {
    const out = this.#alloc(len);
    const buf = this.#buf;
    if (len > 64) {
      out.set(buf.subarray(p, p + len));
    } else {
      for (let i = 0; i < len; i++) out[i] = buf[p + i];
    }
    return out;
  }

  #byte(what: string): number {
    const p = this.#pos;
    if (p >= this.#end) this.#needBytes(p, 1, what);
    this.#pos = p + 1;
    return this.#buf[p];
  }

  #peek(what: string): number {
    const p = this.#pos;
    if (p >= this.#end) this.#needBytes(p, 1, what);
    return this.#buf[p];
  }

  #expect(c: number, what: string): void {
    const p = this.#pos;
    if (p >= this.#end) this.#needBytes(p, 1, what);
    if (this.#buf[p] !== c) this.#fail(p, `Unexpected ${show(this.#buf[p])}`, what);
    this.#pos = p + 1;
  }

  #expectLF(what: string): void {
    this.#expect(LF, what);
    this.#lf++;
  }

  /** Reads `+ X ` and returns X. */
  #lineLetter(what: string): number {
    const p = this.#pos;
    if (this.#end - p < 4) this.#needBytes(p, 4, `${what} line`);
    const buf = this.#buf;
    if (buf[p] !== PLUS || buf[p + 1] !== SP || buf[p + 3] !== SP) {
      this.#fail(p, `Unexpected line starting ${show(buf[p])}`, `${what} line`);
    }
    this.#pos = p + 4;
    return buf[p + 2];
  }

  #orderError(expected: string): never {
    const p = this.#pos - 4;
    this.#fail(p, `Unexpected record line '+ ${printable(this.#buf, p + 2, p + 3)}'`, expected);
  }

  /** Bytes `[p, p + n)` are needed: ask for more input, or fail at end of input. */
  #needBytes(p: number, n: number, what: string): void {
    if (p + n <= this.#end) return;
    if (this.#ended) this.#fail(this.#end, "Unexpected end of file", what);
    this.#want = p + n - this.#start;
    throw NEED_MORE;
  }

  /** A scan ran off the buffered bytes at `p`. */
  #needScan(p: number, what: string): never {
    if (this.#ended) this.#fail(p, "Unexpected end of file", what);
    const avail = this.#end - this.#start;
    this.#want = Math.max(avail + 1, avail * 2);
    throw NEED_MORE;
  }

  #fail(at: number, message: string, expected: string): never {
    const buf = this.#buf;
    let line = this.#line;
    let lineStart = this.#start;
    for (let i = this.#start; i < at; i++) {
      if (buf[i] === LF) {
        line++;
        lineStart = i + 1;
      }
    }
    const location: FileLocation = {
      file: this.#file,
      line,
      column: at - lineStart + 1,
      offset: this.#base + at,
    };
    throw new AerobakError(
      "ASB_SYNTAX",
      `${message} at ${formatLocation(location)}: expected ${expected}`,
      { location },
    );
  }
}

const POW10 = [
  1,
  1e1,
  1e2,
  1e3,
  1e4,
  1e5,
  1e6,
  1e7,
  1e8,
  1e9,
  1e10,
  1e11,
  1e12,
  1e13,
  1e14,
  1e15,
  1e16,
  1e17,
  1e18,
  1e19,
  1e20,
  1e21,
  1e22,
];

/**
 * Parses `[+-]?digits[.digits][(e|E)[+-]?digits]` in `buf[a, b)`; NaN when the text is not
 * of that form. Up to 15 digits and a power of ten within 10^±22 are converted exactly by
 * one multiplication or division (both operands exact, so correctly rounded); longer text
 * goes through `Number()`.
 */
function decimalFloat(buf: Uint8Array, a: number, b: number): number {
  let i = a;
  let neg = false;
  if (buf[i] === 0x2d || buf[i] === 0x2b) neg = buf[i++] === 0x2d;
  let m = 0, digits = 0, frac = 0;
  let seenDot = false;
  for (; i < b; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      if (m !== 0 || c !== 48) digits++;
      m = m * 10 + (c - 48);
      if (seenDot) frac++;
    } else if (c === 0x2e && !seenDot) {
      seenDot = true;
    } else {
      break;
    }
  }
  const mantissaEnd = i;
  if (mantissaEnd === a + (neg || buf[a] === 0x2b ? 1 : 0) + (seenDot ? 1 : 0)) return NaN;
  let exp = 0;
  if (i < b) {
    if (buf[i] !== 0x65 && buf[i] !== 0x45) return NaN;
    i++;
    let eneg = false;
    if (buf[i] === 0x2d || buf[i] === 0x2b) eneg = buf[i++] === 0x2d;
    const expStart = i;
    for (; i < b; i++) {
      const c = buf[i];
      if (c < 48 || c > 57) return NaN;
      if (exp < 100000) exp = exp * 10 + (c - 48);
    }
    if (i === expStart) return NaN;
    if (eneg) exp = -exp;
  }
  const scale = exp - frac;
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    const v = scale < 0 ? m / POW10[-scale] : m * POW10[scale];
    return neg ? -v : v;
  }
  return Number(latin1(buf, a, b));
}

function latin1(buf: Uint8Array, a: number, b: number): string {
  let s = "";
  for (let i = a; i < b; i++) s += String.fromCharCode(buf[i]);
  return s;
}

function show(b: number | undefined): string {
  if (b === undefined) return "end of input";
  if (b === LF) return "LF";
  if (b === SP) return "space";
  if (b > 32 && b < 127) return `'${String.fromCharCode(b)}'`;
  return `byte 0x${b.toString(16).padStart(2, "0")}`;
}

function printable(buf: Uint8Array, a: number, b: number): string {
  let s = "";
  for (let i = a; i < b && i < a + 40; i++) {
    const c = buf[i];
    s += c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return s;
}

function countLF(buf: Uint8Array, a: number, b: number): number {
  let n = 0;
  if (b - a < 64) {
    for (let i = a; i < b; i++) if (buf[i] === LF) n++;
    return n;
  }
  let i = buf.indexOf(LF, a);
  while (i >= 0 && i < b) {
    n++;
    i = buf.indexOf(LF, i + 1);
  }
  return n;
}
