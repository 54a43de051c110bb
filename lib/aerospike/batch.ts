/**
 * Batch writes to one node: one request holding every record whose master is that node,
 * and a result code per record read back from the reply (the batch index travels in the
 * transaction_ttl slot of each answer).
 *
 * Nothing here throws for a failed node: the records it did not answer get a negative
 * client code, so the caller can retry exactly those.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { readLimits } from "./connection.ts";
import {
  dataViewOf,
  forEachField,
  forEachOp,
  Info3,
  MSG_HEADER_SIZE,
  readMessageHeader,
} from "./message.ts";
import type { Node } from "./node.ts";
import type { ResolvedWritePolicy } from "./policy.ts";
import type { AerospikeRecord } from "./record.ts";
import { encodeBatchWriteRequest } from "./requests.ts";
import { ResultCode } from "./result_code.ts";
import { checkTtl } from "./write.ts";
import { messageBody, replyError } from "./_reply.ts";

/** Marks a slot of `results` no reply has filled yet. */
const UNANSWERED = -0x7fffffff;

function noop(): void {}

/**
 * The client code for records a node left unanswered because of `err`.
 *
 * @param err The failure.
 * @returns -8 no connection, -11 node not reachable (nothing sent), -18 network error or
 *   timeout (maybe applied), -20 batch failed (bad reply).
 */
export function unansweredCode(err: unknown): number {
  if (!(err instanceof AerobakError)) return ResultCode.BATCH_FAILED;
  switch (err.code) {
    case "NO_CONNECTIONS":
      return ResultCode.NO_AVAILABLE_CONNECTIONS_TO_NODE;
    case "CONNECT_FAILED":
    case "CONNECT_TIMEOUT":
    case "POOL_CLOSED":
      return ResultCode.SERVER_NOT_AVAILABLE;
    case "SOCKET_TIMEOUT":
    case "TOTAL_TIMEOUT":
    case "NETWORK_ERROR":
    case "CONNECTION_CLOSED":
      return ResultCode.NETWORK_ERROR;
    default:
      return ResultCode.BATCH_FAILED;
  }
}

/**
 * Sends the records `indexes` of `records` to `node` in one batch write and stores each
 * record's result code at its index in `results`.
 *
 * @param node The master node of every record listed.
 * @param records All records of the caller's batch.
 * @param ttls TTL per record of `records`.
 * @param indexes Indexes (into `records`) of the records for this node.
 * @param policy Resolved write policy.
 * @param results Result code per record of `records`; the listed slots are filled with the
 *   server's code, or a negative client code (see {@linkcode unansweredCode}) when the
 *   node did not answer for the record. A whole-batch server error (e.g. 150
 *   BATCH_DISABLED) is stored for every listed record.
 * @param poolWaitMs Wait limit for a pooled connection.
 */
export async function batchWrite(
  node: Node,
  records: readonly AerospikeRecord[],
  ttls: readonly number[],
  indexes: readonly number[],
  policy: ResolvedWritePolicy,
  results: Int32Array,
  poolWaitMs: number,
): Promise<void> {
  for (const i of indexes) {
    checkTtl(ttls[i]);
    results[i] = UNANSWERED;
  }
  const finish = (code: number) => {
    for (const i of indexes) if (results[i] === UNANSWERED) results[i] = code;
  };
  let conn;
  try {
    conn = await node.pool.acquire(poolWaitMs);
  } catch (err) {
    finish(unansweredCode(err));
    return;
  }
  const mine = new Uint8Array(records.length);
  for (const i of indexes) mine[i] = 1;
  const limits = readLimits(policy.socketTimeoutMs, policy.totalTimeoutMs);
  conn.begin("batch-write");
  try {
    const request = encodeBatchWriteRequest({
      records: indexes.map((i) => records[i]),
      ttls: indexes.map((i) => ttls[i]),
      indexes,
      policy,
    }, conn.writer);
    await conn.write(request, limits);
    for (;;) {
      const body = messageBody(conn, await conn.read(limits));
      const view = dataViewOf(body);
      let off = 0;
      while (off < body.length) {
        const h = readMessageHeader(view, off);
        if ((h.info3 & Info3.LAST) !== 0) {
          if (h.resultCode !== 0) finish(h.resultCode);
          else finish(ResultCode.BATCH_FAILED);
          node.pool.release(conn);
          return;
        }
        const idx = h.transactionTtl;
        if (idx >= records.length || mine[idx] !== 1) {
          throw conn.error("MESSAGE_INVALID", `reply for batch index ${idx}, which was not sent`);
        }
        results[idx] = h.resultCode;
        off = forEachField(view, body, off + MSG_HEADER_SIZE, h.nFields, noop);
        off = forEachOp(view, body, off, h.nOps, noop);
      }
    }
  } catch (err) {
    node.pool.discard(conn);
    finish(unansweredCode(replyError(conn, err)));
  }
}
