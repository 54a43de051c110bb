/**
 * XDR on the emulated (source) cluster: the `set-config:context=xdr` / `get-stats` /
 * `get-config:context=xdr` / `disable-mrt-writes` info commands, and a shipper per node,
 * DC and namespace that connects to the DC's `node-address-port` as a connector DC does,
 * ships the namespace's existing records (rewind), then every later write and delete, and
 * resends what was not acked or was acked with 11.
 *
 * XDR is an Enterprise feature: a cluster answers these commands only once
 * {@linkcode XdrEmulation.attach} was called for it; otherwise `ERROR:25:enterprise only`,
 * as Community Edition does.
 *
 * What the emulator ships per record is its current state when it is sent (as XDR does:
 * it ships records, not a log), so a record changed twice before shipping is shipped once.
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import { PARTITION_COUNT, partitionId } from "../aerospike/digest.ts";
import { parseKeyValues } from "../aerospike/info.ts";
import { encodeXdrDelete, encodeXdrWrite, XDR_ACK_SIZE } from "../xdr/message.ts";
import type { EmulatedCluster, NamespaceState, NodeState } from "./cluster.ts";
import { isExpired, type RecordChange } from "./record_store.ts";

/** Answer of XDR commands on a cluster without XDR (Community Edition). */
export const XDR_ENTERPRISE_ONLY = "ERROR:25:enterprise only";

const OK = "ok";

/**
 * A TLS context of the nodes' configuration (aerospike.conf `network { tls <name> { ca-file } }`)
 * that a DC names with `tls-name`: what the nodes trust when they connect to the DC.
 */
export interface XdrTlsContext {
  /** CA certificates (PEM) the DC's certificate must chain to. */
  caCerts: string[];
}

/** Options of {@linkcode XdrEmulation.attach}. */
export interface XdrEmulationOptions {
  /** Wait before reconnecting after a failed or dropped connection, ms. @default 50 */
  retryDelayMs?: number;
  /** Messages sent before waiting for acks. @default 64 */
  window?: number;
  /** A connection with unacked messages and no ack for this long is dropped, ms. @default 5000 */
  ackTimeoutMs?: number;
  /**
   * TLS contexts by name, as the nodes' aerospike.conf defines them; a DC whose `tls-name`
   * names one connects with TLS. @default none
   */
  tls?: Readonly<Record<string, XdrTlsContext>>;
}

interface DcNamespace {
  /** Whether `action=add` was given (settings may come before it). */
  added: boolean;
  rewind: string;
  maxThroughput: number;
  forward: boolean;
  shipper?: XdrShipper;
}

interface DcConfig {
  connector: boolean;
  /** `tls-name`: the TLS context the DC connects with; "" = plain TCP. */
  tlsName: string;
  /** `host:port[:tls-name]` entries (the TLS name the peer certificate is checked against). */
  addresses: string[];
  namespaces: Map<string, DcNamespace>;
}

const registry = new WeakMap<EmulatedCluster, XdrEmulation>();

/** Where an info command was received. */
export interface XdrInfoContext {
  /** The cluster. */
  cluster: EmulatedCluster;
  /** The node asked. */
  node: NodeState;
}

/**
 * The hook of the info dispatcher: answers XDR commands and the namespace
 * `disable-mrt-writes` setting.
 *
 * @param command The command as sent.
 * @param ctx Cluster and node.
 * @returns The answer, or `undefined` when the command is not an XDR one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmulatedCluster } from "./cluster.ts";
 * import { handleXdrInfo } from "./xdr.ts";
 * const cluster = new EmulatedCluster();
 * const ctx = { cluster, node: cluster.nodes[0] };
 * assert.equal(handleXdrInfo("build", ctx), undefined);
 * assert.equal(handleXdrInfo("set-config:context=xdr;dc=a;action=create", ctx), "ERROR:25:enterprise only");
 * ```
 */
export function handleXdrInfo(command: string, ctx: XdrInfoContext): string | undefined {
  const colon = command.indexOf(":");
  if (colon < 0) return undefined;
  const name = command.slice(0, colon);
  if (name !== "set-config" && name !== "get-config" && name !== "get-stats") return undefined;
  const params = parseKeyValues(command.slice(colon + 1));
  const context = params.get("context");
  const isMrt = name === "set-config" && context === "namespace" &&
    params.has("disable-mrt-writes");
  if (context !== "xdr" && !isMrt) return undefined;
  const xdr = registry.get(ctx.cluster);
  if (xdr === undefined) return XDR_ENTERPRISE_ONLY;
  return xdr.answer(ctx.node, name, params);
}

/** The XDR state of one emulated cluster. */
export class XdrEmulation {
  /** The cluster. */
  readonly cluster: EmulatedCluster;
  readonly #opts: Required<XdrEmulationOptions>;
  readonly #dcs = new Map<string, Map<string, DcConfig>>();
  readonly #mrtDisabled = new Map<string, Set<string>>();

  private constructor(cluster: EmulatedCluster, opts: Required<XdrEmulationOptions>) {
    this.cluster = cluster;
    this.#opts = opts;
  }

  /**
   * Enables XDR on a cluster (as an Enterprise server has it).
   *
   * @param cluster The cluster.
   * @param options Shipper timing.
   * @returns The cluster's XDR state (the existing one when already attached).
   */
  static attach(cluster: EmulatedCluster, options: XdrEmulationOptions = {}): XdrEmulation {
    let x = registry.get(cluster);
    if (x === undefined) {
      x = new XdrEmulation(cluster, {
        retryDelayMs: options.retryDelayMs ?? 50,
        window: options.window ?? 64,
        ackTimeoutMs: options.ackTimeoutMs ?? 5000,
        tls: options.tls ?? {},
      });
      registry.set(cluster, x);
    }
    return x;
  }

  /**
   * The XDR state of a cluster.
   *
   * @param cluster The cluster.
   * @returns The state, or `undefined` when XDR is not enabled.
   */
  static of(cluster: EmulatedCluster): XdrEmulation | undefined {
    return registry.get(cluster);
  }

  /**
   * Whether transaction writes of a namespace are blocked on a node.
   *
   * @param node Node name.
   * @param namespace Namespace.
   * @returns `true` after `disable-mrt-writes=true`.
   */
  mrtWritesDisabled(node: string, namespace: string): boolean {
    return this.#mrtDisabled.get(node)?.has(namespace) ?? false;
  }

  /**
   * DC names configured on a node.
   *
   * @param node Node name.
   * @returns DC names.
   */
  dcs(node: string): string[] {
    return [...(this.#dcs.get(node)?.keys() ?? [])];
  }

  /** Every running shipper. */
  get shippers(): readonly XdrShipper[] {
    const out: XdrShipper[] = [];
    for (const dcs of this.#dcs.values()) {
      for (const dc of dcs.values()) {
        for (const ns of dc.namespaces.values()) if (ns.shipper) out.push(ns.shipper);
      }
    }
    return out;
  }

  /** Stops every shipper and forgets every DC. */
  async close(): Promise<void> {
    const all = this.shippers;
    this.#dcs.clear();
    await Promise.all(all.map((s) => s.stop()));
  }

  /**
   * Answers a parsed XDR command (use {@linkcode handleXdrInfo}).
   *
   * @param node The node asked.
   * @param name Command name.
   * @param p Parameters.
   * @returns The answer.
   */
  answer(node: NodeState, name: string, p: Map<string, string>): string {
    if (p.get("context") === "namespace") return this.#setMrt(node, p);
    if (name === "get-config") return this.#getConfig(node, p);
    if (name === "get-stats") return this.#getStats(node, p);
    return this.#setConfig(node, p);
  }

  #setMrt(node: NodeState, p: Map<string, string>): string {
    const ns = p.get("namespace") ?? p.get("id");
    if (ns === undefined || this.cluster.namespace(ns) === undefined) {
      return "ERROR::namespace not found";
    }
    const v = p.get("disable-mrt-writes");
    if (v !== "true" && v !== "false") return "ERROR::bad disable-mrt-writes value";
    let set = this.#mrtDisabled.get(node.name);
    if (set === undefined) this.#mrtDisabled.set(node.name, set = new Set());
    if (v === "true") set.add(ns);
    else set.delete(ns);
    return OK;
  }

  #nodeDcs(node: NodeState): Map<string, DcConfig> {
    let m = this.#dcs.get(node.name);
    if (m === undefined) this.#dcs.set(node.name, m = new Map());
    return m;
  }

  #getConfig(node: NodeState, p: Map<string, string>): string {
    const dcs = this.#nodeDcs(node);
    const dcName = p.get("dc");
    if (dcName === undefined) return `dcs=${[...dcs.keys()].join(",")};src-id=0;trace-sample=0`;
    const dc = dcs.get(dcName);
    if (dc === undefined) return "ERROR::DC not found";
    return `connector=${dc.connector};node-address-port=${dc.addresses.join(",")};` +
      `tls-name=${dc.tlsName || "null"};namespaces=${
        [...dc.namespaces].filter(([, n]) => n.added).map(([k]) => k).join(",")
      }`;
  }

  #getStats(node: NodeState, p: Map<string, string>): string {
    const dc = this.#nodeDcs(node).get(p.get("dc") ?? "");
    if (dc === undefined) return "ERROR::DC not found";
    const nsName = p.get("namespace");
    const list = nsName === undefined
      ? [...dc.namespaces.values()].filter((n) => n.added)
      : [dc.namespaces.get(nsName)];
    if (list.some((n) => n === undefined || !n.added)) return "ERROR::namespace not found";
    const s = { lag: 0, inQueue: 0, inProgress: 0, success: 0, retries: 0, rec: 0, pending: 0 };
    for (const n of list as DcNamespace[]) {
      const st = n.shipper?.stats();
      if (st === undefined) continue;
      s.lag = Math.max(s.lag, st.lag);
      s.inQueue += st.inQueue;
      s.inProgress += st.inProgress;
      s.success += st.success;
      s.retries += st.retries;
      s.rec += st.recoveries;
      s.pending += st.recoveriesPending;
    }
    return `lag=${s.lag};in_queue=${s.inQueue};in_progress=${s.inProgress};` +
      `success=${s.success};abandoned=0;not_found=0;filtered_out=0;retry_no_node=0;` +
      `retry_conn_reset=0;retry_dest=${s.retries};recoveries=${s.rec};` +
      `recoveries_pending=${s.pending};hot_keys=0;uncompressed_pct=0.000;` +
      `compression_ratio=1.000;throughput=0;latency_ms=0;lap_us=0`;
  }

  #setConfig(node: NodeState, p: Map<string, string>): string {
    const dcName = p.get("dc");
    if (dcName === undefined || dcName === "") return "ERROR::missing dc";
    const dcs = this.#nodeDcs(node);
    const action = p.get("action");
    const dc = dcs.get(dcName);
    if (action === "create" && !p.has("namespace") && !p.has("node-address-port")) {
      if (dc !== undefined) return "ERROR::DC already exists";
      dcs.set(dcName, { connector: false, tlsName: "", addresses: [], namespaces: new Map() });
      return OK;
    }
    if (dc === undefined) return "ERROR::DC not found";
    if ((action === "delete" || action === "remove") && p.size === 3) {
      dcs.delete(dcName);
      for (const ns of dc.namespaces.values()) void ns.shipper?.stop();
      return OK;
    }
    if (p.has("connector")) {
      dc.connector = p.get("connector") === "true";
      return OK;
    }
    if (p.has("tls-name")) {
      const name = p.get("tls-name")!;
      // Like the server: the name must be one of the configured TLS contexts ("null" clears).
      if (name !== "null" && this.#opts.tls[name] === undefined) {
        return `ERROR::tls-name ${name} not found`;
      }
      dc.tlsName = name === "null" ? "" : name;
      return OK;
    }
    const address = p.get("node-address-port");
    if (address !== undefined) {
      if (parseNodeAddress(address) === undefined) return "ERROR::bad node-address-port";
      if (action === "add") {
        if (!dc.addresses.includes(address)) dc.addresses.push(address);
        this.#startShippers(node, dc);
        return OK;
      }
      if (action === "remove") {
        dc.addresses = dc.addresses.filter((a) => a !== address);
        for (const ns of dc.namespaces.values()) {
          void ns.shipper?.stop();
          ns.shipper = undefined;
        }
        this.#startShippers(node, dc);
        return OK;
      }
      return "ERROR::bad action";
    }
    const nsName = p.get("namespace");
    if (nsName === undefined) return "ERROR::unknown setting";
    if (this.cluster.namespace(nsName) === undefined) return "ERROR::namespace not found";
    // Per-namespace settings may come before the namespace is added (backup-go sends
    // max-throughput first), so an entry exists from the first mention.
    let entry = dc.namespaces.get(nsName);
    if (entry === undefined) {
      entry = { added: false, rewind: "0", maxThroughput: 0, forward: false };
      dc.namespaces.set(nsName, entry);
    }
    if (action === "add") {
      if (entry.added) return "ERROR::namespace already added";
      const rewind = p.get("rewind") ?? "0";
      if (rewind !== "all" && !/^\d+$/.test(rewind)) return "ERROR::bad rewind";
      entry.added = true;
      entry.rewind = rewind;
      this.#startShippers(node, dc);
      return OK;
    }
    if (action === "remove") {
      if (!entry.added) return "ERROR::namespace not found";
      dc.namespaces.delete(nsName);
      void entry.shipper?.stop();
      return OK;
    }
    if (p.has("max-throughput")) {
      const n = Number(p.get("max-throughput"));
      if (!Number.isInteger(n) || n < 0 || n % 100 !== 0) return "ERROR::bad max-throughput";
      entry.maxThroughput = n;
      entry.shipper?.setMaxThroughput(n);
      return OK;
    }
    if (p.has("forward")) {
      entry.forward = p.get("forward") === "true";
      return OK;
    }
    return "ERROR::unknown setting";
  }

  #startShippers(node: NodeState, dc: DcConfig): void {
    if (dc.addresses.length === 0) return;
    for (const [nsName, entry] of dc.namespaces) {
      if (entry.shipper !== undefined || !entry.added) continue;
      const ns = this.cluster.namespace(nsName)!;
      entry.shipper = new XdrShipper({ cluster: this.cluster, node, namespace: ns }, {
        ...this.#opts,
        address: dc.addresses[0],
        rewind: entry.rewind,
        maxThroughput: entry.maxThroughput,
        tls: dc.tlsName === "" ? undefined : this.#opts.tls[dc.tlsName],
      });
      entry.shipper.start();
    }
  }
}

/** Counters of a shipper, as `get-stats` reports them. */
export interface XdrShipperStats {
  /** Seconds since the oldest change not yet acked; 0 when everything was shipped. */
  lag: number;
  /** Records waiting to be sent. */
  inQueue: number;
  /** Records sent and not yet acked. */
  inProgress: number;
  /** Records acked with 0. */
  success: number;
  /** Records resent (acked with 11, or unacked on a dropped connection). */
  retries: number;
  /** Partitions rewound so far. */
  recoveries: number;
  /** Partitions still to rewind. */
  recoveriesPending: number;
  /** Connections opened. */
  connects: number;
}

/** Options of {@linkcode XdrShipper}. */
export interface XdrShipperOptions extends Required<Omit<XdrEmulationOptions, "tls">> {
  /**
   * `host:port` of the connector (IPv6 in brackets), with `:<tls-name>` after the port when
   * the certificate is to be checked against a name other than the host.
   */
  address: string;
  /** The DC's TLS context: connect with TLS, trusting its CAs. @default plain TCP */
  tls?: XdrTlsContext;
  /** `"all"`, a number of seconds, or `"0"` for no rewind. */
  rewind: string;
  /** Records per second; 0 = unlimited. @default 0 */
  maxThroughput?: number;
}

/** What a shipper ships from. */
export interface XdrShipperSource {
  /** The cluster. */
  cluster: EmulatedCluster;
  /** The shipping node. */
  node: NodeState;
  /** The namespace shipped. */
  namespace: NamespaceState;
}

interface Pending {
  digest: Uint8Array;
  set: string;
  /** Clock ms of the oldest change not shipped. */
  since: number;
  /** Tombstone generation of the last delete (shipped with it), 0 when none seen. */
  tombstoneGen: number;
}

/**
 * Ships one namespace of one node to one connector address.
 */
export class XdrShipper {
  readonly #cluster: EmulatedCluster;
  readonly #node: NodeState;
  readonly #ns: NamespaceState;
  readonly #host: string;
  readonly #port: number;
  readonly #tlsName: string;
  readonly #opts: XdrShipperOptions;
  readonly #queue = new Map<string, Pending>();
  #inflight: Pending[] = [];
  #inflightHead = 0;
  #rewind: number[] = [];
  #rewindPos = 0;
  #rewindSinceMs = 0;
  #stats = { success: 0, retries: 0, recoveries: 0, connects: 0 };
  #rate = 0;
  #rateStart = 0;
  #rateSent = 0;
  #unsubscribe?: () => void;
  #wake?: () => void;
  #stopped = false;
  #loop?: Promise<void>;
  #conn?: Deno.Conn;
  readonly #scratch = new ByteWriter(4096);
  readonly #batch = new ByteWriter(64 * 1024);

  /**
   * Creates a shipper; nothing happens until {@linkcode start}.
   *
   * @param source The cluster, the shipping node (it ships the partitions it is master of)
   *   and the namespace.
   * @param opts The connector's `host:port`, rewind and timing.
   */
  constructor(source: XdrShipperSource, opts: XdrShipperOptions) {
    this.#cluster = source.cluster;
    this.#node = source.node;
    this.#ns = source.namespace;
    const address = parseNodeAddress(opts.address);
    if (address === undefined) {
      throw new TypeError(
        `Invalid XDR node address "${opts.address}": expected host:port[:tls-name]`,
      );
    }
    this.#host = address.host;
    this.#port = address.port;
    this.#tlsName = address.tlsName || address.host;
    this.#opts = opts;
    this.setMaxThroughput(opts.maxThroughput ?? 0);
  }

  /**
   * Limits shipping to a number of records per second (`max-throughput`).
   *
   * @param recordsPerSecond The limit; 0 = unlimited.
   */
  setMaxThroughput(recordsPerSecond: number): void {
    this.#rate = recordsPerSecond;
    this.#rateStart = performance.now();
    this.#rateSent = 0;
  }

  /** Starts the rewind and the shipping of later changes. */
  start(): void {
    if (this.#loop !== undefined) return;
    if (this.#opts.rewind !== "0") {
      for (let pid = 0; pid < PARTITION_COUNT; pid++) {
        if (this.#isMaster(pid)) this.#rewind.push(pid);
      }
      this.#rewindSinceMs = this.#opts.rewind === "all"
        ? 0
        : this.#cluster.clock.now() - Number(this.#opts.rewind) * 1000;
    }
    this.#unsubscribe = this.#ns.store.subscribe((c) => this.#onChange(c));
    this.#loop = this.#run();
  }

  /** Stops shipping (unsent changes are dropped, as when a DC is removed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#closeConn();
    this.#wake?.();
    await this.#loop;
  }

  /**
   * The counters.
   *
   * @returns Lag, queue sizes, recoveries.
   */
  stats(): XdrShipperStats {
    const inProgress = this.#inflight.length - this.#inflightHead;
    let oldest = Infinity;
    if (inProgress > 0) oldest = this.#inflight[this.#inflightHead].since;
    for (const p of this.#queue.values()) {
      oldest = Math.min(oldest, p.since);
      break;
    }
    const lag = oldest === Infinity
      ? 0
      : Math.max(1, Math.ceil((this.#cluster.clock.now() - oldest) / 1000));
    return {
      lag,
      inQueue: this.#queue.size,
      inProgress,
      success: this.#stats.success,
      retries: this.#stats.retries,
      recoveries: this.#stats.recoveries,
      recoveriesPending: this.#rewind.length - this.#rewindPos,
      connects: this.#stats.connects,
    };
  }

  #isMaster(pid: number): boolean {
    return this.#node.alive && this.#cluster.replicaIndex(this.#ns, pid, this.#node.index) === 0;
  }

  #onChange(c: RecordChange): void {
    if (!this.#isMaster(partitionId(c.record.digest))) return;
    // A delete leaves a tombstone one generation above the record, as a server does.
    const gen = c.kind === "delete"
      ? (c.record.generation >= 0xffff ? 1 : c.record.generation + 1)
      : 0;
    this.#enqueue(c.record.digest, c.record.set, this.#cluster.clock.now(), gen);
  }

  #enqueue(
    digest: Uint8Array,
    set: string,
    since = this.#cluster.clock.now(),
    tombstoneGen = 0,
  ): void {
    const key = String.fromCharCode(...digest);
    // Already queued: it will be shipped in its state at send time.
    const queued = this.#queue.get(key);
    if (queued === undefined) this.#queue.set(key, { digest, set, since, tombstoneGen });
    else if (tombstoneGen !== 0) queued.tombstoneGen = tombstoneGen;
    this.#wake?.();
  }

  /** Moves the next rewind partition's records into the queue. */
  #rewindNext(): void {
    const pid = this.#rewind[this.#rewindPos++];
    const now = this.#cluster.nowSeconds();
    const since = this.#cluster.clock.now();
    for (const r of this.#ns.store.partition(pid)) {
      if (isExpired(r, now) || r.lutMs < this.#rewindSinceMs) continue;
      this.#enqueue(r.digest, r.set, since);
    }
    this.#stats.recoveries++;
  }

  async #run(): Promise<void> {
    const window = this.#opts.window;
    while (!this.#stopped) {
      while (this.#queue.size < window && this.#rewindPos < this.#rewind.length) {
        this.#rewindNext();
      }
      // A stopped node ships nothing and holds no connection.
      if (!this.#node.alive && this.#conn !== undefined) this.#closeConn();
      const inProgress = this.#inflight.length - this.#inflightHead;
      if (this.#queue.size === 0 || inProgress >= window || !this.#node.alive) {
        await this.#idle();
        continue;
      }
      const allowed = this.#rateRoom();
      if (allowed <= 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      if (this.#conn === undefined && !(await this.#connect())) {
        await new Promise((r) => setTimeout(r, this.#opts.retryDelayMs));
        continue;
      }
      await this.#sendSome(Math.min(window - inProgress, allowed));
    }
  }

  /** Messages the throughput limit lets out now (a tenth of a second may burst). */
  #rateRoom(): number {
    if (this.#rate <= 0) return Infinity;
    const elapsed = performance.now() - this.#rateStart;
    return Math.floor((elapsed / 1000) * this.#rate) + Math.ceil(this.#rate / 10) - this.#rateSent;
  }

  /** Waits for new work, an ack, or a node coming back. */
  async #idle(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#wake = resolve;
    // A node that is down has no listener to wake it: look again now and then.
    const timer = setTimeout(resolve, this.#node.alive ? 1000 : this.#opts.retryDelayMs);
    await promise;
    clearTimeout(timer);
    this.#wake = undefined;
  }

  async #connect(): Promise<boolean> {
    try {
      const tcp = await Deno.connect({ hostname: this.#host, port: this.#port });
      tcp.setNoDelay(true);
      let conn: Deno.Conn = tcp;
      if (this.#opts.tls !== undefined) {
        // The certificate is checked against the address's TLS name, not the dialled host
        // (as the server does with `node-address-port <host> <port> <tls-name>`).
        const tls = await Deno.startTls(tcp, {
          hostname: this.#tlsName,
          caCerts: this.#opts.tls.caCerts,
        });
        try {
          await tls.handshake();
        } catch (err) {
          tls.close();
          throw err;
        }
        conn = tls;
      }
      this.#stats.connects++;
      this.#conn = conn;
      void this.#readAcks(conn);
      return true;
    } catch {
      return false;
    }
  }

  async #sendSome(room: number): Promise<void> {
    const conn = this.#conn!;
    const now = this.#cluster.nowSeconds();
    this.#batch.reset();
    for (const [key, p] of this.#queue) {
      if (room-- <= 0) break;
      this.#queue.delete(key);
      const r = this.#ns.store.get(p.digest);
      let msg: Uint8Array;
      if (r === undefined) {
        msg = encodeXdrDelete(
          { namespace: this.#ns.config.name, set: p.set, digest: p.digest },
          { generation: p.tombstoneGen },
          this.#scratch,
        );
      } else if (isExpired(r, now)) {
        continue; // Expiry is not shipped.
      } else {
        const ttl = r.voidTime === 0 ? -1 : Math.max(1, r.voidTime - now);
        msg = encodeXdrWrite(r, { ttl }, this.#scratch);
      }
      this.#batch.bytes(msg);
      this.#inflight.push(p);
      this.#rateSent++;
    }
    if (this.#batch.length === 0) return;
    this.#armAckTimer();
    try {
      const out = this.#batch.subarray();
      let off = 0;
      while (off < out.length) off += await conn.write(out.subarray(off));
    } catch {
      this.#closeConn();
    }
  }

  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  #armAckTimer(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = setTimeout(() => this.#closeConn(), this.#opts.ackTimeoutMs);
  }

  async #readAcks(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(XDR_ACK_SIZE * 256);
    let have = 0;
    try {
      for (;;) {
        const n = await conn.read(buf.subarray(have));
        if (n === null) break;
        have += n;
        let at = 0;
        for (; have - at >= XDR_ACK_SIZE; at += XDR_ACK_SIZE) {
          this.#onAck(buf[at + 13]);
        }
        buf.copyWithin(0, at, have);
        have -= at;
        if (at > 0) this.#acked();
      }
    } catch {
      // Reset, timeout (closed by the ack timer) or stop: requeue below.
    }
    if (this.#conn === conn) this.#closeConn();
  }

  #onAck(code: number): void {
    if (this.#inflightHead >= this.#inflight.length) return; // An ack for nothing: ignore.
    const p = this.#inflight[this.#inflightHead++];
    if (code === 0) this.#stats.success++;
    else {
      this.#stats.retries++;
      this.#enqueue(p.digest, p.set, p.since, p.tombstoneGen);
    }
  }

  /** After the acks of one socket read: the ack timer restarts (or stops), the loop wakes. */
  #acked(): void {
    if (this.#inflightHead === this.#inflight.length) {
      this.#inflight = [];
      this.#inflightHead = 0;
      clearTimeout(this.#ackTimer);
    } else {
      this.#armAckTimer();
    }
    this.#wake?.();
  }

  /** Drops the connection; everything unacked goes back to the queue. */
  #closeConn(): void {
    clearTimeout(this.#ackTimer);
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) {
      try {
        conn.close();
      } catch {
        // Already closed by the peer.
      }
    }
    for (let i = this.#inflightHead; i < this.#inflight.length; i++) {
      const p = this.#inflight[i];
      this.#stats.retries++;
      this.#enqueue(p.digest, p.set, p.since, p.tombstoneGen);
    }
    this.#inflight = [];
    this.#inflightHead = 0;
    this.#wake?.();
  }
}

/**
 * Splits a `node-address-port` value: `host:port[:tls-name]`, an IPv6 host in brackets.
 *
 * @param address The value.
 * @returns Host, port and TLS name ("" when absent), or `undefined` when malformed.
 */
function parseNodeAddress(
  address: string,
): { host: string; port: number; tlsName: string } | undefined {
  const m = /^(\[[^\]]+\]|[^:\[\]]+):(\d{1,5})(?::([^:]+))?$/.exec(address);
  if (m === null || Number(m[2]) > 65535) return undefined;
  return { host: m[1].replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]), tlsName: m[3] ?? "" };
}
