/**
 * Batch writes: {@linkcode BatchRows} holds records already encoded as batch rows (so the
 * caller can drop each record at once), and {@linkcode batchWriteRows} sends the rows
 * whose master is one node in one request, reading back a result code per row (the batch
 * index travels in the transaction_ttl slot of each answer).
 *
 * Nothing here throws for a failed node: the rows it did not answer get a negative
 * client code, so the caller can retry exactly those.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { type Connection, readLimits } from "./connection.ts";
import {
  createMessageHeader,
  createOpView,
  dataViewOf,
  forEachField,
  forEachOp,
  Info3,
  MSG_HEADER_SIZE,
  readMessageHeader,
} from "./message.ts";
import type { Node } from "./node.ts";
import type { WritePolicy } from "./policy.ts";
import type { AerospikeRecord } from "./record.ts";
import {
  BatchFlags,
  type BatchWriteRowBits,
  batchWriteRowBits,
  beginBatchRequest,
  endBatchRequest,
  writeBatchWriteRow,
} from "./requests.ts";
import { ResultCode } from "./result_code.ts";
import { RowArena } from "./row_arena.ts";
import { checkTtl } from "./write.ts";
import { messageBody, replyError } from "./_reply.ts";

/** Marks a slot of `results` no reply has filled yet. */
const UNANSWERED = -0x7fffffff;

/** The batch flags of C asrestore and the Node client. */
const BATCH_FLAGS = BatchFlags.ALLOW_INLINE | BatchFlags.REPORT_ALL_ERRORS |
  BatchFlags.REPORT_ERROR_REC;

/** Bytes of a row before its digest (the batch index). */
const INDEX_SIZE = 4;

function noop(): void {}

/**
 * Records encoded as self-contained batch-write rows in one reusable buffer, with what
 * routing needs (namespace, partition) beside each. A row's batch index is its position
 * here, so a request for any subset of the rows is the rows' bytes copied as they are.
 *
 * Made for reuse: {@linkcode clear} keeps the buffers, so once grown to the largest batch,
 * adding a row allocates nothing.
 *
 * @example Encode records, then send them
 * ```ts ignore
 * const rows = new BatchRows({ generationPolicy: "expectGenGreater" }, 128);
 * for (const r of records) rows.add(r, -1); // r can be dropped now
 * const codes = await cluster.batchWriteRows(rows);
 * ```
 */
export class BatchRows extends RowArena {
  readonly #bits: BatchWriteRowBits;
  #sets: string[] = [];

  /**
   * Creates an empty set of rows.
   *
   * @param policy Exists action, generation policy, send key (encoded in every row) and
   *   timeouts (of each request). @default {}
   * @param capacity Rows expected; more grow the buffers. @default 128
   * @throws {RangeError} For an invalid policy.
   */
  constructor(policy: WritePolicy = {}, capacity = 128) {
    super(policy, capacity, 128);
    this.#bits = batchWriteRowBits(this.policy);
  }

  /**
   * Encodes a record as the next row. Nothing of the record is kept (namespace and set
   * strings are referenced, not copied).
   *
   * @param record The record (its digest is used as is).
   * @param ttl TTL: -2 keep, -1 never expire, 0 namespace default, or seconds.
   * @returns The row's index.
   * @throws {RangeError} For an invalid TTL or digest, or a bin name over 15 bytes (no
   *   row is added).
   */
  add(record: AerospikeRecord, ttl: number): number {
    checkTtl(ttl);
    const i = this.beginRow();
    try {
      writeBatchWriteRow(this.arena, i, record, ttl, this.#bits);
    } catch (e) {
      this.dropRow();
      throw e;
    }
    this.#sets[i] = record.set;
    this.endRow(record.namespace, record.digest);
    return i;
  }

  /**
   * The set of a row.
   *
   * @param i Row index.
   * @returns The set, `""` for none.
   */
  set(i: number): string {
    this.check(i);
    return this.#sets[i];
  }

  /**
   * The digest of a row.
   *
   * @param i Row index.
   * @returns A copy of the 20 bytes.
   */
  digest(i: number): Uint8Array {
    this.check(i);
    const at = this.starts[i] + INDEX_SIZE;
    return this.arena.subarray().slice(at, at + 20);
  }

  /**
   * Encodes the batch request of some rows: their bytes as they are (runs of consecutive
   * rows in one copy), so each row keeps its index.
   *
   * @param indexes Row indexes, ascending.
   * @param w Writer to reuse.
   * @returns The whole message (a view of `w`).
   */
  encodeRequest(indexes: readonly number[], w: ByteWriter = new ByteWriter()): Uint8Array {
    beginBatchRequest(w, indexes.length, this.policy.totalTimeoutMs, BATCH_FLAGS);
    this.copyRows(indexes, w);
    return endBatchRequest(w);
  }

  /** A kept row is renumbered: its batch index is its position. */
  protected override moved(from: number, to: number): void {
    this.arena.setU32At(this.starts[to], to);
    this.#sets[to] = this.#sets[from];
  }
}

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

/** Whether ascending `sorted` holds `v`. */
function includes(sorted: readonly number[], v: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = sorted[mid];
    if (x === v) return true;
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Sends the rows `indexes` of `rows` to `node` in one batch write (under `rows.policy`)
 * and stores each row's result code at its index in `results`.
 *
 * @param node The master node of every row listed.
 * @param rows The caller's rows.
 * @param indexes Indexes (ascending) of the rows for this node.
 * @param results Result code per row of `rows`; the listed slots are filled with the
 *   server's code, or a negative client code (see {@linkcode unansweredCode}) when the
 *   node did not answer for the row. A whole-batch server error (e.g. 150
 *   BATCH_DISABLED) is stored for every listed row.
 * @param poolWaitMs Wait limit for a pooled connection.
 */
export function batchWriteRows(
  node: Node,
  rows: BatchRows,
  indexes: readonly number[],
  results: Int32Array,
  poolWaitMs: number,
): Promise<void> {
  const policy = rows.policy;
  // One header and op view for every answer of the batch.
  const h = createMessageHeader();
  const op = createOpView();
  return exchangeRows(node, indexes, results, poolWaitMs, async (conn) => {
    const limits = readLimits(policy.socketTimeoutMs, policy.totalTimeoutMs);
    conn.begin("batch-write");
    await conn.write(rows.encodeRequest(indexes, conn.writer), limits);
    for (;;) {
      const body = messageBody(conn, await conn.read(limits));
      const view = dataViewOf(body);
      let off = 0;
      while (off < body.length) {
        readMessageHeader(view, off, h);
        if ((h.info3 & Info3.LAST) !== 0) {
          return h.resultCode !== 0 ? h.resultCode : ResultCode.BATCH_FAILED;
        }
        const idx = h.transactionTtl;
        if (!includes(indexes, idx)) {
          throw conn.error("MESSAGE_INVALID", `reply for batch index ${idx}, which was not sent`);
        }
        results[idx] = h.resultCode;
        off = forEachField(view, body, off + MSG_HEADER_SIZE, h.nFields, noop);
        off = forEachOp(view, body, off, h.nOps, noop, op);
      }
    }
  });
}

/**
 * The frame of one request of rows to a node (a batch, a run of pipelined messages): the
 * listed result slots start unanswered, `exchange` runs on a pooled connection of the
 * node and fills them, and the slots it leaves get a client code: the failure's (see
 * {@linkcode unansweredCode}) when it threw, else the code it returned. The connection
 * goes back to the pool when `exchange` returns, and is closed when it throws.
 *
 * @param node The node.
 * @param indexes The rows sent.
 * @param results Result code per row; the listed slots are filled.
 * @param poolWaitMs Wait limit for a pooled connection.
 * @param exchange Sends the request and reads the answers into `results`.
 *   Returns the code of the rows it left unanswered.
 */
export async function exchangeRows(
  node: Node,
  indexes: readonly number[],
  results: Int32Array,
  poolWaitMs: number,
  exchange: (conn: Connection) => Promise<number>,
): Promise<void> {
  for (const i of indexes) results[i] = UNANSWERED;
  let code: number;
  let conn: Connection | undefined;
  try {
    conn = await node.pool.acquire(poolWaitMs);
    code = await exchange(conn);
    node.pool.release(conn);
  } catch (err) {
    if (conn === undefined) code = unansweredCode(err);
    else {
      node.pool.discard(conn);
      code = unansweredCode(replyError(conn, err));
    }
  }
  for (const i of indexes) if (results[i] === UNANSWERED) results[i] = code;
}
