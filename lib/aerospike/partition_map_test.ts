import assert from "node:assert/strict";
import { parseInfoResponse, parseReplicas } from "./info.ts";
import { PartitionMap } from "./partition_map.ts";
import { loadInfoCapture } from "./_captures.ts";

function replicasOf(answer: string) {
  return parseReplicas(parseInfoResponse(answer).get("replicas")!);
}

const cluster = loadInfoCapture("info-3-node-cluster.json");
const addresses = Object.keys(cluster);

Deno.test("PartitionMap.update() gives every partition one master and one replica on 3 nodes", () => {
  const map = new PartitionMap<string>();
  for (const a of addresses) map.update(a, replicasOf(cluster[a].replicas));
  assert.deepEqual(map.namespaces.sort(), ["bar", "test"]);
  assert.equal(map.replicaCount("test"), 2);
  let masters = 0;
  for (let p = 0; p < 4096; p++) {
    const m = map.get("test", p, 0);
    const r = map.get("test", p, 1);
    assert.ok(m !== null && r !== null, `partition ${p}`);
    assert.notEqual(m, r);
    masters++;
  }
  assert.equal(masters, 4096);
  const total = addresses.reduce((n, a) => n + map.masterPartitions("test", a).length, 0);
  assert.equal(total, 4096);
});

Deno.test("PartitionMap.removeNode() leaves the node's partitions without holder", () => {
  const map = new PartitionMap<string>();
  for (const a of addresses) map.update(a, replicasOf(cluster[a].replicas));
  const owned = map.masterPartitions("test", addresses[0]);
  assert.ok(owned.length > 1000);
  map.removeNode(addresses[0]);
  assert.equal(map.get("test", owned[0], 0), null);
  assert.deepEqual(map.masterPartitions("test", addresses[0]), []);
  assert.ok(map.masterPartitions("test", addresses[1]).length > 1000);
});

function bitmapOf(ids: number[]): Uint8Array {
  const b = new Uint8Array(512);
  for (const p of ids) b[p >> 3] |= 0x80 >> (p & 7);
  return b;
}

Deno.test("PartitionMap.update() moves partitions a node stops claiming", () => {
  const map = new PartitionMap<string>();
  map.update("A", new Map([["ns", { regime: 0, replicas: [bitmapOf([0, 1, 2])] }]]));
  map.update("B", new Map([["ns", { regime: 0, replicas: [bitmapOf([3])] }]]));
  assert.deepEqual(map.masterPartitions("ns", "A"), [0, 1, 2]);
  map.update("A", new Map([["ns", { regime: 0, replicas: [bitmapOf([0])] }]]));
  map.update("B", new Map([["ns", { regime: 0, replicas: [bitmapOf([1, 3])] }]]));
  assert.deepEqual(map.masterPartitions("ns", "A"), [0]);
  assert.deepEqual(map.masterPartitions("ns", "B"), [1, 3]);
  assert.equal(map.get("ns", 2), null);
  // A node that drops a namespace from its answer holds nothing there any more.
  map.update("B", new Map());
  assert.deepEqual(map.masterPartitions("ns", "B"), []);
});

Deno.test("PartitionMap.update() keeps the claim with the higher regime", () => {
  const map = new PartitionMap<string>();
  map.update("A", new Map([["sc", { regime: 5, replicas: [bitmapOf([7])] }]]));
  map.update("B", new Map([["sc", { regime: 4, replicas: [bitmapOf([7])] }]]));
  assert.equal(map.get("sc", 7), "A");
  map.update("B", new Map([["sc", { regime: 6, replicas: [bitmapOf([7])] }]]));
  assert.equal(map.get("sc", 7), "B");
});
