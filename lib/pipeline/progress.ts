/**
 * Progress reporting hook: the core counts, the edge (the CLI) renders.
 *
 * @module
 */

import type { Metrics } from "./metrics.ts";

/** Receives periodic progress of a job. The library never prints; CLIs implement this. */
export interface ProgressReporter<S> {
  /**
   * Called on a timer while the job runs, and once more when it ends.
   *
   * @param stats A snapshot of the job's statistics.
   * @param metrics Current throughput.
   * @param final `true` on the last call, made after the job ended.
   */
  report(stats: S, metrics: Metrics, final: boolean): void;
}

/**
 * A reporter that does nothing (the default).
 *
 * @returns A no-op reporter.
 */
export function noopProgress<S>(): ProgressReporter<S> {
  return { report() {} };
}
