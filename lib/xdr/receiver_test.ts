import assert from "node:assert/strict";
import * as tls from "node:tls";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { Info1 } from "../aerospike/message.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { encodeInfoRequest } from "../aerospike/info.ts";
import type { AsbxToken } from "../format/asbx/encoder.ts";
import { encodeXdrAck, encodeXdrDelete, encodeXdrWrite, readXdrAck } from "./message.ts";
import { XdrReceiver } from "./receiver.ts";

function record(i: number, set = "demo"): AerospikeRecord {
  const key = keyFromJs(`k${i}`);
  return {
    namespace: "test",
    set,
    digest: computeDigest(set, key),
    key,
    generation: 2,
    voidTime: 0,
    bins: [intBin("x", i), stringBin("s", "v")],
  };
}

/** A raw client socket with exact reads. */
class RawClient {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async send(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }
  /** Reads exactly n bytes, or returns null when the server closes first. */
  async read(n: number): Promise<Uint8Array | null> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(4096);
      let got: number | null;
      try {
        got = await this.#conn.read(chunk);
      } catch {
        got = null;
      }
      if (got === null) return null;
      const next = new Uint8Array(this.#buf.length + got);
      next.set(this.#buf);
      next.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = next;
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }
  /** Waits for the server to close the connection; true when it did. */
  async closedByServer(): Promise<boolean> {
    return (await this.read(1)) === null;
  }
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), "condition not reached");
}

function copy(b: Uint8Array): Uint8Array {
  return b.slice();
}

Deno.test("XdrReceiver stores a write, clears the XDR bit and acks with the 30-byte ack", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await RawClient.connect(rx.port);
  const msg = copy(encodeXdrWrite(record(1)));
  await c.send(msg);
  const ack = await c.read(30);
  assert.deepEqual(ack, encodeXdrAck(0));
  assert.deepEqual(
    [...ack!],
    [2, 3, 0, 0, 0, 0, 0, 0x16, ...new Array(22).fill(0)],
  );
  const it = rx[Symbol.asyncIterator]();
  const { value } = await it.next();
  const token = value as AsbxToken;
  assert.equal(token.namespace, "test");
  assert.deepEqual(token.digest, record(1).digest);
  const expected = msg.slice();
  expected[9] &= ~Info1.XDR;
  assert.equal(msg[9] & Info1.XDR, Info1.XDR);
  assert.deepEqual(token.payload, expected);
  assert.equal(rx.stats.messagesStored, 1);
  c.close();
});

Deno.test("XdrReceiver acks pipelined messages in order and keeps their order", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await RawClient.connect(rx.port);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 50; i++) {
    parts.push(copy(i % 5 === 4 ? encodeXdrDelete(record(i)) : encodeXdrWrite(record(i))));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  // Split mid-message on purpose.
  await c.send(all.subarray(0, 37));
  await c.send(all.subarray(37));
  const acks = await c.read(30 * 50);
  for (let i = 0; i < 50; i++) assert.equal(readXdrAck(acks!.subarray(30 * i, 30 * i + 30)), 0);
  const it = rx[Symbol.asyncIterator]();
  for (let i = 0; i < 50; i++) {
    const t = (await it.next()).value as AsbxToken;
    assert.deepEqual(t.digest, record(i).digest);
    assert.equal(t.payload[10], i % 5 === 4 ? 3 : 1, "info2 kept (WRITE or WRITE|DELETE)");
  }
  c.close();
});

Deno.test("XdrReceiver acks and drops transaction-monitor records", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await RawClient.connect(rx.port);
  await c.send(copy(encodeXdrWrite(record(1, "<ERO~MRT"))));
  await c.send(copy(encodeXdrWrite(record(2))));
  assert.equal(readXdrAck((await c.read(30))!), 0);
  assert.equal(readXdrAck((await c.read(30))!), 0);
  const t = (await rx[Symbol.asyncIterator]().next()).value as AsbxToken;
  assert.deepEqual(t.digest, record(2).digest);
  assert.equal(rx.stats.messagesSkipped, 1);
  assert.equal(rx.stats.messagesStored, 1);
  c.close();
});

Deno.test("XdrReceiver answers a malformed message with ack 11, closes and stores nothing", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  // A write without a digest field: n_fields says 3 but only 2 fit.
  const bad = copy(encodeXdrWrite({ ...record(1), key: undefined }));
  const broken = bad.slice(0, bad.length);
  broken[8 + 19] = 9; // n_fields low byte: 9 fields cannot fit
  const c = await RawClient.connect(rx.port);
  await c.send(broken);
  assert.equal(readXdrAck((await c.read(30))!), 11);
  assert.ok(await c.closedByServer());
  assert.equal(rx.stats.messagesRejected, 1);
  assert.equal(rx.stats.messagesStored, 0);
  assert.equal(rx.errors[0].code, "XDR_MESSAGE_INVALID");
  c.close();
});

Deno.test("XdrReceiver refuses non-AS_MSG protos with ack 11", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await RawClient.connect(rx.port);
  await c.send(encodeInfoRequest(["build"]));
  assert.equal(readXdrAck((await c.read(30))!), 11);
  assert.ok(await c.closedByServer());
  const v = await RawClient.connect(rx.port);
  const wrongVersion = copy(encodeXdrWrite(record(1)));
  wrongVersion[0] = 1;
  await v.send(wrongVersion);
  assert.equal(readXdrAck((await v.read(30))!), 11);
  assert.ok(await v.closedByServer());
  // A size above 128 MiB is refused from the header alone, before any allocation.
  const big = await RawClient.connect(rx.port);
  await big.send(Uint8Array.of(2, 3, 0, 0, 0x0c, 0, 0, 0));
  assert.equal(readXdrAck((await big.read(30))!), 11);
  assert.ok(await big.closedByServer());
  assert.equal(rx.stats.messagesStored, 0);
  assert.equal(rx.stats.messagesRejected, 3);
  c.close();
  v.close();
  big.close();
});

Deno.test("XdrReceiver drops a message cut by a closed connection and serves the reconnect", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const msg = copy(encodeXdrWrite(record(1)));
  const a = await RawClient.connect(rx.port);
  await a.send(msg.subarray(0, 40));
  a.close();
  await until(() => rx.stats.activeConnections === 0);
  assert.equal(rx.stats.messagesStored, 0);
  const b = await RawClient.connect(rx.port);
  await b.send(msg);
  assert.equal(readXdrAck((await b.read(30))!), 0);
  const t = (await rx[Symbol.asyncIterator]().next()).value as AsbxToken;
  assert.deepEqual(t.digest, record(1).digest);
  b.close();
});

Deno.test("XdrReceiver delays acks until the consumer takes tokens", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0, queueSize: 1 });
  const c = await RawClient.connect(rx.port);
  for (let i = 0; i < 3; i++) await c.send(copy(encodeXdrWrite(record(i))));
  // The first token fills the queue and is acked; the second waits for room, unacked.
  assert.equal(readXdrAck((await c.read(30))!), 0);
  await until(() => rx.stats.messagesReceived === 2);
  assert.equal(rx.stats.messagesStored, 1);
  const it = rx[Symbol.asyncIterator]();
  assert.deepEqual(((await it.next()).value as AsbxToken).digest, record(0).digest);
  assert.equal(readXdrAck((await c.read(30))!), 0);
  await until(() => rx.stats.messagesReceived === 3);
  assert.equal(rx.stats.messagesStored, 2);
  assert.deepEqual(((await it.next()).value as AsbxToken).digest, record(1).digest);
  assert.equal(readXdrAck((await c.read(30))!), 0);
  assert.deepEqual(((await it.next()).value as AsbxToken).digest, record(2).digest);
  c.close();
});

Deno.test("XdrReceiver closes connections beyond maxConnections", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0, maxConnections: 1 });
  const a = await RawClient.connect(rx.port);
  await a.send(copy(encodeXdrWrite(record(1))));
  assert.equal(readXdrAck((await a.read(30))!), 0);
  const b = await RawClient.connect(rx.port);
  assert.ok(await b.closedByServer());
  assert.equal(rx.stats.connectionsRejected, 1);
  a.close();
  b.close();
  await rx[Symbol.asyncIterator]().next();
});

Deno.test("XdrReceiver closes an idle connection after readTimeoutMs", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0, readTimeoutMs: 50 });
  const c = await RawClient.connect(rx.port);
  assert.ok(await c.closedByServer());
  assert.equal(rx.stats.messagesRejected, 0);
  c.close();
});

Deno.test("XdrReceiver.close() ends the iteration after the queued tokens", async () => {
  const rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await RawClient.connect(rx.port);
  await c.send(copy(encodeXdrWrite(record(1))));
  await c.send(copy(encodeXdrWrite(record(2))));
  await c.read(60);
  await rx.firstMessage;
  await rx.close();
  const got: AsbxToken[] = [];
  for await (const t of rx) got.push(t);
  assert.equal(got.length, 2);
  assert.ok(await c.closedByServer());
  c.close();
});

Deno.test("XdrReceiver serves TLS with the given certificate", async () => {
  const dir = new URL("../aerospike/testdata/tls/", import.meta.url);
  const [cert, key, ca] = await Promise.all(
    ["server.pem", "server.key", "ca.pem"].map((f) => Deno.readTextFile(new URL(f, dir))),
  );
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0, tls: { cert, key } });
  const socket = tls.connect({ host: "127.0.0.1", port: rx.port, servername: "aero-node", ca });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  const ack = new Promise<Uint8Array>((resolve) => {
    const parts: Uint8Array[] = [];
    socket.on("data", (d: Uint8Array) => {
      parts.push(d);
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      if (all.length >= 30) resolve(all.subarray(0, 30));
    });
  });
  socket.write(copy(encodeXdrWrite(record(1))));
  assert.equal(readXdrAck(await ack), 0);
  const t = (await rx[Symbol.asyncIterator]().next()).value as AsbxToken;
  assert.deepEqual(t.digest, record(1).digest);
  socket.destroy();
});
