/**
 * Evaluates filter expressions (decoded by the codec's `decodeExpression`) against stored
 * records, as the server does for scans and record commands: metadata (last-update time,
 * void time, TTL, set name, key existence, digest modulo, record size), bins, literals,
 * comparisons and AND/OR/NOT. An expression whose value is unknown (a missing bin, a type
 * mismatch) filters the record out.
 *
 * @module
 */

import { decodeExpression, type ExpNode, ExpType } from "../aerospike/expression.ts";
import type { Bin } from "../aerospike/record.ts";
import type { EmulatedCluster } from "./cluster.ts";
import type { RecordFilter } from "./record_commands.ts";
import type { StoredRecord } from "./record_store.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";

type Value = bigint | number | string | boolean | Uint8Array | null;

const cache = new WeakMap<Uint8Array, ExpNode>();
const decoder = new TextDecoder();

/**
 * Decodes an expression once per bytes object.
 *
 * @param bytes The FILTER_EXP field.
 * @returns The expression tree.
 * @throws {AerobakError} `EXPRESSION_UNSUPPORTED` or `MSGPACK_INVALID` from the decoder.
 */
export function compileFilter(bytes: Uint8Array): ExpNode {
  let node = cache.get(bytes);
  if (node === undefined) cache.set(bytes, node = decodeExpression(bytes));
  return node;
}

/**
 * Builds the filter evaluator of a cluster (it reads the cluster's clock).
 *
 * @param cluster The cluster.
 * @returns A {@linkcode RecordFilter}; it throws for an expression it cannot decode.
 */
export function recordFilter(cluster: EmulatedCluster): RecordFilter {
  return (bytes, record) => evaluate(compileFilter(bytes), record, cluster.clock.now()) === true;
}

/**
 * Evaluates an expression against a record.
 *
 * @param node The expression.
 * @param r The record.
 * @param nowMs Current time, ms since the Unix epoch.
 * @returns The value; `null` when unknown.
 */
export function evaluate(node: ExpNode, r: StoredRecord, nowMs: number): Value {
  switch (node.kind) {
    case "int":
    case "float":
    case "str":
    case "bool":
    case "blob":
      return node.value;
    case "nil":
      return null;
    case "and": {
      for (const a of node.args) if (evaluate(a, r, nowMs) !== true) return false;
      return true;
    }
    case "or": {
      for (const a of node.args) if (evaluate(a, r, nowMs) === true) return true;
      return false;
    }
    case "not": {
      const v = evaluate(node.arg, r, nowMs);
      return typeof v === "boolean" ? !v : null;
    }
    case "cmp":
      return compare(node.op, evaluate(node.left, r, nowMs), evaluate(node.right, r, nowMs));
    case "meta":
      return meta(node.op, r, nowMs);
    case "digestModulo": {
      if (node.mod <= 0n) return null;
      // UNSURE which digest bytes the server reduces; the last four, little-endian, here.
      const v = r.digest[16] | (r.digest[17] << 8) | (r.digest[18] << 16) | (r.digest[19] << 24);
      return BigInt(v >>> 0) % node.mod;
    }
    case "key": {
      const k = r.key;
      if (k === undefined) return null;
      if (node.type === ExpType.INT && k.type === 1) return k.value;
      if (node.type === ExpType.STRING && k.type === 3) return decoder.decode(k.value);
      if (node.type === ExpType.BLOB && k.type === 4) return k.value;
      return null;
    }
    case "bin":
      return binValue(r.bins.find((b) => b.name === node.name), node.type);
    case "binType": {
      const b = r.bins.find((x) => x.name === node.name);
      return BigInt(b === undefined ? 0 : b.type);
    }
    default:
      return null;
  }
}

function meta(op: string, r: StoredRecord, nowMs: number): Value {
  switch (op) {
    case "lastUpdate":
      return BigInt(r.lutMs) * 1_000_000n;
    case "sinceUpdate":
      return BigInt(Math.max(0, nowMs - r.lutMs));
    case "voidTime":
      return r.voidTime === 0
        ? -1n
        : BigInt(r.voidTime + CITRUSLEAF_EPOCH_SECONDS) * 1_000_000_000n;
    case "ttl": {
      if (r.voidTime === 0) return -1n;
      const left = r.voidTime + CITRUSLEAF_EPOCH_SECONDS - Math.floor(nowMs / 1000);
      return BigInt(Math.max(left, 0));
    }
    case "setName":
      return r.set;
    case "keyExists":
      return r.key !== undefined;
    case "isTombstone":
      return false;
    case "recordSize":
      return BigInt(estimateSize(r.bins));
    default:
      return null;
  }
}

function estimateSize(bins: readonly Bin[]): number {
  let n = 0;
  for (const b of bins) {
    n += 4 + b.name.length + (b.value instanceof Uint8Array ? b.value.length : 8);
  }
  return n;
}

function binValue(b: Bin | undefined, type: number): Value {
  if (b === undefined) return null;
  switch (type) {
    case ExpType.INT:
      return b.type === 1 ? b.value : null;
    case ExpType.FLOAT:
      return b.type === 2 ? b.value : null;
    case ExpType.BOOL:
      return b.type === 17 ? b.value : null;
    case ExpType.STRING:
      return b.type === 3 ? decoder.decode(b.value) : null;
    case ExpType.BLOB:
      return b.type === 4 ? b.value : null;
    case ExpType.GEO:
      return b.type === 23 ? decoder.decode(b.value) : null;
    case ExpType.LIST:
      return b.type === 20 ? b.value : null;
    case ExpType.MAP:
      return b.type === 19 ? b.value : null;
    case ExpType.HLL:
      return b.type === 18 ? b.value : null;
    default:
      return null;
  }
}

function compare(op: string, a: Value, b: Value): Value {
  if (a === null || b === null) return null;
  let c: number;
  if (typeof a === "bigint" && typeof b === "bigint") c = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === "number" && typeof b === "number") c = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === "string" && typeof b === "string") c = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === "boolean" && typeof b === "boolean") c = Number(a) - Number(b);
  else if (a instanceof Uint8Array && b instanceof Uint8Array) c = compareBytes(a, b);
  else return null;
  switch (op) {
    case "eq":
      return c === 0;
    case "ne":
      return c !== 0;
    case "gt":
      return c > 0;
    case "ge":
      return c >= 0;
    case "lt":
      return c < 0;
    case "le":
      return c <= 0;
    default:
      return null;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
