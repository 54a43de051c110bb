import assert from "node:assert/strict";
import { Cluster } from "./aerospike/cluster.ts";
import { BackupClient } from "./client.ts";
import { startEmulator } from "./emulator/emulator.ts";
import { XdrEmulation } from "./emulator/xdr.ts";
import { DirectoryReader } from "./io/local_reader.ts";
import { DirectoryWriter } from "./io/local_writer.ts";
import { ManualClock } from "./pipeline/clock.ts";

Deno.test("BackupClient.backupXdr() and restore({encoderType: 'ASBX'}) round-trip a namespace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using source = await startEmulator({ nodes: 2 });
    for (let i = 0; i < 150; i++) {
      source.put({ namespace: "test", set: "x", key: i, bins: { i, s: `v${i}` } });
    }
    XdrEmulation.attach(source.cluster);
    await using cluster = await Cluster.connect({ hosts: source.seeds });
    const clock = new ManualClock();
    const job = new BackupClient(cluster).backupXdr(
      { namespace: "test", dc: "client", localPort: 0, listenAddress: "127.0.0.1" },
      new DirectoryWriter(dir),
      { clock },
    );
    for (let i = 0; i < 4000 && job.status === "running"; i++) {
      await clock.advance(500);
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal((await job.wait()).recordsRead, 150);

    await using target = await startEmulator({ nodes: 1 });
    await using targetCluster = await Cluster.connect({ hosts: target.seeds });
    const restored = await new BackupClient(targetCluster).restore(
      { encoderType: "ASBX" },
      new DirectoryReader(dir, { extension: ".asbx" }),
    ).wait();
    assert.equal(restored.recordsInserted, 150);
    assert.deepEqual(
      target.dump("test").map((r) => r.digest.join(",")),
      source.dump("test").map((r) => r.digest.join(",")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
