/**
 * A connected Aerospike cluster: seeds, node discovery through peers, the partition map,
 * a tend every ~1 s that follows node failures, rejoins and partition moves, and the
 * commands backup and restore need (info, partition scans, writes, batch writes).
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import type { AerospikeRecord, UserKey } from "./record.ts";
import { Authenticator } from "./auth.ts";
import { BatchRows, batchWriteRows } from "./batch.ts";
import { type PayloadRows, writePayloadRows } from "./payload_rows.ts";
import type { RowArena } from "./row_arena.ts";
import {
  type BatchReadKey,
  batchReadNode,
  type BatchReadOptions,
  type BatchReadResult,
} from "./batch_read.ts";
import { Connection, readLimits } from "./connection.ts";
import { computeDigest, partitionId } from "./digest.ts";
import { formatAddress, type Host } from "./host.ts";
import { infoError, parsePeers, parseReplicas, type PeerInfo } from "./info.ts";
import { infoRequest, infoValue } from "./info_client.ts";
import { Node, type NodeConnector, type NodeInfo, parseRackIds } from "./node.ts";
import type { PartitionFilter } from "./partition_filter.ts";
import { PartitionMap } from "./partition_map.ts";
import {
  type ClientPolicy,
  resolveClientPolicy,
  type ResolvedClientPolicy,
  resolveScanOptions,
  resolveWritePolicy,
  type ScanOptions,
  type WritePolicy,
} from "./policy.ts";
import { ResultCode } from "./result_code.ts";
import { runScan, type ScanCluster, type ScanConsumer, scanPartitions } from "./scan.ts";
import { loadTlsContext, type TlsContext } from "./tls.ts";
import {
  deleteRecord,
  getRecord,
  putRecord,
  type RecordTarget,
  writePayload,
  type WriteResult,
} from "./write.ts";

/** Whether an error means the node could not be reached or cut the connection. */
function isNetworkFailure(err: unknown): boolean {
  return err instanceof AerobakError &&
    (err.code === "NETWORK_ERROR" || err.code === "CONNECTION_CLOSED" ||
      err.code === "CONNECT_FAILED" || err.code === "CONNECT_TIMEOUT");
}

/** Consecutive failed tends after which a node is dropped from the cluster. */
const NODE_FAILURE_LIMIT = 2;

/** Options of {@linkcode Cluster.connect}. */
export interface ConnectClusterOptions {
  /** Stops connecting. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Cluster.info}. */
export interface InfoOptions {
  /**
   * Name of the node to ask.
   *
   * @default {any node}
   */
  node?: string;
  /**
   * Limit in ms.
   *
   * @default {the policy's infoTimeoutMs}
   */
  timeoutMs?: number;
}

/** Options of {@linkcode Cluster.get}. */
export interface GetOptions {
  /**
   * Only these bins.
   *
   * @default {all}
   */
  binNames?: string[];
  /**
   * Limit of the command, ms.
   *
   * @default {10000}
   */
  totalTimeoutMs?: number;
  /**
   * Longest wait for reply bytes, ms.
   *
   * @default {10000}
   */
  socketTimeoutMs?: number;
}

/**
 * A connected cluster.
 *
 * @example Connect, scan, close
 * ```ts ignore
 * import { Cluster, PartitionFilter } from "./mod.ts";
 * await using cluster = await Cluster.connect({ hosts: "127.0.0.1:3000" });
 * for await (const record of cluster.scan(PartitionFilter.all(), { namespace: "test" })) {
 *   console.log(record.digest);
 * }
 * ```
 */
export class Cluster implements AsyncDisposable {
  #policy: ResolvedClientPolicy;
  #tls?: TlsContext;
  #auth: Authenticator | null;
  #nodes = new Map<string, Node>();
  #map = new PartitionMap<Node>();
  #peerHints = new Map<string, PeerInfo>();
  #tendTimer: ReturnType<typeof setTimeout> | undefined;
  #tending: Promise<void> | null = null;
  #closed = false;
  #connector: NodeConnector;

  private constructor(policy: ResolvedClientPolicy, tls: TlsContext | undefined) {
    this.#policy = policy;
    this.#tls = tls;
    this.#auth = policy.authMode === null ? null : new Authenticator({
      mode: policy.authMode,
      user: policy.user,
      password: policy.password,
      loginTimeoutMs: policy.loginTimeoutMs,
      tls: tls !== undefined,
    });
    const auth = this.#auth;
    this.#connector = {
      tls,
      connectTimeoutMs: policy.connectTimeoutMs,
      authenticate: (conn, node) => auth ? auth.authenticate(conn, node) : Promise.resolve(),
    };
  }

  /**
   * Connects to a cluster: logs in to a seed, discovers every node through peers, and
   * loads the partition map. A tend then runs every `tendIntervalMs`.
   *
   * @param policy Hosts, TLS, credentials, timeouts.
   * @param opts Abort signal.
   * @returns The connected cluster.
   * @throws {AerobakError} `CONFIG_INVALID`/`TLS_CONFIG` for a bad policy; `CLUSTER_UNREACHABLE`
   *   when no seed answers (the cause is the last seed's error); `AUTH_FAILED`.
   */
  static connect(policy: ClientPolicy, opts: ConnectClusterOptions = {}): Promise<Cluster> {
    return Cluster.connectResolved(resolveClientPolicy(policy), opts);
  }

  /**
   * Connects with a policy already resolved, such as another cluster's
   * {@linkcode Cluster.policy} (a reader worker connects to the cluster its job uses).
   *
   * @param resolved The resolved policy.
   * @param opts Abort signal.
   * @returns The connected cluster.
   * @throws {AerobakError} As {@linkcode Cluster.connect}.
   */
  static async connectResolved(
    resolved: ResolvedClientPolicy,
    opts: ConnectClusterOptions = {},
  ): Promise<Cluster> {
    const tls = resolved.tls ? await loadTlsContext(resolved.tls) : undefined;
    const cluster = new Cluster(resolved, tls);
    try {
      opts.signal?.throwIfAborted();
      await cluster.#seed(opts.signal);
      await cluster.#tendOnce();
      opts.signal?.throwIfAborted();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    cluster.#schedule();
    return cluster;
  }

  /** The nodes currently in the cluster. */
  get nodes(): readonly NodeInfo[] {
    return [...this.#nodes.values()];
  }

  /**
   * Connections taken from the node pools and not given back: each carries a request in
   * flight (a scan stream, a write or batch, an info command).
   */
  get requestsInFlight(): number {
    let n = 0;
    for (const node of this.#nodes.values()) n += node.pool.size - node.pool.idle;
    return n;
  }

  /** The resolved client policy. */
  get policy(): ResolvedClientPolicy {
    return this.#policy;
  }

  /**
   * Runs info commands on one node.
   *
   * @param commands Commands, sent in one request.
   * @param opts Node name and limit.
   * @returns Command → raw value (check values with `infoValue` or `infoError`).
   * @throws {AerobakError} `NODE_NOT_FOUND` for an unknown node name; transport errors.
   */
  async info(commands: string[], opts: InfoOptions = {}): Promise<Map<string, string>> {
    const node = opts.node !== undefined ? this.#nodeNamed(opts.node) : this.#anyNode();
    return await this.#infoWithRetry(node, commands, opts.timeoutMs ?? this.#policy.infoTimeoutMs);
  }

  /**
   * Runs info commands on every node.
   *
   * @param commands Commands, sent in one request per node.
   * @param opts Limit (`node` is ignored).
   * @returns Node name → command → raw value.
   * @throws {AerobakError} The first node's error when any node fails.
   */
  async infoAll(
    commands: string[],
    opts: InfoOptions = {},
  ): Promise<Map<string, Map<string, string>>> {
    const nodes = [...this.#nodes.values()];
    if (nodes.length === 0) throw this.#noNodes();
    const timeout = opts.timeoutMs ?? this.#policy.infoTimeoutMs;
    const answers = await Promise.all(nodes.map((n) => this.#infoWithRetry(n, commands, timeout)));
    return new Map(nodes.map((n, i) => [n.name, answers[i]]));
  }

  /**
   * The partitions whose master is a node.
   *
   * @param namespace Namespace.
   * @param nodeName Node name.
   * @returns Partition ids, ascending.
   * @throws {AerobakError} `NODE_NOT_FOUND`.
   */
  masterPartitions(namespace: string, nodeName: string): number[] {
    return this.#map.masterPartitions(namespace, this.#nodeNamed(nodeName));
  }

  /**
   * The node holding a replica of a partition.
   *
   * @param namespace Namespace.
   * @param partition Partition id.
   * @param replica Replica index, 0 = master. @default 0
   * @returns The node.
   * @throws {AerobakError} `PARTITION_UNAVAILABLE` (retriable) when no node holds it now.
   */
  nodeForPartition(namespace: string, partition: number, replica = 0): NodeInfo {
    return this.#route(namespace, partition, replica);
  }

  /**
   * Scans the partitions of a filter. Records are read from the sockets only as the loop
   * pulls them; breaking out of the loop closes the scan's connections. The filter's
   * per-partition cursors advance as records are yielded, so it can be saved
   * (`JSON.stringify(filter)`) and resumed at any point.
   *
   * @param filter Partitions to scan; updated in place.
   * @param opts Namespace, set, bins, filter expression, paging, timeouts, retries.
   * @returns The records.
   * @throws {AerobakError} Through the iterator: `MAX_RETRIES_EXCEEDED`, `SERVER_ERROR`,
   *   `TOTAL_TIMEOUT`, protocol errors naming node and command.
   */
  scan(filter: PartitionFilter, opts: ScanOptions): AsyncIterableIterator<AerospikeRecord> {
    const resolved = resolveScanOptions(opts);
    return scanPartitions(this.#scanView(), filter, resolved);
  }

  /**
   * Scans the partitions of a filter, handing the records to a consumer a reply frame at a
   * time, where they lie in the read buffer: no record object, copy or promise per record
   * (the path backups take, see `ScanConsumer`). The filter's cursors advance as records
   * reach the consumer; retries and node failures are handled as by {@linkcode scan}.
   *
   * @param filter Partitions to scan; updated in place.
   * @param opts Namespace, set, bins, filter expression, paging, timeouts, retries.
   * @param consumer Takes each record message, and holds the scan back while it is busy.
   * @returns When the scan has ended.
   * @throws {AerobakError} `MAX_RETRIES_EXCEEDED`, `SERVER_ERROR`, `TOTAL_TIMEOUT`, protocol
   *   errors naming node and command, or what the consumer threw.
   *
   * @example Count the records of a namespace
   * ```ts ignore
   * let n = 0;
   * await cluster.scanFrames(PartitionFilter.all(), { namespace: "test" }, {
   *   record: (body, view, offset, header) => {
   *     n++;
   *     return new RecordView().read(body, view, offset, header).next;
   *   },
   * });
   * ```
   */
  scanFrames(filter: PartitionFilter, opts: ScanOptions, consumer: ScanConsumer): Promise<void> {
    return runScan(this.#scanView(), filter, resolveScanOptions(opts), consumer);
  }

  /**
   * Writes one record to its master node.
   *
   * @param record The record (its digest routes it; its generation is used by the
   *   generation policy).
   * @param policy Exists action, generation policy, send key, timeouts.
   * @param ttl TTL in seconds; 0 namespace default, -1 never expire, -2 keep the current.
   * @param attempt Attempts of this write that failed without an answer so far: each moves
   *   it on to the partition's next replica, which forwards it to the master (or holds it
   *   until the cluster has re-formed around a dead one), as the clients' SEQUENCE policy
   *   does. @default 0
   * @returns The server's result code (0 OK, 3 generation, 5 exists, …) and generation.
   * @throws {AerobakError} Transport errors (`inDoubt` set when the request may have been
   *   applied); `PARTITION_UNAVAILABLE` (retriable) when no node holds the partition now.
   */
  async put(
    record: AerospikeRecord,
    policy: WritePolicy,
    ttl: number,
    attempt = 0,
  ): Promise<WriteResult> {
    const resolved = resolveWritePolicy(policy);
    const node = this.#writeNode(record.namespace, partitionId(record.digest), attempt);
    return await this.#watch(node, putRecord(node, record, resolved, ttl, this.#policy.poolWaitMs));
  }

  /**
   * Sends a ready-made write message (a whole type-3 proto message, as an ASBX file
   * stores it) to the master node of the digest's partition, byte for byte, like the Go
   * client's `PutPayload`. The caller patches the message's info bits beforehand; the
   * server applies what it says (write, delete, ops, TTL) and answers as for a put.
   *
   * @param namespace Namespace (routes the message, with the digest).
   * @param digest The record's 20-byte digest.
   * @param payload The message: proto header, then an AS_MSG write or delete.
   * @param policy Timeouts (the payload carries the rest). @default {}
   * @param attempt Attempts that failed without an answer so far (see {@linkcode put}).
   *   @default 0
   * @returns The server's result code (0 OK, 2 not found, 3 generation, 5 exists, …) and
   *   generation.
   * @throws {RangeError} For a digest that is not 20 bytes.
   * @throws {AerobakError} `PAYLOAD_INVALID` for a wrong header (nothing sent),
   *   `PARTITION_UNAVAILABLE` (retriable) when no node holds the partition, transport
   *   errors (`inDoubt` set when the message may have been applied).
   *
   * @example Replay a stored XDR message
   * ```ts ignore
   * const { resultCode } = await cluster.putPayload("test", token.digest, token.payload);
   * ```
   */
  async putPayload(
    namespace: string,
    digest: Uint8Array,
    payload: Uint8Array,
    policy: WritePolicy = {},
    attempt = 0,
  ): Promise<WriteResult> {
    if (digest.length !== 20) {
      throw new RangeError(`Invalid digest of ${digest.length} bytes: expected 20`);
    }
    const resolved = resolveWritePolicy(policy);
    const node = this.#writeNode(namespace, partitionId(digest), attempt);
    return await this.#watch(node, writePayload(node, payload, resolved, this.#policy.poolWaitMs));
  }

  /**
   * Writes records in one batch request per master node.
   *
   * @param records The records.
   * @param ttls TTL per record (same rules as {@linkcode put}).
   * @param policy Exists action, generation policy, send key, timeouts.
   * @returns One result code per record; negative client codes for records no node
   *   answered (-11 no node, -18 network error, -20 batch failed).
   * @throws {RangeError} For mismatched lengths, an invalid TTL, digest or policy.
   */
  async batchWrite(
    records: readonly AerospikeRecord[],
    ttls: readonly number[],
    policy: WritePolicy,
  ): Promise<Int32Array> {
    if (ttls.length !== records.length) {
      throw new RangeError(`Invalid batch: ${records.length} records but ${ttls.length} TTLs`);
    }
    const rows = new BatchRows(policy, records.length);
    for (let i = 0; i < records.length; i++) rows.add(records[i], ttls[i]);
    return await this.batchWriteRows(rows);
  }

  /**
   * Writes encoded rows in one batch request per node (under `rows.policy`): each row goes
   * to its partition's master, or, once it failed without an answer, to the next replica
   * ({@linkcode BatchRows.failures}; see {@linkcode put}). A retry sends the rows still to
   * write again, from the same bytes (see {@linkcode BatchRows.retain}). A node that fails
   * at the network level has its idle connections dropped and the map refreshed.
   *
   * @param rows The rows.
   * @returns One result code per row; negative client codes for rows no node answered
   *   (-11 no node, -18 network error, -20 batch failed).
   *
   * @example Write rows, retry the failed ones once
   * ```ts ignore
   * const codes = await cluster.batchWriteRows(rows);
   * rows.retain(Array.from(codes, (c) => c < 0));
   * if (rows.length > 0) await cluster.batchWriteRows(rows);
   * ```
   */
  batchWriteRows(rows: BatchRows): Promise<Int32Array> {
    return this.#perNode(rows, batchWriteRows);
  }

  /**
   * Sends ready-made write messages (see {@linkcode putPayload}), those of each node back
   * to back on one connection in one socket write, their answers read in the same order
   * ({@linkcode writePayloadRows}). Each message goes to its partition's master, or, once
   * it failed without an answer, to the next replica; rows of one record are sent in row
   * order. A node that fails at the network level has its idle connections dropped and
   * the map refreshed.
   *
   * @param rows The messages.
   * @returns One result code per row; negative client codes for rows no node answered
   *   (-11 no node, -18 network error or timeout, -20 bad answer).
   *
   * @example Replay stored messages, retry those that got no answer once
   * ```ts ignore
   * const codes = await cluster.putPayloads(rows);
   * rows.retain(Array.from(codes, (c) => c < 0));
   * if (rows.length > 0) await cluster.putPayloads(rows);
   * ```
   */
  putPayloads(rows: PayloadRows): Promise<Int32Array> {
    return this.#perNode(rows, writePayloadRows);
  }

  /** Routes rows to their nodes and runs one request per node, all at once. */
  async #perNode<R extends RowArena>(
    rows: R,
    send: (
      node: Node,
      rows: R,
      indexes: number[],
      results: Int32Array,
      poolWaitMs: number,
    ) => Promise<void>,
  ): Promise<Int32Array> {
    const results = new Int32Array(rows.length);
    const byNode = new Map<Node, number[]>();
    for (let i = 0; i < rows.length; i++) {
      const node = this.#locate(rows.namespace(i), rows.partition(i), rows.failures(i), "any");
      if (node === null) {
        results[i] = ResultCode.SERVER_NOT_AVAILABLE;
        continue;
      }
      let list = byNode.get(node);
      if (list === undefined) byNode.set(node, list = []);
      list.push(i);
    }
    await Promise.all(
      [...byNode].map(async ([node, indexes]) => {
        await send(node, rows, indexes, results, this.#policy.poolWaitMs);
        const lost = indexes.some((i) =>
          results[i] === ResultCode.NETWORK_ERROR || results[i] === ResultCode.SERVER_NOT_AVAILABLE
        );
        if (lost) this.#nodeUnreachable(node);
      }),
    );
    for (let i = 0; i < rows.length; i++) if (results[i] < 0) rows.noteFailure(i);
    return results;
  }

  /**
   * Deletes a record.
   *
   * @param namespace Namespace.
   * @param set Set, `""` for none.
   * @param key The user key or the 20-byte digest.
   * @param policy Timeouts, durable delete, generation policy.
   * @returns The result code: 0 deleted, 2 not found.
   */
  async delete(
    namespace: string,
    set: string,
    key: UserKey | Uint8Array,
    policy: WritePolicy = {},
  ): Promise<number> {
    const target = this.#target(namespace, set, key);
    const node = this.#route(namespace, partitionId(target.digest), 0);
    return await deleteRecord(node, target, resolveWritePolicy(policy), this.#policy.poolWaitMs);
  }

  /**
   * Reads a record.
   *
   * @param namespace Namespace.
   * @param set Set, `""` for none.
   * @param key The user key or the 20-byte digest.
   * @param opts Bins and timeouts.
   * @returns The record, or null when it does not exist.
   */
  async get(
    namespace: string,
    set: string,
    key: UserKey | Uint8Array,
    opts: GetOptions = {},
  ): Promise<AerospikeRecord | null> {
    const target = this.#target(namespace, set, key);
    const node = this.#route(namespace, partitionId(target.digest), 0);
    return await getRecord(node, target, {
      binNames: opts.binNames,
      totalTimeoutMs: opts.totalTimeoutMs ?? 10000,
      socketTimeoutMs: opts.socketTimeoutMs ?? 10000,
      poolWaitMs: this.#policy.poolWaitMs,
    });
  }

  /**
   * Reads records by digest in one batch request per master node.
   *
   * @param keys The records (namespace, set, digest and, when known, the user key, which
   *   the server checks).
   * @param options Bins, a filter expression, timeouts.
   * @returns One answer per key, in order: 0 with the bins, 2 not found, 27 filtered out,
   *   19 key mismatch, 4 set mismatch; negative client codes for keys no node answered
   *   (-11 no node, -18 network error, -20 batch failed).
   *
   * @example Read two records
   * ```ts ignore
   * const [a, b] = await cluster.batchRead([
   *   { namespace: "test", set: "users", digest: d1 },
   *   { namespace: "test", set: "users", digest: d2 },
   * ]);
   * console.log(a.resultCode, a.bins, b.resultCode);
   * ```
   */
  async batchRead(
    keys: readonly BatchReadKey[],
    options: BatchReadOptions = {},
  ): Promise<BatchReadResult[]> {
    const results: BatchReadResult[] = new Array(keys.length);
    const byNode = new Map<Node, number[]>();
    for (let i = 0; i < keys.length; i++) {
      const node = this.#map.get(keys[i].namespace, partitionId(keys[i].digest), 0);
      if (node === null) {
        results[i] = { resultCode: ResultCode.SERVER_NOT_AVAILABLE, generation: 0, voidTime: 0 };
        continue;
      }
      let list = byNode.get(node);
      if (list === undefined) byNode.set(node, list = []);
      list.push(i);
    }
    await Promise.all(
      [...byNode].map(([node, indexes]) =>
        batchReadNode(node, keys, indexes, results, options, this.#policy.poolWaitMs)
      ),
    );
    return results;
  }

  /**
   * Runs a tend now (peers, partition map), or waits for the one running.
   *
   * @returns When the tend finished.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#tendOnce();
  }

  /**
   * Pre-opens connections to every node (at most `maxConnectionsPerNode` each), as the
   * Go client's `WarmUp` does before a restore.
   *
   * @param count Connections wanted open per node.
   * @returns Connections opened, all nodes together.
   * @throws {AerobakError} A node's connect/login error.
   */
  async warmUp(count: number): Promise<number> {
    const opened = await Promise.all([...this.#nodes.values()].map((n) => n.pool.warmUp(count)));
    return opened.reduce((a, b) => a + b, 0);
  }

  /** Stops the tend and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#tendTimer);
    await this.#tending?.catch(() => {});
    await Promise.all([...this.#nodes.values()].map((n) => n.close()));
    this.#nodes.clear();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #target(namespace: string, set: string, key: UserKey | Uint8Array): RecordTarget {
    if (key instanceof Uint8Array) {
      if (key.length !== 20) {
        throw new RangeError(`Invalid digest of ${key.length} bytes: expected 20`);
      }
      return { namespace, set, digest: key };
    }
    return { namespace, set, key, digest: computeDigest(set, key) };
  }

  #scanView(): ScanCluster<Node> {
    return {
      locate: (ns, pid, failures, mode, racks, nodes) =>
        this.#locate(ns, pid, failures, mode, racks, nodes),
      refresh: () => this.refresh(),
      poolWaitMs: this.#policy.poolWaitMs,
    };
  }

  #locate(
    ns: string,
    pid: number,
    failures: number,
    mode: "master" | "any",
    preferRacks?: readonly number[],
    allowed?: ReadonlySet<string>,
  ): Node | null {
    const n = this.#map.replicaCount(ns);
    const ok = (node: Node | null): node is Node =>
      node !== null && (allowed === undefined || allowed.has(node.name));
    // A healthy replica on the first preferred rack that has one (the Go client's
    // PREFER_RACK), looking one replica further with each failure.
    for (const wanted of preferRacks ?? []) {
      for (let i = 0; i < n; i++) {
        const node = this.#map.get(ns, pid, (failures + i) % n);
        if (ok(node) && node.failures === 0 && node.rack?.[ns] === wanted) return node;
      }
    }
    const master = this.#map.get(ns, pid, 0);
    if (mode === "master" && allowed === undefined) return master;
    // The master first, then the next replica with each failure (the clients' SEQUENCE);
    // a master that failed its tend is passed over for a healthy replica.
    const start = mode === "master" ? 0 : failures;
    for (let i = 0; i < n; i++) {
      const node = this.#map.get(ns, pid, (start + i) % n);
      if (ok(node) && node.failures === 0) return node;
      if (mode === "master" && i === 0 && ok(node) && failures === 0) return node;
    }
    for (let i = 0; i < n; i++) {
      const node = this.#map.get(ns, pid, (start + i) % n);
      if (ok(node)) return node;
    }
    return null;
  }

  /** The node a write goes to after `attempt` unanswered attempts (see {@linkcode put}). */
  #writeNode(ns: string, pid: number, attempt: number): Node {
    const node = this.#locate(ns, pid, attempt, "any");
    if (node === null) {
      throw new AerobakError(
        "PARTITION_UNAVAILABLE",
        `No node holds partition ${pid} of namespace "${ns}"`,
        { retriable: true, resultCode: ResultCode.PARTITION_UNAVAILABLE },
      );
    }
    return node;
  }

  /** Runs a single command; a network failure drops the node's idle connections. */
  async #watch<T>(node: Node, command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      if (isNetworkFailure(err)) this.#nodeUnreachable(node);
      throw err;
    }
  }

  /**
   * A node failed at the network level: its other idle connections most likely died with
   * it (never hand them out), and the map may be about to change (tend now).
   */
  #nodeUnreachable(node: Node): void {
    node.pool.closeIdle();
    if (!this.#closed) this.#tendOnce().catch(() => {});
  }

  #route(ns: string, pid: number, replica: number): Node {
    const node = this.#map.get(ns, pid, replica);
    if (node === null) {
      throw new AerobakError(
        "PARTITION_UNAVAILABLE",
        `No node holds replica ${replica} of partition ${pid} of namespace "${ns}"`,
        { retriable: true, resultCode: ResultCode.PARTITION_UNAVAILABLE },
      );
    }
    return node;
  }

  #nodeNamed(name: string): Node {
    const node = this.#nodes.get(name);
    if (node === undefined) {
      throw new AerobakError("NODE_NOT_FOUND", `Node "${name}" is not in the cluster`, {
        node: { address: "", name },
      });
    }
    return node;
  }

  #anyNode(): Node {
    const nodes = [...this.#nodes.values()];
    if (nodes.length === 0) throw this.#noNodes();
    const healthy = nodes.filter((n) => n.failures === 0);
    const pool = healthy.length > 0 ? healthy : nodes;
    return pool[Math.floor(Math.random() * pool.length)];
  }

  #noNodes(): AerobakError {
    return new AerobakError("CLUSTER_UNREACHABLE", "No node of the cluster is reachable", {
      retriable: true,
      resultCode: ResultCode.SERVER_NOT_AVAILABLE,
    });
  }

  async #infoWithRetry(node: Node, commands: string[], timeoutMs: number) {
    try {
      return await node.info(commands, timeoutMs);
    } catch (err) {
      // A pooled connection the server closed while idle fails on first use: try once more.
      if (err instanceof AerobakError && err.code === "CONNECTION_CLOSED") {
        return await node.info(commands, timeoutMs);
      }
      throw err;
    }
  }

  // ---- discovery and tend ----

  /** Connects to the seeds in order until one answers, and adds its node. */
  async #seed(signal?: AbortSignal): Promise<void> {
    let last: unknown = null;
    for (const seed of this.#policy.seeds) {
      signal?.throwIfAborted();
      try {
        await this.#addNode(seed, undefined);
        return;
      } catch (err) {
        last = err;
        // Wrong credentials or a foreign cluster will not improve with another seed of it.
        if (
          err instanceof AerobakError && (err.code === "AUTH_FAILED" || err.code === "TLS_CONFIG")
        ) {
          throw err;
        }
      }
    }
    const list = this.#policy.seeds.map((s) => formatAddress(s.name, s.port)).join(", ");
    throw new AerobakError(
      "CLUSTER_UNREACHABLE",
      `Cannot connect to any seed (${list})${last instanceof Error ? `: ${last.message}` : ""}`,
      { cause: last, retriable: true, resultCode: ResultCode.SERVER_NOT_AVAILABLE },
    );
  }

  /**
   * Connects to `host`, checks the node's name (and cluster name), and adds it.
   *
   * @returns The node, or null when a node of that name is already known.
   */
  async #addNode(host: Host, expectedName: string | undefined): Promise<Node | null> {
    const conn = await Connection.open(host, {
      timeoutMs: this.#policy.connectTimeoutMs,
      tls: this.#tls,
      nodeName: expectedName,
    });
    const session = { sessionToken: null as Uint8Array | null, sessionExpires: 0 };
    try {
      if (this.#auth) await this.#auth.authenticate(conn, session);
      const commands = ["node", "build"];
      if (this.#policy.clusterName) commands.push("cluster-name");
      const limits = readLimits(this.#policy.infoTimeoutMs, this.#policy.infoTimeoutMs);
      const answers = await infoRequest(conn, commands, limits);
      const name = infoValue(answers, "node", conn.node).trim();
      const build = infoValue(answers, "build", conn.node).trim();
      conn.nodeName = name;
      if (expectedName !== undefined && name !== expectedName) {
        throw new AerobakError(
          "NODE_MISMATCH",
          `Node at ${conn.node.address} is "${name}", peers reported "${expectedName}"`,
          { node: conn.node },
        );
      }
      if (this.#policy.clusterName) {
        const cn = infoValue(answers, "cluster-name", conn.node).trim();
        if (cn !== this.#policy.clusterName) {
          throw new AerobakError(
            "CLUSTER_NAME_MISMATCH",
            `Node ${name} at ${conn.node.address} belongs to cluster "${cn}", expected "${this.#policy.clusterName}"`,
            { node: conn.node },
          );
        }
      }
      if (this.#nodes.has(name) || this.#closed) {
        conn.close();
        return null;
      }
      const node = new Node({
        name,
        host,
        build,
        maxConnections: this.#policy.maxConnectionsPerNode,
        idleTimeoutMs: this.#policy.idleTimeoutMs,
        connector: this.#connector,
      });
      node.sessionToken = session.sessionToken;
      node.sessionExpires = session.sessionExpires;
      node.useTendConnection(conn);
      this.#nodes.set(name, node);
      return node;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#tendTimer = setTimeout(async () => {
      try {
        await this.#tendOnce();
      } catch {
        // A failed tend is retried at the next interval; commands report their own errors.
      }
      this.#schedule();
    }, this.#policy.tendIntervalMs);
    Deno.unrefTimer(this.#tendTimer as unknown as number);
  }

  #tendOnce(): Promise<void> {
    if (this.#tending === null) {
      this.#tending = this.#tend().finally(() => {
        this.#tending = null;
      });
    }
    return this.#tending;
  }

  async #tend(): Promise<void> {
    if (this.#nodes.size === 0) {
      await this.#seed();
    }
    const timeout = this.#policy.infoTimeoutMs;
    const peersCommand = `peers-${this.#tls ? "tls" : "clear"}-${
      this.#policy.servicesAlternate ? "alt" : "std"
    }`;
    await Promise.all([...this.#nodes.values()].map(async (node) => {
      try {
        const a = await node.tendInfo(
          ["node", "peers-generation", "partition-generation"],
          timeout,
        );
        const name = infoValue(a, "node", node.ref).trim();
        if (name !== node.name) {
          // Another node answers at this address now: drop the old one.
          node.failures = NODE_FAILURE_LIMIT;
          return;
        }
        const peersGen = Number(infoValue(a, "peers-generation", node.ref));
        const partGen = Number(infoValue(a, "partition-generation", node.ref));
        if (peersGen !== node.peersGeneration) {
          const p = await node.tendInfo([peersCommand], timeout);
          this.#setPeers(node, p.get(peersCommand));
          node.peersGeneration = peersGen;
        }
        if (partGen !== node.partitionGeneration) {
          const r = await node.tendInfo(["partition-generation", "replicas", "rack-ids"], timeout);
          const gen = Number(infoValue(r, "partition-generation", node.ref));
          this.#map.update(node, parseReplicas(infoValue(r, "replicas", node.ref)));
          const racks = r.get("rack-ids");
          if (racks !== undefined && !racks.startsWith("ERROR")) node.rack = parseRackIds(racks);
          node.partitionGeneration = gen;
        }
        node.failures = 0;
        node.pool.trim();
      } catch {
        node.failures++;
      }
    }));
    // Drop failed nodes: their partitions stay unowned until the survivors claim them.
    for (const node of [...this.#nodes.values()]) {
      if (node.failures >= NODE_FAILURE_LIMIT) {
        this.#nodes.delete(node.name);
        this.#map.removeNode(node);
        await node.close();
      }
    }
    // Add peers we do not know (new nodes, and nodes that rejoined after being dropped).
    const wanted = new Set<string>();
    for (const node of this.#nodes.values()) for (const name of node.peers) wanted.add(name);
    const added: Node[] = [];
    for (const name of wanted) {
      if (this.#nodes.has(name)) continue;
      const peer = this.#peerHints.get(name);
      if (peer === undefined) continue;
      for (const hp of peer.hosts) {
        try {
          const tlsName = peer.tlsName !== "" ? peer.tlsName : undefined;
          const node = await this.#addNode(
            { name: hp.host, port: hp.port, ...(tlsName ? { tlsName } : {}) },
            name,
          );
          if (node !== null) added.push(node);
          break;
        } catch {
          // Try the peer's next address; the next tend tries again.
        }
      }
    }
    if (added.length > 0) await this.#tendNew(added, peersCommand);
  }

  /**
   * Records a node's peers. An error answer (e.g. `peers-tls-std` on a server without
   * TLS peers) means no peers can be discovered through it, not that the node failed.
   */
  #setPeers(node: Node, value: string | undefined): void {
    if (value === undefined || infoError(value) !== null) {
      node.peers = [];
      return;
    }
    const peers = parsePeers(value);
    for (const peer of peers.peers) this.#peerHints.set(peer.nodeName, peer);
    node.peers = peers.peers.map((p) => p.nodeName);
  }

  /** Loads peers and partitions of nodes added during this tend. */
  async #tendNew(nodes: Node[], peersCommand: string): Promise<void> {
    const timeout = this.#policy.infoTimeoutMs;
    await Promise.all(nodes.map(async (node) => {
      try {
        const a = await node.tendInfo(
          ["peers-generation", peersCommand, "partition-generation", "replicas", "rack-ids"],
          timeout,
        );
        this.#setPeers(node, a.get(peersCommand));
        node.peersGeneration = Number(infoValue(a, "peers-generation", node.ref));
        this.#map.update(node, parseReplicas(infoValue(a, "replicas", node.ref)));
        node.partitionGeneration = Number(infoValue(a, "partition-generation", node.ref));
        const racks = a.get("rack-ids");
        if (racks !== undefined && !racks.startsWith("ERROR")) node.rack = parseRackIds(racks);
      } catch {
        node.failures++;
      }
    }));
  }
}
