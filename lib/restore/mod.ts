/**
 * Restore jobs: configuration, processors, writers, metadata restore and statistics.
 *
 * @module
 */

export * from "./config.ts";
export * from "./restore.ts";
export * from "./metadata.ts";
export * from "./processors.ts";
export * from "./record_writer.ts";
export * from "./shards.ts";
export * from "./stats.ts";
export * from "./write_result.ts";
