/**
 * The Prometheus metrics of backup and restore jobs, read from their statistics when a
 * scrape or push asks for them. Names follow Prometheus conventions (`aerobak_` prefix,
 * base units, `_total` for counters); every sample has the label `operation`
 * (`backup` or `restore`).
 *
 * | metric | type | labels |
 * | ------ | ---- | ------ |
 * | `aerobak_records_read_total` | counter | |
 * | `aerobak_records_written_total` | counter | |
 * | `aerobak_records_skipped_total` | counter | `reason`: `expired`, `filtered`, `fresher`, `exists` |
 * | `aerobak_records_failed_total` | counter | `reason`: `record_error_ignored`, `write_failed` |
 * | `aerobak_records_estimated` | gauge | (backup, once known) |
 * | `aerobak_writes_in_doubt_total` | counter | (restore) |
 * | `aerobak_read_bytes_total` / `aerobak_written_bytes_total` | counter | |
 * | `aerobak_files_read_total` / `aerobak_files_written_total` | counter | |
 * | `aerobak_secondary_indexes_total`, `aerobak_udfs_total` | counter | |
 * | `aerobak_retries_total` | counter | `cause` |
 * | `aerobak_throttle_waits_total`, `aerobak_throttle_wait_seconds_total` | counter | `limit`: `records`, `bandwidth` |
 * | `aerobak_requests_in_flight` | gauge | (with a cluster) |
 * | `aerobak_job_start_time_seconds`, `aerobak_job_duration_seconds` | gauge | |
 * | `aerobak_job_end_time_seconds`, `aerobak_job_success` | gauge | (once ended) |
 * | `aerobak_last_success_timestamp_seconds` | gauge | (once succeeded) |
 *
 * @module
 */

import type { BackupStats } from "../backup/stats.ts";
import type { JobThrottleStats } from "../pipeline/job_counters.ts";
import type { JobStatus } from "../pipeline/job.ts";
import type { RestoreStats } from "../restore/stats.ts";
import type { MetricFamily, MetricsCollector, MetricType } from "./registry.ts";

/** What job metrics read: a job handle, or anything with its status and statistics. */
export interface JobSource<S> {
  /** Where the job is. */
  readonly status: JobStatus;
  /**
   * Reads the statistics.
   *
   * @returns A snapshot.
   */
  stats(): S;
}

/** Options of {@linkcode backupMetrics} and {@linkcode restoreMetrics}. */
export interface JobMetricsOptions {
  /**
   * The cluster the job talks to, for `aerobak_requests_in_flight`.
   * @default {none: the gauge is left out}
   */
  cluster?: { readonly requestsInFlight: number };
}

/** The figures both kinds of job report, from their statistics. */
interface Figures {
  operation: "backup" | "restore";
  status: JobStatus;
  startTime: Date;
  durationMs: number;
  recordsRead: number;
  recordsWritten: number;
  skipped?: Record<string, number>;
  failed?: Record<string, number>;
  estimated?: number;
  inDoubt?: number;
  bytesRead?: number;
  bytesWritten?: number;
  filesRead?: number;
  filesWritten?: number;
  sindexes: number;
  udfs: number;
  retriesByCause: Record<string, number>;
  throttle: JobThrottleStats;
}

/**
 * The metrics of a backup job.
 *
 * @param job The job's handle (or another source of its status and statistics).
 * @param options The cluster, for the requests in flight.
 * @returns A collector for {@linkcode MetricsRegistry.register}.
 *
 * @example Serve a backup's metrics while it runs
 * ```ts ignore
 * import { backupMetrics, MetricsRegistry, serveMetrics } from "@aerobak/backup";
 * const registry = new MetricsRegistry();
 * const handle = client.backup({ namespace: "test" }, new DirectoryWriter("./backup"));
 * registry.register(backupMetrics(handle, { cluster }));
 * await using server = await serveMetrics(registry, { hostname: "0.0.0.0", port: 9464 });
 * await handle.wait();
 * ```
 */
export function backupMetrics(
  job: JobSource<BackupStats>,
  options: JobMetricsOptions = {},
): MetricsCollector {
  return () => {
    const s = job.stats();
    const figures: Figures = {
      operation: "backup",
      status: job.status,
      startTime: s.startTime,
      durationMs: s.durationMs,
      recordsRead: s.recordsRead,
      recordsWritten: s.recordsWritten,
      estimated: s.estimatedRecords,
      bytesWritten: s.bytesWritten,
      filesWritten: s.filesWritten,
      sindexes: s.sindexesRead,
      udfs: s.udfsRead,
      retriesByCause: s.retriesByCause,
      throttle: s.throttle,
    };
    return families(figures, options);
  };
}

/**
 * The metrics of a restore job (or of a validation, which writes nothing).
 *
 * @param job The job's handle (or another source of its status and statistics).
 * @param options The cluster, for the requests in flight.
 * @returns A collector for {@linkcode MetricsRegistry.register}.
 */
export function restoreMetrics(
  job: JobSource<RestoreStats>,
  options: JobMetricsOptions = {},
): MetricsCollector {
  return () => {
    const s = job.stats();
    const figures: Figures = {
      operation: "restore",
      status: job.status,
      startTime: s.startTime,
      durationMs: s.durationMs,
      recordsRead: s.recordsRead,
      recordsWritten: s.recordsInserted,
      skipped: {
        expired: s.recordsExpired,
        filtered: s.recordsSkipped,
        fresher: s.recordsFresher,
        exists: s.recordsExisted,
      },
      failed: { record_error_ignored: s.recordsIgnored, write_failed: s.recordsFailed },
      inDoubt: s.errorsInDoubt,
      bytesRead: s.bytesRead,
      filesRead: s.filesRead,
      sindexes: s.sindexesRead,
      udfs: s.udfsRead,
      retriesByCause: s.retriesByCause,
      throttle: s.throttle,
    };
    return families(figures, options);
  };
}

function families(f: Figures, options: JobMetricsOptions): MetricFamily[] {
  const op = { operation: f.operation };
  const out: MetricFamily[] = [];
  const add = (
    name: string,
    type: MetricType,
    help: string,
    value: number | Record<string, number>,
    label = "",
  ) => {
    const samples = typeof value === "number"
      ? [{ labels: op, value }]
      : Object.entries(value).map(([k, v]) => ({ labels: { ...op, [label]: k }, value: v }));
    out.push({ name, type, help, samples });
  };
  add(
    "aerobak_records_read_total",
    "counter",
    "Records read: from the cluster by a backup, from the backup files by a restore.",
    f.recordsRead,
  );
  add(
    "aerobak_records_written_total",
    "counter",
    "Records written: into the backup files by a backup, into the cluster by a restore.",
    f.recordsWritten,
  );
  if (f.skipped) {
    add(
      "aerobak_records_skipped_total",
      "counter",
      "Records a restore did not write, by reason (expired, filtered out, fresher or already there).",
      f.skipped,
      "reason",
    );
  }
  if (f.failed) {
    add(
      "aerobak_records_failed_total",
      "counter",
      "Records whose write failed, by reason (a record error that was ignored, or a failure).",
      f.failed,
      "reason",
    );
  }
  if (f.inDoubt !== undefined) {
    add(
      "aerobak_writes_in_doubt_total",
      "counter",
      "Write attempts that failed in doubt (they may have been applied).",
      f.inDoubt,
    );
  }
  if (f.estimated !== undefined) {
    add("aerobak_records_estimated", "gauge", "Records the backup expects to read.", f.estimated);
  }
  if (f.bytesRead !== undefined) {
    add(
      "aerobak_read_bytes_total",
      "counter",
      "Bytes of backup files read, as stored (compressed and encrypted).",
      f.bytesRead,
    );
  }
  if (f.bytesWritten !== undefined) {
    add(
      "aerobak_written_bytes_total",
      "counter",
      "Bytes of backup files written, as stored (compressed and encrypted).",
      f.bytesWritten,
    );
  }
  if (f.filesRead !== undefined) {
    add("aerobak_files_read_total", "counter", "Backup files read to their end.", f.filesRead);
  }
  if (f.filesWritten !== undefined) {
    add("aerobak_files_written_total", "counter", "Backup files written.", f.filesWritten);
  }
  add(
    "aerobak_secondary_indexes_total",
    "counter",
    "Secondary index definitions backed up or read from the files.",
    f.sindexes,
  );
  add("aerobak_udfs_total", "counter", "UDF modules backed up or read from the files.", f.udfs);
  add(
    "aerobak_retries_total",
    "counter",
    "Attempts repeated after a retriable failure (scan rounds, record writes), by cause.",
    f.retriesByCause,
    "cause",
  );
  add(
    "aerobak_throttle_waits_total",
    "counter",
    "Waits imposed by the records-per-second and bandwidth limits, by limit.",
    { records: f.throttle.records.waits, bandwidth: f.throttle.bandwidth.waits },
    "limit",
  );
  add(
    "aerobak_throttle_wait_seconds_total",
    "counter",
    "Seconds waited for the records-per-second and bandwidth limits, by limit.",
    {
      records: f.throttle.records.waitedMs / 1000,
      bandwidth: f.throttle.bandwidth.waitedMs / 1000,
    },
    "limit",
  );
  if (options.cluster) {
    add(
      "aerobak_requests_in_flight",
      "gauge",
      "Requests to the cluster in flight (connections taken from the node pools).",
      options.cluster.requestsInFlight,
    );
  }
  const start = f.startTime.getTime() / 1000;
  add("aerobak_job_start_time_seconds", "gauge", "When the job started, Unix time.", start);
  add(
    "aerobak_job_duration_seconds",
    "gauge",
    "How long the job has run (to its end once ended).",
    f.durationMs / 1000,
  );
  if (f.status !== "running") {
    const end = start + f.durationMs / 1000;
    add("aerobak_job_end_time_seconds", "gauge", "When the job ended, Unix time.", end);
    add(
      "aerobak_job_success",
      "gauge",
      "Whether the job succeeded (1) or failed or was cancelled (0).",
      f.status === "done" ? 1 : 0,
    );
    if (f.status === "done") {
      add(
        "aerobak_last_success_timestamp_seconds",
        "gauge",
        "When the last successful job ended (the last completed backup), Unix time.",
        end,
      );
    }
  }
  return out;
}
