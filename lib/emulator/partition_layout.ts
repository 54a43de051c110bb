/**
 * Which node holds which partition, as a real cluster decides it.
 *
 * Each partition gets a succession list: the cluster's nodes ordered by a hash of (node name,
 * partition id), as Aerospike orders them, so ownership spreads evenly and moves as little
 * as possible when a node leaves or joins. The first `replicationFactor` nodes of the list
 * hold the partition: index 0 is the master, 1 the first replica (prole), and so on. With
 * racks configured, replicas prefer nodes on racks that do not hold the partition yet
 * (rack awareness).
 *
 * @module
 */

import { PARTITION_COUNT } from "../aerospike/digest.ts";

/** What the layout needs to know about a node. */
export interface LayoutNode {
  /** Node name (`node` info answer). */
  name: string;
  /** Rack id (0 = none). */
  rackId: number;
  /** Whether the node is in the cluster (a dead node stays in until the heartbeat drops it). */
  member: boolean;
}

/** The owners of every partition of one namespace. */
export interface PartitionLayout {
  /** Effective replication factor (never above the number of nodes in the cluster). */
  readonly replicationFactor: number;
  /** `owners[pid * replicationFactor + i]` = index of replica `i`'s node (0 = master). */
  readonly owners: Int32Array;
}

/**
 * Computes the owners of every partition.
 *
 * @param nodes All nodes of the cluster (those not in the cluster are skipped).
 * @param replicationFactor Configured replication factor (1 or more).
 * @returns The layout; with no node in the cluster, replication factor 0 and no owners.
 */
export function computeLayout(
  nodes: readonly LayoutNode[],
  replicationFactor: number,
): PartitionLayout {
  const members: number[] = [];
  for (let i = 0; i < nodes.length; i++) if (nodes[i].member) members.push(i);
  const rf = Math.min(replicationFactor, members.length);
  const owners = new Int32Array(PARTITION_COUNT * rf);
  const seeds = members.map((i) => fnv1a(nodes[i].name));
  const order = members.slice();
  const keys = new Float64Array(nodes.length);
  for (let pid = 0; pid < PARTITION_COUNT; pid++) {
    for (let k = 0; k < members.length; k++) keys[members[k]] = mix(seeds[k], pid);
    order.sort((a, b) => keys[a] - keys[b] || a - b);
    pickOwners(nodes, order, rf, owners, pid * rf);
  }
  return { replicationFactor: rf, owners };
}

/**
 * Builds the replica bitmap of one node: bit `p` (MSB first) set when the node holds
 * replica `index` of partition `p`.
 *
 * @param layout The layout.
 * @param nodeIndex The node.
 * @param index Replica index (0 = master).
 * @returns 512 bytes.
 */
export function replicaBitmap(
  layout: PartitionLayout,
  nodeIndex: number,
  index: number,
): Uint8Array {
  const bits = new Uint8Array(PARTITION_COUNT / 8);
  const rf = layout.replicationFactor;
  if (index >= rf) return bits;
  for (let pid = 0; pid < PARTITION_COUNT; pid++) {
    if (layout.owners[pid * rf + index] === nodeIndex) bits[pid >> 3] |= 0x80 >> (pid & 7);
  }
  return bits;
}

/**
 * Finds the replica index a node holds for a partition.
 *
 * @param layout The layout.
 * @param pid Partition id.
 * @param nodeIndex The node.
 * @returns 0 for master, 1.. for replicas, -1 when the node does not hold the partition.
 */
export function replicaIndexOf(layout: PartitionLayout, pid: number, nodeIndex: number): number {
  const rf = layout.replicationFactor;
  for (let i = 0; i < rf; i++) if (layout.owners[pid * rf + i] === nodeIndex) return i;
  return -1;
}

function pickOwners(
  nodes: readonly LayoutNode[],
  order: number[],
  rf: number,
  out: Int32Array,
  at: number,
): void {
  if (rf === 0) return;
  out[at] = order[0];
  const used = new Set<number>([order[0]]);
  const racks = new Set<number>([nodes[order[0]].rackId]);
  for (let i = 1; i < rf; i++) {
    // Rack awareness: first choice is the next node in succession on an unused rack.
    let pick = order.find((n) => !used.has(n) && !racks.has(nodes[n].rackId));
    if (pick === undefined) pick = order.find((n) => !used.has(n))!;
    out[at + i] = pick;
    used.add(pick);
    racks.add(nodes[pick].rackId);
  }
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(seed: number, pid: number): number {
  // A 32-bit avalanche of (seed, pid) so the order differs per partition.
  let h = (seed ^ Math.imul(pid + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
