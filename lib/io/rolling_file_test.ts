import assert from "node:assert/strict";
import { join } from "node:path";
import type { ByteWriter } from "../aerospike/byte_writer.ts";
import { concatBytes, withTempDir } from "../_test_utils.ts";
import { AerobakError } from "../errors.ts";
import { collect } from "./_test_helpers.ts";
import type { CompressionPolicy } from "./compression.ts";
import { openReadChain } from "./file_chain.ts";
import { DirectoryWriter, FileWriter } from "./local_writer.ts";
import { type RollingFileOptions, RollingFileWriter } from "./rolling_file.ts";
import type { StorageWriter } from "./storage.ts";

const text = new TextEncoder();
const KEY = new Uint8Array(32).fill(7);

/** Appends the bytes as they are. */
function raw(buf: ByteWriter, bytes: Uint8Array): number {
  buf.bytes(bytes);
  return bytes.length;
}

/** Files `part_<n>.dat`, each starting with the 10-byte header `header NN\n`. */
function numbered(): Pick<RollingFileOptions, "nextFile"> & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    nextFile() {
      const n = opened.length + 1;
      const name = `part_${n}.dat`;
      opened.push(name);
      return { name, header: text.encode(`header ${String(n).padStart(2, "0")}\n`) };
    },
  };
}

/** Deterministic bytes zstd cannot shrink. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}

/** Text that compresses about 3:1, like backup records. */
function words(n: number, seed: number): Uint8Array {
  const list = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split(
    " ",
  );
  let s = "";
  let x = seed | 1;
  while (s.length < n) {
    x = (Math.imul(x, 48271) + 11) >>> 0;
    s += `${list[x % list.length]}${x % 97} `;
  }
  return text.encode(s.slice(0, n - 1) + "\n");
}

async function readBack(path: string, compression: CompressionPolicy): Promise<Uint8Array> {
  const file = await Deno.open(path);
  return await collect(openReadChain(file.readable, { compression, encryptionKey: KEY }).readable);
}

Deno.test("RollingFileWriter rolls over once a file holds the limit, with the header in every file", async () => {
  // Header 10 bytes, entities 10 bytes: at limit 100 a file is full after 9 entities
  // (size == limit rolls over); at 101 the 10th entity is written and the file ends at 110.
  for (const [limit, perFile] of [[100, 9], [101, 10]]) {
    await withTempDir(async (dir) => {
      const names = numbered();
      const events: string[] = [];
      const files = new RollingFileWriter({
        storage: new DirectoryWriter(dir),
        ...names,
        fileLimit: limit,
        onOpen: (name) => void events.push(`open ${name}`),
        onClose: (name, bytes) => void events.push(`close ${name} ${bytes}`),
      });
      const total = perFile * 4 + 1;
      for (let i = 0; i < total; i++) {
        const n = await files.write(raw, text.encode(`rec ${String(i).padStart(5, "0")}\n`));
        assert.equal(n, 10);
      }
      await files.close();
      const size = 10 + perFile * 10;
      assert.deepEqual(events, [
        ...[1, 2, 3, 4].flatMap((n) => [`open part_${n}.dat`, `close part_${n}.dat ${size}`]),
        "open part_5.dat",
        "close part_5.dat 20",
      ]);
      assert.equal(files.filesOpened, 5);
      assert.equal(files.closedBytes, 4 * size + 20);
      let next = 0;
      for (const [k, name] of names.opened.entries()) {
        const body = await Deno.readTextFile(join(dir, name));
        const lines = body.split("\n").slice(0, -1);
        assert.equal(lines[0], `header ${String(k + 1).padStart(2, "0")}`);
        for (const line of lines.slice(1)) {
          assert.equal(line, `rec ${String(next++).padStart(5, "0")}`);
        }
      }
      assert.equal(next, total);
    }, "aerobak-rolling-");
  }
});

Deno.test("RollingFileWriter keeps zstd + AES files within the limit plus one entity", async () => {
  for (const [what, make] of [["noise", noise], ["text", words]] as const) {
    await withTempDir(async (dir) => {
      const limit = 16 * 1024;
      const compression: CompressionPolicy = { mode: "ZSTD", level: 3 };
      const names = numbered();
      // The size of the entity written last, when a file closes during the next write.
      let last = 0;
      const closed: { name: string; bytes: number; last: number }[] = [];
      const files = new RollingFileWriter({
        storage: new DirectoryWriter(dir),
        ...names,
        fileLimit: limit,
        compression,
        encryptionKey: KEY,
        onClose: (name, bytes) => void closed.push({ name, bytes, last }),
      });
      const entities: Uint8Array[] = [];
      for (let i = 0; i < 1500; i++) {
        const entity = make(40 + (i * 7919) % 900, i + 1);
        entities.push(entity);
        await files.write(raw, entity);
        last = entity.length;
      }
      await files.close();
      assert.ok(closed.length >= 4, `${what}: ${closed.length} files`);
      const back: Uint8Array[] = [];
      for (const [k, { name, bytes, last }] of closed.entries()) {
        assert.equal((await Deno.stat(join(dir, name))).size, bytes, name);
        // The documented bound: under the limit plus the last entity, its zstd block
        // headers and 64 bytes of framing.
        const bound = limit + last + 3 * Math.ceil(last / 131072) + 64;
        assert.ok(bytes < bound, `${what}: ${name} is ${bytes} bytes, bound ${bound}`);
        if (k < closed.length - 1) {
          assert.ok(bytes >= limit, `${what}: ${name} rolled over early at ${bytes} bytes`);
        }
        const plain = await readBack(join(dir, name), compression);
        assert.equal(
          new TextDecoder().decode(plain.subarray(0, 10)),
          `header ${String(k + 1).padStart(2, "0")}\n`,
        );
        back.push(plain.subarray(10));
      }
      assert.deepEqual(concatBytes(back), concatBytes(entities));
      // The exact size is taken a few dozen times per file near its end, never per entity.
      assert.ok(
        files.syncs <= closed.length * 40 && files.syncs * 5 < entities.length,
        `${what}: ${files.syncs} syncs for ${closed.length} files, ${entities.length} entities`,
      );
    }, "aerobak-rolling-");
  }
});

Deno.test("RollingFileWriter creates no file until something is written", async () => {
  await withTempDir(async (dir) => {
    const names = numbered();
    const files = new RollingFileWriter({
      storage: new DirectoryWriter(dir),
      ...names,
      fileLimit: 10,
    });
    assert.equal(await files.closeFile(), undefined);
    await files.close();
    assert.deepEqual(names.opened, []);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.equal(files.filesOpened, 0);
    await assert.rejects(async () => await files.write(raw, new Uint8Array(1)), {
      code: "WRITER_CLOSED",
    });

    // open() leaves a header-only file; closing it makes the next write open another.
    const more = new RollingFileWriter({ storage: new DirectoryWriter(dir), ...numbered() });
    await more.open();
    assert.equal(more.openFileName, "part_1.dat");
    assert.equal(await more.closeFile(), "part_1.dat");
    await more.write(raw, text.encode("x\n"));
    await more.close();
    assert.equal(await Deno.readTextFile(join(dir, "part_1.dat")), "header 01\n");
    assert.equal(await Deno.readTextFile(join(dir, "part_2.dat")), "header 02\nx\n");
  }, "aerobak-rolling-");
});

Deno.test("RollingFileWriter errors name the file they concern", async () => {
  await withTempDir(async (dir) => {
    // A storage that cannot create its files.
    const broken: StorageWriter = {
      kind: "directory",
      open: () => Promise.reject(new Error("disk on fire")),
      describe: (name) => join(dir, name),
    };
    const files = new RollingFileWriter({ storage: broken, ...numbered() });
    await files.write(raw, text.encode("x\n"));
    await assert.rejects(files.close(), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "STORAGE_WRITE");
      assert.equal(e.message, "Cannot write backup file part_1.dat: disk on fire");
      assert.deepEqual(e.location, { file: "part_1.dat" });
      return true;
    });
  }, "aerobak-rolling-");

  // A full disk mid-file: the failing write surfaces on a later write, naming the path.
  const full = new RollingFileWriter({
    storage: new FileWriter("/dev/full", { bufferSize: 1024 }),
    nextFile: () => ({ name: "full.asb" }),
    flushSize: 1024,
  });
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 100; i++) await full.write(raw, new Uint8Array(500));
    })(),
    (e: unknown) =>
      e instanceof AerobakError && e.code === "STORAGE_WRITE" &&
      /\/dev\/full: no space left/.test(e.message),
  );
  await assert.rejects(full.close(), { code: "STORAGE_WRITE" });
});

Deno.test("RollingFileWriter refuses a negative file limit", () => {
  const storage = new DirectoryWriter("/nonexistent");
  const nextFile = () => ({ name: "a" });
  assert.throws(() => new RollingFileWriter({ storage, nextFile, fileLimit: -1 }), RangeError);
  assert.throws(() => new RollingFileWriter({ storage, nextFile, flushSize: 0 }), RangeError);
});
