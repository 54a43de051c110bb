/**
 * aerobak: back up and restore Aerospike databases from Deno.
 *
 * The library speaks the Aerospike wire protocol itself, writes and reads the ASB and
 * ASBX backup formats of the Go and C tools byte for byte, and runs backup and restore
 * jobs that return a handle at once.
 *
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/aerospike/record.ts";
