/**
 * An in-memory {@linkcode ObjectStore} for tests, with the faults a cloud store shows:
 * downloads that break part-way and requests that fail with a retriable error.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { MultipartUpload, ObjectInfo, ObjectStore } from "./object_store.ts";

/** A store that keeps objects in a map. */
export class MemoryObjectStore implements ObjectStore {
  /** Objects by key. */
  readonly objects = new Map<string, Uint8Array>();
  /** Part sizes of every completed multipart upload, by key. */
  readonly uploads = new Map<string, number[]>();
  /** Uploads started and not completed or aborted. */
  readonly openUploads = new Set<string>();
  /** Parts in flight now, and the most seen at once. */
  inFlight = 0;
  /** The most parts seen in flight at once. */
  maxInFlight = 0;
  /** Downloads break when they reach this byte of the object (while `readBreaks` > 0). */
  breakReadsAt = 0;
  /** Breaks left to inject. */
  readBreaks = 0;
  /** The next n requests fail with a retriable error. */
  failRequests = 0;
  readonly maxConcurrentParts: number;
  readonly partAlignment: number;

  /**
   * Creates an empty store.
   *
   * @param opts Concurrency cap and part alignment.
   */
  constructor(opts: { maxConcurrentParts?: number; partAlignment?: number } = {}) {
    this.maxConcurrentParts = opts.maxConcurrentParts ?? 16;
    this.partAlignment = opts.partAlignment ?? 1;
  }

  describe(key: string): string {
    return `mem://bucket/${key}`;
  }

  #request(): void {
    if (this.failRequests > 0) {
      this.failRequests--;
      throw new AerobakError("STORAGE_WRITE", "503 Slow Down", { retriable: true });
    }
  }

  async *listDirectories(prefix: string): AsyncIterable<string> {
    this.#request();
    const names = new Set<string>();
    for (const key of this.objects.keys()) {
      const rest = key.slice(prefix.length);
      if (key.startsWith(prefix) && rest.includes("/")) names.add(rest.slice(0, rest.indexOf("/")));
    }
    yield* [...names].sort();
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.#request();
    for (const [key, bytes] of [...this.objects].sort()) {
      if (key.startsWith(prefix) && !key.slice(prefix.length).includes("/")) {
        yield { key, size: bytes.length };
      }
    }
  }

  read(key: string, offset: number): Promise<ReadableStream<Uint8Array>> {
    this.#request();
    const bytes = this.objects.get(key);
    if (bytes === undefined) {
      return Promise.reject(
        new AerobakError("STORAGE_NOT_FOUND", `Cannot read ${this.describe(key)}: not found`),
      );
    }
    let pos = offset;
    const breakAt = this.readBreaks > 0 ? this.breakReadsAt : Infinity;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull: (c) => {
          if (pos >= breakAt) {
            this.readBreaks--;
            c.error(new TypeError("connection reset"));
            return;
          }
          if (pos >= bytes.length) return c.close();
          const n = Math.min(7, bytes.length - pos, breakAt - pos);
          c.enqueue(bytes.slice(pos, pos + n));
          pos += n;
        },
      }),
    );
  }

  put(key: string, bytes: Uint8Array): Promise<void> {
    this.#request();
    this.objects.set(key, bytes.slice());
    return Promise.resolve();
  }

  startUpload(key: string): Promise<MultipartUpload> {
    this.#request();
    const parts: Uint8Array[] = [];
    this.openUploads.add(key);
    return Promise.resolve(this.#upload(key, parts));
  }

  #upload(key: string, parts: Uint8Array[]): MultipartUpload {
    return {
      uploadPart: async (index: number, bytes: Uint8Array) => {
        this.#request();
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        const copy = bytes.slice();
        await new Promise((r) => setTimeout(r, 1));
        this.inFlight--;
        parts[index] = copy;
      },
      complete: () => {
        this.openUploads.delete(key);
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let off = 0;
        for (const p of parts) {
          all.set(p, off);
          off += p.length;
        }
        this.objects.set(key, all);
        this.uploads.set(key, parts.map((p) => p.length));
        return Promise.resolve();
      },
      abort: () => {
        this.openUploads.delete(key);
        return Promise.resolve();
      },
    };
  }

  remove(key: string): Promise<void> {
    this.#request();
    this.objects.delete(key);
    return Promise.resolve();
  }
}
