/**
 * Pipelined payload writes: {@linkcode PayloadRows} holds ready-made write messages (an
 * ASBX restore's stored XDR messages) with what routing needs beside each, and
 * {@linkcode writePayloadRows} sends the messages whose master is one node back to back
 * on one connection, in one socket write, then reads their answers in the same order.
 *
 * Each message stays a single-record write of its own, sent byte for byte as the Go
 * client's `PutPayload` does; only the round trips are shared. A server reads a client
 * connection one whole request at a time and answers it before it reads the next
 * (aerospike-server `service.c`: the socket is re-armed at the end of each transaction),
 * which is what the C client's pipelined async connections rely on: the answers come back
 * in the order the requests were written, and a record's messages on one connection are
 * applied in that order.
 *
 * Nothing here throws for a failed node: the messages it did not answer get a negative
 * client code, so the caller can retry exactly those.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { exchangeRows } from "./batch.ts";
import { ByteWriter } from "./byte_writer.ts";
import { readLimits } from "./connection.ts";
import { createMessageHeader, dataViewOf, readMessageHeader } from "./message.ts";
import type { Node } from "./node.ts";
import type { WritePolicy } from "./policy.ts";
import { RowArena } from "./row_arena.ts";
import { payloadProblem } from "./write.ts";
import { ResultCode } from "./result_code.ts";
import { messageBody } from "./_reply.ts";

const DIGEST_SIZE = 20;

/**
 * Write messages copied into one reusable buffer, with each one's namespace, digest,
 * partition and failed attempts beside it. The caller may reuse its own buffers as soon as
 * a message is added.
 *
 * @example Add messages, then send them
 * ```ts ignore
 * const rows = new PayloadRows({ socketTimeoutMs: 10_000 }, 128);
 * for (const t of tokens) rows.add(t.namespace, t.digest, t.payload);
 * const codes = await cluster.putPayloads(rows);
 * ```
 */
export class PayloadRows extends RowArena {
  #digests: Uint8Array;

  /**
   * Creates an empty set of messages.
   *
   * @param policy Timeouts of each run of messages (the payloads carry the rest).
   *   @default {}
   * @param capacity Messages expected; more grow the buffers. @default 128
   * @throws {RangeError} For an invalid policy.
   */
  constructor(policy: WritePolicy = {}, capacity = 128) {
    super(policy, capacity, 256);
    this.#digests = new Uint8Array(Math.max(1, capacity) * DIGEST_SIZE);
  }

  /**
   * Copies a message in as the next row.
   *
   * @param namespace The record's namespace (routes the message, with the digest).
   * @param digest The record's 20-byte digest.
   * @param payload One whole write message: proto header (version 2, type 3, the body's
   *   length), then an AS_MSG with a 22-byte header whose info2 has the WRITE bit. It is
   *   sent as it is: patch its info bits before adding it.
   * @returns The row's index.
   * @throws {RangeError} For a digest that is not 20 bytes.
   * @throws {AerobakError} `PAYLOAD_INVALID` (nothing added) for a malformed message.
   */
  add(namespace: string, digest: Uint8Array, payload: Uint8Array): number {
    if (digest.length !== DIGEST_SIZE) {
      throw new RangeError(`Invalid digest of ${digest.length} bytes: expected 20`);
    }
    const problem = payloadProblem(payload);
    if (problem !== undefined) {
      throw new AerobakError(
        "PAYLOAD_INVALID",
        `Cannot write a payload of ${payload.length} bytes: ${problem}`,
      );
    }
    const i = this.beginRow();
    this.arena.bytes(payload);
    this.#digests.set(digest, i * DIGEST_SIZE);
    this.endRow(namespace, digest);
    return i;
  }

  /**
   * The digest of a row.
   *
   * @param i Row index.
   * @returns A view of the 20 bytes, valid until the rows change.
   */
  digest(i: number): Uint8Array {
    this.check(i);
    return this.#digests.subarray(i * DIGEST_SIZE, (i + 1) * DIGEST_SIZE);
  }

  /**
   * The message of a row.
   *
   * @param i Row index.
   * @returns A view of its bytes, valid until the rows change.
   */
  payload(i: number): Uint8Array {
    this.check(i);
    return this.arena.subarray().subarray(this.starts[i], this.starts[i + 1]);
  }

  /**
   * The messages of some rows back to back, as one socket write sends them.
   *
   * @param indexes Row indexes, in the order to send them.
   * @param w Writer to reuse.
   * @returns The bytes (a view of `w`).
   */
  encodeRun(indexes: readonly number[], w: ByteWriter = new ByteWriter()): Uint8Array {
    w.reset();
    this.copyRows(indexes, w);
    return w.subarray();
  }

  /** The digests grow with the other columns. */
  protected override grown(capacity: number): void {
    const digests = new Uint8Array(capacity * DIGEST_SIZE);
    digests.set(this.#digests);
    this.#digests = digests;
  }

  /** A kept row's digest moves with it. */
  protected override moved(from: number, to: number): void {
    this.#digests.copyWithin(to * DIGEST_SIZE, from * DIGEST_SIZE, (from + 1) * DIGEST_SIZE);
  }
}

/**
 * Sends the rows `indexes` of `rows` to `node` back to back on one connection (under the
 * timeouts of `rows.policy`, for the whole run) and stores each one's result code at its
 * index in `results`.
 *
 * @param node The master node of every row listed.
 * @param rows The caller's rows.
 * @param indexes Indexes of the rows for this node, in the order to send them (a record's
 *   messages are applied in this order).
 * @param results Result code per row of `rows`; the listed slots are filled with the
 *   server's code, or a negative client code (see {@linkcode unansweredCode}) for the
 *   rows the node did not answer.
 * @param poolWaitMs Wait limit for a pooled connection.
 */
export function writePayloadRows(
  node: Node,
  rows: PayloadRows,
  indexes: readonly number[],
  results: Int32Array,
  poolWaitMs: number,
): Promise<void> {
  const policy = rows.policy;
  const h = createMessageHeader();
  return exchangeRows(node, indexes, results, poolWaitMs, async (conn) => {
    const limits = readLimits(policy.socketTimeoutMs, policy.totalTimeoutMs);
    conn.begin("write payload");
    await conn.write(rows.encodeRun(indexes, conn.writer), limits);
    for (const i of indexes) {
      // The answers of one socket read are taken without a promise each.
      const body = messageBody(conn, conn.readBuffered() ?? await conn.read(limits));
      readMessageHeader(dataViewOf(body), 0, h);
      results[i] = h.resultCode;
    }
    return ResultCode.BATCH_FAILED; // every row was answered
  });
}
