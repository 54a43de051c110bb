/**
 * Runs XDR on a source cluster for the length of an XDR backup (backup-go's `RecordReader`
 * node watching and `NodeReader`): creates the DC on every node (and on nodes that join),
 * follows each node's rewind through `get-stats`, blocks transaction writes once every
 * node finished its rewind, waits for each node to catch up (lag 0), then unblocks
 * transaction writes and removes the DC, also when the run fails or is cancelled.
 *
 * @module
 */

import { retryAttempts, retryDelayMs, type RetryPolicy } from "../policy.ts";
import { AerobakError } from "../errors.ts";
import { type Clock, systemClock } from "../pipeline/clock.ts";
import { asAerobakError } from "./_error.ts";
import {
  getXdrStats,
  setMrtWrites,
  startXdr,
  stopXdr,
  type XdrDcSettings,
  type XdrInfoClient,
  type XdrStats,
} from "./commands.ts";

/** Options of {@linkcode XdrController}. */
export interface XdrControllerOptions extends XdrDcSettings {
  /** How often nodes' stats and the node list are polled, ms. @default 1000 */
  pollIntervalMs?: number;
  /** Wait after creating a DC before the first stats poll, ms. @default 3000 */
  statsDelayMs?: number;
  /** Attempts of one stats poll before it counts as failed. @default 5 */
  statsAttempts?: number;
  /**
   * Retry policy of one stats poll: when given, its attempts and backoff (base ×
   * multiplier^k ± 10 %) replace `statsAttempts` and the default 100 ms × attempt delay.
   */
  retryPolicy?: Readonly<RetryPolicy>;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Stops the run (the DC is still removed and MRT writes unblocked). */
  signal?: AbortSignal;
  /** Called with each node's stats after every poll. @default none */
  onStats?: (node: string, stats: XdrStats) => void;
}

/** Where a node is in the run. */
export type XdrNodePhase = "starting" | "rewinding" | "recovered" | "draining" | "done" | "failed";

/** State of one node. */
export interface XdrNodeState {
  /** Node name. */
  readonly name: string;
  /** Phase. */
  phase: XdrNodePhase;
  /** Last stats read. */
  stats?: XdrStats;
  /** Whether this run blocked MRT writes on the node and has not unblocked them yet. */
  mrtBlocked: boolean;
}

/**
 * Drives XDR on every node until each has shipped everything.
 *
 * @example
 * ```ts ignore
 * import { XdrController } from "./controller.ts";
 * const ctl = new XdrController(cluster, { dc: "backup", hostPort: "10.0.0.5:8080", namespace: "test", rewind: "all", maxThroughput: 0, forward: false });
 * await ctl.run();
 * ```
 */
export class XdrController {
  readonly #client: XdrInfoClient;
  readonly #settings: XdrDcSettings;
  readonly #pollMs: number;
  readonly #delayMs: number;
  readonly #attempts: number;
  readonly #retryPolicy?: Readonly<RetryPolicy>;
  readonly #clock: Clock;
  readonly #onStats?: (node: string, stats: XdrStats) => void;
  readonly #abort = new AbortController();
  readonly #nodes = new Map<string, XdrNodeState>();
  readonly #tasks = new Map<string, Promise<void>>();
  readonly #warnings: AerobakError[] = [];
  readonly #external?: AbortSignal;
  #allRecovered = false;
  #running = false;

  /**
   * Creates a controller; nothing is sent until {@linkcode run}.
   *
   * @param client The source cluster (a `Cluster`).
   * @param options DC settings, polling, clock, signal.
   */
  constructor(client: XdrInfoClient, options: XdrControllerOptions) {
    this.#client = client;
    this.#settings = {
      dc: options.dc,
      hostPort: options.hostPort,
      namespace: options.namespace,
      rewind: options.rewind,
      maxThroughput: options.maxThroughput,
      forward: options.forward,
      tlsName: options.tlsName ?? "",
    };
    this.#pollMs = options.pollIntervalMs ?? 1000;
    this.#delayMs = options.statsDelayMs ?? 3000;
    this.#retryPolicy = options.retryPolicy;
    this.#attempts = options.retryPolicy !== undefined
      ? retryAttempts(options.retryPolicy)
      : Math.max(1, options.statsAttempts ?? 5);
    this.#clock = options.clock ?? systemClock;
    this.#onStats = options.onStats;
    this.#external = options.signal;
  }

  /** The nodes seen so far and their phase. */
  get nodes(): readonly Readonly<XdrNodeState>[] {
    return [...this.#nodes.values()];
  }

  /** Problems that did not stop the run (failed polls, failed cleanup commands). */
  get warnings(): readonly AerobakError[] {
    return this.#warnings;
  }

  /** Whether every node finished its rewind (MRT writes were then blocked). */
  get allRecovered(): boolean {
    return this.#allRecovered;
  }

  /**
   * Runs until every node caught up, then removes the DC everywhere.
   *
   * @returns When the DC is removed from every node.
   * @throws {AerobakError} `CLUSTER_EMPTY` without nodes; the first node's
   *   `XDR_COMMAND_FAILED` when a node refuses the create sequence; the signal's reason
   *   when cancelled. The DC is removed and MRT writes unblocked before it throws.
   */
  async run(): Promise<void> {
    if (this.#running) throw new TypeError("XdrController.run() was already called");
    this.#running = true;
    const onAbort = () => this.#abort.abort(this.#external!.reason);
    this.#external?.addEventListener("abort", onAbort, { once: true });
    try {
      this.#external?.throwIfAborted();
      const names = this.#client.nodes.map((n) => n.name);
      if (names.length === 0) {
        throw new AerobakError("CLUSTER_EMPTY", "Cannot start XDR: the cluster has no nodes");
      }
      for (const name of names) this.#startNode(name);
      const watcher = this.#watchCluster();
      let failure: unknown;
      try {
        for (;;) {
          const tasks = [...this.#tasks.values()];
          await Promise.all(tasks);
          if (this.#tasks.size === tasks.length) break;
        }
      } catch (err) {
        failure = err;
        this.#abort.abort(err);
      }
      if (!this.#abort.signal.aborted) this.#abort.abort(new AerobakError("CANCELLED", "Done"));
      await watcher;
      if (failure !== undefined) {
        await Promise.allSettled([...this.#tasks.values()]);
        throw failure;
      }
    } finally {
      this.#external?.removeEventListener("abort", onAbort);
    }
  }

  #startNode(name: string): void {
    const state: XdrNodeState = { name, phase: "starting", mrtBlocked: false };
    this.#nodes.set(name, state);
    this.#tasks.set(name, this.#runNode(state));
  }

  async #watchCluster(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      await this.#clock.sleep(this.#delayMs, signal);
      for (;;) {
        for (const n of this.#client.nodes) if (!this.#nodes.has(n.name)) this.#startNode(n.name);
        await this.#clock.sleep(this.#pollMs, signal);
      }
    } catch {
      // Aborted: the run is over.
    }
  }

  async #runNode(state: XdrNodeState): Promise<void> {
    const { name } = state;
    const signal = this.#abort.signal;
    let created = false;
    try {
      // Cleanup runs even when the create sequence stops half-way.
      created = true;
      await startXdr(this.#client, { ...this.#settings, node: name });
      state.phase = "rewinding";
      await this.#clock.sleep(this.#delayMs, signal);
      for (;; await this.#clock.sleep(this.#pollMs, signal)) {
        if (!this.#client.nodes.some((n) => n.name === name)) {
          // The node left the cluster: nothing more to ship or clean up there.
          created = false;
          state.phase = "done";
          return;
        }
        const stats = await this.#poll(name, signal);
        if (stats === null) continue;
        state.stats = stats;
        this.#onStats?.(name, stats);
        if (stats.recoveriesPending !== 0) continue;
        if (state.phase === "rewinding") {
          state.phase = "recovered";
          await this.#recovered(state);
        }
        if (!state.mrtBlocked) continue;
        state.phase = "draining";
        if (stats.lag === 0) {
          await this.#setMrt(state, false);
          state.phase = "done";
          return;
        }
      }
    } catch (err) {
      if (!signal.aborted) state.phase = "failed";
      throw err;
    } finally {
      if (created) {
        try {
          await stopXdr(this.#client, { node: name, dc: this.#settings.dc });
        } catch (err) {
          this.#warn(err);
        }
      }
      if (state.mrtBlocked) await this.#setMrt(state, false);
    }
  }

  /** One stats poll with retries; null when every attempt failed (the loop goes on). */
  async #poll(name: string, signal: AbortSignal): Promise<XdrStats | null> {
    for (let attempt = 1;; attempt++) {
      try {
        return await getXdrStats(this.#client, {
          node: name,
          dc: this.#settings.dc,
          namespace: this.#settings.namespace,
        });
      } catch (err) {
        const e = asAerobakError(err);
        if (e.code === "XDR_DC_NOT_FOUND") {
          // The node lost the DC (restart): create it again, the rewind starts over there.
          this.#warn(e);
          await startXdr(this.#client, { ...this.#settings, node: name });
          return null;
        }
        if (attempt >= this.#attempts) {
          this.#warn(e);
          return null;
        }
        const delay = this.#retryPolicy !== undefined
          ? retryDelayMs(this.#retryPolicy, attempt - 1)
          : 100 * attempt;
        await this.#clock.sleep(delay, signal);
      }
    }
  }

  /** A node finished its rewind: block MRT writes everywhere once all nodes did. */
  async #recovered(state: XdrNodeState): Promise<void> {
    if (this.#allRecovered) {
      // A node that joined late: block it right away like the others.
      await this.#setMrt(state, true);
      return;
    }
    for (const n of this.#nodes.values()) {
      if (n.phase === "starting" || n.phase === "rewinding") return;
    }
    this.#allRecovered = true;
    await Promise.all(
      [...this.#nodes.values()].filter((n) => n.phase !== "done" && n.phase !== "failed")
        .map((n) => this.#setMrt(n, true)),
    );
  }

  async #setMrt(state: XdrNodeState, disabled: boolean): Promise<void> {
    // Marked before sending, as backup-go does, so cleanup unblocks even after a failure.
    if (disabled) state.mrtBlocked = true;
    try {
      await setMrtWrites(this.#client, {
        node: state.name,
        namespace: this.#settings.namespace,
        disabled,
      });
      if (!disabled) state.mrtBlocked = false;
    } catch (err) {
      this.#warn(err);
      if (!disabled) state.mrtBlocked = false;
    }
  }

  #warn(err: unknown): void {
    if (this.#warnings.length < 1000) this.#warnings.push(asAerobakError(err));
  }
}
