/**
 * The ASBX binary format (`.asbx`) of backup-go's XDR backups: a 44-byte header, then
 * records of (digest, 48-bit length, raw XDR message). Encoder, streaming decoder, file
 * names and replay order.
 *
 * @module
 */

export * from "./header.ts";
export * from "./encoder.ts";
export * from "./decoder.ts";
export * from "./file_name.ts";
