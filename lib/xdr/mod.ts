/**
 * XDR backup: the receiver XDR ships records to, the info commands that drive XDR on the
 * source cluster, the backup job that writes ASBX files, and the ASBX restore that replays
 * them.
 *
 * @module
 */

export * from "./message.ts";
export * from "./receiver.ts";
export * from "./commands.ts";
export * from "./controller.ts";
export * from "./config.ts";
export * from "./asbx_file_sink.ts";
export * from "./backup_xdr.ts";
export * from "./replay.ts";
export * from "./asbx_restore.ts";
