/**
 * Backup file I/O: ZSTD compression, AES-CTR encryption compatible with the C and Go tools,
 * local and standard-stream storage, and the per-file write and read chains the jobs use.
 *
 * @module
 */

export * from "./compression.ts";
export * from "./encryption.ts";
export * from "./encryption_key.ts";
export * from "./file_chain.ts";
export * from "./header_check.ts";
export * from "./local_reader.ts";
export * from "./local_writer.ts";
export * from "./std_storage.ts";
export * from "./storage.ts";
