/**
 * Backup file writing: ASB files named per backup-go, each with its header, written through
 * the shared rolling file writer (compression → encryption → byte count → storage, lazy
 * open, rollover at the file limit: backup-go `processor_file_writer.go`, `io/sized`,
 * `io/lazy`).
 *
 * @module
 */

import type { SIndexInfo } from "../aerospike/info.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import type { RecordView } from "../aerospike/record_view.ts";
import type { AsbEncoder, AsbUdf } from "../format/asb/encoder.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import { type EncodeInto, type RollingFileStart, RollingFileWriter } from "../io/rolling_file.ts";
import type { StorageWriter } from "../io/storage.ts";
import { type ManifestFile, storedFileName } from "./manifest.ts";

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

/**
 * Names a backup's next data file and tells whether it is the run's first (its header says
 * so): the run's counter and first-file flag move on.
 *
 * @param run The run.
 * @param prefix The sink's prefix.
 * @returns The name and first-file flag.
 */
export function takeFileName(run: FileRun, prefix: string): { name: string; firstFile: boolean } {
  const name = run.singleFileName ??
    backupFileName(prefix, run.namespace, run.nextFileNumber++, run.suffix);
  const firstFile = !run.firstFileTaken;
  run.firstFileTaken = true;
  return { name, firstFile };
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
  /**
   * Names the next file elsewhere (a reader worker asks the job's main thread, which keeps
   * the counter); the counter and flag above are then unused.
   */
  nameFile?: (prefix: string) => Promise<{ name: string; firstFile: boolean }>;
  /** Called when a file is created, before anything is written to it. */
  onOpen?: (name: string) => Promise<void> | void;
  /**
   * Called when a file is closed, with its on-disk size and its manifest entry (size,
   * checksum and counts of what it holds).
   */
  onClose?: (name: string, bytes: number, entry: ManifestFile) => Promise<void> | void;
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
  onClose?: (name: string, bytes: number, entry: ManifestFile) => Promise<void> | void;
}

/**
 * Writes ASB entities to a sequence of files: opens the first file on the first write,
 * writes a header into each file (`# first-file` in the run's first), and closes and opens
 * the next once a file has reached the file limit on disk ({@linkcode RollingFileWriter}).
 */
export class AsbFileSink {
  readonly #run: FileRun;
  readonly #encoder: AsbEncoder;
  readonly #files: RollingFileWriter;
  // Made once: the hot path passes them to the writer without a closure per entity.
  readonly #encodeRecord: EncodeInto<AerospikeRecord>;
  readonly #encodeView: EncodeInto<RecordView>;
  readonly #encodeSIndex: EncodeInto<SIndexInfo>;
  readonly #encodeUdf: EncodeInto<AsbUdf>;
  // What the open file holds so far, for its manifest entry. Counted as each entity is
  // encoded, which is after a rollover has closed the previous file.
  #records = 0;
  #sindexes = 0;
  #udfs = 0;

  /**
   * Creates a sink; nothing is opened until the first write.
   *
   * @param run The run's shared state.
   * @param options Prefix, encoder, limit, version.
   */
  constructor(run: FileRun, options: AsbFileSinkOptions) {
    this.#run = run;
    const encoder = options.encoder;
    this.#encoder = encoder;
    this.#encodeRecord = (buf, record) => {
      this.#records++;
      return encoder.encodeRecord(buf, record);
    };
    this.#encodeView = (buf, rv) => {
      this.#records++;
      return encoder.encodeView(buf, rv);
    };
    this.#encodeSIndex = (buf, sindex) => {
      this.#sindexes++;
      return encoder.encodeSIndex(buf, sindex);
    };
    this.#encodeUdf = (buf, udf) => {
      this.#udfs++;
      return encoder.encodeUdf(buf, udf);
    };
    const version = options.version ?? "3.1";
    this.#files = new RollingFileWriter({
      storage: run.storage,
      compression: run.compression,
      encryptionKey: run.encryptionKey,
      // A single output file is never rolled over.
      fileLimit: run.singleFileName === undefined ? options.fileLimit ?? 0 : 0,
      nextFile: () => this.#nextFile(options.prefix, version),
      onOpen: run.onOpen,
      onClose: async (name, bytes, sha256) => {
        const entry: ManifestFile = {
          name: storedFileName(run.storage, name),
          size: bytes,
          sha256,
          records: this.#records,
          sindexes: this.#sindexes,
          udfs: this.#udfs,
        };
        await run.onClose?.(name, bytes, entry);
        await options.onClose?.(name, bytes, entry);
      },
    });
  }

  /** Bytes on disk of the file currently open (0 when none). */
  get openBytes(): number {
    return this.#files.openBytes;
  }

  /** Name of the file currently open. */
  get openFileName(): string | undefined {
    return this.#files.openFileName;
  }

  /**
   * Encodes and writes a record.
   *
   * @param record The record.
   * @returns The encoded size in bytes (for bandwidth limits); a promise only when a file
   *   had to be opened, closed or flushed.
   */
  writeRecord(record: AerospikeRecord): number | Promise<number> {
    return this.#files.write(this.#encodeRecord, record);
  }

  /**
   * Encodes a record message where it lies in a scan reply, if that needs no waiting (see
   * {@linkcode RollingFileWriter.tryWrite}).
   *
   * @param rv The record message.
   * @returns The encoded size, or -1 when {@linkcode prepare} must be awaited first.
   */
  tryWriteView(rv: RecordView): number {
    return this.#files.tryWrite(this.#encodeView, rv);
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

  /**
   * Encodes and writes a secondary index line.
   *
   * @param sindex The index.
   * @returns The encoded size.
   */
  async writeSIndex(sindex: SIndexInfo): Promise<number> {
    return await this.#files.write(this.#encodeSIndex, sindex);
  }

  /**
   * Encodes and writes a UDF line.
   *
   * @param udf The module.
   * @returns The encoded size.
   */
  async writeUdf(udf: AsbUdf): Promise<number> {
    return await this.#files.write(this.#encodeUdf, udf);
  }

  /**
   * Closes the current file (if any) so the next write opens a new one.
   *
   * @returns The name of the file closed, if one was open.
   */
  closeFile(): Promise<string | undefined> {
    return this.#files.closeFile();
  }

  /**
   * Opens a file (header only so far) unless one is open, so that a backup without any
   * entity still leaves a valid file.
   *
   * @throws {AerobakError} `STORAGE_WRITE` naming the file when it cannot be created.
   */
  openFile(): Promise<void> {
    return this.#files.open();
  }

  /** Flushes and closes; later writes throw. */
  close(): Promise<void> {
    return this.#files.close();
  }

  #nextFile(
    prefix: string,
    version: "3.1" | "3.2",
  ): RollingFileStart | Promise<RollingFileStart> {
    const start = (name: string, firstFile: boolean): RollingFileStart => {
      this.#records = 0;
      this.#sindexes = 0;
      this.#udfs = 0;
      return { name, header: this.#encoder.header(this.#run.namespace, { firstFile, version }) };
    };
    const run = this.#run;
    if (run.nameFile !== undefined) {
      return run.nameFile(prefix).then(({ name, firstFile }) => start(name, firstFile));
    }
    const { name, firstFile } = takeFileName(run, prefix);
    return start(name, firstFile);
  }
}
