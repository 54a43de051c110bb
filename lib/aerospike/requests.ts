/**
 * Whole-request encoders (proto header included) for scans, single-record commands,
 * batch writes/reads and login, plus the decoders the emulator uses to read them.
 *
 * Every encoder takes an optional caller-owned {@linkcode ByteWriter}: it is reset,
 * written, and the returned bytes are a view of it, valid until the writer is used again.
 * Without a writer a fresh buffer is used.
 *
 * @module
 */

import bcrypt from "bcryptjs";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import {
  dataViewOf,
  FieldType,
  forEachField,
  forEachOp,
  Info1,
  Info2,
  Info3,
  type MessageHeader,
  MSG_HEADER_SIZE,
  OpType,
  readMessageHeader,
  readName,
  writeBinOp,
  writeField,
  writeMessageHeader,
  writeReadOp,
  writeStringField,
  writeU32Field,
  writeU64Field,
} from "./message.ts";
import { readParticle, readUserKey, userKeySize, writeUserKey } from "./particle.ts";
import { beginProto, endProto, PROTO_HEADER_SIZE, ProtoType, writeProtoHeader } from "./proto.ts";
import type { AerospikeRecord, Bin, UserKey } from "./record.ts";

function start(w: ByteWriter | undefined): ByteWriter {
  const out = w ?? new ByteWriter(512);
  out.reset();
  return out;
}

function invalid(message: string, offset?: number): AerobakError {
  return new AerobakError(
    "MESSAGE_INVALID",
    offset === undefined ? message : `${message} at byte offset ${offset}`,
    offset === undefined ? {} : { location: { offset } },
  );
}

/** TTL value meaning "never expire" in write requests. */
export const TTL_NEVER_EXPIRE: -1 = -1;
/** TTL value meaning "keep the record's TTL" in write requests. */
export const TTL_DONT_UPDATE: -2 = -2;
/** TTL value meaning "namespace default" in write requests. */
export const TTL_NAMESPACE_DEFAULT = 0;

// ---------------------------------------------------------------------------------------
// Scans

/** A partition scan request to one node. */
export interface ScanRequest {
  /** Namespace. */
  namespace: string;
  /** Set; absent or `""` scans the whole namespace. */
  set?: string;
  /**
   * Bins to return.
   *
   * @default {all}
   */
  binNames?: readonly string[];
  /**
   * Return metadata only.
   *
   * @default {false}
   */
  noBins?: boolean;
  /**
   * Partitions to scan from their beginning (PID_ARRAY).
   *
   * @default {[]}
   */
  partitions?: readonly number[];
  /**
   * Digests to resume after, one per partition (DIGEST_ARRAY).
   *
   * @default {[]}
   */
  digests?: readonly Uint8Array[];
  /** Task id, random and non-zero per scan. */
  taskId: bigint;
  /**
   * Server-side socket idle timeout in ms.
   *
   * @default {10000}
   */
  socketTimeoutMs?: number;
  /**
   * Total timeout in ms (transaction_ttl).
   *
   * @default {0}
   */
  totalTimeoutMs?: number;
  /**
   * Server-side throttle, records per second; 0 = none.
   *
   * @default {0}
   */
  recordsPerSecond?: number;
  /**
   * Maximum records this node returns (pagination); 0 = no limit.
   *
   * @default {0}
   */
  maxRecords?: number | bigint;
  /** Filter expression bytes (field 43). */
  filterExpression?: Uint8Array;
  /**
   * record_ttl of the header: the C and Node clients send 0xFFFFFFFF.
   *
   * @default {0xFFFFFFFF}
   */
  recordTtl?: number;
}

/**
 * Encodes a partition scan request (fields in the C client's order).
 *
 * @param req The scan.
 * @param w Writer to reuse.
 * @returns The whole message.
 */
export function encodeScanRequest(req: ScanRequest, w?: ByteWriter): Uint8Array {
  const out = start(w);
  const partitions = req.partitions ?? [];
  const digests = req.digests ?? [];
  const hasSet = req.set !== undefined && req.set !== "";
  const rps = req.recordsPerSecond ?? 0;
  const maxRecords = BigInt(req.maxRecords ?? 0);
  const nFields = 3 + (hasSet ? 1 : 0) + (rps > 0 ? 1 : 0) + (req.filterExpression ? 1 : 0) +
    (partitions.length > 0 ? 1 : 0) + (digests.length > 0 ? 1 : 0) + (maxRecords > 0n ? 1 : 0);
  const binNames = req.noBins ? [] : req.binNames ?? [];
  const p = beginProto(out);
  writeMessageHeader(out, {
    info1: Info1.READ | (req.noBins ? Info1.GET_NOBINDATA : 0),
    info2: 0,
    info3: Info3.PARTITION_DONE,
    info4: 0,
    resultCode: 0,
    generation: 0,
    recordTtl: req.recordTtl ?? 0xffffffff,
    transactionTtl: req.totalTimeoutMs ?? 0,
    nFields,
    nOps: binNames.length,
  });
  writeStringField(out, FieldType.NAMESPACE, req.namespace);
  if (hasSet) writeStringField(out, FieldType.SET, req.set!);
  if (rps > 0) writeU32Field(out, FieldType.RECORDS_PER_SECOND, rps);
  writeU32Field(out, FieldType.SOCKET_TIMEOUT, req.socketTimeoutMs ?? 10000);
  writeU64Field(out, FieldType.TASK_ID, req.taskId);
  if (req.filterExpression) writeField(out, FieldType.FILTER_EXP, req.filterExpression);
  if (partitions.length > 0) {
    out.u32(1 + 2 * partitions.length);
    out.u8(FieldType.PID_ARRAY);
    for (const pid of partitions) out.u16le(pid);
  }
  if (digests.length > 0) {
    out.u32(1 + 20 * digests.length);
    out.u8(FieldType.DIGEST_ARRAY);
    for (const d of digests) {
      if (d.length !== 20) {
        throw new RangeError(`Cannot resume after a digest of ${d.length} bytes`);
      }
      out.bytes(d);
    }
  }
  if (maxRecords > 0n) writeU64Field(out, FieldType.MAX_RECORDS, maxRecords);
  for (const name of binNames) writeReadOp(out, name);
  endProto(out, p, ProtoType.MESSAGE);
  return out.subarray();
}

/** A generic decoded request: header, fields (views into the body) and ops. */
export interface RequestMessage {
  /** The AS_MSG header. */
  header: MessageHeader;
  /** Field type → data (a view aliasing the body). */
  fields: Map<number, Uint8Array>;
  /** Ops, in order; values copied. */
  ops: RequestOp[];
}

/** An op of a decoded request. */
export interface RequestOp {
  /** Op type. */
  opType: number;
  /** The bin (value-less ops give a NULL bin). */
  bin: Bin;
}

/**
 * Decodes any single AS_MSG request.
 *
 * @param body The message body (what follows the proto header).
 * @returns Header, fields and ops.
 * @throws {AerobakError} `MESSAGE_INVALID` when malformed.
 */
export function decodeRequest(body: Uint8Array): RequestMessage {
  const view = dataViewOf(body);
  const header = readMessageHeader(view, 0);
  const fields = new Map<number, Uint8Array>();
  let off = forEachField(view, body, view.getUint8(0), header.nFields, (type, at, len) => {
    fields.set(type, body.subarray(at, at + len));
  });
  const ops: RequestOp[] = [];
  off = forEachOp(view, body, off, header.nOps, (op) => {
    const name = readName(body, op.nameOffset, op.nameLength);
    ops.push({
      opType: op.opType,
      bin: readParticle(body, view, op.valueOffset, op.valueLength, op.particleType, name),
    });
  });
  if (off !== body.length) invalidTrailing(off, body.length);
  return { header, fields, ops };
}

function invalidTrailing(off: number, length: number): never {
  throw invalid(`Unexpected ${length - off} bytes after the message`, off);
}

const utf8 = new TextDecoder();

function requireField(m: RequestMessage, type: number, what: string): Uint8Array {
  const f = m.fields.get(type);
  if (f === undefined) throw invalid(`Request has no ${what} field`);
  return f;
}

/**
 * Decodes a scan request (emulator side).
 *
 * @param body The message body.
 * @returns The header and the scan.
 * @throws {AerobakError} `MESSAGE_INVALID` when malformed.
 */
export function decodeScanRequest(body: Uint8Array): { header: MessageHeader; scan: ScanRequest } {
  const m = decodeRequest(body);
  const f = (t: number) => m.fields.get(t);
  const u32 = (b: Uint8Array | undefined) => b && b.length === 4 ? dataViewOf(b).getUint32(0) : 0;
  const scan: ScanRequest = {
    namespace: utf8.decode(requireField(m, FieldType.NAMESPACE, "namespace")),
    taskId: 0n,
    recordTtl: m.header.recordTtl,
    totalTimeoutMs: m.header.transactionTtl,
    socketTimeoutMs: u32(f(FieldType.SOCKET_TIMEOUT)),
    noBins: (m.header.info1 & Info1.GET_NOBINDATA) !== 0,
  };
  const set = f(FieldType.SET);
  if (set) scan.set = utf8.decode(set);
  const task = f(FieldType.TASK_ID);
  if (task && task.length === 8) scan.taskId = dataViewOf(task).getBigUint64(0);
  const rps = f(FieldType.RECORDS_PER_SECOND);
  if (rps) scan.recordsPerSecond = u32(rps);
  const exp = f(FieldType.FILTER_EXP);
  if (exp) scan.filterExpression = exp.slice();
  const pids = f(FieldType.PID_ARRAY);
  if (pids) {
    if (pids.length % 2 !== 0) throw invalid(`Invalid PID_ARRAY of ${pids.length} bytes`);
    const v = dataViewOf(pids);
    scan.partitions = Array.from({ length: pids.length / 2 }, (_, i) => v.getUint16(2 * i, true));
  }
  const digests = f(FieldType.DIGEST_ARRAY);
  if (digests) {
    if (digests.length % 20 !== 0) {
      throw invalid(`Invalid DIGEST_ARRAY of ${digests.length} bytes`);
    }
    scan.digests = Array.from(
      { length: digests.length / 20 },
      (_, i) => digests.slice(20 * i, 20 * i + 20),
    );
  }
  const max = f(FieldType.MAX_RECORDS);
  if (max && max.length === 8) scan.maxRecords = dataViewOf(max).getBigUint64(0);
  if (m.ops.length > 0) scan.binNames = m.ops.map((o) => o.bin.name);
  return { header: m.header, scan };
}

// ---------------------------------------------------------------------------------------
// Single-record commands

/**
 * Write policy bits. Field names match the client's `WritePolicy`, so it can be passed
 * as is.
 */
export interface WriteRequestPolicy {
  /**
   * What to do when the record exists.
   *
   * @default {"update"}
   */
  recordExistsAction?: "update" | "updateOnly" | "replace" | "replaceOnly" | "createOnly";
  /**
   * Generation check against the record's `generation`.
   *
   * @default {"none"}
   */
  generationPolicy?: "none" | "expectGenEqual" | "expectGenGreater";
  /**
   * Send the user key (when the record has one).
   *
   * @default {true}
   */
  sendKey?: boolean;
  /**
   * Total timeout in ms (transaction_ttl).
   *
   * @default {0}
   */
  totalTimeoutMs?: number;
  /**
   * Leave a tombstone (enterprise).
   *
   * @default {false}
   */
  durableDelete?: boolean;
}

/** info2/info3 bits of a write under a policy. */
export interface WriteBits {
  /** info2 bits. */
  info2: number;
  /** info3 bits. */
  info3: number;
  /** Whether the header's generation must carry the record generation. */
  useGeneration: boolean;
}

/**
 * The header bits of a write under a policy (wire-protocol.md §7).
 *
 * @param policy The policy.
 * @returns info2 (WRITE included), info3 and whether generation is sent.
 * @throws {TypeError} For an unknown action or generation policy.
 */
export function writeBits(policy: WriteRequestPolicy = {}): WriteBits {
  let info2 = Info2.WRITE;
  let info3 = 0;
  switch (policy.recordExistsAction ?? "update") {
    case "update":
      break;
    case "updateOnly":
      info3 |= Info3.UPDATE_ONLY;
      break;
    case "replace":
      info3 |= Info3.CREATE_OR_REPLACE;
      break;
    case "replaceOnly":
      info3 |= Info3.REPLACE_ONLY;
      break;
    case "createOnly":
      info2 |= Info2.CREATE_ONLY;
      break;
    default:
      throw new TypeError(`Unknown recordExistsAction "${policy.recordExistsAction}"`);
  }
  let useGeneration = false;
  switch (policy.generationPolicy ?? "none") {
    case "none":
      break;
    case "expectGenEqual":
      info2 |= Info2.GENERATION;
      useGeneration = true;
      break;
    case "expectGenGreater":
      info2 |= Info2.GENERATION_GT;
      useGeneration = true;
      break;
    default:
      throw new TypeError(`Unknown generationPolicy "${policy.generationPolicy}"`);
  }
  if (policy.durableDelete) info2 |= Info2.DURABLE_DELETE;
  return { info2, info3, useGeneration };
}

/** A single-record write. */
export interface PutRequest {
  /** The record (its digest is used as is, never recomputed). */
  record: AerospikeRecord;
  /** TTL in seconds; -1 never expire, -2 keep, 0 namespace default. */
  ttl: number;
  /** Policy. */
  policy?: WriteRequestPolicy;
}

function writeKeyField(w: ByteWriter, key: UserKey): void {
  w.u32(1 + userKeySize(key));
  w.u8(FieldType.KEY);
  writeUserKey(w, key);
}

/**
 * Encodes a single-record write: fields NAMESPACE, SET (always, possibly empty), DIGEST,
 * [KEY], one WRITE op per bin.
 *
 * @param req The write.
 * @param w Writer to reuse.
 * @returns The whole message.
 */
export function encodePutRequest(req: PutRequest, w?: ByteWriter): Uint8Array {
  const out = start(w);
  const { record } = req;
  const policy = req.policy ?? {};
  const bits = writeBits(policy);
  const withKey = (policy.sendKey ?? true) && record.key !== undefined;
  const p = beginProto(out);
  writeMessageHeader(out, {
    info1: 0,
    info2: bits.info2,
    info3: bits.info3,
    info4: 0,
    resultCode: 0,
    generation: bits.useGeneration ? record.generation : 0,
    recordTtl: req.ttl,
    transactionTtl: policy.totalTimeoutMs ?? 0,
    nFields: withKey ? 4 : 3,
    nOps: record.bins.length,
  });
  writeLocatorFields(out, record);
  if (withKey) writeKeyField(out, record.key!);
  for (const bin of record.bins) writeBinOp(out, OpType.WRITE, bin);
  endProto(out, p, ProtoType.MESSAGE);
  return out.subarray();
}

/** Identifies one record. */
export interface RecordLocator {
  /** Namespace. */
  namespace: string;
  /** Set, `""` for none. */
  set: string;
  /** Digest. */
  digest: Uint8Array;
}

/** A single-record read. */
export interface ReadRequest extends RecordLocator {
  /**
   * Bins to read.
   *
   * @default {all}
   */
  binNames?: readonly string[];
  /**
   * Total timeout in ms.
   *
   * @default {0}
   */
  totalTimeoutMs?: number;
}

/**
 * Encodes a single-record read (NAMESPACE, SET, DIGEST; READ ops for selected bins).
 *
 * @param req The read.
 * @param w Writer to reuse.
 * @returns The whole message.
 */
export function encodeReadRequest(req: ReadRequest, w?: ByteWriter): Uint8Array {
  const out = start(w);
  const bins = req.binNames ?? [];
  const p = beginProto(out);
  writeReplyHeader(out, {
    info1: Info1.READ | (bins.length === 0 ? Info1.GET_ALL : 0),
    transactionTtl: req.totalTimeoutMs ?? 0,
    nFields: 3,
    nOps: bins.length,
  });
  writeLocatorFields(out, req);
  for (const name of bins) writeReadOp(out, name);
  endProto(out, p, ProtoType.MESSAGE);
  return out.subarray();
}

function writeLocatorFields(out: ByteWriter, loc: RecordLocator): void {
  writeStringField(out, FieldType.NAMESPACE, loc.namespace);
  writeStringField(out, FieldType.SET, loc.set);
  writeField(out, FieldType.DIGEST, loc.digest);
}

/** A single-record delete. */
export interface DeleteRequest extends RecordLocator {
  /**
   * Total timeout in ms.
   *
   * @default {0}
   */
  totalTimeoutMs?: number;
  /**
   * Leave a tombstone (enterprise).
   *
   * @default {false}
   */
  durableDelete?: boolean;
}

/**
 * Encodes a delete (info2 WRITE|DELETE; NAMESPACE, SET, DIGEST).
 *
 * @param req The delete.
 * @param w Writer to reuse.
 * @returns The whole message.
 */
export function encodeDeleteRequest(req: DeleteRequest, w?: ByteWriter): Uint8Array {
  const out = start(w);
  const p = beginProto(out);
  writeReplyHeader(out, {
    info2: Info2.WRITE | Info2.DELETE | (req.durableDelete ? Info2.DURABLE_DELETE : 0),
    transactionTtl: req.totalTimeoutMs ?? 0,
    nFields: 3,
  });
  writeLocatorFields(out, req);
  endProto(out, p, ProtoType.MESSAGE);
  return out.subarray();
}

/** A decoded single-record request (put, read, delete) for the emulator. */
export interface RecordRequest {
  /** Header (info bits, expected generation, TTL, timeout). */
  header: MessageHeader;
  /** Namespace. */
  namespace: string;
  /** Set (`""` when absent or empty). */
  set: string;
  /** Digest (copied). */
  digest: Uint8Array;
  /** User key when sent. */
  key?: UserKey;
  /** Ops. */
  ops: RequestOp[];
  /** Filter expression (field 43, copied) when sent. */
  filterExpression?: Uint8Array;
}

/**
 * Decodes a single-record request (emulator side).
 *
 * @param body The message body.
 * @returns The request.
 * @throws {AerobakError} `MESSAGE_INVALID` when malformed or missing namespace/digest.
 */
export function decodeRecordRequest(body: Uint8Array): RecordRequest {
  const m = decodeRequest(body);
  const digest = requireField(m, FieldType.DIGEST, "digest");
  if (digest.length !== 20) throw invalid(`Invalid digest field of ${digest.length} bytes`);
  const set = m.fields.get(FieldType.SET);
  const key = m.fields.get(FieldType.KEY);
  const out: RecordRequest = {
    header: m.header,
    namespace: utf8.decode(requireField(m, FieldType.NAMESPACE, "namespace")),
    set: set ? utf8.decode(set) : "",
    digest: digest.slice(),
    ops: m.ops,
  };
  if (key) out.key = readUserKey(key, dataViewOf(key), 0, key.length);
  const exp = m.fields.get(FieldType.FILTER_EXP);
  if (exp) out.filterExpression = exp.slice();
  return out;
}

// ---------------------------------------------------------------------------------------
// Batch

/** Batch row types (bitmask of what follows info1, or REPEAT). */
export const BatchRowType = {
  REPEAT: 0x01,
  INFO: 0x02,
  GEN: 0x04,
  TTL: 0x08,
  INFO4: 0x10,
} as const;

/** Batch flags byte. */
export const BatchFlags = {
  ALLOW_INLINE: 0x01,
  ALLOW_INLINE_SSD: 0x02,
  REPORT_ALL_ERRORS: 0x04,
  REPORT_ERROR_REC: 0x08,
} as const;

/** A batch write to one node. */
export interface BatchWriteRequest {
  /** The records. */
  records: readonly AerospikeRecord[];
  /** TTL per record (same semantics as {@linkcode PutRequest.ttl}). */
  ttls: readonly number[];
  /** Policy (applies to every record). */
  policy?: WriteRequestPolicy;
  /**
   * Batch index of each record, echoed in the replies.
   *
   * @default {0..n-1}
   */
  indexes?: readonly number[];
  /**
   * Batch flags; C asrestore and the Node client send 0x0d, Go 0x05.
   *
   * @default {0x0d}
   */
  flags?: number;
}

/** What every row of a batch write shares: its policy's header bits, and the key choice. */
export interface BatchWriteRowBits extends WriteBits {
  /** Whether rows of records with a user key carry it (KEY field). */
  sendKey: boolean;
}

/**
 * The shared part of every row of a batch write under a policy, computed once per batch.
 *
 * @param policy The policy.
 * @returns Header bits and the key choice.
 * @throws {TypeError} For an unknown action or generation policy.
 */
export function batchWriteRowBits(policy: WriteRequestPolicy = {}): BatchWriteRowBits {
  return { ...writeBits(policy), sendKey: policy.sendKey ?? true };
}

/**
 * Appends one batch-write row, self-contained (never REPEAT, so rows can be regrouped
 * into other requests as they are):
 * `idx | digest | 0x0e | info1 info2 info3 | gen | ttl | nFields | nOps | NAMESPACE, SET, [KEY] | WRITE ops`.
 * The index is the row's first 4 bytes, so a row copied into another request can be
 * renumbered in place.
 *
 * @param out Destination.
 * @param index Batch index, echoed in the row's reply.
 * @param record The record (its digest is used as is).
 * @param ttl TTL (same semantics as {@linkcode PutRequest.ttl}).
 * @param bits From {@linkcode batchWriteRowBits}.
 * @throws {RangeError} For a digest that is not 20 bytes or a bin name over 15 bytes.
 */
export function writeBatchWriteRow(
  out: ByteWriter,
  index: number,
  record: AerospikeRecord,
  ttl: number,
  bits: BatchWriteRowBits,
): void {
  if (record.digest.length !== 20) {
    throw new RangeError(`Cannot write a digest of ${record.digest.length} bytes`);
  }
  const withKey = bits.sendKey && record.key !== undefined;
  out.u32(index);
  out.bytes(record.digest);
  out.u8(BatchRowType.INFO | BatchRowType.GEN | BatchRowType.TTL);
  out.u8(0);
  out.u8(bits.info2 | Info2.RESPOND_ALL_OPS);
  out.u8(bits.info3);
  out.u16(bits.useGeneration ? record.generation & 0xffff : 0);
  out.u32(ttl);
  out.u16(withKey ? 3 : 2);
  out.u16(record.bins.length);
  writeStringField(out, FieldType.NAMESPACE, record.namespace);
  writeStringField(out, FieldType.SET, record.set);
  if (withKey) writeKeyField(out, record.key!);
  for (const bin of record.bins) writeBinOp(out, OpType.WRITE, bin);
}

/**
 * Resets `out` and appends the start of a batch request (proto header, AS_MSG header
 * with info1 BATCH, the BATCH_INDEX field's row count and flags); the caller appends
 * `count` rows and ends with {@linkcode endBatchRequest}.
 *
 * @param out Destination (reset first).
 * @param count Number of rows that follow.
 * @param timeoutMs Total timeout in ms (transaction_ttl).
 * @param flags Batch flags ({@linkcode BatchFlags}).
 */
export function beginBatchRequest(
  out: ByteWriter,
  count: number,
  timeoutMs: number,
  flags: number,
): void {
  out.reset();
  beginProto(out);
  writeReplyHeader(out, { info1: Info1.BATCH, transactionTtl: timeoutMs, nFields: 1 });
  out.reserve(4);
  out.u8(FieldType.BATCH_INDEX);
  out.u32(count);
  out.u8(flags);
}

/** Offset of the BATCH_INDEX field's size in a request begun by {@linkcode beginBatchRequest}. */
const BATCH_FIELD_AT = PROTO_HEADER_SIZE + MSG_HEADER_SIZE;

/**
 * Fills in the sizes of a batch request begun by {@linkcode beginBatchRequest}.
 *
 * @param out The writer holding the whole request.
 * @returns The whole message (a view of `out`).
 */
export function endBatchRequest(out: ByteWriter): Uint8Array {
  out.setU32At(BATCH_FIELD_AT, out.length - BATCH_FIELD_AT - 4);
  endProto(out, 0, ProtoType.MESSAGE);
  return out.subarray();
}

/**
 * Encodes a batch write: one BATCH_INDEX field, one {@linkcode writeBatchWriteRow} row per
 * record.
 *
 * @param req The batch.
 * @param w Writer to reuse.
 * @returns The whole message.
 * @throws {RangeError} When `ttls`/`indexes` do not match `records` in length.
 */
export function encodeBatchWriteRequest(req: BatchWriteRequest, w?: ByteWriter): Uint8Array {
  const { records, ttls } = req;
  if (ttls.length !== records.length || (req.indexes && req.indexes.length !== records.length)) {
    throw new RangeError(
      `Cannot encode batch: ${records.length} records, ${ttls.length} ttls, ${req.indexes?.length} indexes`,
    );
  }
  const policy = req.policy ?? {};
  const bits = batchWriteRowBits(policy);
  const out = w ?? new ByteWriter(512);
  beginBatchRequest(out, records.length, policy.totalTimeoutMs ?? 0, req.flags ?? 0x0d);
  for (let i = 0; i < records.length; i++) {
    writeBatchWriteRow(out, req.indexes ? req.indexes[i] : i, records[i], ttls[i], bits);
  }
  return endBatchRequest(out);
}

/** A batch read to one node. */
export interface BatchReadRequest {
  /** Records to read. */
  keys: readonly RecordLocator[];
  /**
   * Bins to read.
   *
   * @default {all}
   */
  binNames?: readonly string[];
  /**
   * Batch index of each key.
   *
   * @default {0..n-1}
   */
  indexes?: readonly number[];
  /**
   * Total timeout in ms.
   *
   * @default {0}
   */
  totalTimeoutMs?: number;
  /**
   * Batch flags.
   *
   * @default {0x0d}
   */
  flags?: number;
}

/**
 * Encodes a batch read like the Node client: a full row (type 0x0a, info1 READ|GET_ALL
 * or READ + READ ops) when namespace/set change, REPEAT rows otherwise.
 *
 * @param req The batch.
 * @param w Writer to reuse.
 * @returns The whole message.
 */
export function encodeBatchReadRequest(req: BatchReadRequest, w?: ByteWriter): Uint8Array {
  const bins = req.binNames ?? [];
  const out = w ?? new ByteWriter(512);
  beginBatchRequest(out, req.keys.length, req.totalTimeoutMs ?? 0, req.flags ?? 0x0d);
  let prev: RecordLocator | undefined;
  for (let i = 0; i < req.keys.length; i++) {
    const k = req.keys[i];
    const repeat = prev !== undefined && prev.namespace === k.namespace && prev.set === k.set;
    writeBatchReadRow(out, req.indexes ? req.indexes[i] : i, k, repeat, bins);
    prev = k;
  }
  return endBatchRequest(out);
}

/**
 * Appends one batch-read row as the Node client writes it: `idx | digest | 0x01` when it
 * repeats the row before (same namespace, set and everything but the digest), else
 * `idx | digest | 0x0a | info1 (READ, GET_ALL without bins) 0 0 | ttl 0 | nFields | nOps |
 * NAMESPACE, SET, [KEY] | READ ops`.
 *
 * @param out Destination.
 * @param index Batch index, echoed in the row's reply.
 * @param key The record; its user key, when given, is sent (the server checks it).
 * @param repeat Whether the row repeats the one before.
 * @param binNames Bins to read (empty = all).
 * @throws {RangeError} For a digest that is not 20 bytes.
 */
export function writeBatchReadRow(
  out: ByteWriter,
  index: number,
  key: RecordLocator & { key?: UserKey },
  repeat: boolean,
  binNames: readonly string[],
): void {
  if (key.digest.length !== 20) {
    throw new RangeError(`Invalid digest of ${key.digest.length} bytes: expected 20`);
  }
  out.u32(index);
  out.bytes(key.digest);
  if (repeat) {
    out.u8(BatchRowType.REPEAT);
    return;
  }
  out.u8(BatchRowType.INFO | BatchRowType.TTL);
  out.u8(Info1.READ | (binNames.length === 0 ? Info1.GET_ALL : 0));
  out.u8(0);
  out.u8(0);
  out.u32(0);
  out.u16(key.key === undefined ? 2 : 3);
  out.u16(binNames.length);
  writeStringField(out, FieldType.NAMESPACE, key.namespace);
  writeStringField(out, FieldType.SET, key.set);
  if (key.key !== undefined) writeKeyField(out, key.key);
  for (const name of binNames) writeReadOp(out, name);
}

/** One row of a decoded batch request. */
export interface BatchRow {
  /** Batch index to echo. */
  index: number;
  /** Digest (copied). */
  digest: Uint8Array;
  /** info1..info4 of the row. */
  info1: number;
  /** info2 bits. */
  info2: number;
  /** info3 bits. */
  info3: number;
  /** info4 bits. */
  info4: number;
  /** Expected generation. */
  generation: number;
  /** TTL. */
  ttl: number;
  /** Namespace. */
  namespace: string;
  /** Set. */
  set: string;
  /** User key when sent. */
  key?: UserKey;
  /** Filter expression of the row, when sent. */
  filterExpression?: Uint8Array;
  /** Ops. */
  ops: RequestOp[];
}

/** A decoded batch request. */
export interface BatchRequest {
  /** Header of the enclosing message. */
  header: MessageHeader;
  /** Batch flags byte. */
  flags: number;
  /** Batch-level filter expression (field 43 before BATCH_INDEX). */
  filterExpression?: Uint8Array;
  /** Rows (REPEAT rows expanded). */
  rows: BatchRow[];
}

/**
 * Decodes a batch-index request (emulator side).
 *
 * @param body The message body.
 * @returns The batch.
 * @throws {AerobakError} `MESSAGE_INVALID` when malformed.
 */
export function decodeBatchRequest(body: Uint8Array): BatchRequest {
  const m = decodeRequest(body);
  const data = requireField(m, FieldType.BATCH_INDEX, "batch index");
  const view = dataViewOf(data);
  const need = (off: number, n: number) => {
    if (off + n > data.length) throw invalid("Truncated batch row", off);
  };
  need(0, 5);
  const count = view.getUint32(0);
  const flags = data[4];
  const rows: BatchRow[] = [];
  let off = 5;
  let prev: BatchRow | undefined;
  for (let i = 0; i < count; i++) {
    need(off, 25);
    const index = view.getUint32(off);
    const digest = data.slice(off + 4, off + 24);
    const type = data[off + 24];
    off += 25;
    if (type === BatchRowType.REPEAT) {
      if (!prev) throw invalid("Batch REPEAT row without a previous row", off - 1);
      prev = { ...prev, index, digest };
      rows.push(prev);
      continue;
    }
    need(off, 1);
    const row: BatchRow = {
      index,
      digest,
      info1: data[off++],
      info2: 0,
      info3: 0,
      info4: 0,
      generation: 0,
      ttl: 0,
      namespace: "",
      set: "",
      ops: [],
    };
    if (type & BatchRowType.INFO) {
      need(off, 2);
      row.info2 = data[off++];
      row.info3 = data[off++];
    }
    if (type & BatchRowType.INFO4) {
      need(off, 1);
      row.info4 = data[off++];
    }
    if (type & BatchRowType.GEN) {
      need(off, 2);
      row.generation = view.getUint16(off);
      off += 2;
    }
    if (type & BatchRowType.TTL) {
      need(off, 4);
      row.ttl = view.getUint32(off);
      off += 4;
    }
    need(off, 4);
    const nFields = view.getUint16(off);
    const nOps = view.getUint16(off + 2);
    off += 4;
    off = forEachField(view, data, off, nFields, (t, at, len) => {
      if (t === FieldType.NAMESPACE) row.namespace = utf8.decode(data.subarray(at, at + len));
      else if (t === FieldType.SET) row.set = utf8.decode(data.subarray(at, at + len));
      else if (t === FieldType.KEY) row.key = readUserKey(data, view, at, len);
      else if (t === FieldType.FILTER_EXP) row.filterExpression = data.slice(at, at + len);
    });
    off = forEachOp(view, data, off, nOps, (op) => {
      const name = readName(data, op.nameOffset, op.nameLength);
      row.ops.push({
        opType: op.opType,
        bin: readParticle(data, view, op.valueOffset, op.valueLength, op.particleType, name),
      });
    });
    rows.push(row);
    prev = row;
  }
  const out: BatchRequest = { header: m.header, flags, rows };
  const exp = m.fields.get(FieldType.FILTER_EXP);
  if (exp) out.filterExpression = exp.slice();
  return out;
}

// ---------------------------------------------------------------------------------------
// Server replies (emulator side)

/**
 * Appends an AS_MSG header whose unset values are 0: a bare reply message (no fields, no
 * ops), the 22-byte answer of a write, delete, read miss, the LAST marker (info3 LAST) or a
 * partition-done marker; or the header of a request that sets few values.
 *
 * @param w Destination.
 * @param h Header values; the rest are 0.
 */
export function writeReplyHeader(w: ByteWriter, h: Partial<MessageHeader>): void {
  writeMessageHeader(w, {
    info1: h.info1 ?? 0,
    info2: h.info2 ?? 0,
    info3: h.info3 ?? 0,
    info4: h.info4 ?? 0,
    resultCode: h.resultCode ?? 0,
    generation: h.generation ?? 0,
    recordTtl: h.recordTtl ?? 0,
    transactionTtl: h.transactionTtl ?? 0,
    nFields: h.nFields ?? 0,
    nOps: h.nOps ?? 0,
  });
}

/**
 * Encodes a whole 30-byte reply message (proto + bare header), e.g. the LAST marker
 * `{info3: Info3.LAST, resultCode}` or a write answer `{resultCode, generation, recordTtl}`.
 *
 * @param h Header values.
 * @returns The whole message.
 */
export function encodeReply(h: Partial<MessageHeader>): Uint8Array {
  const w = new ByteWriter(PROTO_HEADER_SIZE + MSG_HEADER_SIZE);
  const p = beginProto(w);
  writeReplyHeader(w, h);
  endProto(w, p, ProtoType.MESSAGE);
  return w.subarray();
}

// ---------------------------------------------------------------------------------------
// Admin (login)

/** Admin commands. */
export const AdminCommand = {
  AUTHENTICATE: 0,
  CREATE_USER: 1,
  DROP_USER: 2,
  SET_PASSWORD: 3,
  CHANGE_PASSWORD: 4,
  GRANT_ROLES: 5,
  REVOKE_ROLES: 6,
  QUERY_USERS: 9,
  CREATE_ROLE: 10,
  DROP_ROLE: 11,
  GRANT_PRIVILEGES: 12,
  REVOKE_PRIVILEGES: 13,
  SET_WHITELIST: 14,
  SET_QUOTAS: 15,
  QUERY_ROLES: 16,
  LOGIN: 20,
} as const;

/** Admin field ids. */
export const AdminField = {
  USER: 0,
  PASSWORD: 1,
  OLD_PASSWORD: 2,
  CREDENTIAL: 3,
  CLEAR_PASSWORD: 4,
  SESSION_TOKEN: 5,
  SESSION_TTL: 6,
  ROLES: 10,
  ROLE: 11,
  PRIVILEGES: 12,
  WHITELIST: 13,
  READ_QUOTA: 14,
  WRITE_QUOTA: 15,
  READ_INFO: 16,
  WRITE_INFO: 17,
  CONNECTIONS: 18,
} as const;

/** Size of the admin header that follows the proto header. */
export const ADMIN_HEADER_SIZE = 16;

/** The fixed bcrypt salt of Aerospike credentials. */
export const BCRYPT_SALT = "$2a$10$7EqJtq98hPqEX7fNZaFWoO";

/**
 * The credential Aerospike expects for a password: bcrypt with the fixed salt (cost 10),
 * as the 60-character hash string. Takes ~100 ms: compute once per client.
 *
 * @param password The clear password.
 * @returns The credential text.
 */
export function hashPassword(password: string): string {
  return bcrypt.hashSync(password, BCRYPT_SALT);
}

const textEncoder = new TextEncoder();

/**
 * Encodes an admin message.
 *
 * @param command Admin command ({@linkcode AdminCommand}).
 * @param fields Field id → data, in order.
 * @param resultCode Byte 1 of the header (replies only). @default 0
 * @returns The whole message.
 */
export function encodeAdminMessage(
  command: number,
  fields: ReadonlyArray<readonly [number, Uint8Array]>,
  resultCode = 0,
): Uint8Array {
  const size = ADMIN_HEADER_SIZE + fields.reduce((n, [, d]) => n + 5 + d.length, 0);
  const out = new Uint8Array(PROTO_HEADER_SIZE + size);
  writeProtoHeader(out, 0, ProtoType.ADMIN, size);
  out[PROTO_HEADER_SIZE + 1] = resultCode;
  out[PROTO_HEADER_SIZE + 2] = command;
  out[PROTO_HEADER_SIZE + 3] = fields.length;
  const view = new DataView(out.buffer);
  let off = PROTO_HEADER_SIZE + ADMIN_HEADER_SIZE;
  for (const [id, data] of fields) {
    view.setUint32(off, data.length + 1);
    out[off + 4] = id;
    out.set(data, off + 5);
    off += 5 + data.length;
  }
  return out;
}

/** Login options. */
export interface LoginOptions {
  /** User name (INTERNAL, EXTERNAL). */
  user?: string;
  /** Clear password; hashed unless `credential` is given. */
  password?: string;
  /** Precomputed {@linkcode hashPassword} result. */
  credential?: string;
  /**
   * Authentication mode.
   *
   * @default {"INTERNAL"}
   */
  mode?: "INTERNAL" | "EXTERNAL" | "PKI";
}

/**
 * Encodes a LOGIN request: INTERNAL sends USER + CREDENTIAL, EXTERNAL adds
 * CLEAR_PASSWORD, PKI sends no fields.
 *
 * @param opts Credentials.
 * @returns The whole message.
 * @throws {TypeError} When user/password are missing for INTERNAL or EXTERNAL.
 */
export function encodeLoginRequest(opts: LoginOptions): Uint8Array {
  const mode = opts.mode ?? "INTERNAL";
  if (mode === "PKI") return encodeAdminMessage(AdminCommand.LOGIN, []);
  if (opts.user === undefined || (opts.password === undefined && opts.credential === undefined)) {
    throw new TypeError(`Cannot log in with mode ${mode}: user and password are required`);
  }
  const credential = opts.credential ?? hashPassword(opts.password!);
  const fields: [number, Uint8Array][] = [
    [AdminField.USER, textEncoder.encode(opts.user)],
    [AdminField.CREDENTIAL, textEncoder.encode(credential)],
  ];
  if (mode === "EXTERNAL") {
    if (opts.password === undefined) {
      throw new TypeError("Cannot log in with mode EXTERNAL: the clear password is required");
    }
    fields.push([AdminField.CLEAR_PASSWORD, textEncoder.encode(opts.password)]);
  }
  return encodeAdminMessage(AdminCommand.LOGIN, fields);
}

/**
 * Encodes an AUTHENTICATE request with a session token (USER omitted for PKI).
 *
 * @param user User name, or `undefined` for PKI.
 * @param token Session token from the login reply.
 * @returns The whole message.
 */
export function encodeAuthenticateRequest(user: string | undefined, token: Uint8Array): Uint8Array {
  const fields: [number, Uint8Array][] = [];
  if (user !== undefined) fields.push([AdminField.USER, textEncoder.encode(user)]);
  fields.push([AdminField.SESSION_TOKEN, token]);
  return encodeAdminMessage(AdminCommand.AUTHENTICATE, fields);
}

/** A decoded admin message (request or reply). */
export interface AdminMessage {
  /** Command byte. */
  command: number;
  /** Result code byte (replies). */
  resultCode: number;
  /** Field id → data (copied). */
  fields: Map<number, Uint8Array>;
}

/**
 * Decodes an admin message body (what follows the proto header): request or reply.
 *
 * @param body The body.
 * @returns Command, result code and fields.
 * @throws {AerobakError} `MESSAGE_INVALID` when malformed.
 */
export function decodeAdminMessage(body: Uint8Array): AdminMessage {
  if (body.length < ADMIN_HEADER_SIZE) {
    throw invalid(`Truncated admin message of ${body.length} bytes`, 0);
  }
  const view = dataViewOf(body);
  const n = body[3];
  const fields = new Map<number, Uint8Array>();
  let off = ADMIN_HEADER_SIZE;
  for (let i = 0; i < n; i++) {
    if (off + 5 > body.length) throw invalid(`Truncated admin field ${i} of ${n}`, off);
    const size = view.getUint32(off);
    if (size < 1 || off + 4 + size > body.length) {
      throw invalid(`Invalid admin field size ${size}`, off);
    }
    fields.set(body[off + 4], body.slice(off + 5, off + 4 + size));
    off += 4 + size;
  }
  return { command: body[2], resultCode: body[1], fields };
}

/** The useful part of a login reply. */
export interface LoginReply {
  /** Result code (0 OK, 52 security not enabled = proceed without auth). */
  resultCode: number;
  /** Session token (result 0). */
  sessionToken?: Uint8Array;
  /** Session TTL in seconds (result 0, when sent). */
  sessionTtl?: number;
}

/**
 * Decodes a login reply body.
 *
 * @param body The body (what follows the proto header).
 * @returns Result code, token and TTL.
 */
export function decodeLoginReply(body: Uint8Array): LoginReply {
  const m = decodeAdminMessage(body);
  const out: LoginReply = { resultCode: m.resultCode };
  const token = m.fields.get(AdminField.SESSION_TOKEN);
  if (token) out.sessionToken = token;
  const ttl = m.fields.get(AdminField.SESSION_TTL);
  if (ttl && ttl.length === 4) out.sessionTtl = dataViewOf(ttl).getUint32(0);
  return out;
}
