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
import { AerobakError, type FileLocation, formatLocation } from "../errors.ts";
import { type AsbDecoder, decodeAsb } from "../format/asb/decoder.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import { openReadChain, type ReadChain } from "../io/file_chain.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";
import { type CountedJobContext, startCountedJob } from "../pipeline/_counted_job.ts";
import type { JobHandle, JobRunOptions } from "../pipeline/job.ts";
import { Pipe, type PipeReader, type PipeWriter, type ReadyIterator } from "../pipeline/pipe.ts";
import { LeakyBucket, TokenBucket } from "../pipeline/rate_limiter.ts";
import { type InfoCommandOptions, lowestBuild } from "../backup/_info.ts";
import { METADATA_PREFIX } from "../backup/config.ts";
import type { RestoreConfig } from "./config.ts";
import { MetadataRestorer } from "./metadata.ts";
import { restoreProcessors } from "./processors.ts";
import {
  BatchRecordWriter,
  DiscardWriter,
  type RecordWriterContext,
  SingleRecordWriter,
} from "./record_writer.ts";
import { openShardedInput, shardsIncomplete } from "./shards.ts";
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
    (job) => runRestore(cluster, config, reader, { ...job, counters, open, now }),
    { ...options, counters, openBytes },
  );
}

function namespaceMismatch(found: string, source: string, location: FileLocation): AerobakError {
  return new AerobakError(
    "NAMESPACE_MISMATCH",
    `Cannot restore the record ending at ${formatLocation(location)}: its namespace ${found} ` +
      `is not the source namespace ${source} of the namespace mapping`,
    { location },
  );
}

interface RunContext extends CountedJobContext {
  counters: RestoreCounters;
  open: Set<ReadChain>;
  now: () => number;
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

/**
 * A file reader with the pipe's fast path: `ready` hands out tokens its decoder already
 * holds, the generator does the rest (opening files, reading, finishing).
 */
function withReadyTokens(
  tokens: AsyncGenerator<AsbToken>,
  ready: () => AsbToken | undefined,
): ReadyIterator<AsbToken> & AsyncIterable<AsbToken> {
  return {
    next: () => tokens.next(),
    return: (value?: unknown) => tokens.return(value),
    throw: (err?: unknown) => tokens.throw(err),
    nextReady: ready,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
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
  let next = 0;
  const bandwidth = config.bandwidth > 0
    ? new LeakyBucket(config.bandwidth, {
      clock: ctx.clock,
      signal,
      stats: counters.throttle.bandwidth,
    })
    : undefined;
  const readerCount = Math.max(1, Math.min(config.parallel, entries.length));
  const checkNamespace = (token: AsbToken, decoder: AsbDecoder, file: string) => {
    if (
      token.kind === "record" && config.namespace &&
      token.record.namespace !== config.namespace.source
    ) {
      // Checked here, not only in the processors, to name the file and line.
      throw namespaceMismatch(token.record.namespace, config.namespace.source, {
        file,
        line: decoder.line - 1,
      });
    }
  };
  const readers: PipeReader<AsbToken>[] = [];
  for (let i = 0; i < readerCount; i++) {
    // The file being decoded, while the generator waits at its `yield`: the pipe takes the
    // tokens already buffered straight from its decoder (not with a bandwidth limit, which
    // counts bytes between tokens).
    let current: { decoder: AsbDecoder; file: string } | undefined;
    const tokens = async function* (): AsyncGenerator<AsbToken> {
      while (next < entries.length) {
        const entry = entries[next++];
        const chain = openReadChain(await storage.open(entry), {
          compression: config.compression,
          encryptionKey,
          file: entry.path,
          checkHeader: "asb",
        });
        ctx.open.add(chain);
        const decoder = decodeAsb(chain.readable, { file: entry.path });
        let offset = 0;
        if (!bandwidth) current = { decoder, file: entry.path };
        try {
          for await (const token of decoder) {
            checkNamespace(token, decoder, entry.path);
            if (bandwidth) {
              const wait = bandwidth.wait(decoder.offset - offset);
              offset = decoder.offset;
              if (wait) await wait;
            }
            yield token;
          }
          counters.filesRead++;
        } finally {
          current = undefined;
          ctx.open.delete(chain);
          counters.closedBytes += chain.bytesRead();
        }
      }
    };
    readers.push(() =>
      withReadyTokens(tokens(), () => {
        const c = current;
        const token = c?.decoder.nextReady();
        if (token !== undefined) checkNamespace(token, c!.decoder, c!.file);
        return token;
      })
    );
  }
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
      return run;
    },
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
  const pipe = new Pipe({ readers, processors, writers }, { signal });
  ctx.onPipe(pipe);
  await pipe.run();
  for (const token of deferred) await applyMetadata(token);
}
