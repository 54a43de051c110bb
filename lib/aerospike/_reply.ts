/**
 * Shared handling of AS_MSG reply frames: unwraps compressed (type 4) frames, refuses
 * other types, and turns codec errors into errors naming the node and command.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { Connection, Frame } from "./connection.ts";
import { decompressMessage, PROTO_HEADER_SIZE, ProtoType, readProtoHeader } from "./proto.ts";

/**
 * The AS_MSG bytes of a reply frame.
 *
 * @param conn The connection it came from (closed on error).
 * @param frame The frame.
 * @returns The body holding one or more AS_MSGs.
 * @throws {AerobakError} `PROTO_INVALID` for another type or a corrupt compressed frame.
 */
export function messageBody(conn: Connection, frame: Frame): Uint8Array {
  if (frame.type === ProtoType.MESSAGE) return frame.body;
  if (frame.type !== ProtoType.COMPRESSED) {
    throw conn.error("PROTO_INVALID", `reply has proto type ${frame.type}, expected 3`);
  }
  try {
    const inner = decompressMessage(frame.body);
    const h = readProtoHeader(inner, 0);
    if (h.type !== ProtoType.MESSAGE || h.size !== inner.length - PROTO_HEADER_SIZE) {
      throw new Error(`inner message has type ${h.type} and size ${h.size} of ${inner.length - 8}`);
    }
    return inner.subarray(PROTO_HEADER_SIZE);
  } catch (err) {
    throw conn.error("PROTO_INVALID", `invalid compressed reply: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Re-throws a codec error (`MESSAGE_INVALID` and the like) as an error naming node and
 * command; other errors pass through unchanged.
 *
 * @param conn The connection (closed).
 * @param err The caught error.
 * @returns The error to throw.
 */
export function replyError(conn: Connection, err: unknown): unknown {
  if (err instanceof AerobakError && err.node === undefined) {
    return conn.error(err.code, `invalid reply: ${err.message}`, { cause: err });
  }
  conn.close();
  return err;
}

/**
 * Marks a transport error of a write as in doubt (the server may have applied it).
 *
 * @param err The caught error.
 * @returns The error to throw.
 */
export function inDoubt(err: unknown): unknown {
  if (!(err instanceof AerobakError) || err.inDoubt) return err;
  if (
    err.code === "PARTITION_UNAVAILABLE" || err.code === "NO_CONNECTIONS" ||
    err.code.startsWith("CONNECT_") || err.code === "AUTH_FAILED"
  ) {
    return err; // Nothing was sent.
  }
  return new AerobakError(err.code, err.message, {
    cause: err.cause,
    node: err.node,
    record: err.record,
    resultCode: err.resultCode,
    retriable: err.retriable,
    inDoubt: true,
  });
}
