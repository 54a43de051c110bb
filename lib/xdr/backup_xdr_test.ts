import assert from "node:assert/strict";
import { partitionId } from "../aerospike/digest.ts";
import { AerobakError } from "../errors.ts";
import { EmulatedCluster } from "../emulator/cluster.ts";
import { XdrEmulation } from "../emulator/xdr.ts";
import { decodeAsbx } from "../format/asbx/decoder.ts";
import { parseAsbxFileName } from "../format/asbx/file_name.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import type { StorageWriter } from "../io/storage.ts";
import { ManualClock } from "../pipeline/clock.ts";
import { DirectInfo, seedXdrSource } from "./_test_util.ts";
import { startBackupXdr } from "./backup_xdr.ts";
import { type BackupXdrConfigInput, resolveBackupXdrConfig } from "./config.ts";

/** Advances the manual clock in steps, letting sockets run, until `done()`. */
async function drive(clock: ManualClock, done: () => boolean, stepMs = 500): Promise<void> {
  for (let i = 0; i < 4000 && !done(); i++) {
    await clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(done(), "job did not finish");
}

/** A configuration for DC `bk` of namespace `test`, the receiver on a free loopback port. */
function testConfig(input: Partial<BackupXdrConfigInput> = {}) {
  return resolveBackupXdrConfig({
    namespace: "test",
    dc: "bk",
    localPort: 0,
    listenAddress: "127.0.0.1",
    ...input,
  });
}

Deno.test("startBackupXdr() writes every shipped record into ASBX files split by partition", async () => {
  const dir = await Deno.makeTempDir();
  const cluster = new EmulatedCluster({ nodes: 2 });
  seedXdrSource(cluster, 1500, "x".repeat(50));
  const xdr = XdrEmulation.attach(cluster, { window: 16 });
  const client = new DirectInfo(cluster);
  const clock = new ManualClock();
  const config = testConfig({ parallelWrite: 3, fileLimit: 16 * 1024 });
  const job = startBackupXdr(client, config, new DirectoryWriter(dir), { clock });
  await drive(clock, () => job.status !== "running");
  const stats = await job.wait();
  assert.equal(stats.recordsRead, 1500);

  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  // The ASBX files, and the manifest written last.
  assert.ok(names.includes("backup.manifest.json"), names.join());
  names.splice(names.indexOf("backup.manifest.json"), 1);
  assert.equal(stats.filesWritten, names.length);
  assert.ok(names.length > 3, `rollover made ${names.length} files`);
  let bytes = 0;
  const numbers = new Set<number>();
  const digests = new Set<string>();
  for (const name of names) {
    const parsed = parseAsbxFileName(name);
    assert.equal(parsed.namespace, "test");
    numbers.add(parsed.fileNumber);
    const file = await Deno.open(`${dir}/${name}`);
    bytes += (await file.stat()).size;
    const dec = decodeAsbx(file.readable, { file: name, fileNumber: parsed.fileNumber });
    for await (const t of dec) {
      // Writer w of 3 owns partitions [w * 1365, (w + 1) * 1365), the last one the rest.
      assert.equal(Math.min(2, Math.floor(partitionId(t.digest) / 1365)), parsed.writer);
      digests.add(t.digest.join(","));
      assert.equal(t.payload[9] & 0x10, 0);
    }
    assert.equal(dec.header!.namespace, "test");
  }
  assert.equal(digests.size, 1500);
  assert.equal(numbers.size, names.length, "file numbers are unique across writers");
  assert.equal(Math.max(...numbers), names.length);
  assert.equal(stats.bytesWritten, bytes);
  for (const n of cluster.nodes) assert.deepEqual(xdr.dcs(n.name), []);
  await xdr.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startBackupXdr() finishes an empty namespace without files", async () => {
  const dir = await Deno.makeTempDir();
  const cluster = new EmulatedCluster({ nodes: 1 });
  const xdr = XdrEmulation.attach(cluster);
  const clock = new ManualClock();
  const config = testConfig({ parallelWrite: 2 });
  const job = startBackupXdr(new DirectInfo(cluster), config, new DirectoryWriter(dir), { clock });
  await drive(clock, () => job.status !== "running");
  const stats = await job.wait();
  assert.equal(stats.recordsRead, 0);
  assert.equal(stats.filesWritten, 0);
  await xdr.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startBackupXdr() fails with XDR_START_TIMEOUT when nothing arrives, and removes the DC", async () => {
  const dir = await Deno.makeTempDir();
  const cluster = new EmulatedCluster({ nodes: 2 });
  seedXdrSource(cluster, 50, "x".repeat(50));
  const xdr = XdrEmulation.attach(cluster, { retryDelayMs: 5 });
  const clock = new ManualClock();
  // A misconfigured localAddress: the nodes dial 127.0.0.2, the receiver listens on 127.0.0.1.
  const config = testConfig({
    localAddress: "127.0.0.2",
    parallelWrite: 1,
    startTimeoutMs: 10_000,
  });
  const job = startBackupXdr(new DirectInfo(cluster), config, new DirectoryWriter(dir), { clock });
  await drive(clock, () => job.status !== "running", 1000);
  await assert.rejects(job.wait(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "XDR_START_TIMEOUT");
    assert.match(e.message, /no message from the cluster in 10000 ms/);
    return true;
  });
  for (const n of cluster.nodes) {
    assert.deepEqual(xdr.dcs(n.name), []);
    assert.ok(!xdr.mrtWritesDisabled(n.name, "test"));
  }
  await xdr.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startBackupXdr() can be cancelled and removes the DC", async () => {
  const dir = await Deno.makeTempDir();
  const cluster = new EmulatedCluster({ nodes: 1 });
  seedXdrSource(cluster, 20, "x".repeat(50));
  const xdr = XdrEmulation.attach(cluster);
  const clock = new ManualClock();
  const config = testConfig({ parallelWrite: 1 });
  const client = new DirectInfo(cluster);
  // The rewind never ends: the run would go on until cancelled.
  client.overrides.set("get-stats", "lag=0;recoveries=0;recoveries_pending=7");
  const job = startBackupXdr(client, config, new DirectoryWriter(dir), { clock });
  await clock.advance(5000);
  await new Promise((r) => setTimeout(r, 20));
  await job.cancel();
  assert.equal(job.status, "cancelled");
  assert.deepEqual(xdr.dcs(cluster.nodes[0].name), []);
  await xdr.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startBackupXdr() fails with XDR_LISTEN on a taken port before touching the cluster", async () => {
  const dir = await Deno.makeTempDir();
  const cluster = new EmulatedCluster({ nodes: 1 });
  const xdr = XdrEmulation.attach(cluster);
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = new DirectInfo(cluster);
  const config = testConfig({ localPort: (taken.addr as Deno.NetAddr).port, parallelWrite: 1 });
  const job = startBackupXdr(client, config, new DirectoryWriter(dir));
  await assert.rejects(job.wait(), (e: unknown) => (e as AerobakError).code === "XDR_LISTEN");
  assert.equal(client.sent.length, 0);
  taken.close();
  await xdr.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startBackupXdr() fails when a file cannot be written, and removes the DC", async () => {
  const cluster = new EmulatedCluster({ nodes: 2 });
  seedXdrSource(cluster, 3000, "x".repeat(200));
  const xdr = XdrEmulation.attach(cluster, { window: 64 });
  // Every file takes its header and first block, then the disk is full.
  const storage: StorageWriter = {
    kind: "directory",
    describe: (name) => `/full/${name}`,
    open: () => {
      let blocks = 0;
      return Promise.resolve(
        new WritableStream<Uint8Array>({
          write: () => {
            if (++blocks > 1) throw new Error("No space left on device");
          },
        }),
      );
    },
  };
  const clock = new ManualClock();
  const config = testConfig({ parallelWrite: 1 });
  const job = startBackupXdr(new DirectInfo(cluster), config, storage, { clock });
  await drive(clock, () => job.status !== "running");
  await assert.rejects(job.wait(), (e: unknown) => {
    assert.ok(e instanceof AerobakError, String(e));
    assert.equal(e.code, "STORAGE_WRITE");
    assert.match(e.message, /0_test_1\.asbx: No space left on device/);
    return true;
  });
  for (const n of cluster.nodes) {
    assert.deepEqual(xdr.dcs(n.name), []);
    assert.ok(!xdr.mrtWritesDisabled(n.name, "test"));
  }
  await xdr.close();
});
