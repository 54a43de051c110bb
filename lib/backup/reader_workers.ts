/**
 * A backup's readers run in Web Workers, one core each: every worker owns some of the
 * backup's file writers and the readers that write to them, and runs them end to end
 * (`_reader_worker.ts`). The main thread keeps what must be one for the whole backup: the
 * storage the files' bytes go to, the file counter, the state file, the manifest and the
 * counters, which the workers' reports add up to.
 *
 * `--parallel N` thus means N scans over up to min(N, cores) workers.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { AerobakError } from "../errors.ts";
import { describeStorage, StorageHost } from "../io/forwarded_storage.ts";
import type { StorageWriter } from "../io/storage.ts";
import { errorToData, WorkerChannel } from "../pipeline/worker_channel.ts";
import type {
  ReaderWorkerJob,
  WorkerFileClosed,
  WorkerProgress,
  WorkerReaderJob,
  WorkerWriterJob,
} from "./_reader_protocol.ts";
import type { ReaderShare, SharedScanOptions } from "./record_reader.ts";
import type { BackupCounters } from "./stats.ts";
import type { ReaderCursor } from "./state.ts";
import type { CompressionPolicy } from "../io/compression.ts";

/** How many reader workers a backup of `readers` readers gets by default. */
export function defaultWorkerCount(readers: number): number {
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
  return Math.max(1, Math.min(readers, cores));
}

/** One reader of the backup. */
export interface PooledReader {
  /** Its partitions. */
  share: ReaderShare;
  /** Where it resumes. */
  resume?: ReaderCursor;
  /** Its record cap. */
  maxRecords: number;
}

/** Options of {@linkcode runReaderWorkers}. */
export interface ReaderWorkersOptions {
  /** Workers to start (at most one per writer). */
  workers: number;
  /** The job's cluster (its policy is how the workers connect). */
  cluster: Cluster;
  /** Where the files go. */
  storage: StorageWriter;
  /** Namespace. */
  namespace: string;
  /** Sets. */
  sets: readonly string[];
  /** Scan settings (its `onRetry` is fed from the workers' reports). */
  scan: SharedScanOptions;
  /** Records per page with a state file; 0 = none. */
  pageSize: number;
  /** Compact ASB. */
  compact: boolean;
  /** File limit. */
  fileLimit: number;
  /** Compression. */
  compression: CompressionPolicy;
  /** AES key. */
  encryptionKey?: Uint8Array;
  /** Bandwidth limit of the whole backup, bytes per second (0 = none). */
  bandwidth: number;
  /** The writers: file name prefixes, by index. */
  prefixes: readonly string[];
  /** The readers, by index (reader i writes to writer i mod writers). */
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
 * sequence lives in one worker).
 */
function splitJobs(
  o: ReaderWorkersOptions,
  storage: ReaderWorkerJob["storage"],
): ReaderWorkerJob[] {
  const writers = o.prefixes.length;
  const count = Math.max(1, Math.min(o.workers, writers));
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
      bandwidth: o.bandwidth > 0 ? Math.max(1, Math.floor(o.bandwidth / count)) : 0,
      storage,
      writers: [],
      readers: [],
    });
  }
  const slot = new Map<number, { job: ReaderWorkerJob; at: number }>();
  for (let i = 0; i < writers; i++) {
    const job = jobs[i % count];
    const writer: WorkerWriterJob = { index: i, prefix: o.prefixes[i] };
    slot.set(i, { job, at: job.writers.length });
    job.writers.push(writer);
  }
  o.readers.forEach((r, i) => {
    const { job, at } = slot.get(i % writers)!;
    const reader: WorkerReaderJob = {
      index: i,
      writer: at,
      share: r.share,
      resume: r.resume,
      maxRecords: r.maxRecords,
    };
    job.readers.push(reader);
  });
  return jobs.filter((j) => j.readers.length > 0 || j.writers.length > 0);
}
