/**
 * Local storage writers: a backup directory or a single backup file.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { AerobakError } from "../errors.ts";
import { bufferedSink } from "./_buffered_sink.ts";
import type { StorageWriter, WorkerStorageSpec } from "./storage.ts";

/**
 * What `removeFiles` deletes by default: data files and the manifest of a backup.
 */
export const BACKUP_FILE_EXTENSIONS: readonly string[] = [".asb", ".asbx", ".manifest.json"];

/** Default write buffer per file (backup-go local storage: 4 MiB). */
export const DEFAULT_LOCAL_BUFFER_SIZE = 4 * 1024 * 1024;

/** Options of {@linkcode DirectoryWriter}. */
export interface DirectoryWriterOptions {
  /**
   * Remove existing backup files from the directory instead of refusing a non-empty one
   * (CLI `-r/--remove-files`).
   * @default {false}
   */
  removeFiles?: boolean;
  /**
   * Extensions of the files `removeFiles` deletes; other files and subdirectories stay.
   * The default takes the data files and the backup's manifest.
   * @default {[".asb", ".asbx", ".manifest.json"]}
   */
  removeExtensions?: readonly string[];
  /**
   * Accept a directory that already holds files, checking and removing nothing: used when
   * continuing an interrupted backup into its own directory (backup-go `SkipDirCheck`).
   * @default {false}
   */
  skipDirCheck?: boolean;
  /**
   * Write buffer per file in bytes (CLI `--local-buffer-size` in MiB).
   * @default {4194304}
   */
  bufferSize?: number;
}

function writeError(path: string, err: unknown): AerobakError {
  if (err instanceof AerobakError) return err;
  const e = err as Error & { code?: string };
  let why = e.message ?? String(err);
  if (e instanceof Deno.errors.PermissionDenied) why = `permission denied (${why})`;
  else if (/ENOSPC|No space left/i.test(`${e.code} ${why}`)) {
    why = `no space left on device (${why})`;
  }
  return new AerobakError("STORAGE_WRITE", `Cannot write ${path}: ${why}`, {
    cause: err,
    location: { file: path },
  });
}

/**
 * Opens `path` for writing (mode 0666 before umask, truncating) behind a write buffer.
 *
 * @param path File to create.
 * @param bufferSize Buffer size in bytes.
 * @returns The byte sink.
 */
async function openLocalFile(
  path: string,
  bufferSize: number,
): Promise<WritableStream<Uint8Array>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o666 });
  } catch (err) {
    throw writeError(path, err);
  }
  let closed = false;
  const closeOnce = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  return bufferedSink({
    async write(bytes) {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
    },
    close() {
      closeOnce();
      return Promise.resolve();
    },
    abort: closeOnce,
    mapError: (err) => writeError(path, err),
  }, bufferSize);
}

/** Writes `path` through `path.tmp`, synced, then renamed over it. */
async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o666 });
    try {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    throw writeError(path, err);
  }
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (err) {
    throw writeError(dir, err);
  }
}

/**
 * Opens, in a worker, the directory a {@linkcode DirectoryWriter.forWorker} described: its
 * check already ran in the job's thread.
 *
 * @param spec The spec.
 * @returns A writer of that directory.
 */
export function directoryFromSpec(spec: WorkerStorageSpec): DirectoryWriter {
  return new DirectoryWriter(spec.dir, { skipDirCheck: true, bufferSize: spec.bufferSize });
}

/**
 * Writes backup files into a directory, creating it when missing.
 *
 * A directory that already holds entries is refused unless `removeFiles` is set, in which
 * case its backup files are deleted first (backup-go's rule).
 *
 * @example
 * ```ts
 * import { DirectoryWriter } from "./local_writer.ts";
 * const storage = new DirectoryWriter("/backups/today", { removeFiles: true });
 * await storage.prepare();
 * const sink = await storage.open("0_test_1.asb");
 * ```
 */
export class DirectoryWriter implements StorageWriter {
  /** Always `"directory"`. */
  readonly kind = "directory" as const;
  /** The target directory. */
  readonly dir: string;
  #options: DirectoryWriterOptions;
  #prepared?: Promise<void>;

  /**
   * Creates a writer; nothing touches the disk until {@linkcode prepare} or `open`.
   *
   * @param dir Target directory.
   * @param options Remove-files rule and buffer size.
   */
  constructor(dir: string, options: DirectoryWriterOptions = {}) {
    this.dir = dir;
    this.#options = { ...options };
  }

  /**
   * Checks that the directory is empty or missing (or clears its backup files when
   * `removeFiles` is set). Runs once; `open` calls it too.
   *
   * @throws {AerobakError} `STORAGE_NOT_EMPTY` naming the directory and the first entry;
   *   `STORAGE_WRITE` when it is not a directory or cannot be read or cleared.
   */
  prepare(): Promise<void> {
    this.#prepared ??= this.#prepare();
    return this.#prepared;
  }

  async #prepare(): Promise<void> {
    if (this.#options.skipDirCheck) return;
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) entries.push(e);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw writeError(this.dir, err);
    }
    if (entries.length === 0) return;
    if (!this.#options.removeFiles) {
      entries.sort((a, b) => (a.name < b.name ? -1 : 1));
      throw new AerobakError(
        "STORAGE_NOT_EMPTY",
        `Cannot back up into ${this.dir}: the directory is not empty (holds "${entries[0].name}"${
          entries.length > 1 ? ` and ${entries.length - 1} more` : ""
        }); pass removeFiles (-r) to replace its backup files`,
        { location: { file: this.dir } },
      );
    }
    const exts = this.#options.removeExtensions ?? BACKUP_FILE_EXTENSIONS;
    for (const e of entries) {
      if (!e.isFile || !exts.some((x) => e.name.endsWith(x))) continue;
      const path = join(this.dir, e.name);
      try {
        await Deno.remove(path);
      } catch (err) {
        throw writeError(path, err);
      }
    }
  }

  /** True: its files' buffered sinks copy or write each chunk before its write settles. */
  get consumesWrites(): boolean {
    return this.open === DirectoryWriter.prototype.open;
  }

  /**
   * Checks (or clears) the directory, then describes it for a reader worker, which opens
   * its files there with {@linkcode directoryFromSpec}. A subclass that changes how files
   * are opened keeps its files in the job's thread (undefined).
   *
   * @returns The spec, or undefined for a subclass overriding `open`.
   * @throws {AerobakError} As {@linkcode prepare}.
   */
  async forWorker(): Promise<WorkerStorageSpec | undefined> {
    if (this.open !== DirectoryWriter.prototype.open) return undefined;
    await this.prepare();
    return { kind: "directory", dir: this.dir, bufferSize: this.#options.bufferSize };
  }

  /**
   * Creates `dir/name` (mode 0666 before umask) behind a write buffer.
   *
   * @param name File name; must not contain a path separator.
   * @returns The byte sink.
   * @throws {AerobakError} `STORAGE_NOT_EMPTY` or `STORAGE_WRITE` naming the path.
   */
  async open(name: string): Promise<WritableStream<Uint8Array>> {
    if (name === "" || basename(name) !== name) {
      throw new TypeError(`Cannot open backup file "${name}": expected a plain file name`);
    }
    await this.prepare();
    await ensureDir(this.dir);
    return openLocalFile(
      join(this.dir, name),
      this.#options.bufferSize ?? DEFAULT_LOCAL_BUFFER_SIZE,
    );
  }

  /**
   * Replaces `dir/name` with `bytes` atomically: the bytes go to `dir/name.tmp`, are
   * synced, and the temporary file is renamed over `name`, so a reader (or a process
   * killed mid-write) sees either the old or the new content, never a mix. Checks (or
   * clears) the directory first, as `open` does.
   *
   * @param name File name; must not contain a path separator.
   * @param bytes The whole new content.
   * @throws {AerobakError} `STORAGE_WRITE` naming the path.
   */
  async writeAtomic(name: string, bytes: Uint8Array): Promise<void> {
    if (name === "" || basename(name) !== name) {
      throw new TypeError(`Cannot write file "${name}": expected a plain file name`);
    }
    await this.prepare();
    await ensureDir(this.dir);
    await writeFileAtomic(join(this.dir, name), bytes);
  }

  /**
   * Reads `dir/name` back (the state file of a backup being continued).
   *
   * @param name File name; must not contain a path separator.
   * @returns Its content.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` when missing, `STORAGE_READ` otherwise.
   */
  async readBack(name: string): Promise<Uint8Array> {
    const path = join(this.dir, name);
    try {
      return await Deno.readFile(path);
    } catch (err) {
      throw new AerobakError(
        err instanceof Deno.errors.NotFound ? "STORAGE_NOT_FOUND" : "STORAGE_READ",
        `Cannot read ${path}: ${
          err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message
        }`,
        { cause: err, location: { file: path } },
      );
    }
  }

  /**
   * Removes `dir/name`; a missing file is not an error.
   *
   * @param name File name as given to `open`.
   */
  async remove(name: string): Promise<void> {
    const path = join(this.dir, name);
    try {
      await Deno.remove(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw writeError(path, err);
    }
  }

  /**
   * A writer of `dir/name` with the same options (created on first write, checked or
   * cleared on its own).
   *
   * @param name Subdirectory name; must not contain a path separator.
   * @returns The writer.
   */
  subdirectory(name: string): DirectoryWriter {
    if (name === "" || basename(name) !== name) {
      throw new TypeError(`Cannot write into subdirectory "${name}": expected a plain name`);
    }
    return new DirectoryWriter(join(this.dir, name), this.#options);
  }

  /**
   * Returns the full path of `name`.
   *
   * @param name File name.
   * @returns `dir/name`.
   */
  describe(name: string): string {
    return join(this.dir, name);
  }
}

/**
 * Writes the whole backup into one file (CLI `-o/--output-file`), creating its directory.
 * It can be opened once: a second `open` is an error, so a job cannot silently overwrite.
 * Its companion files (the manifest) are named by suffix: `path + name`.
 */
export class FileWriter implements StorageWriter {
  /** Always `"file"`. */
  readonly kind = "file" as const;
  /** The target file. */
  readonly path: string;
  #bufferSize: number;
  #opened = false;

  /**
   * Creates a writer.
   *
   * @param path Target file; an existing file is truncated on `open`.
   * @param options `bufferSize` in bytes (default 4 MiB).
   */
  constructor(path: string, options: { bufferSize?: number } = {}) {
    this.path = path;
    this.#bufferSize = options.bufferSize ?? DEFAULT_LOCAL_BUFFER_SIZE;
  }

  /** True: the file's buffered sink copies or writes each chunk before its write settles. */
  get consumesWrites(): boolean {
    return this.open === FileWriter.prototype.open;
  }

  /**
   * Creates the file; `name` is ignored.
   *
   * @param _name Ignored: single-file mode uses the given path.
   * @returns The byte sink.
   * @throws {AerobakError} `STORAGE_WRITE` naming the path; `STORAGE_REOPENED` on a second call.
   */
  async open(_name: string): Promise<WritableStream<Uint8Array>> {
    if (this.#opened) {
      throw new AerobakError(
        "STORAGE_REOPENED",
        `Cannot open ${this.path} twice: single-file backups hold one file`,
      );
    }
    this.#opened = true;
    await ensureDir(dirname(this.path));
    return openLocalFile(this.path, this.#bufferSize);
  }

  /**
   * Replaces the companion file `path + suffix` atomically (temporary file and rename).
   *
   * @param suffix Appended to the backup file's path, such as `.manifest.json`.
   * @param bytes The whole new content.
   * @throws {AerobakError} `STORAGE_WRITE` naming the path.
   */
  async writeAtomic(suffix: string, bytes: Uint8Array): Promise<void> {
    if (suffix === "") throw new TypeError("Cannot replace the backup file itself atomically");
    await ensureDir(dirname(this.path));
    await writeFileAtomic(`${this.path}${suffix}`, bytes);
  }

  /**
   * Removes the file (`""`) or a companion (`path + name`); a missing file is not an error.
   * Only a regular file is removed: a device, pipe or directory given as the target
   * (`-o /dev/full`) stays.
   *
   * @param name `""` for the backup file, or a companion's suffix.
   */
  async remove(name: string): Promise<void> {
    const path = `${this.path}${name}`;
    try {
      if (!(await Deno.lstat(path)).isFile) return;
      await Deno.remove(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw writeError(path, err);
    }
  }

  /**
   * Returns the path of the file or a companion.
   *
   * @param name `""` for the backup file, or a companion's suffix.
   * @returns The path.
   */
  describe(name: string): string {
    return `${this.path}${name}`;
  }
}
