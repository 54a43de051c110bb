/**
 * Statistics of a restore job (backup-go `models.RestoreStats`). Every record read ends in
 * exactly one of: expired, skipped, ignored, fresher, existed, inserted, failed (the job then
 * fails; records still in flight at that moment are in none).
 *
 * @module
 */

import {
  copyThrottleStats,
  type JobThrottleStats,
  newThrottleStats,
  RetryCounter,
} from "../pipeline/job_counters.ts";

/** A snapshot of a restore's statistics. */
export interface RestoreStats {
  /** When the job started. */
  startTime: Date;
  /** Milliseconds since the start (to the end once finished). */
  durationMs: number;
  /** Records read from the files. */
  recordsRead: number;
  /** Secondary indexes read. */
  sindexesRead: number;
  /** UDF modules read. */
  udfsRead: number;
  /** Records skipped because their void time has passed. */
  recordsExpired: number;
  /** Records skipped by the set, bin or no-records filters, or left without bins. */
  recordsSkipped: number;
  /** Records the server refused for a record-specific reason, ignored. */
  recordsIgnored: number;
  /** Records not written because the cluster holds a newer generation (code 3). */
  recordsFresher: number;
  /** Records not written because they exist and only creation was allowed (code 5). */
  recordsExisted: number;
  /** Records written. */
  recordsInserted: number;
  /**
   * Records whose write failed for good (retries exhausted or a permanent error); the
   * restore then fails.
   */
  recordsFailed: number;
  /** Write attempts that failed in doubt (they may have been applied). */
  errorsInDoubt: number;
  /** Bytes read from storage (before decryption and decompression). */
  bytesRead: number;
  /** Write attempts repeated after a retriable failure. */
  retries: number;
  /** The retries by cause (`retryCause`: `timeout`, `key_busy`, `network`, …). */
  retriesByCause: Record<string, number>;
  /** Backup files read to their end. */
  filesRead: number;
  /** Waits imposed by the records-per-second and bandwidth limits. */
  throttle: JobThrottleStats;
}

/** The mutable counters a running restore fills. */
export class RestoreCounters {
  /** Start time in Unix milliseconds. */
  readonly startedAt: number = Date.now();
  /** End time, once finished. */
  endedAt?: number;
  /** See {@linkcode RestoreStats}. */
  recordsRead = 0;
  /** See {@linkcode RestoreStats}. */
  sindexesRead = 0;
  /** See {@linkcode RestoreStats}. */
  udfsRead = 0;
  /** See {@linkcode RestoreStats}. */
  recordsExpired = 0;
  /** See {@linkcode RestoreStats}. */
  recordsSkipped = 0;
  /** See {@linkcode RestoreStats}. */
  recordsIgnored = 0;
  /** See {@linkcode RestoreStats}. */
  recordsFresher = 0;
  /** See {@linkcode RestoreStats}. */
  recordsExisted = 0;
  /** See {@linkcode RestoreStats}. */
  recordsInserted = 0;
  /** See {@linkcode RestoreStats}. */
  recordsFailed = 0;
  /** See {@linkcode RestoreStats}. */
  errorsInDoubt = 0;
  /** Bytes of files fully read. */
  closedBytes = 0;
  /** See {@linkcode RestoreStats}. */
  retries = 0;
  /** See {@linkcode RestoreStats}. */
  filesRead = 0;
  /** The retries by cause. */
  readonly retryCauses: RetryCounter = new RetryCounter();
  /** Waits of the rate limits (handed to the limiters). */
  readonly throttle: JobThrottleStats = newThrottleStats();

  /**
   * Counts one retried write.
   *
   * @param cause Why (`retryCause`).
   */
  countRetry(cause: string): void {
    this.retries++;
    this.retryCauses.count(cause);
  }

  /**
   * Takes a snapshot.
   *
   * @param openBytes Bytes read so far from files still being read.
   * @returns The statistics.
   */
  snapshot(openBytes: number): RestoreStats {
    return {
      startTime: new Date(this.startedAt),
      durationMs: (this.endedAt ?? Date.now()) - this.startedAt,
      recordsRead: this.recordsRead,
      sindexesRead: this.sindexesRead,
      udfsRead: this.udfsRead,
      recordsExpired: this.recordsExpired,
      recordsSkipped: this.recordsSkipped,
      recordsIgnored: this.recordsIgnored,
      recordsFresher: this.recordsFresher,
      recordsExisted: this.recordsExisted,
      recordsInserted: this.recordsInserted,
      recordsFailed: this.recordsFailed,
      errorsInDoubt: this.errorsInDoubt,
      bytesRead: this.closedBytes + openBytes,
      retries: this.retries,
      retriesByCause: this.retryCauses.snapshot(),
      filesRead: this.filesRead,
      throttle: copyThrottleStats(this.throttle),
    };
  }
}
