/**
 * The configuration of a restore job: everything backup-go's `ConfigRestore` offers, in
 * camelCase and with the same meaning, plus `validateOnly`, `applyMetadataLast` and `warmUp`.
 *
 * {@linkcode resolveRestoreConfig} fills the defaults into a new frozen object and checks
 * every rule backup-go checks up front, with the value in each message.
 *
 * @module
 */

import {
  invalidConfig,
  requireInteger,
  requireNumber,
  requireOneOf,
  resolveNameList,
} from "../_config_check.ts";
import { resolveCompression, resolveEncryption, resolveSecretAgent } from "../_config_io.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import type { EncryptionPolicy } from "../io/encryption.ts";
import {
  DEFAULT_RETRY_POLICY,
  DEFAULT_WRITE_RETRY_POLICY,
  type InfoPolicy,
  resolveInfoPolicy,
  resolveRetryPolicy,
  type RetryPolicy,
} from "../policy.ts";
import type { SecretAgentConfig } from "../secret_agent/client.ts";
import { resolveShard, type ShardSpec } from "../backup/shards.ts";

/** Most parallel readers a restore may use. */
export const MAX_RESTORE_PARALLEL = 1024;

/** Restore records of namespace `source` into namespace `destination`. */
export interface RestoreNamespaceConfig {
  /** Namespace the records were backed up from; other records are an error. */
  source: string;
  /** Namespace to write them to. */
  destination: string;
}

/** A resolved restore configuration (see {@linkcode resolveRestoreConfig}). */
export interface RestoreConfig {
  /**
   * Map the backup's namespace to another one (records only, as backup-go). Unset =
   * restore into the namespace the backup came from.
   * @default {undefined}
   */
  namespace?: Readonly<RestoreNamespaceConfig>;
  /**
   * Restore only records of these sets; empty = all.
   * @default {[]}
   */
  setList: readonly string[];
  /**
   * Restore only these bins (records left without bins are skipped); empty = all.
   * @default {[]}
   */
  binList: readonly string[];
  /**
   * File format: `"ASB"` or `"ASBX"` (ASBX allows no namespace mapping, set or bin lists,
   * `no*` filters, batch-write switch or extra TTL).
   * @default {"ASB"}
   */
  encoderType: "ASB" | "ASBX";
  /**
   * Concurrent file readers (1 … 1024).
   * @default {4}
   */
  parallel: number;
  /**
   * Client-side records-per-second limit (0 = none).
   * @default {0}
   */
  recordsPerSecond: number;
  /**
   * Bandwidth limit in bytes per second of file data read (0 = none).
   * @default {0}
   */
  bandwidth: number;
  /**
   * Restore no records.
   * @default {false}
   */
  noRecords: boolean;
  /**
   * Restore no secondary indexes.
   * @default {false}
   */
  noIndexes: boolean;
  /**
   * Restore no UDFs.
   * @default {false}
   */
  noUdfs: boolean;
  /**
   * Write records one at a time instead of in batches (ASBX: send each message alone).
   * @default {false}
   */
  disableBatchWrites: boolean;
  /**
   * Records per batch write (ASBX: messages per group, see `maxAsyncBatches`).
   * @default {128}
   */
  batchSize: number;
  /**
   * Batch write calls in flight at once. An ASBX restore has no batches: there it is the
   * groups of `batchSize` messages each worker keeps in flight, a group's messages for one
   * node sent back to back on one connection, each a write of its own (a record's messages
   * still go one at a time, in file order).
   * @default {16}
   */
  maxAsyncBatches: number;
  /**
   * Connections to open per node before writing (0 = `maxAsyncBatches + 1`).
   * @default {0}
   */
  warmUp: number;
  /**
   * Seconds added to the TTL of records that expire.
   * @default {0}
   */
  extraTtl: number;
  /**
   * Count and skip records the server refuses for a record-specific reason (codes 13, 19,
   * 21, 10, 22, 12, 17) instead of failing.
   * @default {false}
   */
  ignoreRecordError: boolean;
  /**
   * Only decode and check the files; no cluster is needed.
   * @default {false}
   */
  validateOnly: boolean;
  /**
   * Restore the `metadata_*` files (sindexes, UDFs) after the records.
   * @default {false}
   */
  applyMetadataLast: boolean;
  /**
   * Restore one shard of a sharded backup (the reader reads the directory holding the
   * `shard-<I>-of-<N>` directories). Without it, such a directory is restored whole, every
   * shard at once.
   * @default {undefined}
   */
  shard?: Readonly<ShardSpec>;
  /**
   * Restore a sharded backup some of whose shards are missing (only the shards there are
   * restored); without it such a restore is refused before anything is written.
   * @default {false}
   */
  allowPartial: boolean;
  /**
   * How records are written. The defaults are the restore CLI's: merge bins (`update`),
   * write only when the file's generation is newer (`expectGenGreater`), send the key,
   * 10 s total and socket timeouts.
   * @default {DEFAULT_RESTORE_WRITE_POLICY}
   */
  writePolicy: Readonly<WritePolicy>;
  /**
   * Retries of each record write, sindex and UDF (writes that got no answer move on to the
   * partition's next replica).
   * @default {DEFAULT_WRITE_RETRY_POLICY}
   */
  retryPolicy: Readonly<RetryPolicy>;
  /**
   * Compression of the files (must match the backup).
   * @default { mode: "NONE", level: 3 }
   */
  compression: Readonly<CompressionPolicy>;
  /**
   * Encryption of the files (must match the backup).
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
   * Retries of info commands.
   * @default {DEFAULT_RETRY_POLICY}
   */
  infoRetryPolicy: Readonly<RetryPolicy>;
}

/** The write policy of a restore unless one is given (the restore CLI's defaults). */
export const DEFAULT_RESTORE_WRITE_POLICY: Readonly<WritePolicy> = Object.freeze({
  recordExistsAction: "update",
  generationPolicy: "expectGenGreater",
  sendKey: true,
  totalTimeoutMs: 10000,
  socketTimeoutMs: 10000,
  durableDelete: false,
});

/** What {@linkcode resolveRestoreConfig} accepts: every field may be left out. */
export type RestoreConfigInput =
  & Partial<
    Omit<RestoreConfig, "writePolicy" | "retryPolicy" | "infoPolicy" | "infoRetryPolicy">
  >
  & {
    /** How records are written; missing fields take the defaults. */
    writePolicy?: Partial<WritePolicy>;
    /** Retries of writes; missing fields take the defaults. */
    retryPolicy?: Partial<RetryPolicy>;
    /** Policy of info commands; missing fields take the defaults. */
    infoPolicy?: Partial<InfoPolicy>;
    /** Retries of info commands; missing fields take the defaults. */
    infoRetryPolicy?: Partial<RetryPolicy>;
  };

/**
 * Fills the defaults into a new frozen restore configuration and validates it as backup-go
 * does: parallel 1 … 1024, batch size and writers above 0, extra TTL ≥ 0, namespace mapping
 * with both source and destination, no duplicate set or bin names, rates ≥ 0, known write
 * policy modes, and none of the options ASBX cannot honour.
 *
 * The caller's object is left untouched.
 *
 * @param input The options given.
 * @returns A new, deeply frozen configuration.
 * @throws {AerobakError} `CONFIG_INVALID` naming the option and the value given.
 *
 * @example Restore into another namespace
 * ```ts
 * import { resolveRestoreConfig } from "./config.ts";
 * const config = resolveRestoreConfig({ namespace: { source: "prod", destination: "test" } });
 * console.log(config.batchSize, config.writePolicy.generationPolicy); // 128 "expectGenGreater"
 * ```
 *
 * @example Restore shard 2 of a backup split into 4 shards (one pod of an Indexed Job)
 * ```ts
 * import { resolveRestoreConfig } from "./config.ts";
 * const config = resolveRestoreConfig({ shard: { index: 2, count: 4 } });
 * console.log(config.shard, config.allowPartial); // { index: 2, count: 4 } false
 * ```
 */
export function resolveRestoreConfig(input: RestoreConfigInput = {}): Readonly<RestoreConfig> {
  const secretAgent = resolveSecretAgent(input.secretAgent);
  const c: RestoreConfig = {
    setList: resolveNameList("setList", input.setList),
    binList: resolveNameList("binList", input.binList),
    encoderType: input.encoderType ?? "ASB",
    parallel: input.parallel ?? 4,
    recordsPerSecond: input.recordsPerSecond ?? 0,
    bandwidth: input.bandwidth ?? 0,
    noRecords: input.noRecords ?? false,
    noIndexes: input.noIndexes ?? false,
    noUdfs: input.noUdfs ?? false,
    disableBatchWrites: input.disableBatchWrites ?? false,
    batchSize: input.batchSize ?? 128,
    maxAsyncBatches: input.maxAsyncBatches ?? 16,
    warmUp: input.warmUp ?? 0,
    extraTtl: input.extraTtl ?? 0,
    ignoreRecordError: input.ignoreRecordError ?? false,
    validateOnly: input.validateOnly ?? false,
    applyMetadataLast: input.applyMetadataLast ?? false,
    allowPartial: input.allowPartial ?? false,
    writePolicy: resolveWritePolicy(input.writePolicy),
    retryPolicy: resolveRetryPolicy("retryPolicy", input.retryPolicy, DEFAULT_WRITE_RETRY_POLICY),
    compression: resolveCompression(input.compression),
    encryption: resolveEncryption(input.encryption, secretAgent),
    infoPolicy: resolveInfoPolicy(input.infoPolicy),
    infoRetryPolicy: resolveRetryPolicy(
      "infoRetryPolicy",
      input.infoRetryPolicy,
      DEFAULT_RETRY_POLICY,
    ),
  };
  if (secretAgent !== undefined) c.secretAgent = secretAgent;
  if (input.shard !== undefined) c.shard = resolveShard(input.shard);
  if (input.namespace !== undefined) {
    const { source, destination } = input.namespace;
    if (typeof source !== "string" || source === "") {
      throw invalidConfig("namespace.source", source, "a namespace name");
    }
    if (typeof destination !== "string" || destination === "") {
      throw invalidConfig("namespace.destination", destination, "a namespace name");
    }
    c.namespace = Object.freeze({ source, destination });
  }
  validate(c);
  return Object.freeze(c);
}

function validate(c: RestoreConfig): void {
  requireOneOf("encoderType", c.encoderType, ["ASB", "ASBX"]);
  requireInteger("parallel", c.parallel, 1, MAX_RESTORE_PARALLEL);
  requireInteger("recordsPerSecond", c.recordsPerSecond, 0);
  requireInteger("bandwidth", c.bandwidth, 0);
  requireInteger("batchSize", c.batchSize, 1);
  requireInteger("maxAsyncBatches", c.maxAsyncBatches, 1);
  requireInteger("warmUp", c.warmUp, 0);
  requireInteger("extraTtl", c.extraTtl, 0);
  if (c.encoderType === "ASBX") {
    const unsupported: [string, boolean][] = [
      ["namespace", c.namespace !== undefined],
      ["setList", c.setList.length > 0],
      ["binList", c.binList.length > 0],
      ["noRecords", c.noRecords],
      ["noIndexes", c.noIndexes],
      ["noUdfs", c.noUdfs],
      ["disableBatchWrites", c.disableBatchWrites],
      ["extraTtl", c.extraTtl !== 0],
    ];
    for (const [field, set] of unsupported) {
      if (set) {
        throw invalidConfig(field, fieldValue(c, field), "it unset when restoring ASBX files");
      }
    }
  }
}

function fieldValue(c: RestoreConfig, field: string): unknown {
  const v = (c as unknown as Record<string, unknown>)[field];
  if (field === "namespace" && c.namespace !== undefined) {
    return `${c.namespace.source},${c.namespace.destination}`;
  }
  return v;
}

function resolveWritePolicy(input: Partial<WritePolicy> | undefined): Readonly<WritePolicy> {
  const p: WritePolicy = { ...DEFAULT_RESTORE_WRITE_POLICY };
  // Copy only the fields given, so an explicit `undefined` keeps the default.
  for (const [k, v] of Object.entries(input ?? {})) {
    if (v !== undefined) (p as Record<string, unknown>)[k] = v;
  }
  requireOneOf("writePolicy.recordExistsAction", p.recordExistsAction, [
    "update",
    "updateOnly",
    "replace",
    "replaceOnly",
    "createOnly",
  ]);
  requireOneOf("writePolicy.generationPolicy", p.generationPolicy, [
    "none",
    "expectGenEqual",
    "expectGenGreater",
  ]);
  requireNumber("writePolicy.totalTimeoutMs", p.totalTimeoutMs ?? 0, 0);
  requireNumber("writePolicy.socketTimeoutMs", p.socketTimeoutMs ?? 0, 0);
  return Object.freeze(p);
}
