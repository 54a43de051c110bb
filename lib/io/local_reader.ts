/**
 * Local storage readers: a backup directory, a list of files, or a list of directories.
 *
 * @module
 */

import { basename, join } from "node:path";
import { AerobakError } from "../errors.ts";
import type { StorageEntry, StorageReader } from "./storage.ts";

/** Options of {@linkcode DirectoryReader} and {@linkcode DirectoryListReader}. */
export interface DirectoryReaderOptions {
  /**
   * Only files whose names end with this are listed (`.asb` for ASB, `.asbx` for ASBX).
   * @default {".asb"}
   */
  extension?: string;
  /** Files whose names start with one of these are left out (e.g. `metadata_` in a first pass). */
  skipPrefixes?: readonly string[];
}

function readError(code: string, path: string, err: unknown): AerobakError {
  const why = err instanceof Deno.errors.NotFound
    ? "no such file or directory"
    : err instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : (err as Error).message;
  return new AerobakError(code, `Cannot read ${path}: ${why}`, {
    cause: err,
    location: { file: path },
  });
}

/** Bytes per read of a local file. */
const READ_CHUNK_SIZE = 256 * 1024;

/**
 * A file's bytes as a stream of {@linkcode READ_CHUNK_SIZE} chunks. `FsFile.readable` reads
 * 64 KiB at a time at a far higher cost per chunk (several times the CPU of the whole rest
 * of reading); larger plain reads keep file input off a restore's profile.
 */
function fileStream(file: Deno.FsFile, path: string): ReadableStream<Uint8Array> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(READ_CHUNK_SIZE);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (err) {
        close();
        throw readError("STORAGE_READ", path, err);
      }
      if (n === null) {
        close();
        controller.close();
        return;
      }
      controller.enqueue(n === buf.length ? buf : buf.subarray(0, n));
    },
    cancel() {
      close();
    },
  });
}

async function openLocal(entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
  try {
    const file = await Deno.open(entry.path, { read: true });
    return fileStream(file, entry.path);
  } catch (err) {
    throw readError("STORAGE_READ", entry.path, err);
  }
}

/** Reads a small local file, `undefined` when it does not exist. */
async function readIfExists(
  path: string,
): Promise<{ path: string; bytes: Uint8Array } | undefined> {
  try {
    return { path, bytes: await Deno.readFile(path) };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw readError("STORAGE_READ", path, err);
  }
}

async function listDirectory(
  dir: string,
  options: DirectoryReaderOptions,
): Promise<StorageEntry[]> {
  const ext = options.extension ?? ".asb";
  const skip = options.skipPrefixes ?? [];
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.name.endsWith(ext) || skip.some((p) => e.name.startsWith(p))) continue;
      // Follow symlinks to files, as os.Stat-based readers do.
      if (
        e.isFile || (e.isSymlink && (await Deno.stat(join(dir, e.name)).catch(() => null))?.isFile)
      ) {
        names.push(e.name);
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotADirectory) {
      throw new AerobakError("STORAGE_NOT_FOUND", `Cannot list ${dir}: not a directory`, {
        cause: err,
        location: { file: dir },
      });
    }
    throw readError("STORAGE_NOT_FOUND", dir, err);
  }
  // Byte-wise order, as Go's sort.Strings (not locale order).
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: StorageEntry[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const st = await Deno.stat(path).catch((err) => {
      throw readError("STORAGE_READ", path, err);
    });
    out.push({ name, path, size: st.size });
  }
  return out;
}

/**
 * Reads the backup files of one directory (CLI `-d/--directory`), sorted by name. Files
 * with other extensions and subdirectories are ignored; ordering ASBX files by their
 * number is the format's job.
 *
 * @example
 * ```ts
 * import { DirectoryReader } from "./local_reader.ts";
 * for await (const entry of new DirectoryReader("/backups/today").list()) console.log(entry.name);
 * ```
 */
export class DirectoryReader implements StorageReader {
  /** Always `"directory"`. */
  readonly kind = "directory" as const;
  /** The directory. */
  readonly dir: string;
  #options: DirectoryReaderOptions;

  /**
   * Creates a reader.
   *
   * @param dir Backup directory.
   * @param options Extension filter and skipped prefixes.
   */
  constructor(dir: string, options: DirectoryReaderOptions = {}) {
    this.dir = dir;
    this.#options = { ...options };
  }

  /**
   * Lists the matching files by name.
   *
   * @returns Entries with sizes.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` when the directory is missing or not a directory.
   */
  async *list(): AsyncIterable<StorageEntry> {
    yield* await listDirectory(this.dir, this.#options);
  }

  /**
   * Opens a listed file.
   *
   * @param entry Entry from `list()`.
   * @returns The file's bytes.
   */
  open(entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
    return openLocal(entry);
  }

  /**
   * Lists the subdirectories (symlinks to directories included).
   *
   * @returns Their names; none when the directory is missing.
   * @throws {AerobakError} `STORAGE_READ` when it cannot be listed.
   */
  async *subdirectories(): AsyncIterable<string> {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (
          e.isDirectory ||
          (e.isSymlink &&
            (await Deno.stat(join(this.dir, e.name)).catch(() => null))?.isDirectory)
        ) {
          names.push(e.name);
        }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw readError("STORAGE_READ", this.dir, err);
    }
    yield* names;
  }

  /**
   * The path of `name` in the directory.
   *
   * @param name File or subdirectory name; `""` for the directory.
   * @returns The path.
   */
  describe(name: string): string {
    return name === "" ? this.dir : join(this.dir, name);
  }

  /**
   * A reader of `dir/name` with the same options.
   *
   * @param name Subdirectory name; must not contain a path separator.
   * @returns The reader.
   */
  subdirectory(name: string): DirectoryReader {
    if (name === "" || basename(name) !== name) {
      throw new TypeError(`Cannot read subdirectory "${name}": expected a plain name`);
    }
    return new DirectoryReader(join(this.dir, name), this.#options);
  }

  /**
   * Reads `dir/name` (the backup's manifest), whatever its extension.
   *
   * @param name File name.
   * @returns Path and content, or `undefined` when there is no such file.
   */
  readCompanion(name: string): Promise<{ path: string; bytes: Uint8Array } | undefined> {
    return readIfExists(join(this.dir, name));
  }
}

/**
 * Reads an explicit list of files (CLI `-i/--input-file`, or several), in the given order
 * and without extension filtering.
 */
export class FileListReader implements StorageReader {
  /** Always `"files"`. */
  readonly kind = "files" as const;
  /** The files. */
  readonly paths: readonly string[];

  /**
   * Creates a reader.
   *
   * @param paths Files to read, in order.
   */
  constructor(paths: readonly string[]) {
    this.paths = [...paths];
  }

  /**
   * Lists the files with their sizes.
   *
   * @returns One entry per path.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` naming a missing path or a directory.
   */
  async *list(): AsyncIterable<StorageEntry> {
    for (const path of this.paths) {
      let st: Deno.FileInfo;
      try {
        st = await Deno.stat(path);
      } catch (err) {
        throw readError("STORAGE_NOT_FOUND", path, err);
      }
      if (!st.isFile) {
        throw new AerobakError("STORAGE_NOT_FOUND", `Cannot read ${path}: not a regular file`, {
          location: { file: path },
        });
      }
      yield { name: basename(path), path, size: st.size };
    }
  }

  /**
   * Opens a listed file.
   *
   * @param entry Entry from `list()`.
   * @returns The file's bytes.
   */
  open(entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
    return openLocal(entry);
  }

  /**
   * Reads the companion `path + name` of a single file (its manifest).
   *
   * @param name Suffix of the file's path, such as `.manifest.json`.
   * @returns Path and content, or `undefined` when there is none (or several files).
   */
  readCompanion(name: string): Promise<{ path: string; bytes: Uint8Array } | undefined> {
    if (this.paths.length !== 1) return Promise.resolve(undefined);
    return readIfExists(`${this.paths[0]}${name}`);
  }
}

/** Options of {@linkcode DirectoryListReader}. */
export interface DirectoryListReaderOptions extends DirectoryReaderOptions {
  /** Directory the listed directories are relative to (CLI `--parent-directory`). */
  parentDirectory?: string;
}

/**
 * Reads the backup files of several directories (CLI `--directory-list`, with
 * `--parent-directory`): each directory's files by name, directories in the given order.
 */
export class DirectoryListReader implements StorageReader {
  /** Always `"files"`. */
  readonly kind = "files" as const;
  /** The directories, joined with the parent directory. */
  readonly dirs: readonly string[];
  #options: DirectoryReaderOptions;

  /**
   * Creates a reader.
   *
   * @param dirs Directories, relative to `parentDirectory` when given.
   * @param options Parent directory, extension filter and skipped prefixes.
   */
  constructor(dirs: readonly string[], options: DirectoryListReaderOptions = {}) {
    const parent = options.parentDirectory;
    this.dirs = dirs.map((d) => (parent ? join(parent, d) : d));
    this.#options = { extension: options.extension, skipPrefixes: options.skipPrefixes };
  }

  /**
   * Lists the matching files of every directory.
   *
   * @returns Entries with sizes.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` naming a missing directory.
   */
  async *list(): AsyncIterable<StorageEntry> {
    for (const dir of this.dirs) yield* await listDirectory(dir, this.#options);
  }

  /**
   * Opens a listed file.
   *
   * @param entry Entry from `list()`.
   * @returns The file's bytes.
   */
  open(entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
    return openLocal(entry);
  }
}
