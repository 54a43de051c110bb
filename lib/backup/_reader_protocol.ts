/**
 * What a backup's main thread and its reader workers tell each other (see
 * `reader_workers.ts` and `_reader_worker.ts`): the job a worker runs, the files it names and
 * closes through the main thread, and the counters it reports.
 *
 * @module
 */

import type { ResolvedClientPolicy } from "../aerospike/policy.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import type { WorkerStorageSpec } from "../io/storage.ts";
import type { StorageDescription } from "../io/forwarded_storage.ts";
import type { ThrottleStats } from "../pipeline/job_counters.ts";
import type { ManifestFile } from "./manifest.ts";
import type { ReaderShare, SharedScanOptions } from "./record_reader.ts";
import type { ReaderCursor } from "./state.ts";

/** One file sink of a worker. */
export interface WorkerWriterJob {
  /** The writer's index in the backup (its state-file reader, with a state file). */
  index: number;
  /** Its file name prefix. */
  prefix: string;
}

/** One reader of a worker. */
export interface WorkerReaderJob {
  /** The reader's index in the backup. */
  index: number;
  /** Index of its writer in the job's `writers`. */
  writer: number;
  /** Its partitions. */
  share: ReaderShare;
  /** Where it resumes (continue from a state file). */
  resume?: ReaderCursor;
  /** Its record cap (0 = none). */
  maxRecords: number;
}

/** How a backup's readers read and write, the same for every thread. */
export interface ReaderSettings {
  /** Namespace. */
  namespace: string;
  /** Sets scanned in turn; empty = the whole namespace. */
  sets: readonly string[];
  /** Records per page with a state file; 0 = none. */
  pageSize: number;
  /** Compact ASB (raw blobs). */
  compact: boolean;
  /** Roll files over at this stored size (0 = never). */
  fileLimit: number;
  /** Compression of the files. */
  compression: CompressionPolicy;
  /** AES key, when encrypting. */
  encryptionKey?: Uint8Array;
}

/** Everything a reader worker needs, as data. */
export interface ReaderWorkerJob extends ReaderSettings {
  /** How to connect to the cluster (the job's own cluster's policy). */
  policy: ResolvedClientPolicy;
  /** Scan settings (without hooks: retries are reported as counts). */
  scan: Omit<SharedScanOptions, "onRetry">;
  /** This worker's share of the bandwidth limit, bytes per second (0 = none). */
  bandwidth: number;
  /** Where the files go: a directory the worker opens itself, or the main thread's storage. */
  storage: { spec?: WorkerStorageSpec; description: StorageDescription };
  /** The worker's file sinks. */
  writers: WorkerWriterJob[];
  /** The worker's readers. */
  readers: WorkerReaderJob[];
}

/** A file a worker closed, for the main thread's bookkeeping (counters, state, manifest). */
export interface WorkerFileClosed {
  /** Index of the writer in the backup. */
  writer: number;
  /** File name. */
  name: string;
  /** Stored size. */
  bytes: number;
  /** The file's manifest entry. */
  entry: ManifestFile;
  /** Where the writer's reader's page started when the file closed (state files). */
  cursor?: ReaderCursor;
}

/** What a worker has done so far; sent now and then, and once at its end. */
export interface WorkerProgress {
  /** Records written. */
  records: number;
  /** Bytes stored of the files still open. */
  openBytes: number;
  /** Scan retries by cause. */
  retries: Record<string, number>;
  /** Waits of the bandwidth limit. */
  bandwidth: ThrottleStats;
}
