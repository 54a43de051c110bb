/**
 * Which node holds each partition of each namespace, per replica index, built from the
 * nodes' `replicas` answers.
 *
 * Each node reports the partitions it holds as one bitmap per replica index (0 = master).
 * A claim replaces the current holder unless the current claim has a higher regime (strong
 * consistency); a node that stops claiming a partition is removed from it.
 *
 * @module
 */

import { PARTITION_COUNT } from "./digest.ts";
import { hasPartition, type ReplicaMap } from "./info.ts";

interface NamespaceMap<N> {
  /** replicas[i][p] = holder of replica i of partition p. */
  replicas: (N | null)[][];
  regimes: Uint32Array;
}

/**
 * The partition map of a cluster: for each namespace and replica index, the node holding
 * each partition.
 *
 * @typeParam N The node type.
 */
export class PartitionMap<N> {
  #namespaces = new Map<string, NamespaceMap<N>>();

  /** Namespaces known. */
  get namespaces(): string[] {
    return [...this.#namespaces.keys()];
  }

  /**
   * Applies one node's `replicas` answer.
   *
   * @param node The node that answered.
   * @param claims Its claims per namespace, as parsed by `parseReplicas`.
   */
  update(node: N, claims: ReadonlyMap<string, ReplicaMap>): void {
    for (const [name, claim] of claims) {
      let ns = this.#namespaces.get(name);
      if (ns === undefined) {
        ns = { replicas: [], regimes: new Uint32Array(PARTITION_COUNT) };
        this.#namespaces.set(name, ns);
      }
      while (ns.replicas.length < claim.replicas.length) {
        ns.replicas.push(new Array<N | null>(PARTITION_COUNT).fill(null));
      }
      for (let i = 0; i < ns.replicas.length; i++) {
        const holders = ns.replicas[i];
        const bitmap = claim.replicas[i];
        for (let p = 0; p < PARTITION_COUNT; p++) {
          if (bitmap !== undefined && bitmap.length * 8 > p && hasPartition(bitmap, p)) {
            if (claim.regime < ns.regimes[p]) continue;
            ns.regimes[p] = claim.regime;
            holders[p] = node;
          } else if (holders[p] === node) {
            holders[p] = null;
          }
        }
      }
    }
    // Namespaces the node no longer reports: it holds nothing there.
    for (const [name, ns] of this.#namespaces) {
      if (!claims.has(name)) this.#clear(ns, node);
    }
  }

  /**
   * Forgets every claim of a node (it left the cluster).
   *
   * @param node The node.
   */
  removeNode(node: N): void {
    for (const ns of this.#namespaces.values()) this.#clear(ns, node);
  }

  #clear(ns: NamespaceMap<N>, node: N): void {
    for (const holders of ns.replicas) {
      for (let p = 0; p < PARTITION_COUNT; p++) if (holders[p] === node) holders[p] = null;
    }
  }

  /**
   * The node holding replica `replica` of a partition.
   *
   * @param namespace Namespace.
   * @param partition Partition id.
   * @param replica Replica index, 0 = master. @default 0
   * @returns The node, or null when unknown.
   */
  get(namespace: string, partition: number, replica = 0): N | null {
    return this.#namespaces.get(namespace)?.replicas[replica]?.[partition] ?? null;
  }

  /**
   * Number of replica indexes known for a namespace.
   *
   * @param namespace Namespace.
   * @returns 0 when the namespace is unknown.
   */
  replicaCount(namespace: string): number {
    return this.#namespaces.get(namespace)?.replicas.length ?? 0;
  }

  /**
   * The partitions whose master is `node`.
   *
   * @param namespace Namespace.
   * @param node The node.
   * @returns Partition ids in ascending order.
   */
  masterPartitions(namespace: string, node: N): number[] {
    const holders = this.#namespaces.get(namespace)?.replicas[0];
    const out: number[] = [];
    if (holders === undefined) return out;
    for (let p = 0; p < PARTITION_COUNT; p++) if (holders[p] === node) out.push(p);
    return out;
  }
}
