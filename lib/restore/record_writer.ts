/**
 * Restore writers: batch writes (`batchSize` records per call) or single puts, retrying
 * only the records whose result is retriable, with `base × multiplier^k ± 10 %` delays.
 * Secondary indexes and UDFs reaching a writer are restored there, or kept for the end
 * with `applyMetadataLast`.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { resultCodeName } from "../aerospike/result_code.ts";
import { AerobakError } from "../errors.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { type Clock, systemClock } from "../pipeline/clock.ts";
import type { PipeWriter } from "../pipeline/pipe.ts";
import { retryAttempts, retryDelayMs, type RetryPolicy } from "../policy.ts";
import { recordRef, restoreTtl } from "./processors.ts";
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
    for (let k = 0;; k++) {
      let code = 0;
      let error: unknown;
      try {
        code = (await ctx.cluster.put(record, ctx.policy, ttl)).resultCode;
      } catch (e) {
        transportFailure(e, ctx.counters);
        error = e;
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
          return 0;
        }
      }
      if (k + 1 >= attempts) {
        ctx.counters.recordsFailed++;
        throw writeFailed(record, code, error);
      }
      ctx.counters.retries++;
      await (ctx.clock ?? systemClock).sleep(retryDelayMs(ctx.retry, k), ctx.signal);
    }
  }

  /** Nothing to flush. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Buffers records and writes them `batchSize` at a time. */
export class BatchRecordWriter implements PipeWriter<AsbToken> {
  readonly #ctx: RecordWriterContext;
  readonly #batchSize: number;
  #records: AerospikeRecord[] = [];
  #ttls: number[] = [];

  /**
   * Creates a writer.
   *
   * @param ctx Shared settings.
   * @param batchSize Records per batch call.
   */
  constructor(ctx: RecordWriterContext, batchSize: number) {
    this.#ctx = ctx;
    this.#batchSize = batchSize;
  }

  /**
   * Buffers a record; writes the batch once full.
   *
   * @param token A record, sindex or UDF.
   * @returns 0, or a promise while a batch is written.
   */
  write(token: AsbToken): number | Promise<number> {
    if (token.kind !== "record") return this.#ctx.metadata(token).then(() => 0);
    const ctx = this.#ctx;
    this.#records.push(token.record);
    this.#ttls.push(restoreTtl(token.record, ctx.extraTtl, ctx.nowSeconds()));
    if (this.#records.length >= this.#batchSize) return this.#flush().then(() => 0);
    return 0;
  }

  /** Writes the records still buffered. */
  close(): Promise<void> {
    return this.#flush();
  }

  async #flush(): Promise<void> {
    let records = this.#records;
    let ttls = this.#ttls;
    if (records.length === 0) return;
    this.#records = [];
    this.#ttls = [];
    const ctx = this.#ctx;
    const attempts = retryAttempts(ctx.retry);
    for (let k = 0;; k++) {
      let codes: Int32Array | undefined;
      let error: unknown;
      try {
        codes = await ctx.cluster.batchWrite(records, ttls, ctx.policy);
      } catch (e) {
        transportFailure(e, ctx.counters);
        error = e;
      }
      const again: AerospikeRecord[] = [];
      const againTtls: number[] = [];
      let lastCode = 0;
      for (let i = 0; i < records.length; i++) {
        const code = codes ? codes[i] : -1;
        const outcome = codes
          ? classifyWriteResult(code, { ignoreRecordError: ctx.ignoreRecordError, batch: true })
          : "retry";
        if (outcome === "retry" || outcome === "fail") {
          again.push(records[i]);
          againTtls.push(ttls[i]);
          lastCode = code;
        } else {
          count(ctx.counters, outcome);
        }
      }
      if (again.length === 0) return;
      if (k + 1 >= attempts) {
        ctx.counters.recordsFailed += again.length;
        throw writeFailed(again[0], codes ? lastCode : 0, error);
      }
      ctx.counters.retries++;
      await (ctx.clock ?? systemClock).sleep(retryDelayMs(ctx.retry, k), ctx.signal);
      records = again;
      ttls = againTtls;
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
