import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { Pipe, type PipeReader, type PipeWriter, type ReadyIterator } from "./pipe.ts";
import { roundRobinFanout } from "./fanout.ts";

function rangeReader(from: number, to: number): PipeReader<number> {
  return async function* () {
    for (let i = from; i < to; i++) yield i;
  };
}

class ArrayWriter implements PipeWriter<number> {
  items: number[] = [];
  closed = 0;
  failAt?: number;
  closeError?: Error;
  write(n: number): number {
    if (n === this.failAt) throw new AerobakError("TEST", `Write of ${n} failed`);
    this.items.push(n);
    return 8;
  }
  close(): Promise<void> {
    this.closed++;
    return this.closeError ? Promise.reject(this.closeError) : Promise.resolve();
  }
}

Deno.test("Pipe.run() delivers every item of every reader", async () => {
  const writers = [new ArrayWriter(), new ArrayWriter()];
  await new Pipe({ readers: [rangeReader(0, 500), rangeReader(500, 1000)], writers }).run();
  // Equal counts: fixed fan-out, reader i → writer i.
  assert.deepEqual(writers[0].items, [...Array(500).keys()]);
  assert.equal(writers[1].items.length, 500);
  assert.deepEqual(writers.map((w) => w.closed), [1, 1]);
});

Deno.test("Pipe.run() drops items a processor returns null for", async () => {
  const w = new ArrayWriter();
  await new Pipe({
    readers: [rangeReader(0, 10)],
    processors: [{ process: (n: number) => (n % 2 ? null : n) }, {
      process: (n: number) => Promise.resolve(n * 10),
    }],
    writers: [w],
  }).run();
  assert.deepEqual(w.items, [0, 20, 40, 60, 80]);
});

Deno.test("Pipe.run() round-robins one reader over several writers", async () => {
  const writers = [new ArrayWriter(), new ArrayWriter(), new ArrayWriter()];
  await new Pipe({ readers: [rangeReader(0, 9)], writers }, { fanout: roundRobinFanout(3) })
    .run();
  assert.deepEqual(writers.map((w) => w.items), [[0, 3, 6], [1, 4, 7], [2, 5, 8]]);
});

Deno.test("Pipe.run() stops every reader when a writer fails and still closes all", async () => {
  let readerReturned = 0;
  const endless: PipeReader<number> = async function* (signal) {
    try {
      for (let i = 0;; i++) {
        if (signal.aborted) throw signal.reason;
        yield i;
      }
    } finally {
      readerReturned++;
    }
  };
  const writers = [new ArrayWriter(), new ArrayWriter()];
  writers[1].failAt = 1000;
  await assert.rejects(
    new Pipe({ readers: [endless, endless], writers }, { channelSize: 4 }).run(),
    { code: "TEST" },
  );
  assert.equal(readerReturned, 2);
  assert.deepEqual(writers.map((w) => w.closed), [1, 1]);
});

Deno.test("Pipe.run() joins close errors with the error that stopped it", async () => {
  const w = new ArrayWriter();
  w.closeError = new Error("close failed");
  const failing: PipeReader<number> = async function* () {
    yield 1;
    throw new AerobakError("READ", "Read failed");
  };
  const err = await new Pipe({ readers: [failing], writers: [w] }).run().then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof AggregateError);
  assert.equal(err.errors[0].code, "READ");
  assert.equal(err.errors[1].message, "close failed");
});

Deno.test("Pipe.run() fails with a close error when nothing else failed", async () => {
  const w = new ArrayWriter();
  w.closeError = new AerobakError("CLOSE", "Close failed");
  await assert.rejects(new Pipe({ readers: [rangeReader(0, 3)], writers: [w] }).run(), {
    code: "CLOSE",
  });
  assert.deepEqual(w.items, [0, 1, 2]);
});

Deno.test("Pipe.run() rejects with the signal's reason when cancelled", async () => {
  const ac = new AbortController();
  const slow: PipeReader<number> = async function* (signal) {
    yield 1;
    await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
  };
  const w = new ArrayWriter();
  const run = new Pipe({ readers: [slow], writers: [w] }, { signal: ac.signal }).run();
  setTimeout(() => ac.abort(new AerobakError("CANCELLED", "Stop")), 0);
  await assert.rejects(run, { code: "CANCELLED" });
  assert.equal(w.closed, 1);
});

Deno.test("Pipe.fill reports channel occupancy while writers lag", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fills: number[] = [];
  const w: PipeWriter<number> = {
    async write() {
      await gate;
      return 0;
    },
    close: () => Promise.resolve(),
  };
  const pipe = new Pipe({ readers: [rangeReader(0, 10)], writers: [w] }, { channelSize: 4 });
  const run = pipe.run();
  for (let i = 0; i < 50; i++) await Promise.resolve();
  fills.push(pipe.fill);
  release();
  await run;
  fills.push(pipe.fill);
  assert.deepEqual(fills, [1, 0]);
});

/** Items in blocks: `next()` starts a block (one await), `nextReady()` hands out the rest. */
function blockReader(blocks: number[][], calls: { next: number; returned: number }) {
  let i = 0;
  let pending: number[] = [];
  const it: ReadyIterator<number> & AsyncIterable<number> = {
    next() {
      calls.next++;
      if (i === blocks.length) return Promise.resolve({ done: true, value: undefined });
      pending = blocks[i++].slice();
      return Promise.resolve({ done: false, value: pending.shift()! });
    },
    nextReady() {
      const v = pending.shift();
      if (v === 99) throw new AerobakError("BAD_ITEM", "Item 99 is bad");
      return v;
    },
    return() {
      calls.returned++;
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return () => it;
}

Deno.test("Pipe.run() takes ready items from nextReady() and awaits next() only for the rest", async () => {
  const calls = { next: 0, returned: 0 };
  const w = new ArrayWriter();
  const blocks = [[0, 1, 2, 3], [4], [5, 6, 7, 8, 9]];
  await new Pipe({ readers: [blockReader(blocks, calls)], writers: [w] }, { channelSize: 2 })
    .run();
  assert.deepEqual(w.items, [...Array(10).keys()]);
  assert.equal(calls.next, 4); // one per block, and the one that ends
  assert.equal(calls.returned, 0);
});

Deno.test("Pipe.run() fails and returns the reader when nextReady() throws", async () => {
  const calls = { next: 0, returned: 0 };
  const w = new ArrayWriter();
  await assert.rejects(
    new Pipe({ readers: [blockReader([[0, 1, 99, 2]], calls)], writers: [w] }).run(),
    { code: "BAD_ITEM" },
  );
  assert.equal(calls.returned, 1);
  assert.equal(w.closed, 1);
});
