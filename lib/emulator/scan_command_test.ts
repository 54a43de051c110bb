import assert from "node:assert/strict";
import { partitionId } from "../aerospike/digest.ts";
import { encodeExpression, Exp, ExpType } from "../aerospike/expression.ts";
import { Info3 } from "../aerospike/message.ts";
import { encodeScanRequest, type ScanRequest } from "../aerospike/requests.ts";
import { ManualClock } from "./clock.ts";
import { compareDigests } from "./record_store.ts";
import { type Emulator, startEmulator } from "./emulator.ts";
import { RawClient, type ReplyMessage } from "./_test_client.ts";

const T0 = Date.UTC(2026, 0, 1);
const ALL = Array.from({ length: 4096 }, (_, i) => i);
let taskIds = 100n;
/** A task id the node has not seen: it refuses one it runs or ran lately. */
const nextTaskId = () => ++taskIds;

async function scan(emu: Emulator, req: Partial<ScanRequest>, node = 0): Promise<ReplyMessage[]> {
  const h = emu.hosts[node];
  const c = await RawClient.connect(`${h.host}:${h.port}`);
  try {
    await c.send(
      encodeScanRequest({ namespace: "test", taskId: nextTaskId(), partitions: ALL, ...req }),
    );
    return await c.messages();
  } finally {
    c.close();
  }
}

function seed(emu: Emulator, n: number): void {
  for (let i = 0; i < n; i++) {
    emu.put({
      namespace: "test",
      set: i % 3 === 0 ? "three" : "other",
      key: i,
      bins: { i, s: `v${i}`, f: i + 0.5 },
      lastUpdateMs: T0 + i * 1000,
    });
  }
}

Deno.test("serveScan() returns every record once, in digest order within each partition, then LAST", async () => {
  await using emu = await startEmulator({ nodes: 1, clock: new ManualClock(T0 + 10_000_000) });
  seed(emu, 500);
  const msgs = await scan(emu, {});
  const last = msgs.at(-1)!;
  assert.equal(last.header.info3 & Info3.LAST, Info3.LAST);
  assert.equal(last.header.resultCode, 0);
  assert.equal(last.proto, msgs.at(-2)!.proto + 1, "LAST comes in a proto of its own");
  const records = msgs.filter((m) => m.record).map((m) => m.record!);
  assert.equal(records.length, 500);
  const lastOf = new Map<number, Uint8Array>();
  for (const r of records) {
    const pid = partitionId(r.digest);
    const before = lastOf.get(pid);
    assert.ok(before === undefined || compareDigests(before, r.digest) < 0);
    lastOf.set(pid, r.digest);
  }
  assert.deepEqual(
    records.map((r) => r.digest).sort(compareDigests),
    emu.dump("test").map((r) => r.digest),
  );
  assert.equal(records[0].bins.length, 3);
  assert.ok(records[0].key !== undefined);
});

Deno.test("serveScan() frames replies like a real node: four threads, 1 MiB protos, partitions interleaved", async () => {
  await using emu = await startEmulator({ nodes: 1, clock: new ManualClock(T0 + 10_000_000) });
  const blob = new Uint8Array(1000).fill(7);
  for (let i = 0; i < 6000; i++) emu.put({ namespace: "test", key: i, bins: { b: blob } });
  const h = emu.hosts[0];
  const c = await RawClient.connect(`${h.host}:${h.port}`);
  const sizes: number[] = [];
  const firstPid: number[] = [];
  try {
    await c.send(encodeScanRequest({ namespace: "test", taskId: nextTaskId(), partitions: ALL }));
    const msgs = await c.messages();
    for (const m of msgs) {
      sizes[m.proto] = (sizes[m.proto] ?? 0) + 1;
      if (m.record && firstPid[m.proto] === undefined) {
        firstPid[m.proto] = partitionId(m.record.digest);
      }
    }
  } finally {
    c.close();
  }
  // ~6 MiB of records: each thread sends protos just over 1 MiB, then its rest.
  const protos = sizes.length - 1;
  assert.ok(protos >= 6 && protos <= 10, `protos: ${protos}`);
  assert.ok(sizes.slice(0, -1).every((n) => n <= 1050), `records per proto: ${sizes}`);
  const starts = firstPid.filter((p) => p !== undefined);
  assert.notDeepEqual(starts, [...starts].sort((a, b) => a - b), "threads' protos interleave");
});

Deno.test("serveScan() refuses a task id the node runs or ran lately, with a bare result 4", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  seed(emu, 10);
  const id = nextTaskId();
  assert.equal((await scan(emu, { taskId: id })).filter((m) => m.record).length, 10);
  const c = await RawClient.connect(emu.seeds);
  let again;
  try {
    await c.send(encodeScanRequest({ namespace: "test", taskId: id, partitions: ALL }));
    again = await c.messages(false);
  } finally {
    c.close();
  }
  assert.equal(again.length, 1);
  assert.equal(again[0].header.resultCode, 4);
  assert.equal(again[0].header.info3 & Info3.LAST, 0, "no LAST bit, as the server answers");
  // After 100 other scans the node has forgotten it.
  for (let i = 0; i < 100; i++) await scan(emu, { partitions: [0] });
  assert.equal((await scan(emu, { taskId: id })).filter((m) => m.record).length, 10);
});

Deno.test("serveScan() applies set, bins, no-bins, max records and filter expressions", async () => {
  await using emu = await startEmulator({ nodes: 1, clock: new ManualClock(T0 + 10_000_000) });
  seed(emu, 300);
  const inSet = (await scan(emu, { set: "three" })).filter((m) => m.record);
  assert.equal(inSet.length, 100);
  assert.ok(inSet.every((m) => m.record!.set === "three"));
  const bins = (await scan(emu, { binNames: ["s"] })).filter((m) => m.record);
  assert.ok(bins.every((m) => m.record!.bins.length === 1 && m.record!.bins[0].name === "s"));
  const noBins = (await scan(emu, { noBins: true })).filter((m) => m.record);
  assert.ok(noBins.every((m) => m.record!.bins.length === 0 && m.header.info1 === 0x20));
  const page = (await scan(emu, { maxRecords: 42 })).filter((m) => m.record);
  assert.equal(page.length, 42);
  const after = T0 + 200 * 1000;
  const filtered = (await scan(emu, {
    filterExpression: encodeExpression(
      Exp.and(
        Exp.ge(Exp.lastUpdate(), Exp.int(BigInt(after) * 1_000_000n)),
        Exp.eq(Exp.ttl(), Exp.int(-1)),
      ),
    ),
  })).filter((m) => m.record);
  assert.equal(filtered.length, 100);
  const bySet = (await scan(emu, {
    filterExpression: encodeExpression(
      Exp.or(
        Exp.eq(Exp.setName(), Exp.str("three")),
        Exp.lt(Exp.bin("i", ExpType.INT), Exp.int(0)),
      ),
    ),
  })).filter((m) => m.record);
  assert.equal(bySet.length, 100);
  const bad = await scan(emu, { filterExpression: new Uint8Array([0x93, 0x7f]) });
  assert.equal(bad.at(-1)!.header.resultCode, 4);
});

Deno.test("serveScan() resumes after a digest and marks partitions it cannot serve", async () => {
  await using emu = await startEmulator({ nodes: 2, replicationFactor: 1 });
  seed(emu, 2000);
  const all = emu.dump("test");
  const pid = partitionId(all[0].digest);
  const inPart = all.filter((r) => partitionId(r.digest) === pid).sort((a, b) =>
    compareDigests(a.digest, b.digest)
  );
  assert.ok(inPart.length >= 1);
  // The node owning the partition serves the resume; the other answers PARTITION_DONE 11.
  for (let node = 0; node < 2; node++) {
    const msgs = await scan(emu, { partitions: [], digests: [inPart[0].digest] }, node);
    const done = msgs.filter((m) => (m.header.info3 & Info3.PARTITION_DONE) !== 0);
    const got = msgs.filter((m) => m.record).map((m) => m.record!);
    if (done.length === 1) {
      assert.equal(done[0].header.generation, pid);
      assert.equal(done[0].header.resultCode, 11);
      assert.equal(got.length, 0);
    } else {
      assert.deepEqual(got.map((r) => r.digest), inPart.slice(1).map((r) => r.digest));
    }
  }
  emu.faults.makeUnavailable("test", [pid]);
  const msgs = [
    ...await scan(emu, { partitions: [pid] }, 0),
    ...await scan(emu, { partitions: [pid] }, 1),
  ];
  assert.equal(msgs.filter((m) => m.record).length, 0);
  assert.equal(msgs.filter((m) => m.header.resultCode === 11).length, 2);
});

Deno.test("serveScan() drops the connection after K records when a fault says so", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  seed(emu, 100);
  emu.faults.dropScanConnection(10);
  const c = await RawClient.connect(emu.seeds);
  try {
    await c.send(encodeScanRequest({ namespace: "test", taskId: nextTaskId(), partitions: ALL }));
    await assert.rejects(
      () => c.messages(),
      (e: Error & { code?: string }) => e.code === "CONNECTION_CLOSED",
    );
  } finally {
    c.close();
  }
  assert.equal((await scan(emu, {})).filter((m) => m.record).length, 100, "one scan only");
});

Deno.test("serveScan() throttles to records-per-second and compresses when asked", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  seed(emu, 60);
  const t = performance.now();
  const slow = await scan(emu, { recordsPerSecond: 200 });
  assert.equal(slow.filter((m) => m.record).length, 60);
  assert.ok(performance.now() - t >= 200, "60 records at 200/s take at least 0.2 s");
  const c = await RawClient.connect(emu.seeds);
  try {
    const req = encodeScanRequest({ namespace: "test", taskId: nextTaskId(), partitions: ALL });
    req[9] |= 0x80; // info1 COMPRESS_RESPONSE
    await c.send(req);
    const msgs = await c.messages();
    assert.equal(msgs.filter((m) => m.record).length, 60);
    assert.ok(c.protoTypes.every((t) => t === 4));
  } finally {
    c.close();
  }
});
