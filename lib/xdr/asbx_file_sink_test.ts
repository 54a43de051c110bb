import assert from "node:assert/strict";
import { join } from "node:path";
import { withTempDir } from "../_test_utils.ts";
import { decodeAsbx } from "../format/asbx/decoder.ts";
import { AsbxEncoder, type AsbxToken } from "../format/asbx/encoder.ts";
import { parseAsbxFileName } from "../format/asbx/file_name.ts";
import { decodeAsbxHeader } from "../format/asbx/header.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import { openReadChain } from "../io/file_chain.ts";
import { DirectoryWriter, FileWriter } from "../io/local_writer.ts";
import { type AsbxFileRun, AsbxFileSink } from "./asbx_file_sink.ts";

const KEY = new Uint8Array(32).fill(9);

/** A record whose message body is noise, so zstd cannot hide its size. */
function token(i: number, size: number): AsbxToken {
  const payload = new Uint8Array(size);
  let x = i + 1;
  for (let k = 30; k < size; k++) {
    x = (Math.imul(x, 48271) + 11) >>> 0;
    payload[k] = x >>> 24;
  }
  // A type-3 proto header of the payload's length, as the decoder checks.
  payload.set([2, 3, 0, 0]);
  new DataView(payload.buffer).setUint32(4, size - 8);
  const digest = new Uint8Array(20);
  new DataView(digest.buffer).setUint32(16, i);
  return { namespace: "test", digest, payload };
}

function newRun(
  storage: AsbxFileRun["storage"],
  compression: CompressionPolicy,
  closed: [string, number][],
  encryptionKey?: Uint8Array,
): AsbxFileRun {
  return {
    storage,
    encoder: new AsbxEncoder("test"),
    compression,
    encryptionKey,
    onClose: (name, bytes) => void closed.push([name, bytes]),
  };
}

Deno.test("AsbxFileSink keeps zstd files within the file limit plus one record", async () => {
  await withTempDir(async (dir) => {
    const compression: CompressionPolicy = { mode: "ZSTD", level: 3 };
    const closed: [string, number][] = [];
    const sink = new AsbxFileSink(newRun(new DirectoryWriter(dir), compression, closed, KEY), {
      prefix: "0_",
      fileLimit: 32 * 1024,
    });
    const written: AsbxToken[] = [];
    for (let i = 0; i < 400; i++) {
      const t = token(i, 200 + (i * 37) % 1500);
      written.push(t);
      await sink.write(t);
    }
    await sink.close();
    // Before the shared writer, the lagging zstd count let the first file take ~128 KiB.
    assert.ok(closed.length >= 8, `files: ${JSON.stringify(closed)}`);
    const read: AsbxToken[] = [];
    for (const [k, [name, bytes]] of closed.entries()) {
      const parsed = parseAsbxFileName(name);
      assert.deepEqual([parsed.writer, parsed.fileNumber], [0, k + 1]);
      assert.equal((await Deno.stat(join(dir, name))).size, bytes);
      const file = await Deno.open(join(dir, name));
      const plain = openReadChain(file.readable, { compression, encryptionKey: KEY, file: name });
      const dec = decodeAsbx(plain.readable, { file: name, fileNumber: parsed.fileNumber });
      const mine: AsbxToken[] = [];
      for await (const t of dec) mine.push(t);
      assert.equal(dec.header?.fileNumber, k + 1);
      read.push(...mine);
      // The bound of RollingFileWriter: the limit plus the last record (26 + payload),
      // zstd's 3 bytes per block and 64 bytes of framing.
      const last = 26 + mine[mine.length - 1].payload.length;
      assert.ok(bytes < 32 * 1024 + last + 3 + 64, `${name} is ${bytes} bytes`);
      if (k < closed.length - 1) assert.ok(bytes >= 32 * 1024, `${name} rolled early: ${bytes}`);
    }
    assert.deepEqual(read.map((t) => t.payload), written.map((t) => t.payload));
    assert.deepEqual(read.map((t) => t.digest), written.map((t) => t.digest));
  }, "aerobak-asbx-sink-");
});

Deno.test("AsbxFileSink numbers the files of every writer from the run's encoder", async () => {
  await withTempDir(async (dir) => {
    const closed: [string, number][] = [];
    const run = newRun(new DirectoryWriter(dir), { mode: "NONE" }, closed);
    const opened: string[] = [];
    run.onOpen = (name) => void opened.push(name);
    const a = new AsbxFileSink(run, { prefix: "0_", fileLimit: 1000 });
    const b = new AsbxFileSink(run, { prefix: "1_", fileLimit: 1000 });
    for (let i = 0; i < 6; i++) {
      await a.write(token(i, 600));
      await b.write(token(100 + i, 600));
    }
    await a.close();
    await b.close();
    assert.deepEqual(opened, [
      "0_test_1.asbx",
      "1_test_2.asbx",
      "0_test_3.asbx",
      "1_test_4.asbx",
      "0_test_5.asbx",
      "1_test_6.asbx",
    ]);
    // 44-byte header + 626-byte records: a file is full after its second record.
    assert.equal(closed.length, 6);
    for (const [name, bytes] of closed) {
      assert.equal(bytes, 44 + 2 * 626, name);
      const head = decodeAsbxHeader((await Deno.readFile(join(dir, name))).subarray(0, 44));
      assert.equal(head.fileNumber, parseAsbxFileName(name).fileNumber);
    }
  }, "aerobak-asbx-sink-");
});

Deno.test("AsbxFileSink writes nothing without records and one file outside a directory", async () => {
  await withTempDir(async (dir) => {
    const closed: [string, number][] = [];
    const empty = new AsbxFileSink(newRun(new DirectoryWriter(dir), { mode: "NONE" }, closed), {
      prefix: "0_",
      fileLimit: 100,
    });
    await empty.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await assert.rejects(async () => await empty.write(token(1, 100)), { code: "WRITER_CLOSED" });

    // A single output file is never rolled over, whatever the limit.
    const path = join(dir, "one.asbx");
    const single = new AsbxFileSink(newRun(new FileWriter(path), { mode: "NONE" }, closed), {
      prefix: "0_",
      fileLimit: 100,
    });
    for (let i = 0; i < 5; i++) await single.write(token(i, 100));
    await single.close();
    assert.equal(closed.length, 1);
    assert.equal((await Deno.stat(path)).size, 44 + 5 * 126);
  }, "aerobak-asbx-sink-");
});
