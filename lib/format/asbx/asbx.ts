/**
 * The ASBX binary format of backup-go XDR backups: a 44-byte header, then records of
 * `digest (20) | payload length (u48 BE) | payload`, the payload being the raw proto message
 * XDR shipped (see asbx-format.md).
 *
 * @module
 */

import type { ByteWriter } from "../../aerospike/byte_writer.ts";
import { AerobakError, type FileLocation, formatLocation } from "../../errors.ts";

/** Size of the file header. */
export const ASBX_HEADER_SIZE = 44;
/** The only format version. */
export const ASBX_VERSION = 1;
/** Largest payload a reader accepts (backup-go's sanity limit). */
export const ASBX_MAX_PAYLOAD = 128 * 1024 * 1024;
/** Bytes before each payload: digest and 48-bit length. */
export const ASBX_RECORD_HEADER_SIZE = 26;

const NAMESPACE_FIELD = 31;
/** info1 XDR bit, at payload offset 9 (proto header 8 + AS_MSG byte 1). */
const XDR_BIT_OFFSET = 9;
const XDR_BIT = 0x10;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The header of an ASBX file. */
export interface AsbxHeader {
  /** Format version, always 1. */
  version: number;
  /** The file number (equals the `<n>` of the file name). */
  fileNumber: number;
  /** Namespace (at most 31 bytes of UTF-8). */
  namespace: string;
}

/** One record of an ASBX file. */
export interface AsbxRecord {
  /** Namespace from the file header. */
  namespace: string;
  /** The 20-byte digest. */
  digest: Uint8Array;
  /** The whole proto message (8-byte header + AS_MSG), XDR bit cleared. */
  payload: Uint8Array;
}

/**
 * Encodes the 44-byte file header.
 *
 * @param namespace Namespace; truncated to 31 bytes of UTF-8.
 * @param fileNumber File number (the `<n>` of `<w>_<ns>_<n>.asbx`), a safe integer ≥ 0.
 * @returns The header bytes.
 * @throws {RangeError} for an empty namespace or a bad file number.
 */
export function encodeAsbxHeader(namespace: string, fileNumber: number): Uint8Array {
  if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) {
    throw new RangeError(
      `Cannot write ASBX file number ${fileNumber}: expected a safe integer >= 0`,
    );
  }
  const ns = utf8Encoder.encode(namespace);
  if (ns.length === 0) throw new RangeError("Cannot write ASBX header: namespace is empty");
  const out = new Uint8Array(ASBX_HEADER_SIZE);
  const view = new DataView(out.buffer);
  out[0] = ASBX_VERSION;
  view.setBigUint64(1, BigInt(fileNumber));
  out.set(ns.subarray(0, NAMESPACE_FIELD), 13);
  return out;
}

/**
 * Decodes the 44-byte file header.
 *
 * @param bytes At least 44 bytes.
 * @param options File name for errors, and the file number the name says (checked when given).
 * @returns The header.
 * @throws {AerobakError} code `"ASBX_SYNTAX"` for a short header, wrong version, empty
 * namespace or file number mismatch.
 */
export function decodeAsbxHeader(
  bytes: Uint8Array,
  options: { file?: string; fileNumber?: number } = {},
): AsbxHeader {
  const file = options.file ?? "<input>";
  if (bytes.length < ASBX_HEADER_SIZE) {
    throw asbxError(file, bytes.length, "Unexpected end of file in the header", "44 header bytes");
  }
  if (bytes[0] !== ASBX_VERSION) {
    throw asbxError(file, 0, `Unsupported ASBX version ${bytes[0]}`, "version 1");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const big = view.getBigUint64(1);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw asbxError(file, 1, `ASBX file number ${big} too large`, "a safe integer");
  }
  const fileNumber = Number(big);
  if (options.fileNumber !== undefined && options.fileNumber !== fileNumber) {
    throw asbxError(
      file,
      1,
      `ASBX file number mismatch: header says ${fileNumber}, file name says ${options.fileNumber}`,
      "equal numbers",
    );
  }
  let end = 13 + NAMESPACE_FIELD;
  while (end > 13 && bytes[end - 1] === 0) end--;
  if (end === 13) throw asbxError(file, 13, "Empty namespace in the ASBX header", "a namespace");
  const namespace = utf8Decoder.decode(bytes.subarray(13, end));
  return { version: ASBX_VERSION, fileNumber, namespace };
}

/**
 * The file number in an ASBX file name `<w>_<ns>_<n>.asbx` (backup-go splits the base name
 * on `_` into exactly three parts, so a namespace containing `_` is not supported).
 *
 * @param name File name or path.
 * @returns The number, or `undefined` when the name does not follow the scheme.
 */
export function asbxFileNumber(name: string): number | undefined {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (!base.endsWith(".asbx")) return undefined;
  const parts = base.slice(0, -5).split("_");
  if (parts.length !== 3 || !/^[0-9]+$/.test(parts[2])) return undefined;
  const n = Number(parts[2]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Encodes ASBX records into a {@linkcode ByteWriter}.
 *
 * @example Write a file
 * ```ts
 * import { AsbxEncoder } from "./asbx.ts";
 * import { ByteWriter } from "../../aerospike/byte_writer.ts";
 * const w = new ByteWriter();
 * const enc = new AsbxEncoder("test");
 * w.bytes(enc.header(1));
 * enc.encodeRecord(w, new Uint8Array(20), new Uint8Array([2, 3, 0, 0, 0, 0, 0, 0]));
 * console.log(w.length); // 78
 * ```
 */
export class AsbxEncoder {
  readonly #namespace: string;

  /**
   * Creates an encoder for one namespace.
   *
   * @param namespace The namespace every file's header names.
   */
  constructor(namespace: string) {
    this.#namespace = namespace;
  }

  /**
   * The header of file number `fileNumber`.
   *
   * @param fileNumber The `<n>` of the file's name.
   * @returns 44 bytes.
   */
  header(fileNumber: number): Uint8Array {
    return encodeAsbxHeader(this.#namespace, fileNumber);
  }

  /**
   * Appends one record; the XDR bit of the copy written is cleared, as backup-go does.
   *
   * @param w Destination.
   * @param digest 20-byte digest.
   * @param payload The whole proto message as XDR sent it (not modified).
   * @returns Bytes written.
   * @throws {RangeError} for a digest that is not 20 bytes or a payload over 128 MiB.
   */
  encodeRecord(w: ByteWriter, digest: Uint8Array, payload: Uint8Array): number {
    if (digest.length !== 20) {
      throw new RangeError(`Cannot encode ASBX digest of ${digest.length} bytes: expected 20`);
    }
    const n = payload.length;
    if (n > ASBX_MAX_PAYLOAD) {
      throw new RangeError(`Cannot encode ASBX payload of ${n} bytes: at most ${ASBX_MAX_PAYLOAD}`);
    }
    const at = w.reserve(ASBX_RECORD_HEADER_SIZE + n);
    const buf = w.subarray();
    buf.set(digest, at);
    const hi = Math.floor(n / 2 ** 32);
    buf[at + 20] = hi >>> 8;
    buf[at + 21] = hi & 255;
    buf[at + 22] = n >>> 24;
    buf[at + 23] = (n >>> 16) & 255;
    buf[at + 24] = (n >>> 8) & 255;
    buf[at + 25] = n & 255;
    buf.set(payload, at + ASBX_RECORD_HEADER_SIZE);
    if (n > XDR_BIT_OFFSET) buf[at + ASBX_RECORD_HEADER_SIZE + XDR_BIT_OFFSET] &= ~XDR_BIT;
    return ASBX_RECORD_HEADER_SIZE + n;
  }
}

/** Options of {@linkcode decodeAsbx}. */
export interface AsbxDecodeOptions {
  /** File name for errors. @default "<input>" */
  file?: string;
  /** The file number the file name says; a different header number is an error. */
  fileNumber?: number;
  /** Largest payload accepted. @default 134217728 (128 MiB) */
  maxPayload?: number;
}

/**
 * Async iterator over the records of one ASBX file; reads the stream as records are pulled
 * and holds at most one record plus one chunk.
 */
export class AsbxDecoder implements AsyncIterableIterator<AsbxRecord> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #file: string;
  readonly #fileNumber: number | undefined;
  readonly #maxPayload: number;
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  /** Absolute offset of `#buf[0]`. */
  #base = 0;
  #eof = false;
  #finished = false;
  #header: AsbxHeader | undefined;

  /**
   * Starts decoding (nothing is read until the first pull).
   *
   * @param stream The file's bytes (decrypted and decompressed).
   * @param options File name, expected file number, payload cap.
   */
  constructor(stream: ReadableStream<Uint8Array>, options: AsbxDecodeOptions = {}) {
    this.#reader = stream.getReader();
    this.#file = options.file ?? "<input>";
    this.#fileNumber = options.fileNumber;
    this.#maxPayload = options.maxPayload ?? ASBX_MAX_PAYLOAD;
  }

  /** The header, once read. */
  get header(): AsbxHeader | undefined {
    return this.#header;
  }

  /**
   * Reads and checks the header.
   *
   * @returns The header.
   * @throws {AerobakError} code `"ASBX_SYNTAX"`.
   */
  async readHeader(): Promise<AsbxHeader> {
    if (this.#header !== undefined) return this.#header;
    try {
      await this.#fill(ASBX_HEADER_SIZE);
      this.#header = decodeAsbxHeader(this.#buf.subarray(this.#start, this.#end), {
        file: this.#file,
        fileNumber: this.#fileNumber,
      });
      this.#start += ASBX_HEADER_SIZE;
      return this.#header;
    } catch (e) {
      await this.#abort(e);
      throw e;
    }
  }

  /**
   * The next record.
   *
   * @returns The iterator result.
   * @throws {AerobakError} code `"ASBX_SYNTAX"` for a truncated record or oversize payload.
   */
  async next(): Promise<IteratorResult<AsbxRecord>> {
    if (this.#finished) return { done: true, value: undefined };
    const header = await this.readHeader();
    try {
      await this.#fill(ASBX_RECORD_HEADER_SIZE);
      const avail = this.#end - this.#start;
      if (avail === 0 && this.#eof) {
        this.#finished = true;
        this.#reader.releaseLock();
        return { done: true, value: undefined };
      }
      const at = this.#start;
      if (avail < ASBX_RECORD_HEADER_SIZE) {
        throw asbxError(
          this.#file,
          this.#base + this.#end,
          "Truncated ASBX record header",
          "26 bytes",
        );
      }
      const b = this.#buf;
      const len = (b[at + 20] * 256 + b[at + 21]) * 2 ** 32 +
        ((b[at + 22] << 24) >>> 0) + (b[at + 23] << 16) + (b[at + 24] << 8) + b[at + 25];
      if (len > this.#maxPayload) {
        throw asbxError(
          this.#file,
          this.#base + at + 20,
          `ASBX payload length ${len} exceeds the limit`,
          `at most ${this.#maxPayload} bytes`,
        );
      }
      await this.#fill(ASBX_RECORD_HEADER_SIZE + len);
      if (this.#end - this.#start < ASBX_RECORD_HEADER_SIZE + len) {
        throw asbxError(
          this.#file,
          this.#base + this.#end,
          "Truncated ASBX record",
          `${len} payload bytes`,
        );
      }
      const s = this.#start;
      const digest = this.#buf.slice(s, s + 20);
      const payload = this.#buf.slice(
        s + ASBX_RECORD_HEADER_SIZE,
        s + ASBX_RECORD_HEADER_SIZE + len,
      );
      this.#start = s + ASBX_RECORD_HEADER_SIZE + len;
      return { done: false, value: { namespace: header.namespace, digest, payload } };
    } catch (e) {
      await this.#abort(e);
      throw e;
    }
  }

  /**
   * Stops decoding and cancels the stream.
   *
   * @returns A finished result.
   */
  async return(): Promise<IteratorResult<AsbxRecord>> {
    await this.#abort(undefined);
    return { done: true, value: undefined };
  }

  /**
   * This iterator.
   *
   * @returns `this`.
   */
  [Symbol.asyncIterator](): AsbxDecoder {
    return this;
  }

  /** Buffers at least `n` unconsumed bytes, or all that is left at end of stream. */
  async #fill(n: number): Promise<void> {
    while (this.#end - this.#start < n && !this.#eof) {
      const r = await this.#reader.read();
      if (r.done) {
        this.#eof = true;
        break;
      }
      const chunk = r.value;
      const avail = this.#end - this.#start;
      const need = avail + chunk.length;
      if (need > this.#buf.length) {
        const next = new Uint8Array(Math.max(need, n, this.#buf.length * 2, 65536));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      } else if (this.#end + chunk.length > this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        this.#buf.set(chunk, this.#end);
        this.#end += chunk.length;
        continue;
      }
      this.#base += this.#start;
      this.#buf.set(chunk, avail);
      this.#start = 0;
      this.#end = need;
    }
  }

  async #abort(reason: unknown): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    try {
      await this.#reader.cancel(reason);
    } catch {
      // The stream already failed; its own error is what the caller sees.
    }
  }
}

/**
 * Decodes an ASBX file as a stream of records.
 *
 * @param stream The file's bytes (decrypted and decompressed).
 * @param options File name, the file number from its name, payload cap.
 * @returns An {@linkcode AsbxDecoder}.
 * @throws {AerobakError} code `"ASBX_SYNTAX"` (from the iterator) with `location`
 * `{file, offset}`: wrong version, file number mismatch, empty namespace, truncated record,
 * payload over the cap.
 */
export function decodeAsbx(
  stream: ReadableStream<Uint8Array>,
  options: AsbxDecodeOptions = {},
): AsbxDecoder {
  return new AsbxDecoder(stream, options);
}

function asbxError(file: string, offset: number, message: string, expected: string): AerobakError {
  const location: FileLocation = { file, offset };
  return new AerobakError(
    "ASBX_SYNTAX",
    `${message} at ${formatLocation(location)}: expected ${expected}`,
    { location },
  );
}
