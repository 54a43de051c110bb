/**
 * The backup job: metadata first, then the records of a namespace scanned by parallel
 * readers, encoded to ASB and written by parallel writers through compression and
 * encryption into lazily opened, size-limited files (backup-go `handler_backup.go`).
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import { AerobakError } from "../errors.ts";
import { AsbEncoder, asbVersionFor } from "../format/asb/encoder.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import type { StorageWriter } from "../io/storage.ts";
import { type CountedJobContext, startCountedJob } from "../pipeline/_counted_job.ts";
import type { JobHandle, JobRunOptions } from "../pipeline/job.ts";
import { LeakyBucket } from "../pipeline/rate_limiter.ts";
import { type InfoCommandOptions, lowestBuild, requireNamespace } from "./_info.ts";
import { type BackupConfig, METADATA_PREFIX } from "./config.ts";
import { AsbFileSink, type FileRun, takeFileName } from "./file_writer.ts";
import {
  bandwidthShare,
  defaultWorkerCount,
  type PooledReader,
  ReaderWorkers,
} from "./reader_workers.ts";
import {
  clusterIdentity,
  ManifestBuilder,
  removeManifest,
  scanManifestSettings,
  writeManifest,
} from "./manifest.ts";
import { readSIndexes, readUdfs } from "./metadata.ts";
import { masterPartitionLists, nodesFromList, nodesFromRacks } from "./node_partitions.ts";
import { splitPartitionFilters } from "./partition_spec.ts";
import { shardWriter } from "./shards.ts";
import { estimateRecordCount } from "./record_count.ts";
import {
  filterOfShare,
  type ReaderShare,
  readRecords,
  type SharedScanOptions,
} from "./record_reader.ts";
import { backupScanFilter } from "./scan_filter.ts";
import { BackupCounters, type BackupStats } from "./stats.ts";
import {
  type BackupState,
  decodeBackupState,
  encodeBackupState,
  type ReaderCursor,
} from "./state.ts";

/** The handle of a running backup. */
export type BackupHandle = JobHandle<BackupStats>;

/** Options of {@linkcode startBackup}. */
export interface BackupJobOptions extends JobRunOptions<BackupStats> {
  /**
   * Reads the state file to continue from (with `continue`).
   * @default {the storage's `readBack` (of the shard's subdirectory for a shard)}
   */
  readStateFile?: (name: string) => Promise<Uint8Array>;
  /**
   * Leave one valid, header-only file when nothing at all was backed up (as the C tool
   * does), so a restore of the empty backup finds a backup. Off for a metadata-only
   * companion of another backup (the XDR backup's UDFs and indexes), which must not leave
   * an empty data file beside the real one.
   * @default {true}
   */
  emptyBackupFile?: boolean;
  /**
   * The backup's manifest ({@linkcode ManifestBuilder}). Unset: the job writes its own
   * beside the files once everything else is stored (`backup.manifest.json`, or
   * `<file>.manifest.json` for a single file). A builder: the job adds its files to it and
   * the caller writes it (one manifest for several jobs into one directory). `false`: none.
   */
  manifest?: ManifestBuilder | false;
  /**
   * Wall-clock time of the manifest's start and end.
   *
   * @default {() => new Date()}
   */
  now?: () => Date;
}

/** One data writer: its sink, and where the page its reader is on started (state files). */
class DataWriter {
  readonly sink: AsbFileSink;
  cursor?: ReaderCursor;

  constructor(sink: AsbFileSink) {
    this.sink = sink;
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

/** Serialises state-file writes and keeps the state current. */
class StateKeeper {
  readonly #storage: StorageWriter;
  readonly #name: string;
  readonly state: BackupState;
  #chain: Promise<void> = Promise.resolve();

  constructor(storage: StorageWriter, name: string, state: BackupState) {
    this.#storage = storage;
    this.#name = name;
    this.state = state;
  }

  opened(file: string): Promise<void> {
    this.state.openFiles.push(file);
    return this.save();
  }

  closed(file: string, reader?: number, cursor?: ReaderCursor): Promise<void> {
    this.state.openFiles = this.state.openFiles.filter((f) => f !== file);
    if (reader !== undefined && cursor !== undefined) this.state.readers[reader] = cursor;
    return this.save();
  }

  save(): Promise<void> {
    const bytes = encodeBackupState(this.state);
    const next = this.#chain.then(async () => {
      // Atomic where the storage can: a kill mid-save must leave a state to continue from.
      if (this.#storage.writeAtomic) return this.#storage.writeAtomic(this.#name, bytes);
      const stream = await this.#storage.open(this.#name);
      const w = stream.getWriter();
      await w.write(bytes);
      await w.close();
    });
    this.#chain = next.catch(() => {});
    return next;
  }
}

/**
 * Starts a backup and returns its handle at once.
 *
 * @param cluster A connected cluster.
 * @param config A resolved configuration (`resolveBackupConfig`).
 * @param storage Where the files go: a directory, or a single file (or stdout).
 * @param options Cancel signal, progress, clock, state-file reader.
 * @returns The running job's handle.
 */
export function startBackup(
  cluster: Cluster,
  config: Readonly<BackupConfig>,
  storage: StorageWriter,
  options: BackupJobOptions = {},
): BackupHandle {
  const counters = new BackupCounters();
  const sinks: AsbFileSink[] = [];
  const workers = new ReaderWorkers();
  return startCountedJob(
    (job) =>
      runBackup(cluster, config, storage, {
        ...job,
        counters,
        sinks,
        workers,
        readStateFile: options.readStateFile,
        emptyBackupFile: options.emptyBackupFile ?? true,
        manifest: options.manifest,
        now: options.now ?? (() => new Date()),
      }),
    {
      ...options,
      counters,
      openBytes: () => sinks.reduce((sum, s) => sum + s.openBytes, 0) + workers.openBytes,
    },
  );
}

interface RunContext extends CountedJobContext {
  counters: BackupCounters;
  sinks: AsbFileSink[];
  /** The reader workers, when the readers run in them (their open files' bytes count). */
  workers: ReaderWorkers;
  readStateFile?: (name: string) => Promise<Uint8Array>;
  emptyBackupFile: boolean;
  manifest?: ManifestBuilder | false;
  now: () => Date;
}

async function runBackup(
  cluster: Cluster,
  config: Readonly<BackupConfig>,
  root: StorageWriter,
  ctx: RunContext,
): Promise<void> {
  const { signal, counters } = ctx;
  // A shard writes into its own subdirectory, its state file included.
  const storage = config.shard ? shardWriter(root, config.shard) : root;
  const readStateFile = ctx.readStateFile ?? storage.readBack?.bind(storage);
  if (config.encoderType !== "ASB") {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid encoderType "${config.encoderType}": scan backups write ASB`,
    );
  }
  const info: InfoCommandOptions = {
    retry: config.infoRetryPolicy,
    timeoutMs: config.infoPolicy.timeoutMs,
    signal,
    clock: ctx.clock,
  };
  const directory = storage.kind === "directory";
  const encryptionKey = await loadJobEncryptionKey(config.encryption, {
    secretAgent: config.secretAgent,
  });

  // State file: load it to continue, or start a new one.
  let keeper: StateKeeper | undefined;
  let resumed: BackupState | undefined;
  if (config.stateFile !== "") {
    if (!directory) {
      throw new AerobakError(
        "CONFIG_INVALID",
        "Invalid stateFile: a state file needs a directory backup",
      );
    }
    if (config.continue) {
      if (!readStateFile) {
        throw new AerobakError(
          "CONFIG_INVALID",
          "Cannot continue a backup without a way to read the state file (readStateFile)",
        );
      }
      let bytes: Uint8Array;
      try {
        bytes = await readStateFile(config.stateFile);
      } catch (e) {
        throw new AerobakError(
          "STATE_INVALID",
          `Cannot continue from state file ${storage.describe(config.stateFile)}: ${
            e instanceof Deno.errors.NotFound ||
              (e instanceof AerobakError && e.code === "STORAGE_NOT_FOUND")
              ? "no such file"
              : (e as Error).message
          }`,
          { cause: e, location: { file: config.stateFile } },
        );
      }
      resumed = decodeBackupState(bytes, config.stateFile);
      if (resumed.namespace !== config.namespace) {
        throw new AerobakError(
          "STATE_INVALID",
          `Cannot continue backup of namespace ${config.namespace} from state file ` +
            `${config.stateFile} of namespace ${resumed.namespace}`,
        );
      }
      resumed.counter++;
      // Files still open when the last run stopped may be cut short; their records are
      // read again from the saved cursors.
      for (const f of resumed.openFiles) await removeFile(storage, f);
      resumed.openFiles = [];
    }
  }

  // Files this run created: a failed run without a state file removes them, so nothing
  // incomplete is left that a restore would take for a whole backup.
  const created: string[] = [];
  const version = await lowestBuild(cluster, info);
  await requireNamespace(cluster, config.namespace, info);
  // The manifest: a continued run lists the files of the runs before it too.
  const manifest = ctx.manifest === false ? undefined : ctx.manifest ?? new ManifestBuilder({
    kind: "scan",
    namespace: config.namespace,
    settings: scanManifestSettings(config),
    startTime: resumed?.startTime ? new Date(resumed.startTime) : ctx.now(),
  });
  for (const f of resumed?.files ?? []) manifest?.addFile(f);
  manifest?.setCluster(await clusterIdentity(cluster, info));
  // A manifest left by an earlier backup would describe files this run replaces.
  if (ctx.manifest === undefined) await removeManifest(storage);
  const run: FileRun = {
    storage,
    namespace: config.namespace,
    compression: config.compression,
    encryptionKey,
    suffix: resumed ? `(${resumed.counter})` : "",
    nextFileNumber: 1,
    firstFileTaken: resumed !== undefined,
    onOpen: (name) => {
      counters.filesWritten++;
      created.push(name);
      return keeper?.opened(name);
    },
    onClose: (_name, bytes, entry) => {
      counters.closedBytes += bytes;
      manifest?.addFile(entry);
      // Saved with the state (the sink's own onClose saves it), for a continued run's manifest.
      keeper?.state.files?.push(entry);
    },
  };
  if (!directory) run.singleFileName = "";

  // Readers: from the saved cursors, from node/rack lists, or from the partition filters.
  const { plans: readerPlans, nodes } = await planReaders(cluster, config, info, resumed);
  const scan = scanOptionsOf(config, readerPlans.length, nodes);
  scan.onRetry = (cause) => counters.retries.count(cause);
  const state: BackupState = resumed ?? {
    version: 1,
    namespace: config.namespace,
    counter: 0,
    metadataDone: false,
    readers: readerPlans.map((p) => ({ setIndex: 0, filter: filterOfShare(p.share).toJSON() })),
    openFiles: [],
    startTime: (manifest?.startTime ?? ctx.now()).toISOString(),
    files: [],
  };
  state.files ??= [];
  if (config.stateFile !== "") {
    keeper = new StateKeeper(storage, config.stateFile, state);
    await keeper.save();
  }

  const writerCount = keeper || config.pipelinesMode === "parallel"
    ? readerPlans.length
    : directory
    ? config.parallelWrite
    : 1;
  const prefixes = Array.from(
    { length: writerCount },
    (_, i) => config.outputFilePrefix !== "" ? config.outputFilePrefix : `${i}_`,
  );
  // A directory backup's readers run in this thread and in workers, one core each; a
  // single file has one writer, which stays here.
  const workerCount = !directory || config.noRecords
    ? 0
    : config.readerWorkers === "auto"
    ? defaultWorkerCount(readerPlans.length)
    : config.readerWorkers;
  // Writer w (and its readers) runs in thread w mod threads; thread 0 is this one.
  const threads = Math.min(workerCount + 1, writerCount);
  const threadOf = (writer: number) => writer % threads;
  const dataWriters = new Map<number, DataWriter>();
  for (let i = 0; i < writerCount; i++) {
    if (threadOf(i) !== 0) continue;
    const writer: DataWriter = new DataWriter(
      new AsbFileSink(run, {
        prefix: prefixes[i],
        encoder: new AsbEncoder({ compact: config.compact }),
        fileLimit: directory ? config.fileLimit : 0,
        // Records up to this writer's last page are now in closed files: save its cursor.
        onClose: (name) => keeper?.closed(name, i, writer.cursor),
      }),
    );
    dataWriters.set(i, writer);
    ctx.sinks.push(writer.sink);
  }

  let failed = false;
  let closeError: unknown;
  try {
    // Metadata first: UDFs, then secondary indexes.
    if (!state.metadataDone) {
      const udfs = config.noUdfs ? [] : await readUdfs(cluster, info);
      const sindexes = config.noIndexes
        ? []
        : await readSIndexes(cluster, config.namespace, version, info);
      const meta = directory
        ? new AsbFileSink(run, {
          prefix: METADATA_PREFIX,
          encoder: new AsbEncoder({ compact: config.compact }),
          version: asbVersionFor(sindexes),
          onClose: (name) => keeper?.closed(name),
        })
        : dataWriters.get(0)!.sink;
      if (directory) ctx.sinks.push(meta);
      for (const udf of udfs) {
        await meta.writeUdf(udf);
        counters.udfsRead++;
      }
      for (const s of sindexes) {
        await meta.writeSIndex(s);
        counters.sindexesRead++;
      }
      if (directory) await meta.close();
      state.metadataDone = true;
      await keeper?.save();
    }

    if (!config.noRecords) {
      // The estimate is informational: a failure to count must not fail the backup, and
      // once the records are read it is moot (a dead node's info retries must not hold the
      // job's end).
      const stopEstimate = new AbortController();
      const counting = estimateRecordCount(cluster, {
        namespace: config.namespace,
        partitions: readerPlans.reduce((n, p) => n + p.partitions, 0),
        samplePartition: readerPlans[0].samplePartition,
        filtered: config.setList.length > 0 || config.filterExpression !== undefined ||
          config.modAfter !== undefined || config.modBefore !== undefined || config.noTtlOnly,
        scan,
        sets: config.setList,
      }, { ...info, signal: AbortSignal.any([signal, stopEstimate.signal]) }).then((n) => {
        counters.estimatedRecords = n;
      }, () => {});

      const maxRecords = config.maxRecords > 0
        ? Math.ceil(config.maxRecords / readerPlans.length)
        : 0;
      // Reader i writes to writer i mod writers; with a state file each has its own.
      const readers: PooledReader[] = readerPlans.map((plan, i) => ({
        index: i,
        writer: i % writerCount,
        share: plan.share,
        resume: resumed ? resumed.readers[i] : undefined,
        maxRecords,
      }));
      const here = readers.filter((r) => threadOf(r.writer) === 0);
      const elsewhere = readers.filter((r) => threadOf(r.writer) !== 0);
      // The first thread to fail stops the others.
      const stopReaders = new AbortController();
      const readersSignal = AbortSignal.any([signal, stopReaders.signal]);
      const stopOthers = (e: unknown) => {
        if (!stopReaders.signal.aborted) stopReaders.abort(e);
        throw e;
      };
      const runs = [
        readInThisThread(cluster, dataWriters, here, {
          config,
          scan,
          paged: keeper !== undefined,
          bandwidth: bandwidthShare(config.bandwidth, here.length, readers.length),
          counters,
          clock: ctx.clock,
          signal: readersSignal,
        }).catch(stopOthers),
      ];
      if (elsewhere.length > 0) {
        runs.push(
          ctx.workers.run({
            workers: threads - 1,
            cluster,
            storage,
            namespace: config.namespace,
            sets: config.setList,
            scan,
            pageSize: keeper ? config.pageSize : 0,
            compact: config.compact,
            fileLimit: config.fileLimit,
            compression: config.compression,
            encryptionKey,
            bandwidth: bandwidthShare(config.bandwidth, elsewhere.length, readers.length),
            writers: prefixes.flatMap((prefix, index) =>
              threadOf(index) === 0 ? [] : [{ index, prefix }]
            ),
            readers: elsewhere,
            counters,
            nameFile: async (prefix) => {
              const taken = takeFileName(run, prefix);
              await run.onOpen?.(taken.name);
              return taken;
            },
            fileClosed: async ({ writer, name, bytes, entry, cursor }) => {
              await run.onClose?.(name, bytes, entry);
              // Records up to this writer's last page are now in closed files: save its
              // cursor.
              await keeper?.closed(name, writer, cursor);
            },
            signal: readersSignal,
          }).catch(stopOthers),
        );
      }
      const outcomes = await Promise.allSettled(runs);
      if (stopReaders.signal.aborted) throw stopReaders.signal.reason;
      for (const o of outcomes) if (o.status === "rejected") throw o.reason;
      stopEstimate.abort();
      await counting;
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // Every path closes the writers; a close error only counts on success.
    const errors: unknown[] = [];
    for (const w of dataWriters.values()) await w.close().catch((e) => errors.push(e));
    closeError = failed ? undefined : errors[0];
    if (failed) {
      // A metadata file cut short by the failure is still open.
      for (const sink of ctx.sinks) await sink.close().catch(() => {});
      if (!keeper) await removeFiles(storage, created);
    }
  }
  if (closeError !== undefined) {
    if (!keeper) await removeFiles(storage, created);
    throw closeError;
  }
  // Like the C tool, a backup that found nothing still leaves one valid, header-only file,
  // so the restore of an empty namespace restores nothing instead of finding no backup.
  if (!resumed && counters.filesWritten === 0 && ctx.emptyBackupFile) {
    const empty = new AsbFileSink(run, {
      prefix: config.outputFilePrefix !== "" ? config.outputFilePrefix : "0_",
      encoder: new AsbEncoder({ compact: config.compact }),
    });
    ctx.sinks.push(empty);
    try {
      await empty.openFile();
      await empty.close();
    } catch (e) {
      await empty.close().catch(() => {});
      if (!keeper) await removeFiles(storage, created);
      throw e;
    }
  }
  // Last: a backup with a manifest is whole. The state file goes after it, so a kill in
  // between still leaves a backup that can be continued.
  if (manifest && ctx.manifest === undefined) {
    await writeManifest(storage, manifest.build(ctx.now()));
  }
  if (keeper) await removeFile(storage, config.stateFile);
}

interface ReaderPlan {
  share: ReaderShare;
  partitions: number;
  samplePartition: number;
}

/** The readers of a backup, and the only nodes they may read from (node and rack lists). */
interface ReaderPlans {
  plans: ReaderPlan[];
  nodes?: string[];
}

async function planReaders(
  cluster: Cluster,
  config: Readonly<BackupConfig>,
  info: InfoCommandOptions,
  resumed: BackupState | undefined,
): Promise<ReaderPlans> {
  const listed = config.nodeList.length > 0 || config.rackList.length > 0;
  const nodes = !listed
    ? undefined
    : config.nodeList.length > 0
    ? await nodesFromList(cluster, config.nodeList, info)
    : await nodesFromRacks(cluster, config.namespace, config.rackList, info);
  const ofIds = (ids: number[]): ReaderPlan => ({
    share: { ids },
    partitions: ids.length,
    samplePartition: ids[0],
  });
  if (resumed) {
    // A later set starts over on the reader's whole share, not the saved cursor.
    const plans = resumed.readers.map((c) =>
      ofIds(PartitionFilter.fromJSON(c.filter).partitions.map((p) => p.id))
    );
    return { plans, nodes };
  }
  if (nodes !== undefined) {
    const lists = masterPartitionLists(cluster, config.namespace, nodes, config.parallelRead);
    return { plans: lists.map(ofIds), nodes };
  }
  const plans = splitPartitionFilters(config.partitionFilters, config.parallelRead).map((r) => ({
    share: { range: r },
    partitions: r.count,
    samplePartition: r.begin,
  }));
  return { plans };
}

interface ThisThreadRun {
  config: Readonly<BackupConfig>;
  scan: SharedScanOptions;
  paged: boolean;
  /** This thread's share of the bandwidth limit (0 = none). */
  bandwidth: number;
  counters: BackupCounters;
  clock: CountedJobContext["clock"];
  signal: AbortSignal;
}

/** Runs readers in the job's own thread, each writing to its writer. */
async function readInThisThread(
  cluster: Cluster,
  dataWriters: ReadonlyMap<number, DataWriter>,
  readers: readonly PooledReader[],
  r: ThisThreadRun,
): Promise<void> {
  const { config, counters } = r;
  const bandwidth = r.bandwidth > 0
    ? new LeakyBucket(r.bandwidth, {
      clock: r.clock,
      signal: r.signal,
      stats: counters.throttle.bandwidth,
    })
    : undefined;
  // The first reader to fail stops the others.
  const stopReaders = new AbortController();
  const readersSignal = AbortSignal.any([r.signal, stopReaders.signal]);
  const onRecord = () => {
    counters.recordsRead++;
    counters.recordsWritten++;
  };
  const runs = readers.map((reader) => {
    const writer = dataWriters.get(reader.writer)!;
    return readRecords(cluster, {
      namespace: config.namespace,
      sets: config.setList,
      share: reader.share,
      resume: reader.resume,
      scan: r.scan,
      pageSize: r.paged ? config.pageSize : 0,
      maxRecords: reader.maxRecords,
    }, {
      sink: writer.sink,
      onRecord,
      onPage: r.paged ? (cursor) => writer.cursor = cursor : undefined,
      bandwidth,
      signal: readersSignal,
    }).catch((e) => {
      if (!stopReaders.signal.aborted) stopReaders.abort(e);
      throw e;
    });
  });
  const outcomes = await Promise.allSettled(runs);
  if (stopReaders.signal.aborted) throw stopReaders.signal.reason;
  for (const o of outcomes) if (o.status === "rejected") throw o.reason;
}

/** Removes the files of a failed run; best effort: the run's own error is what matters. */
async function removeFiles(storage: StorageWriter, names: readonly string[]): Promise<void> {
  for (const name of names) await removeFile(storage, name).catch(() => {});
}

async function removeFile(storage: StorageWriter, name: string): Promise<void> {
  if (storage.remove) await storage.remove(name);
}

/**
 * The scan settings every reader shares. `recordsPerSecond` goes to the server as each
 * scan's throttle (the readers' shares add up to it), as the C tool sends it: a client
 * that throttled by reading slowly would leave the nodes' sends blocked and the other
 * nodes' streams unread meanwhile.
 */
function scanOptionsOf(
  config: Readonly<BackupConfig>,
  readers: number,
  nodes: string[] | undefined,
): SharedScanOptions {
  const p = config.scanPolicy;
  const scan: SharedScanOptions = {
    filterExpression: backupScanFilter(config),
    noBins: config.noBins,
    socketTimeoutMs: p.socketTimeoutMs,
    totalTimeoutMs: p.totalTimeoutMs,
    maxRetries: p.maxRetries,
    retryDelayMs: p.sleepBetweenRetriesMs,
    // Node and rack backups read each partition from the node that masters it.
    replica: config.nodeList.length > 0 || config.rackList.length > 0 || p.replica === "master"
      ? "master"
      : "any",
  };
  if (config.binList.length > 0) scan.binNames = [...config.binList];
  if (p.replica === "preferRack" && p.rackIds.length > 0) scan.preferRacks = [...p.rackIds];
  if (config.recordsPerSecond > 0) {
    scan.recordsPerSecond = Math.max(1, Math.ceil(config.recordsPerSecond / Math.max(1, readers)));
  }
  // Node and rack backups read the listed nodes only, also when one of them fails.
  if (nodes !== undefined) scan.nodes = nodes;
  return scan;
}
