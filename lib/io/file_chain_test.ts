import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { AerobakError } from "../errors.ts";
import { C_SAMPLES, chunked, collect, run, sampleText } from "./_test_helpers.ts";
import type { CompressionPolicy } from "./compression.ts";
import { deriveEncryptionKey } from "./encryption_key.ts";
import { openFileChain, openReadChain } from "./file_chain.ts";
import { DirectoryReader, FileListReader } from "./local_reader.ts";
import { DirectoryWriter, FileWriter } from "./local_writer.ts";
import { StdinReader, StdoutWriter } from "./std_storage.ts";
import type { StorageReader, StorageWriter } from "./storage.ts";
import { withTempDir } from "../_test_utils.ts";

const PEM = await Deno.readTextFile(`${C_SAMPLES}sample-key.pem`);
const KEY256 = deriveEncryptionKey(PEM, { mode: "AES256" });
const KEY128 = deriveEncryptionKey(PEM, { mode: "AES128" });

function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(fn, "aerobak-chain-");
}

async function writeChain(
  storage: StorageWriter,
  name: string,
  data: Uint8Array,
  opts: { compression?: CompressionPolicy; encryptionKey?: Uint8Array },
) {
  const chain = openFileChain(storage, name, opts);
  const w = chain.writable.getWriter();
  for await (const c of chunked(data, { random: 20000 })) await w.write(c);
  w.releaseLock();
  await chain.close();
  return chain;
}

async function readAll(
  reader: StorageReader,
  opts: { compression?: CompressionPolicy; encryptionKey?: Uint8Array },
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const entry of reader.list()) {
    const chain = openReadChain(await reader.open(entry), {
      ...opts,
      file: entry.path,
      checkHeader: "asb",
    });
    out.push(await collect(chain.readable));
    assert.equal(chain.bytesRead(), entry.size ?? chain.bytesRead());
  }
  return out;
}

const MODES: [string, { compression?: CompressionPolicy; encryptionKey?: Uint8Array }][] = [
  ["plain", {}],
  ["zstd", { compression: { mode: "ZSTD", level: 3 } }],
  ["aes256", { encryptionKey: KEY256 }],
  ["zstd+aes128", { compression: { mode: "ZSTD" }, encryptionKey: KEY128 }],
];

Deno.test("openFileChain() and openReadChain() round-trip through every storage and mode", async () => {
  const data = sampleText(300_000);
  for (const [label, opts] of MODES) {
    await withTmp(async (dir) => {
      const storage = new DirectoryWriter(join(dir, "bk"));
      const chain = await writeChain(storage, "0_test_1.asb", data, opts);
      const size = (await Deno.stat(chain.path)).size;
      assert.equal(chain.bytesWritten(), size, `${label}: bytesWritten counts on-disk bytes`);
      if (label === "plain") assert.equal(size, data.length);
      assert.deepEqual(await readAll(new DirectoryReader(join(dir, "bk")), opts), [data], label);

      const single = join(dir, "single.asb");
      await writeChain(new FileWriter(single), "", data, opts);
      assert.deepEqual(await readAll(new FileListReader([single]), opts), [data], label);

      const piped: Uint8Array[] = [];
      await writeChain(
        new StdoutWriter({ output: new WritableStream({ write: (c) => void piped.push(c) }) }),
        "",
        data,
        opts,
      );
      const stdin = new StdinReader({ input: ReadableStream.from(piped) });
      assert.deepEqual(await readAll(stdin, opts), [data], label);
    });
  }
});

Deno.test("openFileChain() output reads back with the zstd and openssl CLIs", async () => {
  await withTmp(async (dir) => {
    const data = sampleText(100_000);
    const chain = await writeChain(new DirectoryWriter(dir), "a.asb", data, {
      compression: { mode: "ZSTD" },
      encryptionKey: KEY256,
    });
    const file = await Deno.readFile(chain.path);
    const keyHex = Array.from(KEY256, (b) => b.toString(16).padStart(2, "0")).join("");
    const c0 = await run(
      "openssl",
      ["enc", "-aes-256-ecb", "-d", "-nopad", "-K", keyHex],
      file.subarray(0, 16),
    );
    const iv = (BigInt(
      "0x" + Array.from(c0, (b) => b.toString(16).padStart(2, "0")).join(""),
    ) + 1n) % (1n << 128n);
    const zst = await run("openssl", [
      "enc",
      "-d",
      "-aes-256-ctr",
      "-K",
      keyHex,
      "-iv",
      iv.toString(16).padStart(32, "0"),
    ], file.subarray(16));
    assert.deepEqual(await run("zstd", ["-d", "-c", "-q"], zst), data);
  });
});

Deno.test("openFileChain() creates no file until the first write", async () => {
  await withTmp(async (dir) => {
    const storage = new DirectoryWriter(dir);
    const chain = openFileChain(storage, "empty.asb", {
      compression: { mode: "ZSTD" },
      encryptionKey: KEY128,
    });
    await chain.close();
    assert.equal(chain.bytesWritten(), 0);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("openFileChain() bytesWritten() grows with the stored bytes for file-limit rollover", async () => {
  await withTmp(async (dir) => {
    const storage = new DirectoryWriter(dir);
    const limit = 50_000;
    const data = sampleText(400_000);
    let n = 1;
    let chain = openFileChain(storage, `test_${n}.asb`, { encryptionKey: KEY256 });
    let w = chain.writable.getWriter();
    for (let off = 0; off < data.length; off += 4096) {
      if (chain.bytesWritten() >= limit) {
        w.releaseLock();
        await chain.close();
        chain = openFileChain(storage, `test_${++n}.asb`, { encryptionKey: KEY256 });
        w = chain.writable.getWriter();
      }
      await w.write(data.subarray(off, off + 4096));
    }
    w.releaseLock();
    await chain.close();
    const sizes = (await Array.fromAsync(new DirectoryReader(dir).list())).map((e) => e.size ?? 0);
    assert.equal(sizes.length, n);
    // The count may trail the writes by the few chunks in flight inside the chain (so the
    // 400 kB make 7 or 8 files; FileChain.sync() makes it exact, see below).
    assert.ok(n >= 7, `files: ${n}`);
    for (const s of sizes.slice(0, -1)) assert.ok(s >= limit && s < limit + 8 * 4096, `size ${s}`);
  });
});

Deno.test("openFileChain() reports a full disk naming the file", async () => {
  const chain = openFileChain(new FileWriter("/dev/full", { bufferSize: 1024 }), "", {});
  const w = chain.writable.getWriter();
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 10; i++) await w.write(new Uint8Array(1000));
      await w.close();
    })(),
    (err: unknown) =>
      err instanceof AerobakError && err.code === "STORAGE_WRITE" &&
      /\/dev\/full: no space left/.test(err.message),
  );
});

Deno.test("openReadChain() catches a wrong or missing key or compression with the header check", async () => {
  await withTmp(async (dir) => {
    const data = sampleText(10_000);
    const storage = new DirectoryWriter(dir);
    await writeChain(storage, "enc.asb", data, { encryptionKey: KEY256 });
    await writeChain(storage, "zst.asb", data, { compression: { mode: "ZSTD" } });
    const read = async (
      name: string,
      opts: { compression?: CompressionPolicy; encryptionKey?: Uint8Array },
    ) =>
      collect(
        openReadChain((await Deno.open(join(dir, name))).readable, {
          ...opts,
          file: name,
          checkHeader: "asb",
        }).readable,
      );
    const headerError = (mention: RegExp) => (err: unknown) =>
      err instanceof AerobakError && err.code === "BACKUP_HEADER_INVALID" &&
      mention.test(err.message);
    await assert.rejects(
      read("enc.asb", {}),
      headerError(/enc\.asb does not start with an ASB header.*--encrypt/),
    );
    await assert.rejects(read("enc.asb", { encryptionKey: KEY128 }), headerError(/enc\.asb/));
    const otherKey = new Uint8Array(32).fill(9);
    await assert.rejects(read("enc.asb", { encryptionKey: otherKey }), headerError(/enc\.asb/));
    await assert.rejects(read("zst.asb", {}), headerError(/zst\.asb.*missing --compress ZSTD/));
    await assert.rejects(
      read("enc.asb", { compression: { mode: "ZSTD" } }),
      (e: unknown) =>
        e instanceof AerobakError && e.code === "ZSTD_CORRUPT" && /enc\.asb/.test(e.message),
    );
    assert.deepEqual(await read("zst.asb", { compression: { mode: "ZSTD" } }), data);
  });
});

Deno.test("openReadChain() reads the C asbackup samples", async () => {
  const opts: Record<string, { compression?: CompressionPolicy; encryptionKey?: Uint8Array }> = {
    plain: {},
    zstd: { compression: { mode: "ZSTD" } },
    aes256: { encryptionKey: KEY256 },
    "zstd-aes128": { compression: { mode: "ZSTD" }, encryptionKey: KEY128 },
  };
  for (const [dir, o] of Object.entries(opts)) {
    const [text] = await readAll(new DirectoryReader(`${C_SAMPLES}${dir}`), o);
    assert.ok(new TextDecoder().decode(text).startsWith("Version 3.1\n# namespace test\n"), dir);
  }
});

Deno.test("FileChain.sync() makes bytesWritten() the exact size so far, without a new zstd frame", async () => {
  await withTmp(async (dir) => {
    const storage = new DirectoryWriter(dir);
    const text = new TextEncoder().encode(
      "Version 3.1\n" + "+ k S 3 abc\n- I bin 42\n".repeat(4000),
    );
    const chain = openFileChain(storage, "a.asb", {
      compression: { mode: "ZSTD", level: 3 },
      encryptionKey: KEY256,
    });
    const w = chain.writable.getWriter();
    await w.write(text.subarray(0, 50_000));
    // The compressor holds a whole block before it emits anything.
    assert.ok(chain.bytesWritten() <= 16, `before sync: ${chain.bytesWritten()}`);
    await chain.sync();
    const first = chain.bytesWritten();
    assert.ok(first > 16, `after sync: ${first}`);
    await w.write(text.subarray(50_000));
    await chain.sync();
    const second = chain.bytesWritten();
    assert.ok(second > first);
    w.releaseLock();
    await chain.close();
    const size = (await Deno.stat(join(dir, "a.asb"))).size;
    // Closing adds only the end of the frame.
    assert.ok(size - second <= 8, `closed at ${size}, synced at ${second}`);
    const [back] = await readAll(new DirectoryReader(dir, { extension: ".asb" }), {
      compression: { mode: "ZSTD" },
      encryptionKey: KEY256,
    });
    assert.deepEqual(back, text);
    // Still one frame: the zstd magic number starts the stream and appears nowhere else.
    const file = await Deno.open(join(dir, "a.asb"));
    const zst = await collect(openReadChain(file.readable, { encryptionKey: KEY256 }).readable);
    const magics = zst.findIndex((_, i) =>
      i > 0 && zst[i] === 0x28 && zst[i + 1] === 0xb5 && zst[i + 2] === 0x2f && zst[i + 3] === 0xfd
    );
    assert.deepEqual(Array.from(zst.subarray(0, 4)), [0x28, 0xb5, 0x2f, 0xfd]);
    assert.equal(magics, -1);
  });
});

Deno.test("FileChain.sync() before any write and with no compression is exact at once", async () => {
  await withTmp(async (dir) => {
    const chain = openFileChain(new DirectoryWriter(dir), "b.asb", { encryptionKey: KEY128 });
    await chain.sync();
    assert.equal(chain.bytesWritten(), 0);
    const w = chain.writable.getWriter();
    await w.write(new Uint8Array(1000));
    await chain.sync();
    assert.equal(chain.bytesWritten(), 1016);
    w.releaseLock();
    await chain.close();
    assert.equal((await Deno.stat(join(dir, "b.asb"))).size, 1016);
  });
});

Deno.test("file chains hash the stored bytes: written (compressed, encrypted) and read back", async () => {
  await withTmp(async (dir) => {
    const data = sampleText(300_000);
    const storage = new DirectoryWriter(dir);
    const opts = { compression: { mode: "ZSTD" as const, level: 3 }, encryptionKey: KEY256 };
    const chain = await writeChain(storage, "h.asb", data, opts);
    const stored = await Deno.readFile(join(dir, "h.asb"));
    const expected = createHash("sha256").update(stored).digest("hex");
    assert.equal(chain.sha256(), expected);
    const reader = new FileListReader([join(dir, "h.asb")]);
    const [entry] = await Array.fromAsync(reader.list());
    const read = openReadChain(await reader.open(entry), { ...opts, sha256: true });
    assert.deepEqual(await collect(read.readable), data);
    assert.equal(read.sha256(), expected);
    assert.equal(openReadChain(ReadableStream.from([stored])).sha256(), undefined);
  });
});
