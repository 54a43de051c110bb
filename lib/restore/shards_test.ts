import assert from "node:assert/strict";
import { DirectoryReader } from "../io/local_reader.ts";
import { MemoryObjectStore } from "../io/_memory_object_store.ts";
import { ObjectStoreReader } from "../io/object_store.ts";
import type { StorageReader } from "../io/storage.ts";
import { rejectsCode, withTempDir } from "../_test_utils.ts";
import {
  encodeManifest,
  MANIFEST_FILE_NAME,
  ManifestBuilder,
  scanManifestSettings,
} from "../backup/manifest.ts";
import { resolveBackupConfig } from "../backup/config.ts";
import { parseShardDirectoryName } from "../backup/shards.ts";
import { findShards, openShardedInput, ShardedReader, shardsIncomplete } from "./shards.ts";

async function names(reader: StorageReader): Promise<string[]> {
  return (await Array.fromAsync(reader.list())).map((e) => e.path);
}

/** The manifest a finished shard leaves (or, given `shard`, one recording another shard). */
function manifestOf(dir: string, shard = parseShardDirectoryName(dir)): Uint8Array {
  const settings = scanManifestSettings(
    resolveBackupConfig(shard ? { namespace: "test", shard } : { namespace: "test" }),
  );
  const b = new ManifestBuilder({
    kind: "scan",
    namespace: "test",
    settings,
    startTime: new Date(0),
  });
  return encodeManifest(b.build(new Date(1000)));
}

/** Writes files; a `shard-I-of-N/` directory also gets its manifest unless `unfinished`. */
async function writeFiles(root: string, files: string[], unfinished: string[] = []): Promise<void> {
  for (const f of files) {
    const path = `${root}/${f}`;
    const dir = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(path, f);
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    if (parseShardDirectoryName(name) && !unfinished.includes(name)) {
      await Deno.writeFile(`${dir}/${MANIFEST_FILE_NAME}`, manifestOf(name));
    }
  }
}

Deno.test("findShards() finds the shards of a local sharded backup, and which are missing or unfinished", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, [
      "shard-0-of-5/0_test_1.asb",
      "shard-0-of-5/metadata_test_1.asb",
      "shard-2-of-5/0_test_1.asb",
      "shard-3-of-5/other.txt", // no backup file: missing
      "shard-4-of-5/0_test_1.asb", // no manifest: unfinished
      "notes/readme.asb",
    ], ["shard-4-of-5"]);
    assert.deepEqual(await findShards(new DirectoryReader(dir)), {
      count: 5,
      present: [0, 2],
      missing: [1, 3],
      unfinished: [4],
    });
    // Not sharded: no shard directory, or backup files of its own.
    assert.equal(await findShards(new DirectoryReader(`${dir}/notes`)), undefined);
    await writeFiles(dir, ["0_test_1.asb"]);
    assert.equal(await findShards(new DirectoryReader(dir)), undefined);
  });
});

Deno.test("findShards() refuses shard directories of two shard counts, naming both", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, ["shard-0-of-2/a.asb", "shard-1-of-4/a.asb"]);
    await rejectsCode(
      findShards(new DirectoryReader(dir)),
      "SHARDS_INVALID",
      /holds shards of 2 and of 4 \(shard-\*-of-2, shard-\*-of-4\)/,
    );
  });
});

Deno.test("findShards() refuses a shard directory holding the manifest of another shard", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, ["shard-0-of-2/a.asb", "shard-1-of-2/a.asb"]);
    await Deno.writeFile(
      `${dir}/shard-1-of-2/${MANIFEST_FILE_NAME}`,
      manifestOf("", { index: 0, count: 2 }),
    );
    await rejectsCode(
      findShards(new DirectoryReader(dir)),
      "SHARDS_INVALID",
      /shard-1-of-2\/backup\.manifest\.json is the manifest of shard 0 of 2, in the directory of shard 1 of 2/,
    );
  });
});

Deno.test("ShardedReader lists one file of each shard in turn and opens each through its shard", async () => {
  const store = new MemoryObjectStore();
  const put = (key: string) => store.objects.set(key, new TextEncoder().encode(key));
  for (const k of ["a", "b", "c"]) put(`bk/shard-0-of-3/${k}.asb`);
  put("bk/shard-1-of-3/a.asb");
  for (const k of ["a", "b"]) put(`bk/shard-2-of-3/${k}.asb`);
  for (let i = 0; i < 3; i++) {
    store.objects.set(`bk/shard-${i}-of-3/${MANIFEST_FILE_NAME}`, manifestOf(`shard-${i}-of-3`));
  }
  const root = new ObjectStoreReader(store, { directories: ["bk"] });
  const layout = await findShards(root);
  assert.deepEqual(layout, { count: 3, present: [0, 1, 2], missing: [], unfinished: [] });
  const reader = new ShardedReader(root, layout!);
  const listed = await Array.fromAsync(reader.list());
  assert.deepEqual(listed.map((e) => e.path), [
    "mem://bucket/bk/shard-0-of-3/a.asb",
    "mem://bucket/bk/shard-1-of-3/a.asb",
    "mem://bucket/bk/shard-2-of-3/a.asb",
    "mem://bucket/bk/shard-0-of-3/b.asb",
    "mem://bucket/bk/shard-2-of-3/b.asb",
    "mem://bucket/bk/shard-0-of-3/c.asb",
  ]);
  const text = await new Response(await reader.open(listed[2])).text();
  assert.equal(text, "bk/shard-2-of-3/a.asb");
  const one = new ShardedReader(root, layout!, { shards: [1] });
  assert.deepEqual(await names(one), ["mem://bucket/bk/shard-1-of-3/a.asb"]);
});

Deno.test("openShardedInput() picks every shard or one, and says which are missing", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, ["shard-0-of-3/a.asb", "shard-2-of-3/a.asb"]);
    const whole = await openShardedInput(new DirectoryReader(dir));
    assert.deepEqual(whole.incomplete, [1]);
    assert.deepEqual(await names(whole.reader), [
      `${dir}/shard-0-of-3/a.asb`,
      `${dir}/shard-2-of-3/a.asb`,
    ]);
    assert.match(
      shardsIncomplete(whole, true).message,
      new RegExp(
        `^Cannot restore: the sharded backup in ${dir} is incomplete: 1 of its 3 shards is ` +
          "not there \\(missing: shard 1\\); pass allowPartial",
      ),
    );
    const two = await openShardedInput(new DirectoryReader(dir), { shard: { index: 2, count: 3 } });
    assert.deepEqual(await names(two.reader), [`${dir}/shard-2-of-3/a.asb`]);
    const gone = await openShardedInput(new DirectoryReader(dir), {
      shard: { index: 1, count: 3 },
    });
    assert.deepEqual(await names(gone.reader), []);
    await rejectsCode(
      openShardedInput(new DirectoryReader(dir), { shard: { index: 0, count: 4 } }),
      "CONFIG_INVALID",
      /Invalid shard 0 of 4: .* holds a backup split into 3 shards/,
    );
    // A plain backup directory is read as it is; a shard of it is an error.
    await writeFiles(dir, ["plain/0_test_1.asb"]);
    const plain = new DirectoryReader(`${dir}/plain`);
    assert.equal((await openShardedInput(plain)).reader, plain);
    await rejectsCode(
      openShardedInput(plain, { shard: { index: 0, count: 2 } }),
      "CONFIG_INVALID",
      /is not a sharded backup/,
    );
  });
});
