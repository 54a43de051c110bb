import assert from "node:assert/strict";
import { ManualClock, systemClock } from "./clock.ts";

Deno.test("ManualClock.advance() wakes sleeps in time order", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.sleep(300).then(() => order.push(`b@${clock.now()}`));
  clock.sleep(100).then(() => order.push(`a@${clock.now()}`));
  await clock.advance(200);
  assert.deepEqual(order, ["a@100"]);
  await clock.advance(200);
  assert.deepEqual(order, ["a@100", "b@300"]);
  assert.equal(clock.now(), 400);
  assert.equal(clock.pending, 0);
});

Deno.test("ManualClock.sleep() rejects on abort", async () => {
  const clock = new ManualClock();
  const ac = new AbortController();
  const p = clock.sleep(100, ac.signal);
  ac.abort(new Error("cancelled"));
  await assert.rejects(p, /cancelled/);
  assert.equal(clock.pending, 0);
});

Deno.test("systemClock.sleep() rejects at once when already aborted", async () => {
  const ac = new AbortController();
  ac.abort(new Error("gone"));
  await assert.rejects(systemClock.sleep(10_000, ac.signal), /gone/);
});
