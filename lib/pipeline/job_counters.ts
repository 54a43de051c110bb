/**
 * Counters every job keeps beside its own: retries by cause, and the waits of its rate
 * limits. They are plain objects the workers bump on the spot and the job's statistics
 * copy out.
 *
 * @module
 */

/** Retries of a job, by cause. */
export class RetryCounter {
  /** Retries in all. */
  total = 0;
  readonly #byCause = new Map<string, number>();

  /**
   * Counts one retry.
   *
   * @param cause Why: a snake_case cause such as `timeout` or `partition_unavailable`
   *   (see `retryCause`).
   */
  count(cause: string): void {
    this.total++;
    this.#byCause.set(cause, (this.#byCause.get(cause) ?? 0) + 1);
  }

  /**
   * Copies the counts out.
   *
   * @returns Retries by cause.
   *
   * @example
   * ```ts
   * import { RetryCounter } from "./job_counters.ts";
   * const r = new RetryCounter();
   * r.count("timeout");
   * r.count("timeout");
   * console.log(r.total, r.snapshot()); // 2 { timeout: 2 }
   * ```
   */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#byCause);
  }
}

/** How often, and how long, a rate limit made a job wait. */
export interface ThrottleStats {
  /** Waits (takes or writes that had to wait). */
  waits: number;
  /** Milliseconds waited in all. */
  waitedMs: number;
}

/** The waits of a job's two limits. */
export interface JobThrottleStats {
  /** The records-per-second limit. */
  records: ThrottleStats;
  /** The bandwidth limit. */
  bandwidth: ThrottleStats;
}

/**
 * New zeroed throttle counters for a job.
 *
 * @returns Counters for both limits.
 */
export function newThrottleStats(): JobThrottleStats {
  return { records: { waits: 0, waitedMs: 0 }, bandwidth: { waits: 0, waitedMs: 0 } };
}

/**
 * Copies throttle counters out.
 *
 * @param t The counters.
 * @returns A snapshot.
 */
export function copyThrottleStats(t: JobThrottleStats): JobThrottleStats {
  return { records: { ...t.records }, bandwidth: { ...t.bandwidth } };
}
