import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { errorFromData, errorToData, Transfer, WorkerChannel } from "./worker_channel.ts";

/** Two channels wired to each other through a real MessageChannel (as a worker's are). */
function pair(a: Record<string, (args: unknown) => unknown>, b: typeof a) {
  const { port1, port2 } = new MessageChannel();
  const left = new WorkerChannel(port1, a);
  const right = new WorkerChannel(port2, b);
  port1.onmessage = (e) => left.receive(e.data);
  port2.onmessage = (e) => right.receive(e.data);
  return { left, right, close: () => (port1.close(), port2.close()) };
}

Deno.test("WorkerChannel.call() returns the other side's result and rebuilds its AerobakError", async () => {
  const seen: unknown[] = [];
  const { left, close } = pair({}, {
    add: (args) => (args as number[]).reduce((s, n) => s + n, 0),
    slow: async (args) => {
      await new Promise((r) => setTimeout(r, 1));
      return `slow ${args}`;
    },
    fail: () => {
      throw new AerobakError("STORAGE_WRITE", "Cannot write x.asb: disk full", {
        location: { file: "x.asb" },
        retriable: true,
      });
    },
    note: (args) => seen.push(args),
  });
  try {
    assert.equal(await left.call("add", [1, 2, 3]), 6);
    assert.equal(await left.call("slow", 7), "slow 7");
    await assert.rejects(left.call("fail"), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "STORAGE_WRITE");
      assert.equal(e.message, "Cannot write x.asb: disk full");
      assert.deepEqual(e.location, { file: "x.asb" });
      assert.equal(e.retriable, true);
      return true;
    });
    await assert.rejects(left.call("nothing"), /No handler for "nothing"/);
    left.notify("note", { n: 1 });
    assert.equal(await left.call("add", [0]), 0); // the notification arrived before
    assert.deepEqual(seen, [{ n: 1 }]);
  } finally {
    close();
  }
});

Deno.test("WorkerChannel moves buffers both ways with Transfer, and close() fails pending calls", async () => {
  const { left, right, close } = pair({}, {
    echo: (args) => {
      const buffer = args as ArrayBuffer;
      return new Transfer(buffer, [buffer]);
    },
    never: () => new Promise(() => {}),
  });
  try {
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const back = await left.call("echo", buffer, [buffer]) as ArrayBuffer;
    assert.equal(buffer.byteLength, 0, "moved, not copied");
    assert.deepEqual([...new Uint8Array(back)], [1, 2, 3]);
    const pending = left.call("never");
    left.close(new Error("worker gone"));
    await assert.rejects(pending, /worker gone/);
    await assert.rejects(left.call("echo"), /worker gone/);
    right.close(new Error("done"));
  } finally {
    close();
  }
});

Deno.test("errorToData() and errorFromData() keep a plain error's name and message", () => {
  const e = new RangeError("Invalid count 5");
  const back = errorFromData(errorToData(e));
  assert.equal(back.name, "RangeError");
  assert.equal(back.message, "Invalid count 5");
  assert.equal(errorFromData(errorToData("text")).message, "text");
});
