import assert from "node:assert/strict";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { dataViewOf } from "../aerospike/message.ts";
import { intBin, readUserKey } from "../aerospike/particle.ts";
import { AerobakError } from "../errors.ts";
import {
  encodeXdrAck,
  encodeXdrDelete,
  encodeXdrWrite,
  parseXdrMessage,
  readXdrAck,
  xdrPayload,
} from "./message.ts";

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (b) => parseInt(b, 16));
}

// The payload of asbx-format.md §3's example (set demo, key "k" not stored, x=7, gen 2).
const SPEC_PAYLOAD = hex(`
  02 03 00 00 00 00 00 52 16 00 01 00 00 00 00 00 00 02 00 00 00 00 00 00 00 00 00 03 00 01
  00 00 00 05 00 74 65 73 74 00 00 00 05 01 64 65 6d 6f 00 00 00 15 04 dd bd 52 6b c5 51 7c
  4d 1b d6 d5 dd c0 bb 36 04 4a 93 2d cd 00 00 00 0d 02 01 00 01 78 00 00 00 00 00 00 00 07`);

const digest = computeDigest("demo", keyFromJs("k"));
const rec = {
  namespace: "test",
  set: "demo",
  digest,
  generation: 2,
  voidTime: 0,
  bins: [intBin("x", 7)],
};

Deno.test("encodeXdrWrite() ships the spec example's layout with the XDR bit set", () => {
  const msg = encodeXdrWrite(rec, { ttl: 0 }).slice();
  assert.equal(msg[9], 0x10);
  assert.deepEqual(xdrPayload(msg.subarray(8)), SPEC_PAYLOAD);
});

Deno.test("encodeXdrDelete() ships WRITE|DELETE with the XDR bit", () => {
  const msg = encodeXdrDelete(rec);
  assert.equal(msg[9], 0x10);
  assert.equal(msg[10], 0x03);
  const info = parseXdrMessage(msg.subarray(8));
  assert.deepEqual(msg.subarray(8 + info.digestOffset, 8 + info.digestOffset + 20), digest);
});

Deno.test("parseXdrMessage() finds namespace, set, digest and key", () => {
  const info = parseXdrMessage(SPEC_PAYLOAD.subarray(8));
  assert.equal(info.namespace, "test");
  assert.equal(info.set, "demo");
  assert.deepEqual(SPEC_PAYLOAD.subarray(8 + info.digestOffset, 28 + info.digestOffset), digest);
  assert.equal(info.keyOffset, -1);
  const body = encodeXdrWrite({ ...rec, key: keyFromJs("k") }).slice().subarray(8);
  const keyed = parseXdrMessage(body);
  assert.deepEqual(
    readUserKey(body, dataViewOf(body), keyed.keyOffset, keyed.keyLength),
    keyFromJs("k"),
  );
});

Deno.test("parseXdrMessage() rejects short headers, overrunning fields and missing digests", () => {
  const body = SPEC_PAYLOAD.slice(8);
  const noDigest = body.slice();
  noDigest[19] = 2; // two fields: namespace and set only
  noDigest[21] = 0; // and no ops
  for (
    const [bad, pattern] of [
      [body.subarray(0, 10), /Truncated message header/],
      [body.subarray(0, 40), /Truncated field 2 of 3 at byte offset 40/],
      [noDigest, /no digest field/],
    ] as const
  ) {
    assert.throws(() => parseXdrMessage(bad), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "XDR_MESSAGE_INVALID");
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("encodeXdrAck() and readXdrAck() agree on the 30-byte ack", () => {
  assert.equal(encodeXdrAck(0).length, 30);
  assert.equal(encodeXdrAck(11)[13], 11);
  assert.equal(encodeXdrAck(11)[8], 0, "header_sz stays 0 as in backup-go");
  assert.equal(readXdrAck(encodeXdrAck(11)), 11);
  assert.throws(() => readXdrAck(new Uint8Array(29)), AerobakError);
});
