import assert from "node:assert/strict";
import { C_SAMPLES, chunked, collect, run, sampleText } from "./_test_helpers.ts";
import { concatBytes, rejectsCode } from "../_test_utils.ts";
import { AerobakError } from "../errors.ts";
import {
  createCompressStage,
  createCompressStream,
  createDecompressStream,
} from "./compression.ts";

const EMPTY_FRAME = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00]);
const ZSTD = { mode: "ZSTD" } as const;

function compress(data: Uint8Array, level = 3, split: number[] = [65536]): Promise<Uint8Array> {
  return collect(chunked(data, split).pipeThrough(createCompressStream({ mode: "ZSTD", level })));
}

function decompress(
  data: Uint8Array,
  split: number[] | { random: number; seed?: number } = [65536],
): Promise<Uint8Array> {
  return collect(
    chunked(data, split).pipeThrough(createDecompressStream(ZSTD, { file: "t.asb.zst" })),
  );
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

Deno.test("createCompressStream() output decompresses with the zstd CLI", async () => {
  const data = sampleText(3 << 20);
  const z = await compress(data, 3, [1000, 70000, 13]);
  assert.ok(z.length < data.length / 4, `compressed ${data.length} to ${z.length}`);
  assert.deepEqual(await run("zstd", ["-d", "-c", "-q"], z), data);
});

Deno.test("createDecompressStream() reads zstd CLI output: several frames, checksums, skippable frames", async () => {
  const a = sampleText(200_000);
  const b = new TextEncoder().encode("second frame\n");
  const za = await run("zstd", ["-c", "-q", "--check", "-19"], a);
  const zb = await run("zstd", ["-c", "-q", "--no-check", "-1"], b);
  const skippable = new Uint8Array([0x53, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
  const input = concat(za, skippable, zb, EMPTY_FRAME);
  const want = concat(a, b);
  assert.deepEqual(await decompress(input), want);
  assert.deepEqual(await decompress(input, [1]), want);
  for (const seed of [1, 2, 3]) {
    assert.deepEqual(await decompress(input, { random: 5000, seed }), want);
  }
});

Deno.test("createDecompressStream() reads the C asbackup's zstd sample, trailing empty frame included", async () => {
  const file = await Deno.readFile(`${C_SAMPLES}zstd/test_00000.asb`);
  assert.deepEqual(file.subarray(file.length - 9), EMPTY_FRAME);
  const text = new TextDecoder().decode(await decompress(file, { random: 300 }));
  assert.ok(text.startsWith("Version 3.1\n# namespace test\n"), text.slice(0, 40));
  const plain = await Deno.readTextFile(`${C_SAMPLES}plain/test_00000.asb`);
  // Same records as the uncompressed run of the C tool, in the order that run scanned them.
  assert.deepEqual(text.split("\n").sort(), plain.split("\n").sort());
});

Deno.test("createCompressStream() round-trips with any chunking and every level class", async () => {
  const data = sampleText(400_000);
  const sizes: number[] = [];
  for (const level of [-5, 0, 1, 3, 9, 19]) {
    const z = await compress(data, level, [7, 4096, 1]);
    sizes.push(z.length);
    assert.deepEqual(await decompress(z, { random: 777, seed: level + 10 }), data);
  }
  assert.ok(sizes[5] < sizes[3] && sizes[3] < sizes[0], `sizes by level: ${sizes}`);
  assert.deepEqual(await decompress(await compress(new Uint8Array(0))), new Uint8Array(0));
});

Deno.test("createCompressStream() rejects an unknown mode and a bad level", () => {
  assert.throws(() => createCompressStream({ mode: "LZ4" as "ZSTD" }), TypeError);
  assert.throws(() => createCompressStream({ mode: "ZSTD", level: 23 }), RangeError);
  assert.throws(() => createCompressStream({ mode: "ZSTD", level: 1.5 }), RangeError);
  assert.throws(() => createDecompressStream({ mode: "zstd" as "ZSTD" }), TypeError);
});

Deno.test("createDecompressStream() names the file of a truncated, foreign or damaged stream", async () => {
  const data = sampleText(300_000);
  const z = await compress(data);
  for (const cut of [1, 3, 5, 100, z.length - 1]) {
    await rejectsCode(
      decompress(z.subarray(0, cut)),
      "ZSTD_TRUNCATED",
      /t\.asb\.zst.*ends inside the frame/,
    );
  }
  await rejectsCode(
    decompress(sampleText(100)),
    "ZSTD_CORRUPT",
    /t\.asb\.zst.*found 0x73726556 \(the file is not compressed: drop --compress\?\)/,
  );
  await rejectsCode(
    decompress(concat(z, new Uint8Array([1, 2, 3, 4, 5]))),
    "ZSTD_CORRUPT",
    new RegExp(`at byte ${z.length}`),
  );
});

Deno.test("createDecompressStream() reports damage deep in a big stream as one error naming the byte", async () => {
  // Each 64 KiB input chunk expands past the decoder's 64 KiB output buffer; damage found
  // after the buffer filled used to escape as an uncaught exception (issue 16).
  const data = new TextEncoder().encode(
    Array.from({ length: 30_000 }, (_, i) => `+ k S 6 key${i}\n- I n ${(i * 7919) % 100_003}\n`)
      .join(""),
  );
  const z = await compress(data);
  let damaged = 0;
  for (let k = 0; k < 48; k++) {
    const bad = z.slice();
    const at = 64 + Math.floor((k / 48) * (z.length - 64));
    for (let i = at; i < at + 8; i++) bad[i] ^= 0xff;
    try {
      await decompress(bad, [65536]);
    } catch (err) {
      assert.ok(err instanceof AerobakError, `byte ${at}: ${err}`);
      assert.match(err.code, /^ZSTD_(ERROR|CORRUPT|TRUNCATED)$/);
      assert.match(err.message, /^Cannot decompress t\.asb\.zst: .* at byte \d+/);
      assert.equal(err.location?.file, "t.asb.zst");
      assert.ok(err.location.offset! <= at, `offset ${err.location.offset} after damage at ${at}`);
      damaged++;
    }
  }
  assert.ok(damaged >= 24, `${damaged} of 48 damaged streams rejected`);
  await rejectsCode(
    collect(
      chunked(z.map((b, i) => (i > 40 && i < 600 ? b ^ 0x5a : b)), [65536]).pipeThrough(
        createDecompressStream(ZSTD, { file: "e.asb", encrypted: true }),
      ),
    ),
    "ZSTD_ERROR",
    /e\.asb: .* in the zstd block at byte 16 \(damaged file or wrong encryption key\?\)/,
  );
});

Deno.test("createDecompressStream() reads a frame header of the largest size: a dictionary ID is refused", async () => {
  // Descriptor 0xc3: 8-byte content size, not single-segment, 4-byte dictionary ID; then a
  // window byte, the ID, the size, and one raw block of 3 bytes: 18 header bytes in all.
  const frame = new Uint8Array([
    0x28,
    0xb5,
    0x2f,
    0xfd,
    0xc3,
    0x00,
    1,
    2,
    3,
    4,
    3,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x19,
    0,
    0,
    0x61,
    0x62,
    0x63,
  ]);
  for (const split of [[1], [7], [64]]) {
    await rejectsCode(decompress(frame, split), "ZSTD_ERROR", /t\.asb\.zst: .*byte \d+/);
  }
});

Deno.test("createDecompressStream() verifies content checksums as the zstd CLI does", async () => {
  const data = sampleText(300_000);
  const z = await run("zstd", ["-c", "-q", "--check"], data);
  // Flipping literal bytes decodes "fine" without a checksum: only the checksum catches it.
  const damaged = z.slice();
  for (let i = 200; i < 260; i++) damaged[i] ^= 0x5a;
  await assert.rejects(run("zstd", ["-d", "-c", "-q"], damaged), /checksum/i);
  await rejectsCode(decompress(damaged), "ZSTD_CHECKSUM", /t\.asb\.zst.*frame at byte 0/);
  const badSum = z.slice();
  badSum[badSum.length - 1] ^= 1;
  await rejectsCode(
    decompress(concat(z, badSum), { random: 3000 }),
    "ZSTD_CHECKSUM",
    new RegExp(`frame at byte ${z.length}`),
  );
  assert.deepEqual(await decompress(concat(z, z), { random: 3000 }), concat(data, data));
});

Deno.test("createCompressStream() with mode NONE passes bytes through", async () => {
  const data = sampleText(1000);
  assert.deepEqual(
    await collect(chunked(data, [3]).pipeThrough(createCompressStream({ mode: "NONE" }))),
    data,
  );
  assert.deepEqual(
    await collect(chunked(data, [3]).pipeThrough(createDecompressStream({ mode: "NONE" }))),
    data,
  );
});

Deno.test("createDecompressStream() blames the key for decrypted input and --encrypt for noise", async () => {
  const noise = new Uint8Array(64).map((_, i) => (i * 151 + 7) & 0xff);
  await rejectsCode(
    collect(
      chunked(noise, [64]).pipeThrough(
        createDecompressStream(ZSTD, { file: "k.asb", encrypted: true }),
      ),
    ),
    "ZSTD_CORRUPT",
    /k\.asb: expected a zstd frame magic number at byte 16,.*\(wrong encryption key or --encrypt mode\?\)/,
  );
  await rejectsCode(
    decompress(noise),
    "ZSTD_CORRUPT",
    /\(not zstd: an encrypted file restored without --encrypt, or not compressed\?\)/,
  );
});

Deno.test("createCompressStage() flush() emits what was written, in the same frame", async () => {
  const data = sampleText(200_000);
  const stage = createCompressStage(ZSTD);
  const out = collect(stage.stream.readable);
  const w = stage.stream.writable.getWriter();
  await w.write(data.subarray(0, 1000));
  assert.equal(stage.outputBytes(), 0);
  await stage.flush();
  const flushed = stage.outputBytes();
  assert.ok(flushed > 0 && flushed < 1000, `flushed ${flushed}`);
  await w.write(data.subarray(1000));
  await w.close();
  const z = await out;
  assert.equal(z.length, stage.outputBytes());
  assert.deepEqual(await decompress(z), data);
  assert.deepEqual(await run("zstd", ["-d", "-c", "-q"], z), data);
});
