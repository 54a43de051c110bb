/**
 * Rate limits: a records-per-second token bucket and a bytes-per-second leaky bucket.
 *
 * One limiter instance is shared by every reader (or writer) of a job, as backup-go does,
 * so the limit is global to the job, not per worker.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import type { ThrottleStats } from "./job_counters.ts";

/** Options of the rate limiters. */
export interface RateLimiterOptions {
  /**
   * Time source.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /** Aborts pending waits. */
  signal?: AbortSignal;
  /** Counts the waits the limit imposes (for metrics). */
  stats?: ThrottleStats;
}

/**
 * A token bucket with burst 1: at most `rate` takes per second, evenly spaced
 * (`golang.org/x/time/rate` with burst 1, as backup-go's records-per-second limit).
 *
 * @example Limit to 2 per second
 * ```ts
 * import { TokenBucket } from "./rate_limiter.ts";
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * const bucket = new TokenBucket(2, { clock });
 * console.log(bucket.take()); // undefined: the first token is free
 * const wait = bucket.take()!; // a promise: the next token is due in 500 ms
 * await clock.advance(500);
 * await wait;
 * ```
 */
export class TokenBucket {
  readonly #interval: number;
  readonly #clock: Clock;
  readonly #signal?: AbortSignal;
  readonly #stats?: ThrottleStats;
  #next = -Infinity;

  /**
   * Creates a bucket.
   *
   * @param rate Takes per second (> 0).
   * @param options Clock and cancel signal.
   * @throws {RangeError} When rate is not positive.
   */
  constructor(rate: number, options: RateLimiterOptions = {}) {
    if (!(rate > 0) || !Number.isFinite(rate)) {
      throw new RangeError(`Cannot create token bucket with rate ${rate}: expected > 0`);
    }
    this.#interval = 1000 / rate;
    this.#clock = options.clock ?? systemClock;
    this.#signal = options.signal;
    this.#stats = options.stats;
  }

  /**
   * Takes one token.
   *
   * @returns `undefined` when a token was free, else a promise resolved when it is due.
   */
  take(): Promise<void> | undefined {
    const now = this.#clock.now();
    const start = Math.max(now, this.#next);
    this.#next = start + this.#interval;
    const wait = start - now;
    if (wait <= 0) return undefined;
    if (this.#stats) {
      this.#stats.waits++;
      this.#stats.waitedMs += wait;
    }
    return this.#clock.sleep(wait, this.#signal);
  }
}

/**
 * A leaky bucket for bytes per second whose capacity is one second of traffic: callers
 * report bytes after each write and wait while the bucket overflows.
 *
 * @example Limit to 1000 bytes per second
 * ```ts
 * import { LeakyBucket } from "./rate_limiter.ts";
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * const bucket = new LeakyBucket(1000, { clock });
 * console.log(bucket.wait(1000)); // undefined: fits in one second's capacity
 * const p = bucket.wait(500)!; // overflows by 500 bytes: 500 ms
 * await clock.advance(500);
 * await p;
 * ```
 */
export class LeakyBucket {
  readonly #rate: number;
  readonly #clock: Clock;
  readonly #signal?: AbortSignal;
  readonly #stats?: ThrottleStats;
  #level = 0;
  #last: number;

  /**
   * Creates a bucket.
   *
   * @param bytesPerSecond Drain rate (> 0); also the capacity.
   * @param options Clock and cancel signal.
   * @throws {RangeError} When the rate is not positive.
   */
  constructor(bytesPerSecond: number, options: RateLimiterOptions = {}) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new RangeError(
        `Cannot create leaky bucket with rate ${bytesPerSecond}: expected > 0`,
      );
    }
    this.#rate = bytesPerSecond / 1000;
    this.#clock = options.clock ?? systemClock;
    this.#signal = options.signal;
    this.#stats = options.stats;
    this.#last = this.#clock.now();
  }

  /**
   * Adds `n` bytes to the bucket.
   *
   * @param n Bytes just written.
   * @returns `undefined` when the bucket holds them, else a promise resolved once the
   *   overflow has drained.
   */
  wait(n: number): Promise<void> | undefined {
    const now = this.#clock.now();
    this.#level = Math.max(0, this.#level - (now - this.#last) * this.#rate) + n;
    this.#last = now;
    const capacity = this.#rate * 1000;
    if (this.#level <= capacity) return undefined;
    const wait = (this.#level - capacity) / this.#rate;
    if (this.#stats) {
      this.#stats.waits++;
      this.#stats.waitedMs += wait;
    }
    return this.#clock.sleep(wait, this.#signal);
  }
}
