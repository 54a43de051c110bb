import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { bytesToHex, hexToBytes } from "./_captures.ts";
import { computeDigest, keyFromJs, partitionId } from "./digest.ts";

Deno.test("computeDigest() matches the spec test vectors", () => {
  const cases: [string, number | bigint | string | Uint8Array, string][] = [
    ["set", 0, "93d943aae37b017ad7e011b0c1d2e2143c2fb37d"],
    ["set", -9223372036854775808n, "7185c2a47fb02c996daed26b4e01b83240aee9d4"],
    ["set", "", "2819b1ff6e346a43b4f5f6b77a88bc3eaac22a83"],
    ["set", "s", "607cddba7cd111745ef0a3d783d57f0e83c8f311"],
    ["set", new Uint8Array(0), "327e2877b8815c7aeede0d5a8620d4ef8df4a4b4"],
    ["set", new TextEncoder().encode("s"), "ca2d96dc9a184d15a7fa2927565e844e9254e001"],
    ["demo", 1, "b7f4b83889e2da67de683e1df6919a1eacc446c8"],
  ];
  for (const [set, key, hex] of cases) {
    assert.equal(bytesToHex(computeDigest(set, keyFromJs(key))), hex, `${set}/${key}`);
  }
  const d = computeDigest("demo", keyFromJs("key1"));
  assert.equal(Buffer.from(d).toString("base64"), "7JEZLUt/jONdXXjTS8ply6qqyWA=");
  assert.equal(partitionId(d), 492);
});

Deno.test("partitionId() reads the first two digest bytes little-endian", () => {
  assert.equal(partitionId(hexToBytes("b7f4b83889e2da67de683e1df6919a1eacc446c8")), 1207);
  assert.equal(partitionId(new Uint8Array([0xff, 0xff])), 4095);
  assert.equal(partitionId(new Uint8Array([0x01, 0x10])), 1);
});

Deno.test("computeDigest() of a set-less record hashes no set bytes", () => {
  assert.notDeepEqual(computeDigest("", keyFromJs(1)), computeDigest("demo", keyFromJs(1)));
  assert.equal(computeDigest("", keyFromJs(1)).length, 20);
});

Deno.test("keyFromJs() picks the key type from the JS value", () => {
  assert.deepEqual(keyFromJs(5), { type: 1, value: 5n });
  assert.deepEqual(keyFromJs(1.5), { type: 2, value: 1.5 });
  assert.equal(keyFromJs("a").type, 3);
  assert.equal(keyFromJs(new Uint8Array(1)).type, 4);
  assert.throws(() => keyFromJs(2n ** 63n), RangeError);
  assert.throws(() => keyFromJs(2 ** 60), RangeError);
});
