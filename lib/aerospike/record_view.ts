/**
 * A record message read where it lies: namespace, set, digest, key and bins located in
 * the reply frame, without copying a byte or allocating per record. One
 * {@linkcode RecordView} is reused for every message of a scan; its offsets are valid
 * until the frame buffer is read into again. A backup encodes straight from it into its
 * output buffer; {@linkcode decodeRecordMessage} copies it out into an
 * {@linkcode AerospikeRecord} for callers that keep records.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { copyBytes } from "./_arena.ts";
import { DIGEST_SIZE } from "./digest.ts";
import { dataViewOf, FieldType, type MessageHeader, readName } from "./message.ts";
import { checkKeyField, particleSkip, readIntValue, readUserKey } from "./particle.ts";
import { type AerospikeRecord, type Bin, type BytesBin, ParticleType } from "./record.ts";

/** Where one bin of a record message lies. */
export interface BinView {
  /** Bin name (interned: the same string object for every record). */
  name: string;
  /** Particle type. */
  type: number;
  /** Value offset in the frame (GeoJSON: its JSON text, after the cell header). */
  offset: number;
  /** Value length in bytes. */
  length: number;
}

function invalid(message: string, offset: number): AerobakError {
  return new AerobakError("MESSAGE_INVALID", `${message} at byte offset ${offset}`, {
    location: { offset },
  });
}

const TWO_32 = 2 ** 32;

/**
 * Reads a big-endian integer of 1..8 bytes as a number when it is safe, else as a bigint.
 *
 * @param view The frame's view.
 * @param offset Value start.
 * @param length Value length.
 * @returns The value.
 * @throws {AerobakError} `MESSAGE_INVALID` for a length outside 1..8.
 */
export function readInteger(view: DataView, offset: number, length: number): number | bigint {
  if (length === 8) {
    const hi = view.getInt32(offset);
    // |value| < 2^53 when the high word's magnitude is below 2^21.
    if (hi >= -0x200000 && hi < 0x200000) return hi * TWO_32 + view.getUint32(offset + 4);
    return view.getBigInt64(offset);
  }
  if (length < 1 || length > 8) throw invalid(`Invalid integer of ${length} bytes`, offset);
  let v = 0;
  for (let i = 0; i < length; i++) v = v * 256 + view.getUint8(offset + i);
  return Number.isSafeInteger(v) ? v : BigInt(v);
}

/** A record message of a reply, located in place. Reuse one per reply loop. */
export class RecordView {
  /** The frame holding the message. */
  body: Uint8Array = new Uint8Array(0);
  /** A view of {@linkcode body}. */
  view: DataView = new DataView(new ArrayBuffer(0));
  /** Namespace (interned). */
  namespace = "";
  /** Set, `""` for none (interned). */
  set = "";
  /** Offset of the 20 digest bytes. */
  digestOffset = 0;
  /** Particle type of the stored user key, 0 when the record has none. */
  keyType = 0;
  /** Offset of the key's value (after its type byte). */
  keyOffset = 0;
  /** Length of the key's value. */
  keyLength = 0;
  /** Generation. */
  generation = 0;
  /** Void time (Citrusleaf seconds; 0 = never expires). */
  voidTime = 0;
  /** Number of bins in {@linkcode bins}. */
  binCount = 0;
  /** The bins (the first {@linkcode binCount}; entries are reused). */
  readonly bins: BinView[] = [];
  /** Offset just after the message. */
  next = 0;

  /**
   * Locates the record message whose fields start at `offset`: fields NAMESPACE, SET,
   * DIGEST and KEY (others skipped), then the ops as bins.
   *
   * @param body The frame.
   * @param view A view of `body` (same `byteOffset`).
   * @param offset Start of the fields: the message offset + `MSG_HEADER_SIZE`.
   * @param header The message's header.
   * @returns This view.
   * @throws {AerobakError} `MESSAGE_INVALID` when the message is malformed or has no
   *   namespace or digest; `PARTICLE_UNSUPPORTED` for a bin type backups cannot hold.
   */
  read(body: Uint8Array, view: DataView, offset: number, header: MessageHeader): this {
    this.body = body;
    this.view = view;
    const start = offset;
    let namespace: string | undefined;
    let digest = -1;
    this.set = "";
    this.keyType = 0;
    const nFields = header.nFields;
    for (let i = 0; i < nFields; i++) {
      if (offset + 5 > body.length) throw invalid(`Truncated field ${i} of ${nFields}`, offset);
      const size = view.getUint32(offset);
      if (size < 1 || offset + 4 + size > body.length) {
        throw invalid(`Invalid field size ${size}`, offset);
      }
      const at = offset + 5;
      const len = size - 1;
      switch (body[offset + 4]) {
        case FieldType.NAMESPACE:
          namespace = readName(body, at, len);
          break;
        case FieldType.SET:
          this.set = readName(body, at, len);
          break;
        case FieldType.DIGEST:
          if (len !== DIGEST_SIZE) throw invalid(`Invalid digest field of ${len} bytes`, at);
          digest = at;
          break;
        case FieldType.KEY:
          this.#key(body, at, len);
          break;
      }
      offset += 4 + size;
    }
    if (namespace === undefined || digest < 0) {
      throw invalid("Record message without namespace or digest field", start);
    }
    this.namespace = namespace;
    this.digestOffset = digest;
    this.generation = header.generation;
    this.voidTime = header.recordTtl;
    const nOps = header.nOps;
    const bins = this.bins;
    for (let i = 0; i < nOps; i++) {
      if (offset + 8 > body.length) throw invalid(`Truncated op ${i} of ${nOps}`, offset);
      const size = view.getUint32(offset);
      const end = offset + 4 + size;
      const nameLength = body[offset + 7];
      const nameOffset = offset + 8;
      const valueOffset = nameOffset + nameLength + ((body[offset + 6] & 1) !== 0 ? 8 : 0);
      if (size < 4 || end > body.length || end < valueOffset) {
        throw invalid(`Invalid op size ${size}`, offset);
      }
      const bin = bins[i] ??= { name: "", type: 0, offset: 0, length: 0 };
      bin.name = readName(body, nameOffset, nameLength);
      this.#value(bin, body[offset + 5], valueOffset, end - valueOffset);
      offset = end;
    }
    this.binCount = nOps;
    this.next = offset;
    return this;
  }

  /**
   * The value of an integer bin (or key, with its offset and length).
   *
   * @param offset Value offset.
   * @param length Value length.
   * @returns A number when safe, else a bigint.
   */
  integer(offset: number, length: number): number | bigint {
    return readInteger(this.view, offset, length);
  }

  #key(body: Uint8Array, at: number, len: number): void {
    this.keyType = checkKeyField(body, at, len);
    this.keyOffset = at + 1;
    this.keyLength = len - 1;
  }

  #value(bin: BinView, type: number, offset: number, length: number): void {
    const skip = particleSkip(this.view, offset, length, type, bin.name);
    bin.type = type;
    bin.offset = offset + skip;
    bin.length = length - skip;
  }
}

/** A decoded record message. */
export interface DecodedRecord {
  /** The record; digest, key and bin values own their bytes. */
  record: AerospikeRecord;
  /** Offset of the next AS_MSG. */
  next: number;
}

const scratch = new RecordView();

/**
 * Decodes the body of a record message (scan/read/batch-read reply): fields NAMESPACE,
 * DIGEST, SET, KEY (others skipped), then the ops as bins. The record owns its bytes
 * (digest, key and every bytes-typed bin value are copied) so it outlives the frame.
 *
 * @param buf The frame buffer.
 * @param offset Start of the fields: the AS_MSG offset + `MSG_HEADER_SIZE`.
 * @param header The header already read by `readMessageHeader`.
 * @returns The record and the offset of the next message.
 * @throws {AerobakError} `MESSAGE_INVALID` when the message is malformed or has no
 * namespace or digest; `PARTICLE_UNSUPPORTED` for a bin type backups cannot hold.
 */
export function decodeRecordMessage(
  buf: Uint8Array,
  offset: number,
  header: MessageHeader,
): DecodedRecord {
  const view = dataViewOf(buf);
  const rv = scratch.read(buf, view, offset, header);
  const bins: Bin[] = new Array(rv.binCount);
  for (let i = 0; i < rv.binCount; i++) bins[i] = binOf(buf, view, rv.bins[i]);
  const d = rv.digestOffset;
  const record: AerospikeRecord = {
    namespace: rv.namespace,
    set: rv.set,
    digest: copyBytes(buf, d, d + DIGEST_SIZE),
    generation: rv.generation,
    voidTime: rv.voidTime,
    bins,
  };
  if (rv.keyType !== 0) record.key = readUserKey(buf, view, rv.keyOffset - 1, rv.keyLength + 1);
  return { record, next: rv.next };
}

function binOf(buf: Uint8Array, view: DataView, b: BinView): Bin {
  const { name, offset, length } = b;
  switch (b.type) {
    case ParticleType.NULL:
      return { name, type: 0, value: null };
    case ParticleType.INTEGER:
      return { name, type: 1, value: readIntValue(view, offset, length) };
    case ParticleType.FLOAT:
      return { name, type: 2, value: view.getFloat64(offset) };
    case ParticleType.BOOL:
      return { name, type: 17, value: buf[offset] !== 0 };
    default:
      return {
        name,
        type: b.type as BytesBin["type"],
        value: copyBytes(buf, offset, offset + length),
      };
  }
}
