import assert from "node:assert/strict";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AsbEncoder } from "../format/asb/encoder.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import { AsbFileSink, backupFileName, type FileRun } from "./file_writer.ts";

function record(i: number): AerospikeRecord {
  const key = keyFromJs(i);
  return {
    namespace: "test",
    set: "s",
    digest: computeDigest("s", key),
    key,
    generation: 1,
    voidTime: 0,
    bins: [{ name: "v", type: 3, value: new TextEncoder().encode("x".repeat(100)) }],
  };
}

function newRun(storage: DirectoryWriter): FileRun {
  return {
    storage,
    namespace: "test",
    compression: { mode: "NONE" },
    suffix: "",
    nextFileNumber: 1,
    firstFileTaken: false,
  };
}

Deno.test("backupFileName() follows backup-go's naming", () => {
  assert.equal(backupFileName("metadata_", "test", 1, ""), "metadata_test_1.asb");
  assert.equal(backupFileName("3_", "test", 12, "(2)"), "3_test_12(2).asb");
  assert.equal(backupFileName("pre", "bar", 4, ""), "prebar_4.asb");
});

Deno.test("AsbFileSink rolls over at the file limit with a header in every file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = newRun(new DirectoryWriter(dir));
    const closed: [string, number][] = [];
    run.onClose = (name, bytes) => void closed.push([name, bytes]);
    const sink = new AsbFileSink(run, {
      prefix: "0_",
      encoder: new AsbEncoder(),
      fileLimit: 1000,
    });
    for (let i = 0; i < 40; i++) await sink.writeRecord(record(i));
    await sink.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.ok(names.length > 3, `expected several files, got ${names}`);
    assert.deepEqual(closed.map((c) => c[0]).sort(), names);
    let records = 0;
    for (const [i, [name, bytes]] of closed.entries()) {
      assert.equal(name, `0_test_${i + 1}.asb`);
      const text = Deno.readTextFileSync(`${dir}/${name}`);
      assert.equal(text.length, bytes);
      const header = i === 0
        ? "Version 3.1\n# namespace test\n# first-file\n"
        : "Version 3.1\n# namespace test\n";
      assert.ok(
        text.startsWith(header),
        `${name} starts with ${JSON.stringify(text.slice(0, 50))}`,
      );
      if (i < closed.length - 1) {
        // A file exceeds the limit by at most one record.
        assert.ok(bytes >= 1000 && bytes < 1000 + 300, `${name} is ${bytes} bytes`);
      }
      records += text.split("\n+ n test\n").length - 1;
    }
    assert.equal(records, 40);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AsbFileSink opens nothing until the first write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = new AsbFileSink(newRun(new DirectoryWriter(dir)), {
      prefix: "0_",
      encoder: new AsbEncoder(),
    });
    await sink.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await assert.rejects(async () => await sink.writeRecord(record(1)), { code: "WRITER_CLOSED" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AsbFileSink shares the file counter and first-file flag across sinks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = newRun(new DirectoryWriter(dir));
    const a = new AsbFileSink(run, { prefix: "metadata_", encoder: new AsbEncoder() });
    const b = new AsbFileSink(run, { prefix: "0_", encoder: new AsbEncoder() });
    await a.writeUdf({ name: "f.lua", content: new TextEncoder().encode("return 1") });
    await a.close();
    await b.writeRecord(record(1));
    await b.close();
    const meta = Deno.readTextFileSync(`${dir}/metadata_test_1.asb`);
    const data = Deno.readTextFileSync(`${dir}/0_test_2.asb`);
    assert.ok(meta.includes("# first-file\n* u "));
    assert.ok(!data.includes("# first-file"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AsbFileSink rolls compressed, encrypted files over at their real size", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run: FileRun = {
      ...newRun(new DirectoryWriter(dir)),
      compression: { mode: "ZSTD", level: 3 },
      encryptionKey: new Uint8Array(32).fill(7),
    };
    const closed: [string, number][] = [];
    run.onClose = (name, bytes) => void closed.push([name, bytes]);
    const limit = 20_000;
    const sized = new AsbFileSink(run, {
      prefix: "1_",
      encoder: new AsbEncoder(),
      fileLimit: limit,
    });
    // Noise bins, so zstd cannot hide the size: ~700 bytes per record on disk.
    let seed = 1;
    for (let i = 0; i < 200; i++) {
      const r = record(i);
      const noise = new Uint8Array(500).map(() =>
        (seed = (Math.imul(seed, 48271) + 11) >>> 0) >>> 24
      );
      await sized.writeRecord({ ...r, bins: [{ name: "n", type: 4, value: noise }] });
    }
    await sized.close();
    assert.ok(closed.length >= 4, `files: ${JSON.stringify(closed)}`);
    for (const [name, bytes] of closed) {
      assert.equal(Deno.statSync(`${dir}/${name}`).size, bytes);
      // A compressor holds up to 128 KiB: without syncing, the first file would take it all.
      assert.ok(bytes < limit + 1000, `${name} is ${bytes} bytes`);
    }
    for (const [name, bytes] of closed.slice(0, -1)) {
      assert.ok(bytes >= limit, `${name} rolled over early at ${bytes} bytes`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
