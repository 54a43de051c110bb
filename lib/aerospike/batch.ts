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
import { readLimits } from "./connection.ts";
import { partitionId } from "./digest.ts";
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
import { type ResolvedWritePolicy, resolveWritePolicy, type WritePolicy } from "./policy.ts";
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
import { checkTtl } from "./write.ts";
import { messageBody, replyError } from "./_reply.ts";

/** Marks a slot of `results` no reply has filled yet. */
const UNANSWERED = -0x7fffffff;

/** The batch flags of C asrestore and the Node client. */
const BATCH_FLAGS = BatchFlags.ALLOW_INLINE | BatchFlags.REPORT_ALL_ERRORS |
  BatchFlags.REPORT_ERROR_REC;

/**
 * A cleared buffer that held more than this is replaced by a small one, so a batch of
 * large records does not pin its memory for as long as the rows are reused.
 */
const KEEP_BYTES = 1 << 20;

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
export class BatchRows {
  /** The policy the rows are encoded with; its timeouts apply to each request. */
  readonly policy: ResolvedWritePolicy;
  readonly #bits: BatchWriteRowBits;
  readonly #initialBytes: number;
  #arena: ByteWriter;
  /** Row `i` is `[#starts[i], #starts[i + 1])` of the arena. */
  #starts: Int32Array;
  #partitions: Uint16Array;
  /** Per row: attempts that failed without an answer (they move it to the next replica). */
  #failures: Uint8Array;
  #namespaces: string[] = [];
  #sets: string[] = [];
  #count = 0;

  /**
   * Creates an empty set of rows.
   *
   * @param policy Exists action, generation policy, send key (encoded in every row) and
   *   timeouts (of each request). @default {}
   * @param capacity Rows expected; more grow the buffers. @default 128
   * @throws {RangeError} For an invalid policy.
   */
  constructor(policy: WritePolicy = {}, capacity = 128) {
    this.policy = resolveWritePolicy(policy);
    this.#bits = batchWriteRowBits(this.policy);
    const n = Math.max(1, capacity);
    this.#initialBytes = n * 128;
    this.#arena = new ByteWriter(this.#initialBytes);
    this.#starts = new Int32Array(n + 1);
    this.#partitions = new Uint16Array(n);
    this.#failures = new Uint8Array(n);
  }

  /** Number of rows. */
  get length(): number {
    return this.#count;
  }

  /** Bytes of the rows held. */
  get byteLength(): number {
    return this.#arena.length;
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
    const i = this.#count;
    if (i === this.#partitions.length) this.#grow();
    try {
      writeBatchWriteRow(this.#arena, i, record, ttl, this.#bits);
    } catch (e) {
      this.#truncate(this.#starts[i]);
      throw e;
    }
    this.#starts[i + 1] = this.#arena.length;
    this.#partitions[i] = partitionId(record.digest);
    this.#failures[i] = 0;
    this.#namespaces[i] = record.namespace;
    this.#sets[i] = record.set;
    this.#count = i + 1;
    return i;
  }

  /**
   * The namespace of a row.
   *
   * @param i Row index.
   * @returns The namespace.
   */
  namespace(i: number): string {
    this.#check(i);
    return this.#namespaces[i];
  }

  /**
   * The set of a row.
   *
   * @param i Row index.
   * @returns The set, `""` for none.
   */
  set(i: number): string {
    this.#check(i);
    return this.#sets[i];
  }

  /**
   * The partition of a row's digest.
   *
   * @param i Row index.
   * @returns 0..4095.
   */
  partition(i: number): number {
    this.#check(i);
    return this.#partitions[i];
  }

  /**
   * How many attempts of a row failed without an answer from the server (no node, network
   * error, timeout): each sends it to the partition's next replica.
   *
   * @param i Row index.
   * @returns The count.
   */
  failures(i: number): number {
    this.#check(i);
    return this.#failures[i];
  }

  /**
   * Counts an attempt of a row that failed without an answer.
   *
   * @param i Row index.
   */
  noteFailure(i: number): void {
    this.#check(i);
    if (this.#failures[i] < 255) this.#failures[i]++;
  }

  /**
   * The digest of a row.
   *
   * @param i Row index.
   * @returns A copy of the 20 bytes.
   */
  digest(i: number): Uint8Array {
    this.#check(i);
    const at = this.#starts[i] + INDEX_SIZE;
    return this.#arena.subarray().slice(at, at + 20);
  }

  /**
   * Keeps only some rows (those to retry), in order, renumbered from 0.
   *
   * @param keep Per row, whether to keep it.
   */
  retain(keep: ArrayLike<boolean>): void {
    const old = this.#arena.subarray().slice();
    const starts = this.#starts;
    this.#arena.reset();
    let n = 0;
    for (let i = 0; i < this.#count; i++) {
      if (!keep[i]) continue;
      const from = starts[i];
      const to = starts[i + 1];
      starts[n] = this.#arena.length;
      this.#arena.bytes(old.subarray(from, to));
      this.#arena.setU32At(starts[n], n);
      this.#partitions[n] = this.#partitions[i];
      this.#failures[n] = this.#failures[i];
      this.#namespaces[n] = this.#namespaces[i];
      this.#sets[n] = this.#sets[i];
      n++;
    }
    starts[n] = this.#arena.length;
    this.#count = n;
  }

  /** Forgets every row and keeps the buffers for reuse (up to 1 MiB of row bytes). */
  clear(): void {
    if (this.#arena.length > KEEP_BYTES) this.#arena = new ByteWriter(this.#initialBytes);
    else this.#arena.reset();
    this.#count = 0;
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
    const src = this.#arena.subarray();
    const starts = this.#starts;
    for (let k = 0; k < indexes.length;) {
      let j = k + 1;
      while (j < indexes.length && indexes[j] === indexes[j - 1] + 1) j++;
      this.#check(indexes[k]);
      this.#check(indexes[j - 1]);
      w.bytes(src.subarray(starts[indexes[k]], starts[indexes[j - 1] + 1]));
      k = j;
    }
    return endBatchRequest(w);
  }

  #check(i: number): void {
    if (!(i >= 0 && i < this.#count)) {
      throw new RangeError(`Invalid row ${i}: ${this.#count} rows`);
    }
  }

  #grow(): void {
    const n = this.#partitions.length * 2;
    const starts = new Int32Array(n + 1);
    starts.set(this.#starts);
    this.#starts = starts;
    const partitions = new Uint16Array(n);
    partitions.set(this.#partitions);
    this.#partitions = partitions;
    const failures = new Uint8Array(n);
    failures.set(this.#failures);
    this.#failures = failures;
  }

  /** Drops the bytes after `length` (a row that failed half-way). */
  #truncate(length: number): void {
    if (length === this.#arena.length) return;
    const kept = this.#arena.subarray().slice(0, length);
    this.#arena.reset();
    this.#arena.bytes(kept);
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
export async function batchWriteRows(
  node: Node,
  rows: BatchRows,
  indexes: readonly number[],
  results: Int32Array,
  poolWaitMs: number,
): Promise<void> {
  for (const i of indexes) results[i] = UNANSWERED;
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
  const policy = rows.policy;
  const limits = readLimits(policy.socketTimeoutMs, policy.totalTimeoutMs);
  // One header and op view for every answer of the batch.
  const h = createMessageHeader();
  const op = createOpView();
  conn.begin("batch-write");
  try {
    await conn.write(rows.encodeRequest(indexes, conn.writer), limits);
    for (;;) {
      const body = messageBody(conn, await conn.read(limits));
      const view = dataViewOf(body);
      let off = 0;
      while (off < body.length) {
        readMessageHeader(view, off, h);
        if ((h.info3 & Info3.LAST) !== 0) {
          if (h.resultCode !== 0) finish(h.resultCode);
          else finish(ResultCode.BATCH_FAILED);
          node.pool.release(conn);
          return;
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
  } catch (err) {
    node.pool.discard(conn);
    finish(unansweredCode(replyError(conn, err)));
  }
}
