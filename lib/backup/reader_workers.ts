/**
 * A backup's readers run in Web Workers, one core each: every worker owns some of the
 * backup's file writers and the readers that write to them, and runs them end to end
 * (`_reader_worker.ts`). The main thread keeps what must be one for the whole backup: the
 * storage the files' bytes go to, the file counter, the state file, the manifest and the
 * counters, which the workers' reports add up to.
 *
 * The job's own thread reads a share too, so `--parallel N` means N scans over
 * min(N, cores) threads: the job's and min(N, cores) − 1 workers.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { AerobakError } from "../errors.ts";
import { describeStorage, StorageHost } from "../io/forwarded_storage.ts";
import type { StorageWriter } from "../io/storage.ts";
import { errorToData, WorkerChannel } from "../pipeline/worker_channel.ts";
import type {
  ReaderSettings,
  ReaderWorkerJob,
  WorkerFileClosed,
  WorkerProgress,
  WorkerReaderJob,
} from "./_reader_protocol.ts";
import type { ReaderShare, SharedScanOptions } from "./record_reader.ts";
import type { BackupCounters } from "./stats.ts";
import type { ReaderCursor } from "./state.ts";

/**
 * How many reader workers a backup of `readers` readers gets by default: one per reader
 * beside the job's own thread, up to one thread per core.
 *
 * @param readers The backup's readers (`--parallel`).
 * @returns Workers to start (0: the job's thread reads alone).
 */
export function defaultWorkerCount(readers: number): number {
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
  return Math.max(0, Math.min(readers, cores) - 1);
}

/** One file writer of the backup. */
export interface PooledWriter {
  /** Its index in the backup (its state-file reader, with a state file). */
  index: number;
  /** Its file name prefix. */
  prefix: string;
}

/** One reader of the backup. */
export interface PooledReader {
  /** Its index in the backup. */
  index: number;
  /** Index in the backup of the writer it writes to. */
  writer: number;
  /** Its partitions. */
  share: ReaderShare;
  /** Where it resumes. */
  resume?: ReaderCursor;
  /** Its record cap. */
  maxRecords: number;
}

/** Options of {@linkcode ReaderWorkers.run}. */
export interface ReaderWorkersOptions extends ReaderSettings {
  /** Workers to start (at most one per writer). */
  workers: number;
  /** The job's cluster (its policy is how the workers connect). */
  cluster: Cluster;
  /** Where the files go. */
  storage: StorageWriter;
  /** Scan settings (its `onRetry` is fed from the workers' reports). */
  scan: SharedScanOptions;
  /** The workers' share of the bandwidth limit, bytes per second (0 = none). */
  bandwidth: number;
  /** The writers the workers own. */
  writers: readonly PooledWriter[];
  /** Their readers. */
  readers: readonly PooledReader[];
  /** The job's counters (records, retries, throttle waits). */
  counters: BackupCounters;
  /** Names a worker's next file (the run's counter, the open hooks). */
  nameFile(prefix: string): Promise<{ name: string; firstFile: boolean }>;
  /** A worker closed a file. */
  fileClosed(closed: WorkerFileClosed): Promise<void>;
  /** Stops the workers. */
  signal: AbortSignal;
}

/** The running workers of one backup. */
export class ReaderWorkers {
  readonly #reports: WorkerProgress[] = [];

  /** Bytes stored so far of the files the workers have open. */
  get openBytes(): number {
    let n = 0;
    for (const r of this.#reports) n += r.openBytes;
    return n;
  }

  /**
   * Runs the readers in workers to their end.
   *
   * @param o The job.
   * @throws {AerobakError} The first failure of a worker (the others are stopped first);
   *   `WORKER_FAILED` when a worker died; the abort reason.
   */
  async run(o: ReaderWorkersOptions): Promise<void> {
    // A local directory is opened by each worker; other storages get the bytes through here.
    const spec = await o.storage.forWorker?.();
    const jobs = splitJobs(o, { spec, description: describeStorage(o.storage) });
    const stopped = new AbortController();
    const signal = AbortSignal.any([o.signal, stopped.signal]);
    const running = jobs.map((job, w) => this.#start(o, job, w, signal));
    const outcomes = await Promise.allSettled(
      running.map((p) =>
        p.catch((e) => {
          if (!stopped.signal.aborted) stopped.abort(e);
          throw e;
        })
      ),
    );
    if (o.signal.aborted) throw o.signal.reason;
    if (stopped.signal.aborted) throw stopped.signal.reason;
    for (const out of outcomes) if (out.status === "rejected") throw out.reason;
  }

  async #start(
    o: ReaderWorkersOptions,
    job: ReaderWorkerJob,
    w: number,
    signal: AbortSignal,
  ): Promise<void> {
    const report: WorkerProgress = {
      records: 0,
      openBytes: 0,
      retries: {},
      bandwidth: { waits: 0, waitedMs: 0 },
    };
    this.#reports[w] = report;
    const host = new StorageHost(o.storage);
    const worker = new Worker(new URL("./_reader_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const channel = new WorkerChannel(worker, {
      ...host.handlers(),
      "file.name": (args) => o.nameFile((args as { prefix: string }).prefix),
      "file.closed": (args) => o.fileClosed(args as WorkerFileClosed),
      progress: (args) => addProgress(o.counters, report, args as WorkerProgress),
    });
    worker.onmessage = (e) => channel.receive(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      channel.close(
        new AerobakError("WORKER_FAILED", `Backup reader worker ${w} failed: ${e.message}`),
      );
    };
    const onAbort = () => channel.notify("abort", errorToData(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal.aborted) throw signal.reason;
      await channel.call("start", job);
    } finally {
      signal.removeEventListener("abort", onAbort);
      await host.abortAll(signal.reason ?? new Error("worker ended"));
      channel.close(new AerobakError("WORKER_FAILED", `Backup reader worker ${w} stopped`));
      worker.terminate();
    }
  }
}

/** Adds what a worker reported since its last report to the job's counters. */
function addProgress(counters: BackupCounters, last: WorkerProgress, now: WorkerProgress): void {
  const records = now.records - last.records;
  counters.recordsRead += records;
  counters.recordsWritten += records;
  for (const [cause, n] of Object.entries(now.retries)) {
    for (let k = last.retries[cause] ?? 0; k < n; k++) counters.retries.count(cause);
  }
  const b = counters.throttle.bandwidth;
  b.waits += now.bandwidth.waits - last.bandwidth.waits;
  b.waitedMs += now.bandwidth.waitedMs - last.bandwidth.waitedMs;
  Object.assign(last, now);
}

/**
 * Shares the writers out among the workers, each writer's readers with it (a writer's file
 * sequence lives in one worker), and the bandwidth by readers.
 */
function splitJobs(
  o: ReaderWorkersOptions,
  storage: ReaderWorkerJob["storage"],
): ReaderWorkerJob[] {
  const count = Math.max(1, Math.min(o.workers, o.writers.length));
  const { onRetry: _, ...scan } = o.scan;
  const jobs: ReaderWorkerJob[] = [];
  for (let w = 0; w < count; w++) {
    jobs.push({
      policy: o.cluster.policy,
      namespace: o.namespace,
      sets: o.sets,
      scan,
      pageSize: o.pageSize,
      compact: o.compact,
      fileLimit: o.fileLimit,
      compression: o.compression,
      encryptionKey: o.encryptionKey,
      bandwidth: 0,
      storage,
      writers: [],
      readers: [],
    });
  }
  const slot = new Map<number, { job: ReaderWorkerJob; at: number }>();
  o.writers.forEach((writer, i) => {
    const job = jobs[i % count];
    slot.set(writer.index, { job, at: job.writers.length });
    job.writers.push({ index: writer.index, prefix: writer.prefix });
  });
  for (const r of o.readers) {
    const { job, at } = slot.get(r.writer)!;
    const reader: WorkerReaderJob = {
      index: r.index,
      writer: at,
      share: r.share,
      resume: r.resume,
      maxRecords: r.maxRecords,
    };
    job.readers.push(reader);
  }
  for (const job of jobs) {
    job.bandwidth = bandwidthShare(o.bandwidth, job.readers.length, o.readers.length);
  }
  return jobs.filter((j) => j.readers.length > 0);
}

/**
 * The part of a bandwidth limit that `readers` of `total` readers get.
 *
 * @param bandwidth Bytes per second (0 = no limit).
 * @param readers Readers of the share.
 * @param total Readers in all.
 * @returns Bytes per second (0 = no limit), at least 1 with a limit.
 */
export function bandwidthShare(bandwidth: number, readers: number, total: number): number {
  if (bandwidth <= 0 || total === 0) return 0;
  return Math.max(1, Math.floor(bandwidth * readers / total));
}
