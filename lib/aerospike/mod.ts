/**
 * The Aerospike wire protocol: framing, AS_MSG records, particles, digests, info,
 * request encoders/decoders, msgpack and filter expressions. Pure functions, no I/O.
 *
 * @module
 */

export * from "./record.ts";
export * from "./byte_writer.ts";
export * from "./proto.ts";
export * from "./result_code.ts";
export * from "./message.ts";
export * from "./particle.ts";
export * from "./digest.ts";
export * from "./info.ts";
export * from "./requests.ts";
export * from "./msgpack.ts";
export * from "./expression.ts";
