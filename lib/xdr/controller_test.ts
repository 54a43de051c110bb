import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { EmulatedCluster } from "../emulator/cluster.ts";
import { XdrEmulation } from "../emulator/xdr.ts";
import { DirectInfo, seedXdrSource } from "./_test_util.ts";
import { ManualClock } from "../pipeline/clock.ts";
import { XdrController } from "./controller.ts";
import { XdrReceiver } from "./receiver.ts";

const SETTINGS = {
  dc: "bk",
  namespace: "test",
  rewind: "all",
  maxThroughput: 0,
  forward: false,
};

/** Advances the manual clock in steps, letting sockets run between steps, until done. */
async function drive(clock: ManualClock, done: () => boolean, stepMs = 1000): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) {
    await clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(done(), "run did not finish");
}

Deno.test("XdrController rewinds, blocks MRT after every node recovered, drains, cleans up", async () => {
  const cluster = new EmulatedCluster({ nodes: 3 });
  seedXdrSource(cluster, 2000);
  const xdr = XdrEmulation.attach(cluster, { window: 8 });
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0, queueSize: 4 });
  const client = new DirectInfo(cluster);
  const clock = new ManualClock();
  const ctl = new XdrController(client, {
    ...SETTINGS,
    hostPort: `127.0.0.1:${rx.port}`,
    clock,
  });
  let finished = false;
  const run = ctl.run().finally(() => finished = true);
  const digests = new Set<string>();
  const consume = (async () => {
    for await (const t of rx) {
      digests.add(t.digest.join(","));
    }
  })();
  await drive(clock, () => finished);
  await run;
  assert.equal(digests.size, 2000);
  // Creation order on each node, as wire-protocol.md §2.2 requires.
  for (const n of cluster.nodes) {
    const cmds = client.sent.filter((s) => s.node === n.name).map((s) => s.command);
    const i = (p: string) => cmds.findIndex((c) => c.includes(p));
    assert.ok(i("action=create") < i("connector=true"));
    assert.ok(i("connector=true") < i("node-address-port="));
    assert.ok(i("node-address-port=") < i("rewind=all"));
    assert.ok(i("rewind=all") < i("get-stats"));
    assert.ok(i("disable-mrt-writes=true") < i("disable-mrt-writes=false"));
    assert.ok(i("disable-mrt-writes=false") < i("action=delete"));
    assert.ok(!xdr.mrtWritesDisabled(n.name, "test"));
    assert.deepEqual(xdr.dcs(n.name), []);
  }
  // MRT writes were blocked only once no node had recoveries pending.
  const firstBlock = client.sent.findIndex((s) => s.command.endsWith("disable-mrt-writes=true"));
  assert.ok(firstBlock > 0);
  assert.equal(client.commands("set-config:context=namespace").length, 6);
  assert.ok(ctl.nodes.every((n) => n.phase === "done" && !n.mrtBlocked));
  assert.ok(ctl.allRecovered);
  await rx.close();
  await consume;
  await xdr.close();
});

Deno.test("XdrController removes the DC everywhere when a node refuses the create sequence", async () => {
  const cluster = new EmulatedCluster({ nodes: 2 });
  const xdr = XdrEmulation.attach(cluster);
  const client = new DirectInfo(cluster);
  client.overrides.set(
    "set-config:context=xdr;dc=bk;node-address-port",
    "ERROR::invalid node-address-port",
  );
  const ctl = new XdrController(client, {
    ...SETTINGS,
    hostPort: "127.0.0.1:1",
    clock: new ManualClock(),
  });
  await assert.rejects(ctl.run(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "XDR_COMMAND_FAILED");
    assert.match(e.message, /node-address-port/);
    assert.ok(e.node?.name);
    return true;
  });
  for (const n of cluster.nodes) assert.deepEqual(xdr.dcs(n.name), []);
  assert.equal(client.commands("set-config:context=xdr;dc=bk;action=delete").length, 2);
  await xdr.close();
});

Deno.test("XdrController stops on cancel, removes the DC and unblocks MRT writes", async () => {
  const cluster = new EmulatedCluster({ nodes: 2 });
  seedXdrSource(cluster, 100);
  const xdr = XdrEmulation.attach(cluster, { retryDelayMs: 5 });
  const client = new DirectInfo(cluster);
  const clock = new ManualClock();
  const abort = new AbortController();
  // Nothing listens on the target: the rewind cannot finish on the nodes that have records.
  const ctl = new XdrController(client, {
    ...SETTINGS,
    hostPort: "127.0.0.1:1",
    clock,
    signal: abort.signal,
  });
  const run = ctl.run();
  await clock.advance(5000);
  assert.ok(client.commands("get-stats").length >= 2);
  abort.abort(new AerobakError("CANCELLED", "stop"));
  await assert.rejects(run, (e: unknown) => (e as AerobakError).code === "CANCELLED");
  for (const n of cluster.nodes) {
    assert.deepEqual(xdr.dcs(n.name), []);
    assert.ok(!xdr.mrtWritesDisabled(n.name, "test"));
  }
  await xdr.close();
});

Deno.test("XdrController re-creates a DC that vanished and follows a node that joins", async () => {
  const cluster = new EmulatedCluster({ nodes: 2, replicationFactor: 1 });
  cluster.nodes[1].alive = false;
  cluster.rebalance();
  const xdr = XdrEmulation.attach(cluster);
  const client = new DirectInfo(cluster);
  const clock = new ManualClock();
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const ctl = new XdrController(client, { ...SETTINGS, hostPort: `127.0.0.1:${rx.port}`, clock });
  // Keep the lag above 0 so the run waits: an unacked change is pending on node 0.
  client.overrides.set("get-stats", "lag=5;recoveries=0;recoveries_pending=0");
  let finished = false;
  const run = ctl.run().finally(() => finished = true);
  await clock.advance(3000);
  const n0 = cluster.nodes[0].name;
  // The DC disappears from node 0 (a restart): the next poll says so, and it is re-created.
  client.overrides.clear();
  await handleXdrInfoDelete(client, n0);
  client.overrides.set("get-stats", "ERROR::DC not found");
  await clock.advance(1000);
  client.overrides.set("get-stats", "lag=5;recoveries=0;recoveries_pending=0");
  assert.deepEqual(xdr.dcs(n0), ["bk"]);
  // A node joins: it gets the DC too.
  cluster.nodes[1].alive = true;
  cluster.rebalance();
  await clock.advance(1000);
  assert.deepEqual(xdr.dcs(cluster.nodes[1].name), ["bk"]);
  client.overrides.clear();
  await drive(clock, () => finished);
  await run;
  assert.equal(ctl.nodes.length, 2);
  assert.ok(ctl.warnings.some((w) => w.code === "XDR_DC_NOT_FOUND"));
  for (const n of cluster.nodes) assert.deepEqual(xdr.dcs(n.name), []);
  await xdr.close();
});

async function handleXdrInfoDelete(client: DirectInfo, node: string): Promise<void> {
  const cmd = "set-config:context=xdr;dc=bk;action=delete";
  assert.equal((await client.info([cmd], { node })).get(cmd), "ok");
}
