import assert from "node:assert/strict";
import { Cluster } from "../aerospike/cluster.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";
import { canonicalDump, seededEmulator } from "../_job_test_helpers.ts";
import { BackupClient } from "../client.ts";
import { DirectoryReader } from "../io/local_reader.ts";
import { DirectoryWriter } from "../io/local_writer.ts";

/** Continuing writes into a directory that already holds the first run's files. */
class ContinueWriter extends DirectoryWriter {
  override prepare(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("backup with a state file resumes after a cancel and loses no record", async () => {
  await using emu = await seededEmulator(3000, 3);
  const dir = await Deno.makeTempDir();
  await using cluster = await Cluster.connect({ hosts: emu.seeds, tendIntervalMs: 50 });
  try {
    const client = new BackupClient(cluster);
    const config = {
      namespace: "test",
      parallelRead: 2,
      parallelWrite: 2,
      fileLimit: 8_000,
      pageSize: 100,
      stateFile: "backup.state",
    };
    const first = client.backup(config, new DirectoryWriter(dir), { progressIntervalMs: 1 });
    while (first.stats().filesWritten < 8) await new Promise((r) => setTimeout(r, 1));
    await first.cancel();
    assert.equal(first.status, "cancelled");
    assert.ok(first.stats().recordsRead < 3000, `read ${first.stats().recordsRead}`);
    const state = JSON.parse(Deno.readTextFileSync(`${dir}/backup.state`));
    assert.equal(state.counter, 0);

    const second = await client.backup({ ...config, continue: true }, new ContinueWriter(dir))
      .wait();
    assert.ok(second.recordsRead > 0);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(names.some((n) => n.includes("(1).asb")), names.join(","));
    assert.ok(!names.includes("backup.state"), "state file removed on success");

    const stats = await client.restore(
      { namespace: { source: "test", destination: "bar" } },
      new DirectoryReader(dir),
      { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
    ).wait();
    assert.ok(stats.recordsRead >= 3000);
    assert.deepEqual(canonicalDump(emu.dump("bar"), "x"), canonicalDump(emu.dump("test"), "x"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backup survives dropped scan connections and a node stopped mid-scan", async () => {
  await using emu = await seededEmulator(2000, 3);
  const dir = await Deno.makeTempDir();
  await using cluster = await Cluster.connect({ hosts: emu.seeds, tendIntervalMs: 50 });
  try {
    emu.faults.dropScanConnection(50, { times: 3 });
    const job = new BackupClient(cluster).backup(
      { namespace: "test", parallelRead: 4, scanPolicy: { sleepBetweenRetriesMs: 10 } },
      new DirectoryWriter(dir),
    );
    await emu.stopNode(2);
    await job.wait();
    const stats = await new BackupClient(null).restore(
      { validateOnly: true },
      new DirectoryReader(dir),
    )
      .wait();
    // Every record at least once (a retried partition may repeat records).
    assert.ok(stats.recordsRead >= 2000, `read ${stats.recordsRead}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restore retries injected write errors and counts every record once", async () => {
  await using emu = await seededEmulator(300, 1);
  const dir = await Deno.makeTempDir();
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  try {
    const client = new BackupClient(cluster);
    await client.backup({ namespace: "test" }, new DirectoryWriter(dir)).wait();
    emu.faults.failWrite(5, 14, { namespace: "bar" }); // KEY_BUSY: retried
    emu.faults.failWrite(9, 13, { namespace: "bar" }); // RECORD_TOO_BIG: ignored in batches
    const stats = await client.restore(
      {
        namespace: { source: "test", destination: "bar" },
        retryPolicy: { baseTimeoutMs: 1, multiplier: 1, maxRetries: 3 },
      },
      new DirectoryReader(dir),
      { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
    ).wait();
    assert.equal(stats.recordsRead, 300);
    assert.equal(stats.recordsIgnored, 1);
    assert.equal(stats.recordsInserted, 299);
    assert.ok(stats.retries >= 1);
    assert.equal(
      stats.recordsInserted + stats.recordsIgnored + stats.recordsFresher + stats.recordsExisted +
        stats.recordsSkipped + stats.recordsExpired,
      stats.recordsRead,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
