import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import type { AerospikeRecord } from "../../aerospike/record.ts";
import { RecordView } from "../../aerospike/record_view.ts";
import {
  encodeRecordMessage,
  MSG_HEADER_SIZE,
  readMessageHeader,
} from "../../aerospike/message.ts";
import { capturedRecordMessages } from "../../aerospike/_captures.ts";
import { AsbEncoder, asbVersionFor } from "./encoder.ts";
import { decodeAll } from "./_test_util.ts";
import { decodeAsb } from "./decoder.ts";

const td = new TextDecoder();
const base: AerospikeRecord = {
  namespace: "test",
  set: "",
  digest: new Uint8Array(20),
  generation: 1,
  voidTime: 0,
  bins: [],
};

function encode(enc: AsbEncoder, r: AerospikeRecord): string {
  const w = new ByteWriter(8);
  enc.encodeRecord(w, r);
  return td.decode(w.subarray());
}

Deno.test("encodeRecord() writes floats per style and keeps -0", () => {
  const bins = [0.1, -0, NaN, Infinity, -Infinity, 1e21, 1e-7].map((value, i) => ({
    name: `f${i}`,
    type: 2 as const,
    value,
  }));
  const go = encode(new AsbEncoder(), { ...base, bins });
  assert.match(
    go,
    /- D f0 0\.1\n- D f1 -0\n- D f2 nan\n- D f3 inf\n- D f4 -inf\n- D f5 1e\+21\n- D f6 1e-7\n/,
  );
  const c = encode(new AsbEncoder({ style: "c" }), { ...base, bins });
  assert.match(
    c,
    /- D f0 0\.10000000000000001\n- D f1 -0\n- D f2 nan\n.*- D f6 9\.9999999999999995e-08\n/s,
  );
});

Deno.test("encodeRecord() writes float keys in fixed notation (Go) or %.17g (C)", () => {
  const r = { ...base, key: { type: 2 as const, value: 1e21 } };
  assert.match(encode(new AsbEncoder(), r), /^\+ k D 1000000000000000000000\n/);
  assert.match(encode(new AsbEncoder({ style: "c" }), r), /^\+ k D 1e\+21\n/);
});

Deno.test("encodeRecord() and encodeView() write integer keys of every size and sign", () => {
  const keys: [bigint, string][] = [
    [0n, "0"],
    [7n, "7"],
    [-42n, "-42"],
    [2n ** 53n - 1n, "9007199254740991"],
    [-(2n ** 53n) + 1n, "-9007199254740991"],
    [2n ** 53n + 1n, "9007199254740993"],
    [2n ** 63n - 1n, "9223372036854775807"],
    [-(2n ** 63n), "-9223372036854775808"],
  ];
  const rv = new RecordView();
  for (const [value, text] of keys) {
    const record = { ...base, key: { type: 1 as const, value } };
    const out = encode(new AsbEncoder(), record);
    assert.ok(out.startsWith(`+ k I ${text}\n+ n test\n`), out);
    // The same record as a scan reply's message.
    const msg = new ByteWriter(64);
    encodeRecordMessage(msg, record);
    const bytes = msg.subarray();
    const header = readMessageHeader(new DataView(bytes.buffer), 0);
    const w = new ByteWriter(8);
    new AsbEncoder().encodeView(
      w,
      rv.read(bytes, new DataView(bytes.buffer), MSG_HEADER_SIZE, header),
    );
    assert.equal(td.decode(w.subarray()), out);
  }
});

Deno.test("encodeRecord() escapes names and writes empty values with their space", () => {
  const r: AerospikeRecord = {
    ...base,
    namespace: "n s",
    set: "a\\b\nc",
    bins: [
      { name: "e s", type: 3, value: new Uint8Array(0) },
      { name: "b", type: 4, value: new Uint8Array(0) },
      { name: "i", type: 1, value: -42n },
      { name: "z", type: 17, value: false },
    ],
  };
  assert.equal(
    encode(new AsbEncoder(), r),
    "+ n n\\ s\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ s a\\\\b\\\nc\n+ g 1\n+ t 0\n+ b 4\n" +
      "- S e\\ s 0 \n- B b 0 \n- I i -42\n- Z z F\n",
  );
  assert.match(encode(new AsbEncoder({ compact: true }), r), /- B! b 0 \n/);
});

Deno.test("encodeRecord() rejects records ASB cannot hold", () => {
  const enc = new AsbEncoder();
  const w = new ByteWriter();
  assert.throws(() => enc.encodeRecord(w, { ...base, digest: new Uint8Array(19) }), RangeError);
  assert.throws(() => enc.encodeRecord(w, { ...base, generation: 65536 }), RangeError);
  assert.throws(() => enc.encodeRecord(w, { ...base, voidTime: -1 }), RangeError);
  const vector = { name: "v", type: 16, value: new Uint8Array(4) } as never;
  assert.throws(() => enc.encodeRecord(w, { ...base, bins: [vector] }), RangeError);
  const wrong = { name: "i", type: 1, value: 5 } as never;
  assert.throws(() => enc.encodeRecord(w, { ...base, bins: [wrong] }), TypeError);
  assert.equal(w.length, 0);
  assert.throws(() => new AsbEncoder({ style: "x" as never }), TypeError);
});

Deno.test("encodeSIndex() writes '* e' lines that decode back under a 3.2 header", async () => {
  const sindexes = [
    {
      namespace: "test",
      set: "s",
      name: "by exp",
      indexType: "default" as const,
      bin: "",
      binType: "numeric" as const,
      expression: "kwGTUQOjYWJj",
    },
    {
      namespace: "test",
      set: "",
      name: "ctx",
      indexType: "mapkeys" as const,
      bin: "m",
      binType: "string" as const,
      context: "kiKiA2E=",
    },
  ];
  assert.equal(asbVersionFor(sindexes), "3.2");
  assert.equal(asbVersionFor(sindexes.slice(1)), "3.1");
  const enc = new AsbEncoder();
  const w = new ByteWriter();
  w.bytes(enc.header("test", { firstFile: true, version: asbVersionFor(sindexes) }));
  for (const s of sindexes) enc.encodeSIndex(w, s);
  assert.equal(
    td.decode(w.subarray()),
    "Version 3.2\n# namespace test\n# first-file\n* e test s by\\ exp N 1  N kwGTUQOjYWJj\n" +
      "* i test  ctx K 1 m S kiKiA2E=\n",
  );
  const { tokens } = await decodeAll(w.subarray());
  assert.deepEqual(tokens.map((t) => t.kind === "sindex" && t.sindex), sindexes);
});

Deno.test("AsbDecoder.readHeader() returns the header and keeps the first token", async () => {
  const text = "Version 3.1\n# namespace ns\\ 1\n* u L a.lua 0 \n";
  const dec = decodeAsb(ReadableStream.from([new TextEncoder().encode(text)]));
  assert.deepEqual(await dec.readHeader(), { version: "3.1", namespace: "ns 1", firstFile: false });
  const tokens = [];
  for await (const t of dec) tokens.push(t);
  assert.deepEqual(tokens, [{ kind: "udf", udf: { name: "a.lua", content: new Uint8Array(0) } }]);
});

Deno.test("breaking out of decodeAsb() cancels the stream", async () => {
  let cancelled = false;
  const enc = new AsbEncoder();
  const w = new ByteWriter();
  w.bytes(enc.header("test"));
  for (let i = 0; i < 10; i++) enc.encodeRecord(w, base);
  const bytes = w.subarray();
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(bytes.slice());
    },
    cancel() {
      cancelled = true;
    },
  });
  let n = 0;
  for await (const _ of decodeAsb(stream)) if (++n === 3) break;
  assert.equal(cancelled, true);
});

Deno.test("encodeView() writes what encodeRecord() writes of the decoded record, for every captured reply", () => {
  const files = [
    "official-node-client.jsonl",
    "c-asbackup-plain.jsonl",
    "c-asbackup-filters.jsonl",
    "c-asbackup-nobins-afterdigest.jsonl",
  ];
  const rv = new RecordView();
  let n = 0;
  for (
    const options of [{}, { compact: true }, { style: "c" as const }, {
      style: "c" as const,
      compact: true,
    }]
  ) {
    const a = new AsbEncoder(options);
    const b = new AsbEncoder(options);
    for (const m of capturedRecordMessages(files)) {
      const fromRecord = new ByteWriter(64);
      const fromView = new ByteWriter(64);
      a.encodeRecord(fromRecord, m.record);
      const view = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      b.encodeView(fromView, rv.read(m.bytes, view, MSG_HEADER_SIZE, m.header));
      assert.equal(rv.next, m.bytes.length);
      assert.equal(td.decode(fromView.subarray()), td.decode(fromRecord.subarray()));
      n++;
    }
  }
  assert.ok(n > 100, `${n} records`);
});
