import assert from "node:assert/strict";
import { Cluster } from "../aerospike/cluster.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";
import { canonicalDump, seededEmulator } from "../_job_test_helpers.ts";
import { withTempDir } from "../_test_utils.ts";
import { BackupClient } from "../client.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { decodeAsb } from "../format/asb/decoder.ts";
import { MemoryObjectStore } from "../io/_memory_object_store.ts";
import { C_SAMPLES } from "../io/_test_helpers.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import { ObjectStoreReader, ObjectStoreWriter } from "../io/object_store.ts";
import { bandwidthShare, defaultWorkerCount } from "./reader_workers.ts";

const KEY_FILE = `${C_SAMPLES}sample-key.pem`;

/** Every record of a directory's uncompressed ASB files, canonically dumped. */
async function backedUp(dir: string): Promise<string[]> {
  const records: AerospikeRecord[] = [];
  for (const name of backupFiles(dir)) {
    const file = await Deno.open(`${dir}/${name}`);
    for await (const t of decodeAsb(file.readable, { file: name })) {
      if (t.kind === "record") records.push(t.record);
    }
  }
  return canonicalDump(records, "x");
}

function backupFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".asb")).sort();
}

Deno.test("backups read in workers hold the records an in-process backup holds", async () => {
  await using emu = await seededEmulator(3000);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const source = canonicalDump(emu.dump("test"), "x");
  await withTempDir(async (dir) => {
    const client = new BackupClient(cluster);
    const config = { namespace: "test", parallelRead: 4, parallelWrite: 2, fileLimit: 60_000 };
    const inWorkers = await client.backup(
      { ...config, readerWorkers: 2 },
      new DirectoryWriter(`${dir}/workers`),
    ).wait();
    const inProcess = await client.backup(
      { ...config, readerWorkers: 0 },
      new DirectoryWriter(`${dir}/here`),
    ).wait();
    assert.equal(inWorkers.recordsRead, 3000);
    assert.equal(inWorkers.recordsWritten, 3000);
    assert.equal(inWorkers.bytesWritten, inProcess.bytesWritten);
    // Each writer's files are numbered from one counter, so both runs name the same files.
    const files = backupFiles(`${dir}/workers`);
    assert.ok(files.length > 2, files.join(","));
    assert.equal(inWorkers.filesWritten, files.length);
    assert.equal(files.length, backupFiles(`${dir}/here`).length);
    assert.deepEqual(await backedUp(`${dir}/workers`), source);
    assert.deepEqual(await backedUp(`${dir}/here`), source);
  });
});

Deno.test("workers send their files' bytes through the main thread to an object store", async () => {
  await using emu = await seededEmulator(2000);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const store = new MemoryObjectStore();
  const stats = await new BackupClient(cluster).backup(
    {
      namespace: "test",
      parallelRead: 4,
      parallelWrite: 4,
      readerWorkers: 2,
      fileLimit: 50_000,
      compression: { mode: "ZSTD", level: 3 },
      encryption: { mode: "AES128", keyFile: KEY_FILE },
    },
    new ObjectStoreWriter(store, "bk"),
  ).wait();
  assert.equal(stats.recordsWritten, 2000);
  assert.ok(stats.filesWritten >= 4, `${stats.filesWritten} files`);
  await new BackupClient(cluster).restore(
    {
      namespace: { source: "test", destination: "bar" },
      compression: { mode: "ZSTD" },
      encryption: { mode: "AES128", keyFile: KEY_FILE },
    },
    new ObjectStoreReader(store, { directories: ["bk"] }),
    { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
  ).wait();
  assert.deepEqual(canonicalDump(emu.dump("bar"), "x"), canonicalDump(emu.dump("test"), "x"));
});

Deno.test("a cancelled backup in workers stops them and removes its files", async () => {
  await using emu = await seededEmulator(3000);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  await withTempDir(async (dir) => {
    // ~450 KB at 100 KB/s: the cancel comes while every worker is reading.
    const job = new BackupClient(cluster).backup(
      { namespace: "test", parallelRead: 4, readerWorkers: 2, bandwidth: 100_000 },
      new DirectoryWriter(dir),
      { progressIntervalMs: 1 },
    );
    while (job.stats().recordsRead === 0) await new Promise((r) => setTimeout(r, 5));
    await job.cancel();
    assert.equal(job.status, "cancelled");
    assert.ok(job.stats().recordsRead < 3000);
    assert.deepEqual(backupFiles(dir), [], "files of a cancelled backup without a state file");
  });
});

Deno.test("defaultWorkerCount() gives a thread per reader up to the cores, this one included", () => {
  const cores = navigator.hardwareConcurrency;
  assert.equal(defaultWorkerCount(1), 0);
  assert.equal(defaultWorkerCount(0), 0);
  assert.equal(defaultWorkerCount(2), Math.min(2, cores) - 1);
  assert.equal(defaultWorkerCount(cores + 3), cores - 1);
});

Deno.test("bandwidthShare() splits a limit by readers, never to no limit", () => {
  assert.equal(bandwidthShare(0, 1, 4), 0);
  assert.equal(bandwidthShare(1000, 1, 4), 250);
  assert.equal(bandwidthShare(1000, 3, 4), 750);
  assert.equal(bandwidthShare(3, 1, 4), 1);
});
