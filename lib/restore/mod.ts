/**
 * Restore jobs: configuration, processors, writers, metadata restore and statistics; the
 * check of a backup against its manifest, the verify against a live cluster, and the
 * state of a resumable restore.
 *
 * @module
 */

export * from "./config.ts";
export * from "./manifest_check.ts";
export * from "./state.ts";
export * from "./verify.ts";
export * from "./restore.ts";
export * from "./metadata.ts";
export * from "./processors.ts";
export * from "./record_writer.ts";
export * from "./shards.ts";
export * from "./stats.ts";
export * from "./write_result.ts";
