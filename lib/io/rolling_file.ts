/**
 * A size-limited rolling file writer: the file sequence of one backup writer (ASB or ASBX).
 *
 * Entities are encoded into one reusable buffer, handed to the current file's chain
 * (compress → encrypt → count → storage, {@linkcode openFileChain}) in blocks, and the
 * file is closed and the next one opened once it holds the file limit on storage: backup-go's
 * `sized.Writer` rule, "before each write, if the bytes already written to the storage for
 * this file (after compression and encryption) reach the limit, roll over".
 *
 * The stored size trails the writes while a compressor holds input (up to a 128 KiB zstd
 * block), so deciding on it alone lets a file overshoot by that much. Instead, an upper
 * bound of the stored size (the exact size at the last sync plus what the bytes handed over
 * since can at most become) is checked before every entity; only when it reaches the limit
 * is the chain synced ({@linkcode FileChain.sync}: a zstd block flush, not a new frame) and
 * the decision taken on the exact size. The bound closes in on the limit geometrically, so
 * a file sees a few dozen syncs at most (about log(limit / entity) / log(r / (r - 1)) at
 * compression ratio r), none far from the limit, and never one per entity.
 *
 * Bound: a rolled-over file holds at least `fileLimit` bytes and less than
 * `fileLimit + e + 3·⌈e / 131072⌉ + 64`, where `e` is the encoded size of its last entity
 * (zstd adds at most 3 bytes per 128 KiB block to incompressible input; the 64 bytes cover
 * the zstd frame header and end and the 16-byte AES counter block).
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import { AerobakError } from "../errors.ts";
import type { CompressionPolicy } from "./compression.ts";
import { BufferPool } from "./_buffer_pool.ts";
import { type FileChain, openFileChain } from "./file_chain.ts";
import type { StorageWriter } from "./storage.ts";

/** Default size of the blocks handed to a file's chain. */
const DEFAULT_FLUSH_SIZE = 64 * 1024;
/** Largest zstd block; incompressible input grows by a 3-byte header per block. */
const ZSTD_BLOCK_SIZE = 128 * 1024;
const ZSTD_BLOCK_HEADER = 3;
/** Frame header (≤ 18) and end (≤ 7) of zstd, AES counter block (16), rounded up. */
const FRAMING_SLACK = 64;

/** A file about to be opened, as {@linkcode RollingFileOptions.nextFile} names it. */
export interface RollingFileStart {
  /** File name given to the storage. */
  name: string;
  /** Bytes written first into the file (its format header), if any. */
  header?: Uint8Array;
}

/**
 * Encodes one entity into the writer's buffer.
 *
 * @param buf The buffer (append only; do not reset).
 * @param item The entity.
 * @returns Bytes appended (reported to the caller, e.g. for a bandwidth limit).
 */
export type EncodeInto<T> = (buf: ByteWriter, item: T) => number;

/** Options of {@linkcode RollingFileWriter}. */
export interface RollingFileOptions {
  /** Where the files go. */
  storage: StorageWriter;
  /**
   * Names the next file and gives its header; called once per file, when it opens (on the
   * first write after the previous one closed).
   *
   * @returns The file's name and header (or a promise of them, when another thread names
   *   the files).
   */
  nextFile(): RollingFileStart | Promise<RollingFileStart>;
  /**
   * Roll over to a new file once a file holds this many bytes on storage (after
   * compression and encryption); 0 = never.
   *
   * @default {0}
   */
  fileLimit?: number;
  /**
   * Compression of every file.
   *
   * @default {{ mode: "NONE" }}
   */
  compression?: Readonly<CompressionPolicy>;
  /** AES key (16 or 32 bytes), when encrypting; no encryption when absent. */
  encryptionKey?: Uint8Array;
  /**
   * Called when a file is opened, before any byte of it reaches the storage.
   *
   * @param name The file's name.
   */
  onOpen?(name: string): Promise<void> | void;
  /**
   * Called when a file is closed, with its size and checksum on storage.
   *
   * @param name The file's name.
   * @param bytes Its size after compression and encryption.
   * @param sha256 The SHA-256 of those stored bytes, in hex.
   */
  onClose?(name: string, bytes: number, sha256: string): Promise<void> | void;
  /**
   * Encoded bytes are handed to the file's chain in blocks of at least this size.
   *
   * @default {65536}
   */
  flushSize?: number;
}

interface OpenFile {
  name: string;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  chain: FileChain;
}

/**
 * Writes encoded entities to a sequence of files: opens a file (through
 * {@linkcode RollingFileOptions.nextFile}) on the first write, writes its header first,
 * and closes it and opens the next once it has reached the file limit on storage. A writer
 * that is never written to creates no file. See the module doc for the size bound.
 *
 * @example Roll plain files over at 100 bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirectoryWriter, RollingFileWriter } from "./mod.ts";
 * import type { ByteWriter } from "../aerospike/byte_writer.ts";
 * const dir = await Deno.makeTempDir();
 * let n = 0;
 * const files = new RollingFileWriter({
 *   storage: new DirectoryWriter(dir),
 *   nextFile: () => ({ name: `part_${++n}.txt`, header: new TextEncoder().encode("# part\n") }),
 *   fileLimit: 100,
 * });
 * const line = (buf: ByteWriter, text: string) => {
 *   const at = buf.length;
 *   buf.utf8(`${text}\n`);
 *   return buf.length - at;
 * };
 * for (let i = 0; i < 30; i++) await files.write(line, `line ${i}`);
 * await files.close();
 * assert.equal(files.filesOpened, 3);
 * assert.equal(Deno.readTextFileSync(`${dir}/part_2.txt`).slice(0, 15), "# part\nline 13\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RollingFileWriter {
  readonly #storage: StorageWriter;
  readonly #nextFile: () => RollingFileStart | Promise<RollingFileStart>;
  readonly #limit: number;
  readonly #compression: Readonly<CompressionPolicy>;
  readonly #encryptionKey?: Uint8Array;
  readonly #onOpen?: (name: string) => Promise<void> | void;
  readonly #onClose?: (name: string, bytes: number, sha256: string) => Promise<void> | void;
  readonly #flushSize: number;
  readonly #buf: ByteWriter;
  /** Blocks on their way to a chain that says when it is done with them. */
  readonly #spares: BufferPool;
  #file?: OpenFile;
  #error: unknown = undefined;
  #closed = false;
  // Rollover bookkeeping of the open file: its exact size at the last sync, the encoded
  // bytes handed to its chain since, and the last write (a barrier before a sync).
  #syncedBytes = 0;
  #handedSinceSync = 0;
  #lastWrite: Promise<void> = Promise.resolve();
  /** The hand-offs of buffered blocks to the open file's chain, in order. */
  #handoff: Promise<void> = Promise.resolve();
  #pendingHandoffs = 0;
  #filesOpened = 0;
  /** Whether {@linkcode prepare} ran since the last {@linkcode tryWrite}. */
  #prepared = false;
  #preparing?: Promise<void>;
  #closedBytes = 0;
  #syncs = 0;

  /**
   * Creates a writer; nothing is opened until the first write.
   *
   * @param options Storage, naming callback, limit, compression, key, hooks.
   * @throws {RangeError} For a negative or non-finite `fileLimit`, or a `flushSize` below 1.
   */
  constructor(options: RollingFileOptions) {
    const limit = options.fileLimit ?? 0;
    if (!Number.isFinite(limit) || limit < 0) {
      throw new RangeError(`Invalid file limit ${limit}: expected a number of bytes >= 0`);
    }
    const flushSize = options.flushSize ?? DEFAULT_FLUSH_SIZE;
    if (!Number.isInteger(flushSize) || flushSize < 1) {
      throw new RangeError(`Invalid flush size ${flushSize}: expected an integer >= 1`);
    }
    this.#storage = options.storage;
    this.#nextFile = options.nextFile;
    this.#limit = limit;
    this.#compression = options.compression ?? { mode: "NONE" };
    this.#encryptionKey = options.encryptionKey;
    this.#onOpen = options.onOpen;
    this.#onClose = options.onClose;
    this.#flushSize = flushSize;
    this.#buf = new ByteWriter(flushSize + 4096);
    // A plain chain takes one block at a time: two in flight and one filling suffice.
    this.#spares = new BufferPool(flushSize + 4096, 4);
  }

  /** Bytes on storage of the file currently open (0 when none); may trail the writes. */
  get openBytes(): number {
    return this.#file ? this.#file.chain.bytesWritten() : 0;
  }

  /** Name of the file currently open. */
  get openFileName(): string | undefined {
    return this.#file?.name;
  }

  /** Files opened so far. */
  get filesOpened(): number {
    return this.#filesOpened;
  }

  /** Bytes on storage of the files closed so far. */
  get closedBytes(): number {
    return this.#closedBytes;
  }

  /** Chain syncs taken to decide rollovers on the exact size (a measure of the flush policy). */
  get syncs(): number {
    return this.#syncs;
  }

  /**
   * Encodes one entity into the current file, opening or rolling over first when needed.
   *
   * @param encode Appends the entity to the buffer (pass a function made once, not a new
   *   closure per entity: this is the hot path).
   * @param item The entity.
   * @returns What `encode` returned; a promise only when a file had to be opened, closed,
   *   synced or flushed.
   * @throws {AerobakError} `WRITER_CLOSED` after {@linkcode RollingFileWriter.close};
   *   `STORAGE_WRITE` naming the file when it cannot be opened or written.
   */
  write<T>(encode: EncodeInto<T>, item: T): number | Promise<number> {
    if (this.#file === undefined || this.#closed || this.#mayHaveReachedLimit()) {
      return this.#prepare().then(() => this.#encode(encode, item));
    }
    return this.#encode(encode, item);
  }

  /**
   * Encodes one entity into the current file now, if that needs no waiting: the way to
   * write many entities in one go (a scan reply's records). The buffer is not flushed
   * here: call {@linkcode flushIfFull} after the run.
   *
   * @param encode Appends the entity to the buffer (a function made once).
   * @param item The entity.
   * @returns What `encode` returned, or -1 when nothing was written because a file must
   *   be opened, synced or rolled over first: await {@linkcode prepare}, then try again.
   */
  tryWrite<T>(encode: EncodeInto<T>, item: T): number {
    if (this.#file === undefined || this.#closed) return -1;
    // Right after a prepare the entity goes in whatever the bound says (as `write` does):
    // the exact size was just found below the limit.
    if (this.#prepared) this.#prepared = false;
    else if (this.#mayHaveReachedLimit()) return -1;
    const n = encode(this.#buf, item);
    // A block's worth goes to the chain at once (the buffer stays small); the caller waits
    // for the chain with flushIfFull after the run.
    if (this.#buf.length >= this.#flushSize) void this.#flush(this.#file);
    return n;
  }

  /**
   * Gets the writer ready for the next entity: opens the file, or syncs the open one and
   * rolls over when it has reached the limit.
   *
   * @throws {AerobakError} `WRITER_CLOSED` after close; `STORAGE_WRITE` naming the file.
   */
  prepare(): Promise<void> {
    // Several scan streams may wait for the same file at once: one opens or rolls it.
    return this.#preparing ??= this.#prepare().then(() => {
      this.#prepared = true;
    }).finally(() => {
      this.#preparing = undefined;
    });
  }

  /**
   * Hands the buffer to the file's chain once it holds a block's worth.
   *
   * @returns A promise while the chain takes it (backpressure), else `undefined`.
   */
  flushIfFull(): Promise<void> | undefined {
    const file = this.#file;
    if (file === undefined) return undefined;
    if (this.#buf.length < this.#flushSize) {
      // Hand-offs under way are waited for, but a part block stays here: small chunks
      // would make the storage's sink take a write buffer of its own.
      if (this.#pendingHandoffs > 0) return this.#handoff.then(() => this.#failure(file));
      return this.#error === undefined
        ? undefined
        : Promise.reject(this.#wrap(this.#error, file.name, "write"));
    }
    return this.#flush(file).then(() => this.#failure(file));
  }

  /**
   * Opens a file (header only so far) unless one is open, so that a writer without any
   * entity can still leave a valid file.
   *
   * @throws {AerobakError} `WRITER_CLOSED` after close; `STORAGE_WRITE` naming the file.
   */
  async open(): Promise<void> {
    await this.#prepare();
  }

  /**
   * Flushes and closes the current file (if any), so the next write opens a new one.
   *
   * @returns The name of the file closed, if one was open.
   * @throws {AerobakError} `STORAGE_WRITE` naming the file when a write or the close failed;
   *   the file is then closed as written so far.
   */
  async closeFile(): Promise<string | undefined> {
    const file = this.#file;
    if (file === undefined) return undefined;
    this.#file = undefined;
    let action = "write";
    try {
      await this.#flush(file);
      await this.#lastWrite;
      if (this.#error !== undefined) throw this.#error;
      action = "close";
      // Closing the chain's writable flushes every stage and closes the file.
      await file.writer.close();
    } catch (e) {
      this.#buf.reset();
      await file.writer.abort(e).catch(() => {});
      throw this.#wrap(e, file.name, action);
    }
    const bytes = file.chain.bytesWritten();
    this.#closedBytes += bytes;
    await this.#onClose?.(file.name, bytes, file.chain.sha256());
    return file.name;
  }

  /**
   * Flushes and closes the current file; later writes throw `WRITER_CLOSED`.
   *
   * @throws {AerobakError} As {@linkcode RollingFileWriter.closeFile}.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.closeFile();
  }

  /** Same as {@linkcode RollingFileWriter.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #encode<T>(encode: EncodeInto<T>, item: T): number | Promise<number> {
    const n = encode(this.#buf, item);
    if (this.#buf.length >= this.#flushSize) {
      const file = this.#file!;
      return this.#flush(file).then(() => {
        this.#failure(file);
        return n;
      });
    }
    return n;
  }

  async #prepare(): Promise<void> {
    if (this.#closed) {
      throw new AerobakError("WRITER_CLOSED", "Cannot write to a closed backup file writer");
    }
    if (this.#mayHaveReachedLimit() && await this.#reachedLimit()) await this.closeFile();
    if (this.#file === undefined) await this.#open();
  }

  /**
   * Whether the open file may have reached the limit: its size at the last sync plus an
   * upper bound of what the bytes handed over since (and still buffered) become on storage.
   * Cheap, so it runs before every entity; only when it says yes is the size made exact.
   */
  #mayHaveReachedLimit(): boolean {
    if (this.#file === undefined || this.#limit <= 0) return false;
    const pending = this.#handedSinceSync + this.#buf.length;
    return this.#syncedBytes + pending + ZSTD_BLOCK_HEADER * Math.ceil(pending / ZSTD_BLOCK_SIZE) +
        FRAMING_SLACK >= this.#limit;
  }

  /**
   * Hands the buffer to the chain, syncs it and tells whether the file's exact size reached
   * the limit.
   */
  async #reachedLimit(): Promise<boolean> {
    const file = this.#file!;
    await this.#flush(file);
    await this.#lastWrite;
    if (this.#error !== undefined) throw this.#wrap(this.#error, file.name, "write");
    try {
      await file.chain.sync();
    } catch (e) {
      throw this.#wrap(e, file.name, "write");
    }
    this.#syncs++;
    this.#syncedBytes = file.chain.bytesWritten();
    this.#handedSinceSync = 0;
    return this.#syncedBytes >= this.#limit;
  }

  async #open(): Promise<void> {
    const { name, header } = await this.#nextFile();
    let chain: FileChain;
    try {
      chain = openFileChain(this.#storage, name, {
        compression: this.#compression,
        encryptionKey: this.#encryptionKey,
      });
    } catch (e) {
      throw this.#wrap(e, name, "open");
    }
    // The chain creates the file on its first write, so the hook still runs before it.
    await this.#onOpen?.(name);
    this.#file = { name, writer: chain.writable.getWriter(), chain };
    this.#filesOpened++;
    this.#syncedBytes = 0;
    this.#handedSinceSync = 0;
    this.#lastWrite = Promise.resolve();
    this.#handoff = Promise.resolve();
    if (header !== undefined) this.#buf.bytes(header);
  }

  /**
   * Hands the buffer to the file's chain. Hand-offs run one after another (each may wait for
   * the chain to take more), so a caller finding the buffer empty still waits for those
   * under way: a sync after it sees every byte handed over. Never rejects: a failure is kept
   * for the next caller to throw (see {@linkcode #failure}).
   */
  #flush(file: OpenFile): Promise<void> {
    if (this.#buf.length === 0 || this.#error !== undefined) return this.#handoff;
    // The buffer is reused, so the chain gets its own copy of each block: a pooled one
    // when the chain says when it is done with it.
    const recycle = file.chain.consumesWrites;
    const carrier = recycle ? this.#spares.take(this.#buf.subarray()) : undefined;
    const chunk = carrier !== undefined
      ? new Uint8Array(carrier, 0, this.#buf.length)
      : this.#buf.subarray().slice();
    this.#buf.reset();
    // Counted at once: other writers into the buffer meanwhile check the limit's bound
    // against it.
    this.#handedSinceSync += chunk.length;
    this.#pendingHandoffs++;
    this.#handoff = this.#handoff.then(async () => {
      try {
        if (this.#error !== undefined) return;
        await file.writer.ready;
        // Not awaited: encoding goes on while the chain compresses and stores this block.
        this.#lastWrite = file.writer.write(chunk).then(() => {
          if (carrier !== undefined) this.#spares.give(carrier);
        }, (e) => {
          this.#error ??= e;
        });
      } catch (e) {
        this.#error ??= e;
      } finally {
        this.#pendingHandoffs--;
      }
    });
    return this.#handoff;
  }

  /** Throws the first failure of the open file's chain, if any, naming the file. */
  #failure(file: OpenFile): void {
    if (this.#error !== undefined) throw this.#wrap(this.#error, file.name, "write");
  }

  #wrap(e: unknown, name: string, action: string): unknown {
    if (e instanceof AerobakError) return e;
    const message = e instanceof Error ? e.message : String(e);
    return new AerobakError("STORAGE_WRITE", `Cannot ${action} backup file ${name}: ${message}`, {
      cause: e,
      location: { file: name },
    });
  }
}
