/**
 * Single-record commands (read, write, delete, touch) with the server's semantics: the
 * record-exists policies, generation checks (equal, greater-than), TTL rules (including
 * the 22 FAIL_FORBIDDEN refusal without nsup), stored keys, and the reply layout of a
 * single command or a batch row.
 *
 * @module
 */

import type { ByteWriter } from "../aerospike/byte_writer.ts";
import { partitionId } from "../aerospike/digest.ts";
import {
  encodeRecordMessage,
  Info1,
  Info2,
  Info3,
  MAX_BIN_NAME_LENGTH,
  type MessageHeader,
  OpType,
  writeReadOp,
} from "../aerospike/message.ts";
import type { RecordRequest, RequestOp } from "../aerospike/requests.ts";
import { writeReplyHeader } from "../aerospike/requests.ts";
import type { Bin, UserKey } from "../aerospike/record.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import type { EmulatedCluster, NamespaceState } from "./cluster.ts";
import { geoJsonCells } from "./_s2_cell.ts";
import { isExpired, type StoredRecord } from "./record_store.ts";

/** A record command: a decoded single-record request or one batch row. */
export type RecordCommand = RecordRequest;

/** Evaluates a filter expression against a record (`expression_eval.ts`). */
export type RecordFilter = (filter: Uint8Array, record: StoredRecord) => boolean;

/** Where a reply message goes and how it is labelled. */
export interface ReplyTarget {
  /** Destination writer (the caller frames the proto). */
  w: ByteWriter;
  /** Batch index for batch rows (transaction_ttl slot), 0 for single commands. */
  batchIndex: number;
}

const utf8 = new TextEncoder();
const TTL_NEVER = 0xffffffff;
const TTL_DONT_UPDATE = 0xfffffffe;
const MAX_TTL = 315360000; // 10 years, the server's MAX_ALLOWED_TTL

/**
 * Executes a record command and appends its reply message (one AS_MSG, no proto header).
 *
 * @param cluster The cluster.
 * @param req The command.
 * @param out Where the reply goes.
 * @param filter Filter expression evaluator.
 * @returns The result code answered.
 */
export function executeRecordCommand(
  cluster: EmulatedCluster,
  req: RecordCommand,
  out: ReplyTarget,
  filter: RecordFilter,
): number {
  const ns = cluster.namespace(req.namespace);
  if (ns === undefined) return replyStatus(out, ResultCode.INVALID_NAMESPACE, 0, 0);
  if (cluster.faults.isUnavailable(ns.config.name, partitionId(req.digest))) {
    return replyStatus(out, ResultCode.PARTITION_UNAVAILABLE, 0, 0);
  }
  const h = req.header;
  const at = out.w.length;
  try {
    if ((h.info2 & Info2.WRITE) !== 0) {
      if ((h.info2 & Info2.DELETE) !== 0) return deleteRecord(cluster, ns, req, out, filter);
      return writeRecord(cluster, ns, req, out, filter);
    }
    if ((h.info1 & Info1.READ) !== 0) return readRecord(cluster, ns, req, out, filter);
  } catch {
    // A filter expression the evaluator cannot decode: the server answers PARAMETER_ERROR.
    if (out.w.length !== at) throw new Error("Internal error: partial reply before a failure");
  }
  return replyStatus(out, ResultCode.PARAMETER_ERROR, 0, 0);
}

/**
 * Appends a reply without bins.
 *
 * @param out Destination.
 * @param resultCode Result.
 * @param generation Generation to report.
 * @param voidTime Void time to report.
 * @returns `resultCode`.
 */
export function replyStatus(
  out: ReplyTarget,
  resultCode: number,
  generation: number,
  voidTime: number,
): number {
  writeReplyHeader(out.w, {
    resultCode,
    generation,
    recordTtl: voidTime,
    transactionTtl: out.batchIndex,
  });
  return resultCode;
}

function liveRecord(
  cluster: EmulatedCluster,
  ns: NamespaceState,
  digest: Uint8Array,
): StoredRecord | undefined {
  const r = ns.store.get(digest);
  if (r === undefined) return undefined;
  if (isExpired(r, cluster.nowSeconds())) {
    // Expired records are gone for every reader, as if nsup had removed them.
    ns.store.remove(digest, false);
    return undefined;
  }
  return r;
}

function readRecord(
  cluster: EmulatedCluster,
  ns: NamespaceState,
  req: RecordCommand,
  out: ReplyTarget,
  filter: RecordFilter,
): number {
  const r = liveRecord(cluster, ns, req.digest);
  if (r === undefined) return replyStatus(out, ResultCode.KEY_NOT_FOUND, 0, 0);
  // The server's order: the set name a request names must be the record's, then the
  // filter, then the key a request sends must be the one stored (when one is).
  if (req.set !== "" && req.set !== r.set) {
    return replyStatus(out, ResultCode.PARAMETER_ERROR, 0, 0);
  }
  if (!passesFilter(req, r, filter)) {
    return replyStatus(out, ResultCode.FILTERED_OUT, r.generation, r.voidTime);
  }
  if (r.key !== undefined && req.key !== undefined && !sameKey(r.key, req.key)) {
    return replyStatus(out, ResultCode.KEY_MISMATCH, 0, 0);
  }
  const h = req.header;
  const noBins = (h.info1 & Info1.GET_NOBINDATA) !== 0;
  const all = (h.info1 & Info1.GET_ALL) !== 0;
  const names = req.ops.filter((o) => o.opType === OpType.READ).map((o) => o.bin.name);
  encodeRecordMessage(out.w, r, {
    noFields: true,
    noBins: noBins || (!all && names.length === 0),
    binNames: all ? undefined : names,
    transactionTtl: out.batchIndex,
    geoCells: geoJsonCells,
  });
  return ResultCode.OK;
}

/** Whether the command's filter expression, if it has one, lets the record through. */
function passesFilter(req: RecordCommand, r: StoredRecord, filter: RecordFilter): boolean {
  return req.filterExpression === undefined || filter(req.filterExpression, r);
}

function generationOk(h: MessageHeader, current: number): boolean {
  if ((h.info2 & Info2.GENERATION) !== 0) return h.generation === current;
  if ((h.info2 & Info2.GENERATION_GT) !== 0) return h.generation > current;
  return true;
}

function deleteRecord(
  cluster: EmulatedCluster,
  ns: NamespaceState,
  req: RecordCommand,
  out: ReplyTarget,
  filter: RecordFilter,
): number {
  const r = liveRecord(cluster, ns, req.digest);
  if (r === undefined) return replyStatus(out, ResultCode.KEY_NOT_FOUND, 0, 0);
  if (!generationOk(req.header, r.generation)) {
    return replyStatus(out, ResultCode.GENERATION_ERROR, r.generation, r.voidTime);
  }
  if (!passesFilter(req, r, filter)) {
    return replyStatus(out, ResultCode.FILTERED_OUT, r.generation, r.voidTime);
  }
  ns.store.remove(req.digest);
  return replyStatus(out, ResultCode.OK, 0, 0);
}

function sameKey(a: UserKey, b: UserKey): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 1 || a.type === 2) return a.value === b.value;
  const x = a.value;
  const y = b.value as Uint8Array;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function writeRecord(
  cluster: EmulatedCluster,
  ns: NamespaceState,
  req: RecordCommand,
  out: ReplyTarget,
  filter: RecordFilter,
): number {
  const h = req.header;
  const injected = cluster.faults.nextWrite(ns.config.name);
  if (injected !== 0) return replyStatus(out, injected, 0, 0);
  if (req.ops.length === 0) return replyStatus(out, ResultCode.PARAMETER_ERROR, 0, 0);
  let mustNotCreate = (h.info3 & (Info3.UPDATE_ONLY | Info3.REPLACE_ONLY)) !== 0;
  const isReplace = (h.info3 & (Info3.CREATE_OR_REPLACE | Info3.REPLACE_ONLY)) !== 0;
  for (const op of req.ops) {
    switch (op.opType) {
      case OpType.TOUCH:
        if (isReplace) return replyStatus(out, ResultCode.PARAMETER_ERROR, 0, 0);
        mustNotCreate = true;
        continue;
      case OpType.WRITE:
        if (op.bin.type === 0 && isReplace) {
          return replyStatus(out, ResultCode.PARAMETER_ERROR, 0, 0);
        }
        break;
      case OpType.INCR:
      case OpType.APPEND:
      case OpType.PREPEND:
      case OpType.DELETE:
        if (isReplace) return replyStatus(out, ResultCode.PARAMETER_ERROR, 0, 0);
        break;
      case OpType.READ:
        break;
      default:
        // CDT, bit, HLL and expression ops are not emulated.
        return replyStatus(out, ResultCode.UNSUPPORTED_FEATURE, 0, 0);
    }
    if (op.opType !== OpType.DELETE && utf8.encode(op.bin.name).length > MAX_BIN_NAME_LENGTH) {
      return replyStatus(out, ResultCode.BIN_NAME_TOO_LONG, 0, 0);
    }
  }
  const r = liveRecord(cluster, ns, req.digest);
  if (mustNotCreate && r === undefined) return replyStatus(out, ResultCode.KEY_NOT_FOUND, 0, 0);
  const gen = r?.generation ?? 0;
  const voidTime = r?.voidTime ?? 0;
  if ((h.info2 & Info2.CREATE_ONLY) !== 0 && r !== undefined) {
    return replyStatus(out, ResultCode.KEY_EXISTS_ERROR, gen, voidTime);
  }
  if (!generationOk(h, gen)) return replyStatus(out, ResultCode.GENERATION_ERROR, gen, voidTime);
  if (r !== undefined && req.set !== "" && req.set !== r.set) {
    return replyStatus(out, ResultCode.PARAMETER_ERROR, gen, voidTime);
  }
  if (r !== undefined && !passesFilter(req, r, filter)) {
    return replyStatus(out, ResultCode.FILTERED_OUT, gen, voidTime);
  }
  if (r?.key !== undefined && req.key !== undefined && !sameKey(r.key, req.key)) {
    return replyStatus(out, ResultCode.KEY_MISMATCH, gen, voidTime);
  }
  let ttl = h.recordTtl >>> 0;
  if (ttl === TTL_DONT_UPDATE && r === undefined) ttl = 0;
  if (ttl > MAX_TTL && ttl !== TTL_NEVER && ttl !== TTL_DONT_UPDATE) {
    return replyStatus(out, ResultCode.PARAMETER_ERROR, gen, voidTime);
  }
  const c = ns.config;
  const wouldExpire = (ttl | 0) > 0 || (ttl === 0 && c.defaultTtl !== 0);
  if (wouldExpire && c.nsupPeriod === 0 && !c.allowTtlWithoutNsup) {
    return replyStatus(out, ResultCode.FAIL_FORBIDDEN, gen, voidTime);
  }
  const bins: Bin[] = isReplace || r === undefined ? [] : r.bins.slice();
  for (const op of req.ops) {
    const rc = applyOp(bins, op);
    if (rc !== 0) return replyStatus(out, rc, gen, voidTime);
  }
  const now = cluster.nowSeconds();
  if (bins.length === 0) {
    if (r === undefined) return replyStatus(out, ResultCode.KEY_NOT_FOUND, 0, 0);
    // Deleting the last bin deletes the record.
    ns.store.remove(req.digest);
    return replyStatus(out, ResultCode.OK, 0, 0);
  }
  const record: StoredRecord = {
    namespace: c.name,
    set: r?.set ?? req.set,
    digest: req.digest,
    generation: r === undefined ? 1 : (r.generation >= 0xffff ? 1 : r.generation + 1),
    voidTime: ttl === TTL_NEVER
      ? 0
      : ttl === TTL_DONT_UPDATE
      ? voidTime
      : ttl === 0
      ? (c.defaultTtl === 0 ? 0 : now + c.defaultTtl)
      : now + ttl,
    lutMs: cluster.clock.now(),
    bins,
  };
  const key = req.key ?? r?.key;
  if (key !== undefined) record.key = key;
  ns.store.put(record);
  const respondAll = (h.info2 & Info2.RESPOND_ALL_OPS) !== 0;
  const reads = req.ops.filter((o) => o.opType === OpType.READ);
  if (respondAll) {
    writeReplyHeader(out.w, {
      generation: record.generation,
      recordTtl: record.voidTime,
      transactionTtl: out.batchIndex,
      nOps: req.ops.length,
    });
    for (const op of req.ops) writeReadOp(out.w, op.bin.name, OpType.WRITE);
    return ResultCode.OK;
  }
  if (reads.length > 0) {
    encodeRecordMessage(out.w, record, {
      noFields: true,
      binNames: reads.map((o) => o.bin.name),
      transactionTtl: out.batchIndex,
      geoCells: geoJsonCells,
    });
    return ResultCode.OK;
  }
  return replyStatus(out, ResultCode.OK, record.generation, record.voidTime);
}

function applyOp(bins: Bin[], op: RequestOp): number {
  const i = bins.findIndex((b) => b.name === op.bin.name);
  const old = i >= 0 ? bins[i] : undefined;
  switch (op.opType) {
    case OpType.WRITE:
      if (op.bin.type === 0) {
        if (i >= 0) bins.splice(i, 1);
      } else if (i >= 0) bins[i] = op.bin;
      else bins.push(op.bin);
      return 0;
    case OpType.DELETE:
      bins.length = 0;
      return 0;
    case OpType.INCR: {
      const add = op.bin;
      if (old === undefined) {
        if (add.type !== 1 && add.type !== 2) return ResultCode.PARAMETER_ERROR;
        bins.push(add);
      } else if (old.type === 1 && add.type === 1) {
        bins[i] = { name: old.name, type: 1, value: BigInt.asIntN(64, old.value + add.value) };
      } else if (old.type === 2 && add.type === 2) {
        bins[i] = { name: old.name, type: 2, value: old.value + add.value };
      } else return ResultCode.BIN_TYPE_ERROR;
      return 0;
    }
    case OpType.APPEND:
    case OpType.PREPEND: {
      const add = op.bin;
      if (add.type !== 3 && add.type !== 4) return ResultCode.PARAMETER_ERROR;
      if (old === undefined) {
        bins.push(add);
        return 0;
      }
      if (old.type !== add.type) return ResultCode.BIN_TYPE_ERROR;
      const a = op.opType === OpType.APPEND ? old.value : add.value;
      const b = op.opType === OpType.APPEND ? add.value : old.value;
      const joined = new Uint8Array(a.length + b.length);
      joined.set(a);
      joined.set(b, a.length);
      bins[i] = { name: old.name, type: old.type, value: joined };
      return 0;
    }
    default:
      return 0;
  }
}
