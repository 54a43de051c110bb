/**
 * Restore writers: batch writes (`batchSize` records per call) or single puts, retrying
 * only the records whose result is retriable, with `base × multiplier^k ± 10 %` delays.
 * Secondary indexes and UDFs reaching a writer are restored there, or kept for the end
 * with `applyMetadataLast`.
 *
 * @module
 */

import { BatchRows } from "../aerospike/batch.ts";
import type { Cluster } from "../aerospike/cluster.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { ResultCode, resultCodeName, retryCause } from "../aerospike/result_code.ts";
import { AerobakError } from "../errors.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { type Clock, systemClock } from "../pipeline/clock.ts";
import type { PipeWriter } from "../pipeline/pipe.ts";
import { retryAttempts, retryDelayMs, type RetryPolicy } from "../policy.ts";
import { recordRef, restoreTtl } from "./processors.ts";
import type { WriteAcks } from "./state.ts";
import type { RestoreCounters } from "./stats.ts";
import { classifyWriteResult, type WriteOutcome } from "./write_result.ts";

/** What every restore writer shares. */
export interface RecordWriterContext {
  /** The cluster written to. */
  cluster: Cluster;
  /** Write policy of every record (generation comes from each record). */
  policy: Readonly<WritePolicy>;
  /** Retry policy of failed writes. */
  retry: Readonly<RetryPolicy>;
  /** Skip records refused for a record-specific reason. */
  ignoreRecordError: boolean;
  /** Seconds added to expirable records. */
  extraTtl: number;
  /** Counts. */
  counters: RestoreCounters;
  /** Handles secondary index and UDF tokens. */
  metadata: (token: AsbToken) => Promise<void>;
  /** Current Unix time in seconds. */
  nowSeconds: () => number;
  /** Time source of retry waits. */
  clock?: Clock;
  /** Cancels retry waits. */
  signal?: AbortSignal;
  /** Told which records the cluster acknowledged (a resumable restore's tracker). */
  acks?: WriteAcks;
}

function count(counters: RestoreCounters, outcome: WriteOutcome): void {
  switch (outcome) {
    case "inserted":
      counters.recordsInserted++;
      break;
    case "fresher":
      counters.recordsFresher++;
      break;
    case "existed":
      counters.recordsExisted++;
      break;
    case "ignored":
      counters.recordsIgnored++;
      break;
  }
}

function writeFailed(record: AerospikeRecord, code: number, cause?: unknown): AerobakError {
  const what = code === 0 && cause instanceof Error ? cause.message : code < 0
    // Negative codes are the client's: the node never answered for this record.
    ? `no answer (${code} ${resultCodeName(code)}: network error, timeout or node down)`
    : `server returned ${code} ${resultCodeName(code)}`;
  return new AerobakError(
    "RESTORE_WRITE_FAILED",
    `Cannot restore record ${
      recordRef(record).digest
    } of ${record.namespace}/${record.set}: ${what}`,
    { cause, record: recordRef(record), resultCode: code === 0 ? undefined : code },
  );
}

function transportFailure(e: unknown, counters: RestoreCounters): void {
  if (e instanceof AerobakError && e.inDoubt) counters.errorsInDoubt++;
}

/** Writes records one `put` at a time. */
export class SingleRecordWriter implements PipeWriter<AsbToken> {
  readonly #ctx: RecordWriterContext;

  /**
   * Creates a writer.
   *
   * @param ctx Shared settings.
   */
  constructor(ctx: RecordWriterContext) {
    this.#ctx = ctx;
  }

  /**
   * Writes a token.
   *
   * @param token A record, sindex or UDF.
   * @returns 0 (bandwidth is limited where files are read).
   */
  async write(token: AsbToken): Promise<number> {
    if (token.kind !== "record") {
      await this.#ctx.metadata(token);
      return 0;
    }
    const ctx = this.#ctx;
    const record = token.record;
    const ttl = restoreTtl(record, ctx.extraTtl, ctx.nowSeconds());
    const attempts = retryAttempts(ctx.retry);
    // Attempts that got no answer: each sends the record to the next replica.
    let unanswered = 0;
    ctx.acks?.hold(token);
    const ticket = ctx.acks?.seal();
    for (let k = 0;; k++) {
      let code = 0;
      let error: unknown;
      try {
        code = (await ctx.cluster.put(record, ctx.policy, ttl, unanswered)).resultCode;
      } catch (e) {
        transportFailure(e, ctx.counters);
        error = e;
        unanswered++;
      }
      if (error === undefined) {
        const outcome = classifyWriteResult(code, {
          ignoreRecordError: ctx.ignoreRecordError,
          batch: false,
        });
        if (outcome === "fail") {
          ctx.counters.recordsFailed++;
          throw writeFailed(record, code);
        }
        if (outcome !== "retry") {
          count(ctx.counters, outcome);
          if (ticket !== undefined) ctx.acks!.release(ticket);
          return 0;
        }
      }
      if (k + 1 >= attempts) {
        ctx.counters.recordsFailed++;
        throw writeFailed(record, code, error);
      }
      ctx.counters.countRetry(retryCause(error ?? code));
      await (ctx.clock ?? systemClock).sleep(retryDelayMs(ctx.retry, k), ctx.signal);
    }
  }

  /** Nothing to flush. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Encodes records as batch rows and writes them `batchSize` at a time, with up to
 * `maxAsyncBatches` batch calls in flight at once (backup-go's `max-async-batches`).
 *
 * Each record is encoded into its batch's {@linkcode BatchRows} as soon as it arrives
 * and dropped: what waits for an answer is `maxAsyncBatches × batchSize` encoded rows
 * (the batches in flight and the one being filled), not decoded records, which would
 * outlive young-generation collections and cost memory and GC time. Retries send the
 * failed rows again from the same bytes. The row buffers of finished batches are reused.
 * One writer fills one batch at a time: a writer per slot, fed in turn, would hold a
 * part-filled batch in every writer and a channel of records before each.
 */
export class BatchRecordWriter implements PipeWriter<AsbToken> {
  readonly #ctx: RecordWriterContext;
  readonly #batchSize: number;
  readonly #maxInFlight: number;
  /** The batch being filled. */
  #rows: BatchRows | undefined;
  /** Row buffers of finished batches, for the next ones. */
  readonly #free: BatchRows[] = [];
  #inFlight = 0;
  /** Wakes the one call (`write` or `close`) waiting for a batch to finish. */
  #wake: (() => void) | undefined;
  #failed = false;
  #error: unknown;

  /**
   * Creates a writer.
   *
   * @param ctx Shared settings.
   * @param batchSize Records per batch call.
   * @param maxAsyncBatches Batch calls in flight at once. @default 1
   */
  constructor(ctx: RecordWriterContext, batchSize: number, maxAsyncBatches = 1) {
    this.#ctx = ctx;
    this.#batchSize = Math.max(1, batchSize);
    this.#maxInFlight = Math.max(1, maxAsyncBatches);
  }

  /**
   * Encodes a record into the batch being filled; sends the batch once full.
   *
   * @param token A record, sindex or UDF.
   * @returns 0, or a promise while every batch slot is busy.
   * @throws {AerobakError} `RESTORE_WRITE_FAILED` once a batch sent earlier has failed, or
   *   for a record that cannot be encoded (TTL out of range, bin name over 15 bytes).
   */
  write(token: AsbToken): number | Promise<number> {
    if (this.#failed) throw this.#error;
    if (token.kind !== "record") return this.#ctx.metadata(token).then(() => 0);
    const ctx = this.#ctx;
    const r = token.record;
    const rows = this.#rows ??= this.#free.pop() ?? new BatchRows(ctx.policy, this.#batchSize);
    // The clock is read only for records that expire (most never do).
    const ttl = r.voidTime === 0 ? -1 : restoreTtl(r, ctx.extraTtl, ctx.nowSeconds());
    try {
      rows.add(r, ttl);
    } catch (e) {
      ctx.counters.recordsFailed++;
      throw writeFailed(r, 0, e);
    }
    ctx.acks?.hold(token);
    if (rows.length < this.#batchSize) return 0;
    this.#send();
    return this.#inFlight < this.#maxInFlight ? 0 : this.#slot();
  }

  /**
   * Sends the records still buffered (unless a batch failed) and waits for every batch.
   *
   * @throws {AerobakError} `RESTORE_WRITE_FAILED` when a batch failed.
   */
  async close(): Promise<void> {
    if (!this.#failed && this.#rows !== undefined && this.#rows.length > 0) this.#send();
    while (this.#inFlight > 0) await this.#settled();
    if (this.#failed) throw this.#error;
  }

  /** Starts writing the batch being filled. */
  #send(): void {
    const rows = this.#rows!;
    this.#rows = undefined;
    this.#inFlight++;
    const acks = this.#ctx.acks;
    const ticket = acks?.seal();
    this.#write(rows).then(() => acks?.release(ticket!), (e) => {
      if (!this.#failed) {
        this.#failed = true;
        this.#error = e;
      }
    }).finally(() => {
      rows.clear();
      this.#free.push(rows);
      this.#inFlight--;
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }

  /** Resolves once any batch in flight has finished. */
  #settled(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }

  /** Waits for a free batch slot. */
  async #slot(): Promise<number> {
    while (this.#inFlight >= this.#maxInFlight) await this.#settled();
    if (this.#failed) throw this.#error;
    return 0;
  }

  /** Writes one batch, retrying the rows whose result is retriable. */
  async #write(rows: BatchRows): Promise<void> {
    const ctx = this.#ctx;
    const attempts = retryAttempts(ctx.retry);
    const classify = { ignoreRecordError: ctx.ignoreRecordError, batch: true };
    for (let k = 0;; k++) {
      let codes: Int32Array | undefined;
      let error: unknown;
      try {
        codes = await ctx.cluster.batchWriteRows(rows);
      } catch (e) {
        transportFailure(e, ctx.counters);
        error = e;
      }
      // Allocated only when some row needs another attempt.
      let again: boolean[] | undefined;
      let first = -1;
      let lastCode = 0;
      // Rows sent and never answered may have been applied: one in-doubt error per attempt,
      // as backup-go counts a batch call's.
      if (codes?.includes(ResultCode.NETWORK_ERROR)) ctx.counters.errorsInDoubt++;
      for (let i = 0; i < rows.length; i++) {
        const code = codes ? codes[i] : -1;
        const outcome = codes ? classifyWriteResult(code, classify) : "retry";
        if (outcome === "retry" || outcome === "fail") {
          again ??= new Array(rows.length).fill(false);
          again[i] = true;
          if (first < 0) first = i;
          lastCode = code;
        } else {
          count(ctx.counters, outcome);
        }
      }
      if (again === undefined) return;
      if (k + 1 >= attempts) {
        let failed = 0;
        for (const a of again) if (a) failed++;
        ctx.counters.recordsFailed += failed;
        // Only what the message names: the record itself is long gone.
        const row: AerospikeRecord = {
          namespace: rows.namespace(first),
          set: rows.set(first),
          digest: rows.digest(first),
          generation: 0,
          voidTime: 0,
          bins: [],
        };
        throw writeFailed(row, codes ? lastCode : 0, error);
      }
      ctx.counters.countRetry(retryCause(error ?? lastCode));
      await (ctx.clock ?? systemClock).sleep(retryDelayMs(ctx.retry, k), ctx.signal);
      rows.retain(again);
    }
  }
}

/** A writer that drops every token, for validate-only runs. */
export class DiscardWriter implements PipeWriter<AsbToken> {
  /**
   * Drops a token.
   *
   * @param _token Ignored.
   * @returns 0.
   */
  write(_token: AsbToken): number {
    return 0;
  }

  /** Nothing to close. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
