/**
 * Statistics of a backup job (backup-go `models.BackupStats`).
 *
 * @module
 */

import {
  copyThrottleStats,
  type JobThrottleStats,
  newThrottleStats,
  RetryCounter,
} from "../pipeline/job_counters.ts";

/** A snapshot of a backup's statistics. */
export interface BackupStats {
  /** When the job started. */
  startTime: Date;
  /** Milliseconds since the start (to the end once finished). */
  durationMs: number;
  /** Records read from the cluster and written. */
  recordsRead: number;
  /** Secondary indexes written. */
  sindexesRead: number;
  /** UDF modules written. */
  udfsRead: number;
  /** Bytes written to storage (after compression and encryption). */
  bytesWritten: number;
  /** Files written (data and metadata). */
  filesWritten: number;
  /** Estimated number of records the backup will read, once known. */
  estimatedRecords?: number;
  /** Records encoded into the files (those read and still in the pipeline are not yet). */
  recordsWritten: number;
  /** Scan rounds repeated after a failure. */
  retries: number;
  /** The retries by cause (`retryCause`: `partition_unavailable`, `timeout`, …). */
  retriesByCause: Record<string, number>;
  /** Waits imposed by the records-per-second and bandwidth limits. */
  throttle: JobThrottleStats;
}

/** The mutable counters a running backup fills; readers and writers share one instance. */
export class BackupCounters {
  /** Start time in Unix milliseconds. */
  readonly startedAt: number = Date.now();
  /** Set when the job ends, in Unix milliseconds. */
  endedAt?: number;
  /** Records read. */
  recordsRead = 0;
  /** Sindexes written. */
  sindexesRead = 0;
  /** UDFs written. */
  udfsRead = 0;
  /** Bytes of files already closed. */
  closedBytes = 0;
  /** Files opened. */
  filesWritten = 0;
  /** Estimated total records. */
  estimatedRecords?: number;
  /** Records written to files. */
  recordsWritten = 0;
  /** Scan retries by cause (handed to the scans as `onRetry`). */
  readonly retries: RetryCounter = new RetryCounter();
  /** Waits of the rate limits (handed to the limiters). */
  readonly throttle: JobThrottleStats = newThrottleStats();

  /**
   * Takes a snapshot.
   *
   * @param openBytes Bytes written so far to files still open.
   * @returns The statistics.
   */
  snapshot(openBytes: number): BackupStats {
    const end = this.endedAt ?? Date.now();
    const stats: BackupStats = {
      startTime: new Date(this.startedAt),
      durationMs: end - this.startedAt,
      recordsRead: this.recordsRead,
      sindexesRead: this.sindexesRead,
      udfsRead: this.udfsRead,
      bytesWritten: this.closedBytes + openBytes,
      filesWritten: this.filesWritten,
      recordsWritten: this.recordsWritten,
      retries: this.retries.total,
      retriesByCause: this.retries.snapshot(),
      throttle: copyThrottleStats(this.throttle),
    };
    if (this.estimatedRecords !== undefined) stats.estimatedRecords = this.estimatedRecords;
    return stats;
  }
}
