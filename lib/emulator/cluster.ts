/**
 * The state of one emulated cluster: its nodes, namespaces (records, partition layout,
 * configuration), cluster metadata, clock, users and faults. Nodes (`server_node.ts`)
 * answer requests from this state; the control handle (`emulator.ts`) changes it.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { PARTITION_COUNT } from "../aerospike/digest.ts";
import { citrusleafSeconds, type EmulatorClock, systemClock } from "./clock.ts";
import { ClusterMetadata } from "./cluster_metadata.ts";
import { Faults } from "./faults.ts";
import { computeLayout, type PartitionLayout, replicaIndexOf } from "./partition_layout.ts";
import { NamespaceStore } from "./record_store.ts";
import { ScanTasks } from "./scan_tasks.ts";

/** Configuration of one namespace. */
export interface NamespaceOptions {
  /** Namespace name (1..31 bytes). */
  name: string;
  /**
   * Replication factor; capped by the number of live nodes.
   *
   * @default {the cluster's}
   */
  replicationFactor?: number;
  /**
   * `default-ttl` in seconds, used for writes with TTL 0.
   *
   * @default {0} (never expire)
   */
  defaultTtl?: number;
  /**
   * `nsup-period` in seconds. With 0 (the server's default) and `allowTtlWithoutNsup`
   * false, writes that would give a record an expiry are refused with 22 FAIL_FORBIDDEN,
   * exactly as a real server refuses them.
   *
   * @default {0}
   */
  nsupPeriod?: number;
  /**
   * `allow-ttl-without-nsup`.
   *
   * @default {false}
   */
  allowTtlWithoutNsup?: boolean;
}

/** Resolved namespace configuration. */
export type NamespaceConfig = Readonly<Required<NamespaceOptions>>;

/** A namespace of the cluster. */
export interface NamespaceState {
  /** Configuration. */
  readonly config: NamespaceConfig;
  /** Records. */
  readonly store: NamespaceStore;
  /** Current owners of the partitions. */
  layout: PartitionLayout;
}

/** One node of the cluster. */
export interface NodeState {
  /** Position in the cluster's node list. */
  readonly index: number;
  /** Node name (`node` info answer), e.g. `BB901000000FC02`. */
  readonly name: string;
  /** Rack id, 0 when racks are not configured. */
  readonly rackId: number;
  /** Listening address. */
  host: string;
  /** Listening port (0 until bound). */
  port: number;
  /** Whether the node's process is up (listening and answering). */
  alive: boolean;
  /**
   * Whether the node is in the cluster: a node that died stays in until the heartbeat
   * timeout drops it; a restarted one joins a little after it starts.
   */
  member: boolean;
  /** Task ids of the node's running and recently finished scans. */
  scanTasks: ScanTasks;
  /** `partition-generation`: changes whenever this node's ownership changes. */
  partitionGeneration: number;
  /** `rebalance-generation`. */
  rebalanceGeneration: number;
  /** Client connections open now (`client_connections` in `statistics`). */
  clientConnections: number;
  /** Client connections accepted since the start (`client_connections_opened`). */
  clientConnectionsOpened: number;
}

/** Options of {@linkcode EmulatedCluster}. */
export interface ClusterOptions {
  /**
   * Number of nodes.
   *
   * @default {1}
   */
  nodes?: number;
  /**
   * Namespaces (names or full options).
   *
   * @default {["test", "bar"]}
   */
  namespaces?: readonly (string | NamespaceOptions)[];
  /**
   * Default replication factor.
   *
   * @default {2} (capped by the number of nodes)
   */
  replicationFactor?: number;
  /**
   * Rack id of each node (index = node). When given, the nodes answer `racks:` and
   * `rack-ids` as an Enterprise server; otherwise `ERROR:25:enterprise only` as CE does.
   * @default {none}
   */
  racks?: readonly number[];
  /**
   * Users and passwords; security is enabled when non-empty.
   *
   * @default {none}
   */
  users?: Readonly<Record<string, string>>;
  /**
   * Clock for void times, last-update times and expiry.
   *
   * @default {systemClock}
   */
  clock?: EmulatorClock;
  /**
   * `cluster-name`.
   *
   * @default {"aerobak-emulator"}
   */
  clusterName?: string;
  /**
   * Session TTL of login tokens, seconds.
   *
   * @default {86400}
   */
  sessionTtlSeconds?: number;
  /**
   * `batch-index-threads` (0 disables batch commands: answer 150).
   *
   * @default {4}
   */
  batchIndexThreads?: number;
  /**
   * How long a new secondary index takes to build (clock ms).
   *
   * @default {0}
   */
  sindexBuildMs?: number;
  /**
   * Heartbeat of the nodes (the server's `heartbeat.interval` in ms and `heartbeat.timeout`
   * in intervals): a node that dies (see `Emulator.killNode`) stays in the cluster, listed
   * by its peers and owning its partitions, for `intervalMs × timeout`; a restarted node
   * joins after one interval. The cluster then re-forms `clusterFormationMs` later.
   * The default is the 3-node cluster of the node-failure captures (150 ms × 10).
   *
   * @default {{ intervalMs: 150, timeout: 10 }}
   */
  heartbeat?: { intervalMs?: number; timeout?: number };
  /**
   * Time from the heartbeat noticing a departure or arrival to the new partition map, in
   * real ms. With the default heartbeat this puts the new map ~1.95 s after a kill, as
   * the captures show (writes held by the survivors were answered 1.94–2.0 s after it).
   *
   * @default {450}
   */
  clusterFormationMs?: number;
}

/** The whole emulated cluster state. */
export class EmulatedCluster {
  /** The nodes, alive or not. */
  readonly nodes: NodeState[] = [];
  /** Namespaces by name, in configuration order. */
  readonly namespaces: Map<string, NamespaceState> = new Map();
  /** Secondary indexes and UDF modules. */
  readonly metadata: ClusterMetadata = new ClusterMetadata();
  /** Injected faults. */
  readonly faults: Faults = new Faults();
  /** Time source. */
  readonly clock: EmulatorClock;
  /** `cluster-name`. */
  readonly clusterName: string;
  /** Users and passwords (security on when non-empty). */
  readonly users: ReadonlyMap<string, string>;
  /** Session TTL in seconds. */
  readonly sessionTtlSeconds: number;
  /** `batch-index-threads`. */
  readonly batchIndexThreads: number;
  /** Build time of new indexes. */
  readonly sindexBuildMs: number;
  /** Whether `racks:` answers as Enterprise. */
  readonly racksEnabled: boolean;
  /** Login sessions by token (hex). */
  readonly sessions: Map<string, { user: string; expiresMs: number }> = new Map();
  /** `peers-generation`. */
  peersGeneration = 0;
  /** `cluster_key` (12 hex digits), new on every membership change. */
  clusterKey: string = newClusterKey();
  /** `cluster_generation`. */
  clusterGeneration = 1;
  /** Clock time the cluster started. */
  readonly startMs: number;
  /**
   * What tests may watch or wait for instead of sleeping: `scan-started` (detail: `{ node,
   * scan }`, the node's name and the decoded request) for every scan request, and
   * `scan-abandoned` (detail: node name) when a node gives up on a scan whose client
   * stopped reading.
   */
  readonly events: EventTarget = new EventTarget();
  /** Real ms from a node's death to its removal from the cluster. */
  readonly departureMs: number;
  /** Real ms from a node's restart to its joining the cluster. */
  readonly joinMs: number;
  /** Membership changes on their way (departures and joins), by node index. */
  readonly #pending = new Map<number, ReturnType<typeof setTimeout>>();
  #viewWaiters: (() => void)[] = [];
  #settledWaiters: (() => void)[] = [];

  /**
   * Builds the cluster state (no sockets yet).
   *
   * @param opts Options.
   * @throws {RangeError} For a bad node count, replication factor or namespace name.
   */
  constructor(opts: ClusterOptions = {}) {
    const n = opts.nodes ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new RangeError(`Invalid node count ${n}: must be 1..64`);
    }
    if (opts.racks !== undefined && opts.racks.length !== n) {
      throw new RangeError(`Invalid racks: ${opts.racks.length} rack ids for ${n} nodes`);
    }
    this.clock = opts.clock ?? systemClock;
    this.startMs = this.clock.now();
    this.clusterName = opts.clusterName ?? "aerobak-emulator";
    this.users = new Map(Object.entries(opts.users ?? {}));
    this.sessionTtlSeconds = opts.sessionTtlSeconds ?? 86400;
    this.batchIndexThreads = opts.batchIndexThreads ?? 4;
    this.sindexBuildMs = opts.sindexBuildMs ?? 0;
    this.racksEnabled = opts.racks !== undefined;
    const beat = opts.heartbeat ?? {};
    const interval = beat.intervalMs ?? 150;
    const timeout = beat.timeout ?? 10;
    const formation = opts.clusterFormationMs ?? 450;
    for (
      const [what, v] of [["interval", interval], ["timeout", timeout], ["formation", formation]]
    ) {
      if (!(typeof v === "number" && v >= 0)) {
        throw new RangeError(`Invalid heartbeat ${what} ${v}: must be a number >= 0`);
      }
    }
    this.departureMs = interval * (timeout as number) + formation;
    this.joinMs = interval + formation;
    for (let i = 0; i < n; i++) {
      this.nodes.push({
        index: i,
        // Shaped like real node ids (capture: BB901000000FC02).
        name: `BB9${(i + 1).toString(16).toUpperCase().padStart(2, "0")}000000FC02`,
        rackId: opts.racks?.[i] ?? 0,
        host: "127.0.0.1",
        port: 0,
        alive: true,
        member: true,
        scanTasks: new ScanTasks(),
        partitionGeneration: 0,
        rebalanceGeneration: 1,
        clientConnections: 0,
        clientConnectionsOpened: 0,
      });
    }
    const rf = opts.replicationFactor ?? 2;
    if (!Number.isInteger(rf) || rf < 1) throw new RangeError(`Invalid replication factor ${rf}`);
    for (const entry of opts.namespaces ?? ["test", "bar"]) {
      const o: NamespaceOptions = typeof entry === "string" ? { name: entry } : entry;
      const len = new TextEncoder().encode(o.name).length;
      if (len < 1 || len > 31) {
        throw new RangeError(`Invalid namespace name "${o.name}": must be 1..31 bytes`);
      }
      if (this.namespaces.has(o.name)) {
        throw new RangeError(`Invalid namespaces: "${o.name}" is listed twice`);
      }
      const config: NamespaceConfig = Object.freeze({
        name: o.name,
        replicationFactor: o.replicationFactor ?? rf,
        defaultTtl: o.defaultTtl ?? 0,
        nsupPeriod: o.nsupPeriod ?? 0,
        allowTtlWithoutNsup: o.allowTtlWithoutNsup ?? false,
      });
      this.namespaces.set(o.name, {
        config,
        store: new NamespaceStore(o.name),
        layout: computeLayout(this.nodes, config.replicationFactor),
      });
    }
  }

  /**
   * Current time in Citrusleaf-epoch seconds.
   *
   * @returns Seconds.
   */
  nowSeconds(): number {
    return citrusleafSeconds(this.clock.now());
  }

  /** The nodes whose process is up. */
  get liveNodes(): NodeState[] {
    return this.nodes.filter((n) => n.alive);
  }

  /** The nodes in the cluster (a dead node until the heartbeat drops it). */
  get members(): NodeState[] {
    return this.nodes.filter((n) => n.member);
  }

  /**
   * The cluster as one node sees it: the members, or only itself while it has not joined.
   *
   * @param node The node.
   * @returns The nodes it lists.
   */
  viewOf(node: NodeState): NodeState[] {
    return node.member ? this.members : [node];
  }

  /**
   * Whether writes to a partition wait: one of its replicas is on a node that died and is
   * still in the cluster (the server waits for the replica write or the proxy until the
   * cluster re-forms), or the node asked has not joined the cluster yet.
   *
   * @param ns Namespace.
   * @param pid Partition id.
   * @param node The node asked.
   * @returns True while the write must wait for {@linkcode nextViewChange}.
   */
  holdsWrite(ns: NamespaceState, pid: number, node: NodeState): boolean {
    if (!node.member) return true;
    const rf = ns.layout.replicationFactor;
    for (let i = 0; i < rf; i++) {
      if (!this.nodes[ns.layout.owners[pid * rf + i]].alive) return true;
    }
    return false;
  }

  /**
   * Resolves at the next change of the cluster (a rebalance).
   *
   * @returns A promise.
   */
  nextViewChange(): Promise<void> {
    return new Promise((resolve) => this.#viewWaiters.push(resolve));
  }

  /**
   * Resolves once no departure or join is on its way.
   *
   * @returns A promise.
   */
  settled(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /**
   * Notes that a node's process died (its sockets are closed by the caller): it stays in
   * the cluster until the heartbeat timeout passes, then leaves and the cluster re-forms.
   *
   * @param node The node.
   */
  nodeDied(node: NodeState): void {
    node.alive = false;
    if (node.member) this.#schedule(node, this.departureMs, false);
    else this.#cancel(node);
  }

  /**
   * Notes that a node's process started again: it joins the cluster after one heartbeat
   * interval and the cluster formation time (at once back in when it never left).
   *
   * @param node The node.
   */
  nodeRestarted(node: NodeState): void {
    node.alive = true;
    this.#schedule(node, this.joinMs, true);
  }

  /**
   * Takes a node out of the cluster or puts it in, and re-forms the cluster now.
   *
   * @param node The node.
   * @param member Whether it is in the cluster.
   */
  setMember(node: NodeState, member: boolean): void {
    this.#cancel(node);
    node.member = member;
    this.rebalance();
  }

  /** Cancels pending membership changes and wakes every waiter (shutdown). */
  close(): void {
    for (const node of this.nodes) this.#cancel(node);
    this.#wakeViewWaiters();
  }

  #schedule(node: NodeState, ms: number, member: boolean): void {
    this.#cancel(node);
    const timer = setTimeout(() => {
      this.#pending.delete(node.index);
      node.member = member;
      this.rebalance();
      this.#wakeSettled();
    }, ms);
    this.#pending.set(node.index, timer);
  }

  #cancel(node: NodeState): void {
    const timer = this.#pending.get(node.index);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#pending.delete(node.index);
    this.#wakeSettled();
  }

  #wakeSettled(): void {
    if (this.#pending.size > 0) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const w of waiters) w();
  }

  #wakeViewWaiters(): void {
    const waiters = this.#viewWaiters;
    this.#viewWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Finds a node by name.
   *
   * @param name Node name.
   * @returns The node.
   * @throws {RangeError} When there is no such node.
   */
  node(name: string): NodeState {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new RangeError(`Unknown node "${name}"`);
    return n;
  }

  /**
   * Finds a namespace.
   *
   * @param name Namespace name.
   * @returns The namespace or `undefined`.
   */
  namespace(name: string): NamespaceState | undefined {
    return this.namespaces.get(name);
  }

  /**
   * Which replica of a partition a node holds.
   *
   * @param ns Namespace.
   * @param pid Partition id.
   * @param nodeIndex The node.
   * @returns 0 master, 1.. replica, -1 none.
   */
  replicaIndex(ns: NamespaceState, pid: number, nodeIndex: number): number {
    return replicaIndexOf(ns.layout, pid, nodeIndex);
  }

  /**
   * Recomputes partition ownership after a node left or joined the cluster: partitions
   * move, the generations of the nodes whose ownership changed step up, the peers
   * generation and cluster key change, and held writes go on. Records stay (as if
   * migrations finished at once).
   */
  rebalance(): void {
    const changed = new Set<number>();
    for (const ns of this.namespaces.values()) {
      const next = computeLayout(this.nodes, ns.config.replicationFactor);
      const old = ns.layout;
      for (let pid = 0; pid < PARTITION_COUNT; pid++) {
        const a = old.owners.subarray(
          pid * old.replicationFactor,
          (pid + 1) * old.replicationFactor,
        );
        const b = next.owners.subarray(
          pid * next.replicationFactor,
          (pid + 1) * next.replicationFactor,
        );
        if (a.length === b.length && a.every((v, i) => v === b[i])) continue;
        for (const v of a) changed.add(v);
        for (const v of b) changed.add(v);
      }
      ns.layout = next;
    }
    for (const i of changed) this.nodes[i].partitionGeneration++;
    for (const n of this.nodes) n.rebalanceGeneration++;
    this.peersGeneration++;
    this.clusterGeneration++;
    this.clusterKey = newClusterKey();
    this.#wakeViewWaiters();
  }
}

function newClusterKey(): string {
  return randomBytes(6).toString("hex").toUpperCase();
}
