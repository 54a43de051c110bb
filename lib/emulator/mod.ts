/**
 * An in-memory Aerospike-compatible cluster for tests, demos and benchmarks: 1..N nodes
 * on loopback ports that the official clients accept, answering info commands, reads,
 * writes, batches and partition scans as an Aerospike 8.1 server does, with a clock and
 * faults the caller controls.
 *
 * @example
 * ```ts
 * import { startEmulator } from "@aerobak/backup/emulator";
 * await using emu = await startEmulator({ nodes: 3 });
 * console.log(emu.seeds);
 * ```
 *
 * @module
 */

export * from "./clock.ts";
export * from "./cluster.ts";
export * from "./cluster_metadata.ts";
export * from "./emulator.ts";
export * from "./faults.ts";
export type { PartitionLayout } from "./partition_layout.ts";
export * from "./record_store.ts";
export * from "./scan_tasks.ts";
export {
  mangleReplies,
  type ReplyContext,
  type ReplyDamage,
  type ReplyKind,
  type ReplyMangler,
} from "./reply_mangler.ts";
export * from "./xdr.ts";
