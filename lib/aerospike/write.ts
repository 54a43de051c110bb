/**
 * Single-record commands on a node: put (with the write policy), a ready-made write
 * message sent as it is (ASBX replay), delete and get.
 *
 * A put returns the server's result code rather than throwing on it, because restore
 * counts codes such as 3 (generation: the stored record is newer) and 5 (exists) as
 * outcomes. Transport failures throw, marked in doubt once the request may have reached
 * the server.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { readLimits } from "./connection.ts";
import {
  dataViewOf,
  forEachOp,
  Info2,
  MSG_HEADER_SIZE,
  readMessageHeader,
  readName,
} from "./message.ts";
import type { Node } from "./node.ts";
import { readParticle } from "./particle.ts";
import { PROTO_HEADER_SIZE, PROTO_VERSION, ProtoType } from "./proto.ts";
import type { ResolvedWritePolicy } from "./policy.ts";
import type { AerospikeRecord, Bin, UserKey } from "./record.ts";
import { encodeDeleteRequest, encodePutRequest, encodeReadRequest } from "./requests.ts";
import { ResultCode, serverError } from "./result_code.ts";
import { inDoubt, messageBody, replyError } from "./_reply.ts";

/** Outcome of a put. */
export interface WriteResult {
  /** Server result code: 0 OK, 3 generation error, 5 key exists, … */
  resultCode: number;
  /** The record's generation after the write (the existing one on 5). */
  generation: number;
}

/** A record addressed by namespace, set and digest (and its key when known). */
export interface RecordTarget {
  /** Namespace. */
  namespace: string;
  /** Set, `""` for none. */
  set: string;
  /** 20-byte digest. */
  digest: Uint8Array;
  /** User key, when the caller gave one. */
  key?: UserKey;
}

/** Options of {@linkcode getRecord}. */
export interface ReadOptions {
  /** Only these bins. */
  binNames?: readonly string[];
  /** Limit of the command, ms; 0 = none. */
  totalTimeoutMs: number;
  /** Longest wait for reply bytes, ms. */
  socketTimeoutMs: number;
  /** Wait limit for a pooled connection, ms. */
  poolWaitMs: number;
}

interface Reply {
  resultCode: number;
  generation: number;
  voidTime: number;
  bins: Bin[];
}

async function exchange(
  node: Node,
  command: string,
  socketTimeoutMs: number,
  totalTimeoutMs: number,
  poolWaitMs: number,
  encode: (w: ByteWriter) => Uint8Array,
  withBins: boolean,
): Promise<Reply> {
  const conn = await node.pool.acquire(poolWaitMs);
  const limits = readLimits(socketTimeoutMs, totalTimeoutMs);
  conn.begin(command);
  let reply: Reply;
  try {
    await conn.write(encode(conn.writer), limits);
    const body = messageBody(conn, await conn.read(limits));
    const view = dataViewOf(body);
    const h = readMessageHeader(view, 0);
    reply = { resultCode: h.resultCode, generation: h.generation, voidTime: h.recordTtl, bins: [] };
    if (withBins && h.resultCode === 0) {
      // Single-record replies carry no fields worth reading: skip them, then the bins.
      let off = MSG_HEADER_SIZE;
      for (let i = 0; i < h.nFields; i++) {
        if (off + 4 > body.length) throw conn.error("MESSAGE_INVALID", `truncated field ${i}`);
        off += 4 + view.getUint32(off);
      }
      forEachOp(view, body, off, h.nOps, (op) => {
        const name = readName(body, op.nameOffset, op.nameLength);
        reply.bins.push(
          readParticle(body, view, op.valueOffset, op.valueLength, op.particleType, name),
        );
      });
    }
  } catch (err) {
    node.pool.discard(conn);
    throw replyError(conn, err);
  }
  node.pool.release(conn);
  return reply;
}

/**
 * Writes one record on a node (its master).
 *
 * @param node The record's master node.
 * @param record The record.
 * @param policy Resolved write policy.
 * @param ttl TTL: seconds, 0 namespace default, -1 never expire, -2 keep.
 * @param poolWaitMs Wait limit for a pooled connection.
 * @returns Result code and generation.
 * @throws {AerobakError} Transport and protocol errors naming node and command, `inDoubt`
 *   set when the request may have been applied.
 */
export async function putRecord(
  node: Node,
  record: AerospikeRecord,
  policy: ResolvedWritePolicy,
  ttl: number,
  poolWaitMs: number,
): Promise<WriteResult> {
  checkTtl(ttl);
  return await writeExchange(
    node,
    "put",
    policy,
    poolWaitMs,
    (w) => encodePutRequest({ record, ttl, policy }, w),
  );
}

/** A write's exchange: its result code and generation, transport errors marked in doubt. */
async function writeExchange(
  node: Node,
  command: string,
  policy: ResolvedWritePolicy,
  poolWaitMs: number,
  encode: (w: ByteWriter) => Uint8Array,
): Promise<WriteResult> {
  try {
    const r = await exchange(
      node,
      command,
      policy.socketTimeoutMs,
      policy.totalTimeoutMs,
      poolWaitMs,
      encode,
      false,
    );
    return { resultCode: r.resultCode, generation: r.generation };
  } catch (err) {
    throw inDoubt(err);
  }
}

/**
 * Sends a ready-made write message to a node byte for byte, as the Go client's
 * `PutPayload` does: an ASBX restore replays the messages XDR shipped this way, so the
 * server sees what the source sent (ops, LUTs, generation, TTL) and decides. The header is
 * checked first; nothing is sent when it is wrong.
 *
 * @param node The record's master node.
 * @param payload One whole message: proto header (version 2, type 3, the body's length),
 *   then an AS_MSG whose info2 has the WRITE bit (a delete has WRITE|DELETE). It is sent
 *   as is: patch its info bits before calling.
 * @param policy Resolved write policy; only its timeouts are used (the payload carries
 *   everything else).
 * @param poolWaitMs Wait limit for a pooled connection.
 * @returns The server's result code (0 OK, 2 not found on a delete, 3 generation, 5
 *   exists, …) and the generation it reported.
 * @throws {AerobakError} `PAYLOAD_INVALID` (not retriable, nothing sent) when the proto or
 *   message header is wrong; transport and protocol errors naming node and command,
 *   `inDoubt` set when the request may have been applied.
 *
 * @example Replay a stored message
 * ```ts ignore
 * import { writePayload } from "./write.ts";
 * const { resultCode } = await writePayload(node, payload, policy, 1000);
 * ```
 */
export async function writePayload(
  node: Node,
  payload: Uint8Array,
  policy: ResolvedWritePolicy,
  poolWaitMs: number,
): Promise<WriteResult> {
  checkPayload(payload, node);
  // Sent from the caller's buffer: copying it into the connection's writer buys nothing.
  return await writeExchange(node, "write payload", policy, poolWaitMs, () => payload);
}

/** Refuses a payload that is not one whole type-3 write message of its own length. */
function checkPayload(payload: Uint8Array, node: Node): void {
  const problem = payloadProblem(payload);
  if (problem !== undefined) {
    throw new AerobakError(
      "PAYLOAD_INVALID",
      `Cannot write a payload of ${payload.length} bytes: ${problem}`,
      { node: node.ref },
    );
  }
}

/**
 * What makes a payload unfit to be sent as a write, if anything: it must be one whole
 * type-3 proto message of its own length whose AS_MSG has a 22-byte header and the info2
 * WRITE bit (a delete has WRITE|DELETE).
 *
 * @param payload The message, proto header included.
 * @returns What is wrong (lowercase, no final period), or `undefined` when it is fit.
 */
export function payloadProblem(payload: Uint8Array): string | undefined {
  const n = payload.length;
  if (n < PROTO_HEADER_SIZE + MSG_HEADER_SIZE) {
    return `expected at least ${PROTO_HEADER_SIZE + MSG_HEADER_SIZE} (proto and message headers)`;
  }
  if (payload[0] !== PROTO_VERSION || payload[1] !== ProtoType.MESSAGE) {
    return `proto version ${payload[0]} type ${payload[1]}, expected version 2 type 3`;
  }
  // 48-bit size; above 2^32 it cannot match a Uint8Array's length anyway.
  const size = ((payload[2] << 8) | payload[3]) * 2 ** 32 + ((payload[4] << 24) >>> 0) +
    ((payload[5] << 16) | (payload[6] << 8) | payload[7]);
  if (size !== n - PROTO_HEADER_SIZE) {
    return `the proto header gives a body of ${size} bytes, the payload holds ${n - 8}`;
  }
  if (payload[PROTO_HEADER_SIZE] !== MSG_HEADER_SIZE) {
    return `message header size ${payload[PROTO_HEADER_SIZE]}, expected 22`;
  }
  if ((payload[PROTO_HEADER_SIZE + 2] & Info2.WRITE) === 0) {
    return "info2 has no WRITE bit: not a write or delete";
  }
  return undefined;
}

/**
 * Deletes one record.
 *
 * @param node The record's master node.
 * @param target The record.
 * @param policy Resolved write policy (timeouts, durable delete).
 * @param poolWaitMs Wait limit for a pooled connection.
 * @returns 0 deleted, 2 not found.
 * @throws {AerobakError} `SERVER_ERROR` for other result codes; transport errors.
 */
export async function deleteRecord(
  node: Node,
  target: RecordTarget,
  policy: ResolvedWritePolicy,
  poolWaitMs: number,
): Promise<number> {
  let r: Reply;
  try {
    r = await exchange(
      node,
      "delete",
      policy.socketTimeoutMs,
      policy.totalTimeoutMs,
      poolWaitMs,
      (w) =>
        encodeDeleteRequest({
          ...target,
          totalTimeoutMs: policy.totalTimeoutMs,
          durableDelete: policy.durableDelete,
        }, w),
      false,
    );
  } catch (err) {
    throw inDoubt(err);
  }
  if (r.resultCode !== 0 && r.resultCode !== ResultCode.KEY_NOT_FOUND) {
    throw serverError(r.resultCode, { command: "delete", node: node.ref, write: true });
  }
  return r.resultCode;
}

/**
 * Reads one record.
 *
 * @param node The record's master node.
 * @param target The record.
 * @param opts Bins and limits.
 * @returns The record, or null when not found.
 * @throws {AerobakError} `SERVER_ERROR` for result codes other than 0 and 2; transport errors.
 */
export async function getRecord(
  node: Node,
  target: RecordTarget,
  opts: ReadOptions,
): Promise<AerospikeRecord | null> {
  const r = await exchange(
    node,
    "get",
    opts.socketTimeoutMs,
    opts.totalTimeoutMs,
    opts.poolWaitMs,
    (w) =>
      encodeReadRequest({
        namespace: target.namespace,
        set: target.set,
        digest: target.digest,
        binNames: opts.binNames,
        totalTimeoutMs: opts.totalTimeoutMs,
      }, w),
    true,
  );
  if (r.resultCode === ResultCode.KEY_NOT_FOUND) return null;
  if (r.resultCode !== 0) throw serverError(r.resultCode, { command: "get", node: node.ref });
  const record: AerospikeRecord = {
    namespace: target.namespace,
    set: target.set,
    digest: target.digest.slice(),
    generation: r.generation,
    voidTime: r.voidTime,
    bins: r.bins,
  };
  if (target.key !== undefined) record.key = target.key;
  return record;
}

/**
 * Checks a write TTL: -2..2^32-3 (u32 on the wire, -1 and -2 are the magic values).
 *
 * @param ttl The TTL.
 * @throws {RangeError} When out of range.
 */
export function checkTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < -2 || ttl > 0xfffffffd) {
    throw new RangeError(
      `Invalid TTL ${ttl}: expected -2 (keep), -1 (never), 0 (default) or seconds`,
    );
  }
}
