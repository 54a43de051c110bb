import assert from "node:assert/strict";
import { RequestSlots } from "./_request_slots.ts";

/** Whether a promise has settled once every pending microtask and timer callback ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("RequestSlots.acquire() waits while every slot is held and resumes on release", async () => {
  const slots = new RequestSlots(2);
  const a = await slots.acquire();
  const b = await slots.acquire();
  const c = slots.acquire();
  assert.equal(await settled(c), false);
  a();
  assert.equal(await settled(c), true);
  const d = slots.acquire();
  assert.equal(await settled(d), false);
  b();
  (await c)();
  (await d)();
  // Every slot is back: two more come at once, a third waits.
  await slots.acquire();
  await slots.acquire();
  assert.equal(await settled(slots.acquire()), false);
});

Deno.test("RequestSlots release functions free their slot only once", async () => {
  const slots = new RequestSlots(1);
  const release = await slots.acquire();
  const second = slots.acquire();
  const third = slots.acquire();
  release();
  release();
  assert.equal(await settled(second), true);
  assert.equal(await settled(third), false, "a second call must not free a slot again");
  (await second)();
  assert.equal(await settled(third), true);
});

Deno.test("RequestSlots hands slots to waiters in arrival order, through long queues", async () => {
  const slots = new RequestSlots(3);
  const held = [await slots.acquire(), await slots.acquire(), await slots.acquire()];
  const order: number[] = [];
  const waiters: Promise<void>[] = [];
  // More waiters than the compaction threshold, so the queue is compacted on the way.
  for (let i = 0; i < 1000; i++) {
    waiters.push(
      slots.acquire().then((release) => {
        order.push(i);
        // Each waiter frees its slot a little later, as a request ending later would.
        queueMicrotask(release);
      }),
    );
  }
  for (const release of held) release();
  await Promise.all(waiters);
  assert.deepEqual(order, Array.from({ length: 1000 }, (_, i) => i));
  await new Promise((resolve) => setTimeout(resolve, 0));
  // All slots are free again and the queue is empty.
  for (let i = 0; i < 3; i++) assert.equal(await settled(slots.acquire()), true);
  assert.equal(await settled(slots.acquire()), false);
});

Deno.test("RequestSlots with a limit of 0 or less never waits", async () => {
  for (const limit of [0, -1]) {
    const slots = new RequestSlots(limit);
    const releases = await Promise.all(Array.from({ length: 100 }, () => slots.acquire()));
    for (const release of releases) release();
    assert.equal(await settled(slots.acquire()), true);
  }
});
