/**
 * Statistics of a backup job (backup-go `models.BackupStats`).
 *
 * @module
 */

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
    };
    if (this.estimatedRecords !== undefined) stats.estimatedRecords = this.estimatedRecords;
    return stats;
  }
}
