/**
 * Node and rack backups: the master partitions of chosen nodes, shared out among the
 * parallel readers (backup-go §3.4).
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { parseRacks } from "../aerospike/info.ts";
import { AerobakError } from "../errors.ts";
import { infoCommand, type InfoCommandOptions } from "./_info.ts";

/**
 * Finds the nodes a `nodeList` names: each entry is a node name, or an address matched
 * against the node's `service-clear-std` / `service-tls-std` answer or its connect address.
 *
 * @param cluster The cluster.
 * @param entries The `nodeList` entries.
 * @param options Info options.
 * @returns Node names, in entry order.
 * @throws {AerobakError} `NODE_NOT_FOUND` naming the entry no node matches.
 */
export async function nodesFromList(
  cluster: Cluster,
  entries: readonly string[],
  options: InfoCommandOptions,
): Promise<string[]> {
  const known: { name: string; keys: Set<string> }[] = [];
  for (const node of cluster.nodes) {
    const keys = new Set<string>([node.name, node.address]);
    for (const cmd of ["service-clear-std", "service-tls-std"]) {
      try {
        const v = await infoCommand(cluster, cmd, { ...options, node: node.name });
        if (v === "") continue;
        keys.add(v);
        for (const a of v.split(",")) keys.add(a);
      } catch {
        // TLS service is not configured on every server; the other answers still match.
      }
    }
    known.push({ name: node.name, keys });
  }
  return entries.map((entry) => {
    const hit = known.find((k) => k.keys.has(entry));
    if (!hit) {
      throw new AerobakError(
        "NODE_NOT_FOUND",
        `Cannot back up node "${entry}": no cluster node has that name or address`,
      );
    }
    return hit.name;
  });
}

/**
 * Finds the nodes of the given racks for a namespace (`racks:` info).
 *
 * @param cluster The cluster.
 * @param namespace The namespace.
 * @param racks Rack ids.
 * @param options Info options.
 * @returns Node names, without duplicates.
 * @throws {AerobakError} `RACK_NOT_FOUND` naming a rack the namespace does not have.
 */
export async function nodesFromRacks(
  cluster: Cluster,
  namespace: string,
  racks: readonly number[],
  options: InfoCommandOptions,
): Promise<string[]> {
  const all = parseRacks(await infoCommand(cluster, "racks:", options)).get(namespace);
  const out: string[] = [];
  for (const rack of racks) {
    const nodes = all?.get(rack);
    if (!nodes || nodes.length === 0) {
      throw new AerobakError(
        "RACK_NOT_FOUND",
        `Cannot back up rack ${rack}: namespace ${namespace} has no such rack`,
      );
    }
    for (const n of nodes) if (!out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * The master partitions of the nodes, split evenly into `n` id lists.
 *
 * @param cluster The cluster.
 * @param namespace The namespace.
 * @param nodes Node names.
 * @param n Number of readers.
 * @returns Up to `n` non-empty id lists.
 * @throws {AerobakError} `NODE_NO_PARTITIONS` when the nodes master no partition.
 */
export function masterPartitionLists(
  cluster: Cluster,
  namespace: string,
  nodes: readonly string[],
  n: number,
): number[][] {
  const ids: number[] = [];
  for (const node of nodes) ids.push(...cluster.masterPartitions(namespace, node));
  if (ids.length === 0) {
    throw new AerobakError(
      "NODE_NO_PARTITIONS",
      `Cannot back up nodes ${nodes.join(",")}: they master no partition of ${namespace}`,
    );
  }
  const lists: number[][] = [];
  const k = Math.min(n, ids.length);
  for (let j = 0; j < k; j++) {
    lists.push(ids.slice(Math.floor((j * ids.length) / k), Math.floor(((j + 1) * ids.length) / k)));
  }
  return lists;
}
