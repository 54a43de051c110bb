/**
 * Starts an in-memory Aerospike-compatible cluster and controls it: seed records, dump a
 * namespace, move the clock, stop and restart nodes, inject faults.
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import {
  packArrayHeader,
  packBlob,
  packBool,
  packExt,
  packFloat,
  packInt,
  packMapHeader,
  packNil,
  packString,
} from "../aerospike/msgpack.ts";
import { boolBin, floatBin, intBin, listBin, mapBin, stringBin } from "../aerospike/particle.ts";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import type { AerospikeRecord, Bin } from "../aerospike/record.ts";
import { citrusleafSeconds, ManualClock } from "./clock.ts";
import { type ClusterOptions, EmulatedCluster, type NodeState } from "./cluster.ts";
import type { SIndexDefinition, UdfModule } from "./cluster_metadata.ts";
import type { Faults } from "./faults.ts";
import { PARTITION_COUNT } from "../aerospike/digest.ts";
import {
  type ChangeListener,
  compareDigests,
  isExpired,
  type StoredRecord,
} from "./record_store.ts";
import { ServerNode } from "./server_node.ts";
import { XdrEmulation } from "./xdr.ts";

/** Options of {@linkcode startEmulator}. */
export interface EmulatorOptions extends ClusterOptions {
  /**
   * Port of the first node; node `i` listens on `port + i`. 0 picks a free port for each
   * node.
   *
   * @default {0}
   */
  port?: number;
  /**
   * Address to listen on.
   *
   * @default {"127.0.0.1"}
   */
  host?: string;
}

/** A value inside a seeded list or map. */
export type SeedElement =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | SeedElement[]
  | { [key: string]: SeedElement };

/**
 * A bin value for {@linkcode SeedRecord}: JS values (arrays become lists, plain objects
 * key-ordered maps, as the official Node client writes them), or a {@linkcode Bin} for
 * exact types.
 */
export type SeedValue = SeedElement | Bin;

/** A record given as JS values. */
export interface SeedRecord {
  /**
   * Namespace.
   *
   * @default {the first configured namespace}
   */
  namespace?: string;
  /**
   * Set.
   *
   * @default {""}
   */
  set?: string;
  /** User key (integral numbers and bigints are integer keys). */
  key: number | bigint | string | Uint8Array;
  /**
   * Bins by name. Integral numbers become integers (pass `floatBin(name, 1)` for a float
   * 1.0), strings UTF-8 strings, bytes blobs; `null` bins are left out; a {@linkcode Bin}
   * is stored as is (lists and maps as raw msgpack).
   */
  bins: Record<string, SeedValue>;
  /**
   * TTL in seconds from now; 0 or -1 = never expires.
   *
   * @default {0}
   */
  ttl?: number;
  /**
   * Generation.
   *
   * @default {1}
   */
  generation?: number;
  /**
   * Last-update time, ms since the Unix epoch.
   *
   * @default {the emulator clock's now}
   */
  lastUpdateMs?: number;
  /**
   * Store the user key with the record.
   *
   * @default {true}
   */
  sendKey?: boolean;
}

/** Options of {@linkcode Emulator.put} for {@linkcode AerospikeRecord} input. */
export interface PutOptions {
  /**
   * Last-update time, ms since the Unix epoch.
   *
   * @default {the emulator clock's now}
   */
  lastUpdateMs?: number;
}

/** Address of one node. */
export interface NodeAddress {
  /** Node name. */
  name: string;
  /** Host. */
  host: string;
  /** Port. */
  port: number;
}

function isBin(v: unknown): v is Bin {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) && "type" in v &&
    "value" in v;
}

function seedBin(name: string, v: SeedValue): Bin | undefined {
  if (v === null) return undefined;
  if (isBin(v)) return { ...v, name } as Bin;
  if (typeof v === "bigint") return intBin(name, v);
  if (typeof v === "number") return Number.isInteger(v) ? intBin(name, v) : floatBin(name, v);
  if (typeof v === "boolean") return boolBin(name, v);
  if (typeof v === "string") return stringBin(name, v);
  if (v instanceof Uint8Array) return { name, type: 4, value: v };
  const w = new ByteWriter(256);
  packElement(w, v);
  const bytes = w.subarray().slice();
  return Array.isArray(v) ? listBin(name, bytes) : mapBin(name, bytes);
}

function packElement(w: ByteWriter, v: SeedElement): void {
  if (v === null) packNil(w);
  else if (typeof v === "boolean") packBool(w, v);
  else if (typeof v === "bigint") packInt(w, v);
  else if (typeof v === "number") Number.isInteger(v) ? packInt(w, v) : packFloat(w, v);
  else if (typeof v === "string") packString(w, v);
  else if (v instanceof Uint8Array) packBlob(w, v);
  else if (Array.isArray(v)) {
    packArrayHeader(w, v.length);
    for (const e of v) packElement(w, e);
  } else {
    // A key-ordered map: the flags ext entry first, then the keys in order.
    const keys = Object.keys(v).sort();
    packMapHeader(w, keys.length + 1);
    packExt(w, 1, new Uint8Array());
    packNil(w);
    for (const k of keys) {
      packString(w, k);
      packElement(w, v[k]);
    }
  }
}

/**
 * A running emulated cluster and its controls.
 *
 * @example Start, seed, stop
 * ```ts
 * import { startEmulator } from "./emulator.ts";
 * await using emu = await startEmulator({ nodes: 3 });
 * emu.put({ namespace: "test", set: "demo", key: 1, bins: { a: 5 } });
 * console.log(emu.seeds, emu.dump("test").length); // 127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 1
 * ```
 */
export class Emulator implements AsyncDisposable {
  readonly #cluster: EmulatedCluster;
  readonly #nodes: ServerNode[];
  /** Nodes killed and not restarted since (their restart rejoins the cluster later). */
  readonly #killed = new Set<number>();
  #closed = false;

  /**
   * Wraps started nodes (use {@linkcode startEmulator}).
   *
   * @param cluster The cluster state.
   * @param nodes Its listening nodes.
   */
  constructor(cluster: EmulatedCluster, nodes: ServerNode[]) {
    this.#cluster = cluster;
    this.#nodes = nodes;
  }

  /** Seed list for clients: `"127.0.0.1:p1,127.0.0.1:p2"` (live nodes). */
  get seeds(): string {
    return this.hosts.map((h) => `${h.host}:${h.port}`).join(",");
  }

  /** Addresses of the live nodes. */
  get hosts(): NodeAddress[] {
    return this.#cluster.liveNodes.map((n) => ({ name: n.name, host: n.host, port: n.port }));
  }

  /** This object (for callers that expect `{ seeds, hosts, handle }`). */
  get handle(): Emulator {
    return this;
  }

  /** Node names, live or not, in order. */
  get nodeNames(): string[] {
    return this.#cluster.nodes.map((n) => n.name);
  }

  /** Fault injection. */
  get faults(): Faults {
    return this.#cluster.faults;
  }

  /** The emulated cluster state (for tests that need the internals). */
  get cluster(): EmulatedCluster {
    return this.#cluster;
  }

  /**
   * Stores a record directly (no wire, no policies), replacing any record with the same
   * digest.
   *
   * @param record An {@linkcode AerospikeRecord} (voidTime absolute) or a {@linkcode SeedRecord}.
   * @param opts Options for {@linkcode AerospikeRecord} input.
   * @returns The digest.
   * @throws {RangeError} For an unknown namespace or a bad digest.
   */
  put(record: AerospikeRecord | SeedRecord, opts: PutOptions = {}): Uint8Array {
    const c = this.#cluster;
    let stored: StoredRecord;
    if ("digest" in record) {
      if (record.digest.length !== 20) {
        throw new RangeError("Cannot seed record: digest must be 20 bytes");
      }
      stored = {
        namespace: record.namespace,
        set: record.set,
        digest: record.digest.slice(),
        generation: record.generation,
        voidTime: record.voidTime,
        lutMs: opts.lastUpdateMs ?? c.clock.now(),
        bins: record.bins.slice(),
      };
      if (record.key !== undefined) stored.key = record.key;
    } else {
      const namespace = record.namespace ?? c.namespaces.keys().next().value!;
      const set = record.set ?? "";
      const key = keyFromJs(record.key);
      const bins: Bin[] = [];
      for (const [name, v] of Object.entries(record.bins)) {
        const b = seedBin(name, v);
        if (b !== undefined) bins.push(b);
      }
      const ttl = record.ttl ?? 0;
      stored = {
        namespace,
        set,
        digest: computeDigest(set, key),
        generation: record.generation ?? 1,
        voidTime: ttl > 0 ? c.nowSeconds() + ttl : 0,
        lutMs: record.lastUpdateMs ?? c.clock.now(),
        bins,
      };
      if (record.sendKey ?? true) stored.key = key;
    }
    const ns = c.namespace(stored.namespace);
    if (ns === undefined) {
      throw new RangeError(`Cannot seed record: unknown namespace "${stored.namespace}"`);
    }
    ns.store.put(stored);
    return stored.digest;
  }

  /**
   * Reads a record directly (expired records are not returned).
   *
   * @param namespace Namespace.
   * @param digest Digest.
   * @returns A copy of the record, or `undefined`.
   */
  get(
    namespace: string,
    digest: Uint8Array,
  ): (AerospikeRecord & { lastUpdateMs: number }) | undefined {
    const ns = this.#requireNamespace(namespace);
    const r = ns.store.get(digest);
    if (r === undefined || isExpired(r, this.#cluster.nowSeconds())) return undefined;
    return { ...copyRecord(r), lastUpdateMs: r.lutMs };
  }

  /**
   * Every live record of a namespace, sorted by digest (across partitions), as copies.
   *
   * @param namespace Namespace.
   * @returns The records.
   */
  dump(namespace: string): AerospikeRecord[] {
    const ns = this.#requireNamespace(namespace);
    const now = this.#cluster.nowSeconds();
    const out: AerospikeRecord[] = [];
    for (let pid = 0; pid < PARTITION_COUNT; pid++) {
      for (const r of ns.store.partition(pid)) if (!isExpired(r, now)) out.push(copyRecord(r));
    }
    return out.sort((a, b) => compareDigests(a.digest, b.digest));
  }

  /**
   * Number of live records of a namespace (or of one set).
   *
   * @param namespace Namespace.
   * @param set Only this set. @default all
   * @returns The count.
   */
  count(namespace: string, set?: string): number {
    const ns = this.#requireNamespace(namespace);
    const now = this.#cluster.nowSeconds();
    let n = 0;
    for (let pid = 0; pid < PARTITION_COUNT; pid++) {
      for (const r of ns.store.partition(pid)) {
        if (!isExpired(r, now) && (set === undefined || r.set === set)) n++;
      }
    }
    return n;
  }

  /** Secondary indexes (cluster metadata). */
  get sindexes(): SIndexDefinition[] {
    return this.#cluster.metadata.sindexes();
  }

  /** UDF modules (cluster metadata). */
  get udfs(): UdfModule[] {
    return this.#cluster.metadata.udfs();
  }

  /**
   * Moves the emulator's clock forward (records whose void time passes expire).
   *
   * @param ms Milliseconds.
   * @throws {TypeError} When the emulator was started without a {@linkcode ManualClock}.
   */
  advanceClock(ms: number): void {
    const clock = this.#cluster.clock;
    if (!(clock instanceof ManualClock)) {
      throw new TypeError("Cannot advance the clock: start the emulator with a ManualClock");
    }
    clock.advance(ms);
  }

  /**
   * Current emulator time in Citrusleaf-epoch seconds (what void times compare against).
   *
   * @returns Seconds.
   */
  nowSeconds(): number {
    return citrusleafSeconds(this.#cluster.clock.now());
  }

  /**
   * Stops a node gracefully: its sockets close and it leaves the cluster at once (its
   * partitions move to the other nodes and their partition generations change).
   *
   * @param node Node name or index.
   */
  async stopNode(node: string | number): Promise<void> {
    const n = this.#node(node);
    if (!n.state.alive && !n.state.member) return;
    this.#killed.delete(n.state.index);
    await n.stop();
    this.#cluster.setMember(n.state, false);
  }

  /**
   * Kills a node as SIGKILL does: its sockets deliver what the kernel already holds and
   * then end (FIN, or RST when the client writes to them), new connections are refused,
   * and requests in progress get no answer. The other nodes keep listing it and keep
   * their partition map until the heartbeat timeout passes; then the cluster re-forms
   * without it (see `ClusterOptions.heartbeat`; {@linkcode settled} waits for that).
   * Meanwhile the survivors hold writes to its partitions.
   *
   * @param node Node name or index.
   * @returns Once its sockets are closed.
   */
  async killNode(node: string | number): Promise<void> {
    const n = this.#node(node);
    if (!n.state.alive) return;
    this.#killed.add(n.state.index);
    this.#cluster.nodeDied(n.state);
    await n.stop();
  }

  /**
   * Restarts a stopped or killed node on its previous port. A stopped node is back in the
   * cluster at once; a killed one answers at once but joins the cluster one heartbeat
   * interval and the formation time later (until then it owns no partitions and holds
   * writes), as a restarted server does.
   *
   * @param node Node name or index.
   */
  restartNode(node: string | number): void {
    const n = this.#node(node);
    if (n.state.alive) return;
    n.start(n.state.port);
    if (this.#killed.delete(n.state.index)) this.#cluster.nodeRestarted(n.state);
    else this.#cluster.setMember(n.state, true);
  }

  /**
   * Resolves once the cluster has no departure or join on its way (every killed node has
   * been dropped, every restarted one has joined).
   *
   * @returns A promise.
   */
  settled(): Promise<void> {
    return this.#cluster.settled();
  }

  /**
   * Subscribes to record changes of a namespace (where XDR shipping will attach).
   *
   * @param namespace Namespace.
   * @param listener Called after each write and delete.
   * @returns Unsubscribe function.
   */
  subscribe(namespace: string, listener: ChangeListener): () => void {
    return this.#requireNamespace(namespace).store.subscribe(listener);
  }

  /** Stops every node. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // XDR hook (lib/emulator/xdr.ts, helper X): stop the shippers of attached XDR.
    await XdrEmulation.of(this.#cluster)?.close();
    this.#cluster.close();
    await Promise.all(this.#nodes.map((n) => n.stop()));
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #node(node: string | number): ServerNode {
    const n = typeof node === "number"
      ? this.#nodes[node]
      : this.#nodes.find((x) => x.state.name === node);
    if (n === undefined) throw new RangeError(`Unknown node ${node}`);
    return n;
  }

  #requireNamespace(name: string) {
    const ns = this.#cluster.namespace(name);
    if (ns === undefined) throw new RangeError(`Unknown namespace "${name}"`);
    return ns;
  }
}

function copyRecord(r: StoredRecord): AerospikeRecord {
  const out: AerospikeRecord = {
    namespace: r.namespace,
    set: r.set,
    digest: r.digest.slice(),
    generation: r.generation,
    voidTime: r.voidTime,
    bins: r.bins.map((b) => ({ ...b })) as Bin[],
  };
  if (r.key !== undefined) out.key = r.key;
  return out;
}

/**
 * Starts an emulated cluster, every node listening on its own loopback port.
 *
 * @param opts Nodes, namespaces, replication factor, racks, users, clock, ports.
 * @returns The running emulator; `await using` stops it.
 * @throws {RangeError} For invalid options; Deno errors when a port is taken.
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const cluster = new EmulatedCluster(opts);
  const nodes: ServerNode[] = [];
  const base = opts.port ?? 0;
  try {
    for (const state of cluster.nodes) {
      state.host = opts.host ?? "127.0.0.1";
      const node = new ServerNode(cluster, state as NodeState);
      node.start(base === 0 ? 0 : base + state.index);
      nodes.push(node);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return new Emulator(cluster, nodes);
}
