/**
 * The restore job: backup files read in parallel (decrypt → decompress → ASB decode),
 * filtered and mapped by the processors, written by batch or single-record writers
 * (backup-go `handler_restore.go`). A validate-only run decodes everything and writes
 * nothing, without a cluster.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { compareVersion } from "../aerospike/info.ts";
import { AerobakError } from "../errors.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import type { ReadChain } from "../io/file_chain.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";
import { type CountedJobContext, startCountedJob } from "../pipeline/_counted_job.ts";
import type { JobHandle, JobRunOptions } from "../pipeline/job.ts";
import { Pipe, type PipeWriter } from "../pipeline/pipe.ts";
import { LeakyBucket, TokenBucket } from "../pipeline/rate_limiter.ts";
import { type InfoCommandOptions, lowestBuild } from "../backup/_info.ts";
import { METADATA_PREFIX } from "../backup/config.ts";
import { asbFileReaders } from "./_file_readers.ts";
import type { RestoreConfig } from "./config.ts";
import type { FileReadResult } from "./manifest_check.ts";
import { MetadataRestorer } from "./metadata.ts";
import { restoreProcessors } from "./processors.ts";
import {
  BatchRecordWriter,
  DiscardWriter,
  type RecordWriterContext,
  SingleRecordWriter,
} from "./record_writer.ts";
import { openShardedInput, shardsIncomplete } from "./shards.ts";
import type { RestoreTracker } from "./state.ts";
import { RestoreCounters, type RestoreStats } from "./stats.ts";

/** The handle of a running restore. */
export type RestoreHandle = JobHandle<RestoreStats>;

/** Options of {@linkcode startRestore}. */
export interface RestoreJobOptions extends JobRunOptions<RestoreStats> {
  /**
   * Current Unix time in seconds, for record expiry.
   *
   * @default {() => Math.floor(Date.now() / 1000)}
   */
  now?: () => number;
  /**
   * Called with each file once it was read to its end: bytes, SHA-256 of the stored bytes
   * and what it holds (to check a backup against its manifest).
   */
  onFileRead?: (result: FileReadResult) => void;
  /**
   * Makes the restore resumable: files it finished are skipped, a file in progress resumes
   * from its saved offset, and what the cluster acknowledged is saved to the tracker's
   * state file as the restore goes ({@linkcode RestoreTracker}).
   */
  resume?: RestoreTracker;
}

/**
 * Starts a restore and returns its handle at once.
 *
 * @param cluster A connected cluster, or `null` for a validate-only run.
 * @param config A resolved configuration (`resolveRestoreConfig`).
 * @param reader Where the backup files are.
 * @param options Cancel signal, progress, clock.
 * @returns The running job's handle.
 */
export function startRestore(
  cluster: Cluster | null,
  config: Readonly<RestoreConfig>,
  reader: StorageReader,
  options: RestoreJobOptions = {},
): RestoreHandle {
  const counters = new RestoreCounters();
  const open = new Set<ReadChain>();
  const openBytes = () => bytesReadFrom(open);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  return startCountedJob(
    (job) =>
      runRestore(cluster, config, reader, {
        ...job,
        counters,
        open,
        now,
        onFileRead: options.onFileRead,
        resume: options.resume,
      }),
    { ...options, counters, openBytes },
  );
}

interface RunContext extends CountedJobContext {
  counters: RestoreCounters;
  open: Set<ReadChain>;
  now: () => number;
  onFileRead?: (result: FileReadResult) => void;
  resume?: RestoreTracker;
}

/**
 * Bytes read so far from the files still open, for the job's byte count between files.
 *
 * @param open The open read chains.
 * @returns Their bytes read, together.
 */
export function bytesReadFrom(open: ReadonlySet<ReadChain>): number {
  let n = 0;
  for (const c of open) n += c.bytesRead();
  return n;
}

/**
 * Checks what every restore needs before it reads a file: the file format this restore
 * reads, and a cluster unless it only validates.
 *
 * @param cluster The cluster, or null.
 * @param config The resolved configuration.
 * @param format The format the calling restore reads.
 * @throws {AerobakError} `CONFIG_INVALID` when the configuration names another format.
 * @throws {TypeError} Without a cluster when `validateOnly` is not set.
 */
export function checkRestoreInput(
  cluster: unknown,
  config: Readonly<RestoreConfig>,
  format: "ASB" | "ASBX",
): void {
  if (config.encoderType !== format) {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid encoderType "${config.encoderType}": this restore reads ${format} files`,
    );
  }
  if (!config.validateOnly && cluster === null) {
    throw new TypeError("Cannot restore without a cluster: pass one, or set validateOnly");
  }
}

async function runRestore(
  cluster: Cluster | null,
  config: Readonly<RestoreConfig>,
  input: StorageReader,
  ctx: RunContext,
): Promise<void> {
  const { signal, counters } = ctx;
  checkRestoreInput(cluster, config, "ASB");
  // A sharded backup: every shard (or the one asked for); an incomplete one is refused
  // before anything is written, and fails its validation once the rest is decoded.
  const sharded = await openShardedInput(input, { shard: config.shard });
  const storage = sharded.reader;
  const incomplete = sharded.incomplete.length > 0
    ? shardsIncomplete(sharded, !config.validateOnly)
    : undefined;
  if (incomplete && !config.validateOnly && !config.allowPartial) throw incomplete;
  const encryptionKey = await loadJobEncryptionKey(config.encryption, {
    secretAgent: config.secretAgent,
  });

  // Files in name order; metadata files last when metadata is applied last.
  const entries: StorageEntry[] = [];
  for await (const e of storage.list()) entries.push(e);
  if (config.applyMetadataLast) {
    const meta = (e: StorageEntry) => e.name.startsWith(METADATA_PREFIX) ? 1 : 0;
    entries.sort((a, b) => meta(a) - meta(b));
  }
  const bandwidth = config.bandwidth > 0
    ? new LeakyBucket(config.bandwidth, {
      clock: ctx.clock,
      signal,
      stats: counters.throttle.bandwidth,
    })
    : undefined;
  const readers = asbFileReaders({
    storage,
    entries,
    config,
    encryptionKey,
    counters,
    open: ctx.open,
    bandwidth,
    onFileRead: ctx.onFileRead,
    resume: ctx.resume,
  });
  if (readers.length === 0) {
    if (incomplete && config.validateOnly) throw incomplete;
    return;
  }

  if (config.validateOnly) {
    const processors = restoreProcessors(counters, {
      noRecords: false,
      noIndexes: false,
      noUdfs: false,
      setList: [],
      binList: [],
      extraTtl: 0,
      nowSeconds: () => 0,
    }).slice(0, 1);
    const pipe = new Pipe({ readers, processors, writers: [new DiscardWriter()] }, { signal });
    ctx.onPipe(pipe);
    await pipe.run();
    if (incomplete) throw incomplete;
    return;
  }

  const c = cluster!;
  const info: InfoCommandOptions = {
    retry: config.retryPolicy,
    timeoutMs: config.infoPolicy.timeoutMs,
    signal,
    clock: ctx.clock,
  };
  const version = await lowestBuild(c, { ...info, retry: config.infoRetryPolicy });
  // Pre-open the connections the writers will use (backup-go: max-async-batches + 1).
  await c.warmUp(config.warmUp > 0 ? config.warmUp : config.maxAsyncBatches + 1);
  const restorer = new MetadataRestorer(c, version, info);
  const deferred: AsbToken[] = [];
  // Metadata tokens are applied one at a time, in file order, whatever writer gets them.
  let metaChain: Promise<void> = Promise.resolve();
  const applyMetadata = (token: AsbToken): Promise<void> => {
    if (token.kind === "sindex") return restorer.sindex(token.sindex);
    if (token.kind === "udf") return restorer.udf(token.udf);
    return Promise.resolve();
  };
  const resume = ctx.resume;
  const writerCtx: RecordWriterContext = {
    cluster: c,
    policy: config.writePolicy,
    retry: config.retryPolicy,
    ignoreRecordError: config.ignoreRecordError,
    extraTtl: config.extraTtl,
    counters,
    nowSeconds: ctx.now,
    clock: ctx.clock,
    signal,
    metadata: (token) => {
      if (config.applyMetadataLast) {
        deferred.push(token);
        return Promise.resolve();
      }
      const run = metaChain.then(() => applyMetadata(token));
      metaChain = run.catch(() => {});
      return resume ? run.then(() => resume.acked(token)) : run;
    },
    acks: resume,
  };
  const useBatch = !config.disableBatchWrites && compareVersion(version, [6, 0, 0]) >= 0;
  // Batch writes: one writer keeps up to maxAsyncBatches batches in flight (see
  // BatchRecordWriter for why not one writer per batch slot). Single puts: one writer each.
  const writers: PipeWriter<AsbToken>[] = useBatch
    ? [new BatchRecordWriter(writerCtx, config.batchSize, config.maxAsyncBatches)]
    : Array.from({ length: config.parallel }, () => new SingleRecordWriter(writerCtx));
  const processors = restoreProcessors(counters, {
    noRecords: config.noRecords,
    noIndexes: config.noIndexes,
    noUdfs: config.noUdfs,
    setList: config.setList,
    binList: config.binList,
    namespace: config.namespace,
    extraTtl: config.extraTtl,
    limiter: config.recordsPerSecond > 0
      ? new TokenBucket(config.recordsPerSecond, {
        clock: ctx.clock,
        signal,
        stats: counters.throttle.records,
      })
      : undefined,
    nowSeconds: ctx.now,
  });
  // Last in the chain: tokens are registered in file order once no processor dropped them.
  if (resume) processors.push(resume.registrar());
  const pipe = new Pipe({ readers, processors, writers }, { signal });
  ctx.onPipe(pipe);
  await pipe.run();
  for (const token of deferred) {
    await applyMetadata(token);
    resume?.acked(token);
  }
}
