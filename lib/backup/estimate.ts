/**
 * Backup size estimate (backup-go estimate mode): sample records, encode them as the
 * backup would, measure the mean size and the compression ratio, scale by the record count.
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import type { Cluster } from "../aerospike/cluster.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import { AsbEncoder } from "../format/asb/encoder.ts";
import { createCompressStream } from "../io/compression.ts";
import { ENCRYPTION_HEADER_SIZE } from "../io/encryption.ts";
import { type InfoCommandOptions, requireNamespace } from "./_info.ts";
import type { BackupConfig } from "./config.ts";
import { namespaceRecordCount } from "./record_count.ts";

/** The result of {@linkcode estimateBackup}. */
export interface Estimate {
  /** Records in the namespace (from info counts). */
  records: number;
  /** Records sampled. */
  sampledRecords: number;
  /** Mean encoded size of a sampled record in bytes. */
  meanRecordSize: number;
  /** Encoded ÷ compressed size of the sample (1 without compression). */
  compressionRatio: number;
  /** Estimated size of the backup files in bytes. */
  bytes: number;
}

/** Options of {@linkcode estimateBackup}. */
export interface EstimateOptions {
  /**
   * Records to sample.
   *
   * @default {10000}
   */
  samples?: number;
  /** Cancels the sampling scan. */
  signal?: AbortSignal;
}

/**
 * Estimates the size a backup of the namespace would take.
 *
 * @param cluster The cluster.
 * @param config The backup configuration (namespace, compact, compression, encryption).
 * @param options Sample size and cancel signal.
 * @returns The estimate.
 */
export async function estimateBackup(
  cluster: Cluster,
  config: Readonly<BackupConfig>,
  options: EstimateOptions = {},
): Promise<Estimate> {
  const info: InfoCommandOptions = {
    retry: config.infoRetryPolicy,
    timeoutMs: config.infoPolicy.timeoutMs,
    signal: options.signal,
  };
  // Fail early and clearly on an unknown namespace.
  await requireNamespace(cluster, config.namespace, info);
  const records = await namespaceRecordCount(cluster, config.namespace, info);
  const samples = options.samples ?? 10000;
  const encoder = new AsbEncoder({ compact: config.compact });
  const w = new ByteWriter(1 << 16);
  const header = encoder.header(config.namespace, { firstFile: true });
  let sampled = 0;
  for await (
    const record of cluster.scan(PartitionFilter.all(), {
      namespace: config.namespace,
      maxRecords: samples,
      signal: options.signal,
    })
  ) {
    encoder.encodeRecord(w, record);
    if (++sampled >= samples) break;
  }
  const encoded = w.subarray();
  const mean = sampled === 0 ? 0 : encoded.length / sampled;
  let ratio = 1;
  if (config.compression.mode !== "NONE" && encoded.length > 0) {
    const compressed = await new Response(
      new Blob([encoded.slice()]).stream().pipeThrough(createCompressStream(config.compression)),
    ).arrayBuffer();
    ratio = encoded.length / Math.max(1, compressed.byteLength);
  }
  const files = Math.max(1, config.parallelWrite);
  const perFile = header.length + (config.encryption.mode === "NONE" ? 0 : ENCRYPTION_HEADER_SIZE);
  return {
    records,
    sampledRecords: sampled,
    meanRecordSize: mean,
    compressionRatio: ratio,
    bytes: Math.round((records * mean) / ratio + files * perFile),
  };
}
