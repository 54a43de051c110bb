/**
 * Streaming ASBX decoding: a {@linkcode ReadableStream} of file bytes in, records out.
 *
 * Each record's length is checked against a cap, and a record up to 1 MiB that
 * {@linkcode AsbxDecoder.next} returns costs exactly one allocation (digest and payload
 * share it), which the token owns; a bigger one is read in pieces first, so a damaged
 * length allocates no more than the bytes that follow it. {@linkcode AsbxDecoder.nextReady}
 * hands out views of the bytes read instead.
 *
 * @module
 */

import type { FileLocation } from "../../errors.ts";
import { asbxError } from "./_error.ts";
import { ASBX_MAX_PAYLOAD_SIZE, ASBX_RECORD_HEADER_SIZE, type AsbxToken } from "./encoder.ts";
import { ASBX_HEADER_SIZE, type AsbxHeader, decodeAsbxHeader } from "./header.ts";

/** Options of {@linkcode decodeAsbx}. */
export interface AsbxDecodeOptions {
  /** File name or path, for errors. @default "<input>" */
  file?: string;
  /**
   * The file number the header must carry (from the file name, see
   * `parseAsbxFileName`). @default not checked
   */
  fileNumber?: number;
  /** Largest payload accepted, in bytes. @default 134217728 (128 MiB) */
  maxPayloadSize?: number;
}

// Smallest sane payload: proto header (8) + AS_MSG header (22).
const MIN_PAYLOAD_SIZE = 30;
/** Payloads up to this size get their buffer before their bytes arrive. */
const EAGER_PAYLOAD = 1 << 20;

/**
 * Async iterator over the records of one ASBX file. Reads the stream only as records are
 * pulled; breaking out of a `for await` cancels the stream.
 *
 * @example Decode a file
 * ```ts ignore
 * import { decodeAsbx } from "./decoder.ts";
 * const file = await Deno.open("backup/0_test_1.asbx");
 * for await (const t of decodeAsbx(file.readable, { file: "0_test_1.asbx", fileNumber: 1 })) {
 *   console.log(t.digest, t.payload.length);
 * }
 * ```
 */
export class AsbxDecoder implements AsyncIterableIterator<AsbxToken> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #file: string | undefined;
  readonly #fileNumber: number | undefined;
  readonly #maxPayload: number;
  readonly #scratch = new Uint8Array(ASBX_HEADER_SIZE);
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #offset = 0;
  #header: AsbxHeader | undefined;
  #finished = false;

  /**
   * Starts decoding (nothing is read until the first pull).
   *
   * @param stream The file's bytes (decrypted and decompressed).
   * @param options File name, expected file number, payload cap.
   */
  constructor(stream: ReadableStream<Uint8Array>, options: AsbxDecodeOptions = {}) {
    this.#reader = stream.getReader();
    this.#file = options.file;
    this.#fileNumber = options.fileNumber;
    this.#maxPayload = options.maxPayloadSize ?? ASBX_MAX_PAYLOAD_SIZE;
  }

  /** The header, once read. */
  get header(): AsbxHeader | undefined {
    return this.#header;
  }

  /** Bytes consumed so far (header and complete records). */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Reads and checks the header (done by the first {@linkcode next} otherwise).
   *
   * @returns The header.
   * @throws {AerobakError} `ASBX_TRUNCATED`, `ASBX_VERSION`, `ASBX_HEADER`,
   *   `ASBX_FILE_NUMBER` (header number differs from the expected one).
   */
  async readHeader(): Promise<AsbxHeader> {
    if (this.#header !== undefined) return this.#header;
    try {
      const got = await this.#read(this.#scratch);
      const header = decodeAsbxHeader(this.#scratch.subarray(0, got), this.#loc(0));
      if (this.#fileNumber !== undefined && header.fileNumber !== this.#fileNumber) {
        throw asbxError(
          "ASBX_FILE_NUMBER",
          `file number mismatch: header has ${header.fileNumber}, file name has ${this.#fileNumber}`,
          this.#loc(1),
        );
      }
      this.#offset = ASBX_HEADER_SIZE;
      this.#header = header;
      return header;
    } catch (err) {
      await this.#stop();
      throw err;
    }
  }

  /**
   * Decodes the next record.
   *
   * @returns The next record, or done at the end of the file.
   * @throws {AerobakError} Header errors as {@linkcode readHeader}; `ASBX_TRUNCATED` for a
   *   partial record; `ASBX_PAYLOAD_TOO_LARGE` for a length above the cap;
   *   `ASBX_PAYLOAD` for a payload that is not a type-3 proto message of its length.
   */
  async next(): Promise<IteratorResult<AsbxToken>> {
    if (this.#finished) return { done: true, value: undefined };
    const header = this.#header ?? await this.readHeader();
    try {
      const start = this.#offset;
      const head = this.#scratch.subarray(0, ASBX_RECORD_HEADER_SIZE);
      const got = await this.#read(head);
      if (got === 0) {
        await this.#stop();
        return { done: true, value: undefined };
      }
      if (got < ASBX_RECORD_HEADER_SIZE) {
        throw asbxError(
          "ASBX_TRUNCATED",
          `file ends after ${got} of the 26 bytes of a record header`,
          this.#loc(start),
        );
      }
      const size = payloadSize(head, 0);
      if (size > this.#maxPayload) {
        throw asbxError(
          "ASBX_PAYLOAD_TOO_LARGE",
          `payload length ${size} exceeds ${this.#maxPayload}`,
          this.#loc(start + 20),
        );
      }
      const { record, have } = await this.#readRecord(head, size);
      const payload = record.subarray(20);
      if (have < size) {
        throw asbxError(
          "ASBX_TRUNCATED",
          `file ends after ${have} of the ${size} payload bytes of a record`,
          this.#loc(start + ASBX_RECORD_HEADER_SIZE),
        );
      }
      checkPayload(payload, this.#loc(start + ASBX_RECORD_HEADER_SIZE));
      this.#offset = start + ASBX_RECORD_HEADER_SIZE + size;
      return {
        done: false,
        value: { namespace: header.namespace, digest: record.subarray(0, 20), payload },
      };
    } catch (err) {
      await this.#stop();
      throw err;
    }
  }

  /**
   * Decodes the next record if the bytes already read hold it whole: the pipe's way to take
   * records without a promise each (see `ReadyIterator`). Its digest and payload are views
   * of the chunk read from the stream (which must hand out chunks it does not write to
   * again, as file streams and the decompress and decrypt stages do): keeping the token
   * keeps that chunk.
   *
   * @returns The record, or `undefined` when {@linkcode next} must be awaited (more bytes
   *   to read, the header not read yet, the end of the file, or an error to report).
   * @throws {AerobakError} `ASBX_PAYLOAD` for a payload that is not a type-3 proto message
   *   of its length.
   */
  nextReady(): AsbxToken | undefined {
    const header = this.#header;
    const chunk = this.#chunk;
    const at = this.#pos;
    if (header === undefined || this.#finished || chunk.length - at < ASBX_RECORD_HEADER_SIZE) {
      return undefined;
    }
    const size = payloadSize(chunk, at);
    if (size > this.#maxPayload || chunk.length - at - ASBX_RECORD_HEADER_SIZE < size) {
      return undefined;
    }
    const start = this.#offset;
    const from = at + ASBX_RECORD_HEADER_SIZE;
    // Views, no copy: the stream hands out fresh chunks and never writes them again.
    const payload = chunk.subarray(from, from + size);
    checkPayload(payload, this.#loc(start + ASBX_RECORD_HEADER_SIZE));
    this.#pos = from + size;
    this.#offset = start + ASBX_RECORD_HEADER_SIZE + size;
    return { namespace: header.namespace, digest: chunk.subarray(at, at + 20), payload };
  }

  /**
   * Stops decoding and cancels the stream.
   *
   * @returns Done.
   */
  async return(): Promise<IteratorResult<AsbxToken>> {
    await this.#stop();
    return { done: true, value: undefined };
  }

  /**
   * Returns this iterator (for `for await`).
   *
   * @returns This iterator.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<AsbxToken> {
    return this;
  }

  /**
   * Reads a record's payload after its header. The length is believed only as far as bytes
   * arrive: a payload above {@linkcode EAGER_PAYLOAD} is read in pieces and joined once
   * complete, so a damaged length in a short file allocates little.
   *
   * @returns The record (digest then payload) and how many payload bytes arrived; short
   *   only at the end of the stream.
   */
  async #readRecord(head: Uint8Array, size: number): Promise<{ record: Uint8Array; have: number }> {
    if (size <= EAGER_PAYLOAD) {
      const record = new Uint8Array(20 + size);
      record.set(head.subarray(0, 20));
      return { record, have: await this.#read(record.subarray(20)) };
    }
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < size) {
      const part = new Uint8Array(Math.min(EAGER_PAYLOAD, size - have));
      const n = await this.#read(part);
      parts.push(part.subarray(0, n));
      have += n;
      if (n < part.length) return { record: new Uint8Array(20), have };
    }
    const record = new Uint8Array(20 + size);
    record.set(head.subarray(0, 20));
    let at = 20;
    for (const p of parts) {
      record.set(p, at);
      at += p.length;
    }
    return { record, have };
  }

  /** Copies up to `dest.length` bytes; fewer only at the end of the stream. */
  async #read(dest: Uint8Array): Promise<number> {
    let got = 0;
    while (got < dest.length) {
      if (this.#pos === this.#chunk.length) {
        const r = await this.#reader.read();
        if (r.done) return got;
        this.#chunk = r.value;
        this.#pos = 0;
        continue;
      }
      const n = Math.min(dest.length - got, this.#chunk.length - this.#pos);
      dest.set(this.#chunk.subarray(this.#pos, this.#pos + n), got);
      this.#pos += n;
      got += n;
    }
    return got;
  }

  async #stop(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    try {
      await this.#reader.cancel();
    } catch {
      // The stream already failed; its error was reported by the read that saw it.
    }
    this.#reader.releaseLock();
  }

  #loc(offset: number): FileLocation {
    return this.#file === undefined ? { offset } : { file: this.#file, offset };
  }
}

/** The 48-bit payload length of the record header at `at` (after its 20-byte digest). */
function payloadSize(b: Uint8Array, at: number): number {
  const hi = (b[at + 20] << 8) | b[at + 21];
  const lo = ((b[at + 22] << 24) >>> 0) + (b[at + 23] << 16) + (b[at + 24] << 8) + b[at + 25];
  return hi * 2 ** 32 + lo;
}

/** Checks that a payload is one whole type-3 proto message (what a restore sends). */
function checkPayload(payload: Uint8Array, loc: FileLocation): void {
  const n = payload.length;
  if (n < MIN_PAYLOAD_SIZE) {
    throw asbxError("ASBX_PAYLOAD", `payload of ${n} bytes is shorter than a message`, loc);
  }
  const body = ((payload[4] << 24) >>> 0) + (payload[5] << 16) + (payload[6] << 8) + payload[7];
  if (
    payload[0] !== 2 || payload[1] !== 3 || payload[2] !== 0 || payload[3] !== 0 || body !== n - 8
  ) {
    throw asbxError(
      "ASBX_PAYLOAD",
      `payload is not a type-3 message of its length (proto header ${
        [...payload.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
      })`,
      loc,
    );
  }
}

/**
 * Decodes an ASBX file.
 *
 * @param stream The file's bytes (decrypted and decompressed).
 * @param options File name for errors, expected file number, payload cap.
 * @returns An async iterator of records; its `header` is set once the first is pulled.
 */
export function decodeAsbx(
  stream: ReadableStream<Uint8Array>,
  options: AsbxDecodeOptions = {},
): AsbxDecoder {
  return new AsbxDecoder(stream, options);
}
