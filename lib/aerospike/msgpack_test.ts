import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { bytesToHex, capturedRecordMessages, hexToBytes } from "./_captures.ts";
import {
  MsgpackReader,
  packArrayHeader,
  packBlob,
  packBool,
  packExt,
  packFloat,
  packInt,
  packMapHeader,
  packNil,
  packRawString,
  packString,
  packUint64,
  unpack,
} from "./msgpack.ts";

function hex(fn: (w: ByteWriter) => void): string {
  const w = new ByteWriter(8);
  fn(w);
  return bytesToHex(w.subarray());
}

Deno.test("packInt() writes the smallest form like the Go client", () => {
  const cases: [bigint, string][] = [
    [0n, "00"],
    [127n, "7f"],
    [128n, "cc80"],
    [255n, "ccff"],
    [256n, "cd0100"],
    [65536n, "ce00010000"],
    [4294967296n, "d30000000100000000"],
    [-1n, "ff"],
    [-32n, "e0"],
    [-33n, "d0df"],
    [-129n, "d1ff7f"],
    [-32769n, "d2ffff7fff"],
    [-(2n ** 63n), "d38000000000000000"],
    [1700000000000000000n, "d317979cfe362a0000"],
  ];
  for (const [v, h] of cases) assert.equal(hex((w) => packInt(w, v)), h, `${v}`);
  assert.throws(() => packInt(new ByteWriter(), 2n ** 63n), RangeError);
  assert.equal(hex((w) => packUint64(w, 1767225600000000000n)), "cf18867251edfa0000");
});

Deno.test("packString() prefixes the particle type, packRawString() does not", () => {
  assert.equal(hex((w) => packString(w, "a")), "a20361");
  assert.equal(hex((w) => packRawString(w, "a")), "a161");
  assert.equal(hex((w) => packBlob(w, new Uint8Array([1]))), "a20401");
  assert.equal(hex((w) => packString(w, "x".repeat(40))).slice(0, 6), "d92903");
  assert.equal(hex((w) => packString(w, "x".repeat(300))).slice(0, 8), "da012d03");
});

Deno.test("unpack() reads the key-ordered map example of §4.7", () => {
  const v = unpack(hexToBytes("82c70001c0a2036b01"));
  assert.ok(v instanceof Map);
  const entries = [...v.entries()];
  assert.deepEqual(entries[0][0], { extType: 1, data: new Uint8Array(0) });
  assert.equal(entries[0][1], null);
  assert.deepEqual(entries[1], ["k", 1n]);
});

Deno.test("unpack() reads every captured list and map bin", () => {
  let n = 0;
  for (const { record } of capturedRecordMessages(["official-node-client.jsonl"])) {
    for (const b of record.bins) {
      if (b.type !== 19 && b.type !== 20) continue;
      const v = unpack(b.value);
      assert.ok(Array.isArray(v) || v instanceof Map);
      const r = new MsgpackReader(b.value);
      r.skip();
      assert.ok(r.done);
      n++;
    }
  }
  assert.ok(n >= 4, `${n} collections`);
});

Deno.test("pack*() round-trips through unpack()", () => {
  const w = new ByteWriter(8);
  packArrayHeader(w, 9);
  packNil(w);
  packBool(w, true);
  packInt(w, -5n);
  packFloat(w, 1.5);
  packString(w, "hé");
  packBlob(w, new Uint8Array([7]), 23);
  packMapHeader(w, 1);
  packInt(w, 1n);
  packInt(w, 2n);
  packExt(w, 0xff, new Uint8Array([0]));
  packArrayHeader(w, 20);
  for (let i = 0; i < 20; i++) packInt(w, i);
  assert.deepEqual(unpack(w.subarray()), [
    null,
    true,
    -5n,
    1.5,
    "hé",
    { particleType: 23, bytes: new Uint8Array([7]) },
    new Map([[1n, 2n]]),
    { extType: 0xff, data: new Uint8Array([0]) },
    Array.from({ length: 20 }, (_, i) => BigInt(i)),
  ]);
});

Deno.test("unpack() rejects truncated, unknown and trailing bytes", () => {
  const bad = (h: string) =>
    assert.throws(
      () => unpack(hexToBytes(h)),
      (e) => e instanceof AerobakError && e.code === "MSGPACK_INVALID",
    );
  bad("cd01");
  bad("a503");
  bad("c1");
  bad("0101");
  bad("92");
  assert.deepEqual(unpack(hexToBytes("c40201ff")), {
    particleType: -1,
    bytes: new Uint8Array([1, 0xff]),
  });
  assert.equal(unpack(hexToBytes("ca3fc00000")), 1.5);
});
