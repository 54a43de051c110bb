/**
 * Backup file writing: ASB encoding into a buffer, then compression → encryption → byte
 * count → storage, with files opened lazily, named per backup-go, and rolled over at the
 * file limit (backup-go `processor_file_writer.go`, `io/sized`, `io/lazy`).
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import type { SIndexInfo } from "../aerospike/info.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import type { AsbEncoder, AsbUdf } from "../format/asb/encoder.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import { type FileChain, openFileChain } from "../io/file_chain.ts";
import type { StorageWriter } from "../io/storage.ts";

/** Encoded bytes are handed to the chain in blocks of about this size. */
const FLUSH_SIZE = 64 * 1024;

/**
 * The name of a backup file (backup-go `GenerateFilename`): `prefix + ns + "_" + n + suffix + ".asb"`.
 *
 * @param prefix `metadata_`, the output prefix, or `"<writer>_"`.
 * @param namespace The namespace.
 * @param n The run's file counter (from 1).
 * @param suffix `""`, or `"(k)"` on the k-th continue.
 * @returns The file name.
 *
 * @example Names of a directory backup
 * ```ts
 * import { backupFileName } from "./file_writer.ts";
 * console.log(backupFileName("0_", "test", 2, "")); // "0_test_2.asb"
 * console.log(backupFileName("0_", "test", 7, "(1)")); // "0_test_7(1).asb"
 * ```
 */
export function backupFileName(
  prefix: string,
  namespace: string,
  n: number,
  suffix: string,
): string {
  return `${prefix}${namespace}_${n}${suffix}.asb`;
}

/** State shared by every file sink of one backup run. */
export interface FileRun {
  /** Where files go. */
  storage: StorageWriter;
  /** The namespace written in each header. */
  namespace: string;
  /** Compression of every file. */
  compression: CompressionPolicy;
  /** AES key (16 or 32 bytes), when encrypting. */
  encryptionKey?: Uint8Array;
  /** `""` or `"(k)"`. */
  suffix: string;
  /** Next value of the file counter `n`. */
  nextFileNumber: number;
  /** Whether the `# first-file` header was already given to a file. */
  firstFileTaken: boolean;
  /** A single output file: its name, used as is (no counter, no rollover). */
  singleFileName?: string;
  /** Called when a file is created, before anything is written to it. */
  onOpen?: (name: string) => Promise<void> | void;
  /** Called when a file is closed, with its on-disk size. */
  onClose?: (name: string, bytes: number) => Promise<void> | void;
}

/** Options of {@linkcode AsbFileSink}. */
export interface AsbFileSinkOptions {
  /** File name prefix: `metadata_`, the output prefix, or `"<writer>_"`. */
  prefix: string;
  /** The encoder (one per sink: it caches names). */
  encoder: AsbEncoder;
  /**
   * Roll over to a new file once a file holds this many bytes on disk (0 = never).
   *
   * @default {0}
   */
  fileLimit?: number;
  /**
   * ASB version of the header.
   *
   * @default {"3.1"}
   */
  version?: "3.1" | "3.2";
  /** Called after the run's `onClose` when this sink closes a file. */
  onClose?: (name: string, bytes: number) => Promise<void> | void;
}

interface OpenFile {
  name: string;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  chain: FileChain;
}

/**
 * Writes ASB entities to a sequence of files: opens the first file on the first write,
 * writes a header into each file, and closes and opens the next once a file has reached
 * the file limit.
 */
export class AsbFileSink {
  readonly #run: FileRun;
  readonly #options: AsbFileSinkOptions;
  readonly #buf = new ByteWriter(FLUSH_SIZE + 4096);
  #file?: OpenFile;
  #error: unknown = undefined;
  #closed = false;
  // Rollover bookkeeping of the open file: its exact size at the last sync, the encoded
  // bytes handed to its chain since, and the last write (a barrier before a sync).
  #syncedBytes = 0;
  #handedSinceSync = 0;
  #lastWrite: Promise<void> = Promise.resolve();

  /**
   * Creates a sink; nothing is opened until the first write.
   *
   * @param run The run's shared state.
   * @param options Prefix, encoder, limit, version.
   */
  constructor(run: FileRun, options: AsbFileSinkOptions) {
    this.#run = run;
    this.#options = options;
  }

  /** Bytes on disk of the file currently open (0 when none). */
  get openBytes(): number {
    return this.#file ? this.#file.chain.bytesWritten() : 0;
  }

  /** Name of the file currently open. */
  get openFileName(): string | undefined {
    return this.#file?.name;
  }

  /**
   * Encodes and writes a record.
   *
   * @param record The record.
   * @returns The encoded size in bytes (for bandwidth limits); a promise only when a file
   *   had to be opened, closed or flushed.
   */
  writeRecord(record: AerospikeRecord): number | Promise<number> {
    if (this.#file === undefined || this.#closed || this.#mayRoll()) {
      return this.#prepare().then(() => this.#encode(record));
    }
    return this.#encode(record);
  }

  #encode(record: AerospikeRecord): number | Promise<number> {
    const n = this.#options.encoder.encodeRecord(this.#buf, record);
    if (this.#buf.length >= FLUSH_SIZE) return this.#flush().then(() => n);
    return n;
  }

  /**
   * Encodes and writes a secondary index line.
   *
   * @param sindex The index.
   * @returns The encoded size.
   */
  async writeSIndex(sindex: SIndexInfo): Promise<number> {
    await this.#prepare();
    return this.#options.encoder.encodeSIndex(this.#buf, sindex);
  }

  /**
   * Encodes and writes a UDF line.
   *
   * @param udf The module.
   * @returns The encoded size.
   */
  async writeUdf(udf: AsbUdf): Promise<number> {
    await this.#prepare();
    return this.#options.encoder.encodeUdf(this.#buf, udf);
  }

  /**
   * Closes the current file (if any) so the next write opens a new one.
   *
   * @returns The name of the file closed, if one was open.
   */
  async closeFile(): Promise<string | undefined> {
    const file = this.#file;
    if (!file) return undefined;
    await this.#flush();
    this.#file = undefined;
    try {
      // Closing the chain's writable flushes every stage and closes the file.
      await file.writer.close();
    } catch (e) {
      throw this.#wrap(e, file.name, "close");
    }
    if (this.#error !== undefined) throw this.#wrap(this.#error, file.name, "write");
    const bytes = file.chain.bytesWritten();
    await this.#run.onClose?.(file.name, bytes);
    await this.#options.onClose?.(file.name, bytes);
    return file.name;
  }

  /**
   * Opens a file (header only so far) unless one is open, so that a backup without any
   * entity still leaves a valid file.
   *
   * @throws {AerobakError} `STORAGE_WRITE` naming the file when it cannot be created.
   */
  async openFile(): Promise<void> {
    await this.#prepare();
  }

  /** Flushes and closes; later writes throw. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.closeFile();
  }

  async #prepare(): Promise<void> {
    if (this.#closed) {
      throw new AerobakError("WRITER_CLOSED", "Cannot write to a closed backup file writer");
    }
    if (this.#mayRoll() && await this.#reachedLimit()) await this.closeFile();
    if (!this.#file) await this.#open();
  }

  /**
   * Whether the open file may have reached the limit: its size at the last sync plus an
   * upper bound of what the bytes handed over since become (zstd adds at most 3 bytes per
   * 128 KiB block; the slack covers the frame header and end and the AES counter block).
   * Cheap, so it runs before every record; only when it says yes is the size made exact.
   */
  #mayRoll(): boolean {
    const limit = this.#options.fileLimit ?? 0;
    if (!this.#file || limit <= 0 || this.#run.singleFileName !== undefined) return false;
    const pending = this.#handedSinceSync + this.#buf.length;
    return this.#syncedBytes + pending + 3 * Math.ceil(pending / 131072) + 64 >= limit;
  }

  /**
   * Hands the buffer to the chain, syncs it and tells whether the file's exact size reached
   * the limit. A compressor holds up to a block (128 KiB) of input, so without the sync a
   * compressed file would overshoot the limit by that much; with it, by at most one entity.
   */
  async #reachedLimit(): Promise<boolean> {
    const file = this.#file!;
    await this.#flush();
    await this.#lastWrite;
    if (this.#error !== undefined) throw this.#wrap(this.#error, file.name, "write");
    try {
      await file.chain.sync();
    } catch (e) {
      throw this.#wrap(e, file.name, "write");
    }
    this.#syncedBytes = file.chain.bytesWritten();
    this.#handedSinceSync = 0;
    return this.#syncedBytes >= (this.#options.fileLimit ?? 0);
  }

  async #open(): Promise<void> {
    const run = this.#run;
    const name = run.singleFileName ??
      backupFileName(this.#options.prefix, run.namespace, run.nextFileNumber++, run.suffix);
    const firstFile = !run.firstFileTaken;
    run.firstFileTaken = true;
    await run.onOpen?.(name);
    let chain;
    try {
      chain = await openFileChain(run.storage, name, {
        compression: run.compression,
        encryptionKey: run.encryptionKey,
      });
    } catch (e) {
      throw this.#wrap(e, name, "open");
    }
    const writer = chain.writable.getWriter();
    this.#file = { name, writer, chain };
    this.#syncedBytes = 0;
    this.#handedSinceSync = 0;
    this.#lastWrite = Promise.resolve();
    const header = this.#options.encoder.header(run.namespace, {
      firstFile,
      version: this.#options.version ?? "3.1",
    });
    this.#buf.bytes(header);
  }

  async #flush(): Promise<void> {
    const file = this.#file;
    if (!file || this.#buf.length === 0) return;
    if (this.#error !== undefined) throw this.#wrap(this.#error, file.name, "write");
    // The buffer is reused, so the chain gets its own copy of each block.
    const chunk = this.#buf.subarray().slice();
    this.#buf.reset();
    await file.writer.ready;
    this.#handedSinceSync += chunk.length;
    this.#lastWrite = file.writer.write(chunk).catch((e) => {
      this.#error ??= e;
    });
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
