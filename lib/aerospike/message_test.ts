import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { bytesToHex, capturedRecordMessages, loadCapture } from "./_captures.ts";
import {
  createMessageHeader,
  createOpView,
  dataViewOf,
  encodeRecordMessage,
  forEachField,
  forEachOp,
  Info1,
  Info3,
  MSG_HEADER_SIZE,
  readMessageHeader,
  writeBinOp,
  writeMessageHeader,
  writeReadOp,
  writeStringField,
} from "./message.ts";
import { decodeRecordMessage } from "./record_view.ts";
import { binToJs, floatBin, geoJsonBin, intBin, stringBin } from "./particle.ts";
import type { AerospikeRecord } from "./record.ts";

const FILES = [
  "official-node-client.jsonl",
  "c-asbackup-plain.jsonl",
  "c-asbackup-filters.jsonl",
  "c-asbackup-nobins-afterdigest.jsonl",
  "c-asbackup-nottl-records-per-second.jsonl",
];

Deno.test("decodeRecordMessage() decodes every captured scan reply and re-encodes it byte for byte", () => {
  let n = 0;
  const types = new Set<number>();
  const w = new ByteWriter();
  for (const { file, line, bytes, header, record } of capturedRecordMessages(FILES)) {
    n++;
    for (const b of record.bins) types.add(b.type);
    assert.equal(record.digest.length, 20);
    assert.ok(record.namespace === "test" || record.namespace === "bar");
    if (record.bins.some((b) => b.type === 23)) continue; // cells are not kept
    w.reset();
    encodeRecordMessage(w, record, { info1: header.info1 });
    assert.equal(bytesToHex(w.subarray()), bytesToHex(bytes), `${file} #${line}`);
  }
  assert.ok(n > 50, `only ${n} records`);
  // Every particle type the captures hold: int, float, string, blob, bool, HLL, map, list, geo.
  for (const t of [1, 2, 3, 4, 17, 18, 19, 20, 23]) assert.ok(types.has(t), `type ${t} missing`);
});

Deno.test("decodeRecordMessage() keeps ints exact, floats as floats, and strips GeoJSON cells", () => {
  const byKey = new Map<string, AerospikeRecord>();
  for (const { file, record } of capturedRecordMessages(FILES)) {
    if (file !== "official-node-client.jsonl" || record.key?.type !== 3) continue;
    byKey.set(new TextDecoder().decode(record.key.value), record);
  }
  const bin = (k: string, name = "v") => byKey.get(k)?.bins.find((b) => b.name === name);
  const geo = [...byKey.values()].flatMap((r) => r.bins).find((b) => b.type === 23)!;
  const text = binToJs(geo) as string;
  assert.ok(text.startsWith("{") && text.includes("Point"), text);
  const floats = [...byKey.values()].flatMap((r) => r.bins).filter((b) => b.type === 2);
  assert.ok(floats.some((b) => b.value === 1), "float 1.0 stays a float");
  assert.equal(bin("int")?.type, 1);
});

Deno.test("decodeRecordMessage() copies values so records outlive the frame", () => {
  const { bytes, header } = capturedRecordMessages(FILES).next().value!;
  const frame = bytes.slice();
  const { record } = decodeRecordMessage(frame, MSG_HEADER_SIZE, header);
  const before = record.bins.map((
    b,
  ) => (b.value instanceof Uint8Array ? b.value.slice() : b.value));
  const digest = record.digest.slice();
  frame.fill(0xee);
  assert.deepEqual(record.digest, digest);
  assert.deepEqual(record.bins.map((b) => b.value), before);
});

Deno.test("decodeRecordMessage() reads no-bins scan replies", () => {
  const msgs = loadCapture("c-asbackup-nobins-afterdigest.jsonl").filter((m) =>
    m.dir === "s2c" && m.type === 3 && m.len > 30
  );
  const m = msgs[0].bytes;
  const h = readMessageHeader(dataViewOf(m), 8);
  assert.equal(h.info1, Info1.GET_NOBINDATA);
  assert.equal(h.nOps, 0);
  const { record } = decodeRecordMessage(m, 8 + MSG_HEADER_SIZE, h);
  assert.deepEqual(record.bins, []);
});

Deno.test("readMessageHeader() reads the LAST marker", () => {
  const m = loadCapture("official-node-client.jsonl")[63].bytes;
  const h = readMessageHeader(dataViewOf(m), 8);
  assert.equal(h.info3 & Info3.LAST, Info3.LAST);
  assert.equal(h.resultCode, 0);
  const w = new ByteWriter();
  writeMessageHeader(w, h);
  assert.deepEqual(w.subarray(), m.subarray(8));
});

Deno.test("readMessageHeader() and forEachOp() fill caller-owned scratch objects", () => {
  const w = new ByteWriter();
  writeMessageHeader(w, { ...createMessageHeader(), resultCode: 5, transactionTtl: 3, nOps: 2 });
  writeBinOp(w, 2, intBin("a", 1n));
  writeBinOp(w, 2, stringBin("bc", "x"));
  writeMessageHeader(w, { ...createMessageHeader(), info3: Info3.LAST });
  const b = w.subarray().slice();
  const view = dataViewOf(b);
  const h = createMessageHeader();
  assert.equal(readMessageHeader(view, 0, h), h);
  assert.deepEqual(h, readMessageHeader(view, 0));
  assert.equal(h.transactionTtl, 3);
  const op = createOpView();
  const seen: string[] = [];
  const end = forEachOp(view, b, MSG_HEADER_SIZE, h.nOps, (o) => {
    assert.equal(o, op);
    seen.push(`${o.nameLength}:${o.valueLength}`);
  }, op);
  assert.deepEqual(seen, ["1:8", "2:1"]);
  // Every value is overwritten by the next read.
  readMessageHeader(view, end, h);
  assert.deepEqual(h, { ...createMessageHeader(), info3: Info3.LAST });
});

Deno.test("writeBinOp() encodes the put of the spec example", () => {
  const w = new ByteWriter();
  writeBinOp(w, 2, intBin("a", 5n));
  writeBinOp(w, 2, stringBin("s", "hi"));
  assert.equal(
    bytesToHex(w.subarray()),
    "0000000d020100016100000000000000050000000702030001736869",
  );
  w.reset();
  writeBinOp(w, 2, floatBin("f", 1));
  writeBinOp(w, 2, geoJsonBin("g", "{}"));
  assert.equal(
    bytesToHex(w.subarray()),
    "0000000d02020001663ff00000000000000000000a02170001670000007b7d",
  );
  assert.throws(() => writeBinOp(w, 2, intBin("a".repeat(16), 1n)), RangeError);
});

Deno.test("writeReadOp() writes a value-less op", () => {
  const w = new ByteWriter();
  writeReadOp(w, "v");
  assert.equal(bytesToHex(w.subarray()), "000000050100000176");
});

Deno.test("forEachField() and forEachOp() reject overruns", () => {
  const w = new ByteWriter();
  writeStringField(w, 0, "test");
  const b = w.subarray().slice(0, 7);
  const isInvalid = (e: unknown) => e instanceof AerobakError && e.code === "MESSAGE_INVALID";
  assert.throws(() => forEachField(dataViewOf(b), b, 0, 1, () => {}), isInvalid);
  assert.throws(() => forEachField(dataViewOf(b), b, 0, 2, () => {}), isInvalid);
  w.reset();
  writeBinOp(w, 2, intBin("a", 1n));
  const o = w.subarray().slice(0, 10);
  assert.throws(() => forEachOp(dataViewOf(o), o, 0, 1, () => {}), isInvalid);
  assert.throws(() => readMessageHeader(dataViewOf(o), 0), isInvalid);
});

Deno.test("decodeRecordMessage() rejects a record without digest", () => {
  const w = new ByteWriter();
  writeMessageHeader(w, {
    info1: 0,
    info2: 0,
    info3: 0,
    info4: 0,
    resultCode: 0,
    generation: 1,
    recordTtl: 0,
    transactionTtl: 0,
    nFields: 1,
    nOps: 0,
  });
  writeStringField(w, 0, "test");
  const b = w.subarray().slice();
  const h = readMessageHeader(dataViewOf(b), 0);
  assert.throws(
    () => decodeRecordMessage(b, MSG_HEADER_SIZE, h),
    (e) => e instanceof AerobakError && e.code === "MESSAGE_INVALID",
  );
});
