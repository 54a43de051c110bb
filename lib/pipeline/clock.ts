/**
 * Clocks the pipeline waits on.
 *
 * Rate limiters and metrics take a {@linkcode Clock} so tests can drive time by hand with
 * {@linkcode ManualClock} instead of sleeping on real time.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";

/** A source of monotonic time and of timed waits. */
export interface Clock {
  /**
   * Reads the time.
   *
   * @returns Monotonic time in milliseconds (any origin).
   */
  now(): number;
  /**
   * Resolves after `ms` milliseconds, or rejects with the signal's reason when aborted.
   *
   * @param ms Milliseconds to wait; `<= 0` resolves on the next turn.
   * @param signal Aborts the wait.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new AerobakError("CANCELLED", "Operation cancelled");
}

/**
 * The real clock: `performance.now()` and `setTimeout`.
 *
 * @example Wait 10 ms
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const t0 = systemClock.now();
 * await systemClock.sleep(10);
 * console.log(systemClock.now() - t0 >= 9);
 * ```
 */
export const systemClock: Clock = {
  now(): number {
    return performance.now();
  },
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

interface Sleeper {
  at: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * A clock that only moves when told to, for tests.
 *
 * @example Resolve a sleep by advancing time
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * const done = clock.sleep(1000);
 * await clock.advance(1000);
 * await done;
 * console.log(clock.now()); // 1000
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  /**
   * Creates a clock.
   *
   * @param start The initial time in milliseconds.
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /**
   * Reads the manual time.
   *
   * @returns The current manual time in milliseconds.
   */
  now(): number {
    return this.#now;
  }

  /** How many sleeps are pending. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /**
   * Waits until the clock has been advanced by `ms`.
   *
   * @param ms Milliseconds to wait.
   * @param signal Aborts the wait.
   * @returns A promise settled by {@linkcode ManualClock.advance} or the signal.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), resolve, reject, signal };
      if (signal) {
        sleeper.onAbort = () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(abortReason(signal));
        };
        signal.addEventListener("abort", sleeper.onAbort, { once: true });
      }
      this.#sleepers.push(sleeper);
    });
  }

  /**
   * Moves time forward, waking every sleep that is due, in time order, letting each woken
   * task run before the next is woken.
   *
   * @param ms Milliseconds to move forward.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flushMicrotasks();
      let next: Sleeper | undefined;
      for (const s of this.#sleepers) if (s.at <= target && (!next || s.at < next.at)) next = s;
      if (!next) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.at);
      if (next.onAbort) next.signal!.removeEventListener("abort", next.onAbort);
      next.resolve();
    }
    this.#now = target;
    await flushMicrotasks();
  }
}

/** Lets queued promise callbacks run (a few macrotask-free turns). */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
