import assert from "node:assert/strict";
import { chunked, collect } from "../_test_helpers.ts";
import {
  answerText,
  emptyStream,
  errorMessage,
  heldBody,
  RequestDeadline,
  RequestTimeout,
  stripQuery,
} from "./_http.ts";

function bytes(n: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: n }, (_, i) => i & 0xff);
}

/** A body that sends `good` bytes, then fails with `err`. */
function breaking(good: Uint8Array, err: Error): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(c) {
      if (sent) return c.error(err);
      sent = true;
      c.enqueue(good);
    },
  });
}

Deno.test("heldBody() drops skipped bytes across chunk edges and frees the slot once at the end", async () => {
  for (const skip of [0, 1, 3, 4, 7, 10, 11]) {
    let released = 0;
    let ended = -1;
    const body = heldBody(new Response(chunked(bytes(10), [3, 1, 0, 4, 2])), () => released++, {
      skip,
      onEnd: (received) => ended = received,
    });
    assert.deepEqual(await collect(body), bytes(10).subarray(skip), `skip ${skip}`);
    assert.equal(released, 1);
    assert.equal(ended, 10);
  }
});

Deno.test("heldBody() reads only as it is read", async () => {
  let pulls = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      c.enqueue(bytes(2));
      if (pulls === 3) c.close();
    },
  }, { highWaterMark: 0 });
  const reader = heldBody(new Response(source), () => {}).getReader();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(pulls, 0);
  await reader.read();
  assert.equal(pulls, 1);
  await reader.cancel();
});

Deno.test("heldBody() maps a broken body to the stream's error after freeing the slot", async () => {
  let released = 0;
  const cut = new Error("connection reset");
  const body = heldBody(new Response(breaking(bytes(5), cut)), () => released++, {
    skip: 2,
    mapError: (err, received) => new Error(`broke after ${received}: ${errorMessage(err)}`),
  });
  const reader = body.getReader();
  assert.deepEqual((await reader.read()).value, bytes(5).subarray(2));
  await assert.rejects(reader.read(), /^Error: broke after 5: connection reset$/);
  assert.equal(released, 1);
  // Without a mapping the error stays as it is.
  const plain = heldBody(new Response(breaking(bytes(1), cut)), () => released++);
  await assert.rejects(collect(plain), (e) => e === cut);
  assert.equal(released, 2);
});

Deno.test("heldBody() fails the stream with what onEnd throws", async () => {
  let released = 0;
  const body = heldBody(new Response(bytes(3)), () => released++, {
    onEnd: (received) => {
      if (received < 5) throw new RangeError(`ended after ${received} of 5 bytes`);
    },
  });
  await assert.rejects(collect(body), /ended after 3 of 5 bytes/);
  assert.equal(released, 1);
});

Deno.test("heldBody() frees the slot on cancel and at once for an answer without a body", async () => {
  let released = 0;
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    pull: (c) => c.enqueue(bytes(4)),
    cancel: (reason) => {
      cancelled = reason;
    },
  });
  const reader = heldBody(new Response(source), () => released++).getReader();
  await reader.read();
  await reader.cancel("enough");
  assert.equal(released, 1);
  assert.equal(cancelled, "enough");

  let ended = -1;
  const none = heldBody(new Response(null, { status: 204 }), () => released++, {
    onEnd: (received) => ended = received,
  });
  assert.equal(released, 2, "released before the stream is read");
  assert.deepEqual(await collect(none), new Uint8Array(0));
  assert.equal(released, 2);
  assert.equal(ended, 0);
});

Deno.test("RequestDeadline aborts with a RequestTimeout when its time runs out", async () => {
  const deadline = new RequestDeadline(1);
  await new Promise((resolve) => deadline.signal.addEventListener("abort", resolve));
  assert.equal(deadline.timedOut, true);
  const reason = deadline.signal.reason;
  assert.ok(reason instanceof RequestTimeout);
  assert.equal(reason.name, "TimeoutError");
  assert.equal(reason.message, "no complete answer within 1 ms");
  deadline.clear();
});

Deno.test("RequestDeadline follows the outer signal until cleared, and 0 means no time limit", async () => {
  const outer = new AbortController();
  const followed = new RequestDeadline(0, outer.signal);
  const cleared = new RequestDeadline(0, outer.signal);
  cleared.clear();
  outer.abort(new Error("stop"));
  assert.equal(followed.signal.aborted, true);
  assert.equal((followed.signal.reason as Error).message, "stop");
  assert.equal(followed.timedOut, false);
  assert.equal(cleared.signal.aborted, false);
  // Already aborted outside: aborted from the start.
  assert.equal(new RequestDeadline(0, outer.signal).signal.aborted, true);
  {
    using stopped = new RequestDeadline(5);
    stopped.clear();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(stopped.signal.aborted, false, "a cleared deadline never fires");
  }
});

Deno.test("answerText(), emptyStream(), errorMessage() and stripQuery() helpers", async () => {
  assert.equal(await answerText(new Response("<Error/>")), "<Error/>");
  const used = new Response("x");
  await used.text();
  assert.equal(await answerText(used), "");
  assert.deepEqual(await collect(emptyStream()), new Uint8Array(0));
  assert.equal(errorMessage(new TypeError("bad")), "bad");
  assert.equal(errorMessage("plain"), "plain");
  assert.equal(stripQuery("https://h/p?upload_id=secret"), "https://h/p");
  assert.equal(stripQuery("https://h/p"), "https://h/p");
});
