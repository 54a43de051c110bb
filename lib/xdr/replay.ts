/**
 * What an ASBX restore does to a stored XDR message (an ASBX payload) before it sends the
 * message as it is (asbx-format.md §5): a cheap check that the message is for the record
 * the file says, and the patch of its info bits for the restore's write policy.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { Info2, Info3 } from "../aerospike/message.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import { PROTO_HEADER_SIZE } from "../aerospike/proto.ts";
import { writeBits } from "../aerospike/requests.ts";
import type { AsbxToken } from "../format/asbx/encoder.ts";
import { parseXdrMessage } from "./message.ts";

/** What a replay needs to know of a payload. */
export interface ReplayInfo {
  /** The message's set, `""` when it has none. */
  set: string;
  /** Whether the message is a delete (info2 DELETE). */
  isDelete: boolean;
}

/**
 * Checks that a token's payload is a message for the token's record: its namespace and
 * digest fields equal the token's. Only the header and the fields are read; the ops stay
 * opaque (the server judges them when the message is replayed).
 *
 * @param token The token (its namespace comes from the file header).
 * @param file File name, for errors.
 * @param offset Byte of the file where the record starts, for errors.
 * @returns The message's set and whether it is a delete.
 * @throws {AerobakError} `ASBX_PAYLOAD` when the header or fields are malformed, or the
 *   message names another namespace or digest than the token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
 * import { encodeXdrDelete, xdrPayload } from "./message.ts";
 * import { checkReplayPayload } from "./replay.ts";
 * const digest = computeDigest("s", keyFromJs(1));
 * const msg = encodeXdrDelete({ namespace: "test", set: "s", digest });
 * const token = { namespace: "test", digest, payload: xdrPayload(msg.subarray(8)) };
 * assert.deepEqual(checkReplayPayload(token), { set: "s", isDelete: true });
 * ```
 */
export function checkReplayPayload(token: AsbxToken, file?: string, offset?: number): ReplayInfo {
  const fail = (what: string, cause?: unknown) =>
    new AerobakError(
      "ASBX_PAYLOAD",
      `Cannot replay ${offset === undefined ? "a record" : `the record at byte ${offset}`}${
        file ? ` of ${file}` : ""
      }: ${what}`,
      { cause, location: file === undefined ? undefined : { file, offset } },
    );
  const body = token.payload.subarray(PROTO_HEADER_SIZE);
  let msg;
  try {
    msg = parseXdrMessage(body);
  } catch (err) {
    throw fail((err as Error).message, err);
  }
  if (msg.namespace !== token.namespace) {
    throw fail(
      `namespace ${JSON.stringify(msg.namespace)} differs from the file's ${
        JSON.stringify(token.namespace)
      }`,
    );
  }
  const d = token.digest;
  for (let i = 0; i < 20; i++) {
    if (body[msg.digestOffset + i] !== d[i]) throw fail("the digest differs from the record's");
  }
  return { set: msg.set, isDelete: (msg.info2 & Info2.DELETE) !== 0 };
}

/** The write policy fields that decide a replayed message's info bits. */
export type ReplayPolicy = Pick<WritePolicy, "generationPolicy" | "recordExistsAction">;

// Payload offsets: proto header (8), then the AS_MSG's header_sz, info1, info2, info3.
const INFO2_AT = PROTO_HEADER_SIZE + 2;
const INFO3_AT = PROTO_HEADER_SIZE + 3;
// The bits a policy owns; every other bit (WRITE, DELETE, DURABLE_DELETE, …) is the source's.
const POLICY_INFO2 = Info2.GENERATION | Info2.GENERATION_GT | Info2.CREATE_ONLY;
const POLICY_INFO3 = Info3.UPDATE_ONLY | Info3.CREATE_OR_REPLACE | Info3.REPLACE_ONLY;

/**
 * Patches a payload's info bits in place for a write policy, as backup-go does before
 * `PutPayload` (asbx-format.md §5.3): info2 GENERATION (0x04) and GENERATION_GT (0x08)
 * are cleared, then set for `expectGenEqual` / `expectGenGreater`; info2 CREATE_ONLY
 * (0x20) and info3 UPDATE_ONLY (0x08), CREATE_OR_REPLACE (0x10), REPLACE_ONLY (0x20) are
 * cleared, then the record-exists action's bit is set (`update` none, `createOnly` info2
 * 0x20, `replace` info3 0x10, `replaceOnly` info3 0x20, `updateOnly` info3 0x08). Every
 * other bit, and the generation XDR shipped, stay as they are.
 *
 * @param payload The whole message (proto header included), at least 12 bytes.
 * @param policy Generation policy and record-exists action.
 *   `generationPolicy` @default "none"; `recordExistsAction` @default "update"
 * @throws {TypeError} For an unknown generation policy or record-exists action.
 * @throws {RangeError} For a payload too short to hold the info bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { patchReplayPayload } from "./replay.ts";
 * const payload = new Uint8Array(30);
 * payload[10] = 0x01; // info2 WRITE
 * patchReplayPayload(payload, { generationPolicy: "expectGenGreater", recordExistsAction: "replace" });
 * assert.equal(payload[10], 0x09); // WRITE | GENERATION_GT
 * assert.equal(payload[11], 0x10); // CREATE_OR_REPLACE
 * ```
 */
export function patchReplayPayload(payload: Uint8Array, policy: ReplayPolicy): void {
  if (payload.length <= INFO3_AT) {
    throw new RangeError(`Cannot patch a payload of ${payload.length} bytes: expected at least 12`);
  }
  const bits = writeBits(policy);
  payload[INFO2_AT] = (payload[INFO2_AT] & ~POLICY_INFO2) | (bits.info2 & POLICY_INFO2);
  payload[INFO3_AT] = (payload[INFO3_AT] & ~POLICY_INFO3) | bits.info3;
}
