import assert from "node:assert/strict";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import { encodeXdrDelete, encodeXdrWrite, xdrPayload } from "./message.ts";
import { checkReplayPayload, patchReplayPayload } from "./replay.ts";

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

Deno.test("checkReplayPayload() reads the set and whether the message is a delete", () => {
  assert.deepEqual(checkReplayPayload(token(encodeXdrWrite(record).slice())), {
    set: "s",
    isDelete: false,
  });
  assert.deepEqual(checkReplayPayload(token(encodeXdrDelete(record).slice())), {
    set: "s",
    isDelete: true,
  });
  const noSet = { ...record, set: "", digest: computeDigest("", key) };
  const t = { ...token(encodeXdrWrite(noSet).slice()), digest: noSet.digest };
  assert.deepEqual(checkReplayPayload(t), { set: "", isDelete: false });
});

Deno.test("checkReplayPayload() leaves the ops to the server", () => {
  // An op this codec cannot decode (type 99, unknown particle type 250) passes the check.
  const msg = encodeXdrWrite({ ...record, bins: [intBin("a", 1)] }).slice();
  const opAt = msg.length - 4 - 4 - 1 - 8; // size, op header, name "a", 8-byte int
  msg[opAt + 4] = 99;
  msg[opAt + 5] = 250;
  assert.equal(checkReplayPayload(token(msg)).isDelete, false);
});

Deno.test("checkReplayPayload() refuses a payload of another namespace or digest", () => {
  const msg = encodeXdrWrite(record).slice();
  assert.throws(() => checkReplayPayload(token(msg, "bar"), "0_bar_1.asbx"), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "ASBX_PAYLOAD");
    assert.equal(e.location?.file, "0_bar_1.asbx");
    assert.match(e.message, /0_bar_1\.asbx.*namespace "test" differs from the file's "bar"/);
    return true;
  });
  // A namespace holding a line feed is quoted with it escaped: one line.
  assert.throws(
    () => checkReplayPayload(token(msg, "te\nst")),
    /differs from the file's "te\\nst"$/,
  );
  const other = { ...token(msg), digest: new Uint8Array(20) };
  assert.throws(() => checkReplayPayload(other), /digest differs/);
  const cut = { ...token(msg), payload: token(msg).payload.subarray(0, 40) };
  assert.throws(() => checkReplayPayload(cut), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "ASBX_PAYLOAD");
    assert.match(e.message, /Invalid XDR message/);
    return true;
  });
});

// asbx-format.md §5.3, written out: [generation policy, exists action, info2 bits, info3 bits].
const TABLE: [
  WritePolicy["generationPolicy"],
  WritePolicy["recordExistsAction"],
  number,
  number,
][] = [
  ["none", "update", 0x00, 0x00],
  ["none", "createOnly", 0x20, 0x00],
  ["none", "replace", 0x00, 0x10],
  ["none", "replaceOnly", 0x00, 0x20],
  ["none", "updateOnly", 0x00, 0x08],
  ["expectGenEqual", "update", 0x04, 0x00],
  ["expectGenEqual", "createOnly", 0x24, 0x00],
  ["expectGenEqual", "replace", 0x04, 0x10],
  ["expectGenEqual", "replaceOnly", 0x04, 0x20],
  ["expectGenEqual", "updateOnly", 0x04, 0x08],
  ["expectGenGreater", "update", 0x08, 0x00],
  ["expectGenGreater", "createOnly", 0x28, 0x00],
  ["expectGenGreater", "replace", 0x08, 0x10],
  ["expectGenGreater", "replaceOnly", 0x08, 0x20],
  ["expectGenGreater", "updateOnly", 0x08, 0x08],
];

// Bits the policy owns; the rest must survive the patch untouched.
const POLICY_INFO2 = 0x04 | 0x08 | 0x20;
const POLICY_INFO3 = 0x08 | 0x10 | 0x20;

Deno.test("patchReplayPayload() sets exactly the info bits of the policy table", () => {
  const base = xdrPayload(encodeXdrWrite(record).subarray(8));
  for (const [generationPolicy, recordExistsAction, info2, info3] of TABLE) {
    // From every starting state of the policy bits, with the other bits all 0 or all 1.
    for (let start2 = 0; start2 < 256; start2++) {
      for (const start3 of [0x00, 0xff, 0x08, 0x10, 0x20, 0x38, 0xc7]) {
        const p = base.slice();
        p[10] = start2;
        p[11] = start3;
        patchReplayPayload(p, { generationPolicy, recordExistsAction });
        const what = `${generationPolicy}/${recordExistsAction} from ${start2}/${start3}`;
        assert.equal(p[10], (start2 & ~POLICY_INFO2) | info2, `info2 of ${what}`);
        assert.equal(p[11], (start3 & ~POLICY_INFO3) | info3, `info3 of ${what}`);
        p[10] = base[10];
        p[11] = base[11];
        assert.deepEqual(p, base, `no other byte changes (${what})`);
      }
    }
  }
});

Deno.test("patchReplayPayload() keeps a delete a delete and the shipped generation", () => {
  const p = xdrPayload(encodeXdrDelete(record, { generation: 9 }).subarray(8));
  patchReplayPayload(p, { generationPolicy: "expectGenGreater", recordExistsAction: "replace" });
  assert.equal(p[10], 0x01 | 0x02 | 0x08); // WRITE | DELETE | GENERATION_GT
  assert.equal(p[11], 0x10);
  assert.equal(new DataView(p.buffer).getUint32(8 + 6), 9);
  // Defaults: no generation check, update.
  patchReplayPayload(p, {});
  assert.equal(p[10], 0x03);
  assert.equal(p[11], 0x00);
});

Deno.test("patchReplayPayload() refuses unknown policies and short payloads", () => {
  const p = xdrPayload(encodeXdrWrite(record).subarray(8));
  assert.throws(
    () => patchReplayPayload(p, { generationPolicy: "sometimes" as "none" }),
    TypeError,
  );
  assert.throws(() => patchReplayPayload(new Uint8Array(11), {}), RangeError);
});
