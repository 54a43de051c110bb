import assert from "node:assert/strict";
import { copyThrottleStats, newThrottleStats, RetryCounter } from "./job_counters.ts";

Deno.test("RetryCounter counts retries by cause and copies them out", () => {
  const r = new RetryCounter();
  r.count("timeout");
  r.count("key_busy");
  r.count("timeout");
  const snap = r.snapshot();
  assert.equal(r.total, 3);
  assert.deepEqual(snap, { timeout: 2, key_busy: 1 });
  r.count("network");
  assert.deepEqual(snap, { timeout: 2, key_busy: 1 }, "a snapshot does not change");
});

Deno.test("copyThrottleStats() copies both limits' counters", () => {
  const t = newThrottleStats();
  t.records.waits = 2;
  const c = copyThrottleStats(t);
  t.records.waits = 5;
  assert.deepEqual(c, { records: { waits: 2, waitedMs: 0 }, bandwidth: { waits: 0, waitedMs: 0 } });
});
