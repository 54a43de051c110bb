/**
 * One server node as the client sees it: name, address, version, racks, its connection
 * pool, and the generations the tend compares to know when to refresh peers and the
 * partition map.
 *
 * @module
 */

import type { NodeRef } from "../errors.ts";
import { Connection, type ConnectOptions, readLimits } from "./connection.ts";
import { formatAddress, type Host } from "./host.ts";
import { infoRequest } from "./info_client.ts";
import { ConnectionPool } from "./pool.ts";
import type { TlsContext } from "./tls.ts";

/** What callers see of a node. */
export interface NodeInfo {
  /** Node name (the `node` info answer), e.g. `BB9020011AC4202`. */
  readonly name: string;
  /** `host:port` the client connects to. */
  readonly address: string;
  /** Server version text, e.g. `8.1.2.0`. */
  readonly build: string;
  /** Rack id per namespace (rack-aware clusters only; absent on Community Edition). */
  readonly rack?: Readonly<Record<string, number>>;
}

/** Opens an authenticated connection to a node. */
export interface NodeConnector {
  /** TLS material, when TLS is on. */
  readonly tls?: TlsContext;
  /** Connect limit, ms. */
  readonly connectTimeoutMs: number;
  /**
   * Logs in or authenticates a fresh connection to `node`.
   *
   * @param conn The new connection.
   * @param node The node it goes to.
   */
  authenticate(conn: Connection, node: Node): Promise<void>;
  /**
   * Opens the connection.
   *
   * @default {Connection.open} (TCP or TLS)
   */
  open?: (host: Host, opts: ConnectOptions) => Promise<Connection>;
}

/** Options of {@linkcode Node}. */
export interface NodeOptions {
  /** Node name. */
  name: string;
  /** Address (and TLS name) to connect to. */
  host: Host;
  /** Server version text. */
  build: string;
  /** Pool size. */
  maxConnections: number;
  /** Idle limit of pooled connections, 0 = never. */
  idleTimeoutMs: number;
  /** How connections are opened and authenticated. */
  connector: NodeConnector;
}

/** A node of the cluster. */
export class Node implements NodeInfo {
  /** Node name. */
  readonly name: string;
  /** Host (with TLS name) used to connect. */
  readonly host: Host;
  /** `host:port`. */
  readonly address: string;
  /** Server version text. */
  build: string;
  /** Rack ids per namespace. */
  rack?: Readonly<Record<string, number>>;
  /** Last partition-generation seen; -1 forces a map refresh. */
  partitionGeneration: number = -1;
  /** Last peers-generation seen; -1 forces a peers refresh. */
  peersGeneration: number = -1;
  /** Names of the peers this node reported last. */
  peers: readonly string[] = [];
  /** Consecutive failed tends. */
  failures = 0;
  /** Session token for AUTHENTICATE, when logged in. */
  sessionToken: Uint8Array | null = null;
  /** `Date.now()` after which the session token must be renewed. */
  sessionExpires = 0;
  /** Connections to this node. */
  readonly pool: ConnectionPool;
  #connector: NodeConnector;
  /** The tend's own connection: busy pools must not starve the tend (nor fail the node). */
  #tendConn: Connection | null = null;

  /**
   * Creates the node; its pool opens connections on demand.
   *
   * @param opts Name, address, version, pool settings and connector.
   */
  constructor(opts: NodeOptions) {
    this.name = opts.name;
    this.host = opts.host;
    this.address = formatAddress(opts.host.name, opts.host.port);
    this.build = opts.build;
    this.#connector = opts.connector;
    this.pool = new ConnectionPool({
      max: opts.maxConnections,
      idleTimeoutMs: opts.idleTimeoutMs,
      node: this.ref,
      create: () => this.#open(),
    });
  }

  /** Reference used in errors. */
  get ref(): NodeRef {
    return { address: this.address, name: this.name };
  }

  async #open(): Promise<Connection> {
    const open = this.#connector.open ?? Connection.open;
    const conn = await open(this.host, {
      timeoutMs: this.#connector.connectTimeoutMs,
      tls: this.#connector.tls,
      nodeName: this.name,
    });
    try {
      await this.#connector.authenticate(conn, this);
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  /**
   * Runs info commands on a pooled connection.
   *
   * @param commands Commands.
   * @param timeoutMs Limit of the request (and of waiting for a connection).
   * @returns Command → raw value.
   * @throws {AerobakError} Connect, auth, transport or framing errors naming this node.
   */
  async info(commands: readonly string[], timeoutMs: number): Promise<Map<string, string>> {
    const conn = await this.pool.acquire(timeoutMs);
    try {
      const answers = await infoRequest(conn, commands, readLimits(timeoutMs, timeoutMs));
      this.pool.release(conn);
      return answers;
    } catch (err) {
      this.pool.discard(conn);
      throw err;
    }
  }

  /**
   * Runs info commands on the node's dedicated tend connection (opened on first use and
   * after a failure). Callers must not overlap calls: the cluster tends one node at a time.
   *
   * @param commands Commands.
   * @param timeoutMs Limit of the request.
   * @returns Command → raw value.
   * @throws {AerobakError} Connect, auth, transport or framing errors naming this node.
   */
  async tendInfo(commands: readonly string[], timeoutMs: number): Promise<Map<string, string>> {
    if (this.#tendConn === null || this.#tendConn.closed) {
      this.#tendConn = null;
      this.#tendConn = await this.#open();
    }
    const conn = this.#tendConn;
    try {
      const answers = await infoRequest(conn, commands, readLimits(timeoutMs, timeoutMs));
      if (!conn.finish()) this.#tendConn = null;
      return answers;
    } catch (err) {
      conn.close();
      this.#tendConn = null;
      throw err;
    }
  }

  /**
   * Makes an open, authenticated connection the tend connection (the one the node was
   * discovered on).
   *
   * @param conn The connection.
   */
  useTendConnection(conn: Connection): void {
    this.#tendConn?.close();
    this.#tendConn = conn;
  }

  /** Closes the node's pool and tend connection. */
  close(): Promise<void> {
    this.#tendConn?.close();
    this.#tendConn = null;
    return this.pool.close();
  }
}

/**
 * Parses a `rack-ids` answer `ns:rackid;ns2:rackid`.
 *
 * @param value The info value.
 * @returns Namespace → rack id (entries that are not numbers are skipped).
 */
export function parseRackIds(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.trim().split(";")) {
    const colon = part.lastIndexOf(":");
    if (colon <= 0) continue;
    const id = Number(part.slice(colon + 1));
    if (Number.isInteger(id)) out[part.slice(0, colon)] = id;
  }
  return out;
}
