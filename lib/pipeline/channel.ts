/**
 * A bounded async channel: the queue between pipeline stages.
 *
 * A full channel makes producers wait, so a slow writer slows the scan (backpressure).
 * `put()` and `takeSync()` complete without a promise whenever they can, which keeps the
 * per-record cost of a busy pipeline to a few array operations.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { Ring } from "./_ring.ts";

/** Returned by {@linkcode Channel.takeSync} when nothing is queued yet. */
export const EMPTY: unique symbol = Symbol("EMPTY");
/** Returned by take calls once the channel is closed and drained. */
export const CLOSED: unique symbol = Symbol("CLOSED");

interface Taker<T> {
  resolve: (v: T | typeof CLOSED) => void;
  reject: (e: unknown) => void;
}
interface Putter<T> {
  item: T;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * A bounded FIFO channel with O(1) put and take.
 *
 * @typeParam T The item type.
 *
 * @example Producer and consumer
 * ```ts
 * import { Channel, CLOSED } from "./channel.ts";
 * const ch = new Channel<number>(2);
 * const producer = (async () => {
 *   for (let i = 0; i < 5; i++) await ch.put(i);
 *   ch.close();
 * })();
 * const got: number[] = [];
 * for (let v = await ch.take(); v !== CLOSED; v = await ch.take()) got.push(v);
 * await producer;
 * console.log(got); // [0, 1, 2, 3, 4]
 * ```
 */
export class Channel<T> {
  readonly #capacity: number;
  readonly #items: Ring<T>;
  readonly #takers = new Ring<Taker<T>>(4);
  readonly #putters = new Ring<Putter<T>>(4);
  #closed = false;
  #error: unknown = undefined;
  #failed = false;

  /**
   * Creates a channel.
   *
   * @param capacity How many items may wait in the channel (at least 1).
   * @throws {RangeError} When capacity is not a positive integer.
   */
  constructor(capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create channel with capacity ${capacity}: expected >= 1`);
    }
    this.#capacity = capacity;
    this.#items = new Ring<T>(Math.min(capacity, 1024));
  }

  /** Maximum number of queued items. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of queued items. */
  get size(): number {
    return this.#items.size;
  }

  /** Whether {@linkcode Channel.close} or {@linkcode Channel.abort} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues an item.
   *
   * @param item The item.
   * @returns `undefined` when queued at once, else a promise that resolves when there is room.
   * @throws The abort reason when the channel was aborted; AerobakError `"CHANNEL_CLOSED"`
   *   when it was closed.
   */
  put(item: T): Promise<void> | undefined {
    if (this.#failed) throw this.#error;
    if (this.#closed) throw new AerobakError("CHANNEL_CLOSED", "Cannot put into a closed channel");
    const taker = this.#takers.shift();
    if (taker) {
      taker.resolve(item);
      return undefined;
    }
    if (this.#items.size < this.#capacity) {
      this.#items.push(item);
      return undefined;
    }
    return new Promise((resolve, reject) => this.#putters.push({ item, resolve, reject }));
  }

  /**
   * Takes an item without waiting.
   *
   * @returns The oldest item, {@linkcode EMPTY} when none is queued, or {@linkcode CLOSED}
   *   when the channel is closed and drained.
   * @throws The abort reason when the channel was aborted.
   */
  takeSync(): T | typeof EMPTY | typeof CLOSED {
    if (this.#failed) throw this.#error;
    if (this.#items.size > 0) {
      const item = this.#items.shift() as T;
      const putter = this.#putters.shift();
      if (putter) {
        this.#items.push(putter.item);
        putter.resolve();
      }
      return item;
    }
    const putter = this.#putters.shift();
    if (putter) {
      putter.resolve();
      return putter.item;
    }
    return this.#closed ? CLOSED : EMPTY;
  }

  /**
   * Takes an item, waiting for one.
   *
   * @returns The oldest item, or {@linkcode CLOSED} once closed and drained.
   * @throws The abort reason when the channel was aborted.
   */
  take(): Promise<T | typeof CLOSED> {
    try {
      const v = this.takeSync();
      if (v !== EMPTY) return Promise.resolve(v);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => this.#takers.push({ resolve, reject }));
  }

  /** Ends the channel: queued items can still be taken, then takes return {@linkcode CLOSED}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let t = this.#takers.shift(); t; t = this.#takers.shift()) t.resolve(CLOSED);
  }

  /**
   * Fails the channel: drops queued items and makes every pending and later call throw.
   *
   * @param reason The error waiting calls reject with.
   */
  abort(reason: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#closed = true;
    this.#error = reason;
    this.#items.clear();
    for (let t = this.#takers.shift(); t; t = this.#takers.shift()) t.reject(reason);
    for (let p = this.#putters.shift(); p; p = this.#putters.shift()) p.reject(reason);
  }

  /**
   * Iterates the items until the channel is closed and drained.
   *
   * @returns An async iterator of items.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let v = this.takeSync();
      if (v === EMPTY) v = await this.take();
      if (v === CLOSED) return;
      yield v;
    }
  }
}
