import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ManualClock } from "./clock.ts";
import { Job } from "./job.ts";

const zero = () => ({ recordsPerSecond: 0, bytesPerSecond: 0, pipelineFill: 0 });

Deno.test("Job.wait() resolves with the final stats", async () => {
  let n = 0;
  const job = new Job(() => {
    n = 3;
    return Promise.resolve();
  }, { stats: () => ({ n }), metrics: zero });
  assert.equal(job.status, "running");
  assert.deepEqual(await job.wait(), { n: 3 });
  assert.equal(job.status, "done");
  assert.deepEqual(job.errors, []);
});

Deno.test("Job records a failure without an unhandled rejection", async () => {
  const job = new Job(() => Promise.reject(new AerobakError("X", "Broken")), {
    stats: () => ({}),
    metrics: zero,
  });
  await assert.rejects(job.wait(), { code: "X" });
  assert.equal(job.status, "failed");
  assert.equal(job.errors[0].code, "X");
  await job.cancel(); // after the end: changes nothing
  assert.equal(job.status, "failed");
});

Deno.test("Job flattens joined errors and wraps plain errors", async () => {
  const job = new Job(
    () => Promise.reject(new AggregateError([new AerobakError("A", "a"), new Error("b")])),
    { stats: () => ({}), metrics: zero },
  );
  await assert.rejects(job.wait(), { code: "A" });
  assert.deepEqual(job.errors.map((e) => e.code), ["A", "INTERNAL"]);
});

Deno.test("Job.cancel() aborts the work and reports CANCELLED", async () => {
  let sawAbort = false;
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const work = (signal: AbortSignal) =>
    new Promise<void>((_, reject) => {
      signal.addEventListener("abort", () => {
        sawAbort = true;
        reject(signal.reason);
      });
      started();
    });
  const job = new Job(work, { stats: () => ({}), metrics: zero });
  await running;
  await job.cancel();
  assert.ok(sawAbort);
  assert.equal(job.status, "cancelled");
  await assert.rejects(job.wait(), { code: "CANCELLED" });
});

Deno.test("Job reports progress on the clock and once at the end", async () => {
  const clock = new ManualClock();
  const calls: boolean[] = [];
  let finish!: () => void;
  const job = new Job(() => new Promise<void>((r) => (finish = r)), {
    stats: () => ({}),
    metrics: zero,
    clock,
    progressIntervalMs: 100,
    progress: { report: (_s, _m, final) => calls.push(final) },
  });
  await clock.advance(250);
  assert.deepEqual(calls, [false, false]);
  finish();
  await job.wait();
  assert.deepEqual(calls, [false, false, true]);
});

Deno.test("Job.cancel() before the work starts never runs it", async () => {
  let ran = false;
  const job = new Job(() => {
    ran = true;
    return Promise.resolve();
  }, { stats: () => ({}), metrics: zero });
  await job.cancel();
  assert.equal(ran, false);
  assert.equal(job.status, "cancelled");
});
