/**
 * The start of a job whose statistics come from a counters object, as every backup and
 * restore job keeps one: a {@linkcode Job} whose metrics sample the counters and the pipe,
 * and whose counters learn when it ended.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import { Job, type JobHandle, type JobRunOptions } from "./job.ts";
import { MetricsMeter } from "./metrics.ts";

/** The counters of a running job, filled by its workers. */
export interface JobCounters<S> {
  /** Records so far. */
  readonly recordsRead: number;
  /** Bytes of files already closed. */
  readonly closedBytes: number;
  /** Set when the job ends, in Unix milliseconds. */
  endedAt?: number;
  /**
   * Takes a snapshot.
   *
   * @param openBytes Bytes of files still open.
   * @returns The statistics.
   */
  snapshot(openBytes: number): S;
}

/** Options of {@linkcode startCountedJob}. */
export interface CountedJobOptions<S> extends JobRunOptions<S> {
  /** The job's counters. */
  counters: JobCounters<S>;
  /** Bytes of files still open (read or written so far). */
  openBytes: () => number;
}

/** What the work of a counted job gets. */
export interface CountedJobContext {
  /** Aborts when the job is cancelled or fails. */
  signal: AbortSignal;
  /** The job's clock. */
  clock: Clock;
  /** Tells the metrics which pipe's fill to sample. */
  onPipe: (pipe: { readonly fill: number }) => void;
}

/**
 * Starts a job whose statistics and metrics come from its counters.
 *
 * @param run The work.
 * @param options The counters, open bytes, and the run options.
 * @returns The running job's handle.
 */
export function startCountedJob<S>(
  run: (ctx: CountedJobContext) => Promise<void>,
  options: CountedJobOptions<S>,
): JobHandle<S> {
  const { counters, openBytes } = options;
  const clock = options.clock ?? systemClock;
  let pipe: { readonly fill: number } | undefined;
  const meter = new MetricsMeter({
    records: () => counters.recordsRead,
    bytes: () => counters.closedBytes + openBytes(),
    fill: () => pipe?.fill ?? 0,
  }, { clock });
  return new Job<S>(async (signal) => {
    try {
      await run({ signal, clock, onPipe: (p) => (pipe = p) });
    } finally {
      counters.endedAt = Date.now();
    }
  }, {
    stats: () => counters.snapshot(openBytes()),
    metrics: () => meter.sample(),
    signal: options.signal,
    progress: options.progress,
    progressIntervalMs: options.progressIntervalMs,
    clock,
  });
}
