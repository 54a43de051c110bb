import assert from "node:assert/strict";
import { concatBytes } from "../_test_utils.ts";
import { bufferedSink } from "./_buffered_sink.ts";

/** A sink target that records the size of each write and keeps a copy of the bytes. */
function recordingTarget() {
  const writes: number[] = [];
  const parts: Uint8Array[] = [];
  return {
    writes,
    bytes: () => concatBytes(parts),
    target: {
      write(bytes: Uint8Array) {
        writes.push(bytes.length);
        parts.push(bytes.slice());
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
      abort() {},
      mapError: (e: unknown) => e as Error,
    },
  };
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

Deno.test("bufferedSink() coalesces small writes up to its size and passes large ones through", async () => {
  const r = recordingTarget();
  const w = bufferedSink(r.target, 256 * 1024).getWriter();
  const chunks = [
    pattern(100 * 1024, 1), // large, nothing buffered: straight through
    ...Array.from({ length: 50 }, (_, i) => pattern(10_000, i)), // coalesced
    pattern(300 * 1024, 9), // larger than the buffer: after a flush, straight through
    pattern(10, 3), // the small tail
  ];
  for (const c of chunks) await w.write(c);
  await w.close();
  assert.deepEqual(r.bytes(), concatBytes(chunks));
  assert.equal(r.writes[0], 100 * 1024);
  assert.ok(r.writes.every((n) => n <= 300 * 1024), String(r.writes));
  // 500,000 small bytes in writes of at most the buffer's size, not 50 writes.
  assert.ok(r.writes.length <= 6, String(r.writes));
});

Deno.test("bufferedSink() takes the bytes of a write before it settles", async () => {
  const r = recordingTarget();
  const w = bufferedSink(r.target, 64 * 1024).getWriter();
  const reused = new Uint8Array(1000);
  const expected: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    reused.set(pattern(1000, i));
    expected.push(reused.slice());
    await w.write(reused);
  }
  await w.close();
  assert.deepEqual(r.bytes(), concatBytes(expected));
});
