/**
 * Incremental zstd frame splitter (RFC 8878 §3.1).
 *
 * Deno's `node:zlib` zstd decompressor drops whatever follows the end of a frame inside the
 * same input chunk, and it ends silently on a truncated frame. This splitter walks the frame
 * structure (headers and block sizes only, never the compressed content) so the caller can
 * hand the decompressor input that ends exactly at frame boundaries, skip skippable frames
 * and report a stream that stops mid-frame. Content checksums are taken out of the frames
 * (flag cleared, 4 bytes withheld) and handed to the caller to verify: Deno's decoder throws
 * a checksum mismatch as an uncaught exception instead of an error event.
 *
 * Frame data is also cut at block ends. Deno's decoder reports damage as an error event only
 * while it works on the input of the write it was given; when one write holds more output
 * than its 64 KiB buffer, it goes on from a `process.nextTick` callback, and damage found
 * there is thrown from that callback: an uncaught exception no caller can catch. A write
 * that ends with a block decodes that block in its first step (later steps only copy the
 * decoded block out), so writes cut at block ends keep every decoding error an event.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const MAX_BLOCK_SIZE = 128 * 1024;

const enum State {
  Magic,
  Descriptor,
  HeaderRest,
  BlockHeader,
  BlockBody,
  Checksum,
  SkipSize,
  SkipBody,
  /** The frame is complete; reset before the next byte. */
  Done,
}

/** Receives what the splitter finds, in input order. */
export interface FrameSink {
  /**
   * Bytes of a zstd frame to decompress, never running past the end of a block.
   *
   * @param bytes The bytes.
   * @param end `"block"` when `bytes` ends a block that more blocks of the frame follow,
   *   `"frame"` when it ends the frame's compressed data (its checksum, if any, follows
   *   through `checksum`), `null` otherwise.
   * @param next Offset in the input of the byte after `bytes`.
   */
  data(bytes: Uint8Array, end: "block" | "frame" | null, next: number): void;
  /** A frame starts at `offset`; `hasChecksum` tells whether it declares a content checksum. */
  frameStart(hasChecksum: boolean, offset: number): void;
  /** The content checksum of the frame just ended (low 32 bits of XXH64). */
  checksum(value: number): void;
}

/** Splits a byte stream into zstd frames; see the module doc. */
export class ZstdFrameSplitter {
  #file: string;
  #state = State.Magic;
  /** Bytes still needed by the current state. */
  #need = 4;
  /**
   * Header bytes collected across chunks (magic and descriptor, the rest of the frame
   * header: up to 1 + 4 + 8 bytes, a block header, sizes).
   */
  #hdr = new Uint8Array(16);
  #hdrLen = 0;
  #lastBlock = false;
  #checksum = false;
  /** Offset in the whole input of the first byte of the current chunk. */
  #offset = 0;
  #frameStart = 0;
  /** Whether the bytes of the current frame are passed on (false inside skippable frames). */
  #emitting = false;
  /** Set when a block ended and another block of the same frame follows. */
  #blockEnded = false;

  #encrypted: boolean;
  #base: number;

  /**
   * Creates a splitter.
   *
   * @param file File name used in error messages.
   * @param encrypted Whether the input was decrypted first (so a bad start means a bad key).
   * @param base Offset in the file of the first input byte (the encryption header's size
   *   for a decrypted file), added to the offsets in messages and locations.
   */
  constructor(file: string, encrypted = false, base = 0) {
    this.#file = file;
    this.#encrypted = encrypted;
    this.#offset = base;
    this.#frameStart = base;
    this.#base = base;
  }

  /** Whether the input so far ends exactly at a frame boundary. */
  get atBoundary(): boolean {
    return this.#state === State.Magic && this.#hdrLen === 0;
  }

  /**
   * Consumes one chunk and passes the zstd frame bytes in it to `sink`.
   *
   * @param chunk Next input bytes.
   * @param sink Receives frame bytes; every frame end is reported with `frameEnd = true`.
   * @throws {AerobakError} `ZSTD_CORRUPT` when the input is not a sequence of zstd frames.
   */
  push(chunk: Uint8Array, sink: FrameSink): void {
    let i = 0;
    let emitStart = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#state === State.BlockBody || this.#state === State.SkipBody) {
        const take = Math.min(this.#need, n - i);
        i += take;
        this.#need -= take;
        if (this.#need === 0) {
          if (this.#state === State.BlockBody) this.#afterBlock();
          else this.#state = State.Done;
        }
      } else {
        const take = Math.min(this.#need, n - i);
        this.#hdr.set(chunk.subarray(i, i + take), this.#hdrLen);
        this.#hdrLen += take;
        this.#need -= take;
        i += take;
        if (this.#need === 0) {
          if (this.#state === State.Magic) {
            this.#onMagic();
          } else if (this.#state === State.Descriptor) {
            // Magic and descriptor were collected on the side: pass them on, checksum flag cleared.
            this.#onDescriptor(sink);
            emitStart = i;
          } else if (this.#state === State.Checksum) {
            const h = this.#hdr;
            sink.checksum((h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0);
            this.#state = State.Done;
          } else {
            this.#onHeader();
          }
        }
      }
      if (this.#blockEnded) {
        this.#blockEnded = false;
        if (this.#emitting) sink.data(chunk.subarray(emitStart, i), "block", this.#offset + i);
        emitStart = i;
      }
      if (this.#state === State.Checksum && this.#emitting) {
        // Compressed data complete: the decoder gets the frame without its checksum.
        sink.data(chunk.subarray(emitStart, i), "frame", this.#offset + i);
        this.#emitting = false;
        this.#hdrLen = 0;
      }
      if (this.#state === State.Done) {
        if (this.#emitting) sink.data(chunk.subarray(emitStart, i), "frame", this.#offset + i);
        emitStart = i;
        this.#startFrame(this.#offset + i);
      }
    }
    if (this.#emitting && emitStart < n) {
      sink.data(chunk.subarray(emitStart, n), null, this.#offset + n);
    }
    this.#offset += n;
  }

  /**
   * Checks that the input ended at a frame boundary.
   *
   * @throws {AerobakError} `ZSTD_TRUNCATED` when it stopped inside a frame.
   */
  finish(): void {
    if (!this.atBoundary) {
      throw new AerobakError(
        "ZSTD_TRUNCATED",
        `Cannot decompress ${this.#file}: the zstd stream ends inside the frame that starts at byte ${this.#frameStart} (file truncated?)`,
        { location: { file: this.#file, offset: this.#offset } },
      );
    }
  }

  #startFrame(offset: number): void {
    this.#state = State.Magic;
    this.#need = 4;
    this.#hdrLen = 0;
    this.#frameStart = offset;
    this.#emitting = false;
  }

  #onMagic(): void {
    const h = this.#hdr;
    const magic = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
    if (magic === ZSTD_MAGIC) {
      // Keep the magic in #hdr: it is passed on together with the descriptor.
      this.#state = State.Descriptor;
      this.#need = 1;
      return;
    }
    if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      this.#state = State.SkipSize;
      this.#need = 4;
      this.#hdrLen = 0;
      return;
    }
    throw this.#corrupt(
      `expected a zstd frame magic number at byte ${this.#frameStart}, found 0x${
        magic.toString(16).padStart(8, "0")
      } (${this.#badMagicHint(h)})`,
    );
  }

  /** The likely cause of a missing magic number, for the message. */
  #badMagicHint(h: Uint8Array): string {
    if (this.#frameStart > this.#base) return "damaged file?";
    if (this.#encrypted) return "wrong encryption key or --encrypt mode?";
    // "Vers": a plain ASB file.
    if (h[0] === 0x56 && h[1] === 0x65 && h[2] === 0x72 && h[3] === 0x73) {
      return "the file is not compressed: drop --compress?";
    }
    return "not zstd: an encrypted file restored without --encrypt, or not compressed?";
  }

  #onDescriptor(sink: FrameSink): void {
    const d = this.#hdr[4];
    if (d & 0x08) {
      throw this.#corrupt(`reserved bit set in the frame header at byte ${this.#frameStart}`);
    }
    const fcsFlag = d >> 6;
    const singleSegment = (d >> 5) & 1;
    const dictFlag = d & 3;
    this.#checksum = ((d >> 2) & 1) === 1;
    sink.frameStart(this.#checksum, this.#frameStart);
    const head = this.#hdr.slice(0, 5);
    head[4] = d & ~0x04;
    sink.data(head, null, this.#frameStart + 5);
    this.#emitting = true;
    const fcsSize = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
    const rest = (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictFlag] + fcsSize;
    this.#hdrLen = 0;
    if (rest > 0) {
      this.#state = State.HeaderRest;
      this.#need = rest;
    } else {
      this.#state = State.BlockHeader;
      this.#need = 3;
    }
  }

  #onHeader(): void {
    const h = this.#hdr;
    switch (this.#state) {
      case State.HeaderRest:
        this.#hdrLen = 0;
        this.#state = State.BlockHeader;
        this.#need = 3;
        return;
      case State.BlockHeader: {
        const v = h[0] | (h[1] << 8) | (h[2] << 16);
        this.#hdrLen = 0;
        this.#lastBlock = (v & 1) === 1;
        const type = (v >> 1) & 3;
        const size = v >>> 3;
        if (type === 3) {
          throw this.#corrupt(`reserved block type in the frame at byte ${this.#frameStart}`);
        }
        if (size > MAX_BLOCK_SIZE) {
          throw this.#corrupt(
            `block of ${size} bytes exceeds 128 KiB in the frame at byte ${this.#frameStart}`,
          );
        }
        const body = type === 1 ? 1 : size;
        this.#state = State.BlockBody;
        this.#need = body;
        // An empty raw block (the C tool's trailing empty frame) has no body to wait for.
        if (body === 0) this.#afterBlock();
        return;
      }
      case State.SkipSize: {
        this.#need = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
        this.#hdrLen = 0;
        this.#state = this.#need === 0 ? State.Done : State.SkipBody;
        return;
      }
    }
  }

  /** Moves on after a block body: next block header, checksum, or end of frame. */
  #afterBlock(): void {
    if (!this.#lastBlock) {
      this.#state = State.BlockHeader;
      this.#need = 3;
      this.#blockEnded = true;
    } else {
      this.#state = this.#checksum ? State.Checksum : State.Done;
      this.#need = this.#checksum ? 4 : 0;
    }
  }

  #corrupt(what: string): AerobakError {
    return new AerobakError("ZSTD_CORRUPT", `Cannot decompress ${this.#file}: ${what}`, {
      location: { file: this.#file, offset: this.#frameStart },
    });
  }
}
