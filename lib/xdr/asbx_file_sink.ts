/**
 * Writes ASBX records to a writer's sequence of files: the first file opens on the first
 * record, each file starts with its 44-byte header (holding its run-wide file number), and
 * a file is closed and the next one opened once it holds the file limit on disk: the same
 * rule, and the same writer ({@linkcode RollingFileWriter}), as ASB files. The writers of
 * one run take the receiver's messages split by partition ({@linkcode AsbxPartitionSinks}).
 *
 * @module
 */

import { partitionId } from "../aerospike/digest.ts";
import type { AsbxEncoder, AsbxToken } from "../format/asbx/encoder.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import { type EncodeInto, RollingFileWriter } from "../io/rolling_file.ts";
import type { StorageWriter } from "../io/storage.ts";
import { type Fanout, partitionFanout } from "../pipeline/fanout.ts";
import type { PipeWriter } from "../pipeline/pipe.ts";
import { type ManifestFile, storedFileName } from "../backup/manifest.ts";
import type { XdrSink } from "./receiver.ts";

/** What every sink of one XDR backup run shares. */
export interface AsbxFileRun {
  /** Where files go. */
  storage: StorageWriter;
  /** The run's encoder: its file counter numbers the files of every writer. */
  encoder: AsbxEncoder;
  /** Compression of every file. */
  compression: Readonly<CompressionPolicy>;
  /** AES key (16 or 32 bytes), when encrypting. */
  encryptionKey?: Uint8Array;
  /** Called when a file is opened. */
  onOpen?: (name: string) => void;
  /**
   * Called when a file is closed, with its size on disk and its manifest entry (size,
   * checksum, records).
   */
  onClose?: (name: string, bytes: number, entry: ManifestFile) => void;
}

/** Options of {@linkcode AsbxFileSink}. */
export interface AsbxFileSinkOptions {
  /** File name prefix, `"<writer>_"`. */
  prefix: string;
  /**
   * Roll over once a file holds this many bytes on disk (after compression and
   * encryption); 0 = never. Ignored unless the storage is a directory.
   *
   * @default {0}
   */
  fileLimit?: number;
}

/** One writer of an XDR backup. */
export class AsbxFileSink implements PipeWriter<AsbxToken> {
  readonly #files: RollingFileWriter;
  // Made once: the hot path passes it to the writer without a closure per record.
  readonly #encodeToken: EncodeInto<AsbxToken>;
  /** Records of the open file so far, counted as they are encoded (after a rollover). */
  #records = 0;

  /**
   * Creates a sink; nothing is opened until the first record.
   *
   * @param run The run's shared state.
   * @param options Prefix and file limit.
   */
  constructor(run: AsbxFileRun, options: AsbxFileSinkOptions) {
    const { encoder } = run;
    this.#encodeToken = (buf, token) => {
      this.#records++;
      return encoder.encodeToken(buf, token);
    };
    this.#files = new RollingFileWriter({
      storage: run.storage,
      compression: run.compression,
      encryptionKey: run.encryptionKey,
      // Only a directory holds several files.
      fileLimit: run.storage.kind === "directory" ? options.fileLimit ?? 0 : 0,
      // The encoder's run-wide counter names the file and goes into its header.
      nextFile: () => {
        this.#records = 0;
        return encoder.nextFile(options.prefix);
      },
      onOpen: run.onOpen,
      onClose: (name, bytes, sha256) =>
        run.onClose?.(name, bytes, {
          name: storedFileName(run.storage, name),
          size: bytes,
          sha256,
          records: this.#records,
        }),
    });
  }

  /** Bytes on disk of the file currently open (0 when none). */
  get openBytes(): number {
    return this.#files.openBytes;
  }

  /**
   * Encodes and writes a record.
   *
   * @param token The record.
   * @returns Its encoded size; a promise only when a file had to be opened, rolled or flushed.
   */
  write(token: AsbxToken): number | Promise<number> {
    return this.#files.write(this.#encodeToken, token);
  }

  /**
   * Encodes and writes a record if that needs no waiting (see
   * {@linkcode RollingFileWriter.tryWrite}): the record may be a view into a read buffer.
   *
   * @param token The record.
   * @returns Its encoded size, or -1 when {@linkcode prepare} must be awaited first.
   */
  tryWrite(token: AsbxToken): number {
    return this.#files.tryWrite(this.#encodeToken, token);
  }

  /**
   * Opens the next file, or rolls over the one at its limit, so that writes can go on.
   *
   * @throws {AerobakError} `STORAGE_WRITE` naming the file.
   */
  prepare(): Promise<void> {
    return this.#files.prepare();
  }

  /**
   * Hands what is buffered to the file once it holds a block's worth.
   *
   * @returns A promise while the file takes it, else `undefined`.
   */
  flushIfFull(): Promise<void> | undefined {
    return this.#files.flushIfFull();
  }

  /** Flushes and closes the open file; later writes throw. */
  close(): Promise<void> {
    return this.#files.close();
  }
}

/**
 * The writers of one XDR backup run as the receiver's sink: each message goes to the
 * writer owning its partition (backup-go's split, `partition / (4096 / writers)`), encoded
 * where it lies in the connection's read buffer. All messages of a partition thus reach one
 * writer in arrival order, so its files hold a record's versions in the order they came.
 */
export class AsbxPartitionSinks implements XdrSink {
  readonly #sinks: readonly AsbxFileSink[];
  readonly #split: Fanout<AsbxToken>;
  readonly #onRecord: () => void;

  /**
   * Wraps the writers of a run.
   *
   * @param sinks The writers (at least one).
   * @param onRecord Called with each record written.
   * @throws {RangeError} Without writers.
   */
  constructor(sinks: readonly AsbxFileSink[], onRecord: () => void) {
    this.#sinks = sinks;
    this.#split = partitionFanout(sinks.length, (t) => partitionId(t.digest));
    this.#onRecord = onRecord;
  }

  /**
   * Writes a message to its partition's writer.
   *
   * @param token The message (views are fine: it is encoded before this returns or its
   *   promise settles).
   * @returns `undefined` when written at once, else a promise while a file opens or rolls.
   * @throws {AerobakError} `STORAGE_WRITE` (also as a rejection) naming the file.
   */
  take(token: AsbxToken): Promise<void> | undefined {
    const sink = this.#sinks[this.#split(token, 0)];
    if (sink.tryWrite(token) < 0) return this.#takeLater(sink, token);
    this.#onRecord();
    return undefined;
  }

  /**
   * Hands every writer's buffer to its file once it holds a block's worth.
   *
   * @returns A promise while a file takes its block, else `undefined`.
   */
  runEnd(): Promise<void> | undefined {
    let one: Promise<void> | undefined;
    let more: Promise<void>[] | undefined;
    for (const sink of this.#sinks) {
      const flushing = sink.flushIfFull();
      if (flushing === undefined) continue;
      if (one === undefined) one = flushing;
      else (more ??= [one]).push(flushing);
    }
    return more === undefined ? one : Promise.all(more).then(() => {});
  }

  async #takeLater(sink: AsbxFileSink, token: AsbxToken): Promise<void> {
    // Another connection may take the room a prepare made: then prepare again.
    do await sink.prepare(); while (sink.tryWrite(token) < 0);
    this.#onRecord();
  }
}
