import assert from "node:assert/strict";
import { loadTimedCapture } from "../aerospike/_captures.ts";
import { Info3 } from "../aerospike/message.ts";
import { decodeScanRequest, encodeScanRequest } from "../aerospike/requests.ts";
import { type Emulator, startEmulator } from "./emulator.ts";
import { RawClient, type ReplyMessage } from "./_test_client.ts";

const ALL = Array.from({ length: 4096 }, (_, i) => i);
let taskIds = 1000n;

async function connect(emu: Emulator, node: number): Promise<RawClient> {
  const n = emu.cluster.nodes[node];
  return await RawClient.connect(`${n.host}:${n.port}`);
}

/** Partitions (any replica, any namespace) a `replicas` answer claims. */
function ownedPartitions(answer: string): number {
  let n = 0;
  for (const ns of answer.split(";")) {
    for (const map of ns.split(",").slice(2)) {
      for (const byte of Uint8Array.from(atob(map), (c) => c.charCodeAt(0))) {
        for (let b = byte; b !== 0; b &= b - 1) n++;
      }
    }
  }
  return n;
}

function peerNames(answer: string): string[] {
  return [...answer.matchAll(/\[([0-9A-F]+),,/g)].map((m) => m[1]);
}

Deno.test("killNode() ends the node's sockets and refuses new ones; peers list it until the heartbeat drops it", async () => {
  await using emu = await startEmulator({
    nodes: 3,
    heartbeat: { intervalMs: 20, timeout: 5 },
    clusterFormationMs: 50,
  });
  const [n0, n1] = emu.nodeNames;
  const survivor = await connect(emu, 0);
  const victim = await connect(emu, 1);
  const victimAddress = `${emu.cluster.nodes[1].host}:${emu.cluster.nodes[1].port}`;
  try {
    const before = await survivor.info(
      "peers-clear-std",
      "peers-generation",
      "partition-generation",
      "replicas",
    );
    assert.deepEqual(peerNames(before.get("peers-clear-std")!).sort(), emu.nodeNames.slice(1));
    await emu.killNode(1);
    // The dead node's socket ends; a new connection is refused.
    await assert.rejects(() => victim.info("node"), (e: Error & { code?: string }) => {
      return e.code === "CONNECTION_CLOSED" || e.code === "NETWORK_ERROR";
    });
    await assert.rejects(() => RawClient.connect(victimAddress));
    // Until the heartbeat timeout the survivors still list it and keep their map.
    const during = await survivor.info(
      "peers-clear-std",
      "peers-generation",
      "partition-generation",
      "replicas",
    );
    assert.deepEqual(during, before);
    await emu.settled();
    const after = await survivor.info(
      "peers-clear-std",
      "peers-generation",
      "partition-generation",
      "replicas",
    );
    assert.deepEqual(peerNames(after.get("peers-clear-std")!), [emu.nodeNames[2]]);
    assert.notEqual(after.get("peers-generation"), before.get("peers-generation"));
    assert.notEqual(after.get("partition-generation"), before.get("partition-generation"));
    assert.notEqual(after.get("replicas"), before.get("replicas"));
    assert.ok(!peerNames(after.get("peers-clear-std")!).includes(n1));
    assert.equal(emu.hosts.length, 2);
    assert.ok(emu.hosts.every((h) => h.name !== n1) && emu.hosts[0].name === n0);
  } finally {
    survivor.close();
    victim.close();
  }
});

Deno.test("a restarted node answers at once but owns nothing until it joins the cluster", async () => {
  await using emu = await startEmulator({
    nodes: 3,
    heartbeat: { intervalMs: 20, timeout: 5 },
    clusterFormationMs: 50,
  });
  const survivor = await connect(emu, 0);
  try {
    const before = await survivor.info("replicas", "peers-generation");
    await emu.killNode(2);
    await emu.settled();
    emu.restartNode(2);
    const back = await connect(emu, 2);
    try {
      const alone = await back.info("node", "peers-clear-std", "replicas");
      assert.equal(alone.get("node"), emu.nodeNames[2]);
      assert.deepEqual(peerNames(alone.get("peers-clear-std")!), []);
      assert.equal(ownedPartitions(alone.get("replicas")!), 0);
      await emu.settled();
      const joined = await back.info("peers-clear-std");
      assert.deepEqual(peerNames(joined.get("peers-clear-std")!).sort(), emu.nodeNames.slice(0, 2));
    } finally {
      back.close();
    }
    const after = await survivor.info("replicas", "peers-generation");
    assert.equal(after.get("replicas"), before.get("replicas"), "partitions move back");
    assert.notEqual(after.get("peers-generation"), before.get("peers-generation"));
  } finally {
    survivor.close();
  }
});

Deno.test("survivors hold the writes the C asrestore sent them after the kill until the cluster re-forms (capture replay)", async () => {
  // The capture's cluster: 3 nodes, RF 2, heartbeat 150 ms x 10 (the emulator's default).
  const capture = loadTimedCapture("c-asrestore-nodekill.excerpt.jsonl");
  const kill = capture.find((e) => e.event?.includes("SIGKILLed"))!.t;
  const requests = capture.filter((e) => e.dir === "c2s" && e.type === 3 && e.bytes && e.t > kill);
  assert.ok(requests.length >= 8);
  // In the capture every one of them was answered only ~2 s after the kill, all codes 0.
  const answers = capture.filter((e) => e.dir === "s2c" && e.type === 3 && e.t > kill);
  const firstAnswer = Math.min(...answers.map((a) => a.t));
  assert.ok(firstAnswer - kill > 1.9 && firstAnswer - kill < 2.1);

  await using emu = await startEmulator({ nodes: 3, replicationFactor: 2 });
  const byNode: Record<string, number> = { "127.0.0.1:4000": 0, "127.0.0.1:4020": 2 };
  const clients = await Promise.all(requests.map((r) => connect(emu, byNode[r.node!])));
  try {
    const killedAt = performance.now();
    await emu.killNode(1);
    let reformedAt = 0;
    const reformed = emu.settled().then(() => reformedAt = performance.now());
    const replies = await Promise.all(requests.map(async (r, i) => {
      await clients[i].send(r.bytes!);
      const msgs = await clients[i].messages();
      return { at: performance.now(), msgs };
    }));
    await reformed;
    for (const { at, msgs } of replies) {
      assert.ok(at >= reformedAt, "no answer before the cluster re-formed");
      assert.equal(msgs.at(-1)!.header.info3 & Info3.LAST, Info3.LAST);
      assert.ok(msgs.slice(0, -1).every((m: ReplyMessage) => m.header.resultCode === 0));
    }
    const held = (reformedAt - killedAt) / 1000;
    assert.ok(held > 1.9, `held ${held} s, the capture ~2 s`);
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("a held write whose deadline passes first is answered with 9 TIMEOUT", async () => {
  await using emu = await startEmulator({ nodes: 3, heartbeat: { intervalMs: 1000, timeout: 10 } });
  const capture = loadTimedCapture("c-asrestore-nodekill.excerpt.jsonl");
  const kill = capture.find((e) => e.event?.includes("SIGKILLed"))!.t;
  const request = capture.find((e) => e.dir === "c2s" && e.type === 3 && e.bytes && e.t > kill)!;
  const bytes = request.bytes!.slice();
  new DataView(bytes.buffer).setUint32(8 + 14, 100); // transaction_ttl: 100 ms
  const c = await connect(emu, 0);
  try {
    await emu.killNode(1);
    await c.send(bytes);
    const msgs = await c.messages();
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].header.resultCode, 9);
  } finally {
    c.close();
  }
});

Deno.test("a survivor serves the dead master's partitions from its replicas meanwhile", async () => {
  await using emu = await startEmulator({ nodes: 3, heartbeat: { intervalMs: 1000, timeout: 10 } });
  for (let i = 0; i < 3000; i++) emu.put({ namespace: "test", key: i, bins: { i } });
  await emu.killNode(1);
  let served = 0;
  for (const node of [0, 2]) {
    const c = await connect(emu, node);
    try {
      await c.send(encodeScanRequest({ namespace: "test", taskId: ++taskIds, partitions: ALL }));
      const msgs = await c.messages();
      served += msgs.filter((m) => m.record).length;
    } finally {
      c.close();
    }
  }
  // With RF 2 the two survivors hold every partition between them (each twice at most).
  assert.ok(served >= 3000, `served ${served}`);
});

Deno.test("a node gives up on a scan whose client reads nothing for the scan's socket timeout", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  const blob = new Uint8Array(2000).fill(1);
  for (let i = 0; i < 12_000; i++) emu.put({ namespace: "test", key: i, bins: { b: blob } });
  const abandoned = new Promise((resolve) =>
    emu.cluster.events.addEventListener("scan-abandoned", resolve, { once: true })
  );
  const c = await connect(emu, 0);
  try {
    await c.send(
      encodeScanRequest({
        namespace: "test",
        taskId: ++taskIds,
        partitions: ALL,
        socketTimeoutMs: 200,
      }),
    );
    await abandoned;
    // What the kernel already held still arrives, then the connection ends without LAST.
    await assert.rejects(() => c.messages(), (e: Error & { code?: string }) => {
      return e.code === "CONNECTION_CLOSED" || e.code === "NETWORK_ERROR";
    });
  } finally {
    c.close();
  }
});

Deno.test("a retry that re-sends a finished scan's task id is refused as the captured server refused ours", async () => {
  // aerobak-asbackup-nodekill.jsonl: our old retry re-sent task 3966c92adb333bc0 to A1 and
  // got a bare result 4 (no LAST bit). Replay that request twice on one node.
  const capture = loadTimedCapture("aerobak-asbackup-nodekill.excerpt.jsonl");
  const scans = capture.filter((e) =>
    e.dir === "c2s" && e.type === 3 && e.node === "127.0.0.1:4000" && e.bytes
  );
  const refusedAnswer = capture.find((e) =>
    e.dir === "s2c" && e.node === "127.0.0.1:4000" && e.summary?.resultCodes?.["4"] === 1
  );
  assert.ok(refusedAnswer, "the capture holds the refusal");
  const taskOf = (b: Uint8Array) => decodeScanRequest(b.subarray(8)).scan.taskId;
  const retry = scans.at(-1)!;
  const first = scans.find((s) => taskOf(s.bytes!) === taskOf(retry.bytes!));
  assert.ok(first && first !== retry, "the retry re-sent the first round's task id");
  await using emu = await startEmulator({ nodes: 1 });
  for (const [i, request] of [first!, retry].entries()) {
    const c = await connect(emu, 0);
    try {
      await c.send(request.bytes!);
      const msgs = await c.messages(i === 1 ? false : true);
      if (i === 0) assert.equal(msgs.at(-1)!.header.info3 & Info3.LAST, Info3.LAST);
      else {
        assert.equal(msgs.length, 1);
        assert.equal(msgs[0].header.resultCode, 4);
        assert.equal(msgs[0].header.info3 & Info3.LAST, 0);
      }
    } finally {
      c.close();
    }
  }
});
