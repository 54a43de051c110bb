/**
 * The ASBX binary format (`.asbx`) of backup-go XDR backups: file header, record encoder,
 * streaming decoder and file naming.
 *
 * @module
 */

export * from "./header.ts";
export * from "./encoder.ts";
export * from "./decoder.ts";
export * from "./file_name.ts";
