/**
 * The 8-byte proto header that frames every Aerospike message, and the compressed
 * (type 4) envelope.
 *
 * @module
 */

import { deflateSync, inflateSync } from "node:zlib";
import { AerobakError } from "../errors.ts";
import type { ByteWriter } from "./byte_writer.ts";

/** Proto message types (byte 1 of the proto header). */
export const ProtoType = {
  INFO: 1,
  ADMIN: 2,
  MESSAGE: 3,
  COMPRESSED: 4,
} as const;

/** Proto version byte, always 2. */
export const PROTO_VERSION = 2;

/** Largest body size accepted (128 MiB, the server's `PROTO_SIZE_MAX`). */
export const MAX_PROTO_SIZE = 128 * 1024 * 1024;

/** Size of the proto header in bytes. */
export const PROTO_HEADER_SIZE = 8;

/** A decoded proto header. */
export interface ProtoHeader {
  /** Version byte (2). */
  version: number;
  /** Message type, one of {@linkcode ProtoType}. */
  type: number;
  /** Body size in bytes (what follows the 8 header bytes). */
  size: number;
}

/**
 * Writes a proto header into a buffer.
 *
 * @param buf Destination.
 * @param offset Where the 8 header bytes go.
 * @param type Message type.
 * @param bodySize Size of the body that follows.
 * @returns The offset after the header.
 */
export function writeProtoHeader(
  buf: Uint8Array,
  offset: number,
  type: number,
  bodySize: number,
): number {
  if (bodySize < 0 || bodySize > MAX_PROTO_SIZE) {
    throw new RangeError(`Cannot frame a body of ${bodySize} bytes: limit is ${MAX_PROTO_SIZE}`);
  }
  buf[offset] = PROTO_VERSION;
  buf[offset + 1] = type;
  // 48-bit size: the top 16 bits are always 0 below the 128 MiB cap.
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf[offset + 4] = (bodySize >>> 24) & 0xff;
  buf[offset + 5] = (bodySize >>> 16) & 0xff;
  buf[offset + 6] = (bodySize >>> 8) & 0xff;
  buf[offset + 7] = bodySize & 0xff;
  return offset + PROTO_HEADER_SIZE;
}

/**
 * Reads and checks a proto header.
 *
 * @param buf Source (at least 8 bytes from `offset`).
 * @param offset Where the header starts.
 * @returns The header.
 * @throws {AerobakError} `PROTO_INVALID` for a wrong version, unknown type or size above
 * {@linkcode MAX_PROTO_SIZE}.
 */
export function readProtoHeader(buf: Uint8Array, offset: number): ProtoHeader {
  if (offset + PROTO_HEADER_SIZE > buf.length) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Cannot read proto header at offset ${offset}: only ${buf.length - offset} bytes`,
    );
  }
  const version = buf[offset];
  const type = buf[offset + 1];
  const hi = (buf[offset + 2] << 8) | buf[offset + 3];
  const size = ((buf[offset + 4] << 24) >>> 0) + (buf[offset + 5] << 16) +
    (buf[offset + 6] << 8) + buf[offset + 7];
  if (version !== PROTO_VERSION) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Invalid proto header at offset ${offset}: version ${version}, expected 2`,
    );
  }
  if (type < 1 || type > 5) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Invalid proto header at offset ${offset}: unknown message type ${type}`,
    );
  }
  if (hi !== 0 || size > MAX_PROTO_SIZE) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Invalid proto header at offset ${offset}: body size ${
        hi * 2 ** 32 + size
      } exceeds ${MAX_PROTO_SIZE}`,
    );
  }
  return { version, type, size };
}

/**
 * Reserves a proto header at the writer's current position; call {@linkcode endProto}
 * once the body is written.
 *
 * @param w The writer.
 * @returns The offset of the header, for {@linkcode endProto}.
 */
export function beginProto(w: ByteWriter): number {
  return w.reserve(PROTO_HEADER_SIZE);
}

/**
 * Fills in a header reserved by {@linkcode beginProto} with the body size written since.
 *
 * @param w The writer.
 * @param start Offset returned by {@linkcode beginProto}.
 * @param type Message type.
 */
export function endProto(w: ByteWriter, start: number, type: number): void {
  writeProtoHeader(w.subarray(), start, type, w.length - start - PROTO_HEADER_SIZE);
}

/**
 * Inflates the body of a type-4 (compressed) message.
 *
 * @param body The type-4 body: u64 uncompressed size, then a zlib stream.
 * @returns The inner message, including its own 8-byte proto header.
 * @throws {AerobakError} `PROTO_INVALID` when the stream is corrupt or its size is wrong.
 */
export function decompressMessage(body: Uint8Array): Uint8Array {
  if (body.length < 8) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Invalid compressed message: body of ${body.length} bytes is shorter than 8`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const expected = view.getBigUint64(0);
  if (expected > BigInt(MAX_PROTO_SIZE + PROTO_HEADER_SIZE)) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Invalid compressed message: uncompressed size ${expected} exceeds ${MAX_PROTO_SIZE}`,
    );
  }
  let inner: Uint8Array;
  try {
    const out = inflateSync(body.subarray(8), {
      maxOutputLength: Number(expected) + 1,
    });
    inner = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (cause) {
    throw new AerobakError("PROTO_INVALID", "Invalid compressed message: zlib stream is corrupt", {
      cause,
    });
  }
  if (inner.length !== Number(expected)) {
    throw new AerobakError(
      "PROTO_INVALID",
      `Invalid compressed message: inflated to ${inner.length} bytes, header says ${expected}`,
    );
  }
  return inner;
}

/**
 * Wraps a whole message (proto header included) into a type-4 compressed message.
 *
 * @param message The message to compress, with its own proto header.
 * @param level zlib level. @default 1
 * @returns The whole type-4 message, proto header included.
 */
export function compressMessage(message: Uint8Array, level = 1): Uint8Array {
  const z = deflateSync(message, { level });
  const out = new Uint8Array(PROTO_HEADER_SIZE + 8 + z.length);
  writeProtoHeader(out, 0, ProtoType.COMPRESSED, 8 + z.length);
  new DataView(out.buffer).setBigUint64(PROTO_HEADER_SIZE, BigInt(message.length));
  out.set(z, PROTO_HEADER_SIZE + 8);
  return out;
}
