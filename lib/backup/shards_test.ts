import assert from "node:assert/strict";
import { PARTITION_COUNT } from "../aerospike/digest.ts";
import { AerobakError } from "../errors.ts";
import { DirectoryWriter, FileWriter } from "../io/local_writer.ts";
import { MemoryObjectStore } from "../io/_memory_object_store.ts";
import { ObjectStoreWriter } from "../io/object_store.ts";
import { resolveBackupConfig } from "./config.ts";
import {
  parseShardDirectoryName,
  shardDirectoryName,
  shardPartitions,
  shardWriter,
} from "./shards.ts";

Deno.test("shardPartitions() gives every partition to exactly one shard, in contiguous ranges", () => {
  for (const count of [1, 2, 3, 4, 5, 7, 16, 100, 1000, 4095, 4096]) {
    let next = 0;
    const sizes = new Set<number>();
    for (let index = 0; index < count; index++) {
      const r = shardPartitions({ index, count });
      assert.equal(r.begin, next, `shard ${index} of ${count} starts where the last ended`);
      assert.ok(r.count >= 1);
      sizes.add(r.count);
      next = r.begin + r.count;
    }
    assert.equal(next, PARTITION_COUNT, `${count} shards cover all partitions`);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count} shards are even`);
  }
  // The documented split.
  assert.deepEqual(shardPartitions({ index: 0, count: 3 }), { begin: 0, count: 1365 });
  assert.deepEqual(shardPartitions({ index: 2, count: 3 }), { begin: 2730, count: 1366 });
  assert.deepEqual(shardPartitions({ index: 3, count: 4 }), { begin: 3072, count: 1024 });
});

Deno.test("shardPartitions() refuses a shard outside 0..N-1 and N outside 1..4096", () => {
  for (
    const bad of [{ index: 4, count: 4 }, { index: -1, count: 4 }, { index: 0, count: 0 }, {
      index: 0,
      count: 4097,
    }, { index: 0.5, count: 2 }]
  ) {
    assert.throws(
      () => shardPartitions(bad),
      (e) => e instanceof AerobakError && e.code === "CONFIG_INVALID" && /shard\./.test(e.message),
    );
  }
});

Deno.test("shardDirectoryName() and parseShardDirectoryName() agree; other names are no shard", () => {
  assert.equal(shardDirectoryName({ index: 0, count: 1 }), "shard-0-of-1");
  for (
    const s of [{ index: 0, count: 1 }, { index: 41, count: 100 }, { index: 4095, count: 4096 }]
  ) {
    assert.deepEqual(parseShardDirectoryName(shardDirectoryName(s)), s);
  }
  for (
    const name of [
      "shard-4-of-4",
      "shard-01-of-4",
      "shard-0-of-0",
      "shard-0-of-4097",
      "shard-1-of-4x",
      "x",
    ]
  ) {
    assert.equal(parseShardDirectoryName(name), undefined, name);
  }
});

Deno.test("shardWriter() writes into shard-<I>-of-<N> of a directory or key prefix, not into a file", async () => {
  const local = shardWriter(new DirectoryWriter("/b", { removeFiles: true }), {
    index: 1,
    count: 2,
  });
  assert.equal(local.describe("x.asb"), "/b/shard-1-of-2/x.asb");
  const store = new MemoryObjectStore();
  const cloud = shardWriter(new ObjectStoreWriter(store, "backups/today"), { index: 0, count: 3 });
  const sink = await cloud.open("0_test_1.asb");
  await sink.close();
  assert.deepEqual([...store.objects.keys()], ["backups/today/shard-0-of-3/0_test_1.asb"]);
  assert.throws(
    () => shardWriter(new FileWriter("/b/one.asb"), { index: 0, count: 2 }),
    (e) => e instanceof AerobakError && /a sharded backup writes into a directory/.test(e.message),
  );
});

Deno.test("resolveBackupConfig() turns a shard into its partition range and refuses other partition choices", () => {
  const c = resolveBackupConfig({
    namespace: "test",
    shard: { index: 2, count: 4 },
    parallelRead: 4,
  });
  assert.deepEqual(c.partitionFilters, [{ kind: "range", begin: 2048, count: 1024 }]);
  assert.deepEqual(c.shard, { index: 2, count: 4 });
  // Shard 0 holds the metadata, the others leave it out.
  assert.equal(c.noUdfs && c.noIndexes, true);
  const first = resolveBackupConfig({ namespace: "test", shard: { index: 0, count: 4 } });
  assert.equal(first.noUdfs || first.noIndexes, false);
  for (
    const extra of [
      { partitionFilters: [{ kind: "id" as const, id: 5 }] },
      { nodeList: ["a:3000"] },
      { rackList: [1] },
      { parallelNodes: true },
    ]
  ) {
    assert.throws(
      () => resolveBackupConfig({ namespace: "test", shard: { index: 0, count: 2 }, ...extra }),
      (e) =>
        e instanceof AerobakError &&
        /Invalid shard "?0 of 2"?: expected no \w+ together with a shard/.test(e.message),
      JSON.stringify(extra),
    );
  }
  assert.throws(
    () => resolveBackupConfig({ namespace: "test", shard: { index: 2, count: 2 } }),
    (e) =>
      e instanceof AerobakError &&
      /Invalid shard\.index 2: expected an integer/.test(e.message),
  );
});
