import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { Connection } from "./connection.ts";
import { ConnectionPool } from "./pool.ts";
import type { Transport } from "./_transport.ts";

class IdleTransport implements Transport {
  closed = false;
  read(): Promise<number | null> {
    return Promise.resolve(null);
  }
  write(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
}

const node = { address: "127.0.0.1:3000", name: "N1" };

function pool(max: number, idleTimeoutMs = 0) {
  let created = 0;
  const p = new ConnectionPool({
    max,
    idleTimeoutMs,
    node,
    create: () => {
      created++;
      return Promise.resolve(Connection.fromTransport(new IdleTransport(), node));
    },
  });
  return { p, created: () => created };
}

Deno.test("ConnectionPool.acquire() reuses released connections", async () => {
  const { p, created } = pool(2);
  const a = await p.acquire(100);
  p.release(a);
  const b = await p.acquire(100);
  assert.equal(a, b);
  assert.equal(created(), 1);
  await p.close();
});

Deno.test("ConnectionPool.acquire() waits at the limit and gets the next released one", async () => {
  const { p, created } = pool(2);
  const a = await p.acquire(100);
  await p.acquire(100);
  const waiting = p.acquire(5000);
  p.release(a);
  assert.equal(await waiting, a);
  assert.equal(created(), 2);
  assert.equal(p.size, 2);
  await p.close();
});

Deno.test("ConnectionPool.acquire() times out with NO_CONNECTIONS (-8)", async () => {
  const { p } = pool(1);
  await p.acquire(100);
  await assert.rejects(p.acquire(20), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "NO_CONNECTIONS");
    assert.equal(e.resultCode, -8);
    assert.equal(e.retriable, true);
    return true;
  });
  await p.close();
});

Deno.test("ConnectionPool.release() closes a failed connection and frees its slot", async () => {
  const { p, created } = pool(1);
  const a = await p.acquire(100);
  const waiting = p.acquire(5000);
  a.close();
  p.release(a);
  const b = await waiting;
  assert.notEqual(a, b);
  assert.equal(created(), 2);
  assert.equal(p.size, 1);
  await p.close();
});

Deno.test("ConnectionPool.trim() closes connections idle too long", async () => {
  const { p } = pool(3, 1000);
  const a = await p.acquire(100);
  const b = await p.acquire(100);
  p.release(a);
  p.release(b);
  a.lastUsed = Date.now() - 5000;
  p.trim();
  assert.equal(p.idle, 1);
  assert.equal(a.closed, true);
  assert.equal(b.closed, false);
  await p.close();
  assert.equal(b.closed, true);
});

Deno.test("ConnectionPool.close() refuses further use and wakes waiters", async () => {
  const { p } = pool(1);
  await p.acquire(100);
  const waiting = p.acquire(5000);
  await p.close();
  await assert.rejects(
    waiting,
    (e: unknown) => e instanceof AerobakError && e.code === "POOL_CLOSED",
  );
  await assert.rejects(
    p.acquire(10),
    (e: unknown) => e instanceof AerobakError && e.code === "POOL_CLOSED",
  );
});

Deno.test("ConnectionPool.warmUp() opens connections up to the limit and keeps them idle", async () => {
  const { p, created } = pool(5);
  const held = await p.acquire(100);
  assert.equal(await p.warmUp(3), 2);
  assert.equal(p.size, 3);
  assert.equal(p.idle, 2);
  assert.equal(await p.warmUp(50), 2, "capped by the pool's limit");
  assert.equal(p.size, 5);
  assert.equal(await p.warmUp(5), 0);
  // Warm connections are used before any new one is opened.
  p.release(held);
  for (let i = 0; i < 5; i++) await p.acquire(100);
  assert.equal(created(), 5);
  await p.close();
});

Deno.test("ConnectionPool.warmUp() keeps what opened and throws the first connect error", async () => {
  let n = 0;
  const p = new ConnectionPool({
    max: 4,
    idleTimeoutMs: 0,
    node,
    create: () =>
      ++n % 2 === 0
        ? Promise.reject(new AerobakError("CONNECT_FAILED", "refused"))
        : Promise.resolve(Connection.fromTransport(new IdleTransport(), node)),
  });
  await assert.rejects(p.warmUp(4), /refused/);
  assert.equal(p.size, 2);
  assert.equal(p.idle, 2);
  await p.close();
});
