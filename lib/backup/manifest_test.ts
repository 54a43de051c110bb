import assert from "node:assert/strict";
import type { AerobakError } from "../errors.ts";
import { DirectoryReader, FileListReader } from "../io/local_reader.ts";
import { DirectoryWriter, FileWriter } from "../io/local_writer.ts";
import { resolveBackupConfig } from "./config.ts";
import {
  encodeManifest,
  formatNanos,
  MANIFEST_FILE_NAME,
  ManifestBuilder,
  parseManifest,
  parseNanos,
  readManifest,
  removeManifest,
  scanManifestSettings,
  storedFileName,
  writeManifest,
} from "./manifest.ts";

const SHA = "ab".repeat(32);

function sample(): ManifestBuilder {
  const config = resolveBackupConfig({
    namespace: "test",
    setList: ["a"],
    modAfter: 1_750_000_000_123_456_789n,
    filterExpression: "kwFC",
    compression: { mode: "ZSTD" },
    encryption: { mode: "AES128", keyFile: "/secret/key.pem" },
  });
  const b = new ManifestBuilder({
    kind: "scan",
    namespace: "test",
    settings: scanManifestSettings(config),
    startTime: new Date(1000),
  });
  b.setCluster({ name: "prod", build: "8.1.2.0" });
  b.addFile({ name: "1_test_2.asb", size: 30, sha256: SHA, records: 3, sindexes: 0, udfs: 0 });
  b.addFile({ name: "0_test_1.asb", size: 20, sha256: SHA, records: 2, sindexes: 1, udfs: 1 });
  return b;
}

Deno.test("ManifestBuilder lists files by name with totals, and the settings without the key", () => {
  const m = sample().build(new Date(5000));
  assert.deepEqual(m.files.map((f) => f.name), ["0_test_1.asb", "1_test_2.asb"]);
  assert.deepEqual(m.totals, { files: 2, bytes: 50, records: 5, sindexes: 1, udfs: 1 });
  assert.deepEqual(m.cluster, { name: "prod", build: "8.1.2.0" });
  assert.equal(m.startTime, "1970-01-01T00:00:01.000Z");
  assert.equal(m.endTime, "1970-01-01T00:00:05.000Z");
  assert.equal(m.settings.modifiedAfter, "2025-06-15T15:06:40.123456789Z");
  assert.equal(m.settings.compression, "ZSTD");
  assert.equal(m.settings.encryption, "AES128");
  assert.doesNotMatch(new TextDecoder().decode(encodeManifest(m)), /secret|key\.pem/);
  assert.deepEqual(parseManifest(encodeManifest(m), "m"), m);
});

Deno.test("formatNanos() and parseNanos() keep nanoseconds exact", () => {
  for (const ns of [0n, 1n, 1_750_000_000_123_456_789n, 4_102_444_800_000_000_000n]) {
    assert.equal(parseNanos(formatNanos(ns)), ns);
  }
  assert.equal(parseNanos("2025-06-15T15:06:40Z"), 1_750_000_000_000_000_000n);
  assert.equal(parseNanos("yesterday"), undefined);
});

Deno.test("parseManifest() names the file and what is wrong", () => {
  const good = sample().build(new Date(5000));
  const cases: [unknown, RegExp][] = [
    ["{", /not JSON/],
    [[1], /expected a JSON object/],
    [{ ...good, format: "x" }, /format "x", expected "aerobak-backup-manifest"/],
    [{ ...good, version: 2 }, /version 2, expected 1/],
    [{ ...good, startTime: "soon" }, /startTime "soon" is not a time/],
    [
      { ...good, files: [{ ...good.files[0], name: "a/b" }] },
      /files\[0\]\.name "a\/b" is not a file name/,
    ],
    [{ ...good, files: [good.files[0], good.files[0]] }, /0_test_1\.asb is listed twice/],
    [
      { ...good, files: [{ ...good.files[0], size: -1 }] },
      /size of 0_test_1\.asb is -1, expected a count/,
    ],
    [
      { ...good, files: [{ ...good.files[0], sha256: "zz" }] },
      /sha256 of 0_test_1\.asb is not 64 hex digits/,
    ],
  ];
  for (const [content, why] of cases) {
    const bytes = new TextEncoder().encode(
      typeof content === "string" ? content : JSON.stringify(content),
    );
    assert.throws(() => parseManifest(bytes, "/b/backup.manifest.json"), (e: AerobakError) => {
      assert.equal(e.code, "MANIFEST_INVALID");
      assert.match(e.message, /^Invalid backup manifest \/b\/backup\.manifest\.json: /);
      assert.match(e.message, why);
      return true;
    });
  }
});

Deno.test("writeManifest() and readManifest() use backup.manifest.json in a directory and <file>.manifest.json beside a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = sample().build(new Date(5000));
    assert.equal(await writeManifest(new DirectoryWriter(dir), m), true);
    assert.deepEqual((await readManifest(new DirectoryReader(dir)))?.manifest, m);
    assert.equal(
      (await readManifest(new DirectoryReader(dir)))?.path,
      `${dir}/${MANIFEST_FILE_NAME}`,
    );
    const file = `${dir}/one.asb`;
    const single = new FileWriter(file);
    assert.equal(storedFileName(single, ""), "one.asb");
    await writeManifest(single, m);
    assert.equal((await readManifest(new FileListReader([file])))?.path, `${file}.manifest.json`);
    await removeManifest(single);
    assert.equal(await readManifest(new FileListReader([file])), undefined);
    assert.equal(await readManifest(new FileListReader([file, file])), undefined);
    assert.equal(await readManifest(new DirectoryReader(`${dir}/none`)), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
