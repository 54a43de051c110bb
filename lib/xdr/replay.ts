/**
 * Turns a stored XDR message (an ASBX payload) back into the write or delete it stands for,
 * so a restore can replay it through the client's write path.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { dataViewOf, FieldType, Info2, OpType } from "../aerospike/message.ts";
import { readUserKey } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { decodeRequest } from "../aerospike/requests.ts";
import type { AsbxToken } from "../format/asbx/encoder.ts";

/** A payload as a write: the record (generation as shipped) and the TTL to set. */
export interface ReplayPut {
  /** A write. */
  kind: "put";
  /** Namespace, set, digest, key, shipped generation and the bins of the WRITE ops. */
  record: AerospikeRecord;
  /** The message's record_ttl as a signed TTL (-1 never expire, -2 keep, 0 default). */
  ttl: number;
}

/** A payload as a delete. */
export interface ReplayDelete {
  /** A delete. */
  kind: "delete";
  /** Namespace, set and digest (`bins` empty). */
  record: AerospikeRecord;
  /** Whether the source asked for a durable delete. */
  durable: boolean;
}

const utf8 = new TextDecoder();

/**
 * Decodes an ASBX token's payload into the operation to replay.
 *
 * @param token The token (its namespace comes from the file header).
 * @param file File name, for errors.
 * @returns A put or a delete.
 * @throws {AerobakError} `ASBX_PAYLOAD` when the message is malformed, names another
 *   namespace or digest than the token, or carries ops other than bin writes.
 */
export function decodeReplay(token: AsbxToken, file?: string): ReplayPut | ReplayDelete {
  const fail = (what: string, cause?: unknown) =>
    new AerobakError(
      "ASBX_PAYLOAD",
      `Cannot replay a record${file ? ` of ${file}` : ""}: ${what}`,
      {
        cause,
        location: file === undefined ? undefined : { file },
      },
    );
  let msg;
  try {
    msg = decodeRequest(token.payload.subarray(8));
  } catch (err) {
    throw fail((err as Error).message, err);
  }
  const { header, fields } = msg;
  const ns = fields.get(FieldType.NAMESPACE);
  const digest = fields.get(FieldType.DIGEST);
  if (ns === undefined || digest === undefined) throw fail("no namespace or digest field");
  const namespace = utf8.decode(ns);
  if (namespace !== token.namespace) {
    throw fail(`namespace "${namespace}" differs from the file's "${token.namespace}"`);
  }
  if (!sameBytes(digest, token.digest)) throw fail("the digest differs from the record's");
  const set = fields.get(FieldType.SET);
  const record: AerospikeRecord = {
    namespace,
    set: set === undefined ? "" : utf8.decode(set),
    digest: token.digest,
    generation: header.generation,
    voidTime: 0,
    bins: [],
  };
  const key = fields.get(FieldType.KEY);
  if (key !== undefined) {
    try {
      record.key = readUserKey(key, dataViewOf(key), 0, key.length);
    } catch (err) {
      throw fail((err as Error).message, err);
    }
  }
  if ((header.info2 & Info2.DELETE) !== 0) {
    return { kind: "delete", record, durable: (header.info2 & Info2.DURABLE_DELETE) !== 0 };
  }
  for (const op of msg.ops) {
    if (op.opType !== OpType.WRITE) throw fail(`op type ${op.opType} is not a bin write`);
    record.bins.push(op.bin);
  }
  return { kind: "put", record, ttl: header.recordTtl | 0 };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
