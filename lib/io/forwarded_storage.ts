/**
 * Backup files written from a worker through the main thread's storage. A reader worker
 * encodes, compresses and encrypts its records into files of its own; the bytes of each
 * file cross to the main thread (moved, not copied) and land in the job's storage writer
 * there, whatever it is (a directory, an object store). At most a few MiB per worker are on
 * their way at once: a worker whose storage is slow waits, and so do its scans.
 *
 * @module
 */

import { type CallHandler, Transfer, type WorkerChannel } from "../pipeline/worker_channel.ts";
import { BufferPool } from "./_buffer_pool.ts";
import type { StorageWriter } from "./storage.ts";

/** Bytes a worker may have on their way to the storage before its writes wait. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** How a forwarded storage names files in messages: `prefix + name + suffix`. */
export interface StorageDescription {
  /** Text before the file name, e.g. `"/backups/today/"`. */
  prefix: string;
  /** Text after it (usually `""`). */
  suffix: string;
}

/**
 * How a storage writer names files, as data a worker can take: the text around a file
 * name in {@linkcode StorageWriter.describe}.
 *
 * @param storage The writer.
 * @returns Prefix and suffix.
 */
export function describeStorage(storage: StorageWriter): StorageDescription {
  const marker = "\u0000name\u0000";
  const text = storage.describe(marker);
  const at = text.indexOf(marker);
  if (at < 0) return { prefix: text, suffix: "" };
  return { prefix: text.slice(0, at), suffix: text.slice(at + marker.length) };
}

/**
 * Size of the buffers that carry chunks across (a larger chunk gets one of its size). A
 * moved buffer that the main thread merely dropped would wait there for a garbage
 * collection that its idle heap rarely runs, so the buffers come back with the answers.
 */
const CARRIER_BYTES = 256 * 1024;

/**
 * The worker's side: a directory storage whose files are written by the main thread
 * ({@linkcode StorageHost}), through a {@linkcode WorkerChannel}.
 */
export class ForwardedStorageWriter implements StorageWriter {
  /** Always a directory of backup files. */
  readonly kind = "directory" as const;
  /** True: each chunk is copied into a carrier buffer before its write settles. */
  readonly consumesWrites = true;
  readonly #channel: WorkerChannel;
  readonly #description: StorageDescription;
  readonly #carriers = new BufferPool(CARRIER_BYTES, 32);

  /**
   * Creates the writer.
   *
   * @param channel The channel to the main thread.
   * @param description How the main thread's storage names files.
   */
  constructor(channel: WorkerChannel, description: StorageDescription) {
    this.#channel = channel;
    this.#description = description;
  }

  /**
   * Creates the file on the main thread's storage and returns a sink whose bytes go there.
   *
   * @param name File name.
   * @returns The byte sink; closing it closes the file there.
   */
  async open(name: string): Promise<WritableStream<Uint8Array>> {
    const channel = this.#channel;
    const carriers = this.#carriers;
    const id = await channel.call("storage.open", { name }) as number;
    // Writes on their way; each settles without rejecting and leaves its error in `failure`.
    const inFlight: Promise<void>[] = [];
    let inFlightBytes = 0;
    let failure: unknown;
    const settleOne = async () => {
      await inFlight.shift();
      if (failure !== undefined) throw failure;
    };
    return new WritableStream<Uint8Array>({
      async write(chunk) {
        if (failure !== undefined) throw failure;
        const n = chunk.length;
        const buffer = carriers.take(chunk);
        inFlightBytes += n;
        inFlight.push(
          channel.call("storage.write", { id, buffer, length: n }, [buffer]).then(
            (back) => {
              inFlightBytes -= n;
              carriers.give(back as ArrayBuffer);
            },
            (e) => {
              failure ??= e;
            },
          ),
        );
        while (inFlightBytes > WINDOW_BYTES && inFlight.length > 0) await settleOne();
      },
      async close() {
        while (inFlight.length > 0) await settleOne();
        if (failure !== undefined) throw failure;
        await channel.call("storage.close", { id });
      },
      async abort(reason) {
        await Promise.allSettled(inFlight.splice(0));
        await channel.call("storage.abort", { id, reason: String(reason) }).catch(() => {});
      },
    });
  }

  /**
   * The main thread storage's name of a file.
   *
   * @param name File name.
   * @returns Its path or URL.
   */
  describe(name: string): string {
    return this.#description.prefix + name + this.#description.suffix;
  }
}

/** The main thread's side: writes the files workers forward to a storage writer. */
export class StorageHost {
  readonly #storage: StorageWriter;
  readonly #open = new Map<number, WritableStreamDefaultWriter<Uint8Array>>();
  #nextId = 1;

  /**
   * Creates a host.
   *
   * @param storage Where the files go.
   */
  constructor(storage: StorageWriter) {
    this.#storage = storage;
  }

  /**
   * The calls a {@linkcode ForwardedStorageWriter} makes, to register on the channel.
   *
   * @returns Handlers by name.
   */
  handlers(): Record<string, CallHandler> {
    return {
      "storage.open": async (args) => {
        const { name } = args as { name: string };
        const writer = (await this.#storage.open(name)).getWriter();
        const id = this.#nextId++;
        this.#open.set(id, writer);
        return id;
      },
      "storage.write": async (args) => {
        const { id, buffer, length } = args as { id: number; buffer: ArrayBuffer; length: number };
        const w = this.#writer(id);
        await w.ready;
        // The sink may keep a view it was given: it gets its own copy, the buffer goes back.
        await w.write(new Uint8Array(buffer, 0, length).slice());
        return new Transfer(buffer, [buffer]);
      },
      "storage.close": async (args) => {
        const { id } = args as { id: number };
        const w = this.#writer(id);
        this.#open.delete(id);
        await w.close();
      },
      "storage.abort": async (args) => {
        const { id, reason } = args as { id: number; reason: string };
        const w = this.#open.get(id);
        this.#open.delete(id);
        await w?.abort(reason);
      },
    };
  }

  /**
   * Closes the files a worker left open (it failed or was stopped), as written so far.
   *
   * @param reason Why.
   */
  async abortAll(reason: unknown): Promise<void> {
    const writers = [...this.#open.values()];
    this.#open.clear();
    await Promise.allSettled(writers.map((w) => w.abort(reason)));
  }

  #writer(id: number): WritableStreamDefaultWriter<Uint8Array> {
    const w = this.#open.get(id);
    if (w === undefined) throw new Error(`Internal error: no open file ${id}`);
    return w;
  }
}
