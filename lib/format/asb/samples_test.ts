import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import { computeDigest } from "../../aerospike/digest.ts";
import { AsbEncoder } from "./encoder.ts";
import type { AsbToken } from "./parser.ts";
import { validateAsb } from "./validate.ts";
import { chunkedStream, decodeAll } from "./_test_util.ts";

const SAMPLES = new URL("../../../testdata/c-asbackup-4.5.8/", import.meta.url);
const read = (p: string) => Deno.readFileSync(new URL(p, SAMPLES));

/** Re-encodes decoded tokens in the C style, as the C asbackup would have written them. */
function reencodeC(
  tokens: AsbToken[],
  namespace: string,
  firstFile: boolean,
  compact: boolean,
): Uint8Array {
  const enc = new AsbEncoder({ style: "c", compact });
  const w = new ByteWriter();
  w.bytes(enc.header(namespace, { firstFile }));
  for (const t of tokens) {
    if (t.kind === "record") enc.encodeRecord(w, t.record);
    else if (t.kind === "sindex") enc.encodeSIndex(w, t.sindex);
    else enc.encodeUdf(w, t.udf);
  }
  return w.subarray();
}

for (
  const [path, compact] of [["plain/test_00000.asb", false], ["compact/test_00000.asb", true], [
    "single.asb",
    false,
  ]] as const
) {
  Deno.test(`decodeAsb() reads the C asbackup sample ${path} and C-style encoding gives it back`, async () => {
    const bytes = read(path);
    const { header, tokens } = await decodeAll(bytes, [777], path);
    assert.deepEqual(header, { version: "3.1", namespace: "test", firstFile: true });
    const kinds = tokens.map((t) => t.kind);
    assert.equal(kinds.filter((k) => k === "sindex").length, 3);
    assert.equal(kinds.filter((k) => k === "udf").length, 1);
    const records = tokens.flatMap((t) => t.kind === "record" ? [t.record] : []);
    assert.ok(records.length >= 15, `${records.length} records`);
    const types = new Set(records.flatMap((r) => r.bins.map((b) => b.type)));
    for (const t of [1, 2, 3, 4, 17, 18, 19, 20, 23]) assert.ok(types.has(t as never), `type ${t}`);
    for (const r of records) {
      if (r.key !== undefined) assert.deepEqual(computeDigest(r.set, r.key), r.digest);
    }
    const sindex = tokens.find((t) => t.kind === "sindex" && t.sindex.name === "idx s");
    assert.ok(sindex, "escaped sindex name 'idx\\ s'");
    assert.deepEqual(reencodeC(tokens, "test", true, compact), bytes);
  });
}

Deno.test("decodeAsb() reads the split C sample; only the first file is first-file", async () => {
  const a = await decodeAll(read("split/test_00000.asb"), [1]);
  const b = await decodeAll(read("split/test_00001.asb"), [3, 5]);
  assert.equal(a.header.firstFile, true);
  assert.deepEqual(b.header, { version: "3.1", namespace: "test", firstFile: false });
  assert.ok(b.tokens.every((t) => t.kind === "record"));
  const all = await decodeAll(read("plain/test_00000.asb"));
  const count = (ts: AsbToken[]) => ts.filter((t) => t.kind === "record").length;
  assert.equal(count(a.tokens) + count(b.tokens), count(all.tokens));
  assert.deepEqual(reencodeC(b.tokens, "test", false, false), read("split/test_00001.asb"));
});

Deno.test("validateAsb() counts the C plain sample", async () => {
  const bytes = read("plain/test_00000.asb");
  const v = await validateAsb(chunkedStream(bytes, [100]), { file: "plain.asb" });
  const { tokens } = await decodeAll(bytes);
  assert.equal(v.records, tokens.filter((t) => t.kind === "record").length);
  assert.equal(v.sindexes, 3);
  assert.equal(v.udfs, 1);
  assert.equal(v.bytes, bytes.length);
  assert.equal(v.lines, bytes.filter((b) => b === 10).length);
  assert.equal(v.namespace, "test");
  assert.equal(v.file, "plain.asb");
});
