import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { LeakyBucket, TokenBucket } from "./rate_limiter.ts";

Deno.test("TokenBucket.take() spaces takes evenly at the rate", async () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(4, { clock });
  const done: number[] = [];
  assert.equal(bucket.take(), undefined);
  const waits = [bucket.take()!, bucket.take()!, bucket.take()!];
  waits.forEach((p, i) => p.then(() => done.push(i)));
  await clock.advance(249);
  assert.deepEqual(done, []);
  await clock.advance(1);
  assert.deepEqual(done, [0]);
  await clock.advance(500);
  assert.deepEqual(done, [0, 1, 2]);
});

Deno.test("TokenBucket.take() does not bank tokens while idle (burst 1)", async () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(10, { clock });
  bucket.take();
  await clock.advance(10_000);
  assert.equal(bucket.take(), undefined);
  assert.ok(bucket.take() instanceof Promise);
});

Deno.test("TokenBucket.take() rejects when the signal aborts", async () => {
  const clock = new ManualClock();
  const ac = new AbortController();
  const bucket = new TokenBucket(1, { clock, signal: ac.signal });
  bucket.take();
  const p = bucket.take()!;
  ac.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
});

Deno.test("LeakyBucket.wait() holds one second of bytes, then throttles", async () => {
  const clock = new ManualClock();
  const bucket = new LeakyBucket(1000, { clock });
  assert.equal(bucket.wait(600), undefined);
  assert.equal(bucket.wait(400), undefined);
  let done = false;
  bucket.wait(250)!.then(() => (done = true));
  await clock.advance(249);
  assert.equal(done, false);
  await clock.advance(1);
  assert.equal(done, true);
  await clock.advance(2000);
  assert.equal(bucket.wait(1000), undefined);
});

Deno.test("TokenBucket() rejects a non-positive rate", () => {
  assert.throws(() => new TokenBucket(0), RangeError);
  assert.throws(() => new LeakyBucket(-1), RangeError);
});

Deno.test("TokenBucket and LeakyBucket count the waits they impose in their stats", async () => {
  const clock = new ManualClock();
  const stats = { waits: 0, waitedMs: 0 };
  const tokens = new TokenBucket(4, { clock, stats });
  tokens.take();
  const a = tokens.take()!;
  const b = tokens.take()!;
  assert.deepEqual(stats, { waits: 2, waitedMs: 750 });
  await clock.advance(500);
  await Promise.all([a, b]);
  const bytes = { waits: 0, waitedMs: 0 };
  const leaky = new LeakyBucket(1000, { clock, stats: bytes });
  assert.equal(leaky.wait(1000), undefined);
  assert.deepEqual(bytes, { waits: 0, waitedMs: 0 });
  const p = leaky.wait(500)!;
  assert.deepEqual(bytes, { waits: 1, waitedMs: 500 });
  await clock.advance(500);
  await p;
});
