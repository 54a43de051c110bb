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
