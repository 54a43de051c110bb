/**
 * Partition scans: one request per node for the partitions it holds, reply frames handed
 * to a consumer as they arrive, and partitions of a failed request retried at once on the
 * refreshed map (after their last digest) while the other nodes' requests go on.
 *
 * Flow control: each node's connection has at most one reply frame in flight; the next is
 * read only after the consumer took the current one (and the promise its `frameEnd`
 * returned, if any, settled). A slow consumer slows the scans, memory stays at about one
 * frame per node, and no promise or allocation is made per record. Every request carries
 * a fresh task id: a node refuses one it is running or ran lately. Leaving early closes
 * the connections of unfinished requests: a half-read scan connection is never reused.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { systemClock } from "../pipeline/clock.ts";
import { type Connection, readLimits } from "./connection.ts";
import { DIGEST_SIZE, partitionId } from "./digest.ts";
import {
  createMessageHeader,
  dataViewOf,
  FieldType,
  forEachField,
  forEachOp,
  Info3,
  type MessageHeader,
  messageLength,
  MSG_HEADER_SIZE,
  readMessageHeader,
} from "./message.ts";
import { ProtoType } from "./proto.ts";
import { decodeRecordMessage } from "./record_view.ts";
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
   * The node to read a partition from (replica policy applied, a replica on a preferred
   * rack first, only listed nodes when a list is given).
   *
   * @param namespace The namespace.
   * @param partition The partition id.
   * @param failures How often reading it failed so far: `"any"` moves on to the next
   *   replica with each.
   * @param mode `"master"` reads the master; `"any"` may read a replica.
   * @param preferRacks Racks whose replica is asked first.
   * @param nodes Only these nodes (names), when given.
   * @returns The node, or null if none of the allowed nodes holds the partition.
   */
  locate(
    namespace: string,
    partition: number,
    failures: number,
    mode: "master" | "any",
    preferRacks?: readonly number[],
    nodes?: ReadonlySet<string>,
  ): N | null;
  /** Refreshes the partition map (before a retry). */
  refresh(): Promise<void>;
  /** Wait limit for a pooled connection, ms. */
  readonly poolWaitMs: number;
}

/**
 * Takes the records of a scan as they arrive, a reply frame at a time.
 *
 * `record` is called for each record message, in order, synchronously; the bytes are a
 * view of the connection's read buffer, valid only during the call. After the last
 * record of a frame, `frameEnd` is called; a promise it returns holds that node's next
 * frame back until it settles (backpressure), and its rejection fails the scan.
 */
export interface ScanConsumer {
  /**
   * Takes one record message.
   *
   * @param body The frame's bytes.
   * @param view A view of `body`.
   * @param offset Where the message's fields start (just after its header).
   * @param header Its header (a scratch object, reused for the next message).
   * @returns The offset just after the message; or -1 when the consumer cannot take it
   *   without waiting: the scan then awaits {@linkcode ready} and offers it again.
   */
  record(body: Uint8Array, view: DataView, offset: number, header: MessageHeader): number;
  /**
   * Waits until a record refused with -1 can be taken. Required when `record` may
   * return -1.
   *
   * @returns When the consumer is ready.
   */
  ready?(): Promise<void>;
  /**
   * Called after each frame's records.
   *
   * @returns Nothing, or a promise that holds this node's stream until it settles.
   */
  frameEnd?(): Promise<void> | void;
}

function randomTaskId(): bigint {
  const a = new BigUint64Array(1);
  do crypto.getRandomValues(a); while (a[0] === 0n);
  return a[0];
}

function noop(): void {}

/** Offset of the digest field's 20 bytes in a record message, or -1. */
function digestOffset(view: DataView, body: Uint8Array, offset: number, nFields: number): number {
  for (let i = 0; i < nFields; i++) {
    if (offset + 5 > body.length) return -1;
    const size = view.getUint32(offset);
    if (body[offset + 4] === FieldType.DIGEST) {
      return size === DIGEST_SIZE + 1 && offset + 4 + size <= body.length ? offset + 5 : -1;
    }
    offset += 4 + size;
  }
  return -1;
}

function isAuthExpiry(rc: number): boolean {
  return rc === ResultCode.EXPIRED_SESSION || rc === ResultCode.NOT_AUTHENTICATED;
}

/** Where a part of a reply frame cuts a message: handled up to `at`, `need` bytes wanted. */
interface PartCut {
  kind: "more";
  at: number;
  need: number;
}

/** How one node's request ended. */
type StreamEnd =
  | { kind: "done" }
  | { kind: "failed"; error: unknown }
  | { kind: "fatal"; error: unknown };

/** One node's request: its connection and the loop reading its reply frames. */
class NodeStream {
  readonly np: NodePartitions<Node>;
  #conn: Connection | null = null;
  #stopped = false;

  constructor(np: NodePartitions<Node>) {
    this.np = np;
  }

  /** Closes the connection of an unfinished request (abort, fatal error elsewhere). */
  stop(): void {
    this.#stopped = true;
    if (this.#conn !== null) this.np.node.pool.discard(this.#conn);
    this.#conn = null;
  }

  /** Runs the request to its end. Never rejects. */
  async run(ctx: StreamContext): Promise<StreamEnd> {
    const np = this.np;
    const node = np.node;
    try {
      const conn = await node.pool.acquire(ctx.poolWaitMs);
      if (this.#stopped) {
        node.pool.release(conn);
        return { kind: "done" };
      }
      this.#conn = conn;
      conn.begin("scan");
      const opts = ctx.opts;
      const limits = readLimits(opts.socketTimeoutMs, ctx.remainingMs());
      await conn.write(
        encodeScanRequest({
          namespace: opts.namespace,
          set: opts.set,
          binNames: opts.binNames,
          noBins: opts.noBins,
          partitions: np.full.map((p) => p.id),
          digests: np.resume,
          taskId: randomTaskId(),
          socketTimeoutMs: opts.socketTimeoutMs,
          totalTimeoutMs: ctx.remainingMs(),
          recordsPerSecond: ctx.recordsPerSecond(),
          maxRecords: np.recordMax,
          filterExpression: opts.filterExpression,
        }, conn.writer),
        limits,
      );
      const header = createMessageHeader();
      // Reply frames (~1 MiB) are read in parts, each message handled where it lands once
      // it is there whole: `need` is what the next part must hold of the message it cuts.
      let need = MSG_HEADER_SIZE;
      for (;;) {
        const part = await conn.readPart(limits, need);
        let body = part.body;
        const whole = body.length === part.left;
        if (part.type !== ProtoType.MESSAGE) {
          // A compressed frame is read whole and inflated.
          if (!whole) {
            need = part.left;
            continue;
          }
          body = messageBody(conn, { type: part.type, body });
        }
        const view = dataViewOf(body);
        let end = this.#frame(ctx, conn, body, view, header, 0, whole);
        // The consumer could not take a record without waiting (its file rolls over): the
        // part stays where it is until it can.
        while (typeof end === "number") {
          await ctx.consumer.ready!();
          end = this.#frame(ctx, conn, body, view, header, end, whole);
        }
        // The frame's records reach the consumer before the request's end is known to
        // the tracker, so a partition is never marked done ahead of its records.
        const wait = ctx.consumer.frameEnd?.();
        if (wait !== undefined) await wait;
        if (end !== null && end.kind === "more") {
          conn.consume(end.at);
          need = end.need;
        } else {
          conn.consume(part.body.length);
          need = MSG_HEADER_SIZE;
        }
        if (end !== null && end.kind !== "more") {
          if (end.kind === "done" && this.#conn !== null) {
            this.#conn = null;
            node.pool.release(conn);
          }
          return end;
        }
        if (this.#stopped) return { kind: "done" };
      }
    } catch (err) {
      const conn = this.#conn;
      const error = conn !== null ? replyError(conn, err) : err;
      this.stop();
      if (ctx.signal?.aborted) return { kind: "fatal", error: ctx.signal.reason };
      if (error instanceof AerobakError && error.retriable) {
        // A connection that failed so is likely one of many to a node that went away.
        if (isNetworkFailure(error)) node.pool.closeIdle();
        return { kind: "failed", error };
      }
      return { kind: "fatal", error };
    }
  }

  /** Hands a frame's records on; the request's end when the frame holds it. */
  #frame(
    ctx: StreamContext,
    conn: Connection,
    body: Uint8Array,
    view: DataView,
    header: MessageHeader,
    from: number,
    whole: boolean,
  ): StreamEnd | PartCut | null | number {
    const np = this.np;
    const tracker = ctx.tracker;
    let off = from;
    try {
      while (off < body.length) {
        if (!whole) {
          // Only a message that lies in the part whole is handled now.
          const length = messageLength(view, off, body.length);
          if (off + length > body.length) return { kind: "more", at: off, need: length };
        }
        const h = readMessageHeader(view, off, header);
        const fields = off + MSG_HEADER_SIZE;
        if ((h.info3 & Info3.LAST) !== 0) {
          const rc = h.resultCode;
          if (rc === 0 || rc === ResultCode.KEY_NOT_FOUND || rc === ResultCode.FILTERED_OUT) {
            return { kind: "done" };
          }
          return this.#serverFailure(rc);
        }
        if ((h.info3 & Info3.PARTITION_DONE) !== 0) {
          // generation = partition id; a non-zero code means it was not (fully) scanned.
          if (h.resultCode !== 0) tracker.partitionUnavailable(np, h.generation);
          off = forEachField(view, body, fields, h.nFields, noop);
          off = forEachOp(view, body, off, h.nOps, noop);
          continue;
        }
        if (h.resultCode !== 0) return this.#serverFailure(h.resultCode);
        if (np.recordMax > 0 && np.recordCount >= np.recordMax) {
          // The node sent more than its page share: stop it; the rest is read next page.
          this.stop();
          return { kind: "done" };
        }
        const d = digestOffset(view, body, fields, h.nFields);
        if (d < 0) {
          throw new AerobakError("MESSAGE_INVALID", "Scan record without a 20-byte digest field");
        }
        const next = ctx.consumer.record(body, view, fields, h);
        if (next < 0) return off; // offered again once the consumer is ready
        off = next;
        const pid = (body[d] | (body[d + 1] << 8)) & 0x0fff;
        tracker.recordDelivered(np, pid, body, d, ctx.moveCursor);
      }
    } catch (err) {
      throw replyError(conn, err);
    }
    return null;
  }

  #serverFailure(rc: number): StreamEnd {
    this.stop();
    const error = serverError(rc, { command: "scan", node: this.np.node.ref });
    if (isAuthExpiry(rc)) {
      this.np.node.sessionExpires = 0;
      return { kind: "failed", error };
    }
    return isRetriable(rc) ? { kind: "failed", error } : { kind: "fatal", error };
  }
}

function isNetworkFailure(err: AerobakError): boolean {
  return err.code === "CONNECTION_CLOSED" || err.code === "NETWORK_ERROR" ||
    err.code === "CONNECT_FAILED";
}

/** What every stream of one scan call shares. */
interface StreamContext {
  readonly opts: ResolvedScanOptions;
  readonly tracker: PartitionTracker<Node>;
  readonly consumer: ScanConsumer;
  readonly poolWaitMs: number;
  readonly signal?: AbortSignal;
  /** Whether the filter's cursor moves as records reach the consumer. */
  readonly moveCursor: boolean;
  /** What is left of the total timeout, ms (0 = none). */
  remainingMs(): number;
  /** The records-per-second share of a new request (0 = none). */
  recordsPerSecond(): number;
}

/** Options of {@linkcode runScan} beyond the scan's own. */
export interface RunScanOptions {
  /**
   * Move the filter's cursor as records reach the consumer (false when the consumer hands
   * them on later and moves it itself).
   *
   * @default {true}
   */
  moveCursor?: boolean;
}

/**
 * Scans the partitions of `filter`, handing the records to `consumer` frame by frame and
 * updating the filter's statuses.
 *
 * @param cluster Node lookup and map refresh.
 * @param filter Partitions and cursors; updated in place.
 * @param opts Resolved scan options.
 * @param consumer Takes the records.
 * @param run Cursor handling.
 * @returns When every partition was read (or the page is full).
 * @throws {AerobakError} `MAX_RETRIES_EXCEEDED` when partitions keep failing,
 *   `SERVER_ERROR` for a non-retriable server answer (e.g. 4, 16, 20), `TOTAL_TIMEOUT`,
 *   `PROTO_INVALID`/`MESSAGE_INVALID` for bad bytes (naming node and command); the abort
 *   reason when `opts.signal` fires; an error the consumer threw.
 */
export async function runScan(
  cluster: ScanCluster,
  filter: PartitionFilter,
  opts: ResolvedScanOptions,
  consumer: ScanConsumer,
  run: RunScanOptions = {},
): Promise<void> {
  const tracker = new PartitionTracker<Node>(filter, {
    maxRecords: opts.maxRecords,
    maxRetries: opts.maxRetries,
  });
  if (filter.done) return;
  const deadline = opts.totalTimeoutMs > 0 ? Date.now() + opts.totalTimeoutMs : 0;
  const signal = opts.signal;
  const streams = new Set<NodeStream>();
  const endings: { stream: NodeStream; end: StreamEnd }[] = [];
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const ctx: StreamContext = {
    opts,
    tracker,
    consumer,
    poolWaitMs: cluster.poolWaitMs,
    signal,
    moveCursor: run.moveCursor ?? true,
    remainingMs: () => deadline > 0 ? Math.max(1, deadline - Date.now()) : 0,
    recordsPerSecond: () =>
      opts.recordsPerSecond > 0
        ? Math.max(1, Math.floor(opts.recordsPerSecond / Math.max(1, streams.size)))
        : 0,
  };
  const nodes = opts.nodes.length > 0 ? new Set(opts.nodes) : undefined;
  const launch = () => {
    const nps = tracker.assign((pid, failures) =>
      cluster.locate(opts.namespace, pid, failures, opts.replica, opts.preferRacks, nodes)
    );
    const started = nps.map((np) => new NodeStream(np));
    for (const s of started) streams.add(s);
    for (const s of started) {
      s.run(ctx).then((end) => {
        endings.push({ stream: s, end });
        poke();
      });
    }
  };
  const onAbort = () => poke();
  signal?.addEventListener("abort", onAbort);
  let retryTimer: Promise<void> | null = null;
  let retryDue = false;
  try {
    launch();
    for (;;) {
      while (endings.length > 0) {
        const { stream, end } = endings.shift()!;
        streams.delete(stream);
        if (end.kind === "fatal") throw end.error;
        if (end.kind === "done") tracker.nodeDone(stream.np);
        else tracker.nodeFailed(stream.np, end.error);
      }
      signal?.throwIfAborted();
      if (deadline > 0 && Date.now() >= deadline) {
        throw new AerobakError(
          "TOTAL_TIMEOUT",
          `Scan of namespace "${opts.namespace}" ran out of its ${opts.totalTimeoutMs} ms total timeout`,
        );
      }
      if (retryDue) {
        retryDue = false;
        retryTimer = null;
        const failure = tracker.roundError;
        opts.onRetry?.(failure === null ? "partition_unavailable" : retryCause(failure));
        try {
          await cluster.refresh();
        } catch {
          // The map stays as it was; partitions without a node count as failed again.
        }
        launch();
        continue;
      }
      if (tracker.waiting > 0 && retryTimer === null) {
        if (tracker.retryPending) {
          // A pause before the retry, growing with the partitions' failures.
          retryTimer = systemClock.sleep(opts.retryDelayMs * tracker.failures, signal).then(
            () => {
              retryDue = true;
              poke();
            },
            () => poke(),
          );
        } else if (streams.size === 0) {
          // Partitions that stopped at their page share: read on while budget is left.
          if (tracker.outcome() !== "more") return;
          launch();
          continue;
        }
      }
      if (streams.size === 0 && retryTimer === null && tracker.waiting === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (endings.length > 0 || retryDue || signal?.aborted) poke();
      });
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    for (const s of streams) s.stop();
    // Let the stopped streams' loops end before their connections' pools may close.
    while (streams.size > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (endings.length > 0) poke();
      });
      for (const { stream } of endings.splice(0)) streams.delete(stream);
    }
  }
}

/**
 * Scans the partitions of `filter`, one record at a time (decoded), updating the filter's
 * cursors as records are yielded: the filter saved at any point resumes after the last
 * record the caller received.
 *
 * @param cluster Node lookup and map refresh.
 * @param filter Partitions and cursors; updated in place.
 * @param opts Resolved scan options.
 * @returns The records, pulled from the nodes on demand.
 * @throws {AerobakError} Through the iterator: as {@linkcode runScan}.
 */
export async function* scanPartitions(
  cluster: ScanCluster,
  filter: PartitionFilter,
  opts: ResolvedScanOptions,
): AsyncGenerator<AerospikeRecord, void, undefined> {
  /** Decoded frames waiting for the caller, each with the release of its node's stream. */
  const frames: { records: AerospikeRecord[]; taken: () => void }[] = [];
  let batch: AerospikeRecord[] = [];
  let finished = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const controller = new AbortController();
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, controller.signal])
    : controller.signal;
  const consumer: ScanConsumer = {
    record(body, _view, offset, header) {
      const d = decodeRecordMessage(body, offset, header);
      batch.push(d.record);
      return d.next;
    },
    frameEnd() {
      // Once the caller left, nothing may wait for it to take a frame.
      if (batch.length === 0 || controller.signal.aborted) return;
      const records = batch;
      batch = [];
      return new Promise<void>((taken) => {
        frames.push({ records, taken });
        poke();
      });
    },
  };
  const done = runScan(cluster, filter, { ...opts, signal }, consumer, { moveCursor: false })
    .then(
      () => finished = true,
      (err) => failure = err,
    ).finally(poke);
  /** Releases the node stream of the frame being yielded. */
  let current: (() => void) | null = null;
  try {
    for (;;) {
      if (frames.length > 0) {
        const { records, taken } = frames.shift()!;
        current = taken;
        for (const record of records) {
          const status = filter.statusOf(partitionId(record.digest));
          if (status !== undefined) {
            if (status.digest === undefined) status.digest = record.digest.slice();
            else status.digest.set(record.digest);
          }
          yield record;
        }
        current = null;
        taken();
        continue;
      }
      if (failure !== null) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (frames.length > 0 || finished || failure !== null) poke();
      });
    }
  } finally {
    if (!finished && failure === null) controller.abort(new Error("Scan closed early"));
    current?.();
    for (const f of frames.splice(0)) f.taken();
    await done;
  }
}
