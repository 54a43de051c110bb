import assert from "node:assert/strict";
import { Cluster } from "./aerospike/cluster.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "./aerospike/record.ts";
import { canonicalDump, seededEmulator } from "./_job_test_helpers.ts";
import { BackupClient } from "./client.ts";
import { DirectoryReader } from "./io/local_reader.ts";
import { readManifest } from "./backup/manifest.ts";
import { DirectoryWriter } from "./io/local_writer.ts";

const LUA = new TextEncoder().encode("function hello(rec)\n  return 'hi'\nend\n");

Deno.test("BackupClient backs up a 3-node cluster and restores it into another namespace", async () => {
  await using emu = await seededEmulator(600);
  const dir = await Deno.makeTempDir();
  await using cluster = await Cluster.connect({ hosts: emu.seeds, tendIntervalMs: 50 });
  try {
    const b64 = btoa(String.fromCharCode(...LUA));
    await cluster.info([
      `udf-put:filename=hello.lua;content=${b64};content-len=${b64.length};udf-type=LUA;`,
    ]);
    await cluster.info([
      "sindex-create:namespace=test;set=alpha;indexname=idx_i;bin=i;type=NUMERIC",
    ]);
    const client = new BackupClient(cluster);
    const backup = client.backup(
      { namespace: "test", parallelRead: 4, parallelWrite: 2, fileLimit: 20_000 },
      new DirectoryWriter(dir),
    );
    assert.equal(backup.status, "running");
    const bstats = await backup.wait();
    assert.equal(bstats.recordsRead, 600);
    assert.equal(bstats.udfsRead, 1);
    assert.equal(bstats.sindexesRead, 1);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".asb"))
      .sort();
    assert.equal(bstats.filesWritten, names.length);
    // The job wrote its manifest last: every file, its size and its records.
    const found = await readManifest(new DirectoryReader(dir));
    assert.deepEqual(found?.manifest.files.map((f) => f.name), names);
    assert.equal(found?.manifest.totals.records, 600);
    assert.ok(names.includes("metadata_test_1.asb"), names.join(","));
    assert.ok(
      names.some((n) => n.startsWith("0_test_")) && names.some((n) => n.startsWith("1_test_")),
    );
    let size = 0;
    for (const n of names) size += Deno.statSync(`${dir}/${n}`).size;
    assert.equal(bstats.bytesWritten, size);

    const restore = client.restore(
      { namespace: { source: "test", destination: "bar" }, parallel: 3 },
      new DirectoryReader(dir),
      { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
    );
    const rstats = await restore.wait();
    assert.equal(rstats.recordsRead, 600);
    assert.equal(rstats.recordsInserted, 600);
    assert.equal(rstats.bytesRead, size);
    assert.deepEqual(canonicalDump(emu.dump("bar"), "x"), canonicalDump(emu.dump("test"), "x"));
    assert.ok(emu.udfs.some((u) => u.name === "hello.lua"));
    assert.ok(emu.sindexes.some((s) => s.namespace === "bar" && s.name === "idx_i"));

    // A second restore finds every record already there with the same generation.
    const again = await client.restore(
      { namespace: { source: "test", destination: "bar" } },
      new DirectoryReader(dir),
      { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
    ).wait();
    assert.equal(again.recordsFresher, 600);
    assert.equal(again.recordsInserted, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BackupClient.restore() validates files without a cluster", async () => {
  await using emu = await seededEmulator(50, 1);
  const dir = await Deno.makeTempDir();
  try {
    {
      await using cluster = await Cluster.connect({ hosts: emu.seeds });
      await new BackupClient(cluster).backup({ namespace: "test" }, new DirectoryWriter(dir))
        .wait();
    }
    const stats = await new BackupClient(null).restore(
      { validateOnly: true },
      new DirectoryReader(dir),
    ).wait();
    assert.equal(stats.recordsRead, 50);
    assert.equal(stats.recordsInserted, 0);
    assert.throws(() => new BackupClient(null).restore({}, new DirectoryReader(dir)), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
