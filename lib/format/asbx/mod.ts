/**
 * The ASBX binary format (`.asbx`) of backup-go XDR backups: header, record encoder and a
 * streaming decoder.
 *
 * @module
 */

export * from "./asbx.ts";
