import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import { computeDigest, keyFromJs } from "../../aerospike/digest.ts";
import { AerobakError } from "../../errors.ts";
import { decodeAsbx } from "./decoder.ts";
import { AsbxEncoder, type AsbxToken, writeAsbxRecord } from "./encoder.ts";
import { decodeAsbxHeader, encodeAsbxHeader } from "./header.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-f]/gi, "");
  return Uint8Array.from(clean.match(/../g)!, (b) => parseInt(b, 16));
}

// asbx-format.md §2 and §3 examples (offset columns and comments removed).
const SPEC_HEADER = hex(`
  01 00 00 00 00 00 00 00 01 00 00 00 00 74 65 73
  74 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  00 00 00 00 00 00 00 00 00 00 00 00`);
const SPEC_RECORD = hex(`
  dd bd 52 6b c5 51 7c 4d 1b d6 d5 dd c0 bb 36 04
  4a 93 2d cd 00 00 00 00 00 5a 02 03 00 00 00 00
  00 52 16 00 01 00 00 00 00 00 00 02 00 00 00 00
  00 00 00 00 00 03 00 01 00 00 00 05 00 74 65 73
  74 00 00 00 05 01 64 65 6d 6f 00 00 00 15 04 dd
  bd 52 6b c5 51 7c 4d 1b d6 d5 dd c0 bb 36 04 4a
  93 2d cd 00 00 00 0d 02 01 00 01 78 00 00 00 00
  00 00 00 07`);

/** A stream handing out `bytes` in chunks of the given sizes (cycled). */
function chunked(bytes: Uint8Array, sizes: number[] = [bytes.length || 1]) {
  let at = 0;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const n = Math.max(1, sizes[i++ % sizes.length]);
      c.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

async function decodeAll(bytes: Uint8Array, sizes?: number[], fileNumber?: number) {
  const dec = decodeAsbx(chunked(bytes, sizes), { file: "0_test_1.asbx", fileNumber });
  const out: AsbxToken[] = [];
  for await (const t of dec) out.push(t);
  return { header: dec.header!, tokens: out };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A type-3 message of `n` bytes in total (proto header + body of n - 8 bytes). */
function message(n: number, fill: number): Uint8Array {
  const m = new Uint8Array(n).fill(fill);
  m.set([
    2,
    3,
    0,
    0,
    (n - 8) >>> 24,
    ((n - 8) >>> 16) & 0xff,
    ((n - 8) >>> 8) & 0xff,
    (n - 8) & 0xff,
  ]);
  return m;
}

async function rejects(p: Promise<unknown>, code: string, offset: number) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AerobakError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.location?.file, "0_test_1.asbx");
    assert.equal(e.location?.offset, offset, e.message);
    assert.match(e.message, /0_test_1\.asbx/);
    return true;
  });
}

Deno.test("encodeAsbxHeader() writes the spec's example header", () => {
  assert.deepEqual(encodeAsbxHeader("test", 1), SPEC_HEADER);
});

Deno.test("encodeAsbxHeader() truncates the namespace to 31 bytes", () => {
  const h = encodeAsbxHeader("n".repeat(40), 7);
  assert.equal(h.length, 44);
  assert.equal(decodeAsbxHeader(h).namespace, "n".repeat(31));
  assert.equal(decodeAsbxHeader(h).fileNumber, 7);
});

Deno.test("AsbxEncoder.encodeToken() writes the spec's example record", () => {
  const digest = computeDigest("demo", keyFromJs("k"));
  const payload = SPEC_RECORD.subarray(26);
  const w = new ByteWriter(16);
  const n = new AsbxEncoder("test").encodeToken(w, { namespace: "test", digest, payload });
  assert.equal(n, SPEC_RECORD.length);
  assert.deepEqual(w.subarray(), SPEC_RECORD);
  const buf = new Uint8Array(200);
  assert.equal(writeAsbxRecord(buf, 3, digest, payload), 3 + SPEC_RECORD.length);
  assert.deepEqual(buf.subarray(3, 3 + SPEC_RECORD.length), SPEC_RECORD);
});

Deno.test("AsbxEncoder.nextFile() numbers files across writers from 1", () => {
  const enc = new AsbxEncoder("test");
  const a = enc.nextFile("0_");
  const b = enc.nextFile("3_");
  assert.equal(a.name, "0_test_1.asbx");
  assert.equal(b.name, "3_test_2.asbx");
  assert.deepEqual(a.header, SPEC_HEADER);
  assert.equal(decodeAsbxHeader(b.header).fileNumber, 2);
  assert.equal(enc.filesOpened, 2);
});

Deno.test("AsbxEncoder.encodeToken() refuses a short digest and an oversize payload", () => {
  const enc = new AsbxEncoder("test");
  const w = new ByteWriter();
  assert.throws(
    () =>
      enc.encodeToken(w, { namespace: "t", digest: new Uint8Array(19), payload: message(30, 0) }),
    RangeError,
  );
  const huge = { length: 128 * 1024 * 1024 + 1 } as Uint8Array;
  assert.throws(() => writeAsbxRecord(new Uint8Array(0), 0, new Uint8Array(20), huge), RangeError);
});

Deno.test("decodeAsbx() decodes the spec example in any chunking", async () => {
  const file = concat(SPEC_HEADER, SPEC_RECORD);
  for (const sizes of [undefined, [1], [2, 3], [43, 1, 25, 7], [45]]) {
    const { header, tokens } = await decodeAll(file, sizes, 1);
    assert.deepEqual(header, { version: 1, fileNumber: 1, namespace: "test" });
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0].namespace, "test");
    assert.deepEqual(tokens[0].digest, SPEC_RECORD.subarray(0, 20));
    assert.deepEqual(tokens[0].payload, SPEC_RECORD.subarray(26));
  }
});

Deno.test("decodeAsbx() round-trips generated records with random chunk splits", async () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const enc = new AsbxEncoder("bar");
  const file = enc.nextFile("0_");
  const w = new ByteWriter();
  w.bytes(file.header);
  const tokens: AsbxToken[] = [];
  for (let i = 0; i < 200; i++) {
    const digest = computeDigest("s", keyFromJs(i));
    const t = { namespace: "bar", digest, payload: message(30 + rnd(600), i & 0xff) };
    tokens.push(t);
    enc.encodeToken(w, t);
  }
  const bytes = w.subarray().slice();
  for (let round = 0; round < 5; round++) {
    const sizes = Array.from({ length: 17 }, () => 1 + rnd(round === 0 ? 2 : 300));
    const got = await decodeAll(bytes, sizes, 1);
    assert.equal(got.header.namespace, "bar");
    assert.deepEqual(got.tokens, tokens);
  }
});

Deno.test("decodeAsbx() returns no records for a header-only file", async () => {
  const { header, tokens } = await decodeAll(SPEC_HEADER, [5]);
  assert.equal(header.fileNumber, 1);
  assert.deepEqual(tokens, []);
});

Deno.test("decodeAsbx() rejects a wrong version at offset 0", async () => {
  const bad = concat(SPEC_HEADER, SPEC_RECORD);
  bad[0] = 2;
  await rejects(decodeAll(bad), "ASBX_VERSION", 0);
});

Deno.test("decodeAsbx() rejects a file number that differs from the name's", async () => {
  await rejects(decodeAll(concat(SPEC_HEADER, SPEC_RECORD), [7], 2), "ASBX_FILE_NUMBER", 1);
});

Deno.test("decodeAsbx() rejects an empty namespace", async () => {
  const bad = SPEC_HEADER.slice();
  bad.fill(0, 13);
  await rejects(decodeAll(bad), "ASBX_HEADER", 13);
});

Deno.test("decodeAsbx() rejects a truncated header", async () => {
  await rejects(decodeAll(SPEC_HEADER.subarray(0, 30), [1]), "ASBX_TRUNCATED", 30);
});

Deno.test("decodeAsbx() rejects a truncated record header and payload", async () => {
  const file = concat(SPEC_HEADER, SPEC_RECORD, SPEC_RECORD);
  const second = 44 + SPEC_RECORD.length;
  await rejects(decodeAll(file.subarray(0, second + 10), [3]), "ASBX_TRUNCATED", second);
  await rejects(decodeAll(file.subarray(0, file.length - 1), [64]), "ASBX_TRUNCATED", second + 26);
});

Deno.test("decodeAsbx() checks the payload length against the cap before allocating", async () => {
  const rec = SPEC_RECORD.slice(0, 26);
  rec.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 20); // 2^48 - 1 bytes: must not be allocated
  await rejects(decodeAll(concat(SPEC_HEADER, rec)), "ASBX_PAYLOAD_TOO_LARGE", 44 + 20);
  const small = decodeAsbx(chunked(concat(SPEC_HEADER, SPEC_RECORD)), {
    file: "0_test_1.asbx",
    maxPayloadSize: 64,
  });
  await rejects(small.next(), "ASBX_PAYLOAD_TOO_LARGE", 64);
});

Deno.test("decodeAsbx() believes a big payload length only as far as its bytes arrive", async () => {
  // 100 MiB claimed by a record of a 4 KiB file: truncated, without a 100 MiB buffer.
  const rec = SPEC_RECORD.slice(0, 26);
  new DataView(rec.buffer).setUint32(22, 100 << 20);
  const short = concat(SPEC_HEADER, rec, message(4096, 7));
  await rejects(decodeAll(short, [1000]), "ASBX_TRUNCATED", 44 + 26);
  // A real 3 MiB payload still decodes, whatever the chunking.
  const big = message(3 << 20, 9);
  const head = SPEC_RECORD.slice(0, 26);
  new DataView(head.buffer).setUint32(22, big.length);
  for (const sizes of [[1 << 20], [77_777], [big.length + 100]]) {
    const { tokens } = await decodeAll(concat(SPEC_HEADER, head, big), sizes);
    assert.equal(tokens.length, 1);
    assert.deepEqual(tokens[0].payload, big);
    assert.deepEqual(tokens[0].digest, head.subarray(0, 20));
  }
});

Deno.test("decodeAsbx() rejects a payload that is not a type-3 message of its length", async () => {
  const bad = concat(SPEC_HEADER, SPEC_RECORD);
  bad[44 + 26 + 1] = 4; // proto type 4
  await rejects(decodeAll(bad), "ASBX_PAYLOAD", 44 + 26);
  const short = concat(SPEC_HEADER, SPEC_RECORD);
  short[44 + 26 + 7] = 0x51; // body size one less than the record holds
  await rejects(decodeAll(short), "ASBX_PAYLOAD", 44 + 26);
});

Deno.test("AsbxDecoder.return() cancels the stream", async () => {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(concat(SPEC_HEADER, SPEC_RECORD));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const _ of decodeAsbx(stream)) break;
  assert.ok(cancelled);
});

Deno.test("AsbxDecoder.nextReady() hands out the records read whole, as next() would", async () => {
  const enc = new AsbxEncoder("test");
  const w = new ByteWriter();
  w.bytes(enc.nextFile("0_").header);
  const sizes = [30, 31, 400, 5000, 64, 90];
  for (let i = 0; i < 60; i++) {
    enc.encodeToken(w, {
      namespace: "test",
      digest: new Uint8Array(20).fill(i),
      payload: message(sizes[i % sizes.length], i),
    });
  }
  const bytes = w.subarray().slice();
  const want = (await decodeAll(bytes)).tokens;
  for (const chunk of [[7], [333], [1 << 20]]) {
    const dec = decodeAsbx(chunked(bytes, chunk), { file: "0_test_1.asbx" });
    assert.equal(dec.nextReady(), undefined, "the header is read by next()");
    const got: [AsbxToken, number][] = [];
    let ready = 0;
    for (;;) {
      const r = await dec.next();
      if (r.done) break;
      got.push([r.value, dec.offset]);
      for (let t = dec.nextReady(); t !== undefined; t = dec.nextReady()) {
        got.push([t, dec.offset]);
        ready++;
      }
    }
    assert.deepEqual(got.map(([t]) => t), want, `chunks of ${chunk}`);
    // Each record's offset is where it ends, whichever call took it.
    let end = 44;
    for (const [t, offset] of got) assert.equal(offset, end += 26 + t.payload.length);
    if (chunk[0] > 5000) assert.equal(ready, 59, "one read holds the whole file");
    if (chunk[0] === 7) assert.equal(ready, 0, "no record fits in 7 bytes");
  }
});

/** One ASBX record of a zero digest. */
function record(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(26 + payload.length);
  writeAsbxRecord(out, 0, new Uint8Array(20), payload);
  return out;
}

Deno.test("AsbxDecoder.nextReady() refuses a payload that is not a message of its length", async () => {
  const bad = message(40, 1);
  bad[1] = 4;
  const file = concat(
    encodeAsbxHeader("test", 1),
    record(message(40, 2)),
    record(bad),
  );
  const dec = decodeAsbx(chunked(file), { file: "0_test_1.asbx" });
  assert.equal((await dec.next()).done, false);
  assert.throws(() => dec.nextReady(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "ASBX_PAYLOAD");
    assert.equal(e.location?.offset, 44 + 66 + 26);
    return true;
  });
  await dec.return();
});
