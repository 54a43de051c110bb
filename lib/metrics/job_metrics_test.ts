import assert from "node:assert/strict";
import { Cluster } from "../aerospike/cluster.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";
import { seededEmulator } from "../_job_test_helpers.ts";
import { withTempDir } from "../_test_utils.ts";
import { BackupClient } from "../client.ts";
import { DirectoryReader } from "../io/local_reader.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import { backupMetrics, restoreMetrics } from "./job_metrics.ts";
import { type MetricFamily, MetricsRegistry } from "./registry.ts";

/** The value of a metric's sample whose labels include `labels`. */
function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}) {
  const f = families.find((f) => f.name === name);
  assert.ok(f, `no ${name}`);
  const s = f.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  assert.ok(s, `no ${name}${JSON.stringify(labels)}`);
  return s.value;
}

Deno.test("backupMetrics() reports a backup's records, bytes, files, scan retries by cause, throttle waits and outcome", async () => {
  await using emu = await seededEmulator(600);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  await withTempDir(async (dir) => {
    // Partitions unavailable until the scans have retried them once.
    emu.faults.makeUnavailable("test", [1, 2, 3]);
    const handle = new BackupClient(cluster).backup({
      namespace: "test",
      parallelRead: 2,
      // ~150 KB of backup at 100 KB/s; a records-per-second limit would be the nodes' own.
      bandwidth: 100_000,
      scanPolicy: { maxRetries: 50, sleepBetweenRetriesMs: 10 },
    }, new DirectoryWriter(dir));
    const registry = new MetricsRegistry();
    registry.register(backupMetrics(handle, { cluster }), { labels: { shard: "0" } });
    while (handle.stats().retries === 0 && handle.status === "running") {
      await new Promise((r) => setTimeout(r, 1));
    }
    const running = registry.collect();
    const retriedSoFar = handle.stats().retries;
    emu.faults.clear();
    assert.equal(running.find((f) => f.name === "aerobak_job_success"), undefined);
    assert.ok(retriedSoFar >= 1);
    assert.equal(
      value(running, "aerobak_retries_total", { cause: "partition_unavailable" }),
      retriedSoFar,
    );
    const stats = await handle.wait();
    const m = registry.collect();
    const op = { operation: "backup" };
    assert.equal(value(m, "aerobak_records_read_total", op), 600);
    assert.equal(value(m, "aerobak_records_written_total", op), 600);
    assert.equal(value(m, "aerobak_written_bytes_total", op), stats.bytesWritten);
    assert.equal(value(m, "aerobak_files_written_total", op), stats.filesWritten);
    assert.ok(value(m, "aerobak_retries_total", { cause: "partition_unavailable" }) >= 1);
    assert.ok(value(m, "aerobak_throttle_waits_total", { limit: "bandwidth" }) > 0);
    assert.ok(value(m, "aerobak_throttle_wait_seconds_total", { limit: "bandwidth" }) > 0.1);
    assert.equal(value(m, "aerobak_throttle_waits_total", { limit: "records" }), 0);
    assert.equal(value(m, "aerobak_requests_in_flight"), 0);
    assert.equal(value(m, "aerobak_job_success"), 1);
    const start = value(m, "aerobak_job_start_time_seconds");
    assert.equal(start, stats.startTime.getTime() / 1000);
    assert.equal(value(m, "aerobak_job_end_time_seconds"), start + stats.durationMs / 1000);
    assert.equal(
      value(m, "aerobak_last_success_timestamp_seconds"),
      value(m, "aerobak_job_end_time_seconds"),
    );
    assert.ok(m.every((f) => f.samples.every((s) => s.labels?.shard === "0")));
  });
});

Deno.test("restoreMetrics() reports skipped records by reason, write retries by cause and a failure", async () => {
  await using emu = await seededEmulator(300);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  await withTempDir(async (dir) => {
    const client = new BackupClient(cluster);
    await client.backup({ namespace: "test" }, new DirectoryWriter(dir)).wait();
    // A write answered KEY_BUSY (its batch is retried), and the set filter skips two sets of
    // three.
    emu.faults.failWrite(5, 14);
    const now = () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS;
    const handle = client.restore(
      {
        namespace: { source: "test", destination: "bar" },
        setList: ["alpha"],
        retryPolicy: { maxRetries: 3, baseTimeoutMs: 1 },
      },
      new DirectoryReader(dir),
      { now },
    );
    const registry = new MetricsRegistry();
    registry.register(restoreMetrics(handle, { cluster }));
    const stats = await handle.wait();
    const m = registry.collect();
    assert.equal(value(m, "aerobak_records_read_total"), 300);
    assert.equal(value(m, "aerobak_records_written_total"), stats.recordsInserted);
    assert.equal(value(m, "aerobak_records_skipped_total", { reason: "filtered" }), 200);
    assert.equal(value(m, "aerobak_records_skipped_total", { reason: "expired" }), 0);
    assert.equal(value(m, "aerobak_retries_total", { cause: "key_busy" }), 1);
    assert.equal(value(m, "aerobak_records_failed_total", { reason: "write_failed" }), 0);
    assert.equal(value(m, "aerobak_read_bytes_total"), stats.bytesRead);
    assert.equal(value(m, "aerobak_files_read_total"), stats.filesRead);
    assert.ok(stats.filesRead >= 1);
    assert.equal(value(m, "aerobak_job_success"), 1);

    // A restore that fails: success 0, and no last-success time.
    emu.faults.failWrite(1, 13); // RECORD_TOO_BIG: a single write fails for good
    const failing = client.restore(
      { namespace: { source: "test", destination: "bar" }, disableBatchWrites: true },
      new DirectoryReader(dir),
      { now },
    );
    const failed = new MetricsRegistry();
    failed.register(restoreMetrics(failing));
    await assert.rejects(failing.wait());
    const f = failed.collect();
    assert.equal(value(f, "aerobak_job_success"), 0);
    assert.equal(value(f, "aerobak_records_failed_total", { reason: "write_failed" }), 1);
    assert.equal(f.find((x) => x.name === "aerobak_last_success_timestamp_seconds"), undefined);
    assert.equal(f.find((x) => x.name === "aerobak_requests_in_flight"), undefined);
  });
});
