import assert from "node:assert/strict";
import { defaultFanout, fixedFanout, partitionFanout, roundRobinFanout } from "./fanout.ts";

Deno.test("fixedFanout() sends reader i to writer i", () => {
  const f = fixedFanout<string>();
  assert.equal(f("x", 0), 0);
  assert.equal(f("x", 3), 3);
});

Deno.test("roundRobinFanout() cycles over the writers", () => {
  const f = roundRobinFanout<number>(3);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((i) => f(i, 0)), [0, 1, 2, 0, 1, 2, 0]);
});

Deno.test("partitionFanout() splits partitions into contiguous ranges", () => {
  const f = partitionFanout<number>(3, (p) => p);
  // 4096 / 3 = 1365 partitions per writer, the remainder goes to the last.
  assert.equal(f(0, 0), 0);
  assert.equal(f(1364, 0), 0);
  assert.equal(f(1365, 0), 1);
  assert.equal(f(2730, 0), 2);
  assert.equal(f(4095, 0), 2);
});

Deno.test("defaultFanout() is fixed for equal counts, else round-robin", () => {
  assert.equal(defaultFanout<number>(2, 2)(0, 1), 1);
  const rr = defaultFanout<number>(1, 2);
  assert.deepEqual([rr(0, 0), rr(0, 0), rr(0, 0)], [0, 1, 0]);
});

Deno.test("roundRobinFanout() rejects zero writers", () => {
  assert.throws(() => roundRobinFanout(0), RangeError);
});
