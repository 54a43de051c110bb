import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import { AerobakError } from "../../errors.ts";
import {
  ASBX_MAX_PAYLOAD,
  AsbxEncoder,
  asbxFileNumber,
  type AsbxRecord,
  decodeAsbx,
  encodeAsbxHeader,
} from "./asbx.ts";
import { chunkedStream, rng } from "../asb/_test_util.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!, (h) => parseInt(h, 16));

const HEADER = hex(`01 00 00 00 00 00 00 00 01 00 00 00 00 74 65 73
  74 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00`);
const RECORD = hex(`dd bd 52 6b c5 51 7c 4d 1b d6 d5 dd c0 bb 36 04
  4a 93 2d cd 00 00 00 00 00 5a 02 03 00 00 00 00
  00 52 16 00 01 00 00 00 00 00 00 02 00 00 00 00
  00 00 00 00 00 03 00 01 00 00 00 05 00 74 65 73
  74 00 00 00 05 01 64 65 6d 6f 00 00 00 15 04 dd
  bd 52 6b c5 51 7c 4d 1b d6 d5 dd c0 bb 36 04 4a
  93 2d cd 00 00 00 0d 02 01 00 01 78 00 00 00 00
  00 00 00 07`);

async function decodeAll(bytes: Uint8Array, sizes?: number[], fileNumber?: number) {
  const dec = decodeAsbx(chunkedStream(bytes, sizes), { file: "0_test_1.asbx", fileNumber });
  const out: AsbxRecord[] = [];
  for await (const r of dec) out.push(r);
  return { header: dec.header!, records: out };
}

async function expectError(
  bytes: Uint8Array,
  offset: number,
  message: RegExp,
  fileNumber?: number,
) {
  for (const sizes of [undefined, [1], [7]]) {
    await assert.rejects(decodeAll(bytes, sizes, fileNumber), (e: unknown) => {
      assert.ok(e instanceof AerobakError, String(e));
      assert.equal(e.code, "ASBX_SYNTAX");
      assert.deepEqual(e.location, { file: "0_test_1.asbx", offset });
      assert.match(e.message, message);
      return true;
    });
  }
}

Deno.test("encodeAsbxHeader() and AsbxEncoder write asbx-format.md examples byte for byte", () => {
  assert.deepEqual(encodeAsbxHeader("test", 1), HEADER);
  const enc = new AsbxEncoder("test");
  const w = new ByteWriter(4);
  w.bytes(enc.header(1));
  const payload = RECORD.slice(26);
  payload[9] |= 0x10; // as XDR sent it: the encoder clears the XDR bit
  assert.equal(enc.encodeRecord(w, RECORD.subarray(0, 20), payload), RECORD.length);
  assert.deepEqual(w.subarray(), new Uint8Array([...HEADER, ...RECORD]));
  assert.equal(payload[9] & 0x10, 0x10, "input payload is not modified");
  assert.deepEqual(encodeAsbxHeader("n".repeat(40), 2).subarray(13), new Uint8Array(31).fill(0x6e));
});

Deno.test("decodeAsbx() reads the example record in any chunking", async () => {
  for (const sizes of [undefined, [1], [3, 50]]) {
    const { header, records } = await decodeAll(new Uint8Array([...HEADER, ...RECORD]), sizes, 1);
    assert.deepEqual(header, { version: 1, fileNumber: 1, namespace: "test" });
    assert.deepEqual(records, [{
      namespace: "test",
      digest: RECORD.slice(0, 20),
      payload: RECORD.slice(26),
    }]);
  }
});

Deno.test("AsbxEncoder round-trips random records through decodeAsbx()", async () => {
  const r = rng(42);
  const enc = new AsbxEncoder("bar");
  const w = new ByteWriter();
  w.bytes(enc.header(17));
  const input: AsbxRecord[] = [];
  for (let i = 0; i < 300; i++) {
    const digest = Uint8Array.from({ length: 20 }, () => Math.floor(r() * 256));
    const n = i === 5 ? 1 << 20 : Math.floor(r() * 300);
    const payload = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    if (n > 9) payload[9] &= ~0x10;
    enc.encodeRecord(w, digest, payload);
    input.push({ namespace: "bar", digest, payload });
  }
  const { records } = await decodeAll(w.subarray(), [1000, 1, 70000], 17);
  assert.deepEqual(records, input);
});

Deno.test("decodeAsbx() rejects a wrong version, a file number mismatch and an empty namespace", async () => {
  const v2 = HEADER.slice();
  v2[0] = 2;
  await expectError(v2, 0, /Unsupported ASBX version 2/);
  await expectError(HEADER, 1, /file number mismatch: header says 1, file name says 3/, 3);
  const empty = HEADER.slice();
  empty.fill(0, 13);
  await expectError(empty, 13, /Empty namespace/);
  await expectError(HEADER.subarray(0, 30), 30, /end of file in the header/);
});

Deno.test("decodeAsbx() rejects truncated records and oversize payloads before reading them", async () => {
  const whole = new Uint8Array([...HEADER, ...RECORD]);
  await expectError(
    whole.subarray(0, whole.length - 1),
    whole.length - 1,
    /Truncated ASBX record.*90 payload bytes/,
  );
  await expectError(whole.subarray(0, 44 + 10), 54, /Truncated ASBX record header/);
  const huge = whole.slice(0, 44 + 26);
  huge[44 + 20] = 0xff; // 48-bit length far over 128 MiB, no payload behind it
  await expectError(huge, 64, new RegExp(`exceeds the limit.*at most ${ASBX_MAX_PAYLOAD}`));
});

Deno.test("asbxFileNumber() parses <w>_<ns>_<n>.asbx names", () => {
  assert.equal(asbxFileNumber("/x/0_test_17.asbx"), 17);
  assert.equal(asbxFileNumber("3_test_1.asbx"), 1);
  assert.equal(asbxFileNumber("0_my_ns_1.asbx"), undefined);
  assert.equal(asbxFileNumber("0_test_1.asb"), undefined);
  assert.equal(asbxFileNumber("0_test_x.asbx"), undefined);
});
