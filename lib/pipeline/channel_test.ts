import assert from "node:assert/strict";
import { Channel, CLOSED, EMPTY } from "./channel.ts";

Deno.test("Channel.put() completes at once while there is room", () => {
  const ch = new Channel<number>(2);
  assert.equal(ch.put(1), undefined);
  assert.equal(ch.put(2), undefined);
  assert.ok(ch.put(3) instanceof Promise);
  assert.equal(ch.size, 2);
});

Deno.test("Channel.takeSync() keeps FIFO order across waiting producers", async () => {
  const ch = new Channel<number>(2);
  ch.put(1);
  ch.put(2);
  const p3 = ch.put(3)!;
  const p4 = ch.put(4)!;
  const got = [ch.takeSync(), ch.takeSync()];
  await p3;
  got.push(ch.takeSync(), ch.takeSync());
  await p4;
  assert.deepEqual(got, [1, 2, 3, 4]);
  assert.equal(ch.takeSync(), EMPTY);
  ch.close();
  assert.equal(ch.takeSync(), CLOSED);
});

Deno.test("Channel.take() waits for a put and ends with CLOSED", async () => {
  const ch = new Channel<string>(1);
  const t = ch.take();
  ch.put("a");
  assert.equal(await t, "a");
  const t2 = ch.take();
  ch.close();
  assert.equal(await t2, CLOSED);
});

Deno.test("Channel.close() still lets queued items drain", async () => {
  const ch = new Channel<number>(4);
  ch.put(1);
  ch.put(2);
  ch.close();
  const got: number[] = [];
  for await (const v of ch) got.push(v);
  assert.deepEqual(got, [1, 2]);
  assert.throws(() => ch.put(3), { code: "CHANNEL_CLOSED" });
});

Deno.test("Channel.abort() rejects waiting producers and consumers", async () => {
  const full = new Channel<number>(1);
  full.put(1);
  const producer = full.put(2)!;
  const empty = new Channel<number>(1);
  const consumer = empty.take();
  const reason = new Error("boom");
  full.abort(reason);
  empty.abort(reason);
  await assert.rejects(producer, /boom/);
  await assert.rejects(consumer, /boom/);
  assert.throws(() => full.takeSync(), /boom/);
});

Deno.test("Channel moves many items with bounded memory", async () => {
  const ch = new Channel<number>(8);
  const n = 100_000;
  let max = 0;
  const producer = (async () => {
    for (let i = 0; i < n; i++) {
      const w = ch.put(i);
      if (w) await w;
      max = Math.max(max, ch.size);
    }
    ch.close();
  })();
  let sum = 0;
  let expected = 0;
  for await (const v of ch) {
    assert.equal(v, expected++);
    sum += v;
  }
  await producer;
  assert.equal(sum, (n * (n - 1)) / 2);
  assert.ok(max <= 8);
});

Deno.test("Channel() rejects a capacity below 1", () => {
  assert.throws(() => new Channel(0), RangeError);
});
