/**
 * Estimating how many records a backup will read (backup-go `record_counter.go`): from
 * info counts when the whole namespace is backed up, otherwise by counting one sampled
 * partition with a no-bins scan and scaling by the number of partitions.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { parseNamespaceStats } from "../aerospike/info.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import type { ScanOptions } from "../aerospike/policy.ts";
import { type InfoCommandOptions, infoParsed } from "./_info.ts";

/** Number of partitions of a namespace. */
const PARTITIONS = 4096;

/**
 * Counts the records of a namespace from info: Σ nodes `objects` ÷ the effective
 * replication factor.
 *
 * @param cluster The cluster.
 * @param namespace The namespace.
 * @param options Info options.
 * @returns The number of master records.
 */
export async function namespaceRecordCount(
  cluster: Cluster,
  namespace: string,
  options: InfoCommandOptions,
): Promise<number> {
  let objects = 0;
  let factor = 1;
  for (const node of cluster.nodes) {
    const stats = await infoParsed(
      cluster,
      `namespace/${namespace}`,
      { ...options, node: node.name },
      parseNamespaceStats,
    );
    objects += stats.objects;
    factor = Math.max(1, stats.effectiveReplicationFactor);
  }
  return Math.round(objects / factor);
}

/** What the estimate needs to know about the backup's scope. */
export interface RecordCountScope {
  /** Namespace. */
  namespace: string;
  /** Partition ids covered in all, 1..4096. */
  partitions: number;
  /** A partition id inside the scope, to sample. */
  samplePartition: number;
  /** Whether records are filtered beyond partitions (sets, expressions, times). */
  filtered: boolean;
  /** Scan settings (filter expression, sets are applied by `sets`). */
  scan: Omit<ScanOptions, "namespace" | "set" | "signal">;
  /** Sets scanned; empty = all. */
  sets: readonly string[];
}

/**
 * Estimates the records in a backup's scope.
 *
 * @param cluster The cluster.
 * @param scope What the backup covers.
 * @param options Info options (its signal also cancels the sample scan).
 * @returns The estimated number of records.
 */
export async function estimateRecordCount(
  cluster: Cluster,
  scope: RecordCountScope,
  options: InfoCommandOptions,
): Promise<number> {
  if (!scope.filtered) {
    const total = await namespaceRecordCount(cluster, scope.namespace, options);
    return Math.round((total * scope.partitions) / PARTITIONS);
  }
  let n = 0;
  const sets = scope.sets.length > 0 ? scope.sets : [""];
  for (const set of sets) {
    const scan: ScanOptions = {
      ...scope.scan,
      namespace: scope.namespace,
      noBins: true,
      signal: options.signal,
    };
    if (set !== "") scan.set = set;
    for await (const _ of cluster.scan(PartitionFilter.id(scope.samplePartition), scan)) n++;
  }
  return n * scope.partitions;
}
