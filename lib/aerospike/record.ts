/**
 * The record model shared by the wire codec, the file formats and the jobs.
 *
 * Values are kept in the form that costs least between the wire and a backup file:
 * strings, GeoJSON, blobs, HLLs, lists and maps stay raw bytes (lists and maps are the
 * server's msgpack, never decoded), integers are `bigint` so every int64 is exact, floats
 * are `number`, and the particle type always travels with the value so a float `1.0` is
 * never mistaken for an integer.
 *
 * @module
 */

/** Aerospike particle (value) types, as on the wire. */
export const ParticleType = {
  NULL: 0,
  INTEGER: 1,
  FLOAT: 2,
  STRING: 3,
  BLOB: 4,
  JAVA_BLOB: 7,
  CSHARP_BLOB: 8,
  PYTHON_BLOB: 9,
  RUBY_BLOB: 10,
  PHP_BLOB: 11,
  ERLANG_BLOB: 12,
  VECTOR: 16,
  BOOL: 17,
  HLL: 18,
  MAP: 19,
  LIST: 20,
  GEOJSON: 23,
} as const;

/** One of the {@linkcode ParticleType} values. */
export type ParticleTypeId = (typeof ParticleType)[keyof typeof ParticleType];

/** A bin whose value is absent (`- N name` in ASB). */
export interface NullBin {
  /** Bin name (at most 15 bytes of UTF-8). */
  name: string;
  /** Always {@linkcode ParticleType.NULL}. */
  type: 0;
  /** Always `null`. */
  value: null;
}

/** A 64-bit signed integer bin. */
export interface IntegerBin {
  /** Bin name. */
  name: string;
  /** Always {@linkcode ParticleType.INTEGER}. */
  type: 1;
  /** The exact int64 value. */
  value: bigint;
}

/** A double-precision float bin. */
export interface FloatBin {
  /** Bin name. */
  name: string;
  /** Always {@linkcode ParticleType.FLOAT}. */
  type: 2;
  /** The value; NaN and infinities allowed. */
  value: number;
}

/** A boolean bin. */
export interface BoolBin {
  /** Bin name. */
  name: string;
  /** Always {@linkcode ParticleType.BOOL}. */
  type: 17;
  /** The value. */
  value: boolean;
}

/**
 * A bin whose value is bytes: a string or GeoJSON (raw UTF-8 text, possibly invalid UTF-8,
 * kept as stored), a blob of any language type, an HLL, or a list or map (the server's raw
 * msgpack, including the ordered-collection extension header).
 */
export interface BytesBin {
  /** Bin name. */
  name: string;
  /** STRING, GEOJSON, BLOB, a language blob, HLL, MAP or LIST. */
  type: 3 | 4 | 7 | 8 | 9 | 10 | 11 | 12 | 18 | 19 | 20 | 23;
  /** The raw value bytes (for GeoJSON: the JSON text without the cell header). */
  value: Uint8Array;
}

/** A bin of a record. */
export type Bin = NullBin | IntegerBin | FloatBin | BoolBin | BytesBin;

/** A user key as stored with a record ("send key"). */
export type UserKey =
  | { type: 1; value: bigint }
  | { type: 2; value: number }
  | { type: 3; value: Uint8Array }
  | { type: 4; value: Uint8Array };

/**
 * A record as read by a scan, written to a backup file, or restored.
 *
 * `voidTime` is the absolute expiry in seconds since the Citrusleaf epoch
 * (2010-01-01T00:00:00Z), `0` for a record that never expires: exactly what scans return
 * and what ASB's `+ t` line holds.
 */
export interface AerospikeRecord {
  /** Namespace name. */
  namespace: string;
  /** Set name, `""` when the record has no set. */
  set: string;
  /** The 20-byte RIPEMD-160 digest. */
  digest: Uint8Array;
  /** The stored user key, when the record was written with one. */
  key?: UserKey;
  /** Generation (0..65535). */
  generation: number;
  /** Void time in seconds since the Citrusleaf epoch; 0 = never expires. */
  voidTime: number;
  /** The bins, in the order the server returned them. */
  bins: Bin[];
}

/** Unix time in seconds of the Citrusleaf epoch, 2010-01-01T00:00:00Z. */
export const CITRUSLEAF_EPOCH_SECONDS = 1262304000;

/** The name of the transaction monitor set, which backups never include. */
export const MRT_MONITOR_SET = "<ERO~MRT";
