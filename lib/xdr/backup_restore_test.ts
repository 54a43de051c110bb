import { runTestBackupXdr } from "./_test_util.ts";
import assert from "node:assert/strict";
import { Cluster } from "../aerospike/cluster.ts";
import { keyFromJs } from "../aerospike/digest.ts";
import { startEmulator } from "../emulator/emulator.ts";
import { XdrEmulation } from "../emulator/xdr.ts";
import { DirectoryReader } from "../io/local_reader.ts";
import { resolveRestoreConfig } from "../restore/config.ts";
import { startAsbxRestore } from "./asbx_restore.ts";
import { stopXdrAll, unblockMrtAll } from "./commands.ts";

Deno.test("XDR backup over the wire: Cluster → emulator XDR → ASBX files → restore", async () => {
  const dir = await Deno.makeTempDir();
  await using source = await startEmulator({ nodes: 3 });
  for (let i = 0; i < 300; i++) {
    source.put({ namespace: "test", set: "s", key: i, bins: { i, s: `v${i}` } });
  }
  XdrEmulation.attach(source.cluster, { window: 32 });
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  const stats = await runTestBackupXdr(cluster, dir, {
    namespace: "test",
    dc: "aerobak",
    parallelWrite: 2,
  });
  assert.equal(stats.recordsRead, 300);
  assert.equal(stats.estimatedRecords, 300);
  // Nothing left behind on the source.
  const dcs = await cluster.infoAll(["get-config:context=xdr"]);
  for (const answers of dcs.values()) {
    assert.equal(answers.get("get-config:context=xdr"), "dcs=;src-id=0;trace-sample=0");
  }
  assert.equal((await stopXdrAll(cluster, "aerobak")).size, 3, "no node still has the DC");
  assert.equal((await unblockMrtAll(cluster, "test")).size, 0);

  await using target = await startEmulator({ nodes: 2 });
  await using targetCluster = await Cluster.connect({ hosts: target.seeds });
  const restored = await startAsbxRestore(
    targetCluster,
    resolveRestoreConfig({ encoderType: "ASBX", parallel: 2 }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  ).wait();
  assert.equal(restored.recordsInserted, 300);
  assert.deepEqual(
    target.dump("test").map((r) => [r.digest.join(","), r.bins.length]),
    source.dump("test").map((r) => [r.digest.join(","), r.bins.length]),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("XDR backup with ZSTD and AES-256 restores through the same chain", async () => {
  const dir = await Deno.makeTempDir();
  const keyFile = new URL("../aerospike/testdata/tls/server.key", import.meta.url).pathname;
  const compression = { mode: "ZSTD" as const, level: 3 };
  const encryption = { mode: "AES256" as const, keyFile };
  await using source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < 120; i++) {
    source.put({ namespace: "test", set: "z", key: `k${i}`, bins: { i, s: "y".repeat(i) } });
  }
  XdrEmulation.attach(source.cluster);
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  const stats = await runTestBackupXdr(cluster, dir, {
    namespace: "test",
    dc: "enc",
    parallelWrite: 1,
    compression,
    encryption,
  });
  assert.equal(stats.recordsRead, 120);
  // Stored bytes are neither a plain ASBX header nor readable without the key.
  for await (const e of Deno.readDir(dir)) {
    const head = (await Deno.readFile(`${dir}/${e.name}`)).subarray(0, 16);
    assert.notEqual(head[0], 1);
  }
  const plain = startAsbxRestore(
    null,
    resolveRestoreConfig({ encoderType: "ASBX", validateOnly: true }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  );
  await assert.rejects(plain.wait());

  await using target = await startEmulator({ nodes: 1 });
  await using targetCluster = await Cluster.connect({ hosts: target.seeds });
  const restored = await startAsbxRestore(
    targetCluster,
    resolveRestoreConfig({ encoderType: "ASBX", compression, encryption }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  ).wait();
  assert.equal(restored.recordsInserted, 120);
  assert.equal(target.count("test", "z"), 120);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("XDR backup while a writer puts, updates and deletes restores the source's final state", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using source = await startEmulator({ nodes: 3 });
    for (let i = 0; i < 300; i++) {
      source.put({ namespace: "test", set: "w", key: i, bins: { i, v: `first ${i}` } });
    }
    XdrEmulation.attach(source.cluster, { window: 32 });
    await using cluster = await Cluster.connect({ hosts: source.seeds });
    // The writer runs while the rewind ships (new records, updates of old ones, deletes),
    // then stops; the backup then catches up (lag 0) and must hold the final state.
    let step = 0;
    await runTestBackupXdr(
      cluster,
      dir,
      { namespace: "test", dc: "busy", parallelWrite: 3 },
      async (round, job) => {
        // 20 changes in each of the first 3 rounds, checked to happen while the job runs.
        for (let k = 0; k < 20 && round < 3; k++, step++) {
          assert.equal(job.status, "running");
          const n = 300 + step;
          source.put({ namespace: "test", set: "w", key: n, bins: { i: n, v: `new ${n}` } });
          // An update bumps the generation, as a server write does (seeding does not on its own).
          source.put({
            namespace: "test",
            set: "w",
            key: step,
            generation: 2,
            bins: { i: step, v: `updated` },
          });
          assert.equal(await cluster.delete("test", "w", keyFromJs(299 - step)), 0);
        }
      },
    );
    assert.equal(step, 60);

    await using target = await startEmulator({ nodes: 2 });
    await using targetCluster = await Cluster.connect({ hosts: target.seeds });
    await startAsbxRestore(
      targetCluster,
      resolveRestoreConfig({ encoderType: "ASBX", parallel: 3 }),
      new DirectoryReader(dir, { extension: ".asbx" }),
    ).wait();
    const state = (emu: typeof source) =>
      emu.dump("test").map((r) =>
        `${r.digest.join(",")} ${r.bins.map((b) => `${b.name}=${String(b.value)}`).join(" ")}`
      );
    assert.deepEqual(state(target), state(source));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
