import assert from "node:assert/strict";
import type { BatchRows } from "../aerospike/batch.ts";
import type { Cluster } from "../aerospike/cluster.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { ManualClock } from "../pipeline/clock.ts";
import {
  BatchRecordWriter,
  type RecordWriterContext,
  SingleRecordWriter,
} from "./record_writer.ts";
import { RestoreCounters } from "./stats.ts";

function token(i: number): AsbToken {
  const digest = new Uint8Array(20);
  digest[0] = i;
  const record: AerospikeRecord = {
    namespace: "test",
    set: "",
    digest,
    generation: 1,
    voidTime: 0,
    bins: [{ name: "a", type: 1, value: BigInt(i) }],
  };
  return { kind: "record", record };
}

/** The first digest byte (the record number) of each row. */
function firstBytes(rows: BatchRows): number[] {
  return Array.from({ length: rows.length }, (_, i) => rows.digest(i)[0]);
}

/** A cluster whose writes answer from a script: one code list per call. */
function scriptedCluster(script: (number[] | Error)[]) {
  const calls: number[][] = [];
  const next = (digests: number[]) => {
    calls.push(digests);
    const step = script.shift() ?? digests.map(() => 0);
    if (step instanceof Error) throw step;
    return step;
  };
  const cluster = {
    put: (r: AerospikeRecord) =>
      Promise.resolve({ resultCode: next([r.digest[0]])[0], generation: 1 }),
    batchWriteRows: (rows: BatchRows) => {
      // Read at once: the writer reuses the rows once the batch is done.
      const digests = firstBytes(rows);
      return Promise.resolve().then(() => Int32Array.from(next(digests)));
    },
  } as unknown as Cluster;
  return { cluster, calls };
}

function context(
  cluster: Cluster,
  clock: ManualClock,
  counters: RestoreCounters,
): RecordWriterContext {
  return {
    cluster,
    policy: {},
    retry: { baseTimeoutMs: 100, multiplier: 2, maxRetries: 3 },
    ignoreRecordError: false,
    extraTtl: 0,
    counters,
    metadata: () => Promise.resolve(),
    nowSeconds: () => 0,
    clock,
  };
}

async function settle(clock: ManualClock, p: Promise<unknown>): Promise<void> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  while (!done) await clock.advance(1000);
}

Deno.test("BatchRecordWriter re-sends only the records with retriable codes", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster, calls } = scriptedCluster([[0, 9, 3, 13], [11], [0]]);
  const w = new BatchRecordWriter(context(cluster, clock, counters), 4);
  for (let i = 0; i < 3; i++) assert.equal(w.write(token(i)), 0);
  const p = w.write(token(3)) as Promise<number>;
  await settle(clock, p);
  await w.close();
  assert.deepEqual(calls, [[0, 1, 2, 3], [1], [1]]);
  assert.equal(counters.recordsInserted, 2);
  assert.equal(counters.recordsFresher, 1);
  assert.equal(counters.recordsIgnored, 1);
  assert.equal(counters.retries, 2);
});

Deno.test("BatchRecordWriter fails once the attempts are used up", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster } = scriptedCluster([[9], [9], [9]]);
  const w = new BatchRecordWriter(context(cluster, clock, counters), 1);
  const p = w.write(token(7)) as Promise<number>;
  const failed = assert.rejects(p, { code: "RESTORE_WRITE_FAILED", resultCode: 9 });
  await settle(clock, p);
  await failed;
  assert.equal(counters.retries, 2);
  assert.equal(counters.recordsFailed, 1);
});

Deno.test("SingleRecordWriter retries transport errors and counts in-doubt ones", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const err = new AerobakError("TIMEOUT", "Timed out", { inDoubt: true, retriable: true });
  const { cluster, calls } = scriptedCluster([err, [5]]);
  const w = new SingleRecordWriter(context(cluster, clock, counters));
  await settle(clock, w.write(token(1)));
  assert.equal(calls.length, 2);
  assert.equal(counters.errorsInDoubt, 1);
  assert.equal(counters.recordsExisted, 1);
});

Deno.test("SingleRecordWriter fails at once on a record-specific code unless ignoring", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster } = scriptedCluster([[13], [13]]);
  const ctx = context(cluster, clock, counters);
  await assert.rejects(new SingleRecordWriter(ctx).write(token(1)), { resultCode: 13 });
  assert.equal(counters.recordsFailed, 1);
  await new SingleRecordWriter({ ...ctx, ignoreRecordError: true }).write(token(2));
  assert.equal(counters.recordsIgnored, 1);
  assert.equal(counters.recordsFailed, 1);
  assert.equal(counters.retries, 0);
});

/** A cluster whose batch writes wait until the test answers them, in any order. */
function gatedCluster() {
  const pending: { digests: number[]; answer: (codes: number[] | Error) => void }[] = [];
  const cluster = {
    batchWriteRows: (rows: BatchRows) =>
      new Promise<Int32Array>((resolve, reject) => {
        pending.push({
          digests: firstBytes(rows),
          answer: (codes) =>
            codes instanceof Error ? reject(codes) : resolve(Int32Array.from(codes)),
        });
      }),
  } as unknown as Cluster;
  return { cluster, pending };
}

async function ticks(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

Deno.test("BatchRecordWriter keeps up to maxAsyncBatches batches in flight", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster, pending } = gatedCluster();
  const w = new BatchRecordWriter(context(cluster, clock, counters), 2, 2);
  for (let i = 0; i < 3; i++) assert.equal(w.write(token(i)), 0);
  // The second batch takes the last slot: the writer waits until one is free.
  let waited = false;
  const full = (w.write(token(3)) as Promise<number>).then(() => (waited = true));
  await ticks();
  assert.deepEqual(pending.map((p) => p.digests), [[0, 1], [2, 3]]);
  assert.equal(waited, false);
  pending[1].answer([0, 0]);
  await full;
  assert.equal(w.write(token(4)), 0);
  const closed = w.close();
  await ticks();
  assert.deepEqual(pending.map((p) => p.digests), [[0, 1], [2, 3], [4]]);
  pending[0].answer([0, 0]);
  pending[2].answer([0]);
  await closed;
  assert.equal(counters.recordsInserted, 5);
});

Deno.test("BatchRecordWriter fails the next write and close once a batch in flight failed", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster, pending } = gatedCluster();
  const ctx = context(cluster, clock, counters);
  const w = new BatchRecordWriter({ ...ctx, retry: { ...ctx.retry, maxRetries: 1 } }, 1, 4);
  assert.equal(w.write(token(1)), 0);
  assert.equal(w.write(token(2)), 0);
  pending[0].answer([9]);
  await ticks();
  assert.throws(() => w.write(token(3)), { code: "RESTORE_WRITE_FAILED", resultCode: 9 });
  const closed = assert.rejects(w.close(), { code: "RESTORE_WRITE_FAILED", resultCode: 9 });
  pending[1].answer([0]);
  await closed;
  // Nothing more was sent after the failure; the batch in flight was waited for.
  assert.equal(pending.length, 2);
  assert.equal(counters.recordsFailed, 1);
  assert.equal(counters.recordsInserted, 1);
});

Deno.test("BatchRecordWriter names the row that failed after its retries", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster, calls } = scriptedCluster([[0, 9, 0], [9], [9]]);
  const w = new BatchRecordWriter(context(cluster, clock, counters), 3);
  assert.equal(w.write(token(0)), 0);
  assert.equal(w.write(token(1)), 0);
  const p = w.write(token(2)) as Promise<number>;
  await settle(clock, p);
  const digest = (token(1) as { record: AerospikeRecord }).record.digest;
  await assert.rejects(w.close(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "RESTORE_WRITE_FAILED");
    assert.equal(e.resultCode, 9);
    assert.deepEqual(e.record, {
      namespace: "test",
      set: "",
      digest: btoa(String.fromCharCode(...digest)),
    });
    return true;
  });
  assert.deepEqual(calls, [[0, 1, 2], [1], [1]]);
  assert.equal(counters.recordsInserted, 2);
  assert.equal(counters.recordsFailed, 1);
});

Deno.test("BatchRecordWriter refuses a record it cannot encode and sends the others", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const { cluster, calls } = scriptedCluster([]);
  const w = new BatchRecordWriter(context(cluster, clock, counters), 4);
  assert.equal(w.write(token(1)), 0);
  const bad = token(2) as { kind: "record"; record: AerospikeRecord };
  bad.record.bins = [{ name: "a-bin-name-of-16", type: 1, value: 1n }];
  assert.throws(() => w.write(bad), { code: "RESTORE_WRITE_FAILED" });
  assert.equal(counters.recordsFailed, 1);
  await w.close();
  assert.deepEqual(calls, [[1]]);
  assert.equal(counters.recordsInserted, 1);
});

Deno.test("BatchRecordWriter reuses the row buffers of finished batches", async () => {
  const clock = new ManualClock();
  const counters = new RestoreCounters();
  const seen: BatchRows[] = [];
  const cluster = {
    batchWriteRows: (rows: BatchRows) => {
      seen.push(rows);
      return Promise.resolve(new Int32Array(rows.length));
    },
  } as unknown as Cluster;
  const w = new BatchRecordWriter(context(cluster, clock, counters), 2, 2);
  for (let i = 0; i < 8; i++) {
    const r = w.write(token(i));
    if (r !== 0) await r;
    await ticks();
  }
  await w.close();
  assert.equal(seen.length, 4);
  assert.equal(new Set(seen).size, 1);
  assert.equal(counters.recordsInserted, 8);
});
