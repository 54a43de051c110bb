/**
 * Reads proto frames (8-byte header + body) from a transport.
 *
 * One buffer per connection: socket reads land in it directly, a frame's bytes are joined
 * there once (only the few bytes of the next frame read ahead are moved), sizes are checked
 * against {@linkcode MAX_PROTO_SIZE}, the buffer grows with the bytes that arrive (not to
 * the size a header claims), and each body is handed out as a view.
 *
 * @module
 */

import type { AerobakError } from "../errors.ts";
import { MAX_PROTO_SIZE, PROTO_HEADER_SIZE, readProtoHeader } from "./proto.ts";
import { type Transport, TransportTimeout } from "./_transport.ts";

/** A frame: its proto type and body. */
export interface Frame {
  /** Proto type (1 info, 2 admin, 3 message, 4 compressed). */
  type: number;
  /** The body, a view valid until the next {@linkcode FrameReader.read}. */
  body: Uint8Array;
}

/** Time limits of one read. */
export interface ReadLimits {
  /** Longest wait for any bytes, in ms. */
  socketTimeoutMs: number;
  /** Absolute deadline (`Date.now()` ms) of the whole command; 0 = none. */
  deadline: number;
  /** The total timeout the deadline came from, in ms, for error messages. */
  totalTimeoutMs?: number;
}

/** Reports read failures; `FrameReader` stays free of node and command naming. */
export interface FrameErrorContext {
  /**
   * Builds the error for a failure, naming node and command.
   *
   * @param code The error code.
   * @param message What went wrong.
   * @param cause The underlying error, if any.
   * @param retriable Whether another attempt may succeed.
   * @returns The error to throw.
   */
  fail(code: string, message: string, cause?: unknown, retriable?: boolean): AerobakError;
}

// Enough for info and write replies (a batch write's reply is ~80 bytes a record); scan
// connections grow to their ~1 MiB frames on the first one. A restore keeps
// max-async-batches + 1 connections per node, so this is paid ~100 times.
const INITIAL_SIZE = 16 * 1024;
// Keep a grown buffer only up to this size; a rare huge frame must not pin its memory.
const KEEP_SIZE = 4 * 1024 * 1024;

// A frame read in parts (a scan's ~1 MiB replies) is read through a buffer of this size;
// only a single message larger than it grows the buffer.
const PART_SIZE = 128 * 1024;

/** Some of a frame's body, from {@linkcode FrameReader.readPart}. */
export interface FramePart {
  /** Proto type of the frame. */
  type: number;
  /** The frame's bytes read so far and not yet consumed: a view valid until the next read. */
  body: Uint8Array;
  /** The frame's bytes not yet consumed, these included (`body.length` for the last part). */
  left: number;
}

/** Reads frames from one {@linkcode Transport}. */
export class FrameReader {
  #src: Transport;
  #ctx: FrameErrorContext;
  #buf = new Uint8Array(INITIAL_SIZE);
  #start = 0;
  #end = 0;
  /** Of the frame being read in parts: its type and body bytes not consumed (0: none). */
  #partType = 0;
  #partLeft = 0;

  /**
   * Creates a reader over a transport.
   *
   * @param src The transport to read.
   * @param ctx Builds errors naming the node and command.
   */
  constructor(src: Transport, ctx: FrameErrorContext) {
    this.#src = src;
    this.#ctx = ctx;
  }

  /** Bytes read ahead of the last frame handed out (non-zero means a protocol desync). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Gives back a buffer grown past its initial size once nothing is buffered: a connection
   * idle in its pool must not pin a scan's ~1 MiB.
   */
  shrink(): void {
    if (this.#start === this.#end && this.#buf.length > INITIAL_SIZE) {
      this.#start = this.#end = 0;
      this.#buf = new Uint8Array(INITIAL_SIZE);
    }
  }

  /**
   * Reads the next frame.
   *
   * @param limits Socket timeout and overall deadline.
   * @returns The frame; its body is a view valid until the next call.
   * @throws {AerobakError} `PROTO_INVALID` (bad header), `SOCKET_TIMEOUT`, `TOTAL_TIMEOUT`,
   *   `CONNECTION_CLOSED` (end of stream, also mid-frame), `NETWORK_ERROR`.
   */
  async read(limits: ReadLimits): Promise<Frame> {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#buf.length > KEEP_SIZE) this.#buf = new Uint8Array(INITIAL_SIZE);
    }
    await this.#fill(PROTO_HEADER_SIZE, limits);
    const header = this.#header();
    const total = PROTO_HEADER_SIZE + header.size;
    await this.#fill(total, limits);
    return this.#take(header.type, header.size);
  }

  /**
   * Reads some of a frame, for a reply whose messages are handled where they land: the
   * next frame's start, or more of the frame begun, at least `need` bytes of it past what
   * was consumed (or all it has left). Call {@linkcode consume} with how many bytes were
   * handled before the next call; the rest is handed out again with more behind it.
   *
   * @param limits Socket timeout and overall deadline.
   * @param need Bytes wanted from the first one not consumed (capped at what the frame has
   *   left); more may be given.
   * @returns The part.
   * @throws {AerobakError} As {@linkcode read}.
   */
  async readPart(limits: ReadLimits, need: number): Promise<FramePart> {
    if (this.#partLeft === 0) {
      if (this.#start === this.#end) {
        this.#start = this.#end = 0;
        if (this.#buf.length > KEEP_SIZE) this.#buf = new Uint8Array(PART_SIZE);
      }
      await this.#fill(PROTO_HEADER_SIZE, limits);
      const header = this.#header();
      this.#start += PROTO_HEADER_SIZE;
      this.#partType = header.type;
      this.#partLeft = header.size;
      if (header.size === 0) return { type: header.type, body: this.#buf.subarray(0, 0), left: 0 };
    }
    if (this.#buf.length < PART_SIZE) {
      const grown = new Uint8Array(PART_SIZE);
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = grown;
    }
    const left = this.#partLeft;
    const want = Math.min(Math.max(need, 1), left);
    if (this.#end - this.#start < want && this.#start > this.#buf.length >> 1) {
      // The cut message goes to the front, so the next socket read can fill the buffer.
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    await this.#fill(want, limits);
    const n = Math.min(this.#end - this.#start, left);
    return { type: this.#partType, body: this.#buf.subarray(this.#start, this.#start + n), left };
  }

  /**
   * Marks bytes of the part handed out by {@linkcode readPart} as handled.
   *
   * @param n Bytes from the part's start (at most its length).
   */
  consume(n: number): void {
    this.#start += n;
    this.#partLeft -= n;
  }

  /**
   * Hands out the next frame if it was already read whole: how a run of pipelined frames
   * (XDR shipments, replies to pipelined requests) is taken without a promise each.
   *
   * @returns The frame (its body a view valid until the next read), or `undefined` when
   *   more bytes must be read first: then call {@linkcode read}.
   * @throws {AerobakError} `PROTO_INVALID` for a bad header.
   */
  readBuffered(): Frame | undefined {
    if (this.#end - this.#start < PROTO_HEADER_SIZE) return undefined;
    const header = this.#header();
    if (this.#end - this.#start < PROTO_HEADER_SIZE + header.size) return undefined;
    return this.#take(header.type, header.size);
  }

  /** The header of the frame at `#start` (8 bytes are buffered). */
  #header(): { type: number; size: number } {
    try {
      return readProtoHeader(this.#buf, this.#start);
    } catch (err) {
      throw this.#ctx.fail("PROTO_INVALID", (err as Error).message, err, false);
    }
  }

  /** Hands out the frame at `#start` (buffered whole). */
  #take(type: number, size: number): Frame {
    const bodyStart = this.#start + PROTO_HEADER_SIZE;
    this.#start = bodyStart + size;
    return { type, body: this.#buf.subarray(bodyStart, bodyStart + size) };
  }

  /** Makes `need` bytes (≤ MAX_PROTO_SIZE + 8) available from `#start`. */
  async #fill(need: number, limits: ReadLimits): Promise<void> {
    if (this.#end - this.#start >= need) return;
    if (this.#start + need > this.#buf.length && this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    // A quarter of headroom over the frame that did not fit: scan frames are ~1 MiB give
    // or take a record, so the last step covers the next ones (growing 1.5× per frame
    // would leave every scan connection with ~1.6 MiB plus the dropped buffers).
    const target = Math.min(need + (need >> 2), MAX_PROTO_SIZE + 16);
    while (this.#end - this.#start < need) {
      if (this.#end === this.#buf.length) {
        // Grown as the bytes arrive, never at once to the size the header claims: a
        // damaged header costs no more memory than the bytes that came with it.
        const grown = new Uint8Array(Math.min(target, 2 * this.#buf.length));
        grown.set(this.#buf.subarray(0, this.#end));
        this.#buf = grown;
      }
      const timeoutMs = this.#timeout(limits);
      let n: number | null;
      try {
        n = await this.#src.read(this.#buf.subarray(this.#end), timeoutMs.ms);
      } catch (err) {
        if (err instanceof TransportTimeout) {
          throw timeoutMs.total
            ? this.#ctx.fail("TOTAL_TIMEOUT", `${totalPassed(limits)} while reading`, err, false)
            : this.#ctx.fail(
              "SOCKET_TIMEOUT",
              `no data for ${limits.socketTimeoutMs} ms while reading`,
              err,
              true,
            );
        }
        throw this.#ctx.fail("NETWORK_ERROR", `read failed: ${(err as Error).message}`, err, true);
      }
      if (n === null) {
        const have = this.#end - this.#start;
        throw this.#ctx.fail(
          "CONNECTION_CLOSED",
          have === 0
            ? "connection closed by the server"
            : `connection closed by the server after ${have} of ${need} bytes of a frame`,
          undefined,
          true,
        );
      }
      this.#end += n;
    }
  }

  #timeout(limits: ReadLimits): { ms: number; total: boolean } {
    if (limits.deadline > 0) {
      const left = limits.deadline - Date.now();
      if (left <= 0) {
        this.#src.close();
        throw this.#ctx.fail(
          "TOTAL_TIMEOUT",
          `${totalPassed(limits)} before reading`,
          undefined,
          false,
        );
      }
      if (left < limits.socketTimeoutMs) return { ms: left, total: true };
    }
    return { ms: limits.socketTimeoutMs, total: false };
  }
}

function totalPassed(limits: ReadLimits): string {
  return limits.totalTimeoutMs === undefined
    ? "total timeout passed"
    : `total timeout of ${limits.totalTimeoutMs} ms passed`;
}
