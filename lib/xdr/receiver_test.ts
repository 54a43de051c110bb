import assert from "node:assert/strict";
import * as tls from "node:tls";
import { ByteWriter } from "../aerospike/byte_writer.ts";
import { computeDigest, keyFromJs, partitionId } from "../aerospike/digest.ts";
import { Info1 } from "../aerospike/message.ts";
import { blobBin, intBin, stringBin } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { encodeInfoRequest } from "../aerospike/info.ts";
import { AsbxEncoder, type AsbxToken } from "../format/asbx/encoder.ts";
import { parseAsbxFileName } from "../format/asbx/file_name.ts";
import { encodeAsbxHeader } from "../format/asbx/header.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import { concatBytes, withTempDir } from "../_test_utils.ts";
import { AsbxFileSink, AsbxPartitionSinks } from "./asbx_file_sink.ts";
import {
  encodeXdrAck,
  encodeXdrDelete,
  encodeXdrWrite,
  readXdrAck,
  xdrPayload,
} from "./message.ts";
import { XdrReceiver, type XdrSink } from "./receiver.ts";

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

Deno.test("XdrReceiver acks a burst of pipelined messages in a few writes, in order", async () => {
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await RawClient.connect(rx.port);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) parts.push(copy(encodeXdrWrite(record(i))));
  await c.send(concatBytes(parts));
  const acks = await c.read(30 * 200);
  for (let i = 0; i < 200; i++) assert.equal(readXdrAck(acks!.subarray(30 * i, 30 * i + 30)), 0);
  // One write per socket read (or per run of 256), not one per message.
  assert.ok(rx.stats.ackWrites < 20, `${rx.stats.ackWrites} ack writes for 200 messages`);
  const it = rx[Symbol.asyncIterator]();
  for (let i = 0; i < 200; i++) {
    assert.deepEqual(((await it.next()).value as AsbxToken).digest, record(i).digest);
  }
  c.close();
});

Deno.test("XdrReceiver fails when its sink fails, leaving the message unacked", async () => {
  const boom = new Error("disk full");
  let taken = 0;
  const sink: XdrSink = {
    take: () => taken++ === 0 ? undefined : Promise.reject(boom),
    runEnd: () => undefined,
  };
  const rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0, sink });
  assert.throws(() => rx[Symbol.asyncIterator](), TypeError);
  const c = await RawClient.connect(rx.port);
  await c.send(concatBytes([copy(encodeXdrWrite(record(1))), copy(encodeXdrWrite(record(2)))]));
  await assert.rejects(rx.failure, (e) => e === boom);
  // The first message's ack went out; the second stays unacked and the connection closes.
  assert.equal(readXdrAck((await c.read(30))!), 0);
  assert.ok(await c.closedByServer());
  await rx.close();
  assert.equal(rx.stats.messagesStored, 1);
  c.close();
});

Deno.test("XdrReceiver with AsbxPartitionSinks writes the bytes the ASBX encoder writes", async () => {
  await withTempDir(async (dir) => {
    // Writes and deletes, small and large (a 100 KB blob overflows the read buffer).
    const messages: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const r = record(i);
      if (i % 50 === 7) r.bins.push(blobBin("big", new Uint8Array(100_000).fill(i)));
      messages.push(copy(i % 9 === 4 ? encodeXdrDelete(r, { generation: 3 }) : encodeXdrWrite(r)));
    }
    messages.push(copy(encodeXdrWrite(record(900, "<ERO~MRT")))); // acked, not stored
    const run = {
      storage: new DirectoryWriter(dir),
      encoder: new AsbxEncoder("test"),
      compression: { mode: "NONE" } as const,
    };
    const sinks = [0, 1, 2].map((w) => new AsbxFileSink(run, { prefix: `${w}_` }));
    let records = 0;
    const rx = XdrReceiver.listen({
      hostname: "127.0.0.1",
      port: 0,
      sink: new AsbxPartitionSinks(sinks, () => records++),
    });
    const c = await RawClient.connect(rx.port);
    const all = concatBytes(messages);
    // Cut mid-message, several times.
    for (const [from, to] of [[0, 37], [37, 5000], [5000, 150_001], [150_001, all.length]]) {
      await c.send(all.subarray(from, to));
    }
    const acks = await c.read(30 * messages.length);
    for (let i = 0; i < messages.length; i++) {
      assert.equal(readXdrAck(acks!.subarray(30 * i, 30 * i + 30)), 0);
    }
    c.close();
    await rx.close();
    for (const s of sinks) await s.close();
    assert.equal(records, 300);

    // What each writer should hold: the file header, then its partitions' messages in
    // order as `xdrPayload` stores them, encoded by the encoder.
    const expected = [0, 1, 2].map(() => new ByteWriter());
    const reference = new AsbxEncoder("test");
    for (let i = 0; i < 300; i++) {
      const digest = record(i).digest;
      const w = Math.min(2, Math.floor(partitionId(digest) / 1365));
      reference.encodeToken(expected[w], {
        namespace: "test",
        digest,
        payload: xdrPayload(messages[i].subarray(8)),
      });
    }
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(names.length, 3);
    for (const name of names) {
      const { writer, fileNumber } = parseAsbxFileName(name);
      const want = concatBytes([encodeAsbxHeader("test", fileNumber), expected[writer].subarray()]);
      assert.deepEqual(await Deno.readFile(`${dir}/${name}`), want, name);
    }
  });
});
