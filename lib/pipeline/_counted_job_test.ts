import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ManualClock } from "./clock.ts";
import { type JobCounters, startCountedJob } from "./_counted_job.ts";

class Counters implements JobCounters<{ records: number; bytes: number; ended: boolean }> {
  recordsRead = 0;
  closedBytes = 0;
  endedAt?: number;
  snapshot(openBytes: number) {
    return {
      records: this.recordsRead,
      bytes: this.closedBytes + openBytes,
      ended: this.endedAt !== undefined,
    };
  }
}

Deno.test("startCountedJob() snapshots the counters with the open bytes and marks the end", async () => {
  const counters = new Counters();
  let open = 0;
  const clock = new ManualClock(0);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const handle = startCountedJob(async (ctx) => {
    assert.equal(ctx.clock, clock);
    ctx.onPipe({ fill: 0.5 });
    counters.recordsRead = 10;
    counters.closedBytes = 100;
    open = 20;
    await gate;
    open = 0;
    counters.closedBytes = 130;
  }, { counters, openBytes: () => open, clock });
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(handle.stats(), { records: 10, bytes: 120, ended: false });
  await clock.advance(1000);
  const m = handle.metrics();
  assert.equal(m.recordsPerSecond, 10);
  assert.equal(m.bytesPerSecond, 120);
  assert.equal(m.pipelineFill, 0.5);
  release();
  assert.deepEqual(await handle.wait(), { records: 10, bytes: 130, ended: true });
});

Deno.test("startCountedJob() marks the end of a failed job too", async () => {
  const counters = new Counters();
  const handle = startCountedJob(() => Promise.reject(new AerobakError("X", "Broken")), {
    counters,
    openBytes: () => 0,
  });
  await assert.rejects(handle.wait(), { code: "X" });
  assert.notEqual(counters.endedAt, undefined);
});
