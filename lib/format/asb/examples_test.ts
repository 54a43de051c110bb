import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import { computeDigest } from "../../aerospike/digest.ts";
import type { AerospikeRecord } from "../../aerospike/record.ts";
import type { SIndexInfo } from "../../aerospike/info.ts";
import { AsbEncoder } from "./encoder.ts";
import { decodeAll } from "./_test_util.ts";

const te = new TextEncoder();
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const bytes = (...b: number[]) => new Uint8Array(b);

const EXAMPLE1 = "Version 3.1\n# namespace test\n# first-file\n" +
  "* u L hello.lua 35 function hello()\n  return 'hi'\nend\n\n" +
  "* i test demo idx_age N 1 age N\n" +
  "* i test  idx_name N 1 name S\n" +
  "* i test demo idx_tags L 1 tags S\n" +
  "* i test demo idx_m_a V 1 m N kiKiA2E=\n";

const EXAMPLE1_SINDEXES: SIndexInfo[] = [
  {
    namespace: "test",
    set: "demo",
    name: "idx_age",
    indexType: "default",
    bin: "age",
    binType: "numeric",
  },
  {
    namespace: "test",
    set: "",
    name: "idx_name",
    indexType: "default",
    bin: "name",
    binType: "string",
  },
  {
    namespace: "test",
    set: "demo",
    name: "idx_tags",
    indexType: "list",
    bin: "tags",
    binType: "string",
  },
  {
    namespace: "test",
    set: "demo",
    name: "idx_m_a",
    indexType: "mapvalues",
    bin: "m",
    binType: "numeric",
    context: "kiKiA2E=",
  },
];

const EXAMPLE2_HEAD = "Version 3.1\n# namespace test\n";
const EXAMPLE2_BODY = "+ k I 1\n+ n test\n+ d t/S4OIni2mfeaD4d9pGaHqzERsg=\n+ s demo\n+ g 3\n" +
  "+ t 500000000\n+ b 4\n- I age 42\n- S name 11 Hello World\n- D ratio 0.5\n- Z ok T\n" +
  "+ k S 5 alice\n+ n test\n+ d J7/lCxqosJ9pPsj/7c5Qt6b4XXk=\n+ s demo\n+ g 1\n+ t 0\n+ b 6\n" +
  "- B raw 8 AAEC/w==\n- M prefs 8 gaIDawE=\n- L tags 8 kqIDeAI=\n" +
  '- G loc 42 {"type":"Point","coordinates":[103.9,1.3]}\n- N gone\n- S my\\ bin 7 a b\nc d\n' +
  "+ k B 4 AQID\n+ n test\n+ d FA4ZC5J4EVI0mjxvInD/P7YaKXs=\n+ g 7\n+ t 500086400\n+ b 1\n" +
  "- I n -9223372036854775808\n";
const EXAMPLE2_LAST = "+ n test\n+ d aVX1wx1ahRNN795hur2MjCzFb4A=\n+ s demo\n+ g 2\n+ t 0\n+ b 1\n";

const EXAMPLE2_RECORDS: AerospikeRecord[] = [
  {
    namespace: "test",
    set: "demo",
    digest: b64("t/S4OIni2mfeaD4d9pGaHqzERsg="),
    key: { type: 1, value: 1n },
    generation: 3,
    voidTime: 500000000,
    bins: [
      { name: "age", type: 1, value: 42n },
      { name: "name", type: 3, value: te.encode("Hello World") },
      { name: "ratio", type: 2, value: 0.5 },
      { name: "ok", type: 17, value: true },
    ],
  },
  {
    namespace: "test",
    set: "demo",
    digest: b64("J7/lCxqosJ9pPsj/7c5Qt6b4XXk="),
    key: { type: 3, value: te.encode("alice") },
    generation: 1,
    voidTime: 0,
    bins: [
      { name: "raw", type: 4, value: bytes(0, 1, 2, 0xff) },
      { name: "prefs", type: 19, value: bytes(0x81, 0xa2, 0x03, 0x6b, 0x01) },
      { name: "tags", type: 20, value: bytes(0x92, 0xa2, 0x03, 0x78, 0x02) },
      { name: "loc", type: 23, value: te.encode('{"type":"Point","coordinates":[103.9,1.3]}') },
      { name: "gone", type: 0, value: null },
      { name: "my bin", type: 3, value: te.encode("a b\nc d") },
    ],
  },
  {
    namespace: "test",
    set: "",
    digest: b64("FA4ZC5J4EVI0mjxvInD/P7YaKXs="),
    key: { type: 4, value: bytes(1, 2, 3) },
    generation: 7,
    voidTime: 500086400,
    bins: [{ name: "n", type: 1, value: -9223372036854775808n }],
  },
  {
    namespace: "test",
    set: "demo",
    digest: b64("aVX1wx1ahRNN795hur2MjCzFb4A="),
    generation: 2,
    voidTime: 0,
    bins: [{ name: "enc", type: 3, value: te.encode("hello") }],
  },
];

// Example 3 from the hex dump.
const EXAMPLE3 = new Uint8Array([
  ...te.encode("Version 3.1\n# namespace test\n# first-file\n+ k B! 3 abc\n+ n test\n"),
  ...te.encode("+ d P7fGjywrF+aRZ10SSbzGNqSEGEw=\n+ s demo\n+ g 1\n+ t 0\n+ b 2\n"),
  ...te.encode("- B! blob 4 wxyz\n- J! jblob 3 "),
  0x6a,
  0x01,
  0x6b,
  0x0a,
]);
const EXAMPLE3_RECORD: AerospikeRecord = {
  namespace: "test",
  set: "demo",
  digest: b64("P7fGjywrF+aRZ10SSbzGNqSEGEw="),
  key: { type: 4, value: te.encode("abc") },
  generation: 1,
  voidTime: 0,
  bins: [
    { name: "blob", type: 4, value: te.encode("wxyz") },
    { name: "jblob", type: 7, value: bytes(0x6a, 0x01, 0x6b) },
  ],
};

function encodeAll(enc: AsbEncoder, header: Uint8Array, records: AerospikeRecord[]): string {
  const w = new ByteWriter(16);
  w.bytes(header);
  for (const r of records) enc.encodeRecord(w, r);
  return new TextDecoder().decode(w.subarray());
}

Deno.test("decodeAsb() reads asb-format.md example 1 (metadata file)", async () => {
  const { header, tokens } = await decodeAll(te.encode(EXAMPLE1));
  assert.deepEqual(header, { version: "3.1", namespace: "test", firstFile: true });
  assert.equal(tokens.length, 5);
  assert.deepEqual(tokens[0], {
    kind: "udf",
    udf: { name: "hello.lua", content: te.encode("function hello()\n  return 'hi'\nend\n") },
  });
  assert.deepEqual(tokens.slice(1).map((t) => t.kind === "sindex" && t.sindex), EXAMPLE1_SINDEXES);
  assert.deepEqual(b64("kiKiA2E="), bytes(0x92, 0x22, 0xa2, 0x03, 0x61));
});

Deno.test("AsbEncoder writes asb-format.md example 1 byte for byte", () => {
  const enc = new AsbEncoder();
  const w = new ByteWriter();
  w.bytes(enc.header("test", { firstFile: true }));
  enc.encodeUdf(w, {
    name: "hello.lua",
    content: te.encode("function hello()\n  return 'hi'\nend\n"),
  });
  for (const s of EXAMPLE1_SINDEXES) enc.encodeSIndex(w, s);
  assert.equal(new TextDecoder().decode(w.subarray()), EXAMPLE1);
});

Deno.test("decodeAsb() reads asb-format.md example 2 (records, every key form)", async () => {
  const { header, tokens } = await decodeAll(
    te.encode(EXAMPLE2_HEAD + EXAMPLE2_BODY + EXAMPLE2_LAST + "- X enc 8 aGVsbG8=\n"),
  );
  assert.deepEqual(header, { version: "3.1", namespace: "test", firstFile: false });
  assert.deepEqual(tokens.map((t) => t.kind === "record" && t.record), EXAMPLE2_RECORDS);
});

Deno.test("example 2 digests are the RIPEMD-160 of set and key", () => {
  for (const r of EXAMPLE2_RECORDS.slice(0, 3)) {
    assert.deepEqual(computeDigest(r.set, r.key!), r.digest);
  }
});

Deno.test("AsbEncoder writes asb-format.md example 2 byte for byte (X becomes S)", () => {
  const enc = new AsbEncoder();
  const text = encodeAll(enc, enc.header("test"), EXAMPLE2_RECORDS);
  assert.equal(text, EXAMPLE2_HEAD + EXAMPLE2_BODY + EXAMPLE2_LAST + "- S enc 5 hello\n");
});

Deno.test("decodeAsb() reads asb-format.md example 3 (C compact)", async () => {
  const { header, tokens } = await decodeAll(EXAMPLE3);
  assert.deepEqual(header, { version: "3.1", namespace: "test", firstFile: true });
  assert.deepEqual(tokens, [{ kind: "record", record: EXAMPLE3_RECORD }]);
  assert.deepEqual(computeDigest("demo", EXAMPLE3_RECORD.key!), EXAMPLE3_RECORD.digest);
});

Deno.test("AsbEncoder in C style with compact writes example 3 byte for byte", () => {
  const enc = new AsbEncoder({ style: "c", compact: true });
  const w = new ByteWriter();
  w.bytes(enc.header("test", { firstFile: true }));
  enc.encodeRecord(w, EXAMPLE3_RECORD);
  assert.deepEqual(w.subarray(), EXAMPLE3);
});

Deno.test("AsbEncoder in Go style with compact keeps keys and language blobs base64", () => {
  const enc = new AsbEncoder({ compact: true });
  const text = encodeAll(enc, new Uint8Array(0), [EXAMPLE3_RECORD]);
  assert.equal(
    text,
    "+ k B 4 YWJj\n+ n test\n+ d P7fGjywrF+aRZ10SSbzGNqSEGEw=\n+ s demo\n+ g 1\n+ t 0\n+ b 2\n" +
      "- B! blob 4 wxyz\n- J jblob 4 agFr\n",
  );
});

Deno.test("decodeAsb() reads the C tool's own test fixture", async () => {
  const text = "Version 3.1\n# namespace test\n# first-file\n+ k S 4 key1\n+ n test\n" +
    "+ d 7JEZLUt/jONdXXjTS8ply6qqyWA=\n+ s demo\n+ g 1\n+ t 428179113\n+ b 3\n" +
    "- I foo 123\n- S bar 3 abc\n- Z baz T\n";
  const { tokens } = await decodeAll(te.encode(text));
  assert.equal(tokens.length, 1);
  const r = tokens[0].kind === "record" ? tokens[0].record : undefined;
  assert.deepEqual(r?.bins, [
    { name: "foo", type: 1, value: 123n },
    { name: "bar", type: 3, value: te.encode("abc") },
    { name: "baz", type: 17, value: true },
  ]);
  assert.deepEqual(computeDigest("demo", r!.key!), r!.digest);
});
