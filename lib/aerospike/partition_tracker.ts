/**
 * Bookkeeping of a partition scan: which partitions wait for a node, which node each one
 * is being read from, how far each got (its last digest), how often each failed, and the
 * page budget of a paged scan.
 *
 * Partitions are assigned to nodes in groups ({@linkcode NodePartitions}, one request per
 * node), at the start and again whenever a node's request failed, so the partitions of a
 * dead node are retried while the other nodes' requests go on. Each partition may fail
 * `maxRetries` times before the scan gives up. Pure bookkeeping, no I/O: `scan.ts` runs the
 * requests.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { DIGEST_SIZE, PARTITION_COUNT } from "./digest.ts";
import type { PartitionFilter, PartitionStatus } from "./partition_filter.ts";
import { ResultCode } from "./result_code.ts";

/** The partitions one node is asked for in one request. */
export interface NodePartitions<N> {
  /** The node. */
  readonly node: N;
  /** Partitions to scan from their start (PID_ARRAY). */
  readonly full: PartitionStatus[];
  /** Partitions to resume after their digest (DIGEST_ARRAY). */
  readonly partial: PartitionStatus[];
  /** The digest each of {@linkcode partial} resumes after, in the same order. */
  readonly resume: Uint8Array[];
  /** Most records this node may return (MAX_RECORDS); 0 = no limit. */
  recordMax: number;
  /** Records delivered from this node. */
  recordCount: number;
}

/** What the scan does once no request is running. */
export type ScanOutcome = "done" | "page-full" | "more";

/** Options of {@linkcode PartitionTracker}. */
export interface TrackerOptions {
  /** Most records per scan call; 0 = no limit. */
  maxRecords: number;
  /** Failures a partition may have before the scan gives up. */
  maxRetries: number;
}

/**
 * Chooses the node to read a partition from.
 *
 * @param partition The partition id.
 * @param failures How often reading it failed so far (0 on the first try).
 * @returns The node, or null when no suitable node holds it now.
 */
export type Locate<N> = (partition: number, failures: number) => N | null;

/** Tracks the partitions of one scan call. */
export class PartitionTracker<N> {
  readonly #filter: PartitionFilter;
  readonly #opts: TrackerOptions;
  readonly #byId: (PartitionStatus | undefined)[] = new Array(PARTITION_COUNT);
  /** Where each partition resumes: the last digest this scan received of it. */
  readonly #resume: (Uint8Array | undefined)[] = new Array(PARTITION_COUNT);
  readonly #failures = new Uint16Array(PARTITION_COUNT);
  readonly #active = new Set<NodePartitions<N>>();
  #records = 0;
  #waiting = 0;
  /** Whether a waiting partition failed (its retry waits a pause) rather than paged out. */
  #failed = false;
  #lastError: unknown = null;
  /** The last failure of a node's request since the last assignment, if any. */
  #roundError: unknown = null;

  /**
   * Creates a tracker over a partition filter: every partition not done waits.
   *
   * @param filter The filter whose statuses are updated in place.
   * @param opts Page size and retry limit.
   */
  constructor(filter: PartitionFilter, opts: TrackerOptions) {
    this.#filter = filter;
    this.#opts = opts;
    for (const p of filter.partitions) {
      this.#byId[p.id] = p;
      if (p.digest !== undefined) this.#resume[p.id] = p.digest.slice();
      // A new call scans everything not yet done (retry flags may be stale after a crash).
      p.retry = !p.done;
      if (p.retry) this.#waiting++;
    }
  }

  /** Records delivered by this call so far. */
  get records(): number {
    return this.#records;
  }

  /** Partitions waiting for a node. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Whether some waiting partition failed, so its retry should wait a pause first. */
  get retryPending(): boolean {
    return this.#failed && this.#waiting > 0;
  }

  /** Requests under way. */
  get active(): number {
    return this.#active.size;
  }

  /** The most failures of any waiting partition (for the retry pause). */
  get failures(): number {
    let most = 0;
    for (const p of this.#filter.partitions) {
      if (p.retry && !p.done && this.#failures[p.id] > most) most = this.#failures[p.id];
    }
    return most;
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
   * Groups the waiting partitions by node, sharing what is left of the page budget among
   * the nodes. A partition no node holds now counts as failed and keeps waiting.
   *
   * @param locate Picks the node for each partition.
   * @returns One entry per node to ask (empty when none could be placed or no budget is
   *   left); they are under way until {@linkcode nodeDone} or {@linkcode nodeFailed}.
   * @throws {AerobakError} `MAX_RETRIES_EXCEEDED` when a partition has failed more than
   *   `maxRetries` times.
   */
  assign(locate: Locate<N>): NodePartitions<N>[] {
    this.#checkRetries();
    this.#failed = false;
    this.#roundError = null;
    let budget = Infinity;
    if (this.#opts.maxRecords > 0) {
      budget = this.#opts.maxRecords - this.#records;
      for (const np of this.#active) budget -= Math.max(0, np.recordMax - np.recordCount);
      if (budget <= 0) return [];
    }
    const byNode = new Map<N, NodePartitions<N>>();
    for (const p of this.#filter.partitions) {
      if (p.done || !p.retry) continue;
      const node = locate(p.id, this.#failures[p.id]);
      if (node === null) {
        // No node holds it right now (node gone, cluster re-forming): try again later.
        this.#fail(p);
        continue;
      }
      let np = byNode.get(node);
      if (np === undefined) {
        np = { node, full: [], partial: [], resume: [], recordMax: 0, recordCount: 0 };
        byNode.set(node, np);
      }
      const resume = this.#resume[p.id];
      if (resume === undefined) np.full.push(p);
      else {
        np.partial.push(p);
        np.resume.push(resume);
      }
    }
    let list = [...byNode.values()];
    if (budget !== Infinity) {
      if (budget < list.length) list = list.slice(0, budget);
      const share = Math.floor(budget / Math.max(1, list.length));
      const extra = budget - share * list.length;
      list.forEach((np, i) => np.recordMax = share + (i < extra ? 1 : 0));
    }
    for (const np of list) {
      for (const p of np.full) this.#take(p);
      for (const p of np.partial) this.#take(p);
      this.#active.add(np);
    }
    return list;
  }

  /**
   * Notes a record delivered to the caller: the partition resumes after its digest.
   *
   * @param np The request it came from.
   * @param partition Its partition id.
   * @param source Bytes holding its digest (copied; may be a reply buffer).
   * @param at Offset of the digest's 20 bytes in `source`.
   * @param cursor Also move the filter's cursor now (false when the caller moves it as it
   *   hands the record on). @default true
   */
  recordDelivered(
    np: NodePartitions<N>,
    partition: number,
    source: Uint8Array,
    at: number,
    cursor = true,
  ): void {
    np.recordCount++;
    this.#records++;
    const p = this.#byId[partition];
    if (p === undefined) return;
    const resume = this.#resume[partition] ??= new Uint8Array(DIGEST_SIZE);
    // By hand: a view of the reply per record would be garbage.
    for (let i = 0; i < DIGEST_SIZE; i++) resume[i] = source[at + i];
    if (cursor) {
      if (p.digest === undefined) p.digest = resume.slice();
      else p.digest.set(resume);
    }
  }

  /**
   * Notes a partition the node could not scan (PARTITION_DONE marker with an error).
   *
   * @param np The request.
   * @param partition Partition id.
   */
  partitionUnavailable(np: NodePartitions<N>, partition: number): void {
    const p = this.#byId[partition];
    if (p === undefined || p.done || p.retry || !this.#active.has(np)) return;
    this.#fail(p);
  }

  /**
   * Notes the normal end of a request: its partitions are done, except those reported
   * unavailable and, when the node returned its whole page share, those that may hold
   * more records (they wait, without counting as failed).
   *
   * @param np The request.
   */
  nodeDone(np: NodePartitions<N>): void {
    if (!this.#active.delete(np)) return;
    const pageFull = np.recordMax > 0 && np.recordCount >= np.recordMax;
    for (const list of [np.full, np.partial]) {
      for (const p of list) {
        if (p.retry || p.done) continue;
        if (pageFull) {
          p.retry = true;
          this.#waiting++;
        } else p.done = true;
      }
    }
  }

  /**
   * Notes that a request failed part way: its unfinished partitions wait for a retry
   * after their last digests, each counting one failure.
   *
   * @param np The request.
   * @param error Why (kept as the cause if retries run out).
   */
  nodeFailed(np: NodePartitions<N>, error: unknown): void {
    if (!this.#active.delete(np)) return;
    for (const list of [np.full, np.partial]) {
      for (const p of list) if (!p.done && !p.retry) this.#fail(p);
    }
    this.#lastError = error;
    this.#roundError = error;
  }

  /**
   * The last failure of a node's request since the last assignment, or null when the
   * failures since were only partitions the nodes could not scan (or that no node held).
   */
  get roundError(): unknown {
    return this.#roundError;
  }

  /**
   * What to do once no request is under way.
   *
   * @returns `"done"` (every partition finished), `"page-full"` (maxRecords reached) or
   *   `"more"` (partitions wait: assign them, after a pause when {@linkcode retryPending}).
   */
  outcome(): ScanOutcome {
    if (this.#filter.done) return "done";
    if (this.#opts.maxRecords > 0 && this.#records >= this.#opts.maxRecords) return "page-full";
    return "more";
  }

  #take(p: PartitionStatus): void {
    p.retry = false;
    this.#waiting--;
  }

  #fail(p: PartitionStatus): void {
    if (!p.retry) {
      p.retry = true;
      this.#waiting++;
    }
    if (this.#failures[p.id] < 0xffff) this.#failures[p.id]++;
    this.#failed = true;
  }

  #checkRetries(): void {
    const limit = this.#opts.maxRetries;
    const over = this.#filter.partitions.filter((p) =>
      !p.done && p.retry && this.#failures[p.id] > limit
    );
    if (over.length === 0) return;
    const pending = this.#filter.partitions.filter((p) => !p.done);
    // Name a few: the operator needs to know which partitions to look at.
    const ids = pending.slice(0, 8).map((p) => p.id).join(", ") +
      (pending.length > 8 ? ", ..." : "");
    const cause = this.#lastError;
    const why = cause instanceof Error ? `: last error: ${cause.message}` : "";
    throw new AerobakError(
      "MAX_RETRIES_EXCEEDED",
      `Scan gave up after ${limit} retries with ${pending.length} ` +
        `partitions unfinished (${ids})${why}`,
      { cause, retriable: true, resultCode: ResultCode.MAX_RETRIES_EXCEEDED },
    );
  }
}
