/**
 * AS_MSG (proto type 3): the 22-byte header, fields and ops, and the record codec used
 * by scan/read replies (client side) and by the emulator (server side).
 *
 * Readers take `(buf, offset)` and read through one cached DataView per buffer; writers
 * append to a caller-owned {@linkcode ByteWriter}.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { particleSize, writeParticle, writeUserKey } from "./particle.ts";
import { type AerospikeRecord, type Bin, ParticleType } from "./record.ts";

/** info1 bits. */
export const Info1 = {
  READ: 0x01,
  GET_ALL: 0x02,
  SHORT_QUERY: 0x04,
  BATCH: 0x08,
  XDR: 0x10,
  GET_NOBINDATA: 0x20,
  READ_MODE_AP_ALL: 0x40,
  COMPRESS_RESPONSE: 0x80,
} as const;

/** info2 bits. */
export const Info2 = {
  WRITE: 0x01,
  DELETE: 0x02,
  GENERATION: 0x04,
  GENERATION_GT: 0x08,
  DURABLE_DELETE: 0x10,
  CREATE_ONLY: 0x20,
  RELAX_AP_LONG_QUERY: 0x40,
  RESPOND_ALL_OPS: 0x80,
} as const;

/** info3 bits. */
export const Info3 = {
  LAST: 0x01,
  COMMIT_MASTER: 0x02,
  PARTITION_DONE: 0x04,
  UPDATE_ONLY: 0x08,
  CREATE_OR_REPLACE: 0x10,
  REPLACE_ONLY: 0x20,
  SC_READ_TYPE: 0x40,
  SC_READ_RELAX: 0x80,
} as const;

/** Field type ids. */
export const FieldType = {
  NAMESPACE: 0,
  SET: 1,
  KEY: 2,
  RECORD_VERSION: 3,
  DIGEST: 4,
  MRT_ID: 5,
  MRT_DEADLINE: 6,
  TASK_ID: 7,
  SOCKET_TIMEOUT: 9,
  RECORDS_PER_SECOND: 10,
  PID_ARRAY: 11,
  DIGEST_ARRAY: 12,
  MAX_RECORDS: 13,
  LUT: 14,
  BVAL_ARRAY: 15,
  INDEX_NAME: 21,
  INDEX_RANGE: 22,
  INDEX_CONTEXT: 23,
  INDEX_EXPRESSION: 24,
  INDEX_TYPE: 26,
  UDF_PACKAGE_NAME: 30,
  UDF_FUNCTION: 31,
  UDF_ARGLIST: 32,
  UDF_OP: 33,
  QUERY_BINLIST: 40,
  BATCH_INDEX: 41,
  BATCH_INDEX_WITH_SET: 42,
  FILTER_EXP: 43,
} as const;

/** Op type ids. */
export const OpType = {
  READ: 1,
  WRITE: 2,
  CDT_READ: 3,
  CDT_MODIFY: 4,
  INCR: 5,
  EXP_READ: 7,
  EXP_MODIFY: 8,
  APPEND: 9,
  PREPEND: 10,
  TOUCH: 11,
  BIT_READ: 12,
  BIT_MODIFY: 13,
  DELETE: 14,
  HLL_READ: 15,
  HLL_MODIFY: 16,
} as const;

/** Size of the AS_MSG header. */
export const MSG_HEADER_SIZE = 22;

/** Longest bin name the server accepts, in bytes. */
export const MAX_BIN_NAME_LENGTH = 15;

/** The 22-byte AS_MSG header. */
export interface MessageHeader {
  /** info1 bits ({@linkcode Info1}). */
  info1: number;
  /** info2 bits ({@linkcode Info2}). */
  info2: number;
  /** info3 bits ({@linkcode Info3}). */
  info3: number;
  /** info4 bits (transactions); send 0. */
  info4: number;
  /** Result code (replies). */
  resultCode: number;
  /** Generation; in a partition-done marker, the partition id. */
  generation: number;
  /** Request: TTL; reply: void time (Citrusleaf epoch seconds). */
  recordTtl: number;
  /** Server timeout in ms; in batch replies, the batch index. */
  transactionTtl: number;
  /** Number of fields that follow. */
  nFields: number;
  /** Number of ops that follow the fields. */
  nOps: number;
}

let cachedBuf: Uint8Array | undefined;
let cachedView: DataView = new DataView(new ArrayBuffer(0));

/**
 * A DataView over exactly the bytes of `buf` (offset 0 = `buf[0]`), cached for the last
 * buffer asked about so decoding many messages of one frame allocates one view.
 *
 * @param buf The buffer.
 * @returns The view.
 */
export function dataViewOf(buf: Uint8Array): DataView {
  if (buf !== cachedBuf) {
    cachedBuf = buf;
    cachedView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return cachedView;
}

function invalid(message: string, offset: number): AerobakError {
  return new AerobakError("MESSAGE_INVALID", `${message} at byte offset ${offset}`, {
    location: { offset },
  });
}

/**
 * A header with every value 0, to pass to {@linkcode readMessageHeader} as the object it
 * fills (one per reply loop instead of one per message).
 *
 * @returns A new zeroed header.
 */
export function createMessageHeader(): MessageHeader {
  return {
    info1: 0,
    info2: 0,
    info3: 0,
    info4: 0,
    resultCode: 0,
    generation: 0,
    recordTtl: 0,
    transactionTtl: 0,
    nFields: 0,
    nOps: 0,
  };
}

/**
 * Reads an AS_MSG header.
 *
 * @param view View over the buffer.
 * @param offset Start of the AS_MSG (its header_sz byte).
 * @param into Caller-owned header to fill and return (see
 *   {@linkcode createMessageHeader}), so a loop over many messages allocates nothing;
 *   its values are overwritten by the next read. @default a new header
 * @returns The header (`into` when given); fields start at `offset + 22`.
 * @throws {AerobakError} `MESSAGE_INVALID` when fewer than 22 bytes remain or header_sz
 * is smaller than 22.
 */
export function readMessageHeader(
  view: DataView,
  offset: number,
  into: MessageHeader = createMessageHeader(),
): MessageHeader {
  if (offset + MSG_HEADER_SIZE > view.byteLength) {
    throw invalid(
      `Truncated message header: ${view.byteLength - offset} bytes, expected 22`,
      offset,
    );
  }
  const headerSize = view.getUint8(offset);
  if (headerSize < MSG_HEADER_SIZE) {
    throw invalid(`Invalid message header size ${headerSize}, expected 22`, offset);
  }
  into.info1 = view.getUint8(offset + 1);
  into.info2 = view.getUint8(offset + 2);
  into.info3 = view.getUint8(offset + 3);
  into.info4 = view.getUint8(offset + 4);
  into.resultCode = view.getUint8(offset + 5);
  into.generation = view.getUint32(offset + 6);
  into.recordTtl = view.getUint32(offset + 10);
  into.transactionTtl = view.getUint32(offset + 14);
  into.nFields = view.getUint16(offset + 18);
  into.nOps = view.getUint16(offset + 20);
  return into;
}

/**
 * The length of the message at `offset`, as far as the bytes up to `end` tell: a reply
 * read in pieces hands on only messages that lie in it whole.
 *
 * @param view The bytes.
 * @param offset Where the message starts.
 * @param end Where the bytes read so far end.
 * @returns Its whole length when its header and every field and op size are before `end`;
 *   otherwise a lower bound, larger than `end - offset`, of the bytes it needs.
 */
export function messageLength(view: DataView, offset: number, end: number): number {
  if (end - offset < MSG_HEADER_SIZE) return MSG_HEADER_SIZE;
  const n = view.getUint16(offset + 18) + view.getUint16(offset + 20);
  let p = offset + MSG_HEADER_SIZE;
  for (let i = 0; i < n; i++) {
    if (p + 4 > end) return p + 4 - offset;
    p += 4 + view.getUint32(p);
  }
  return p - offset;
}

/**
 * Appends an AS_MSG header.
 *
 * @param w Destination.
 * @param h The header (`recordTtl` may be -1 for "never expire").
 */
export function writeMessageHeader(w: ByteWriter, h: MessageHeader): void {
  w.u8(MSG_HEADER_SIZE);
  w.u8(h.info1);
  w.u8(h.info2);
  w.u8(h.info3);
  w.u8(h.info4);
  w.u8(h.resultCode);
  w.u32(h.generation);
  w.u32(h.recordTtl);
  w.u32(h.transactionTtl);
  w.u16(h.nFields);
  w.u16(h.nOps);
}

/**
 * Appends a field.
 *
 * @param w Destination.
 * @param type Field type ({@linkcode FieldType}).
 * @param data Field data.
 */
export function writeField(w: ByteWriter, type: number, data: Uint8Array): void {
  w.u32(data.length + 1);
  w.u8(type);
  w.bytes(data);
}

/**
 * Appends a field holding UTF-8 text.
 *
 * @param w Destination.
 * @param type Field type.
 * @param s Text.
 */
export function writeStringField(w: ByteWriter, type: number, s: string): void {
  const at = w.reserve(4);
  w.u8(type);
  const n = w.utf8(s);
  w.setU32At(at, n + 1);
}

/**
 * Appends a field holding a big-endian u32.
 *
 * @param w Destination.
 * @param type Field type.
 * @param v Value.
 */
export function writeU32Field(w: ByteWriter, type: number, v: number): void {
  w.u32(5);
  w.u8(type);
  w.u32(v);
}

/**
 * Appends a field holding a big-endian u64.
 *
 * @param w Destination.
 * @param type Field type.
 * @param v Value.
 */
export function writeU64Field(w: ByteWriter, type: number, v: bigint): void {
  w.u32(9);
  w.u8(type);
  w.u64(v);
}

/** Called for each field by {@linkcode forEachField}. */
export type FieldCallback = (type: number, dataOffset: number, dataLength: number) => void;

/**
 * Walks `n` fields.
 *
 * @param view View over `buf`.
 * @param buf The buffer (used for the length check only).
 * @param offset Start of the first field.
 * @param n Number of fields.
 * @param cb Called with each field's type, data offset and data length.
 * @returns Offset after the last field.
 * @throws {AerobakError} `MESSAGE_INVALID` when a field overruns the buffer.
 */
export function forEachField(
  view: DataView,
  buf: Uint8Array,
  offset: number,
  n: number,
  cb: FieldCallback,
): number {
  for (let i = 0; i < n; i++) {
    if (offset + 5 > buf.length) throw invalid(`Truncated field ${i} of ${n}`, offset);
    const size = view.getUint32(offset);
    if (size < 1 || offset + 4 + size > buf.length) {
      throw invalid(`Invalid field size ${size}`, offset);
    }
    cb(view.getUint8(offset + 4), offset + 5, size - 1);
    offset += 4 + size;
  }
  return offset;
}

/** A decoded op (see {@linkcode forEachOp}). */
export interface OpView {
  /** Op type. */
  opType: number;
  /** Particle type of the value. */
  particleType: number;
  /** Flags byte (bit 0: an 8-byte LUT precedes the value). */
  flags: number;
  /** Offset of the bin name. */
  nameOffset: number;
  /** Length of the bin name. */
  nameLength: number;
  /** Offset of the value. */
  valueOffset: number;
  /** Length of the value. */
  valueLength: number;
}

/**
 * An op view with every value 0, to pass to {@linkcode forEachOp} as the object it fills.
 *
 * @returns A new zeroed op view.
 */
export function createOpView(): OpView {
  return {
    opType: 0,
    particleType: 0,
    flags: 0,
    nameOffset: 0,
    nameLength: 0,
    valueOffset: 0,
    valueLength: 0,
  };
}

/**
 * Walks `n` ops. The same {@linkcode OpView} object is passed to every call: copy what
 * you keep.
 *
 * @param view View over `buf`.
 * @param buf The buffer.
 * @param offset Start of the first op.
 * @param n Number of ops.
 * @param cb Called with each op.
 * @param op Caller-owned view to fill (see {@linkcode createOpView}), so a loop over many
 *   messages allocates nothing. @default a new view per call
 * @returns Offset after the last op.
 * @throws {AerobakError} `MESSAGE_INVALID` when an op overruns the buffer.
 */
export function forEachOp(
  view: DataView,
  buf: Uint8Array,
  offset: number,
  n: number,
  cb: (op: OpView) => void,
  op: OpView = createOpView(),
): number {
  for (let i = 0; i < n; i++) {
    if (offset + 8 > buf.length) throw invalid(`Truncated op ${i} of ${n}`, offset);
    const size = view.getUint32(offset);
    const end = offset + 4 + size;
    op.opType = buf[offset + 4];
    op.particleType = buf[offset + 5];
    op.flags = buf[offset + 6];
    op.nameLength = buf[offset + 7];
    op.nameOffset = offset + 8;
    op.valueOffset = op.nameOffset + op.nameLength + ((op.flags & 1) !== 0 ? 8 : 0);
    op.valueLength = end - op.valueOffset;
    if (size < 4 || end > buf.length || op.valueLength < 0) {
      throw invalid(`Invalid op size ${size}`, offset);
    }
    cb(op);
    offset = end;
  }
  return offset;
}

/**
 * Appends an op carrying a bin (WRITE in requests, READ in server replies).
 *
 * @param w Destination.
 * @param opType Op type ({@linkcode OpType}).
 * @param bin The bin.
 * @throws {RangeError} When the bin name is longer than 15 bytes.
 */
export function writeBinOp(w: ByteWriter, opType: number, bin: Bin): void {
  const at = w.reserve(4);
  w.u8(opType);
  w.u8(bin.type);
  w.u8(0);
  const nameAt = w.reserve(1);
  const nameLen = w.utf8(bin.name);
  if (nameLen > MAX_BIN_NAME_LENGTH) {
    throw new RangeError(`Cannot write bin "${bin.name}": name is ${nameLen} bytes, limit is 15`);
  }
  w.setU8At(nameAt, nameLen);
  writeParticle(w, bin);
  w.setU32At(at, 4 + nameLen + particleSize(bin));
}

/**
 * Appends a value-less op naming a bin (READ op in a scan: "return this bin"; also the
 * per-bin answer of a write with RESPOND_ALL_OPS).
 *
 * @param w Destination.
 * @param name Bin name.
 * @param opType Op type. @default OpType.READ
 */
export function writeReadOp(w: ByteWriter, name: string, opType: number = OpType.READ): void {
  const at = w.reserve(4);
  w.u8(opType);
  w.u8(0);
  w.u8(0);
  const nameAt = w.reserve(1);
  const nameLen = w.utf8(name);
  w.setU8At(nameAt, nameLen);
  w.setU32At(at, 4 + nameLen);
}

// Bin and namespace names repeat on every record of a scan: intern them so decoding a
// name allocates nothing after the first time.
const internTable = new Map<number, string[]>();
const nameDecoder = new TextDecoder();

function internName(buf: Uint8Array, offset: number, length: number): string {
  let h = length;
  for (let i = 0; i < length; i++) h = (Math.imul(h, 31) + buf[offset + i]) | 0;
  let bucket = internTable.get(h);
  if (bucket !== undefined) {
    for (const s of bucket) if (sameAscii(s, buf, offset, length)) return s;
  }
  const s = nameDecoder.decode(buf.subarray(offset, offset + length));
  if (internTable.size < 4096) {
    if (bucket === undefined) internTable.set(h, bucket = []);
    if (bucket.length < 4) bucket.push(s);
  }
  return s;
}

function sameAscii(s: string, buf: Uint8Array, offset: number, length: number): boolean {
  // Non-ASCII names never match here and are simply decoded again.
  if (s.length !== length) return false;
  for (let i = 0; i < length; i++) if (s.charCodeAt(i) !== buf[offset + i]) return false;
  return true;
}

/**
 * Decodes a UTF-8 name (namespace, set, bin) through the intern table.
 *
 * @param buf Buffer.
 * @param offset Start.
 * @param length Length in bytes.
 * @returns The string.
 */
export function readName(buf: Uint8Array, offset: number, length: number): string {
  return internName(buf, offset, length);
}

/** Options of {@linkcode encodeRecordMessage}. */
export interface EncodeRecordOptions {
  /** info1 of the reply (0x20 GET_NOBINDATA for no-bins scans). @default 0 */
  info1?: number;
  /** info3 of the reply. @default 0 */
  info3?: number;
  /** Result code. @default 0 */
  resultCode?: number;
  /** Leave the bins out (no-bins scans). @default info1 has GET_NOBINDATA */
  noBins?: boolean;
  /** Only these bins (scan bin selection), in this order when present. @default all */
  binNames?: readonly string[];
  /** Value of the transaction_ttl slot (batch index in batch replies). @default 0 */
  transactionTtl?: number;
  /** Leave the namespace/digest/set/key fields out (single-record and batch replies). @default false */
  noFields?: boolean;
  /**
   * The S2 cell ids the server stores with a GeoJSON value (sent between the flags byte
   * and the JSON text). @default none: GeoJSON values are sent with 0 cells
   */
  geoCells?: (json: Uint8Array) => readonly bigint[];
}

/**
 * Appends a record as the server sends it in a scan or read reply: generation,
 * record_ttl = void time, fields NAMESPACE, DIGEST, [SET], [KEY], then one READ op per
 * bin. Used by the emulator.
 *
 * @param w Destination.
 * @param record The record.
 * @param opts Header bits and bin selection.
 */
export function encodeRecordMessage(
  w: ByteWriter,
  record: AerospikeRecord,
  opts: EncodeRecordOptions = {},
): void {
  const info1 = opts.info1 ?? 0;
  const noBins = opts.noBins ?? (info1 & Info1.GET_NOBINDATA) !== 0;
  let bins: readonly Bin[] = noBins ? [] : record.bins;
  if (!noBins && opts.binNames !== undefined) {
    const wanted = new Set(opts.binNames);
    bins = record.bins.filter((b) => wanted.has(b.name));
  }
  const withFields = !(opts.noFields ?? false);
  const nFields = withFields ? 2 + (record.set !== "" ? 1 : 0) + (record.key ? 1 : 0) : 0;
  writeMessageHeader(w, {
    info1,
    info2: 0,
    info3: opts.info3 ?? 0,
    info4: 0,
    resultCode: opts.resultCode ?? 0,
    generation: record.generation,
    recordTtl: record.voidTime,
    transactionTtl: opts.transactionTtl ?? 0,
    nFields,
    nOps: bins.length,
  });
  if (withFields) {
    writeStringField(w, FieldType.NAMESPACE, record.namespace);
    writeField(w, FieldType.DIGEST, record.digest);
    if (record.set !== "") writeStringField(w, FieldType.SET, record.set);
    if (record.key) {
      const at = w.reserve(4);
      w.u8(FieldType.KEY);
      writeUserKey(w, record.key);
      w.setU32At(at, w.length - at - 4);
    }
  }
  const geoCells = opts.geoCells;
  for (const bin of bins) {
    if (geoCells !== undefined && bin.type === ParticleType.GEOJSON) {
      writeGeoOp(w, bin.name, bin.value, geoCells(bin.value));
    } else writeBinOp(w, OpType.READ, bin);
  }
}

function writeGeoOp(w: ByteWriter, name: string, json: Uint8Array, cells: readonly bigint[]) {
  // READ op carrying a GeoJSON particle as the server stores it: flags, ncells, cell ids,
  // then the JSON text.
  const at = w.reserve(4);
  w.u8(OpType.READ);
  w.u8(ParticleType.GEOJSON);
  w.u8(0);
  const nameAt = w.reserve(1);
  const nameLen = w.utf8(name);
  w.setU8At(nameAt, nameLen);
  w.u8(0);
  w.u16(cells.length);
  for (const c of cells) w.u64(c);
  w.bytes(json);
  w.setU32At(at, w.length - at - 4);
}
