/**
 * The messages of the XDR connector protocol as the backup process sees them: the AS_MSG
 * writes and deletes a source node ships, and the 30-byte acknowledgements it expects.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { MRT_MONITOR_SET } from "../aerospike/record.ts";
import {
  createMessageHeader,
  dataViewOf,
  FieldType,
  forEachField,
  Info1,
  MSG_HEADER_SIZE,
  readMessageHeader,
  readName,
} from "../aerospike/message.ts";
import { PROTO_HEADER_SIZE, ProtoType, writeProtoHeader } from "../aerospike/proto.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import type { ByteWriter } from "../aerospike/byte_writer.ts";
import {
  encodeDeleteRequest,
  encodePutRequest,
  type RecordLocator,
} from "../aerospike/requests.ts";

/** Result code of an ack that accepts a message. */
export const XDR_ACK_OK = 0;

/** Result code of an ack that asks the source to send the message again (11, retry). */
export const XDR_ACK_RETRY = 11;

/** Size of an ack: proto header + bare 22-byte AS_MSG header. */
export const XDR_ACK_SIZE: number = PROTO_HEADER_SIZE + MSG_HEADER_SIZE;

/**
 * Builds an ack exactly as backup-go does: proto `02 03 00 00 00 00 00 16`, then 22 zero
 * bytes except the result code at AS_MSG offset 5 (the header_sz byte is left 0).
 *
 * @param resultCode {@linkcode XDR_ACK_OK} or {@linkcode XDR_ACK_RETRY}.
 * @returns The 30 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeXdrAck } from "./message.ts";
 * assert.deepEqual([...encodeXdrAck(11).subarray(0, 14)], [2, 3, 0, 0, 0, 0, 0, 0x16, 0, 0, 0, 0, 0, 11]);
 * ```
 */
export function encodeXdrAck(resultCode: number): Uint8Array {
  const ack = new Uint8Array(XDR_ACK_SIZE);
  writeProtoHeader(ack, 0, ProtoType.MESSAGE, MSG_HEADER_SIZE);
  ack[PROTO_HEADER_SIZE + 5] = resultCode;
  return ack;
}

/** What the receiver needs from an XDR message. */
export interface XdrMessageInfo {
  /** Namespace field. */
  namespace: string;
  /** Set field, `""` when absent. */
  set: string;
  /** Offset of the 20-byte digest in the body. */
  digestOffset: number;
  /**
   * Offset of the KEY field's data (particle type byte, then the value) in the body, -1
   * when the record has no stored key. Decode it with `readUserKey` when needed: the
   * receiver does not, so a key type this codec does not know never makes the source
   * resend a message forever.
   */
  keyOffset: number;
  /** Length of the KEY field's data (0 without a key). */
  keyLength: number;
  /** info1 bits as received. */
  info1: number;
  /** info2 bits (WRITE, DELETE, DURABLE_DELETE). */
  info2: number;
}

const MRT_SET_BYTES = new TextEncoder().encode(MRT_MONITOR_SET);

function invalid(what: string, offset: number): AerobakError {
  return new AerobakError(
    "XDR_MESSAGE_INVALID",
    `Invalid XDR message: ${what} at byte offset ${offset}`,
    { location: { offset } },
  );
}

/** Re-codes a codec error (whose message already names the offset). */
function wrapped(err: unknown): AerobakError {
  if (err instanceof AerobakError && err.code === "XDR_MESSAGE_INVALID") return err;
  const offset = err instanceof AerobakError ? err.location?.offset : undefined;
  return new AerobakError("XDR_MESSAGE_INVALID", `Invalid XDR message: ${(err as Error).message}`, {
    cause: err,
    location: offset === undefined ? undefined : { offset },
  });
}

/**
 * Parses the header and fields of a shipped message (the ops stay opaque: they are stored
 * as shipped and replayed as they are).
 *
 * @param body The AS_MSG (what follows the proto header).
 * @returns Namespace, set, digest and key positions, info bits.
 * @throws {AerobakError} `XDR_MESSAGE_INVALID` (offsets relative to the body) for a short
 *   header, a field overrunning the body, a missing namespace or digest, or a digest that
 *   is not 20 bytes.
 */
export function parseXdrMessage(body: Uint8Array): XdrMessageInfo {
  const view = dataViewOf(body);
  try {
    readMessageHeader(view, 0, header);
    fields.body = body;
    fields.namespace = undefined;
    fields.set = "";
    fields.digestOffset = -1;
    fields.keyOffset = -1;
    fields.keyLength = 0;
    forEachField(view, body, body[0], header.nFields, onField);
  } catch (err) {
    throw wrapped(err);
  } finally {
    fields.body = EMPTY;
  }
  const { namespace, digestOffset } = fields;
  if (namespace === undefined) throw invalid("no namespace field", MSG_HEADER_SIZE);
  if (digestOffset < 0) throw invalid("no digest field", MSG_HEADER_SIZE);
  return {
    namespace,
    set: fields.set,
    digestOffset,
    keyOffset: fields.keyOffset,
    keyLength: fields.keyLength,
    info1: header.info1,
    info2: header.info2,
  };
}

// What parseXdrMessage's field walk found: module state and one callback made once, so a
// message costs no closure or header object (parsing is synchronous, never reentrant).
const EMPTY: Uint8Array = new Uint8Array(0);
const header = createMessageHeader();
const fields = {
  body: EMPTY,
  namespace: undefined as string | undefined,
  set: "",
  digestOffset: -1,
  keyOffset: -1,
  keyLength: 0,
};

function onField(type: number, at: number, len: number): void {
  const body = fields.body;
  switch (type) {
    case FieldType.NAMESPACE:
      if (len === 0) throw invalid("empty namespace field", at);
      fields.namespace = readName(body, at, len);
      break;
    case FieldType.SET:
      fields.set = isMrtSet(body, at, len) ? MRT_MONITOR_SET : readName(body, at, len);
      break;
    case FieldType.DIGEST:
      if (len !== 20) throw invalid(`digest field of ${len} bytes`, at);
      fields.digestOffset = at;
      break;
    case FieldType.KEY:
      fields.keyOffset = at;
      fields.keyLength = len;
      break;
  }
}

function isMrtSet(body: Uint8Array, at: number, len: number): boolean {
  if (len !== MRT_SET_BYTES.length) return false;
  for (let i = 0; i < len; i++) if (body[at + i] !== MRT_SET_BYTES[i]) return false;
  return true;
}

/**
 * Builds the stored form of a message: proto header + body, with the XDR bit of info1
 * cleared (so a replay is an ordinary client write).
 *
 * @param body The AS_MSG as received.
 * @returns A new buffer owning the payload.
 */
export function xdrPayload(body: Uint8Array): Uint8Array {
  const payload = new Uint8Array(PROTO_HEADER_SIZE + body.length);
  writeProtoHeader(payload, 0, ProtoType.MESSAGE, body.length);
  payload.set(body, PROTO_HEADER_SIZE);
  payload[PROTO_HEADER_SIZE + 1] &= ~Info1.XDR;
  return payload;
}

/** Options of {@linkcode encodeXdrWrite}. */
export interface XdrWriteOptions {
  /** TTL in seconds to ship; -1 never expires. @default -1 */
  ttl?: number;
}

// Offsets in a whole message (proto header included).
const INFO1_AT = PROTO_HEADER_SIZE + 1;
const GENERATION_AT = PROTO_HEADER_SIZE + 6;

/**
 * Encodes a record as an XDR connector ships it (the source side, used by the emulator):
 * a write with info1 XDR and info2 WRITE, the record's generation, fields NAMESPACE, SET,
 * DIGEST, [KEY] and one WRITE op per bin; the layout of asbx-format.md §3's example.
 *
 * @param record The record as stored on the source.
 * @param options TTL to ship.
 * @param w Writer to reuse; the result aliases it.
 * @returns The whole message, proto header included.
 */
export function encodeXdrWrite(
  record: AerospikeRecord,
  options: XdrWriteOptions = {},
  w?: ByteWriter,
): Uint8Array {
  const msg = encodePutRequest(
    { record, ttl: options.ttl ?? -1, policy: { sendKey: true } },
    w,
  );
  msg[INFO1_AT] |= Info1.XDR;
  dataViewOf(msg).setUint32(GENERATION_AT, record.generation);
  return msg;
}

/** Options of {@linkcode encodeXdrDelete}. */
export interface XdrDeleteOptions {
  /**
   * Generation to ship: the tombstone's, i.e. the deleted record's + 1. A real source
   * ships a generation with deletes (the connector formats carry `gen` on delete
   * messages; the + 1 is inferred), which lets a replay under `expectGenGreater` beat the
   * versions restored before it. @default 0
   */
  generation?: number;
}

/**
 * Encodes a delete as an XDR connector ships it: info1 XDR, info2 WRITE|DELETE, the
 * tombstone's generation, fields NAMESPACE, SET, DIGEST.
 *
 * @param record Namespace, set and digest of the deleted record.
 * @param options Generation to ship.
 * @param w Writer to reuse; the result aliases it.
 * @returns The whole message, proto header included.
 */
export function encodeXdrDelete(
  record: RecordLocator,
  options: XdrDeleteOptions = {},
  w?: ByteWriter,
): Uint8Array {
  const msg = encodeDeleteRequest(
    { namespace: record.namespace, set: record.set, digest: record.digest },
    w,
  );
  msg[INFO1_AT] |= Info1.XDR;
  dataViewOf(msg).setUint32(GENERATION_AT, options.generation ?? 0);
  return msg;
}

/**
 * Reads an ack (or any bare reply) and returns its result code.
 *
 * @param message The 30 bytes of an ack, proto header included.
 * @returns The result code (AS_MSG byte 5).
 * @throws {AerobakError} `XDR_MESSAGE_INVALID` when it is not a 30-byte type-3 message.
 */
export function readXdrAck(message: Uint8Array): number {
  if (
    message.length !== XDR_ACK_SIZE || message[0] !== 2 || message[1] !== ProtoType.MESSAGE ||
    message[7] !== MSG_HEADER_SIZE
  ) {
    throw invalid(`ack of ${message.length} bytes is not a bare type-3 reply`, 0);
  }
  return message[PROTO_HEADER_SIZE + 5];
}
