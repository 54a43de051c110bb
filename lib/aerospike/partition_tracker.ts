/**
 * Drives a partition scan in rounds: assigns each unfinished partition of a
 * {@linkcode PartitionFilter} to a node, counts what each node returned, and decides
 * after each round whether the scan is done, the page is full, or unfinished partitions
 * must be tried again (after their last digest).
 *
 * Pure bookkeeping, no I/O: `scan.ts` runs the rounds.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { PARTITION_COUNT } from "./digest.ts";
import { PartitionFilter, type PartitionStatus } from "./partition_filter.ts";
import { ResultCode } from "./result_code.ts";

/** The partitions one node is asked for in one round. */
export interface NodePartitions<N> {
  /** The node. */
  readonly node: N;
  /** Partitions to scan from their start (PID_ARRAY). */
  readonly full: PartitionStatus[];
  /** Partitions to resume after their digest (DIGEST_ARRAY). */
  readonly partial: PartitionStatus[];
  /** Most records this node may return this round (MAX_RECORDS); 0 = no limit. */
  recordMax: number;
  /** Records delivered from this node this round. */
  recordCount: number;
  /** Partitions the node reported unavailable this round. */
  unavailable: number;
}

/** What to do after a round. */
export type RoundOutcome = "done" | "page-full" | "retry" | "continue";

/** Options of {@linkcode PartitionTracker}. */
export interface TrackerOptions {
  /** Most records per scan call; 0 = no limit. */
  maxRecords: number;
  /** Rounds of retries after failures. */
  maxRetries: number;
}

/** Chooses the node for a partition in a round; null when none is known. */
export type Locate<N> = (partition: number, round: number) => N | null;

/** Tracks the partitions of one scan call. */
export class PartitionTracker<N> {
  #filter: PartitionFilter;
  #opts: TrackerOptions;
  #byId: (PartitionStatus | undefined)[] = new Array(PARTITION_COUNT);
  #round = 0;
  #failedRounds = 0;
  #records = 0;
  #roundFailed = false;
  #roundError: unknown = null;
  #lastError: unknown = null;
  #nodes: NodePartitions<N>[] = [];

  /**
   * Creates a tracker over a partition filter.
   *
   * @param filter The filter whose statuses are updated in place.
   * @param opts Page size and retry limit.
   */
  constructor(filter: PartitionFilter, opts: TrackerOptions) {
    this.#filter = filter;
    this.#opts = opts;
    for (const p of filter.partitions) {
      this.#byId[p.id] = p;
      // A new call scans everything not yet done (retry flags may be stale after a crash).
      if (!p.done) p.retry = true;
    }
  }

  /** Records delivered by this call so far. */
  get records(): number {
    return this.#records;
  }

  /** Round number, 1 for the first. */
  get round(): number {
    return this.#round;
  }

  /**
   * The status of a partition in the filter.
   *
   * @param id Partition id.
   * @returns The status, or undefined when the filter does not cover it.
   */
  status(id: number): PartitionStatus | undefined {
    return this.#byId[id];
  }

  /**
   * Starts a round: groups the partitions that need scanning by node and shares the
   * remaining page budget among the nodes.
   *
   * @param locate Picks the node for each partition.
   * @returns One entry per node to ask (may be empty when no node is known for any
   *   pending partition; {@linkcode endRound} then asks for a retry).
   */
  startRound(locate: Locate<N>): NodePartitions<N>[] {
    this.#round++;
    this.#roundFailed = false;
    this.#roundError = null;
    const byNode = new Map<N, NodePartitions<N>>();
    for (const p of this.#filter.partitions) {
      if (p.done || !p.retry) continue;
      const node = locate(p.id, this.#round);
      if (node === null) {
        // No node holds it right now (node gone, migration): try again next round.
        this.#roundFailed = true;
        continue;
      }
      let np = byNode.get(node);
      if (np === undefined) {
        np = { node, full: [], partial: [], recordMax: 0, recordCount: 0, unavailable: 0 };
        byNode.set(node, np);
      }
      (p.digest === undefined ? np.full : np.partial).push(p);
    }
    let list = [...byNode.values()];
    if (this.#opts.maxRecords > 0) {
      const budget = this.#opts.maxRecords - this.#records;
      if (budget < list.length) list = list.slice(0, budget);
      const share = Math.floor(budget / Math.max(1, list.length));
      const extra = budget - share * list.length;
      list.forEach((np, i) => np.recordMax = share + (i < extra ? 1 : 0));
    }
    for (const np of list) {
      for (const p of np.full) p.retry = false;
      for (const p of np.partial) p.retry = false;
    }
    this.#nodes = list;
    return list;
  }

  /**
   * Notes a record delivered to the caller: the partition resumes after its digest.
   *
   * @param np The node it came from.
   * @param partition Its partition id.
   * @param digest Its digest.
   */
  recordDelivered(np: NodePartitions<N>, partition: number, digest: Uint8Array): void {
    np.recordCount++;
    this.#records++;
    const p = this.#byId[partition];
    if (p !== undefined) PartitionFilter.setDigest(p, digest);
  }

  /**
   * Notes a partition the node could not scan (PARTITION_DONE marker with an error).
   *
   * @param np The node.
   * @param partition Partition id.
   */
  partitionUnavailable(np: NodePartitions<N>, partition: number): void {
    const p = this.#byId[partition];
    if (p === undefined || p.done) return;
    p.retry = true;
    np.unavailable++;
    this.#roundFailed = true;
  }

  /**
   * Notes the normal end of a node's reply: its partitions are done, except those
   * reported unavailable and, when the node returned a full page share, those that may
   * hold more records.
   *
   * @param np The node.
   */
  nodeDone(np: NodePartitions<N>): void {
    const pageFull = np.recordMax > 0 && np.recordCount >= np.recordMax;
    for (const list of [np.full, np.partial]) {
      for (const p of list) {
        if (p.retry || p.done) continue;
        if (pageFull) p.retry = true;
        else p.done = true;
      }
    }
  }

  /**
   * Notes that a node's request failed part way: its unfinished partitions are retried
   * after their last digests.
   *
   * @param np The node.
   * @param error Why (kept as the cause if retries run out).
   */
  nodeFailed(np: NodePartitions<N>, error: unknown): void {
    for (const list of [np.full, np.partial]) {
      for (const p of list) if (!p.done) p.retry = true;
    }
    this.#roundFailed = true;
    this.#roundError = error;
    this.#lastError = error;
  }

  /**
   * The last node failure of the current round, or null when its failures were only
   * partitions the nodes could not scan (or that no node held).
   */
  get roundError(): unknown {
    return this.#roundError;
  }

  /**
   * Ends a round.
   *
   * @returns `"done"` (every partition finished), `"page-full"` (maxRecords reached),
   *   `"retry"` (failures: try again after a pause) or `"continue"` (page budget left and
   *   partitions that stopped at their node's page share).
   * @throws {AerobakError} `MAX_RETRIES_EXCEEDED` (result code -16) when failures persist
   *   beyond maxRetries rounds.
   */
  endRound(): RoundOutcome {
    if (this.#filter.done) return "done";
    if (this.#opts.maxRecords > 0 && this.#records >= this.#opts.maxRecords) return "page-full";
    if (!this.#roundFailed) return "continue";
    this.#failedRounds++;
    if (this.#failedRounds > this.#opts.maxRetries) {
      const pending = this.#filter.partitions.filter((p) => !p.done);
      // Name a few: the operator needs to know which partitions to look at.
      const ids = pending.slice(0, 8).map((p) => p.id).join(", ") +
        (pending.length > 8 ? ", ..." : "");
      const cause = this.#lastError;
      const why = cause instanceof Error ? `: last error: ${cause.message}` : "";
      throw new AerobakError(
        "MAX_RETRIES_EXCEEDED",
        `Scan gave up after ${this.#opts.maxRetries} retries with ${pending.length} ` +
          `partitions unfinished (${ids})${why}`,
        { cause, retriable: true, resultCode: ResultCode.MAX_RETRIES_EXCEEDED },
      );
    }
    return "retry";
  }

  /** Nodes of the current round. */
  get nodes(): readonly NodePartitions<N>[] {
    return this.#nodes;
  }
}
