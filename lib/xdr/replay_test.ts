import assert from "node:assert/strict";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import { encodeXdrDelete, encodeXdrWrite, xdrPayload } from "./message.ts";
import { decodeReplay } from "./replay.ts";

const key = keyFromJs(42);
const record: AerospikeRecord = {
  namespace: "test",
  set: "s",
  digest: computeDigest("s", key),
  key,
  generation: 7,
  voidTime: 0,
  bins: [intBin("a", 1), stringBin("b", "x")],
};

function token(message: Uint8Array, namespace = "test") {
  return { namespace, digest: record.digest, payload: xdrPayload(message.subarray(8)) };
}

Deno.test("decodeReplay() turns a shipped write into the record, generation and TTL", () => {
  const op = decodeReplay(token(encodeXdrWrite(record, { ttl: 3600 }).slice()));
  assert.equal(op.kind, "put");
  if (op.kind !== "put") return;
  assert.deepEqual(op.record, record);
  assert.equal(op.ttl, 3600);
  const never = decodeReplay(token(encodeXdrWrite(record).slice()));
  assert.equal(never.kind === "put" && never.ttl, -1);
});

Deno.test("decodeReplay() turns a shipped delete into a delete", () => {
  const op = decodeReplay(token(encodeXdrDelete(record).slice()));
  assert.equal(op.kind, "delete");
  assert.equal(op.record.set, "s");
  assert.deepEqual(op.record.digest, record.digest);
});

Deno.test("decodeReplay() refuses a payload of another namespace or digest", () => {
  const msg = encodeXdrWrite(record).slice();
  assert.throws(() => decodeReplay(token(msg, "bar"), "0_bar_1.asbx"), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "ASBX_PAYLOAD");
    assert.match(e.message, /0_bar_1\.asbx.*namespace "test" differs from the file's "bar"/);
    return true;
  });
  const other = { ...token(msg), digest: new Uint8Array(20) };
  assert.throws(() => decodeReplay(other), /digest differs/);
  const cut = { ...token(msg), payload: token(msg).payload.subarray(0, 40) };
  assert.throws(() => decodeReplay(cut), AerobakError);
});
