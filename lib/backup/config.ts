/**
 * The configuration of a backup job: everything backup-go's `ConfigBackup` offers, in
 * camelCase and with the same meaning, plus `filterExpression`, `maxRecords` and `noBins`.
 *
 * {@linkcode resolveBackupConfig} fills the defaults into a new frozen object and checks
 * every rule backup-go checks up front, with the value in each message.
 *
 * @module
 */

import {
  decodeBase64,
  invalidConfig,
  requireInteger,
  requireNoDuplicates,
  requireOneOf,
  resolveNameList,
} from "../_config_check.ts";
import { resolveCompression, resolveEncryption, resolveSecretAgent } from "../_config_io.ts";
import { MRT_MONITOR_SET } from "../aerospike/record.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import type { EncryptionPolicy } from "../io/encryption.ts";
import {
  DEFAULT_RETRY_POLICY,
  type InfoPolicy,
  resolveInfoPolicy,
  resolveRetryPolicy,
  resolveScanPolicy,
  type RetryPolicy,
  type ScanPolicy,
} from "../policy.ts";
import type { SecretAgentConfig } from "../secret_agent/client.ts";
import {
  type PartitionFilterSpec,
  splitPartitionFilters,
  validatePartitionFilters,
} from "./partition_spec.ts";
import { resolveShard, shardPartitions, type ShardSpec } from "./shards.ts";

/** Most parallel readers or writers a job may use. */
export const MAX_PARALLEL = 1024;

/** File name prefix reserved for the metadata files of a directory backup. */
export const METADATA_PREFIX = "metadata_";

/**
 * How the pipeline connects its stages: `"single"` joins all readers to all writers through
 * one fan-out; `"parallel"` gives each reader its own writer (backup-go `pipeline.Mode`).
 */
export type PipelinesMode = "single" | "parallel";

/** A resolved backup configuration (see {@linkcode resolveBackupConfig}). */
export interface BackupConfig {
  /** Namespace to back up. Required. */
  namespace: string;
  /**
   * Sets to back up, one scan per set; empty = the whole namespace.
   * @default {[]}
   */
  setList: readonly string[];
  /**
   * Bins to back up; empty = all bins.
   * @default {[]}
   */
  binList: readonly string[];
  /**
   * Back up only the partitions mastered by these nodes (`host:port`, `host:tls-name:port`
   * or node names). Only with the default partition filter.
   * @default {[]}
   */
  nodeList: readonly string[];
  /**
   * Back up only the partitions mastered by the nodes of these racks. Only with the
   * default partition filter.
   * @default {[]}
   */
  rackList: readonly number[];
  /**
   * Partitions to back up. Each filter other than `all` is a task of its own, so at least
   * as many parallel readers as filters are needed.
   * @default {[{ kind: "all" }]}
   */
  partitionFilters: readonly PartitionFilterSpec[];
  /**
   * Back up one shard of a sharded backup: shard `index` of `count` reads its fixed share
   * of the partitions (see `shardPartitions`) and writes into the subdirectory
   * `shard-<index>-of-<count>/` of the storage. Excludes partition filters and node or
   * rack lists; shards other than 0 leave out the UDFs and secondary indexes (shard 0
   * holds them). Resolving turns it into the shard's partition filter.
   * @default {undefined}
   */
  shard?: Readonly<ShardSpec>;
  /**
   * Run one reader per node instead of per partition range. Excludes partition filters.
   * @default {false}
   */
  parallelNodes: boolean;
  /**
   * Concurrent scans (1 … 1024).
   * @default {1}
   */
  parallelRead: number;
  /**
   * Concurrent backup files (1 … 1024).
   * @default {1}
   */
  parallelWrite: number;
  /**
   * Write no records, only metadata.
   * @default {false}
   */
  noRecords: boolean;
  /**
   * Write no secondary indexes.
   * @default {false}
   */
  noIndexes: boolean;
  /**
   * Write no UDFs.
   * @default {false}
   */
  noUdfs: boolean;
  /**
   * Read records without their bins (restore skips such records).
   * @default {false}
   */
  noBins: boolean;
  /**
   * Only records last updated at or after this time, in Unix nanoseconds.
   * @default {undefined}
   */
  modAfter?: bigint;
  /**
   * Only records last updated before this time, in Unix nanoseconds.
   * @default {undefined}
   */
  modBefore?: bigint;
  /**
   * Only records that never expire.
   * @default {false}
   */
  noTtlOnly: boolean;
  /**
   * Extra filter expression (base64 of the wire encoding), ANDed with the others.
   * @default {undefined}
   */
  filterExpression?: string;
  /**
   * Approximate cap on the records read (0 = all).
   * @default {0}
   */
  maxRecords: number;
  /**
   * Records-per-second limit of the whole backup (0 = none), enforced by the nodes: each
   * reader's scans carry its share.
   * @default {0}
   */
  recordsPerSecond: number;
  /**
   * Bandwidth limit in bytes per second (0 = none).
   * @default {0}
   */
  bandwidth: number;
  /**
   * Start a new file once one reaches this many bytes as stored (0 = no limit).
   * @default {0}
   */
  fileLimit: number;
  /**
   * Write blobs (bytes, HLL, lists, maps) raw rather than base64.
   * @default {false}
   */
  compact: boolean;
  /**
   * File format. Only `"ASB"` is accepted for scan backups (ASBX is the XDR backup's).
   * @default {"ASB"}
   */
  encoderType: "ASB" | "ASBX";
  /**
   * Prefix of the data file names in directory mode (`metadata_` is reserved).
   * @default {""}
   */
  outputFilePrefix: string;
  /**
   * Name of the state file saved in the backup directory each time a file is closed
   * (needs `fileLimit` and `pageSize`). Empty = none.
   * @default {""}
   */
  stateFile: string;
  /**
   * Resume the interrupted backup recorded in `stateFile`.
   * @default {false}
   */
  continue: boolean;
  /**
   * Records per scan page when a state file is kept (0 = no paging).
   * @default {0}
   */
  pageSize: number;
  /**
   * How pipeline stages are connected.
   * @default {"single"}
   */
  pipelinesMode: PipelinesMode;
  /**
   * Web Workers the readers of a directory backup run in beside the job's own thread, each
   * on a core of its own with its share of the readers, their scans, encoding, compression,
   * encryption and files; `0` runs them all in the job's thread. `"auto"` gives
   * min(readers, cores) threads in all: min(readers, cores) − 1 workers.
   * @default {"auto"}
   */
  readerWorkers: number | "auto";
  /**
   * Compression of the files.
   * @default { mode: "NONE", level: 3 }
   */
  compression: Readonly<CompressionPolicy>;
  /**
   * Encryption of the files.
   * @default { mode: "NONE" }
   */
  encryption: Readonly<EncryptionPolicy>;
  /**
   * Secret Agent that resolves `secrets:` references.
   * @default {undefined}
   */
  secretAgent?: Readonly<SecretAgentConfig>;
  /**
   * Policy of info commands.
   * @default {DEFAULT_INFO_POLICY}
   */
  infoPolicy: Readonly<InfoPolicy>;
  /**
   * Policy of the scans.
   * @default {DEFAULT_SCAN_POLICY}
   */
  scanPolicy: Readonly<ScanPolicy>;
  /**
   * Retries of info commands.
   * @default {DEFAULT_RETRY_POLICY}
   */
  infoRetryPolicy: Readonly<RetryPolicy>;
}

/** What {@linkcode resolveBackupConfig} accepts: any field may be left out but `namespace`. */
export type BackupConfigInput =
  & Partial<
    Omit<BackupConfig, "infoPolicy" | "scanPolicy" | "infoRetryPolicy" | "modAfter" | "modBefore">
  >
  & {
    /** Only records last updated at or after this time (Unix ns, or a Date). */
    modAfter?: bigint | Date;
    /** Only records last updated before this time (Unix ns, or a Date). */
    modBefore?: bigint | Date;
    /** Policy of info commands; missing fields take the defaults. */
    infoPolicy?: Partial<InfoPolicy>;
    /** Policy of the scans; missing fields take the defaults. */
    scanPolicy?: Partial<ScanPolicy>;
    /** Retries of info commands; missing fields take the defaults. */
    infoRetryPolicy?: Partial<RetryPolicy>;
  };

/**
 * Fills the defaults into a new frozen backup configuration and validates it as backup-go
 * does: parallelism 1 … 1024; `modBefore` after `modAfter`; node and rack lists only with the
 * default partition filter and not with each other, a state file or `preferRack` replicas;
 * a state file needs `fileLimit` and `pageSize`; `continue` needs a state file; rates ≥ 0;
 * the MRT monitor set may not be listed; the `metadata_` prefix is reserved; no duplicates
 * in node, rack, set and bin lists; ASB encoding only; and the partition filters can be
 * shared out among `parallelRead` readers. A `shard` becomes its partition filter (and, for
 * shards other than 0, `noUdfs` and `noIndexes`); it excludes other partition choices.
 *
 * The caller's object is left untouched.
 *
 * @param input The options given.
 * @returns A new, deeply frozen configuration.
 * @throws {AerobakError} `CONFIG_INVALID` naming the option and the value given.
 *
 * @example Back up a namespace with four readers
 * ```ts
 * import { resolveBackupConfig } from "./config.ts";
 * const config = resolveBackupConfig({ namespace: "test", parallelRead: 4 });
 * console.log(config.parallelWrite, config.partitionFilters); // 1 [{ kind: "all" }]
 * ```
 *
 * @example Shard 1 of 4 of a sharded backup (one pod of an Indexed Job)
 * ```ts
 * import { resolveBackupConfig } from "./config.ts";
 * const config = resolveBackupConfig({ namespace: "test", shard: { index: 1, count: 4 } });
 * console.log(config.partitionFilters); // [{ kind: "range", begin: 1024, count: 1024 }]
 * ```
 */
export function resolveBackupConfig(input: BackupConfigInput): Readonly<BackupConfig> {
  const secretAgent = resolveSecretAgent(input.secretAgent);
  const c: BackupConfig = {
    namespace: input.namespace ?? "",
    setList: resolveNameList("setList", input.setList),
    binList: resolveNameList("binList", input.binList),
    nodeList: resolveNameList("nodeList", input.nodeList),
    rackList: Object.freeze([...(input.rackList ?? [])]),
    partitionFilters: Object.freeze(
      (input.partitionFilters ?? [{ kind: "all" }]).map((f) => Object.freeze({ ...f })),
    ),
    parallelNodes: input.parallelNodes ?? false,
    parallelRead: input.parallelRead ?? 1,
    parallelWrite: input.parallelWrite ?? 1,
    noRecords: input.noRecords ?? false,
    noIndexes: input.noIndexes ?? false,
    noUdfs: input.noUdfs ?? false,
    noBins: input.noBins ?? false,
    noTtlOnly: input.noTtlOnly ?? false,
    maxRecords: input.maxRecords ?? 0,
    recordsPerSecond: input.recordsPerSecond ?? 0,
    bandwidth: input.bandwidth ?? 0,
    fileLimit: input.fileLimit ?? 0,
    compact: input.compact ?? false,
    encoderType: input.encoderType ?? "ASB",
    outputFilePrefix: input.outputFilePrefix ?? "",
    stateFile: input.stateFile ?? "",
    continue: input.continue ?? false,
    pageSize: input.pageSize ?? 0,
    pipelinesMode: input.pipelinesMode ?? "single",
    readerWorkers: input.readerWorkers ?? "auto",
    compression: resolveCompression(input.compression),
    encryption: resolveEncryption(input.encryption, secretAgent),
    infoPolicy: resolveInfoPolicy(input.infoPolicy),
    scanPolicy: resolveScanPolicy(input.scanPolicy),
    infoRetryPolicy: resolveRetryPolicy(
      "infoRetryPolicy",
      input.infoRetryPolicy,
      DEFAULT_RETRY_POLICY,
    ),
  };
  if (secretAgent !== undefined) c.secretAgent = secretAgent;
  if (input.shard !== undefined) applyShard(c, input);
  const modAfter = toNs("modAfter", input.modAfter);
  const modBefore = toNs("modBefore", input.modBefore);
  if (modAfter !== undefined) c.modAfter = modAfter;
  if (modBefore !== undefined) c.modBefore = modBefore;
  if (input.filterExpression !== undefined) {
    decodeBase64("filterExpression", input.filterExpression);
    if (input.filterExpression === "") {
      throw invalidConfig("filterExpression", "", "base64 of an expression");
    }
    c.filterExpression = input.filterExpression;
  }
  validate(c);
  return Object.freeze(c);
}

function validate(c: BackupConfig): void {
  if (typeof c.namespace !== "string" || c.namespace === "") {
    throw invalidConfig("namespace", c.namespace, "a namespace name");
  }
  requireInteger("parallelRead", c.parallelRead, 1, MAX_PARALLEL);
  requireInteger("parallelWrite", c.parallelWrite, 1, MAX_PARALLEL);
  if (c.modAfter !== undefined && c.modBefore !== undefined && c.modBefore <= c.modAfter) {
    throw invalidConfig(
      "modBefore",
      c.modBefore,
      `a time after modAfter ${c.modAfter} (Unix ns)`,
    );
  }
  requireInteger("recordsPerSecond", c.recordsPerSecond, 0);
  requireInteger("bandwidth", c.bandwidth, 0);
  requireInteger("fileLimit", c.fileLimit, 0);
  requireInteger("pageSize", c.pageSize, 0);
  requireInteger("maxRecords", c.maxRecords, 0);
  requireOneOf("encoderType", c.encoderType, ["ASB"]);
  requireOneOf("pipelinesMode", c.pipelinesMode, ["single", "parallel"]);
  if (c.readerWorkers !== "auto") requireInteger("readerWorkers", c.readerWorkers, 0, MAX_PARALLEL);
  if (c.setList.includes(MRT_MONITOR_SET)) {
    throw invalidConfig("setList", c.setList, `no ${MRT_MONITOR_SET} (the MRT monitor set)`);
  }
  if (c.noBins && c.binList.length > 0) {
    // A scan cannot both leave out every bin and select some.
    throw invalidConfig("binList", c.binList, "no bin list together with noBins");
  }
  for (const rack of c.rackList) requireInteger("rackList", rack, 0);
  requireNoDuplicates("rackList", c.rackList);
  checkPrefix(c.outputFilePrefix);
  validatePartitionFilters(c.partitionFilters);

  const defaultFilter = c.partitionFilters.length === 1 && c.partitionFilters[0].kind === "all";
  const byNodes = c.nodeList.length > 0 || c.rackList.length > 0;
  if (c.nodeList.length > 0 && c.rackList.length > 0) {
    throw invalidConfig("rackList", c.rackList, "no rack list together with a node list");
  }
  if (byNodes && !defaultFilter) {
    throw invalidConfig(
      c.nodeList.length > 0 ? "nodeList" : "rackList",
      c.nodeList.length > 0 ? c.nodeList : c.rackList,
      "no node or rack list together with partition filters",
    );
  }
  if (c.parallelNodes && !defaultFilter) {
    throw invalidConfig("parallelNodes", true, "no parallelNodes together with partition filters");
  }
  if (byNodes && c.scanPolicy.replica === "preferRack") {
    throw invalidConfig(
      "scanPolicy.replica",
      "preferRack",
      "another replica policy with a node or rack list",
    );
  }
  if (c.stateFile !== "") {
    if (c.pageSize === 0) {
      throw invalidConfig("pageSize", 0, "a page size above 0 with a state file");
    }
    if (c.fileLimit === 0) {
      throw invalidConfig("fileLimit", 0, "a file limit above 0 with a state file");
    }
    if (byNodes || c.parallelNodes) {
      throw invalidConfig("stateFile", c.stateFile, "no state file with a node or rack backup");
    }
  }
  if (c.continue && c.stateFile === "") {
    throw invalidConfig("continue", true, "a state file to continue from");
  }
  // A resumed backup reuses the saved filters as they are; otherwise the filters must fit
  // the readers now rather than fail once the job has started.
  if (!byNodes && !c.parallelNodes && !c.continue) {
    splitPartitionFilters(c.partitionFilters, c.parallelRead);
  }
}

/** A shard's partitions replace the filters; what would pick partitions otherwise is refused. */
function applyShard(c: BackupConfig, input: BackupConfigInput): void {
  const shard = resolveShard(input.shard!);
  const range = shardPartitions(shard);
  const own = (f: PartitionFilterSpec) =>
    f.kind === "all" || (f.kind === "range" && f.begin === range.begin && f.count === range.count);
  // A resolved shard config resolves again to itself.
  const filters = input.partitionFilters;
  const given = filters !== undefined && !(filters.length === 1 && own(filters[0]))
    ? "partitionFilters"
    : c.nodeList.length > 0
    ? "nodeList"
    : c.rackList.length > 0
    ? "rackList"
    : c.parallelNodes
    ? "parallelNodes"
    : undefined;
  if (given !== undefined) {
    throw invalidConfig(
      "shard",
      `${shard.index} of ${shard.count}`,
      `no ${given} together with a shard (a shard's partitions are fixed)`,
    );
  }
  c.shard = shard;
  c.partitionFilters = Object.freeze([
    Object.freeze({ kind: "range" as const, begin: range.begin, count: range.count }),
  ]);
  // Shard 0 holds the metadata: a restore of every shard applies it once.
  if (shard.index !== 0) {
    c.noUdfs = true;
    c.noIndexes = true;
  }
}

// Characters Windows and most object stores refuse in file names.
const BAD_PREFIX_CHARS = /[\\/:*?"<>|]/;

function checkPrefix(prefix: string): void {
  if (prefix.startsWith(METADATA_PREFIX)) {
    throw invalidConfig("outputFilePrefix", prefix, `no prefix starting with ${METADATA_PREFIX}`);
  }
  const control = [...prefix].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
  if (BAD_PREFIX_CHARS.test(prefix) || control || prefix.trim() !== prefix) {
    throw invalidConfig(
      "outputFilePrefix",
      prefix,
      'a file name part without \\ / : * ? " < > |, control characters, or outer spaces',
    );
  }
}

function toNs(field: string, v: bigint | Date | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "bigint") return v;
  if (v instanceof Date && Number.isFinite(v.getTime())) return BigInt(v.getTime()) * 1_000_000n;
  throw invalidConfig(field, v, "a bigint of Unix nanoseconds or a valid Date");
}
