/**
 * Streaming ASB decoding: a {@linkcode ReadableStream} of file bytes in, tokens out.
 *
 * @module
 */

import { type AsbHeader, AsbParser, type AsbParserOptions, type AsbToken } from "./parser.ts";

/** Options of {@linkcode decodeAsb}; same as the parser's. */
export type AsbDecodeOptions = AsbParserOptions;

/**
 * Async iterator over the tokens of one ASB file. Reads the stream only as tokens are
 * pulled; breaking out of a `for await` cancels the stream.
 */
export class AsbDecoder implements AsyncIterableIterator<AsbToken> {
  readonly #parser: AsbParser;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #finished = false;
  /** A token read by {@linkcode readHeader} while looking for the header's end. */
  #pending: IteratorResult<AsbToken> | undefined;

  /**
   * Starts decoding a stream (nothing is read until the first pull).
   *
   * @param stream The file's bytes (decompressed and decrypted).
   * @param options File name for errors, value length cap.
   */
  constructor(stream: ReadableStream<Uint8Array>, options: AsbDecodeOptions = {}) {
    this.#parser = new AsbParser(options);
    this.#reader = stream.getReader();
  }

  /** The header, once read (after {@linkcode readHeader} or the first token). */
  get header(): AsbHeader | undefined {
    return this.#parser.header;
  }

  /** Bytes of the stream consumed by complete entities so far. */
  get offset(): number {
    return this.#parser.offset;
  }

  /** Line number of the next entity (1-based). */
  get line(): number {
    return this.#parser.line;
  }

  /**
   * Reads up to the first entity and returns the header.
   *
   * @returns The header.
   * @throws {AerobakError} code `"ASB_SYNTAX"` for a malformed header.
   */
  async readHeader(): Promise<AsbHeader> {
    for (;;) {
      const h = this.#parser.header;
      if (h !== undefined) return h;
      // The parser moves past the header only while looking for a token; keep what it finds.
      const r = await this.next();
      if (!r.done) this.#pending = r;
    }
  }

  /**
   * The next token.
   *
   * @returns The iterator result.
   * @throws {AerobakError} code `"ASB_SYNTAX"` with a location for malformed input.
   */
  async next(): Promise<IteratorResult<AsbToken>> {
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      return pending;
    }
    if (this.#finished) return { done: true, value: undefined };
    const parser = this.#parser;
    try {
      for (;;) {
        const token = parser.next();
        if (token !== undefined) return { done: false, value: token };
        if (parser.done) {
          this.#finished = true;
          this.#reader.releaseLock();
          return { done: true, value: undefined };
        }
        const r = await this.#reader.read();
        if (r.done) parser.end();
        else parser.push(r.value);
      }
    } catch (e) {
      await this.#abort(e);
      throw e;
    }
  }

  /**
   * The next token if the bytes read so far hold it, without a promise (the pipe's fast
   * path: most tokens come out of a chunk already read).
   *
   * @returns The token, or `undefined` when {@linkcode next} must read on (or the end).
   * @throws {AerobakError} code `"ASB_SYNTAX"` with a location for malformed input.
   */
  nextReady(): AsbToken | undefined {
    const pending = this.#pending;
    if (pending !== undefined) {
      if (pending.done) return undefined;
      this.#pending = undefined;
      return pending.value;
    }
    if (this.#finished) return undefined;
    try {
      return this.#parser.next();
    } catch (e) {
      // Cancel the stream as next() does; the caller sees the syntax error.
      void this.#abort(e);
      throw e;
    }
  }

  /**
   * Stops decoding and cancels the stream.
   *
   * @returns A finished iterator result.
   */
  async return(): Promise<IteratorResult<AsbToken>> {
    await this.#abort(undefined);
    return { done: true, value: undefined };
  }

  /**
   * This iterator.
   *
   * @returns `this`.
   */
  [Symbol.asyncIterator](): AsbDecoder {
    return this;
  }

  async #abort(reason: unknown): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#pending = undefined;
    try {
      await this.#reader.cancel(reason);
    } catch {
      // The stream already failed; its own error is what the caller sees.
    }
  }
}

/**
 * Decodes an ASB file as a stream of tokens, in bounded memory whatever the file size.
 *
 * @example Count the records of a file
 * ```ts
 * import { decodeAsb } from "./decoder.ts";
 * const text = "Version 3.1\n# namespace test\n+ n test\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ g 1\n+ t 0\n+ b 0\n";
 * const stream = ReadableStream.from([new TextEncoder().encode(text)]);
 * let records = 0;
 * for await (const token of decodeAsb(stream, { file: "x.asb" })) if (token.kind === "record") records++;
 * console.log(records); // 1
 * ```
 *
 * @param stream The file's bytes (already decrypted and decompressed).
 * @param options File name for error locations, value length cap.
 * @returns An {@linkcode AsbDecoder}; its `header` is set once the first token is read.
 * @throws {AerobakError} code `"ASB_SYNTAX"` (from the iterator) with `location`
 * `{file, line, column, offset}` and what was expected.
 */
export function decodeAsb(
  stream: ReadableStream<Uint8Array>,
  options: AsbDecodeOptions = {},
): AsbDecoder {
  return new AsbDecoder(stream, options);
}
