/**
 * Job handles: a backup or restore returns one at once and runs in the background.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Metrics } from "./metrics.ts";
import type { ProgressReporter } from "./progress.ts";

/** Where a job is in its life. */
export type JobStatus = "running" | "done" | "failed" | "cancelled";

/** The handle of a running backup or restore. */
export interface JobHandle<S> {
  /** Current state. */
  readonly status: JobStatus;
  /**
   * Waits for the end.
   *
   * @returns The final statistics.
   * @throws AerobakError: the error that stopped the job (`"CANCELLED"` when cancelled).
   */
  wait(): Promise<S>;
  /**
   * Reads the statistics without waiting for the end.
   *
   * @returns A snapshot of the statistics so far.
   */
  stats(): S;
  /**
   * Reads the current throughput.
   *
   * @returns Records and bytes per second now.
   */
  metrics(): Metrics;
  /** Stops the job and waits until every worker has stopped and every file is closed. */
  cancel(): Promise<void>;
  /** Errors that stopped the job (the first is the cause), empty while it runs or after success. */
  readonly errors: readonly AerobakError[];
}

/** What every job start takes besides its work: cancellation, progress and a clock. */
export interface JobRunOptions<S> {
  /** Cancels the job. */
  signal?: AbortSignal;
  /** Receives periodic progress. */
  progress?: ProgressReporter<S>;
  /**
   * Interval of progress reports, ms.
   *
   * @default {1000}
   */
  progressIntervalMs?: number;
  /**
   * Time source of rate limits, retries, metrics and progress.
   *
   * @default {systemClock}
   */
  clock?: Clock;
}

/** Options of {@linkcode Job}: the run options, and where its statistics and metrics come from. */
export interface JobOptions<S> extends JobRunOptions<S> {
  /** Returns a snapshot of the statistics. */
  stats: () => S;
  /** Returns current metrics. */
  metrics: () => Metrics;
}

/**
 * Flattens joined errors and wraps anything that is not an AerobakError.
 *
 * @param error An error, possibly an AggregateError of several.
 * @returns The AerobakErrors, primary first.
 */
export function toAerobakErrors(error: unknown): AerobakError[] {
  if (error instanceof AggregateError && !(error instanceof AerobakError)) {
    return error.errors.flatMap(toAerobakErrors);
  }
  if (error instanceof AerobakError) return [error];
  if (error instanceof Error) {
    return [new AerobakError("INTERNAL", error.message, { cause: error })];
  }
  return [new AerobakError("INTERNAL", String(error))];
}

/**
 * A job running in the background, started at construction.
 *
 * The job attaches its own rejection handler, so a failure never becomes an unhandled
 * rejection even if nobody calls {@linkcode Job.wait}.
 *
 * @example Run and wait
 * ```ts
 * import { Job } from "./job.ts";
 * let n = 0;
 * const job = new Job(async () => { n = 42; }, {
 *   stats: () => ({ n }),
 *   metrics: () => ({ recordsPerSecond: 0, bytesPerSecond: 0, pipelineFill: 0 }),
 * });
 * console.log((await job.wait()).n); // 42
 * ```
 */
export class Job<S> implements JobHandle<S> {
  readonly #controller = new AbortController();
  readonly #options: JobOptions<S>;
  readonly #done: Promise<void>;
  #status: JobStatus = "running";
  #errors: AerobakError[] = [];

  /**
   * Starts the job on the next microtask.
   *
   * @param run The work; must stop promptly when its signal aborts.
   * @param options Statistics, metrics, cancel signal, progress.
   */
  constructor(run: (signal: AbortSignal) => Promise<void>, options: JobOptions<S>) {
    this.#options = options;
    const external = options.signal;
    const onAbort = () => this.#controller.abort(external!.reason);
    if (external?.aborted) this.#controller.abort(external.reason);
    else external?.addEventListener("abort", onAbort, { once: true });
    const ticker = new AbortController();
    if (options.progress) this.#tick(options.progress, ticker.signal);
    this.#done = Promise.resolve()
      .then(() => {
        const signal = this.#controller.signal;
        // Cancelled before it started: never run the work.
        if (signal.aborted) throw signal.reason;
        return run(signal);
      })
      .then(
        () => {
          this.#status = "done";
        },
        (e) => {
          if (this.#controller.signal.aborted && this.#isCancel(e)) {
            this.#status = "cancelled";
            this.#errors = [cancelError(this.#controller.signal.reason)];
          } else {
            this.#status = "failed";
            this.#errors = toAerobakErrors(e);
          }
        },
      )
      .finally(() => {
        external?.removeEventListener("abort", onAbort);
        ticker.abort();
        try {
          options.progress?.report(options.stats(), options.metrics(), true);
        } catch {
          // A reporter failing must not change the job's outcome.
        }
      });
  }

  /** Current state. */
  get status(): JobStatus {
    return this.#status;
  }

  /** Errors that stopped the job. */
  get errors(): readonly AerobakError[] {
    return this.#errors;
  }

  /**
   * Waits for the end.
   *
   * @returns The final statistics.
   */
  async wait(): Promise<S> {
    await this.#done;
    if (this.#errors.length > 0) throw this.#errors[0];
    return this.#options.stats();
  }

  /**
   * Reads the statistics without waiting for the end.
   *
   * @returns A snapshot of the statistics.
   */
  stats(): S {
    return this.#options.stats();
  }

  /**
   * Reads the current throughput.
   *
   * @returns Current metrics.
   */
  metrics(): Metrics {
    return this.#options.metrics();
  }

  /** Cancels and waits for every worker to stop. */
  async cancel(): Promise<void> {
    if (this.#status === "running") {
      this.#controller.abort(new AerobakError("CANCELLED", "Job cancelled"));
    }
    await this.#done;
  }

  #isCancel(e: unknown): boolean {
    const reason = this.#controller.signal.reason;
    const errors = toAerobakErrors(e);
    return e === reason || errors.some((x) => x.code === "CANCELLED") ||
      (e instanceof DOMException && e.name === "AbortError");
  }

  async #tick(progress: ProgressReporter<S>, signal: AbortSignal): Promise<void> {
    const clock = this.#options.clock ?? systemClock;
    const interval = this.#options.progressIntervalMs ?? 1000;
    for (;;) {
      try {
        await clock.sleep(interval, signal);
      } catch {
        return;
      }
      try {
        progress.report(this.#options.stats(), this.#options.metrics(), false);
      } catch {
        // A reporter failing must not stop the job.
      }
    }
  }
}

function cancelError(reason: unknown): AerobakError {
  if (reason instanceof AerobakError && reason.code === "CANCELLED") return reason;
  return new AerobakError("CANCELLED", "Job cancelled", { cause: reason });
}
