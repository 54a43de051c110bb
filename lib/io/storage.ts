/**
 * The storage contracts the backup and restore jobs write to and read from.
 *
 * Storage moves opaque bytes: compression, encryption and formats sit above it
 * ({@linkcode openFileChain}, {@linkcode openReadChain}).
 *
 * @module
 */

/**
 * A storage as data, for a backup's reader workers to open one of their own
 * ({@linkcode StorageWriter.forWorker}): a local directory.
 */
export interface WorkerStorageSpec {
  /** A local directory. */
  kind: "directory";
  /** Its path. */
  dir: string;
  /** Write buffer per file, bytes. */
  bufferSize?: number;
}

/**
 * Where backup files are written.
 *
 * A single-file storage (`kind` `"file"`) names its files by suffix: `""` is the backup
 * file itself and any other name is a companion file beside it, `<path><name>` (the
 * manifest, `<path>.manifest.json`).
 */
export interface StorageWriter {
  /** `"directory"` (many files), `"file"` (one file) or `"stdout"`. */
  readonly kind: "directory" | "file" | "stdout";
  /**
   * Gets the storage ready (checks or clears it as `open` would) and describes it for a
   * worker thread to open files in it itself; storages without it get their files' bytes
   * through the thread that made them.
   *
   * @returns The storage as data, or undefined when the worker must write through this
   *   writer.
   */
  forWorker?(): Promise<WorkerStorageSpec | undefined>;
  /**
   * Whether the sinks `open` returns are done with a chunk once its write settles (they
   * copy or store its bytes first), so a writer may reuse the chunk's buffer. Storages
   * without it are handed chunks of their own.
   */
  readonly consumesWrites?: boolean;
  /**
   * Creates (or truncates) the file `name` and returns a byte sink for it. Closing the sink
   * flushes and closes the file; aborting it closes the file as written so far.
   *
   * @param name File name (no directory part). Single-file and stdout writers ignore it.
   * @returns The byte sink.
   * @throws {AerobakError} `STORAGE_WRITE` naming the path when it cannot be created.
   */
  open(name: string): Promise<WritableStream<Uint8Array>>;
  /**
   * Replaces the small file `name` with `bytes` so that readers, and a process killed
   * mid-write, see the old or the new content, never a mix (temporary file + rename).
   * Directory and single-file storages have it (the backup's state file and manifest use
   * it); standard output has not.
   *
   * @param name File name (no directory part).
   * @param bytes The whole new content.
   */
  writeAtomic?(name: string, bytes: Uint8Array): Promise<void>;
  /**
   * Reads back a small file written earlier with {@linkcode writeAtomic} (the backup's state
   * file, when continuing). Only storages with `writeAtomic` have it.
   *
   * @param name File name (no directory part).
   * @returns The whole content.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` or `STORAGE_READ` naming the path.
   */
  readBack?(name: string): Promise<Uint8Array>;
  /**
   * Removes a file written earlier (for example a partial file of a failed run).
   *
   * @param name File name as given to `open`.
   */
  remove?(name: string): Promise<void>;
  /**
   * A writer of the subdirectory `name` of this directory (a sharded backup's
   * `shard-<I>-of-<N>/`), with the same options; the parent's own files are not checked.
   * Only directory storage has it.
   *
   * @param name Subdirectory name (no separator).
   * @returns The writer.
   */
  subdirectory?(name: string): StorageWriter;
  /**
   * The path or label of `name` as shown in messages.
   *
   * @param name File name as given to `open`.
   * @returns A path such as `/backups/0_test_1.asb`, or `"<stdout>"`.
   */
  describe(name: string): string;
}

/** One backup file a reader offers. */
export interface StorageEntry {
  /** File name without directory (`"<stdin>"` for standard input). */
  name: string;
  /** Full path, shown in messages. */
  path: string;
  /** Size in bytes, when known. */
  size?: number;
}

/** Where backup files are read from. */
export interface StorageReader {
  /** `"directory"`, `"files"` (a list of paths or directories) or `"stdin"`. */
  readonly kind: "directory" | "files" | "stdin";
  /**
   * Lists the backup files, in the order they should be restored (by name in a directory).
   *
   * @returns The files.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` naming a missing directory or file.
   */
  list(): AsyncIterable<StorageEntry>;
  /**
   * Opens one listed file.
   *
   * @param entry A value `list()` produced.
   * @returns Its bytes.
   * @throws {AerobakError} `STORAGE_READ` naming the path.
   */
  open(entry: StorageEntry): Promise<ReadableStream<Uint8Array>>;
  /**
   * Lists the subdirectories of the directory (the shard directories of a sharded backup).
   * Only readers of one directory have it.
   *
   * @returns Their names, in no particular order; none when the directory is missing.
   * @throws {AerobakError} `STORAGE_READ` when the directory cannot be listed.
   */
  subdirectories?(): AsyncIterable<string>;
  /**
   * A reader of the subdirectory `name`, with the same options. Only readers of one
   * directory have it.
   *
   * @param name Subdirectory name (no separator).
   * @returns The reader.
   */
  subdirectory?(name: string): StorageReader;
  /**
   * The path or URL of `name` in the directory, for messages. Only readers of one directory
   * have it.
   *
   * @param name File or subdirectory name; `""` for the directory itself.
   * @returns A path such as `/backups/test/shard-0-of-4`.
   */
  describe?(name: string): string;
  /**
   * Reads a small file kept with the backup that is not a data file (its manifest): `name`
   * in a directory (`kind` `"directory"`), or `<path><name>` beside a single file. Readers
   * of several directories, several files or stdin have no such place and lack it.
   *
   * @param name File name in a directory, or suffix of a single file's path.
   * @returns Its path (as messages show it) and content, or `undefined` when it does not
   *   exist.
   * @throws {AerobakError} `STORAGE_READ` naming the path when it exists but cannot be read.
   */
  readCompanion?(name: string): Promise<{ path: string; bytes: Uint8Array } | undefined>;
}
