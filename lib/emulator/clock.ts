/**
 * The emulator's sense of time, which tests control.
 *
 * Every time-dependent behaviour of the emulated cluster (void times, last-update times,
 * expiry, truncation, session TTLs) reads one {@linkcode EmulatorClock}, so a test can move
 * time forward instead of sleeping.
 *
 * @module
 */

import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";

/** A source of wall-clock time in milliseconds since the Unix epoch. */
export interface EmulatorClock {
  /**
   * The current time.
   *
   * @returns Milliseconds since 1970-01-01T00:00:00Z.
   */
  now(): number;
}

/** The real clock (`Date.now()`). */
export const systemClock: EmulatorClock = { now: () => Date.now() };

/**
 * A clock that only moves when told to.
 *
 * @example Expire a record without sleeping
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock(Date.UTC(2026, 0, 1));
 * clock.advance(3_600_000);
 * console.log(new Date(clock.now()).toISOString()); // 2026-01-01T01:00:00.000Z
 * ```
 */
export class ManualClock implements EmulatorClock {
  #now: number;

  /**
   * Creates a clock.
   *
   * @param startMs Initial time in ms since the Unix epoch. @default Date.now()
   */
  constructor(startMs: number = Date.now()) {
    this.#now = startMs;
  }

  /**
   * The current time.
   *
   * @returns Milliseconds since the Unix epoch.
   */
  now(): number {
    return this.#now;
  }

  /**
   * Moves the clock forward.
   *
   * @param ms Milliseconds to add (must be >= 0: server clocks do not run backwards).
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot advance the clock by ${ms} ms: must be >= 0`);
    this.#now += ms;
  }

  /**
   * Sets the clock to a later time.
   *
   * @param ms Milliseconds since the Unix epoch, not before the current time.
   */
  set(ms: number): void {
    if (!(ms >= this.#now)) {
      throw new RangeError(`Cannot set the clock to ${ms}: it is already ${this.#now}`);
    }
    this.#now = ms;
  }
}

/**
 * Converts Unix milliseconds to whole seconds since the Citrusleaf epoch (2010-01-01).
 *
 * @param ms Milliseconds since the Unix epoch.
 * @returns Seconds since the Citrusleaf epoch, floored.
 */
export function citrusleafSeconds(ms: number): number {
  return Math.floor(ms / 1000) - CITRUSLEAF_EPOCH_SECONDS;
}
