/**
 * Backup jobs: configuration, partition filters, the job itself, its files, its manifest
 * (`readManifest`, {@linkcode BackupManifest}), state file and statistics.
 *
 * @module
 */

export * from "./config.ts";
export * from "./partition_spec.ts";
export * from "./backup.ts";
export * from "./estimate.ts";
export * from "./file_writer.ts";
export * from "./manifest.ts";
export * from "./metadata.ts";
export type { InfoCommandOptions } from "./_info.ts";
export * from "./node_partitions.ts";
export * from "./record_count.ts";
export * from "./record_reader.ts";
export * from "./scan_filter.ts";
export * from "./shards.ts";
export * from "./state.ts";
export * from "./stats.ts";
