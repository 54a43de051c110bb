/**
 * Sharded backups: one backup split into N shards that run as separate processes (the pods
 * of a Kubernetes Indexed Job), each writing its own subdirectory of the backup directory.
 *
 * The split is fixed, so any process computes the same one: shard `I` of `N` backs up the
 * contiguous partitions `⌊I·4096/N⌋` … `⌊(I+1)·4096/N⌋ − 1`. Every partition belongs to
 * exactly one shard, and shard sizes differ by at most one partition. Shard `I` of `N`
 * writes into `<directory>/shard-<I>-of-<N>/`; shard 0 also backs up the UDFs and
 * secondary indexes (the others leave them out, so a restore of the whole applies them
 * once).
 *
 * | N | shard 0 | shard 1 | shard 2 | shard 3 |
 * | - | ------- | ------- | ------- | ------- |
 * | 1 | 0–4095  |         |         |         |
 * | 2 | 0–2047  | 2048–4095 |       |         |
 * | 3 | 0–1364  | 1365–2729 | 2730–4095 |     |
 * | 4 | 0–1023  | 1024–2047 | 2048–3071 | 3072–4095 |
 *
 * @module
 */

import { PARTITION_COUNT } from "../aerospike/digest.ts";
import { invalidConfig, requireInteger } from "../_config_check.ts";
import { AerobakError } from "../errors.ts";
import type { StorageWriter } from "../io/storage.ts";
import type { PartitionRange } from "./partition_spec.ts";

/** Most shards a backup may be split into: one partition each. */
export const MAX_SHARDS: number = PARTITION_COUNT;

/** One shard of a sharded backup or restore: shard `index` of `count`. */
export interface ShardSpec {
  /** The shard's number, 0 … `count − 1` (a Kubernetes Indexed Job's completion index). */
  readonly index: number;
  /** How many shards the backup is split into, 1 … 4096. */
  readonly count: number;
}

/**
 * Checks a shard spec.
 *
 * @param shard The spec.
 * @param field Name of the option, for messages.
 * @returns A frozen copy.
 * @throws {AerobakError} `CONFIG_INVALID` naming the option and the value.
 */
export function resolveShard(shard: ShardSpec, field = "shard"): Readonly<ShardSpec> {
  if (typeof shard !== "object" || shard === null) {
    throw invalidConfig(field, shard, "{ index, count }");
  }
  requireInteger(`${field}.count`, shard.count, 1, MAX_SHARDS);
  requireInteger(`${field}.index`, shard.index, 0, shard.count - 1);
  return Object.freeze({ index: shard.index, count: shard.count });
}

/**
 * The partitions a shard backs up.
 *
 * @param shard The shard (checked with {@linkcode resolveShard}).
 * @returns Its contiguous range.
 *
 * @example Shard 1 of 3
 * ```ts
 * import { shardPartitions } from "./shards.ts";
 * console.log(shardPartitions({ index: 1, count: 3 })); // { begin: 1365, count: 1365 }
 * ```
 */
export function shardPartitions(shard: ShardSpec): PartitionRange {
  const { index, count } = resolveShard(shard);
  const begin = Math.floor((index * PARTITION_COUNT) / count);
  const end = Math.floor(((index + 1) * PARTITION_COUNT) / count);
  return { begin, count: end - begin };
}

/**
 * The name of a shard's subdirectory.
 *
 * @param shard The shard.
 * @returns `shard-<index>-of-<count>`.
 *
 * @example
 * ```ts
 * import { shardDirectoryName } from "./shards.ts";
 * console.log(shardDirectoryName({ index: 2, count: 4 })); // "shard-2-of-4"
 * ```
 */
export function shardDirectoryName(shard: ShardSpec): string {
  const { index, count } = resolveShard(shard);
  return `shard-${index}-of-${count}`;
}

const SHARD_NAME = /^shard-(0|[1-9][0-9]*)-of-([1-9][0-9]*)$/;

/**
 * Reads a shard's subdirectory name back.
 *
 * @param name A directory name.
 * @returns The shard, or `undefined` when the name is not `shard-<I>-of-<N>` with
 *   0 ≤ I < N ≤ 4096.
 *
 * @example
 * ```ts
 * import { parseShardDirectoryName } from "./shards.ts";
 * console.log(parseShardDirectoryName("shard-2-of-4")); // { index: 2, count: 4 }
 * console.log(parseShardDirectoryName("shard-4-of-4")); // undefined
 * ```
 */
export function parseShardDirectoryName(name: string): ShardSpec | undefined {
  const m = SHARD_NAME.exec(name);
  if (m === null) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count > MAX_SHARDS || index >= count) return undefined;
  return { index, count };
}

/**
 * The writer of a shard's subdirectory of a backup directory.
 *
 * @param storage The backup directory (local or a key prefix).
 * @param shard The shard.
 * @returns A writer of `<directory>/shard-<I>-of-<N>/` with the same options.
 * @throws {AerobakError} `CONFIG_INVALID` when the storage is a single file or stdout.
 */
export function shardWriter(storage: StorageWriter, shard: ShardSpec): StorageWriter {
  if (storage.kind !== "directory" || storage.subdirectory === undefined) {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid shard ${shard.index} of ${shard.count}: a sharded backup writes into a ` +
        `directory (or key prefix), not into ${storage.describe("")}`,
    );
  }
  return storage.subdirectory(shardDirectoryName(shard));
}
