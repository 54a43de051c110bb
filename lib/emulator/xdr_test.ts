import assert from "node:assert/strict";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import { decodeRequest } from "../aerospike/requests.ts";
import type { AsbxToken } from "../format/asbx/encoder.ts";
import { encodeXdrAck } from "../xdr/message.ts";
import { XdrReceiver } from "../xdr/receiver.ts";
import { EmulatedCluster } from "./cluster.ts";
import type { StoredRecord } from "./record_store.ts";
import { handleXdrInfo, XDR_ENTERPRISE_ONLY, XdrEmulation } from "./xdr.ts";

function rec(i: number, set = "s"): StoredRecord {
  const key = keyFromJs(i);
  return {
    namespace: "test",
    set,
    digest: computeDigest(set, key),
    key,
    generation: 1,
    voidTime: 0,
    lutMs: Date.now(),
    bins: [intBin("i", i), stringBin("t", `v${i}`)],
  };
}

function hexOf(d: Uint8Array): string {
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function info(cluster: EmulatedCluster, node: number, cmd: string): string | undefined {
  return handleXdrInfo(cmd, { cluster, node: cluster.nodes[node] });
}

/** Runs the backup-go create sequence on every node. */
function createDc(cluster: EmulatedCluster, hostPort: string, rewind = "all"): void {
  for (let n = 0; n < cluster.nodes.length; n++) {
    for (
      const cmd of [
        "set-config:context=xdr;dc=bk;action=create",
        "set-config:context=xdr;dc=bk;connector=true",
        `set-config:context=xdr;dc=bk;node-address-port=${hostPort};action=add`,
        `set-config:context=xdr;dc=bk;namespace=test;action=add;rewind=${rewind}`,
      ]
    ) assert.equal(info(cluster, n, cmd), "ok", cmd);
  }
}

async function until(cond: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `${what} not reached`);
}

/** Collects the receiver's tokens in the background. */
function collect(rx: XdrReceiver): { tokens: AsbxToken[]; done: Promise<void> } {
  const tokens: AsbxToken[] = [];
  const done = (async () => {
    for await (const t of rx) tokens.push(t);
  })();
  return { tokens, done };
}

Deno.test("handleXdrInfo() ignores other commands and answers enterprise only without XDR", () => {
  const cluster = new EmulatedCluster();
  assert.equal(info(cluster, 0, "namespaces"), undefined);
  assert.equal(info(cluster, 0, "get-config:context=service"), undefined);
  assert.equal(info(cluster, 0, "set-config:context=xdr;dc=a;action=create"), XDR_ENTERPRISE_ONLY);
  assert.equal(info(cluster, 0, "get-stats:context=xdr;dc=a;namespace=test"), XDR_ENTERPRISE_ONLY);
});

Deno.test("handleXdrInfo() keeps DC configuration per node and removes it", async () => {
  const cluster = new EmulatedCluster({ nodes: 2 });
  const xdr = XdrEmulation.attach(cluster);
  assert.equal(info(cluster, 0, "set-config:context=xdr;dc=bk;action=create"), "ok");
  assert.match(info(cluster, 0, "set-config:context=xdr;dc=bk;action=create")!, /^ERROR/);
  assert.equal(info(cluster, 0, "get-config:context=xdr"), "dcs=bk;src-id=0;trace-sample=0");
  assert.equal(info(cluster, 1, "get-config:context=xdr"), "dcs=;src-id=0;trace-sample=0");
  assert.match(info(cluster, 1, "get-stats:context=xdr;dc=bk;namespace=test")!, /DC not found/);
  assert.equal(info(cluster, 0, "set-config:context=xdr;dc=bk;connector=true"), "ok");
  assert.equal(
    info(cluster, 0, "set-config:context=xdr;dc=bk;namespace=nope;action=add;rewind=all"),
    "ERROR::namespace not found",
  );
  assert.equal(
    info(cluster, 0, "set-config:context=xdr;dc=bk;namespace=test;action=add;rewind=all"),
    "ok",
  );
  assert.equal(
    info(cluster, 0, "set-config:context=xdr;dc=bk;namespace=test;max-throughput=150"),
    "ERROR::bad max-throughput",
  );
  assert.equal(
    info(cluster, 0, "set-config:context=xdr;dc=bk;namespace=test;max-throughput=500"),
    "ok",
  );
  assert.match(
    info(cluster, 0, "get-stats:context=xdr;dc=bk;namespace=test")!,
    /^lag=0;.*recoveries_pending=0;/,
  );
  assert.equal(info(cluster, 0, "set-config:context=xdr;dc=bk;action=delete"), "ok");
  assert.deepEqual(xdr.dcs(cluster.nodes[0].name), []);
  assert.match(info(cluster, 0, "get-stats:context=xdr;dc=bk;namespace=test")!, /DC not found/);
  await xdr.close();
});

Deno.test("handleXdrInfo() blocks and unblocks MRT writes per node", () => {
  const cluster = new EmulatedCluster({ nodes: 2 });
  const xdr = XdrEmulation.attach(cluster);
  const cmd = "set-config:context=namespace;namespace=test;disable-mrt-writes=";
  assert.equal(info(cluster, 1, cmd + "true"), "ok");
  assert.ok(xdr.mrtWritesDisabled(cluster.nodes[1].name, "test"));
  assert.ok(!xdr.mrtWritesDisabled(cluster.nodes[0].name, "test"));
  assert.equal(info(cluster, 1, cmd + "false"), "ok");
  assert.ok(!xdr.mrtWritesDisabled(cluster.nodes[1].name, "test"));
  assert.equal(
    info(cluster, 0, "set-config:context=namespace;namespace=x;disable-mrt-writes=true"),
    "ERROR::namespace not found",
  );
});

Deno.test("XdrShipper rewinds existing records, then ships writes and deletes", async () => {
  const cluster = new EmulatedCluster({ nodes: 3 });
  const ns = cluster.namespace("test")!;
  for (let i = 0; i < 300; i++) ns.store.put(rec(i));
  const xdr = XdrEmulation.attach(cluster);
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const { tokens, done } = collect(rx);
  createDc(cluster, `127.0.0.1:${rx.port}`);
  await until(() => tokens.length >= 300, "rewind");
  const seen = new Set(tokens.map((t) => hexOf(t.digest)));
  assert.equal(seen.size, 300);
  // Each record was shipped by its master node exactly once; payloads are replayable writes.
  const first = decodeRequest(tokens[0].payload.subarray(8));
  assert.equal(first.header.info1 & 0x10, 0, "XDR bit cleared by the receiver");
  assert.equal(first.header.info2, 0x01);
  assert.equal(first.header.generation, 1);
  assert.equal(first.ops.length, 2);
  assert.equal(new TextDecoder().decode(first.fields.get(0)), "test");

  ns.store.put({ ...rec(1000), generation: 4 });
  ns.store.remove(rec(5).digest);
  await until(() => tokens.length >= 302, "live changes");
  const byDigest = new Map(tokens.slice(300).map((t) => [hexOf(t.digest), t]));
  const w = decodeRequest(byDigest.get(hexOf(rec(1000).digest))!.payload.subarray(8));
  assert.equal(w.header.generation, 4);
  const d = decodeRequest(byDigest.get(hexOf(rec(5).digest))!.payload.subarray(8));
  assert.equal(d.header.info2, 0x03, "delete = WRITE|DELETE");
  await until(() => xdr.shippers.every((s) => s.stats().lag === 0 && s.stats().success > 0));
  const stats = info(cluster, 0, "get-stats:context=xdr;dc=bk;namespace=test")!;
  assert.match(stats, /lag=0;in_queue=0;in_progress=0;/);
  assert.match(stats, /recoveries_pending=0;/);
  await xdr.close();
  await rx.close();
  await done;
});

Deno.test("XdrShipper reports pending recoveries and lag while it cannot ship", async () => {
  const cluster = new EmulatedCluster({ nodes: 1 });
  const ns = cluster.namespace("test")!;
  for (let i = 0; i < 500; i++) ns.store.put(rec(i));
  const xdr = XdrEmulation.attach(cluster, { window: 16, retryDelayMs: 10 });
  // A port nobody listens on.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  createDc(cluster, `127.0.0.1:${port}`);
  const stats = info(cluster, 0, "get-stats:context=xdr;dc=bk;namespace=test")!;
  const pending = Number(/recoveries_pending=(\d+)/.exec(stats)![1]);
  assert.ok(pending > 0 && pending < 4096, stats);
  assert.ok(Number(/lag=(\d+)/.exec(stats)![1]) >= 1, stats);
  await xdr.close();
});

Deno.test("XdrShipper resends messages acked with 11 and messages cut by a dropped connection", async () => {
  const cluster = new EmulatedCluster({ nodes: 1 });
  const ns = cluster.namespace("test")!;
  for (let i = 0; i < 5; i++) ns.store.put(rec(i));
  const xdr = XdrEmulation.attach(cluster, { retryDelayMs: 10 });
  // A connector that answers 11 to the first message of every connection, drops the first
  // connection after that, and acks everything else.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: string[] = [];
  let connections = 0;
  const server = (async () => {
    for await (const conn of listener) {
      const id = ++connections;
      (async () => {
        let buf = new Uint8Array(0);
        let count = 0;
        const chunk = new Uint8Array(65536);
        for (;;) {
          const n = await conn.read(chunk).catch(() => null);
          if (n === null) break;
          const next = new Uint8Array(buf.length + n);
          next.set(buf);
          next.set(chunk.subarray(0, n), buf.length);
          buf = next;
          while (buf.length >= 8) {
            const size = (buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7];
            if (buf.length < 8 + size) break;
            const msg = buf.slice(0, 8 + size);
            buf = buf.slice(8 + size);
            count++;
            if (count === 1) {
              await conn.write(encodeXdrAck(11));
              if (id === 1) {
                conn.close();
                return;
              }
              continue;
            }
            const m = decodeRequest(msg.subarray(8));
            accepted.push(hexOf(m.fields.get(4)!));
            await conn.write(encodeXdrAck(0));
          }
        }
        try {
          conn.close();
        } catch {
          // closed
        }
      })();
    }
  })();
  createDc(cluster, `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  await until(() => new Set(accepted).size === 5, "all five accepted");
  const s = xdr.shippers[0].stats();
  assert.ok(s.retries >= 2, `retries ${s.retries}`);
  assert.ok(s.connects >= 2, `connects ${s.connects}`);
  await xdr.close();
  listener.close();
  await server.catch(() => {});
});

Deno.test("XdrShipper takes max-throughput before the namespace is added and keeps to it", async () => {
  const cluster = new EmulatedCluster({ nodes: 1 });
  const ns = cluster.namespace("test")!;
  for (let i = 0; i < 200; i++) ns.store.put(rec(i));
  const xdr = XdrEmulation.attach(cluster);
  await using rx = XdrReceiver.listen({ hostname: "127.0.0.1", port: 0 });
  const { tokens, done } = collect(rx);
  const start = performance.now();
  for (
    const cmd of [
      "set-config:context=xdr;dc=bk;action=create",
      "set-config:context=xdr;dc=bk;connector=true",
      `set-config:context=xdr;dc=bk;node-address-port=127.0.0.1:${rx.port};action=add`,
      "set-config:context=xdr;dc=bk;namespace=test;max-throughput=200",
      "set-config:context=xdr;dc=bk;namespace=test;action=add;rewind=all",
    ]
  ) assert.equal(info(cluster, 0, cmd), "ok", cmd);
  assert.match(info(cluster, 0, "get-config:context=xdr;dc=bk")!, /namespaces=test/);
  await until(() => tokens.length >= 60, "60 shipped");
  // 200/s with a burst of 20: 60 records cannot have taken less than 200 ms.
  assert.ok(performance.now() - start >= 180, `${performance.now() - start} ms`);
  await xdr.close();
  await rx.close();
  await done;
});
