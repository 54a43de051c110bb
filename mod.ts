/**
 * aerobak: back up and restore Aerospike databases from Deno.
 *
 * The library speaks the Aerospike wire protocol itself, writes and reads the ASB and
 * ASBX backup formats of the Go and C tools byte for byte, and runs backup and restore
 * jobs that return a handle at once.
 *
 * @example Back up a namespace into a directory
 * ```ts ignore
 * import { BackupClient, Cluster, DirectoryWriter } from "@aerobak/backup";
 *
 * await using cluster = await Cluster.connect({ hosts: "127.0.0.1:3000" });
 * const client = new BackupClient(cluster);
 * const handle = client.backup({ namespace: "test" }, new DirectoryWriter("./backup"));
 * const stats = await handle.wait();
 * console.log(`${stats.recordsRead} records in ${stats.filesWritten} files`);
 * ```
 *
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/policy.ts";
export * from "./lib/aerospike/mod.ts";
export * from "./lib/format/asb/mod.ts";
export * from "./lib/format/asbx/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/secret_agent/mod.ts";
export * from "./lib/pipeline/mod.ts";
export * from "./lib/backup/mod.ts";
export * from "./lib/restore/mod.ts";
export * from "./lib/xdr/mod.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/client.ts";
