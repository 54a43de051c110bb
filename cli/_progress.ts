/**
 * Shows a running job's progress on stderr: a bar redrawn every second on a terminal, a
 * line every five seconds otherwise, JSON log lines with `--log-json`.
 *
 * @module
 */

import type { JobHandle } from "../lib/pipeline/job.ts";
import { formatProgress, type Logger, type ProgressSnapshot, type TextSink } from "./_report.ts";

/** Interval of the live bar on a terminal. */
export const TERMINAL_INTERVAL_MS = 1000;
/** Interval of progress lines when stderr is not a terminal. */
export const LINE_INTERVAL_MS = 5000;

/**
 * Starts showing progress until the returned function is called.
 *
 * @param sample Returns the current snapshot.
 * @param stderr Where progress goes.
 * @param log The logger (JSON mode writes progress as log lines).
 * @returns A function that stops the display (and ends the bar's line).
 */
export function showProgress(
  sample: () => ProgressSnapshot,
  stderr: TextSink,
  log: Logger,
): () => void {
  const terminal = !log.json && (stderr.isTerminal?.() ?? false);
  let drawn = false;
  const tick = () => {
    const p = sample();
    if (log.json) {
      const attrs: Record<string, unknown> = {
        records: p.records,
        bytes: p.bytes,
        records_per_second: Math.round(p.recordsPerSecond),
      };
      if (p.total !== undefined) attrs.estimated_records = p.total;
      log.emit("info", "progress", attrs);
      return;
    }
    stderr.write(formatProgress(p, terminal));
    drawn = true;
  };
  const timer = setInterval(tick, terminal ? TERMINAL_INTERVAL_MS : LINE_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    if (terminal && drawn) stderr.write("\n");
  };
}

/** Options of {@linkcode waitWithProgress}. */
export interface WaitWithProgressOptions<S> {
  /** Picks records, bytes and the expected total from the job's statistics. */
  count: (stats: S) => Pick<ProgressSnapshot, "records" | "bytes" | "total">;
  /** Where progress goes. */
  stderr: TextSink;
  /** The logger (JSON mode writes progress as log lines). */
  log: Logger;
  /** The clock elapsed times are measured with. */
  now: () => Date;
}

/**
 * Waits for a job to end while showing its progress; the display stops however it ends.
 *
 * @param handle The running job.
 * @param options What to count, where to show it, the clock.
 * @returns The job's final statistics.
 * @throws The error that stopped the job.
 */
export async function waitWithProgress<S>(
  handle: JobHandle<S>,
  options: WaitWithProgressOptions<S>,
): Promise<S> {
  const startedAt = options.now().getTime();
  const stop = showProgress(
    () => ({
      ...options.count(handle.stats()),
      recordsPerSecond: handle.metrics().recordsPerSecond,
      elapsedMs: options.now().getTime() - startedAt,
    }),
    options.stderr,
    options.log,
  );
  try {
    return await handle.wait();
  } finally {
    stop();
  }
}
