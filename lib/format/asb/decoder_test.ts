import assert from "node:assert/strict";
import { decodeAsb } from "./decoder.ts";
import type { AsbToken } from "./parser.ts";

const te = new TextEncoder();
const HEAD = "Version 3.1\n# namespace test\n";

function record(i: number): string {
  return `+ n test\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ s demo\n+ g ${i}\n+ t 0\n+ b 1\n- I a ${i}\n`;
}

/** A stream of the given chunks that counts reads and remembers a cancel reason. */
function spyStream(chunks: string[]) {
  const spy = { reads: 0, cancelled: undefined as unknown };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      spy.reads++;
      if (i === chunks.length) controller.close();
      else controller.enqueue(te.encode(chunks[i++]));
    },
    cancel(reason) {
      spy.cancelled = reason ?? "cancelled";
    },
  }, { highWaterMark: 0 });
  return { stream, spy };
}

function generation(t: AsbToken | undefined): number | undefined {
  return t?.kind === "record" ? t.record.generation : undefined;
}

Deno.test("AsbDecoder.nextReady() hands out buffered tokens and leaves reading to next()", async () => {
  const { stream, spy } = spyStream([HEAD + record(1) + record(2), record(3)]);
  const decoder = decodeAsb(stream, { file: "t.asb" });
  assert.equal(decoder.nextReady(), undefined); // nothing read yet
  assert.equal(generation((await decoder.next()).value), 1);
  const reads = spy.reads;
  assert.equal(generation(decoder.nextReady()), 2);
  assert.equal(decoder.nextReady(), undefined); // record 3 is not read yet
  assert.equal(spy.reads, reads);
  assert.equal(generation((await decoder.next()).value), 3);
  assert.equal(decoder.nextReady(), undefined);
  assert.equal((await decoder.next()).done, true);
  assert.equal(decoder.nextReady(), undefined);
});

Deno.test("AsbDecoder.nextReady() returns the token readHeader() read ahead", async () => {
  const { stream } = spyStream([HEAD + record(7) + record(8)]);
  const decoder = decodeAsb(stream);
  assert.equal((await decoder.readHeader()).namespace, "test");
  assert.equal(generation(decoder.nextReady()), 7);
  assert.equal(generation(decoder.nextReady()), 8);
});

Deno.test("AsbDecoder.nextReady() throws ASB_SYNTAX with a location and cancels the stream", async () => {
  const { stream, spy } = spyStream([HEAD + record(1) + "+ q oops\n" + record(2), record(3)]);
  const decoder = decodeAsb(stream, { file: "bad.asb" });
  assert.equal(generation((await decoder.next()).value), 1);
  // The bad line starts right after record 1, on line 10.
  const offset = te.encode(HEAD + record(1)).length;
  assert.throws(() => decoder.nextReady(), {
    code: "ASB_SYNTAX",
    location: { file: "bad.asb", line: 10, column: 1, offset },
  });
  await Promise.resolve();
  assert.ok(spy.cancelled !== undefined);
  assert.equal(decoder.nextReady(), undefined);
  assert.equal((await decoder.next()).done, true);
});
