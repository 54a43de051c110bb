/**
 * Batch reads by digest (wire-protocol.md §8, `official-node-client.jsonl` #56–#58): the
 * records whose master is one node in one request, each row naming namespace and set (and
 * the user key, when known, which the server then checks: result 19 KEY_MISMATCH), an
 * optional batch-level filter expression (result 27 FILTERED_OUT for the records it
 * rejects), and one answer per row carrying the batch index in its transaction_ttl slot.
 *
 * As for batch writes, nothing here throws for a failed node: the rows it did not answer
 * get a negative client code, so the caller can retry exactly those.
 *
 * @module
 */

import { ByteWriter } from "./byte_writer.ts";
import { readLimits } from "./connection.ts";
import { unansweredCode } from "./batch.ts";
import {
  createMessageHeader,
  dataViewOf,
  FieldType,
  Info1,
  Info3,
  MSG_HEADER_SIZE,
  readMessageHeader,
  readName,
  writeField,
} from "./message.ts";
import type { Node } from "./node.ts";
import { readParticle } from "./particle.ts";
import { beginProto, endProto, ProtoType } from "./proto.ts";
import type { Bin, UserKey } from "./record.ts";
import { BatchFlags, writeBatchReadRow, writeReplyHeader } from "./requests.ts";
import { ResultCode } from "./result_code.ts";
import { messageBody, replyError } from "./_reply.ts";

/** One record to read. */
export interface BatchReadKey {
  /** Namespace. */
  namespace: string;
  /** Set, `""` for none (the server then does not check it). */
  set: string;
  /** The 20-byte digest. */
  digest: Uint8Array;
  /** The user key: sent when given, and the server answers 19 when the stored one differs. */
  key?: UserKey;
}

/** Options of a batch read. */
export interface BatchReadOptions {
  /** Only these bins. @default all */
  binNames?: readonly string[];
  /** Wire bytes of a filter expression applied to every record (27 when it says no). */
  filterExpression?: Uint8Array;
  /** Limit of each request, ms (also sent as the server-side timeout). @default 10000 */
  totalTimeoutMs?: number;
  /** Longest wait for reply bytes, ms. @default 10000 */
  socketTimeoutMs?: number;
}

/** The answer for one record. */
export interface BatchReadResult {
  /**
   * 0 found, 2 not found, 27 filtered out, 19 key mismatch, 4 set mismatch (or a bad
   * request), other server codes; negative client codes when no node answered.
   */
  resultCode: number;
  /** Generation (0 unless found). */
  generation: number;
  /** Void time in Citrusleaf-epoch seconds (0 never expires). */
  voidTime: number;
  /** The bins, when found. */
  bins?: Bin[];
}

/** Marks a result slot no reply has filled yet. */
const UNANSWERED = -0x7fffffff;

/** The batch flags of the Node client (and C asrestore). */
const BATCH_FLAGS = BatchFlags.ALLOW_INLINE | BatchFlags.REPORT_ALL_ERRORS |
  BatchFlags.REPORT_ERROR_REC;

/**
 * Encodes a batch read of some keys: a full row (namespace, set, key, bins) where it
 * differs from the row before, a REPEAT row otherwise (records without a key of the same
 * set), as the Node client does.
 *
 * @param keys Every key of the caller.
 * @param indexes The ones to send (their positions are the batch indexes).
 * @param options Bins, filter, timeout.
 * @param w Writer to reuse (reset first).
 * @returns The whole message (a view of `w`).
 */
export function encodeBatchGetRequest(
  keys: readonly BatchReadKey[],
  indexes: readonly number[],
  options: BatchReadOptions,
  w: ByteWriter = new ByteWriter(512),
): Uint8Array {
  const bins = options.binNames ?? [];
  const filter = options.filterExpression;
  w.reset();
  const p = beginProto(w);
  writeReplyHeader(w, {
    info1: Info1.BATCH,
    transactionTtl: options.totalTimeoutMs ?? 10000,
    nFields: filter ? 2 : 1,
  });
  if (filter) writeField(w, FieldType.FILTER_EXP, filter);
  const sizeAt = w.reserve(4);
  w.u8(FieldType.BATCH_INDEX);
  w.u32(indexes.length);
  w.u8(BATCH_FLAGS);
  let prev: BatchReadKey | undefined;
  for (const i of indexes) {
    const k = keys[i];
    // Keyed rows differ from every other row: they are never repeated.
    const repeat = prev !== undefined && k.key === undefined && prev.key === undefined &&
      prev.namespace === k.namespace && prev.set === k.set;
    writeBatchReadRow(w, i, k, repeat, bins);
    prev = k;
  }
  w.setU32At(sizeAt, w.length - sizeAt - 4);
  endProto(w, p, ProtoType.MESSAGE);
  return w.subarray();
}

/**
 * Reads the keys `indexes` of `keys` from `node` in one batch request and stores each
 * answer at its index in `results`.
 *
 * @param node The master node of every key listed.
 * @param keys The caller's keys.
 * @param indexes Positions (ascending) of the keys for this node.
 * @param results Per key; the listed slots are filled (negative client codes for keys the
 *   node did not answer; a whole-batch server error is stored for every listed key).
 * @param options Bins, filter, timeouts.
 * @param poolWaitMs Wait limit for a pooled connection.
 */
export async function batchReadNode(
  node: Node,
  keys: readonly BatchReadKey[],
  indexes: readonly number[],
  results: BatchReadResult[],
  options: BatchReadOptions,
  poolWaitMs: number,
): Promise<void> {
  for (const i of indexes) results[i] = { resultCode: UNANSWERED, generation: 0, voidTime: 0 };
  const finish = (code: number) => {
    for (const i of indexes) if (results[i].resultCode === UNANSWERED) results[i].resultCode = code;
  };
  let conn;
  try {
    conn = await node.pool.acquire(poolWaitMs);
  } catch (err) {
    finish(unansweredCode(err));
    return;
  }
  const sent = new Set(indexes);
  const limits = readLimits(options.socketTimeoutMs ?? 10000, options.totalTimeoutMs ?? 10000);
  const h = createMessageHeader();
  conn.begin("batch-read");
  try {
    await conn.write(encodeBatchGetRequest(keys, indexes, options, conn.writer), limits);
    for (;;) {
      const body = messageBody(conn, await conn.read(limits));
      const view = dataViewOf(body);
      let off = 0;
      while (off < body.length) {
        readMessageHeader(view, off, h);
        if ((h.info3 & Info3.LAST) !== 0) {
          finish(h.resultCode !== 0 ? h.resultCode : ResultCode.BATCH_FAILED);
          node.pool.release(conn);
          return;
        }
        const idx = h.transactionTtl;
        if (!sent.has(idx)) {
          throw conn.error("MESSAGE_INVALID", `reply for batch index ${idx}, which was not sent`);
        }
        off += MSG_HEADER_SIZE;
        for (let f = 0; f < h.nFields; f++) {
          if (off + 4 > body.length) throw conn.error("MESSAGE_INVALID", `truncated field ${f}`);
          off += 4 + view.getUint32(off);
        }
        const result: BatchReadResult = {
          resultCode: h.resultCode,
          generation: h.generation,
          voidTime: h.recordTtl,
        };
        const bins: Bin[] = [];
        for (let o = 0; o < h.nOps; o++) {
          if (off + 8 > body.length) throw conn.error("MESSAGE_INVALID", `truncated op ${o}`);
          const size = view.getUint32(off);
          const end = off + 4 + size;
          const nameLength = body[off + 7];
          const valueAt = off + 8 + nameLength;
          if (size < 4 || end > body.length || end < valueAt) {
            throw conn.error("MESSAGE_INVALID", `invalid op size ${size}`);
          }
          const name = readName(body, off + 8, nameLength);
          bins.push(readParticle(body, view, valueAt, end - valueAt, body[off + 5], name));
          off = end;
        }
        if (h.resultCode === 0) result.bins = bins;
        results[idx] = result;
      }
    }
  } catch (err) {
    node.pool.discard(conn);
    finish(unansweredCode(replyError(conn, err)));
  }
}
