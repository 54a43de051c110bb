import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import type { AerospikeRecord, Bin, UserKey } from "../../aerospike/record.ts";
import { AsbEncoder, type AsbEncoderOptions } from "./encoder.ts";
import { AsbParser, type AsbToken } from "./parser.ts";
import { decodeAll, rng } from "./_test_util.ts";

const NAME_CHARS = ["a", "b", "Z", "_", "-", " ", "\n", "\\", "é", "日", "0", "\t", "!", "+"];
const FLOATS = [
  0,
  -0,
  0.5,
  -1.25,
  0.1,
  1e21,
  1e-7,
  5e-324,
  1.7976931348623157e308,
  NaN,
  Infinity,
  -Infinity,
  123456789.123,
];
const INTS = [
  0n,
  1n,
  -1n,
  9223372036854775807n,
  -9223372036854775808n,
  2n ** 53n,
  -(2n ** 53n) + 1n,
  9007199254740991n,
  42n,
];
const BYTE_TYPES = [3, 4, 7, 8, 9, 10, 11, 12, 18, 19, 20, 23] as const;

function randomRecords(seed: number, count: number, big: boolean): AerospikeRecord[] {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)];
  const name = (max: number) => {
    let s = "";
    const n = 1 + int(max);
    for (let i = 0; i < n; i++) s += pick(NAME_CHARS);
    return s;
  };
  const randBytes = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const records: AerospikeRecord[] = [];
  for (let i = 0; i < count; i++) {
    const nbins = i % 17 === 0 ? 0 : i % 29 === 0 ? 300 : int(8);
    const bins: Bin[] = [];
    for (let j = 0; j < nbins; j++) {
      const bn = j % 3 === 0 ? `bin${j}` : name(14);
      const kind = int(6);
      if (kind === 0) {
        bins.push({
          name: bn,
          type: 1,
          value: r() < 0.5 ? pick(INTS) : BigInt(int(2 ** 31) - 2 ** 30),
        });
      } else if (kind === 1) {
        bins.push({
          name: bn,
          type: 2,
          value: r() < 0.5 ? pick(FLOATS) : (r() - 0.5) * 10 ** int(30),
        });
      } else if (kind === 2) bins.push({ name: bn, type: 17, value: r() < 0.5 });
      else if (kind === 3) bins.push({ name: bn, type: 0, value: null });
      else {bins.push({
          name: bn,
          type: pick(BYTE_TYPES),
          value: randBytes(r() < 0.2 ? 0 : int(64)),
        });}
    }
    if (big && i === 3) bins.push({ name: "big", type: 4, value: randBytes(8 * 1024 * 1024) });
    if (big && i === 4) bins.push({ name: "bigs", type: 3, value: randBytes(1024 * 1024) });
    let key: UserKey | undefined;
    const k = int(5);
    if (k === 0) key = { type: 1, value: pick(INTS) };
    else if (k === 1) key = { type: 2, value: pick(FLOATS) };
    else if (k === 2) key = { type: 3, value: randBytes(int(20)) };
    else if (k === 3) key = { type: 4, value: randBytes(int(20)) };
    const rec: AerospikeRecord = {
      namespace: i % 7 === 0 ? name(10) : "test",
      set: i % 5 === 0 ? "" : i % 11 === 0 ? name(20) : "demo",
      digest: randBytes(20),
      generation: pick([0, 1, 65535, int(65536)]),
      voidTime: pick([0, 4294967295, int(2 ** 32)]),
      bins,
    };
    if (key !== undefined) rec.key = key;
    records.push(rec);
  }
  return records;
}

function encode(records: AerospikeRecord[], options: AsbEncoderOptions): Uint8Array {
  const enc = new AsbEncoder(options);
  const w = new ByteWriter();
  w.bytes(enc.header("test", { firstFile: true }));
  for (const rec of records) {
    const before = w.length;
    const n = enc.encodeRecord(w, rec);
    assert.equal(w.length - before, n);
  }
  return w.subarray().slice();
}

const records = (ts: AsbToken[]) => ts.map((t) => t.kind === "record" ? t.record : null);

for (
  const options of [{}, { compact: true }, { style: "c" }, {
    style: "c",
    compact: true,
  }] as AsbEncoderOptions[]
) {
  Deno.test(`AsbEncoder ${JSON.stringify(options)} round-trips random records through decodeAsb()`, async () => {
    const input = randomRecords(7, 400, false);
    const bytes = encode(input, options);
    const whole = await decodeAll(bytes);
    assert.deepEqual(records(whole.tokens), input);
    const oneByte = await decodeAll(bytes, [1]);
    assert.deepEqual(records(oneByte.tokens), input);
    const r = rng(99);
    const sizes = Array.from({ length: 64 }, () => 1 + Math.floor(r() * 3000));
    const random = await decodeAll(bytes, sizes);
    assert.deepEqual(records(random.tokens), input);
  });
}

Deno.test("decodeAsb() round-trips 8 MiB blobs and 1 MiB strings in random chunks", async () => {
  const input = randomRecords(3, 8, true);
  for (const options of [{}, { compact: true }] as AsbEncoderOptions[]) {
    const bytes = encode(input, options);
    const { tokens } = await decodeAll(bytes, [65536, 1, 100000, 7]);
    assert.deepEqual(records(tokens), input);
  }
});

Deno.test("AsbParser decodes 1-byte pushes in linear time with complete tokens", () => {
  const input = randomRecords(11, 200, false);
  const bytes = encode(input, {});
  const p = new AsbParser();
  const out: AsbToken[] = [];
  for (let i = 0; i < bytes.length; i++) {
    p.push(bytes.subarray(i, i + 1));
    for (let t = p.next(); t !== undefined; t = p.next()) out.push(t);
  }
  p.end();
  for (let t = p.next(); t !== undefined; t = p.next()) out.push(t);
  assert.equal(p.done, true);
  assert.deepEqual(records(out), input);
  assert.equal(p.offset, bytes.length);
});
