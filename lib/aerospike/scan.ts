/**
 * Partition scans: one request per node for the partitions it holds, replies read only as
 * the caller pulls records, and rounds of retries for unfinished partitions driven by a
 * {@linkcode PartitionTracker}.
 *
 * Flow control: each node's connection has at most one reply frame in flight; the next
 * frame is read only after every record of the current one was taken by the caller. A
 * slow consumer therefore slows every node's scan (the server blocks on a full socket),
 * and memory stays at about one frame per node. Leaving the loop early closes the
 * connections of unfinished node scans: a half-read scan connection is never reused.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { systemClock } from "../pipeline/clock.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { type Connection, type ReadLimits, readLimits } from "./connection.ts";
import { partitionId } from "./digest.ts";
import {
  createMessageHeader,
  dataViewOf,
  decodeRecordMessage,
  forEachField,
  forEachOp,
  Info3,
  MSG_HEADER_SIZE,
  readMessageHeader,
} from "./message.ts";
import type { Node } from "./node.ts";
import type { PartitionFilter } from "./partition_filter.ts";
import { type NodePartitions, PartitionTracker } from "./partition_tracker.ts";
import type { ResolvedScanOptions } from "./policy.ts";
import type { AerospikeRecord } from "./record.ts";
import { encodeScanRequest } from "./requests.ts";
import { isRetriable, ResultCode, retryCause, serverError } from "./result_code.ts";
import { messageBody, replyError } from "./_reply.ts";

/** What a scan needs from the cluster. */
export interface ScanCluster<N extends Node = Node> {
  /**
   * The node to ask for a partition in a round (replica policy applied, a replica on a
   * preferred rack first).
   *
   * @param namespace The namespace.
   * @param partition The partition id.
   * @param round The retry round (0 first), which moves `"any"` on to a replica.
   * @param mode `"master"` always reads the master; `"any"` may read a replica.
   * @param preferRacks Racks whose replica is asked first.
   * @returns The node, or null if none holds the partition.
   */
  locate(
    namespace: string,
    partition: number,
    round: number,
    mode: "master" | "any",
    preferRacks?: readonly number[],
  ): N | null;
  /** Refreshes the partition map (before a retry round). */
  refresh(): Promise<void>;
  /** Wait limit for a pooled connection, ms. */
  readonly poolWaitMs: number;
  /**
   * Counts the nodes.
   *
   * @returns The number of nodes.
   */
  nodeCount(): number;
}

function noop(): void {}

function randomTaskId(): bigint {
  const a = new BigUint64Array(1);
  do crypto.getRandomValues(a); while (a[0] === 0n);
  return a[0];
}

/** One node's part of a round: its connection and the reply frame being consumed. */
class NodeScan {
  readonly np: NodePartitions<Node>;
  conn: Connection | null = null;
  body: Uint8Array | null = null;
  view: DataView | null = null;
  off = 0;
  finished = false;
  error: unknown = null;
  /** The running {@linkcode NodeScan.fill}, awaited on exit. */
  pending: Promise<void> = Promise.resolve();
  #request: (w: ByteWriter) => Uint8Array;
  #limits: ReadLimits;
  #poolWaitMs: number;

  constructor(
    np: NodePartitions<Node>,
    request: (w: ByteWriter) => Uint8Array,
    limits: ReadLimits,
    poolWaitMs: number,
  ) {
    this.np = np;
    this.#request = request;
    this.#limits = limits;
    this.#poolWaitMs = poolWaitMs;
  }

  /** Reads the next reply frame (opening the connection first). Never rejects. */
  async fill(): Promise<void> {
    this.body = null;
    try {
      if (this.conn === null) {
        this.conn = await this.np.node.pool.acquire(this.#poolWaitMs);
        this.conn.begin("scan");
        await this.conn.write(this.#request(this.conn.writer), this.#limits);
      }
      const frame = await this.conn.read(this.#limits);
      this.body = messageBody(this.conn, frame);
      this.view = dataViewOf(this.body);
      this.off = 0;
    } catch (err) {
      this.error = this.conn !== null ? replyError(this.conn, err) : err;
      this.drop();
    }
  }

  /** Returns a cleanly finished connection to the pool. */
  release(): void {
    this.finished = true;
    if (this.conn !== null) this.np.node.pool.release(this.conn);
    this.conn = null;
  }

  /** Closes the connection (half-read or failed). */
  drop(): void {
    this.finished = true;
    if (this.conn !== null) this.np.node.pool.discard(this.conn);
    this.conn = null;
  }
}

/**
 * Scans the partitions of `filter`, updating its statuses as records are yielded.
 *
 * @param cluster Node lookup and map refresh.
 * @param filter Partitions and cursors; updated in place.
 * @param opts Resolved scan options.
 * @returns The records, pulled from the nodes on demand.
 * @throws {AerobakError} Through the iterator: `MAX_RETRIES_EXCEEDED` when partitions
 *   stay unfinished, `SERVER_ERROR` for a non-retriable server answer (e.g. 4, 16, 20),
 *   `TOTAL_TIMEOUT`, `PROTO_INVALID`/`MESSAGE_INVALID` for bad bytes (naming node and
 *   command); the abort reason when `opts.signal` fires.
 */
export async function* scanPartitions(
  cluster: ScanCluster,
  filter: PartitionFilter,
  opts: ResolvedScanOptions,
): AsyncGenerator<AerospikeRecord, void, undefined> {
  const tracker = new PartitionTracker<Node>(filter, {
    maxRecords: opts.maxRecords,
    maxRetries: opts.maxRetries,
  });
  if (filter.done) return;
  const deadline = opts.totalTimeoutMs > 0 ? Date.now() + opts.totalTimeoutMs : 0;
  const signal = opts.signal;
  const taskId = randomTaskId();
  let streams: NodeScan[] = [];
  const ready: NodeScan[] = [];
  let readyHead = 0;
  let wake: (() => void) | null = null;
  const onAbort = () => {
    for (const s of streams) s.drop();
    wake?.();
  };
  signal?.addEventListener("abort", onAbort);
  const arm = (s: NodeScan) => {
    s.pending = s.fill().then(() => {
      ready.push(s);
      wake?.();
    });
  };
  try {
    for (;;) {
      signal?.throwIfAborted();
      const nps = tracker.startRound((pid, round) =>
        cluster.locate(opts.namespace, pid, round, opts.replica, opts.preferRacks)
      );
      let remaining = 0;
      if (deadline > 0) {
        remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new AerobakError(
            "TOTAL_TIMEOUT",
            `Scan of namespace "${opts.namespace}" ran out of its ${opts.totalTimeoutMs} ms total timeout`,
          );
        }
      }
      const limits = readLimits(opts.socketTimeoutMs, remaining);
      const rps = opts.recordsPerSecond > 0
        ? Math.max(1, Math.floor(opts.recordsPerSecond / Math.max(1, nps.length)))
        : 0;
      streams = nps.map((np) =>
        new NodeScan(
          np,
          (w) =>
            encodeScanRequest({
              namespace: opts.namespace,
              set: opts.set,
              binNames: opts.binNames,
              noBins: opts.noBins,
              partitions: np.full.map((p) => p.id),
              digests: np.partial.map((p) => p.digest!),
              taskId,
              socketTimeoutMs: opts.socketTimeoutMs,
              totalTimeoutMs: remaining,
              recordsPerSecond: rps,
              maxRecords: np.recordMax,
              filterExpression: opts.filterExpression,
            }, w),
          limits,
          cluster.poolWaitMs,
        )
      );
      ready.length = 0;
      readyHead = 0;
      for (const s of streams) arm(s);
      let active = streams.length;
      // One header object for every message: each is fully used before the next is read.
      const header = createMessageHeader();
      while (active > 0) {
        if (readyHead === ready.length) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
          signal?.throwIfAborted();
          continue;
        }
        const s = ready[readyHead++];
        if (s.error !== null || s.body === null) {
          active--;
          handleFailure(s, tracker, signal);
          continue;
        }
        // Walk the frame's messages; each record is handed to the caller before the next
        // message is even decoded.
        const body = s.body;
        const view = s.view!;
        let ended = false;
        while (s.off < body.length) {
          let h;
          try {
            h = readMessageHeader(view, s.off, header);
          } catch (err) {
            throw replyError(s.conn!, err);
          }
          if ((h.info3 & Info3.LAST) !== 0) {
            ended = true;
            const rc = h.resultCode;
            if (rc === 0 || rc === ResultCode.KEY_NOT_FOUND || rc === ResultCode.FILTERED_OUT) {
              tracker.nodeDone(s.np);
              s.release();
            } else {
              s.drop();
              const err = serverError(rc, { command: "scan", node: s.np.node.ref });
              if (!isRetriable(rc) && !isAuthExpiry(rc)) throw err;
              if (isAuthExpiry(rc)) s.np.node.sessionExpires = 0;
              tracker.nodeFailed(s.np, err);
            }
            break;
          }
          if ((h.info3 & Info3.PARTITION_DONE) !== 0) {
            // generation = partition id; a non-zero code means it was not (fully) scanned.
            if (h.resultCode !== 0) tracker.partitionUnavailable(s.np, h.generation);
            try {
              s.off = forEachField(view, body, s.off + MSG_HEADER_SIZE, h.nFields, noop);
              s.off = forEachOp(view, body, s.off, h.nOps, noop);
            } catch (err) {
              throw replyError(s.conn!, err);
            }
            continue;
          }
          if (h.resultCode !== 0) {
            s.drop();
            const err = serverError(h.resultCode, { command: "scan", node: s.np.node.ref });
            if (!isRetriable(h.resultCode)) throw err;
            tracker.nodeFailed(s.np, err);
            ended = true;
            break;
          }
          if (s.np.recordMax > 0 && s.np.recordCount >= s.np.recordMax) {
            // The node sent more than its page share: stop it; the rest is read next page.
            s.drop();
            tracker.nodeDone(s.np);
            ended = true;
            break;
          }
          let decoded;
          try {
            decoded = decodeRecordMessage(body, s.off + MSG_HEADER_SIZE, h);
          } catch (err) {
            throw replyError(s.conn!, err);
          }
          s.off = decoded.next;
          const record = decoded.record;
          tracker.recordDelivered(s.np, partitionId(record.digest), record.digest);
          yield record;
          signal?.throwIfAborted();
        }
        if (ended) active--;
        else arm(s);
      }
      const outcome = tracker.endRound();
      if (outcome === "done" || outcome === "page-full") return;
      if (outcome === "retry") {
        const failure = tracker.roundError;
        opts.onRetry?.(failure === null ? "partition_unavailable" : retryCause(failure));
        await systemClock.sleep(opts.retryDelayMs * tracker.round, signal);
        try {
          await cluster.refresh();
        } catch {
          // The map stays as it was; partitions without a node count as failed again.
        }
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    for (const s of streams) if (!s.finished) s.drop();
    await Promise.all(streams.map((s) => s.pending));
  }
}

function isAuthExpiry(rc: number): boolean {
  return rc === ResultCode.EXPIRED_SESSION || rc === ResultCode.NOT_AUTHENTICATED;
}

function handleFailure(
  s: NodeScan,
  tracker: PartitionTracker<Node>,
  signal: AbortSignal | undefined,
): void {
  signal?.throwIfAborted();
  const err = s.error;
  if (err instanceof AerobakError && err.retriable) {
    tracker.nodeFailed(s.np, err);
    return;
  }
  throw err;
}
