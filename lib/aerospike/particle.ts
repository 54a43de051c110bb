/**
 * Wire encodings of bin values (particles) and user keys, and helpers that build bins
 * from JS values.
 *
 * Bytes-typed values (strings, blobs, HLL, lists, maps, GeoJSON text) are carried as raw
 * bytes; lists and maps are never decoded on the backup path.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { copyBytes } from "./_arena.ts";
import { type MsgValue, unpack } from "./msgpack.ts";
import {
  type Bin,
  type BoolBin,
  type BytesBin,
  type FloatBin,
  type IntegerBin,
  type NullBin,
  ParticleType,
  type UserKey,
} from "./record.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Particle types whose value is raw bytes ({@linkcode BytesBin}). */
const BYTES_TYPES: ReadonlySet<number> = new Set([3, 4, 7, 8, 9, 10, 11, 12, 18, 19, 20, 23]);

/**
 * Whether a particle type carries raw bytes (string, blob, HLL, list, map, GeoJSON).
 *
 * @param type A particle type id.
 * @returns `true` for the {@linkcode BytesBin} types.
 */
export function isBytesParticle(type: number): type is BytesBin["type"] {
  return BYTES_TYPES.has(type);
}

/**
 * Size in bytes of a bin's wire value (GeoJSON includes the 3-byte empty cell header).
 *
 * @param bin The bin.
 * @returns The value size.
 */
export function particleSize(bin: Bin): number {
  switch (bin.type) {
    case ParticleType.NULL:
      return 0;
    case ParticleType.INTEGER:
    case ParticleType.FLOAT:
      return 8;
    case ParticleType.BOOL:
      return 1;
    case ParticleType.GEOJSON:
      return 3 + bin.value.length;
    default:
      return bin.value.length;
  }
}

/**
 * Appends a bin's wire value (no name, no type byte). GeoJSON is written with flags 0
 * and no cells: the server computes the cells itself.
 *
 * @param w Destination.
 * @param bin The bin.
 */
export function writeParticle(w: ByteWriter, bin: Bin): void {
  switch (bin.type) {
    case ParticleType.NULL:
      return;
    case ParticleType.INTEGER:
      w.i64(bin.value);
      return;
    case ParticleType.FLOAT:
      w.f64(bin.value);
      return;
    case ParticleType.BOOL:
      w.u8(bin.value ? 1 : 0);
      return;
    case ParticleType.GEOJSON:
      w.u8(0);
      w.u16(0);
      w.bytes(bin.value);
      return;
    default:
      w.bytes(bin.value);
  }
}

function invalid(message: string, offset: number): AerobakError {
  return new AerobakError("MESSAGE_INVALID", `${message} at byte offset ${offset}`, {
    location: { offset },
  });
}

/**
 * Reads a big-endian integer value of 1..8 bytes (the Go client accepts short ints).
 *
 * @param view View over the buffer.
 * @param offset Value start.
 * @param length Value length.
 * @returns The int64 value.
 */
export function readIntValue(view: DataView, offset: number, length: number): bigint {
  if (length === 8) return view.getBigInt64(offset);
  if (length < 1 || length > 8) throw invalid(`Invalid integer of ${length} bytes`, offset);
  let v = 0n;
  for (let i = 0; i < length; i++) v = (v << 8n) | BigInt(view.getUint8(offset + i));
  return v;
}

/**
 * Checks a bin value as it lies in a reply and tells where its data starts: sizes that
 * fit the type, a GeoJSON cell header that fits the value (its JSON text follows it).
 *
 * @param view A view of the buffer holding the value.
 * @param offset Value start.
 * @param length Value length.
 * @param type Particle type.
 * @param name Bin name (for errors).
 * @returns Bytes to skip before the data (GeoJSON's cell header; 0 for other types).
 * @throws {AerobakError} `MESSAGE_INVALID` for a malformed value, `PARTICLE_UNSUPPORTED`
 * for a type backups cannot hold (vector, obsolete types).
 */
export function particleSkip(
  view: DataView,
  offset: number,
  length: number,
  type: number,
  name: string,
): number {
  switch (type) {
    case ParticleType.NULL:
      return 0;
    case ParticleType.INTEGER:
      if (length < 1 || length > 8) throw invalid(`Invalid integer of ${length} bytes`, offset);
      return 0;
    case ParticleType.FLOAT:
      if (length !== 8) {
        throw invalid(`Invalid float bin ${JSON.stringify(name)} of ${length} bytes`, offset);
      }
      return 0;
    case ParticleType.BOOL:
      if (length !== 1) {
        throw invalid(`Invalid bool bin ${JSON.stringify(name)} of ${length} bytes`, offset);
      }
      return 0;
    case ParticleType.GEOJSON: {
      if (length < 3) {
        throw invalid(`Invalid GeoJSON bin ${JSON.stringify(name)} of ${length} bytes`, offset);
      }
      const skip = 3 + 8 * view.getUint16(offset + 1);
      if (skip > length) {
        throw invalid(
          `Invalid GeoJSON bin ${JSON.stringify(name)}: cell header longer than value`,
          offset,
        );
      }
      return skip;
    }
    default:
      if (BYTES_TYPES.has(type)) return 0;
      throw new AerobakError(
        "PARTICLE_UNSUPPORTED",
        `Cannot decode bin ${
          JSON.stringify(name)
        }: particle type ${type} is not supported, at byte offset ${offset}`,
        { location: { offset } },
      );
  }
}

/**
 * Decodes a bin value. Bytes-typed values are copied (into a shared chunk, see
 * `_arena.ts`) so the bin outlives the frame buffer; GeoJSON loses its cell header.
 *
 * @param buf The buffer holding the value.
 * @param view A DataView over the same bytes as `buf` (`byteOffset` equal).
 * @param offset Value start.
 * @param length Value length.
 * @param type Particle type.
 * @param name Bin name.
 * @returns The bin.
 * @throws {AerobakError} `MESSAGE_INVALID` for a malformed value, `PARTICLE_UNSUPPORTED`
 * for a type backups cannot hold (vector, obsolete types).
 */
export function readParticle(
  buf: Uint8Array,
  view: DataView,
  offset: number,
  length: number,
  type: number,
  name: string,
): Bin {
  const skip = particleSkip(view, offset, length, type, name);
  switch (type) {
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
        type: type as BytesBin["type"],
        value: copyBytes(buf, offset + skip, offset + length),
      };
  }
}

/**
 * Size of a user key's KEY-field data (particle byte + value).
 *
 * @param key The key.
 * @returns Size in bytes.
 */
export function userKeySize(key: UserKey): number {
  return 1 + (key.type === 1 || key.type === 2 ? 8 : key.value.length);
}

/**
 * Appends a user key as the KEY field carries it: particle type byte, then the value.
 *
 * @param w Destination.
 * @param key The key.
 */
export function writeUserKey(w: ByteWriter, key: UserKey): void {
  w.u8(key.type);
  if (key.type === 1) w.i64(key.value);
  else if (key.type === 2) w.f64(key.value);
  else w.bytes(key.value);
}

/**
 * Decodes the data of a KEY field (copied). Language-blob keys are returned as BLOB.
 *
 * @param buf Buffer.
 * @param view DataView over `buf`.
 * @param offset Start of the field data (the particle type byte).
 * @param length Field data length.
 * @returns The key.
 * @throws {AerobakError} `MESSAGE_INVALID` for an empty or malformed key.
 */
export function readUserKey(
  buf: Uint8Array,
  view: DataView,
  offset: number,
  length: number,
): UserKey {
  const type = checkKeyField(buf, offset, length);
  switch (type) {
    case ParticleType.INTEGER:
      return { type: 1, value: readIntValue(view, offset + 1, length - 1) };
    case ParticleType.FLOAT:
      return { type: 2, value: view.getFloat64(offset + 1) };
    case ParticleType.STRING:
      return { type: 3, value: copyBytes(buf, offset + 1, offset + length) };
    default:
      return { type: 4, value: copyBytes(buf, offset + 1, offset + length) };
  }
}

/**
 * Checks a KEY field's data (particle type byte, then the value).
 *
 * @param buf The buffer.
 * @param offset Start of the field's data.
 * @param length Its length.
 * @returns The key's particle type: 1 integer, 2 float, 3 string, or a blob type (4, 7..12).
 * @throws {AerobakError} `MESSAGE_INVALID` for an empty field, a bad size or type.
 */
export function checkKeyField(buf: Uint8Array, offset: number, length: number): number {
  if (length < 1) throw invalid("Invalid empty key field", offset);
  const type = buf[offset];
  const n = length - 1;
  if (type === ParticleType.INTEGER) {
    if (n < 1 || n > 8) throw invalid(`Invalid integer of ${n} bytes`, offset + 1);
  } else if (type === ParticleType.FLOAT) {
    if (n !== 8) throw invalid(`Invalid float key of ${n} bytes`, offset);
  } else if (type !== ParticleType.STRING && type !== 4 && !(type >= 7 && type <= 12)) {
    throw invalid(`Invalid key particle type ${type}`, offset);
  }
  return type;
}

/**
 * Builds a NULL bin (deletes the bin when written).
 *
 * @param name Bin name.
 * @returns The bin.
 */
export function nullBin(name: string): NullBin {
  return { name, type: 0, value: null };
}

/**
 * Builds an integer bin.
 *
 * @param name Bin name.
 * @param value Value; numbers must be safe integers.
 * @returns The bin.
 */
export function intBin(name: string, value: bigint | number): IntegerBin {
  return { name, type: 1, value: BigInt.asIntN(64, BigInt(value)) };
}

/**
 * Builds a float bin (also for integral values such as `1.0`).
 *
 * @param name Bin name.
 * @param value Value.
 * @returns The bin.
 */
export function floatBin(name: string, value: number): FloatBin {
  return { name, type: 2, value };
}

/**
 * Builds a boolean bin.
 *
 * @param name Bin name.
 * @param value Value.
 * @returns The bin.
 */
export function boolBin(name: string, value: boolean): BoolBin {
  return { name, type: 17, value };
}

/**
 * Builds a string bin (UTF-8 encoded).
 *
 * @param name Bin name.
 * @param value Text.
 * @returns The bin.
 */
export function stringBin(name: string, value: string): BytesBin {
  return { name, type: 3, value: utf8Encoder.encode(value) };
}

/**
 * Builds a GeoJSON bin from its JSON text.
 *
 * @param name Bin name.
 * @param json GeoJSON text.
 * @returns The bin.
 */
export function geoJsonBin(name: string, json: string): BytesBin {
  return { name, type: 23, value: utf8Encoder.encode(json) };
}

/**
 * Builds a blob bin.
 *
 * @param name Bin name.
 * @param value Bytes.
 * @param type Blob particle type (BLOB or a language blob, or HLL). @default 4
 * @returns The bin.
 */
export function blobBin(
  name: string,
  value: Uint8Array,
  type: 4 | 7 | 8 | 9 | 10 | 11 | 12 | 18 = 4,
): BytesBin {
  return { name, type, value };
}

/**
 * Builds a list bin from raw msgpack.
 *
 * @param name Bin name.
 * @param msgpack Msgpack bytes of the list.
 * @returns The bin.
 */
export function listBin(name: string, msgpack: Uint8Array): BytesBin {
  return { name, type: 20, value: msgpack };
}

/**
 * Builds a map bin from raw msgpack.
 *
 * @param name Bin name.
 * @param msgpack Msgpack bytes of the map.
 * @returns The bin.
 */
export function mapBin(name: string, msgpack: Uint8Array): BytesBin {
  return { name, type: 19, value: msgpack };
}

/**
 * A bin's value as a plain JS value, for tests and debugging: int → bigint, float →
 * number, string/GeoJSON → string, bool → boolean, null → null, list/map → decoded
 * msgpack ({@linkcode unpack}), blobs and HLL → their bytes.
 *
 * @param bin The bin.
 * @returns The value.
 * @throws {AerobakError} `MSGPACK_INVALID` for a list/map that is not valid msgpack.
 */
export function binToJs(bin: Bin): MsgValue | Uint8Array {
  if (bin.type === ParticleType.STRING || bin.type === ParticleType.GEOJSON) {
    return utf8Decoder.decode(bin.value);
  }
  if (bin.type === ParticleType.LIST || bin.type === ParticleType.MAP) return unpack(bin.value);
  return bin.value;
}
