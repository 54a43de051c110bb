/**
 * The byte path of one backup file: compress → encrypt → count → storage on write, and
 * count → decrypt → decompress on read.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { AerobakError } from "../errors.ts";
import {
  type CompressionPolicy,
  createCompressStage,
  createDecompressStream,
} from "./compression.ts";
import { createDecryptStream, createEncryptStream, ENCRYPTION_HEADER_SIZE } from "./encryption.ts";
import { type BackupFormat, createHeaderCheckStream } from "./header_check.ts";
import type { StorageWriter } from "./storage.ts";

/** Options of {@linkcode openFileChain}. */
export interface FileChainOptions {
  /**
   * Compression of the file.
   * @default {{ mode: "NONE" }}
   */
  compression?: CompressionPolicy;
  /** AES key (16 or 32 bytes) from `loadEncryptionKey`; no encryption when absent. */
  encryptionKey?: Uint8Array;
}

/** One open backup file, as {@linkcode openFileChain} returns it. */
export interface FileChain {
  /** Encoded (plain) bytes go in here. Prefer {@linkcode FileChain.close} to closing it. */
  readonly writable: WritableStream<Uint8Array>;
  /** Path or label of the file, for messages. */
  readonly path: string;
  /**
   * Whether the chain is done with a chunk once its write into `writable` settles, so the
   * writer may reuse the chunk's buffer: a file without compression or encryption whose
   * storage {@linkcode StorageWriter.consumesWrites}.
   */
  readonly consumesWrites: boolean;
  /**
   * Bytes that reached the storage so far (after compression and encryption): the size the
   * file has on disk, used for `--file-limit` rollover. It may trail the writes by the few
   * chunks in flight inside the chain (and the compressor's buffer, up to a 128 KiB zstd
   * block); after {@linkcode FileChain.sync} it counts everything written so far, and after
   * `close()` it is the exact file size.
   *
   * @returns Bytes stored so far.
   */
  bytesWritten(): number;
  /**
   * The SHA-256 of the bytes stored so far (after compression and encryption), in hex:
   * after `close()`, the checksum of the whole file as it is on storage (what a backup
   * manifest records).
   *
   * @returns 64 lowercase hex digits.
   */
  sha256(): string;
  /**
   * Makes {@linkcode FileChain.bytesWritten} exact for everything written so far: flushes
   * the compressor (a zstd block boundary, not a new frame) and waits until its output
   * passed encryption into the storage. Closing adds at most the zstd frame end (3 bytes).
   * Call it once every write into `writable` has settled. A writer near its file limit
   * uses it to decide the rollover on the real size.
   *
   * @returns Once `bytesWritten()` counts every byte written so far.
   */
  sync(): Promise<void>;
  /**
   * Flushes every stage and closes the file.
   *
   * @returns Once the storage holds every byte.
   */
  close(): Promise<void>;
  /**
   * Stops writing and closes the file as it is (for a failed job).
   *
   * @param reason Why.
   */
  abort(reason?: unknown): Promise<void>;
}

/**
 * Creates a stage that counts the bytes passing through.
 *
 * @returns The stage and a function reading the count.
 */
export function createByteCounter(): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  count(): number;
} {
  let n = 0;
  return {
    stream: new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        n += chunk.length;
        controller.enqueue(chunk);
      },
    }),
    count: () => n,
  };
}

/**
 * Opens a backup file through its compression and encryption stages.
 *
 * The file is created lazily, on the first write into `writable` (as backup-go's lazy
 * writer): a chain closed without data leaves no file behind.
 *
 * @example
 * ```ts
 * import { DirectoryWriter, openFileChain } from "./mod.ts";
 * const storage = new DirectoryWriter("/tmp/bk", { removeFiles: true });
 * const chain = openFileChain(storage, "test_1.asb", { compression: { mode: "ZSTD" } });
 * const w = chain.writable.getWriter();
 * await w.write(new TextEncoder().encode("Version 3.1\n# namespace test\n"));
 * w.releaseLock();
 * await chain.close();
 * console.log(chain.bytesWritten());
 * ```
 *
 * @param storage Where the file goes.
 * @param name File name (directory storage) or ignored (single file, stdout).
 * @param options Compression policy and encryption key.
 * @returns The open chain.
 * @throws {AerobakError} Through writes/close: storage errors naming the path
 *   (`STORAGE_WRITE`, `STORAGE_NOT_EMPTY`), `ZSTD_ERROR`.
 */
export function openFileChain(
  storage: StorageWriter,
  name: string,
  options: FileChainOptions = {},
): FileChain {
  // Build the stages now so bad options fail at once, not at the first write.
  const compress = createCompressStage(options.compression ?? { mode: "NONE" });
  const encrypt = options.encryptionKey ? createEncryptStream(options.encryptionKey) : undefined;
  const path = storage.describe(name);
  // Bytes on their way to storage (counted and hashed), and sync() callers waiting for a
  // count.
  let written = 0;
  const hash = createHash("sha256");
  const waiters: { bytes: number; resolve(): void; reject(err: unknown): void }[] = [];
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      written += chunk.length;
      hash.update(chunk);
      controller.enqueue(chunk);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].bytes <= written) waiters.splice(i, 1)[0].resolve();
      }
    },
  });
  let head: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let piped: Promise<void> | undefined;
  let pipeError: unknown;
  let started: Promise<void> | undefined;
  // Without compression or encryption the chunks go to the storage's sink as they are, and
  // a write settles when the sink's does.
  const plain = (options.compression?.mode ?? "NONE") === "NONE" && encrypt === undefined;
  let direct: WritableStreamDefaultWriter<Uint8Array> | undefined;

  function start(): Promise<void> {
    started ??= (async () => {
      const sink = await storage.open(name);
      if (plain) {
        direct = sink.getWriter();
        return;
      }
      let readable = compress.stream.readable;
      if (encrypt) readable = readable.pipeThrough(encrypt);
      piped = readable.pipeThrough(counter).pipeTo(sink).catch(
        (err) => {
          pipeError ??= err;
          for (const w of waiters.splice(0)) w.reject(failure(err));
          throw err;
        },
      );
      piped.catch(() => {}); // surfaced through write/close
      head = compress.stream.writable.getWriter();
    })();
    return started;
  }

  function failure(err: unknown): unknown {
    const e = pipeError ?? err;
    return e instanceof AerobakError
      ? e
      : new AerobakError("STORAGE_WRITE", `Cannot write ${path}: ${(e as Error)?.message ?? e}`, {
        cause: e,
      });
  }

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      await start();
      if (direct !== undefined) {
        written += chunk.length;
        hash.update(chunk);
        try {
          await direct.ready;
          await direct.write(chunk);
        } catch (err) {
          throw failure(err);
        }
        return;
      }
      try {
        await head!.ready;
        await head!.write(chunk);
      } catch (err) {
        throw failure(err);
      }
      if (pipeError) throw failure(pipeError);
    },
    async close() {
      if (!started) return;
      await started;
      try {
        if (direct !== undefined) return await direct.close();
        await head!.close();
        await piped;
      } catch (err) {
        throw failure(err);
      }
    },
    async abort(reason) {
      if (!started) return;
      await started.catch(() => {});
      if (direct) await direct.abort(reason).catch(() => {});
      if (head) await head.abort(reason).catch(() => {});
      await piped?.catch(() => {});
    },
  });

  return {
    writable,
    path,
    consumesWrites: plain && storage.consumesWrites === true,
    bytesWritten: () => written,
    // A copy: the hash goes on taking the bytes written after the call.
    sha256: () => hash.copy().digest("hex"),
    async sync() {
      if (!started) return;
      await started;
      // A plain chain counts each chunk as its sink takes it.
      if (direct !== undefined) return;
      if (pipeError) throw failure(pipeError);
      try {
        await compress.flush();
      } catch (err) {
        throw failure(err);
      }
      const bytes = compress.outputBytes() + (encrypt ? ENCRYPTION_HEADER_SIZE : 0);
      if (written >= bytes) return;
      if (pipeError) throw failure(pipeError);
      await new Promise<void>((resolve, reject) => waiters.push({ bytes, resolve, reject }));
    },
    async close() {
      if (writable.locked) {
        throw new TypeError(
          `Cannot close the chain of ${path}: release the writer of its writable first`,
        );
      }
      await writable.close();
    },
    async abort(reason?: unknown) {
      if (writable.locked) return;
      await writable.abort(reason);
    },
  };
}

/** Options of {@linkcode openReadChain}. */
export interface ReadChainOptions {
  /**
   * Compression the file was written with.
   * @default {{ mode: "NONE" }}
   */
  compression?: CompressionPolicy;
  /** AES key when the file is encrypted. */
  encryptionKey?: Uint8Array;
  /**
   * File name for messages.
   * @default {"<input>"}
   */
  file?: string;
  /**
   * Check that the decoded bytes start like this format (see `createHeaderCheckStream`);
   * `false` skips the check.
   * @default {false}
   */
  checkHeader?: BackupFormat | false;
  /**
   * Hash the stored bytes as they are read ({@linkcode ReadChain.sha256}), to check a file
   * against its manifest.
   * @default {false}
   */
  sha256?: boolean;
}

/** A decoded file, as {@linkcode openReadChain} returns it. */
export interface ReadChain {
  /** Plain (decrypted, decompressed) bytes. */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Counts the bytes read from storage so far.
   *
   * @returns Bytes before decryption and decompression.
   */
  bytesRead(): number;
  /**
   * The SHA-256 of the stored bytes read so far, in hex (the whole file's once `readable`
   * has ended); `undefined` unless {@linkcode ReadChainOptions.sha256} was set.
   *
   * @returns 64 lowercase hex digits, or `undefined`.
   */
  sha256(): string | undefined;
}

/**
 * Decodes a stored backup file: decrypt → decompress (→ optional header check).
 *
 * @example
 * ```ts
 * import { FileListReader, openReadChain } from "./mod.ts";
 * const reader = new FileListReader(["/tmp/bk/test_1.asb"]);
 * for await (const entry of reader.list()) {
 *   const chain = openReadChain(await reader.open(entry), { compression: { mode: "ZSTD" }, file: entry.path, checkHeader: "asb" });
 *   for await (const chunk of chain.readable) console.log(chunk.length);
 * }
 * ```
 *
 * @param stream The stored bytes.
 * @param options Compression, key, file name and header check.
 * @returns The decoded stream and a byte count.
 * @throws {AerobakError} Through the stream: `ENCRYPTION_TRUNCATED`, `ZSTD_CORRUPT`,
 *   `ZSTD_TRUNCATED`, `ZSTD_ERROR`, `BACKUP_HEADER_INVALID`, each naming the file.
 */
export function openReadChain(
  stream: ReadableStream<Uint8Array>,
  options: ReadChainOptions = {},
): ReadChain {
  const file = options.file ?? "<input>";
  const counter = createByteCounter();
  let out = stream.pipeThrough(counter.stream);
  const hash = options.sha256 ? createHash("sha256") : undefined;
  if (hash) {
    out = out.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hash.update(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
  }
  if (options.encryptionKey) {
    out = out.pipeThrough(createDecryptStream(options.encryptionKey, { file }));
  }
  out = out.pipeThrough(
    createDecompressStream(options.compression ?? { mode: "NONE" }, {
      file,
      encrypted: options.encryptionKey !== undefined,
    }),
  );
  if (options.checkHeader) {
    out = out.pipeThrough(
      createHeaderCheckStream({
        file,
        format: options.checkHeader,
        encrypted: options.encryptionKey !== undefined,
      }),
    );
  }
  return {
    readable: out,
    bytesRead: counter.count,
    sha256: () => hash?.copy().digest("hex"),
  };
}
