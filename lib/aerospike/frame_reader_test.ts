import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { FrameReader } from "./frame_reader.ts";
import { type Transport, TransportTimeout } from "./_transport.ts";
import { concatBytes } from "../_test_utils.ts";

/** A transport that hands out the given bytes in chunks of the given sizes. */
class ChunkTransport implements Transport {
  #data: Uint8Array;
  #sizes: () => number;
  #off = 0;
  closed = false;
  reads = 0;
  constructor(data: Uint8Array, sizes: () => number) {
    this.#data = data;
    this.#sizes = sizes;
  }
  /** Largest buffer a read was offered. */
  widest = 0;
  read(p: Uint8Array, timeoutMs: number): Promise<number | null> {
    this.reads++;
    this.widest = Math.max(this.widest, p.length);
    if (this.#off === this.#data.length) {
      return this.hangAtEnd
        ? Promise.reject(new TransportTimeout(timeoutMs))
        : Promise.resolve(null);
    }
    const n = Math.min(p.length, this.#sizes(), this.#data.length - this.#off);
    p.set(this.#data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
  hangAtEnd = false;
  write(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
}

const ctx = {
  fail: (code: string, message: string, cause?: unknown, retriable?: boolean) =>
    new AerobakError(code, `Test on node-x failed: ${message}`, { cause, retriable }),
};

function frame(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  out[0] = 2;
  out[1] = type;
  new DataView(out.buffer).setUint32(4, body.length);
  out.set(body, 8);
  return out;
}

const limits = { socketTimeoutMs: 1000, deadline: 0 };

function bodies(n: number): Uint8Array[] {
  // Sizes around the 16 KiB initial buffer (and 64 KiB) so frames straddle and exceed it.
  const sizes = [0, 1, 7, 100, 16384 - 8, 16384, 65536, 200_000, 3];
  return Array.from({ length: n }, (_, i) => {
    const b = new Uint8Array(sizes[i % sizes.length]);
    for (let j = 0; j < b.length; j++) b[j] = (i * 31 + j) & 0xff;
    return b;
  });
}

for (
  const [name, sizes] of [
    ["1-byte chunks", () => 1],
    ["random chunks", () => 1 + Math.floor(Math.random() * 70_000)],
    ["whole reads", () => 1 << 30],
  ] as const
) {
  Deno.test(`FrameReader.read() reassembles frames from ${name}`, async () => {
    const want = name === "1-byte chunks" ? bodies(6).slice(0, 5) : bodies(16);
    const data = concatBytes(want.map((b, i) => frame(1 + (i % 3), b)));
    const r = new FrameReader(new ChunkTransport(data, sizes), ctx);
    for (let i = 0; i < want.length; i++) {
      const f = await r.read(limits);
      assert.equal(f.type, 1 + (i % 3));
      assert.deepEqual(f.body, want[i], `frame ${i}`);
    }
    assert.equal(r.buffered, 0);
  });
}

Deno.test("FrameReader.read() refuses a wrong version with PROTO_INVALID", async () => {
  const bad = frame(3, new Uint8Array(4));
  bad[0] = 3;
  const r = new FrameReader(new ChunkTransport(bad, () => 100), ctx);
  await assert.rejects(r.read(limits), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "PROTO_INVALID");
    assert.match(e.message, /node-x.*version 3/);
    return true;
  });
});

Deno.test("FrameReader.read() refuses an absurd length before allocating", async () => {
  const head = new Uint8Array([2, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const t = new ChunkTransport(head, () => 100);
  const r = new FrameReader(t, ctx);
  await assert.rejects(r.read(limits), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "PROTO_INVALID");
    assert.match(e.message, /exceeds/);
    return true;
  });
  assert.equal(t.reads, 1);
});

Deno.test("FrameReader.read() grows with the bytes that arrive, not with the length claimed", async () => {
  // A header claiming 100 MiB, then 40 KiB and the end: the buffer never nears 100 MiB.
  const head = frame(3, new Uint8Array(0));
  new DataView(head.buffer).setUint32(4, 100 << 20);
  const t = new ChunkTransport(concatBytes([head, new Uint8Array(40_000)]), () => 8192);
  const r = new FrameReader(t, ctx);
  await assert.rejects(
    r.read(limits),
    (e: unknown) => (e as AerobakError).code === "CONNECTION_CLOSED",
  );
  assert.ok(t.widest <= 64 * 1024, `a read was offered ${t.widest} bytes`);
});

Deno.test("FrameReader.read() reports a stream closed mid-frame with CONNECTION_CLOSED", async () => {
  const whole = frame(3, new Uint8Array(50));
  const r = new FrameReader(new ChunkTransport(whole.subarray(0, 30), () => 7), ctx);
  await assert.rejects(r.read(limits), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "CONNECTION_CLOSED");
    assert.equal(e.retriable, true);
    assert.match(e.message, /after 30 of 58 bytes/);
    return true;
  });
});

Deno.test("FrameReader.read() turns a transport timeout into SOCKET_TIMEOUT or TOTAL_TIMEOUT", async () => {
  const t = new ChunkTransport(new Uint8Array(3), () => 3);
  t.hangAtEnd = true;
  const r = new FrameReader(t, ctx);
  await assert.rejects(r.read(limits), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "SOCKET_TIMEOUT");
    return true;
  });
  const t2 = new ChunkTransport(new Uint8Array(0), () => 3);
  t2.hangAtEnd = true;
  const r2 = new FrameReader(t2, ctx);
  await assert.rejects(
    r2.read({ socketTimeoutMs: 60_000, deadline: Date.now() + 50 }),
    (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "TOTAL_TIMEOUT");
      return true;
    },
  );
});

Deno.test("FrameReader.read() with a passed deadline fails without reading", async () => {
  const t = new ChunkTransport(frame(1, new Uint8Array(1)), () => 100);
  const r = new FrameReader(t, ctx);
  await assert.rejects(
    r.read({ socketTimeoutMs: 1000, deadline: Date.now() - 1 }),
    /total timeout/,
  );
  assert.equal(t.reads, 0);
  assert.equal(t.closed, true);
});

Deno.test("FrameReader.shrink() drops a grown buffer between frames and reads on", async () => {
  const big = new Uint8Array(1 << 16).fill(9);
  const small = new Uint8Array([1, 2, 3]);
  // Reads of 8 bytes end exactly at the big frame's end, so nothing is read ahead.
  const src = new ChunkTransport(concatBytes([frame(3, big), frame(3, small)]), () => 8);
  const r = new FrameReader(src, ctx);
  assert.deepEqual((await r.read(limits)).body, big);
  r.shrink();
  const next = await r.read(limits);
  assert.deepEqual(next.body, small);
  // The second frame was read into the initial-size buffer again.
  assert.equal(next.body.buffer.byteLength, 16 * 1024);
});

Deno.test("FrameReader.readBuffered() hands out the frames a read completed, then waits", async () => {
  const want = [new Uint8Array(5).fill(1), new Uint8Array(30).fill(2), new Uint8Array(9).fill(3)];
  const data = concatBytes(want.map((b) => frame(3, b)));
  // One read of 60 bytes: frames 0 and 1 whole (13 + 38 bytes), frame 2 cut.
  const t = new ChunkTransport(data, () => 60);
  const r = new FrameReader(t, ctx);
  assert.equal(r.readBuffered(), undefined, "nothing read yet");
  assert.deepEqual((await r.read(limits)).body, want[0]);
  assert.deepEqual(r.readBuffered()?.body, want[1]);
  assert.equal(r.readBuffered(), undefined, "frame 2 is cut");
  assert.equal(t.reads, 1);
  assert.deepEqual((await r.read(limits)).body, want[2]);
  assert.equal(r.buffered, 0);
});

Deno.test("FrameReader.readBuffered() refuses a bad header with PROTO_INVALID", async () => {
  const bad = concatBytes([frame(3, new Uint8Array(4)), frame(3, new Uint8Array(4))]);
  bad[12] = 7; // the second frame's version
  const r = new FrameReader(new ChunkTransport(bad, () => 100), ctx);
  await r.read(limits);
  assert.throws(() => r.readBuffered(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "PROTO_INVALID");
    assert.match(e.message, /version 7/);
    return true;
  });
});

Deno.test("FrameReader.readPart() reads a large frame through a 128 KiB buffer, cut pieces again", async () => {
  const body = new Uint8Array(1 << 20);
  for (let i = 0; i < body.length; i++) body[i] = (i * 13) & 0xff;
  const r = new FrameReader(
    new ChunkTransport(concatBytes([frame(3, body), frame(3, new Uint8Array([7]))]), () => 50_000),
    ctx,
  );
  const seen: Uint8Array[] = [];
  let parts = 0;
  for (let left = body.length; left > 0; parts++) {
    // Takes 1000-byte "messages" only, leaving a cut one for the next part.
    const part = await r.readPart(limits, 1000);
    assert.equal(part.type, 3);
    assert.equal(part.left, left);
    assert.equal(part.body.buffer.byteLength, 128 * 1024);
    const n = part.body.length === left ? left : part.body.length - (part.body.length % 1000);
    seen.push(part.body.slice(0, n));
    r.consume(n);
    left -= n;
  }
  assert.deepEqual(concatBytes(seen), body);
  assert.ok(parts >= 8, `${parts} parts`);
  assert.deepEqual((await r.read(limits)).body, new Uint8Array([7]));
  assert.equal(r.buffered, 0);
});
