import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { MetricsMeter } from "./metrics.ts";

Deno.test("MetricsMeter.sample() computes rates over the window", async () => {
  const clock = new ManualClock();
  let records = 0;
  let bytes = 0;
  const meter = new MetricsMeter({ records: () => records, bytes: () => bytes, fill: () => 0.5 }, {
    clock,
    windowMs: 1000,
  });
  records = 100;
  bytes = 4000;
  await clock.advance(500);
  assert.deepEqual(meter.sample(), { recordsPerSecond: 0, bytesPerSecond: 0, pipelineFill: 0.5 });
  await clock.advance(500);
  assert.deepEqual(meter.sample(), {
    recordsPerSecond: 100,
    bytesPerSecond: 4000,
    pipelineFill: 0.5,
  });
  records = 400;
  await clock.advance(2000);
  assert.equal(meter.sample().recordsPerSecond, 150);
});
