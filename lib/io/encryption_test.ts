import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { C_SAMPLES, chunked, collect, hex, run, sampleText } from "./_test_helpers.ts";
import { createDecompressStream } from "./compression.ts";
import { createDecryptStream, createEncryptStream, incrementCounter } from "./encryption.ts";
import { deriveEncryptionKey } from "./encryption_key.ts";

function fromHex(s: string): Uint8Array {
  return new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
}

const KEY256 = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const KEY128 = KEY256.subarray(0, 16);

/** Decrypts our file layout with the openssl CLI only. */
async function opensslDecrypt(file: Uint8Array, key: Uint8Array): Promise<Uint8Array> {
  const bits = key.length * 8;
  const c0 = await run(
    "openssl",
    ["enc", `-aes-${bits}-ecb`, "-d", "-nopad", "-K", hex(key)],
    file.subarray(0, 16),
  );
  return run("openssl", [
    "enc",
    "-d",
    `-aes-${bits}-ctr`,
    "-K",
    hex(key),
    "-iv",
    hex(incrementCounter(c0)),
  ], file.subarray(16));
}

Deno.test("incrementCounter() adds one with a 128-bit carry", () => {
  assert.equal(
    hex(incrementCounter(fromHex("000000000000000000000000000000ff"))),
    "00000000000000000000000000000100",
  );
  assert.equal(
    hex(incrementCounter(fromHex("0000000000000000ffffffffffffffff"))),
    "00000000000000010000000000000000",
  );
  assert.equal(
    hex(incrementCounter(fromHex("ffffffffffffffffffffffffffffffff"))),
    "00000000000000000000000000000000",
  );
});

Deno.test("createEncryptStream() output decrypts with the openssl CLI (AES-128 and AES-256, odd chunks)", async () => {
  const data = sampleText(100_000);
  for (const key of [KEY128, KEY256]) {
    const enc = await collect(
      chunked(data, [1, 15, 17, 4095, 3]).pipeThrough(createEncryptStream(key)),
    );
    assert.equal(enc.length, data.length + 16);
    assert.deepEqual(await opensslDecrypt(enc, key), data);
  }
});

Deno.test("createEncryptStream() carries the counter across the 64-bit and 128-bit boundaries", async () => {
  const data = sampleText(1000);
  for (const c0 of ["0000000000000000fffffffffffffff0", "fffffffffffffffffffffffffffffff8"]) {
    const enc = await collect(
      chunked(data, [33]).pipeThrough(createEncryptStream(KEY256, { counter: fromHex(c0) })),
    );
    assert.deepEqual(await opensslDecrypt(enc, KEY256), data);
    assert.deepEqual(
      await collect(chunked(enc, [7]).pipeThrough(createDecryptStream(KEY256))),
      data,
    );
  }
});

Deno.test("createDecryptStream() reads a file openssl encrypted in the C tool's layout", async () => {
  const data = sampleText(50_000);
  const c0 = fromHex("5f0e1d2c3b4a59687786950000ffffff");
  for (const key of [KEY128, KEY256]) {
    const bits = key.length * 8;
    const head = await run("openssl", ["enc", `-aes-${bits}-ecb`, "-nopad", "-K", hex(key)], c0);
    const body = await run("openssl", [
      "enc",
      `-aes-${bits}-ctr`,
      "-K",
      hex(key),
      "-iv",
      hex(incrementCounter(c0)),
    ], data);
    const file = new Uint8Array([...head, ...body]);
    for (const split of [[1], [16], [5, 11, 300]]) {
      assert.deepEqual(
        await collect(chunked(file, split).pipeThrough(createDecryptStream(key))),
        data,
      );
    }
  }
});

Deno.test("createEncryptStream() picks a fresh counter per file", async () => {
  const data = new TextEncoder().encode("Version 3.1\n");
  const a = await collect(chunked(data, [64]).pipeThrough(createEncryptStream(KEY256)));
  const b = await collect(chunked(data, [64]).pipeThrough(createEncryptStream(KEY256)));
  assert.notDeepEqual(a.subarray(0, 16), b.subarray(0, 16));
  assert.notDeepEqual(a.subarray(16), b.subarray(16));
});

Deno.test("createDecryptStream() decrypts the C asbackup's AES-256 and ZSTD+AES-128 samples", async () => {
  const pem = await Deno.readTextFile(`${C_SAMPLES}sample-key.pem`);
  const plain = (await Deno.readTextFile(`${C_SAMPLES}plain/test_00000.asb`)).split("\n").sort();
  const aes256 = await Deno.readFile(`${C_SAMPLES}aes256/test_00000.asb`);
  const text256 = new TextDecoder().decode(
    await collect(
      chunked(aes256, { random: 100 }).pipeThrough(
        createDecryptStream(deriveEncryptionKey(pem, { mode: "AES256" })),
      ),
    ),
  );
  assert.ok(text256.startsWith("Version 3.1\n# namespace test\n"), text256.slice(0, 30));
  assert.deepEqual(text256.split("\n").sort(), plain);
  const both = await Deno.readFile(`${C_SAMPLES}zstd-aes128/test_00000.asb`);
  const text128 = new TextDecoder().decode(
    await collect(
      chunked(both, { random: 50 })
        .pipeThrough(createDecryptStream(deriveEncryptionKey(pem, { mode: "AES128" })))
        .pipeThrough(createDecompressStream({ mode: "ZSTD" })),
    ),
  );
  assert.ok(text128.startsWith("Version 3.1\n"), text128.slice(0, 30));
  assert.deepEqual(text128.split("\n").sort(), plain);
});

Deno.test("createDecryptStream() names the file when it is shorter than the counter block", async () => {
  for (const n of [0, 1, 15]) {
    await assert.rejects(
      collect(
        chunked(new Uint8Array(n), [4]).pipeThrough(
          createDecryptStream(KEY128, { file: "short.asb" }),
        ),
      ),
      (err: unknown) =>
        err instanceof AerobakError && err.code === "ENCRYPTION_TRUNCATED" &&
        /short\.asb.*has \d+ bytes/.test(err.message),
    );
  }
  assert.deepEqual(
    await collect(
      chunked(
        await collect(chunked(new Uint8Array(0), [1]).pipeThrough(createEncryptStream(KEY128))),
        [16],
      ).pipeThrough(createDecryptStream(KEY128)),
    ),
    new Uint8Array(0),
  );
});

Deno.test("createEncryptStream() rejects keys that are not 16 or 32 bytes", () => {
  assert.throws(() => createEncryptStream(new Uint8Array(24)), RangeError);
  assert.throws(() => createDecryptStream(new Uint8Array(0)), RangeError);
  assert.throws(() => createEncryptStream(KEY128, { counter: new Uint8Array(8) }), RangeError);
});
