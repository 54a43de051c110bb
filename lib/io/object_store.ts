/**
 * Backup storage in a cloud object store (AWS S3, Google Cloud Storage, Azure Blob).
 *
 * Each provider implements the small {@linkcode ObjectStore} contract (list, ranged read,
 * single put, multipart upload, delete); {@linkcode ObjectStoreWriter} and
 * {@linkcode ObjectStoreReader} turn any store into the {@linkcode StorageWriter} and
 * {@linkcode StorageReader} the jobs use, with the same rules as a local directory: the
 * backup directory is a key prefix, a non-empty prefix is refused unless told to remove its
 * backup files, files are uploaded in parts while they are written, and reads resume where a
 * broken download stopped.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { systemClock } from "../pipeline/clock.ts";
import { BACKUP_FILE_EXTENSIONS } from "./local_writer.ts";
import type { StorageEntry, StorageReader, StorageWriter } from "./storage.ts";

/** One object under a prefix. */
export interface ObjectInfo {
  /** Full key (prefix included). */
  key: string;
  /** Size in bytes. */
  size: number;
}

/** An upload in parts that becomes one object when completed. */
export interface MultipartUpload {
  /**
   * Uploads one part. Parts are numbered from 0 in file order; all parts but the last have
   * the writer's part size. Up to the store's `maxConcurrentParts` run at once.
   *
   * @param index Part number, from 0.
   * @param bytes The part (only valid until the promise settles).
   * @param last Whether this is the last part of the object.
   */
  uploadPart(index: number, bytes: Uint8Array, last: boolean): Promise<void>;
  /** Makes the object from the uploaded parts (after the last part settled). */
  complete(): Promise<void>;
  /** Drops the parts uploaded so far; the object is not created. */
  abort(): Promise<void>;
}

/** The operations a cloud provider offers the backup storage. */
export interface ObjectStore {
  /** How many parts of one upload may be in flight at once (1 for strictly sequential uploads). */
  readonly maxConcurrentParts: number;
  /** Part sizes must be a multiple of this many bytes (1 when any size works). */
  readonly partAlignment: number;
  /**
   * The URL of a key, for messages (`s3://bucket/key`).
   *
   * @param key Object key.
   */
  describe(key: string): string;
  /**
   * Lists the objects whose keys start with `prefix` and have no further `/` after it.
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * Lists the "subdirectories" directly under `prefix`: the next key segment of the keys
   * that have a further `/` after it (the common prefixes of a `/`-delimited listing), as
   * names without the `/`.
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   */
  listDirectories(prefix: string): AsyncIterable<string>;
  /**
   * Reads an object from a byte offset to its end.
   *
   * @param key Object key.
   * @param offset First byte to read.
   * @returns The bytes; a failure mid-stream errors the stream (the reader resumes).
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a missing object, `STORAGE_READ` otherwise.
   */
  read(key: string, offset: number): Promise<ReadableStream<Uint8Array>>;
  /**
   * Creates or replaces a small object in one request (atomic for readers).
   *
   * @param key Object key.
   * @param bytes Content.
   */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * Starts a multipart upload of `key`.
   *
   * @param key Object key.
   */
  startUpload(key: string): Promise<MultipartUpload>;
  /**
   * Deletes an object; a missing object is not an error.
   *
   * @param key Object key.
   */
  remove(key: string): Promise<void>;
}

/** When and how often a failed request is tried again. */
export interface RequestRetryPolicy {
  /** Attempts in all, the first included. @default {10} */
  maxAttempts?: number;
  /** Wait before the first retry, in ms. @default {1000} */
  initialBackoffMs?: number;
  /** Factor applied to the wait after each retry. @default {2} */
  multiplier?: number;
  /** Longest wait between attempts, in ms. @default {90000} */
  maxBackoffMs?: number;
}

/**
 * Whether a retry loop may try an error again: an {@linkcode AerobakError} says so itself
 * (stores mark 5xx, throttling and timeouts retriable); anything else is a failed `fetch`
 * (connection refused or reset), which is worth another attempt.
 *
 * @param err The error.
 * @returns `true` to retry.
 */
export function isRetriableRequestError(err: unknown): boolean {
  return err instanceof AerobakError ? err.retriable : true;
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not retriable, or runs out of
 * attempts; waits with exponential backoff between attempts.
 *
 * @param fn The operation; gets the attempt number from 1.
 * @param policy Attempts and backoff.
 * @param signal Cancels the job: a wait between attempts ends with its reason.
 * @returns What `fn` returned.
 * @throws The last error.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RequestRetryPolicy = {},
  signal?: AbortSignal,
): Promise<T> {
  const attempts = Math.max(1, policy.maxAttempts ?? 10);
  let wait = policy.initialBackoffMs ?? 1000;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isRetriableRequestError(err) || signal?.aborted) throw err;
    }
    await systemClock.sleep(Math.min(wait, policy.maxBackoffMs ?? 90000), signal);
    wait *= policy.multiplier ?? 2;
  }
}

/** Options of {@linkcode ObjectStoreWriter}. */
export interface ObjectStoreWriterOptions {
  /** Part size of multipart uploads in bytes (rounded up to the store's alignment). @default {5 MiB} */
  partSize?: number;
  /** Parts of one file uploaded at once (capped by the store). @default {1} */
  uploadConcurrency?: number;
  /** Remove the prefix's backup files instead of refusing a non-empty prefix (`-r`). @default {false} */
  removeFiles?: boolean;
  /** Accept a non-empty prefix without checking (continuing a backup). @default {false} */
  skipDirCheck?: boolean;
  /** Extensions of the files `removeFiles` deletes. @default {[".asb", ".asbx", ".manifest.json"]} */
  removeExtensions?: readonly string[];
}

/** Joins a backup "directory" and a file name into a key. */
function keyOf(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}${name}`;
}

/** Normalises a directory given by the user into a key prefix (`""` or `a/b/`). */
export function directoryPrefix(dir: string): string {
  const p = dir.replace(/^\/+/, "").replace(/\/+$/, "");
  return p === "" || p === "." ? "" : `${p}/`;
}

/**
 * Writes backup files as objects under a prefix: the cloud twin of a local directory.
 *
 * @example
 * ```ts ignore
 * const storage = new ObjectStoreWriter(s3, "backups/today", { removeFiles: true });
 * const sink = await storage.open("test_1.asb");
 * ```
 */
export class ObjectStoreWriter implements StorageWriter {
  /** Always `"directory"`. */
  readonly kind = "directory" as const;
  /** The key prefix (`""` or ending with `/`). */
  readonly prefix: string;
  #store: ObjectStore;
  #options: ObjectStoreWriterOptions;
  #partSize: number;
  #prepared?: Promise<void>;

  /**
   * Creates a writer; nothing is sent until {@linkcode prepare} or `open`.
   *
   * @param store The provider.
   * @param directory Backup directory inside the bucket (a key prefix).
   * @param options Part size, concurrency, remove-files rule.
   */
  constructor(store: ObjectStore, directory: string, options: ObjectStoreWriterOptions = {}) {
    this.#store = store;
    this.prefix = directoryPrefix(directory);
    this.#options = { ...options };
    this.#partSize = alignedPartSize(store, options.partSize);
  }

  /**
   * Checks that the prefix holds no object (or removes its backup files with `removeFiles`).
   * Runs once; `open` calls it too.
   *
   * @throws {AerobakError} `STORAGE_NOT_EMPTY` naming the prefix and its first object.
   */
  prepare(): Promise<void> {
    this.#prepared ??= this.#prepare();
    return this.#prepared;
  }

  async #prepare(): Promise<void> {
    if (this.#options.skipDirCheck) return;
    const found: ObjectInfo[] = [];
    for await (const o of this.#store.list(this.prefix)) found.push(o);
    if (found.length === 0) return;
    if (!this.#options.removeFiles) {
      found.sort((a, b) => (a.key < b.key ? -1 : 1));
      const where = this.#store.describe(this.prefix);
      throw new AerobakError(
        "STORAGE_NOT_EMPTY",
        `Cannot back up into ${where}: it is not empty (holds "${found[0].key}"${
          found.length > 1 ? ` and ${found.length - 1} more` : ""
        }); pass removeFiles (-r) to replace its backup files`,
        { location: { file: where } },
      );
    }
    const exts = this.#options.removeExtensions ?? BACKUP_FILE_EXTENSIONS;
    for (const o of found) {
      if (exts.some((x) => o.key.endsWith(x))) await this.#store.remove(o.key);
    }
  }

  /**
   * Creates the object `prefix + name`. Bytes are uploaded in parts as they come; the object
   * appears when the sink is closed. Aborting the sink drops the upload.
   *
   * @param name File name (no `/`).
   * @returns The byte sink.
   */
  async open(name: string): Promise<WritableStream<Uint8Array>> {
    checkName(name);
    await this.prepare();
    return uploadSink(
      this.#store,
      keyOf(this.prefix, name),
      this.#partSize,
      partConcurrency(this.#store, this.#options.uploadConcurrency),
    );
  }

  /**
   * Replaces the object `prefix + name` in one request (object stores make a put atomic).
   *
   * @param name File name.
   * @param bytes Content.
   */
  async writeAtomic(name: string, bytes: Uint8Array): Promise<void> {
    checkName(name);
    await this.prepare();
    await this.#store.put(keyOf(this.prefix, name), bytes);
  }

  /**
   * Reads the object `prefix + name` back (the state file of a backup being continued).
   *
   * @param name File name.
   * @returns Its content.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a missing object.
   */
  async readBack(name: string): Promise<Uint8Array> {
    const stream = await this.#store.read(keyOf(this.prefix, name), 0);
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  /**
   * Deletes the object `prefix + name`.
   *
   * @param name File name.
   */
  async remove(name: string): Promise<void> {
    await this.#store.remove(keyOf(this.prefix, name));
  }

  /**
   * A writer of the prefix `prefix + name + "/"` with the same options.
   *
   * @param name Subdirectory name (no `/`).
   * @returns The writer.
   */
  subdirectory(name: string): ObjectStoreWriter {
    checkName(name);
    return new ObjectStoreWriter(this.#store, keyOf(this.prefix, name), this.#options);
  }

  /**
   * The URL of a file.
   *
   * @param name File name.
   * @returns For example `s3://bucket/backups/test_1.asb`.
   */
  describe(name: string): string {
    return this.#store.describe(keyOf(this.prefix, name));
  }
}

/**
 * Writes the whole backup into one object (CLI `-o/--output-file` with cloud storage),
 * replacing it if it exists, as a local single-file backup does. It can be opened once.
 */
export class ObjectStoreFileWriter implements StorageWriter {
  /** Always `"file"`. */
  readonly kind = "file" as const;
  /** The object's key. */
  readonly key: string;
  #store: ObjectStore;
  #partSize: number;
  #concurrency: number;
  #opened = false;

  /**
   * Creates a writer; nothing is sent until `open`.
   *
   * @param store The provider.
   * @param key The object's key (a leading `/` is dropped).
   * @param options Part size and parallel parts.
   */
  constructor(
    store: ObjectStore,
    key: string,
    options: Pick<ObjectStoreWriterOptions, "partSize" | "uploadConcurrency"> = {},
  ) {
    this.#store = store;
    this.key = key.replace(/^\/+/, "");
    this.#partSize = alignedPartSize(store, options.partSize);
    this.#concurrency = partConcurrency(store, options.uploadConcurrency);
  }

  /**
   * Starts the upload of the object; the object appears when the sink is closed.
   *
   * @param _name Ignored: a single-file backup has one name.
   * @returns The byte sink.
   * @throws {AerobakError} `STORAGE_REOPENED` on a second call.
   */
  open(_name: string): Promise<WritableStream<Uint8Array>> {
    if (this.#opened) {
      return Promise.reject(
        new AerobakError(
          "STORAGE_REOPENED",
          `Cannot open ${this.#store.describe(this.key)} twice: single-file backups hold one file`,
        ),
      );
    }
    this.#opened = true;
    return Promise.resolve(uploadSink(this.#store, this.key, this.#partSize, this.#concurrency));
  }

  /**
   * Replaces the companion object `key + suffix` in one request (the manifest).
   *
   * @param suffix Appended to the backup object's key, such as `.manifest.json`.
   * @param bytes Content.
   */
  async writeAtomic(suffix: string, bytes: Uint8Array): Promise<void> {
    if (suffix === "") throw new TypeError("Cannot replace the backup object itself atomically");
    await this.#store.put(`${this.key}${suffix}`, bytes);
  }

  /**
   * Deletes the object (`""`) or a companion (`key + name`).
   *
   * @param name `""` for the backup object, or a companion's suffix.
   */
  async remove(name: string): Promise<void> {
    await this.#store.remove(`${this.key}${name}`);
  }

  /**
   * The URL of the object or of a companion.
   *
   * @param name `""` for the backup object, or a companion's suffix.
   * @returns For example `s3://bucket/backups/all.asb`.
   */
  describe(name: string): string {
    return this.#store.describe(`${this.key}${name}`);
  }
}

/** The part size asked for (5 MiB by default), rounded up to the store's alignment. */
function alignedPartSize(store: ObjectStore, partSize = 5 * 1024 * 1024): number {
  const align = Math.max(1, store.partAlignment);
  return Math.ceil(Math.max(1, partSize) / align) * align;
}

/** Parts of one upload in flight: as asked (1 by default), capped by the store. */
function partConcurrency(store: ObjectStore, asked = 1): number {
  return Math.max(1, Math.min(asked, store.maxConcurrentParts));
}

function checkName(name: string): void {
  if (name === "" || name.includes("/")) {
    throw new TypeError(`Cannot open backup file "${name}": expected a plain file name`);
  }
}

/**
 * A sink that cuts the bytes into parts of `partSize` and uploads up to `concurrency` at
 * once; an object smaller than one part is sent with a single put.
 */
function uploadSink(
  store: ObjectStore,
  key: string,
  partSize: number,
  concurrency: number,
): WritableStream<Uint8Array> {
  let part = new Uint8Array(partSize);
  let used = 0;
  let index = 0;
  let upload: MultipartUpload | undefined;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  async function send(bytes: Uint8Array, last: boolean): Promise<void> {
    upload ??= await store.startUpload(key);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    const p = upload.uploadPart(index++, bytes, last).catch((err) => {
      failure ??= err;
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  async function drain(): Promise<void> {
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
  }
  async function dropUpload(): Promise<void> {
    await Promise.allSettled(inFlight);
    await upload?.abort().catch(() => {});
  }
  const fail = (err: unknown) =>
    err instanceof AerobakError ? err : new AerobakError(
      "STORAGE_WRITE",
      `Cannot write ${store.describe(key)}: ${(err as Error).message}`,
      { cause: err, location: { file: store.describe(key) } },
    );

  return new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        let off = 0;
        while (off < chunk.length) {
          if (used === partSize) {
            // A full part is held until more bytes come, so the last part is never empty.
            await send(part, false);
            part = new Uint8Array(partSize);
            used = 0;
          }
          const n = Math.min(partSize - used, chunk.length - off);
          part.set(chunk.subarray(off, off + n), used);
          used += n;
          off += n;
        }
      } catch (err) {
        await dropUpload();
        throw fail(err);
      }
    },
    async close() {
      try {
        if (upload === undefined) {
          await store.put(key, part.subarray(0, used));
          return;
        }
        await send(part.subarray(0, used), true);
        await drain();
        await upload.complete();
      } catch (err) {
        await dropUpload();
        throw fail(err);
      }
    },
    async abort() {
      await dropUpload();
    },
  });
}

/** Options of {@linkcode ObjectStoreReader}. */
export interface ObjectStoreReaderOptions {
  /** Only files whose names end with this are listed. @default {".asb"} */
  extension?: string;
  /** Files whose names start with one of these are left out. */
  skipPrefixes?: readonly string[];
  /** How a broken download resumes (CLI `--*-retry-read-*`). */
  readRetry?: RequestRetryPolicy;
}

/** What an {@linkcode ObjectStoreReader} reads. */
export type ObjectSource =
  /** The backup files of one or more directories (key prefixes), each listed by name. */
  | { directories: readonly string[] }
  /** Explicit files (keys), in order. */
  | { files: readonly string[] };

/**
 * Reads backup files from an object store: the cloud twin of the local readers.
 *
 * @example
 * ```ts ignore
 * const reader = new ObjectStoreReader(s3, { directories: ["backups/today"] });
 * for await (const entry of reader.list()) console.log(entry.path);
 * ```
 */
export class ObjectStoreReader implements StorageReader {
  /** `"directory"` for one directory, `"files"` otherwise. */
  readonly kind: "directory" | "files";
  #store: ObjectStore;
  #source: ObjectSource;
  #options: ObjectStoreReaderOptions;
  /** Key of each listed entry, by its path (the entry's name is the key's last segment). */
  #keys = new Map<string, string>();

  /**
   * Creates a reader.
   *
   * @param store The provider.
   * @param source Directories or files.
   * @param options Extension filter, skipped prefixes, read retries.
   */
  constructor(store: ObjectStore, source: ObjectSource, options: ObjectStoreReaderOptions = {}) {
    this.#store = store;
    this.#source = source;
    this.#options = { ...options };
    this.kind = "directories" in source && source.directories.length === 1 ? "directory" : "files";
  }

  /**
   * Lists the files: each directory's matching objects by name, or the given files.
   *
   * @returns Entries (`path` is the object's URL, `name` the last segment of its key).
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a directory without backup files or a
   *   missing file.
   */
  async *list(): AsyncIterable<StorageEntry> {
    if ("files" in this.#source) {
      for (const key of this.#source.files) {
        const found = await this.#find(key);
        yield this.#entry(found);
      }
      return;
    }
    const ext = this.#options.extension ?? ".asb";
    const skip = this.#options.skipPrefixes ?? [];
    for (const dir of this.#source.directories) {
      const prefix = directoryPrefix(dir);
      const found: ObjectInfo[] = [];
      for await (const o of this.#store.list(prefix)) {
        const base = o.key.slice(prefix.length);
        if (base.endsWith(ext) && !skip.some((s) => base.startsWith(s))) found.push(o);
      }
      found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const o of found) yield this.#entry(o);
    }
  }

  #entry(o: ObjectInfo): StorageEntry {
    const path = this.#store.describe(o.key);
    this.#keys.set(path, o.key);
    return { name: o.key.slice(o.key.lastIndexOf("/") + 1), path, size: o.size };
  }

  async #find(key: string): Promise<ObjectInfo> {
    const slash = key.lastIndexOf("/");
    const prefix = key.slice(0, slash + 1);
    for await (const o of this.#store.list(prefix)) if (o.key === key) return o;
    throw new AerobakError(
      "STORAGE_NOT_FOUND",
      `Cannot read ${this.#store.describe(key)}: no such object`,
      { location: { file: this.#store.describe(key) } },
    );
  }

  /**
   * Opens a listed file; a download that breaks resumes from the byte it reached, with the
   * read retry policy.
   *
   * @param entry Entry from `list()`.
   * @returns The file's bytes.
   */
  open(entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
    const key = this.#keys.get(entry.path) ?? entry.name;
    return Promise.resolve(resumableRead(this.#store, key, this.#options.readRetry ?? {}));
  }

  /**
   * Lists the subdirectories (common prefixes) of the one directory read.
   *
   * @returns Their names.
   * @throws {TypeError} When the reader reads files or several directories.
   */
  subdirectories(): AsyncIterable<string> {
    return this.#store.listDirectories(directoryPrefix(this.#onlyDirectory("list")));
  }

  /**
   * A reader of the subdirectory `name` of the one directory read, with the same options.
   *
   * @param name Subdirectory name (no `/`).
   * @returns The reader.
   * @throws {TypeError} When the reader reads files or several directories.
   */
  subdirectory(name: string): ObjectStoreReader {
    checkName(name);
    const dir = directoryPrefix(this.#onlyDirectory("open")) + name;
    return new ObjectStoreReader(this.#store, { directories: [dir] }, this.#options);
  }

  /**
   * The URL of `name` in the one directory read.
   *
   * @param name File or subdirectory name; `""` for the directory.
   * @returns Such as `s3://bucket/backups/test/shard-0-of-4`.
   * @throws {TypeError} When the reader reads files or several directories.
   */
  describe(name: string): string {
    return this.#store.describe(directoryPrefix(this.#onlyDirectory("describe")) + name);
  }

  #onlyDirectory(what: string): string {
    if (!("directories" in this.#source) || this.#source.directories.length !== 1) {
      throw new TypeError(
        `Cannot ${what} subdirectories: the reader reads more than one directory`,
      );
    }
    return this.#source.directories[0];
  }

  /**
   * Reads a companion object (the manifest): `name` under the one directory, or
   * `key + name` beside the one file.
   *
   * @param name File name in the directory, or suffix of the file's key.
   * @returns Its URL and content, or `undefined` when it does not exist (or the source
   *   holds several directories or files).
   */
  async readCompanion(name: string): Promise<{ path: string; bytes: Uint8Array } | undefined> {
    const source = this.#source;
    let key: string;
    if ("files" in source) {
      if (source.files.length !== 1) return undefined;
      key = `${source.files[0]}${name}`;
    } else {
      if (source.directories.length !== 1) return undefined;
      key = keyOf(directoryPrefix(source.directories[0]), name);
    }
    let stream: ReadableStream<Uint8Array>;
    try {
      stream = await this.#store.read(key, 0);
    } catch (err) {
      if (err instanceof AerobakError && err.code === "STORAGE_NOT_FOUND") return undefined;
      throw err;
    }
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    return { path: this.#store.describe(key), bytes };
  }
}

/**
 * The bytes of an object; when the download fails part-way, it is started again from the
 * offset reached (`read(key, offset)`), up to the policy's attempts per failure.
 *
 * @param store The provider.
 * @param key Object key.
 * @param policy Read retries (`maxAttempts` counts the first try). @default 3 attempts, 1 s, ×2
 * @returns The bytes.
 */
export function resumableRead(
  store: ObjectStore,
  key: string,
  policy: RequestRetryPolicy,
): ReadableStream<Uint8Array> {
  let offset = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const retry: RequestRetryPolicy = {
    maxAttempts: policy.maxAttempts ?? 3,
    initialBackoffMs: policy.initialBackoffMs ?? 1000,
    multiplier: policy.multiplier ?? 2,
    maxBackoffMs: policy.maxBackoffMs ?? 90000,
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await withRetry(async () => {
        try {
          reader ??= (await store.read(key, offset)).getReader();
          return await reader.read();
        } catch (err) {
          reader?.cancel().catch(() => {});
          reader = undefined;
          throw err instanceof AerobakError ? err : new AerobakError(
            "STORAGE_READ",
            `Cannot read ${store.describe(key)} at byte ${offset}: ${(err as Error).message}`,
            { cause: err, location: { file: store.describe(key) }, retriable: true },
          );
        }
      }, retry);
      if (chunk.done) {
        controller.close();
        return;
      }
      offset += chunk.value.length;
      controller.enqueue(chunk.value);
    },
    async cancel() {
      await reader?.cancel().catch(() => {});
    },
  });
}
