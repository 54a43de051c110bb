/**
 * The Aerospike wire protocol: framing, AS_MSG records, particles, digests, info,
 * request encoders/decoders, msgpack and filter expressions (pure functions, no I/O); and
 * the client built on them: connections (TCP, TLS), pools, authentication, the cluster
 * with its tend and partition map, partition scans with resumable cursors, writes, batch
 * writes and batch reads.
 *
 * @module
 */

export * from "./record.ts";
export * from "./byte_writer.ts";
export * from "./proto.ts";
export * from "./result_code.ts";
export * from "./message.ts";
export * from "./record_view.ts";
export * from "./particle.ts";
export * from "./digest.ts";
export * from "./info.ts";
export * from "./requests.ts";
export * from "./msgpack.ts";
export * from "./expression.ts";
export * from "./host.ts";
export type { Transport } from "./_transport.ts";
export * from "./tls.ts";
export * from "./frame_reader.ts";
export * from "./connection.ts";
export * from "./pool.ts";
export * from "./auth.ts";
export * from "./info_client.ts";
export * from "./node.ts";
export * from "./policy.ts";
export * from "./partition_map.ts";
export * from "./partition_filter.ts";
export * from "./partition_tracker.ts";
export * from "./scan.ts";
export * from "./write.ts";
export * from "./batch.ts";
export * from "./batch_read.ts";
export * from "./payload_rows.ts";
export * from "./row_arena.ts";
export * from "./cluster.ts";
