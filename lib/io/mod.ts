/**
 * Backup file I/O: ZSTD compression, AES-CTR encryption compatible with the C and Go tools,
 * local, standard-stream and cloud object storage (AWS S3, Google Cloud Storage, Azure Blob),
 * the per-file write and read chains the jobs use, and the size-limited rolling file writer
 * of the backup sinks.
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
export * from "./object_store.ts";
export * from "./cloud/azure.ts";
export * from "./cloud/gcs.ts";
export * from "./cloud/s3.ts";
export * from "./rolling_file.ts";
export * from "./std_storage.ts";
export * from "./storage.ts";
