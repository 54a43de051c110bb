/**
 * The pipe runner: readers → processors → bounded channels → writers.
 *
 * Each reader runs its items through the shared processor chain (a processor drops an item
 * by returning `null`), then the fan-out picks a writer channel. Any error cancels the whole
 * pipe; every writer is closed on every exit path and close errors are joined with the
 * error that stopped the pipe.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { Channel, CLOSED, EMPTY } from "./channel.ts";
import { defaultFanout, type Fanout } from "./fanout.ts";
import type { LeakyBucket } from "./rate_limiter.ts";

/**
 * Produces a reader's items; must stop (throw) promptly when the signal aborts.
 *
 * @param signal Aborted when the pipe fails or is cancelled.
 * @returns The items.
 */
export type PipeReader<T> = (signal: AbortSignal) => AsyncIterable<T>;

/**
 * An async iterator that can also hand out an item that is ready now, without a promise.
 * A reader whose iterator has `nextReady` (e.g. a decoder with input still buffered) spares
 * the pipe a promise, an iterator result and a microtask per item; the pipe awaits `next()`
 * only when `nextReady` has nothing.
 */
export interface ReadyIterator<T> extends AsyncIterator<T> {
  /**
   * The next item if it can be had without waiting.
   *
   * @returns The item, or `undefined` when the caller must await `next()` (items are never
   *   `undefined`).
   */
  nextReady(): T | undefined;
}

/**
 * Gives a reader's iterator the pipe's fast path: `ready` hands out the items that can be
 * had without waiting (a decoder's records still buffered), `items` does the rest
 * (opening files, reading, finishing).
 *
 * @param items The iterator (an async generator, typically).
 * @param ready Returns an item ready now, or `undefined`.
 * @returns The reader's iterator.
 *
 * @example
 * ```ts
 * import { withReady } from "./pipe.ts";
 * const buffered = [1, 2];
 * const it = withReady((async function* () { yield 3; })(), () => buffered.shift());
 * console.log(it.nextReady(), it.nextReady(), it.nextReady(), (await it.next()).value); // 1 2 undefined 3
 * ```
 */
export function withReady<T>(
  items: AsyncIterator<T>,
  ready: () => T | undefined,
): ReadyIterator<T> & AsyncIterable<T> {
  return {
    next: () => items.next(),
    return: (value?: unknown) => items.return?.(value) ?? Promise.resolve({ done: true, value }),
    throw: (err?: unknown) => items.throw?.(err) ?? Promise.reject(err),
    nextReady: ready,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** One step of the processor chain, shared by all readers. */
export interface Processor<T> {
  /**
   * Processes an item.
   *
   * @param item The item.
   * @returns The item to pass on (possibly changed), or `null` to drop it.
   */
  process(item: T): T | null | Promise<T | null>;
}

/** The consuming end of a pipe. */
export interface PipeWriter<T> {
  /**
   * Writes an item.
   *
   * @param item The item.
   * @returns The number of bytes it took (for the bandwidth limit).
   */
  write(item: T): number | Promise<number>;
  /** Flushes and releases; called exactly once, also after a failure. */
  close(): Promise<void>;
}

/** The stages of a pipe. */
export interface PipeStages<T> {
  /** The readers; each runs concurrently. */
  readers: readonly PipeReader<T>[];
  /** The processor chain applied to every item, in order. */
  processors?: readonly Processor<T>[];
  /** The writers, one channel each. */
  writers: readonly PipeWriter<T>[];
}

/** Options of {@linkcode Pipe}. */
export interface PipeOptions<T> {
  /**
   * Which writer each item goes to.
   *
   * @default {fixed when readers = writers, else round-robin}
   */
  fanout?: Fanout<T>;
  /**
   * Capacity of each writer's channel.
   *
   * @default {256}
   */
  channelSize?: number;
  /** Bytes-per-second limit applied after each write. */
  bandwidth?: LeakyBucket;
  /** Cancels the pipe. */
  signal?: AbortSignal;
}

/**
 * Joins several errors the way Go's `errors.Join` does: one error stays itself, several
 * become an `AggregateError` whose first entry is the one that stopped the pipe.
 *
 * @param errors The errors, primary first.
 * @returns The joined error.
 */
export function joinErrors(errors: readonly unknown[]): unknown {
  if (errors.length === 1) return errors[0];
  const first = errors[0];
  const message = first instanceof Error ? first.message : String(first);
  return new AggregateError(errors, `${message} (and ${errors.length - 1} more errors)`);
}

/**
 * A pipe ready to run.
 *
 * @example Double numbers through a pipe
 * ```ts
 * import { Pipe } from "./pipe.ts";
 * const out: number[] = [];
 * const pipe = new Pipe({
 *   readers: [async function* () { yield 1; yield 2; }],
 *   processors: [{ process: (n: number) => n * 2 }],
 *   writers: [{ write: (n: number) => (out.push(n), 0), close: async () => {} }],
 * });
 * await pipe.run();
 * console.log(out); // [2, 4]
 * ```
 */
export class Pipe<T> {
  readonly #stages: PipeStages<T>;
  readonly #options: PipeOptions<T>;
  readonly #channels: Channel<T>[];
  readonly #controller = new AbortController();
  #errors: unknown[] = [];

  /**
   * Creates a pipe.
   *
   * @param stages Readers, processors and writers.
   * @param options Fan-out, channel size, bandwidth limit, cancel signal.
   * @throws {RangeError} When there are no readers or writers.
   */
  constructor(stages: PipeStages<T>, options: PipeOptions<T> = {}) {
    if (stages.readers.length === 0 || stages.writers.length === 0) {
      throw new RangeError(
        `Cannot build pipe with ${stages.readers.length} readers and ${stages.writers.length} writers`,
      );
    }
    this.#stages = stages;
    this.#options = options;
    this.#channels = stages.writers.map(() => new Channel<T>(options.channelSize ?? 256));
  }

  /** Fraction (0..1) of channel slots holding items. */
  get fill(): number {
    let used = 0;
    let cap = 0;
    for (const ch of this.#channels) {
      used += ch.size;
      cap += ch.capacity;
    }
    return cap === 0 ? 0 : used / cap;
  }

  /**
   * Runs the pipe to its end.
   *
   * @returns Resolves when every reader ended and every writer closed.
   * @throws The first error (joined with writer close errors), or the cancel reason.
   */
  async run(): Promise<void> {
    const external = this.#options.signal;
    const onAbort = () =>
      this.#fail(external!.reason ?? new AerobakError("CANCELLED", "Pipe cancelled"));
    if (external?.aborted) onAbort();
    else external?.addEventListener("abort", onAbort, { once: true });
    try {
      const writerTasks = this.#stages.writers.map((w, i) => this.#writerLoop(w, i));
      await Promise.all(this.#stages.readers.map((r, i) => this.#readerLoop(r, i)));
      for (const ch of this.#channels) ch.close();
      await Promise.all(writerTasks);
    } finally {
      external?.removeEventListener("abort", onAbort);
    }
    if (this.#errors.length > 0) throw joinErrors(this.#errors);
  }

  #fail(error: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#errors.push(error);
    this.#controller.abort(error);
    for (const ch of this.#channels) ch.abort(error);
  }

  async #readerLoop(reader: PipeReader<T>, index: number): Promise<void> {
    const signal = this.#controller.signal;
    const processors = this.#stages.processors ?? [];
    const fanout = this.#options.fanout ?? defaultFanout<T>(
      this.#stages.readers.length,
      this.#stages.writers.length,
    );
    let iterator: AsyncIterator<T> | undefined;
    try {
      iterator = reader(signal)[Symbol.asyncIterator]();
      const ready = (iterator as Partial<ReadyIterator<T>>).nextReady?.bind(iterator);
      items: for (;;) {
        if (signal.aborted) return;
        let item: T;
        const now = ready?.();
        if (now !== undefined) {
          item = now;
        } else {
          const r = await iterator.next();
          if (r.done) {
            iterator = undefined;
            return;
          }
          item = r.value;
        }
        for (let p = 0; p < processors.length; p++) {
          let out = processors[p].process(item);
          if (out instanceof Promise) out = await out;
          if (out === null) continue items;
          item = out;
        }
        const target = fanout(item, index);
        const ch = this.#channels[target];
        if (ch === undefined) {
          throw new RangeError(`Fan-out chose writer ${target} of ${this.#channels.length}`);
        }
        const wait = ch.put(item);
        if (wait) await wait;
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      // Breaking out early lets the reader release its scan or file.
      if (iterator?.return) {
        try {
          await iterator.return();
        } catch {
          // The pipe already failed or the reader is gone; its own error was recorded.
        }
      }
    }
  }

  async #writerLoop(writer: PipeWriter<T>, index: number): Promise<void> {
    const ch = this.#channels[index];
    const bandwidth = this.#options.bandwidth;
    try {
      for (;;) {
        let v = ch.takeSync();
        if (v === EMPTY) v = await ch.take();
        if (v === CLOSED) break;
        let n = writer.write(v);
        if (typeof n !== "number") n = await n;
        if (bandwidth) {
          const wait = bandwidth.wait(n);
          if (wait) await wait;
        }
      }
    } catch (e) {
      this.#fail(e);
    }
    try {
      await writer.close();
    } catch (e) {
      if (this.#errors.length === 0) this.#fail(e);
      else this.#errors.push(e);
    }
  }
}
