/**
 * ZSTD compression of backup files: one zstd stream per file, as both backup tools write.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { AerobakError } from "../errors.ts";
import { ENCRYPTION_HEADER_SIZE } from "./encryption.ts";
import { nodeTransformStream } from "./_node_transform.ts";
import { Xxh64 } from "./_xxh64.ts";
import { type FrameSink, ZstdFrameSplitter } from "./_zstd_frames.ts";

/** Compression modes of backup files. */
export type CompressionMode = "NONE" | "ZSTD";

/** How backup files are compressed (backup-go `CompressionPolicy`, CLI `-z`/`--compression-level`). */
export interface CompressionPolicy {
  /** `"NONE"` or `"ZSTD"`. */
  mode: CompressionMode;
  /**
   * zstd level, as libzstd (the C tool) reads it: 1 (fastest) to 22 (smallest), negative
   * levels for faster modes, 0 for libzstd's default (3).
   * @default {3}
   */
  level?: number;
}

/** Lowest zstd level libzstd accepts (`ZSTD_minCLevel()`). */
export const ZSTD_MIN_LEVEL: -131072 = -131072;
/** Highest zstd level libzstd accepts (`ZSTD_maxCLevel()`). */
export const ZSTD_MAX_LEVEL = 22;
/** Default zstd level (CLI `--compression-level`). */
export const ZSTD_DEFAULT_LEVEL = 3;

/** Options of {@linkcode createDecompressStream}. */
export interface DecompressOptions {
  /**
   * File name used in error messages.
   * @default {"<input>"}
   */
  file?: string;
  /**
   * Whether the input was decrypted first: damage then points at a wrong key too (rather
   * than a wrong `--compress`), and byte offsets in errors count the file's 16-byte counter
   * block, so they name bytes of the file as stored.
   * @default {false}
   */
  encrypted?: boolean;
}

function checkMode(policy: CompressionPolicy): void {
  if (policy.mode !== "NONE" && policy.mode !== "ZSTD") {
    throw new TypeError(
      `Cannot use compression mode "${String(policy.mode)}": expected NONE or ZSTD`,
    );
  }
}

/**
 * Creates the compressing stage of a backup file: the whole file is one zstd stream.
 *
 * Output is standard zstd (RFC 8878) that the `zstd` CLI, the C asrestore and backup-go read.
 *
 * @example Compress a line
 * ```ts
 * import { createCompressStream } from "./compression.ts";
 * const out = ReadableStream.from([new TextEncoder().encode("Version 3.1\n")])
 *   .pipeThrough(createCompressStream({ mode: "ZSTD", level: 3 }));
 * for await (const chunk of out) console.log(chunk.length);
 * ```
 *
 * @param policy Compression mode and level.
 * @returns A transform stream; for mode `"NONE"` one that passes chunks through.
 * @throws {TypeError} For an unknown mode.
 * @throws {RangeError} For a level outside -131072..22 or not an integer.
 */
export function createCompressStream(
  policy: CompressionPolicy,
): TransformStream<Uint8Array, Uint8Array> {
  return createCompressStage(policy).stream;
}

/** A compressing stage whose buffered input can be forced out; see {@linkcode createCompressStage}. */
export interface CompressStage {
  /** The stage itself, as {@linkcode createCompressStream} returns it. */
  readonly stream: TransformStream<Uint8Array, Uint8Array>;
  /**
   * Makes the compressor emit everything it has consumed so far as complete zstd blocks
   * (`ZSTD_e_flush`: the frame goes on, the output stays one standard stream). Call it
   * once every write into `stream` has settled. Does nothing for mode `"NONE"`.
   *
   * @returns Once the flushed bytes are enqueued on `stream.readable`.
   */
  flush(): Promise<void>;
  /**
   * Bytes enqueued on `stream.readable` so far.
   *
   * @returns The count.
   */
  outputBytes(): number;
}

/**
 * Creates a compressing stage that can be flushed, so a writer can learn the exact
 * compressed size of what it wrote so far (for `--file-limit` rollover).
 *
 * @example Flush to learn the compressed size so far
 * ```ts
 * import { createCompressStage } from "./compression.ts";
 * const stage = createCompressStage({ mode: "ZSTD" });
 * const drained = Array.fromAsync(stage.stream.readable);
 * const w = stage.stream.writable.getWriter();
 * await w.write(new TextEncoder().encode("Version 3.1\n".repeat(100)));
 * await stage.flush();
 * console.log(stage.outputBytes() > 0); // true
 * await w.close();
 * await drained;
 * ```
 *
 * @param policy Compression mode and level.
 * @returns The stage, its flush and its output count.
 * @throws {TypeError} For an unknown mode.
 * @throws {RangeError} For a level outside -131072..22 or not an integer.
 */
export function createCompressStage(policy: CompressionPolicy): CompressStage {
  checkMode(policy);
  let out = 0;
  if (policy.mode === "NONE") {
    return {
      stream: new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          out += chunk.length;
          controller.enqueue(chunk);
        },
      }),
      flush: () => Promise.resolve(),
      outputBytes: () => out,
    };
  }
  const level = policy.level ?? ZSTD_DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
    throw new RangeError(
      `Cannot use zstd compression level ${level}: expected an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}`,
    );
  }
  const z = zlib.createZstdCompress({
    chunkSize: 64 * 1024,
    params: { [zlib.constants.ZSTD_c_compressionLevel]: level },
  });
  const mapError = (err: Error) =>
    err instanceof AerobakError
      ? err
      : new AerobakError("ZSTD_ERROR", `Cannot compress: ${err.message}`, { cause: err });
  const stream = nodeTransformStream(z, {
    mapError,
    onOutput: (bytes) => {
      out += bytes.length;
    },
  });
  return {
    stream,
    flush: () =>
      new Promise<void>((resolve, reject) => {
        if (z.destroyed) {
          reject(new AerobakError("ZSTD_ERROR", "Cannot flush the compressor: it was closed"));
          return;
        }
        const onError = (err: Error) => reject(mapError(err));
        z.once("error", onError);
        // zlib emits the flushed output ("data", enqueued at once) before this callback.
        z.flush(() => {
          z.off("error", onError);
          resolve();
        });
      }),
    outputBytes: () => out,
  };
}

/**
 * Creates the decompressing stage of a restored file.
 *
 * Accepts any sequence of zstd frames, including the empty frame the C asbackup writes
 * after its data frame, and skippable frames; content checksums (backup-go writes them)
 * are verified. Input that stops inside a frame is an error.
 *
 * @param policy Compression mode the backup was written with.
 * @param options File name for messages.
 * @returns A transform stream; for mode `"NONE"` one that passes chunks through.
 * @throws {TypeError} For an unknown mode.
 * @throws {AerobakError} Through the stream, each naming the file and a byte offset in it:
 *   `ZSTD_CORRUPT` (not zstd, or a damaged frame or block header), `ZSTD_TRUNCATED` (ends
 *   inside a frame), `ZSTD_CHECKSUM` (content checksum mismatch), `ZSTD_ERROR` (the decoder
 *   found damaged data in a block); for decrypted input the message points at the key too.
 */
export function createDecompressStream(
  policy: CompressionPolicy,
  options: DecompressOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  checkMode(policy);
  if (policy.mode === "NONE") return new TransformStream();
  const file = options.file ?? "<input>";
  const encrypted = options.encrypted ?? false;
  // Offsets name bytes of the file: a decrypted stream starts after the counter block.
  const base = encrypted ? ENCRYPTION_HEADER_SIZE : 0;
  const splitter = new ZstdFrameSplitter(file, encrypted, base);
  const z = zlib.createZstdDecompress({ chunkSize: 64 * 1024 });
  const hasher = new Xxh64();
  let hashing = false;
  let frameOffset = base;
  /** File offset of the first byte whose block the decoder has not finished yet. */
  let blockOffset = base;
  let digest = 0;
  // What the splitter found in the current chunk, replayed in order with awaits.
  type Event =
    | { bytes: Uint8Array; end: "block" | "frame" | null; next: number }
    | { checksum: number }
    | { start: boolean; offset: number };
  let events: Event[] = [];
  const sink: FrameSink = {
    data: (bytes, end, next) => events.push({ bytes, end, next }),
    frameStart: (hasChecksum, offset) => events.push({ start: hasChecksum, offset }),
    checksum: (value) => events.push({ checksum: value }),
  };
  const cause = encrypted ? "damaged file or wrong encryption key?" : "damaged file?";
  return nodeTransformStream(z, {
    mapError: (err) =>
      new AerobakError(
        "ZSTD_ERROR",
        `Cannot decompress ${file}: ${
          err.message.replace(/^Zstd decompress error: /, "")
        } in the zstd block at byte ${blockOffset} (${cause})`,
        { cause: err, location: { file, offset: blockOffset } },
      ),
    // Writes end at block ends (see _zstd_frames.ts: damage must be found while the decoder
    // works on the write it was given) and a frame's output is complete when its last write
    // settles (Deno's decoder loses input after a frame end).
    async feed(chunk, write) {
      events = [];
      splitter.push(chunk, sink);
      const pending: Promise<void>[] = [];
      for (const e of events) {
        if ("bytes" in e) {
          pending.push(write(e.bytes));
          if (e.end === null) continue;
          await Promise.all(pending);
          pending.length = 0;
          blockOffset = e.next;
          if (e.end === "frame" && hashing) digest = hasher.digest32();
        } else if ("start" in e) {
          hashing = e.start;
          frameOffset = e.offset;
          if (hashing) hasher.reset();
        } else if (e.checksum !== digest) {
          throw new AerobakError(
            "ZSTD_CHECKSUM",
            `Cannot decompress ${file}: the content checksum of the frame at byte ${frameOffset} does not match (${cause})`,
            { location: { file, offset: frameOffset } },
          );
        }
      }
      await Promise.all(pending);
    },
    onOutput: (bytes) => {
      if (hashing) hasher.update(bytes);
    },
    beforeEnd: () => splitter.finish(),
  });
}
