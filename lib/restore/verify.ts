/**
 * Verify: a backup against the live cluster. The files are read as a restore reads them
 * (namespace mapping, set and bin lists, file options, expired records dropped), nothing
 * is written, and every record is batch-read from the cluster by digest, with the
 * restore's batch size, parallelism and retry policy. Each record is:
 *
 * - **identical**: the same bins with the same particle types and values (the server
 *   checked set and key);
 * - **changed**: the cluster's copy was last updated after the backup started (a batch
 *   filter `last_update < start` answers 27 for it);
 * - **different**: not newer, yet not equal (other bins or values, another set: 4, another
 *   key: 19) — data went wrong;
 * - **missing** from the cluster.
 *
 * With `extra`, the cluster is then scanned (within the backup's filters) for records the
 * backup lacks: **extra** ones, last updated before the backup started (the backup should
 * hold them), and **new** ones, written since (expected, told for information). Memory stays bounded: per partition, the records found in
 * both are counted, and the scan's count per partition tells how many the backup lacks;
 * only to name up to {@linkcode VERIFY_SAMPLES} of them are the backup's digests of a few
 * partitions read again.
 *
 * @module
 */

import type { BatchReadKey, BatchReadResult } from "../aerospike/batch_read.ts";
import type { Cluster } from "../aerospike/cluster.ts";
import { PARTITION_COUNT, partitionId } from "../aerospike/digest.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import type { AerospikeRecord, Bin } from "../aerospike/record.ts";
import { ResultCode, resultCodeName } from "../aerospike/result_code.ts";
import type { ManifestSettings } from "../backup/manifest.ts";
import { parseNanos } from "../backup/manifest.ts";
import { splitPartitionFilters } from "../backup/partition_spec.ts";
import { filterForRange } from "../backup/record_reader.ts";
import { backupScanFilter } from "../backup/scan_filter.ts";
import type { PartitionFilterSpec } from "../backup/partition_spec.ts";
import { AerobakError } from "../errors.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import type { ReadChain } from "../io/file_chain.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";
import { type CountedJobContext, startCountedJob } from "../pipeline/_counted_job.ts";
import { type Clock, systemClock } from "../pipeline/clock.ts";
import type { JobHandle, JobRunOptions } from "../pipeline/job.ts";
import { Pipe, type PipeWriter } from "../pipeline/pipe.ts";
import { LeakyBucket, TokenBucket } from "../pipeline/rate_limiter.ts";
import { retryAttempts, retryDelayMs } from "../policy.ts";
import { asbFileReaders } from "./_file_readers.ts";
import type { RestoreConfig } from "./config.ts";
import { recordRef, restoreProcessors } from "./processors.ts";
import { bytesReadFrom, checkRestoreInput } from "./restore.ts";
import { RestoreCounters, type RestoreStats } from "./stats.ts";

/** Digests listed per class in a verify's statistics. */
export const VERIFY_SAMPLES = 10;

/** What a verified record turned out to be. */
export type VerifyClass = "identical" | "changed" | "different" | "missing" | "extra" | "new";

/** The statistics of a verify: a restore's read counters plus the classes. */
export interface VerifyStats extends RestoreStats {
  /** Records equal in the backup and the cluster. */
  recordsIdentical: number;
  /** Records the cluster updated after the backup started. */
  recordsChanged: number;
  /** Records not newer in the cluster, yet not equal. */
  recordsDifferent: number;
  /** Records of the backup the cluster does not have. */
  recordsMissing: number;
  /**
   * Records of the cluster the backup lacks, last updated before the backup started and
   * within its filters (with `extra` only).
   */
  recordsExtra: number;
  /** Records of the cluster written since the backup started, within its filters (with `extra`). */
  recordsNew: number;
  /** Up to {@linkcode VERIFY_SAMPLES} base64 digests per class. */
  samples: Record<VerifyClass, string[]>;
}

/** The counters of a running verify. */
export class VerifyCounters extends RestoreCounters {
  /** See {@linkcode VerifyStats}. */
  recordsIdentical = 0;
  /** See {@linkcode VerifyStats}. */
  recordsChanged = 0;
  /** See {@linkcode VerifyStats}. */
  recordsDifferent = 0;
  /** See {@linkcode VerifyStats}. */
  recordsMissing = 0;
  /** See {@linkcode VerifyStats}. */
  recordsExtra = 0;
  /** See {@linkcode VerifyStats}. */
  recordsNew = 0;
  /** See {@linkcode VerifyStats}. */
  readonly samples: Record<VerifyClass, string[]> = {
    identical: [],
    changed: [],
    different: [],
    missing: [],
    extra: [],
    new: [],
  };

  /**
   * Counts a record in a class and keeps its digest among the first few.
   *
   * @param c The class.
   * @param digest The record's digest.
   */
  classify(c: VerifyClass, digest: Uint8Array): void {
    switch (c) {
      case "identical":
        this.recordsIdentical++;
        break;
      case "changed":
        this.recordsChanged++;
        break;
      case "different":
        this.recordsDifferent++;
        break;
      case "missing":
        this.recordsMissing++;
        break;
      case "extra":
        this.recordsExtra++;
        break;
      case "new":
        this.recordsNew++;
        break;
    }
    const list = this.samples[c];
    if (list.length < VERIFY_SAMPLES) list.push(base64(digest));
  }

  /**
   * Takes a snapshot.
   *
   * @param openBytes Bytes read so far from files still being read.
   * @returns The statistics.
   */
  override snapshot(openBytes: number): VerifyStats {
    return {
      ...super.snapshot(openBytes),
      recordsIdentical: this.recordsIdentical,
      recordsChanged: this.recordsChanged,
      recordsDifferent: this.recordsDifferent,
      recordsMissing: this.recordsMissing,
      recordsExtra: this.recordsExtra,
      recordsNew: this.recordsNew,
      samples: {
        identical: [...this.samples.identical],
        changed: [...this.samples.changed],
        different: [...this.samples.different],
        missing: [...this.samples.missing],
        extra: [...this.samples.extra],
        new: [...this.samples.new],
      },
    };
  }
}

/** Where `extra` looks for records the backup lacks: the backup's own filters. */
export interface ExtraScope {
  /**
   * The namespace to scan when the backup has no record to tell it (its records' namespace
   * after the mapping otherwise).
   */
  namespace?: string;
  /** Sets (empty = every set). */
  sets: readonly string[];
  /** Partitions. */
  partitionFilters: readonly PartitionFilterSpec[];
  /** Records last updated at or after this, Unix ns. */
  modAfter?: bigint;
  /** Records last updated before this, Unix ns (the earlier of this and the backup start is used). */
  modBefore?: bigint;
  /** Only records that never expire. */
  noTtlOnly: boolean;
  /** Base64 of the backup's filter expression. */
  filterExpression?: string;
}

/**
 * The scope of `extra` for a backup: its manifest's filters (the whole namespace without
 * one), narrowed to the restore's set list.
 *
 * @param settings The manifest's settings, when the backup has one.
 * @param restoreSets The restore's set list.
 * @returns The scope.
 * @throws {AerobakError} `CONFIG_INVALID` for a backup of the partitions of some nodes or
 *   racks (which partitions they mastered then is not known now).
 */
export function extraScopeOf(
  settings: ManifestSettings | undefined,
  restoreSets: readonly string[],
): ExtraScope {
  if (settings && (settings.nodeList.length > 0 || settings.rackList.length > 0)) {
    throw new AerobakError(
      "CONFIG_INVALID",
      "Cannot look for extra records of a backup of some nodes' or racks' partitions " +
        `(${settings.nodeList.length > 0 ? "--node-list" : "--rack-list"}): which partitions ` +
        "they mastered then is not known now",
    );
  }
  const backupSets = settings?.setList ?? [];
  let sets: string[] = [...backupSets];
  if (restoreSets.length > 0) {
    sets = backupSets.length > 0
      ? backupSets.filter((s) => restoreSets.includes(s))
      : [...restoreSets];
  }
  const scope: ExtraScope = {
    sets,
    partitionFilters: settings?.partitionFilters.length
      ? settings.partitionFilters
      : [{ kind: "all" }],
    noTtlOnly: settings?.noTtlOnly ?? false,
  };
  const after = settings?.modifiedAfter ? parseNanos(settings.modifiedAfter) : undefined;
  const before = settings?.modifiedBefore ? parseNanos(settings.modifiedBefore) : undefined;
  if (after !== undefined) scope.modAfter = after;
  if (before !== undefined) scope.modBefore = before;
  if (settings?.filterExpression) scope.filterExpression = settings.filterExpression;
  return scope;
}

/** Options of {@linkcode startVerify}. */
export interface VerifyJobOptions extends JobRunOptions<VerifyStats> {
  /**
   * Records the cluster last updated at or after this time (Unix ns) are "changed": the
   * backup's start (from its manifest) or `--modified-before`. Unset: nothing is known to
   * be newer, and a changed record counts as different.
   */
  changedSince?: bigint;
  /** Also scan the cluster for records the backup lacks, in this scope. */
  extra?: ExtraScope;
  /**
   * Current Unix time in seconds (records of the backup that have expired are not looked
   * for).
   *
   * @default {() => Math.floor(Date.now() / 1000)}
   */
  now?: () => number;
}

/**
 * Starts a verify of an ASB backup against a cluster and returns its handle at once.
 *
 * @param cluster The cluster the backup was taken from or restored to.
 * @param config A restore configuration (namespace mapping, set and bin lists, file
 *   options, batch size, parallelism, retries); nothing is written.
 * @param reader Where the backup files are.
 * @param options Time window, `extra`, cancel signal, progress.
 * @returns The running job; its statistics classify every record.
 * @throws {AerobakError} `CONFIG_INVALID` at once for ASBX files or a bin list with `extra`.
 *
 * @example
 * ```ts ignore
 * const stats = await startVerify(cluster, resolveRestoreConfig({}), new DirectoryReader("/b"), {
 *   changedSince: parseNanos(manifest.startTime),
 * }).wait();
 * console.log(stats.recordsDifferent, stats.recordsMissing);
 * ```
 */
export function startVerify(
  cluster: Cluster,
  config: Readonly<RestoreConfig>,
  reader: StorageReader,
  options: VerifyJobOptions = {},
): JobHandle<VerifyStats> {
  if (config.encoderType !== "ASB") {
    throw new AerobakError(
      "CONFIG_INVALID",
      "Cannot verify ASBX files: an XDR backup holds write messages, not records " +
        "(verify the ASB backup, or validate the ASBX files with --validate)",
    );
  }
  if (options.extra && config.binList.length > 0) {
    throw new AerobakError(
      "CONFIG_INVALID",
      "Cannot look for extra records with a bin list: records without those bins are " +
        "skipped from the backup but not from the cluster",
    );
  }
  const counters = new VerifyCounters();
  const open = new Set<ReadChain>();
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  return startCountedJob(
    (job) => runVerify(cluster, config, reader, { ...job, counters, open, now, options }),
    { ...options, counters, openBytes: () => bytesReadFrom(open) },
  );
}

interface RunContext extends CountedJobContext {
  counters: VerifyCounters;
  open: Set<ReadChain>;
  now: () => number;
  options: VerifyJobOptions;
}

async function runVerify(
  cluster: Cluster,
  config: Readonly<RestoreConfig>,
  storage: StorageReader,
  ctx: RunContext,
): Promise<void> {
  checkRestoreInput(cluster, config, "ASB");
  const encryptionKey = await loadJobEncryptionKey(config.encryption, {
    secretAgent: config.secretAgent,
  });
  const entries: StorageEntry[] = [];
  for await (const e of storage.list()) entries.push(e);
  const { signal, counters } = ctx;
  const changedSince = ctx.options.changedSince;
  // Per partition, the backup's records found in the cluster not newer, and newer there.
  const tally: PartitionTally | undefined = ctx.options.extra
    ? { matched: new Uint32Array(PARTITION_COUNT), changed: new Uint32Array(PARTITION_COUNT) }
    : undefined;
  const readBackup = async (writer: PipeWriter<AsbToken>, count: boolean) => {
    const readers = asbFileReaders({
      storage,
      entries,
      config,
      encryptionKey,
      counters: count ? counters : new RestoreCounters(),
      open: ctx.open,
      bandwidth: config.bandwidth > 0
        ? new LeakyBucket(config.bandwidth, { clock: ctx.clock, signal })
        : undefined,
    });
    if (readers.length === 0) return;
    const processors = restoreProcessors(count ? counters : new RestoreCounters(), {
      noRecords: config.noRecords,
      noIndexes: true,
      noUdfs: true,
      setList: config.setList,
      binList: config.binList,
      namespace: config.namespace,
      extraTtl: 0,
      limiter: config.recordsPerSecond > 0
        ? new TokenBucket(config.recordsPerSecond, { clock: ctx.clock, signal })
        : undefined,
      nowSeconds: ctx.now,
    });
    const pipe = new Pipe({ readers, processors, writers: [writer] }, { signal });
    ctx.onPipe(pipe);
    await pipe.run();
  };
  const seen: { namespace?: string } = {};
  await readBackup(
    new VerifyWriter({
      cluster,
      config,
      counters,
      changedSince,
      tally,
      seen,
      clock: ctx.clock,
      signal,
    }),
    true,
  );
  const extra = ctx.options.extra;
  // The namespace scanned: the records' (after mapping), or the scope's when none was read.
  const namespace = seen.namespace ?? extra?.namespace;
  if (extra && namespace !== undefined) {
    await findExtra(cluster, config, { ...extra, namespace }, changedSince, tally!, counters, {
      readBackup: (writer) => readBackup(writer, false),
      signal,
    });
  }
}

/** Per partition: the backup's records the cluster holds not newer, and newer. */
interface PartitionTally {
  matched: Uint32Array;
  changed: Uint32Array;
}

/** What a {@linkcode VerifyWriter} needs. */
interface VerifyContext {
  cluster: Cluster;
  config: Readonly<RestoreConfig>;
  counters: VerifyCounters;
  changedSince?: bigint;
  tally?: PartitionTally;
  /** The namespace of the records read (the destination's, when mapped). */
  seen: { namespace?: string };
  clock: Clock;
  signal: AbortSignal;
}

/**
 * Collects records into batches of `batchSize`, batch-reads them with up to
 * `maxAsyncBatches` batches in flight, and classifies each.
 */
class VerifyWriter implements PipeWriter<AsbToken> {
  readonly #ctx: VerifyContext;
  readonly #filter?: Uint8Array;
  #batch: AerospikeRecord[] = [];
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #error: unknown;
  #failed = false;

  constructor(ctx: VerifyContext) {
    this.#ctx = ctx;
    if (ctx.changedSince !== undefined) {
      // Only the MRT set exclusion and the time bound: records at or after it are "changed".
      this.#filter = backupScanFilter({ modBefore: ctx.changedSince });
    }
  }

  write(token: AsbToken): number | Promise<number> {
    if (this.#failed) throw this.#error;
    if (token.kind !== "record") return 0;
    this.#batch.push(token.record);
    if (this.#batch.length < this.#ctx.config.batchSize) return 0;
    this.#send();
    return this.#inFlight < this.#ctx.config.maxAsyncBatches ? 0 : this.#slot();
  }

  async close(): Promise<void> {
    if (!this.#failed && this.#batch.length > 0) this.#send();
    while (this.#inFlight > 0) await this.#settled();
    if (this.#failed) throw this.#error;
  }

  #send(): void {
    const batch = this.#batch;
    this.#batch = [];
    this.#inFlight++;
    this.#verify(batch).catch((e) => {
      if (!this.#failed) {
        this.#failed = true;
        this.#error = e;
      }
    }).finally(() => {
      this.#inFlight--;
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }

  #settled(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }

  async #slot(): Promise<number> {
    while (this.#inFlight >= this.#ctx.config.maxAsyncBatches) await this.#settled();
    if (this.#failed) throw this.#error;
    return 0;
  }

  async #verify(records: AerospikeRecord[]): Promise<void> {
    const ctx = this.#ctx;
    const keys: BatchReadKey[] = records.map((r) => {
      const k: BatchReadKey = { namespace: r.namespace, set: r.set, digest: r.digest };
      if (r.key !== undefined) k.key = r.key;
      return k;
    });
    const results = await readWithRetries(ctx, keys, {
      binNames: ctx.config.binList.length > 0 ? [...ctx.config.binList] : undefined,
      filterExpression: this.#filter,
      totalTimeoutMs: ctx.config.writePolicy.totalTimeoutMs,
      socketTimeoutMs: ctx.config.writePolicy.socketTimeoutMs,
    });
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const res = results[i];
      const c = classifyRead(r, res);
      ctx.counters.classify(c, r.digest);
      // What the extra scans will find of the backup: records not newer, and newer.
      const t = ctx.tally;
      if (t) {
        const code = res.resultCode;
        const p = partitionId(r.digest);
        if (code === ResultCode.OK || code === ResultCode.KEY_MISMATCH) t.matched[p]++;
        else if (code === ResultCode.FILTERED_OUT) t.changed[p]++;
      }
      ctx.seen.namespace ??= r.namespace;
    }
  }
}

/** Result codes worth another attempt: no answer, timeouts, partitions moving, hot keys. */
function retriable(code: number): boolean {
  return code < 0 || code === ResultCode.TIMEOUT || code === ResultCode.PARTITION_UNAVAILABLE ||
    code === ResultCode.KEY_BUSY || code === ResultCode.SERVER_ERROR ||
    code === ResultCode.CLUSTER_KEY_MISMATCH;
}

/** Batch-reads keys, reading again those without a final answer, per the retry policy. */
async function readWithRetries(
  ctx: Pick<VerifyContext, "cluster" | "config" | "counters" | "clock" | "signal">,
  keys: BatchReadKey[],
  options: Parameters<Cluster["batchRead"]>[1],
): Promise<BatchReadResult[]> {
  const attempts = retryAttempts(ctx.config.retryPolicy);
  const results: BatchReadResult[] = new Array(keys.length);
  let pending = keys.map((_, i) => i);
  for (let k = 0;; k++) {
    const answers = await ctx.cluster.batchRead(pending.map((i) => keys[i]), options);
    const again: number[] = [];
    for (let j = 0; j < pending.length; j++) {
      results[pending[j]] = answers[j];
      if (retriable(answers[j].resultCode)) again.push(pending[j]);
    }
    if (again.length === 0) return results;
    if (k + 1 >= attempts) {
      const i = again[0];
      const code = results[i].resultCode;
      const ref = recordRef({ ...keys[i], generation: 0, voidTime: 0, bins: [] });
      throw new AerobakError(
        "VERIFY_READ_FAILED",
        `Cannot read record ${ref.digest} of ${ref.namespace}/${ref.set} from the cluster: ${
          code < 0 ? "no answer" : "server returned"
        } ${code} ${resultCodeName(code)} (${again.length} records without an answer)`,
        { record: ref, resultCode: code },
      );
    }
    ctx.counters.retries++;
    await (ctx.clock ?? systemClock).sleep(retryDelayMs(ctx.config.retryPolicy, k), ctx.signal);
    pending = again;
  }
}

/**
 * Classifies a record of the backup by the cluster's answer for it.
 *
 * @param r The record as the backup holds it (after the restore's processors).
 * @param res The cluster's answer.
 * @returns The class.
 * @throws {AerobakError} `VERIFY_READ_FAILED` for an answer that says nothing about the
 *   record (a server error other than the ones classified).
 */
export function classifyRead(r: AerospikeRecord, res: BatchReadResult): VerifyClass {
  switch (res.resultCode) {
    case ResultCode.OK:
      return sameBins(r.bins, res.bins ?? []) ? "identical" : "different";
    case ResultCode.FILTERED_OUT:
      return "changed";
    case ResultCode.KEY_NOT_FOUND:
      return "missing";
    // The server compares what the backup says with what it holds.
    case ResultCode.KEY_MISMATCH:
    case ResultCode.PARAMETER_ERROR:
      return "different";
  }
  const ref = recordRef(r);
  throw new AerobakError(
    "VERIFY_READ_FAILED",
    `Cannot verify record ${ref.digest} of ${ref.namespace}/${ref.set}: the server returned ` +
      `${res.resultCode} ${resultCodeName(res.resultCode)}`,
    { record: ref, resultCode: res.resultCode },
  );
}

/**
 * Whether two bin lists hold the same bins: names, particle types and values (a bin the
 * backup holds without a value is one a restore deletes: absent).
 *
 * @param backup The backup's bins.
 * @param cluster The cluster's bins.
 * @returns Whether they are the same.
 */
export function sameBins(backup: readonly Bin[], cluster: readonly Bin[]): boolean {
  const live = backup.filter((b) => b.type !== 0);
  if (live.length !== cluster.length) return false;
  const byName = new Map(cluster.map((b) => [b.name, b]));
  for (const b of live) {
    const c = byName.get(b.name);
    if (c === undefined || c.type !== b.type) return false;
    if (b.value instanceof Uint8Array) {
      const v = c.value as Uint8Array;
      if (v.length !== b.value.length) return false;
      for (let i = 0; i < v.length; i++) if (v[i] !== b.value[i]) return false;
    } else if (!Object.is(b.value, c.value)) {
      return false;
    }
  }
  return true;
}

/**
 * The records the backup lacks, within its filters: per partition, the cluster's records
 * last updated before the backup started minus those found from the backup ("extra"), and
 * those updated since minus the backup's records changed since ("new"). To name a few of
 * each, the backup's digests of the first partitions with a difference are read again and
 * those partitions scanned once more.
 */
async function findExtra(
  cluster: Cluster,
  config: Readonly<RestoreConfig>,
  scope: ExtraScope,
  changedSince: bigint | undefined,
  tally: PartitionTally,
  counters: VerifyCounters,
  ctx: { readBackup: (w: PipeWriter<AsbToken>) => Promise<void>; signal: AbortSignal },
): Promise<void> {
  const namespace = scope.namespace!;
  const before = changedSince !== undefined &&
      (scope.modBefore === undefined || changedSince < scope.modBefore)
    ? changedSince
    : scope.modBefore;
  const filter = (after: bigint | undefined, until: bigint | undefined) =>
    backupScanFilter({
      filterExpression: scope.filterExpression,
      modAfter: after,
      modBefore: until,
      noTtlOnly: scope.noTtlOnly,
    });
  const oldFilter = filter(scope.modAfter, before);
  // Records written since the backup started are in its scope unless it ended earlier.
  const newFilter = changedSince !== undefined &&
      (scope.modBefore === undefined || scope.modBefore > changedSince)
    ? filter(
      scope.modAfter !== undefined && scope.modAfter > changedSince ? scope.modAfter : changedSince,
      undefined,
    )
    : undefined;
  const scan = async (
    filterExpression: Uint8Array,
    partitions: () => PartitionFilter[],
    each: (digest: Uint8Array) => void,
  ) => {
    for (const set of scope.sets.length > 0 ? scope.sets : [""]) {
      for (const partitionFilter of partitions()) {
        const records = cluster.scan(partitionFilter, {
          namespace,
          ...(set !== "" ? { set } : {}),
          noBins: true,
          filterExpression,
          totalTimeoutMs: 0,
          socketTimeoutMs: config.writePolicy.socketTimeoutMs,
          maxRetries: retryAttempts(config.retryPolicy) - 1,
        });
        for await (const r of records) {
          ctx.signal.throwIfAborted();
          each(r.digest);
        }
      }
    }
  };
  const inScope = () =>
    splitPartitionFilters(scope.partitionFilters, scope.partitionFilters.length).map((r) =>
      filterForRange(r)
    );
  const oldCount = new Uint32Array(PARTITION_COUNT);
  const newCount = new Uint32Array(PARTITION_COUNT);
  await scan(oldFilter, inScope, (d) => oldCount[partitionId(d)]++);
  if (newFilter) await scan(newFilter, inScope, (d) => newCount[partitionId(d)]++);
  const lacking = { extra: 0, new: 0 };
  const named = new Set<number>();
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const extra = Math.max(0, oldCount[p] - tally.matched[p]);
    const fresh = Math.max(0, newCount[p] - tally.changed[p]);
    if (
      (extra > 0 && lacking.extra < VERIFY_SAMPLES) || (fresh > 0 && lacking.new < VERIFY_SAMPLES)
    ) {
      named.add(p);
    }
    lacking.extra += extra;
    lacking.new += fresh;
  }
  if (named.size === 0) return;
  // Name the first few: the backup's digests of those partitions, then their scan.
  const known = new Set<string>();
  await ctx.readBackup({
    write: (t) => {
      if (t.kind === "record" && named.has(partitionId(t.record.digest))) {
        known.add(base64(t.record.digest));
      }
      return 0;
    },
    close: () => Promise.resolve(),
  });
  const ids = () => [PartitionFilter.ids([...named].sort((a, b) => a - b))];
  for (const [c, f] of [["extra", oldFilter], ["new", newFilter]] as const) {
    if (f === undefined || lacking[c] === 0) continue;
    const samples: Uint8Array[] = [];
    await scan(f, ids, (d) => {
      if (samples.length < VERIFY_SAMPLES && !known.has(base64(d))) samples.push(d.slice());
    });
    for (const d of samples) counters.classify(c, d);
    if (c === "extra") counters.recordsExtra += lacking.extra - samples.length;
    else counters.recordsNew += lacking.new - samples.length;
  }
}

function base64(d: Uint8Array): string {
  let s = "";
  for (let i = 0; i < d.length; i++) s += String.fromCharCode(d[i]);
  return btoa(s);
}
