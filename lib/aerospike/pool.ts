/**
 * A bounded pool of connections to one node.
 *
 * At most `max` connections exist at once; callers beyond that wait (with a time limit)
 * for one to be released. Idle connections are reused newest first and closed once idle
 * longer than `idleTimeoutMs`. Only clean connections come back: a connection that failed
 * or still holds unread reply bytes is closed by {@linkcode ConnectionPool.release}.
 *
 * @module
 */

import { AerobakError, type NodeRef } from "../errors.ts";
import type { Connection } from "./connection.ts";
import { ResultCode } from "./result_code.ts";

/** Options of {@linkcode ConnectionPool}. */
export interface PoolOptions {
  /** Most connections open at once. */
  max: number;
  /** Close connections idle longer than this (ms); 0 = never. */
  idleTimeoutMs: number;
  /** Opens (and authenticates) a new connection. */
  create: () => Promise<Connection>;
  /** Node the pool serves, for errors. */
  node: NodeRef;
}

interface Waiter {
  resolve: (conn: Connection | null) => void;
  timer: ReturnType<typeof setTimeout>;
  done: boolean;
}

/** A bounded pool of connections to one node. */
export class ConnectionPool implements AsyncDisposable {
  #opts: PoolOptions;
  #idle: Connection[] = [];
  #total = 0;
  #waiters: Waiter[] = [];
  #head = 0;
  #closed = false;

  /**
   * Creates an empty pool; connections open on demand.
   *
   * @param opts Size, idle limit and factory.
   * @throws {RangeError} When `opts.max` is below 1.
   */
  constructor(opts: PoolOptions) {
    if (!(opts.max >= 1)) throw new RangeError(`Invalid pool size ${opts.max}: must be >= 1`);
    this.#opts = opts;
  }

  /** Connections open now (idle and in use). */
  get size(): number {
    return this.#total;
  }

  /** Idle connections. */
  get idle(): number {
    return this.#idle.length;
  }

  /**
   * Takes a connection: an idle one, a new one while under the limit, or the next one
   * released within `timeoutMs`.
   *
   * @param timeoutMs How long to wait for a free connection.
   * @returns A connection the caller must {@linkcode release} or {@linkcode discard}.
   * @throws {AerobakError} `NO_CONNECTIONS` (retriable, result code -8) when none frees up in
   *   time, `POOL_CLOSED`, or the factory's connect/login error.
   */
  async acquire(timeoutMs: number): Promise<Connection> {
    for (;;) {
      if (this.#closed) throw this.#closedError();
      const conn = this.#takeIdle();
      if (conn !== null) return conn;
      if (this.#total < this.#opts.max) {
        this.#total++;
        try {
          return await this.#opts.create();
        } catch (err) {
          this.#total--;
          this.#wakeOne(null);
          throw err;
        }
      }
      const got = await this.#wait(timeoutMs);
      if (got === "timeout") {
        throw new AerobakError(
          "NO_CONNECTIONS",
          `No connection to ${
            this.#opts.node.name ?? this.#opts.node.address
          } freed up within ${timeoutMs} ms (pool of ${this.#opts.max})`,
          {
            node: this.#opts.node,
            retriable: true,
            resultCode: ResultCode.NO_AVAILABLE_CONNECTIONS_TO_NODE,
          },
        );
      }
      if (got !== null) return got;
      // A slot freed up without a connection: loop and open one.
    }
  }

  /**
   * Gives a connection back. It is kept only if it finished cleanly; otherwise it is closed.
   *
   * @param conn The connection from {@linkcode acquire}.
   */
  release(conn: Connection): void {
    if (this.#closed || !conn.finish()) {
      this.discard(conn);
      return;
    }
    if (this.#wakeOne(conn)) return;
    this.#idle.push(conn);
  }

  /**
   * Closes a connection instead of returning it (failed, half-read, or not wanted).
   *
   * @param conn The connection from {@linkcode acquire}.
   */
  discard(conn: Connection): void {
    conn.close();
    this.#total--;
    this.#wakeOne(null);
  }

  /**
   * Opens connections, in parallel, until `count` are open (never more than the pool's
   * limit) and keeps them idle, so the first commands of a job do not pay for connecting
   * (backup-go's restore `--warm-up`).
   *
   * @param count Connections wanted open.
   * @returns How many were opened.
   * @throws {AerobakError} The first connect/login error, after keeping the connections that
   *   did open.
   */
  async warmUp(count: number): Promise<number> {
    const want = Math.min(count, this.#opts.max) - this.#total;
    if (want <= 0 || this.#closed) return 0;
    // Claim the slots first so concurrent acquires cannot exceed the limit meanwhile.
    this.#total += want;
    const results = await Promise.allSettled(
      Array.from({ length: want }, () => this.#opts.create()),
    );
    let opened = 0;
    let failure: unknown;
    for (const r of results) {
      if (r.status === "rejected") {
        failure ??= r.reason;
        this.#total--;
        this.#wakeOne(null);
        continue;
      }
      opened++;
      if (this.#closed) {
        r.value.close();
        this.#total--;
      } else if (!this.#wakeOne(r.value)) {
        this.#idle.push(r.value);
      }
    }
    if (failure !== undefined) throw failure;
    return opened;
  }

  /**
   * Closes every idle connection: after one connection to the node failed at the network
   * level (reset, end of stream, refused), the others were most likely cut the same way,
   * and handing them out would fail one command after another.
   */
  closeIdle(): void {
    const closed = this.#idle.length;
    for (const conn of this.#idle) conn.close();
    this.#total -= closed;
    this.#idle.length = 0;
    for (let i = 0; i < closed; i++) this.#wakeOne(null);
  }

  /** Closes idle connections unused for longer than the idle timeout. */
  trim(): void {
    if (this.#opts.idleTimeoutMs <= 0) return;
    const limit = Date.now() - this.#opts.idleTimeoutMs;
    let keep = 0;
    for (const conn of this.#idle) {
      if (conn.lastUsed >= limit && !conn.closed) this.#idle[keep++] = conn;
      else {
        conn.close();
        this.#total--;
      }
    }
    this.#idle.length = keep;
  }

  /** Closes every idle connection and refuses further use; in-use ones close on release. */
  close(): Promise<void> {
    this.#closed = true;
    for (const conn of this.#idle) conn.close();
    this.#total -= this.#idle.length;
    this.#idle.length = 0;
    while (this.#head < this.#waiters.length) this.#settle(this.#waiters[this.#head++], null);
    this.#waiters.length = 0;
    this.#head = 0;
    return Promise.resolve();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #takeIdle(): Connection | null {
    const limit = this.#opts.idleTimeoutMs > 0 ? Date.now() - this.#opts.idleTimeoutMs : -Infinity;
    while (this.#idle.length > 0) {
      const conn = this.#idle.pop()!;
      if (!conn.closed && conn.lastUsed >= limit) return conn;
      conn.close();
      this.#total--;
    }
    return null;
  }

  #wait(timeoutMs: number): Promise<Connection | null | "timeout"> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: (c) => resolve(c),
        done: false,
        timer: setTimeout(() => {
          waiter.done = true;
          resolve("timeout");
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Hands `conn` (or a free slot when null) to the oldest live waiter. */
  #wakeOne(conn: Connection | null): boolean {
    while (this.#head < this.#waiters.length) {
      const w = this.#waiters[this.#head++];
      if (this.#head === this.#waiters.length) {
        this.#waiters.length = 0;
        this.#head = 0;
      }
      if (w.done) continue;
      this.#settle(w, conn);
      return true;
    }
    return false;
  }

  #settle(w: Waiter, conn: Connection | null): void {
    w.done = true;
    clearTimeout(w.timer);
    w.resolve(conn);
  }

  #closedError(): AerobakError {
    return new AerobakError(
      "POOL_CLOSED",
      `Connection pool of ${this.#opts.node.name ?? this.#opts.node.address} is closed`,
      { node: this.#opts.node },
    );
  }
}
