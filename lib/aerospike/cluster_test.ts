import assert from "node:assert/strict";
import { startEmulator } from "../emulator/mod.ts";
import { AerobakError } from "../errors.ts";
import { BatchRows } from "./batch.ts";
import { Cluster } from "./cluster.ts";
import { computeDigest, keyFromJs, partitionId } from "./digest.ts";
import { encodeExpression, Exp } from "./expression.ts";
import { PartitionFilter } from "./partition_filter.ts";
import { intBin, stringBin } from "./particle.ts";
import type { AerospikeRecord } from "./record.ts";
import { encodeDeleteRequest, encodePutRequest } from "./requests.ts";

const hex = (d: Uint8Array) => Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");

async function seeded(nodes: number, count = 300) {
  const emu = await startEmulator({ nodes });
  for (let i = 0; i < count; i++) {
    emu.put({
      namespace: "test",
      set: i % 3 === 0 ? "a" : "b",
      key: i,
      bins: { i, s: `v${i}`, pad: "x".repeat(100) },
      ttl: i % 2 === 0 ? 0 : 3600,
    });
  }
  return emu;
}

async function collect(it: AsyncIterable<AerospikeRecord>): Promise<AerospikeRecord[]> {
  const out: AerospikeRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

Deno.test("Cluster.connect() discovers every node from one seed", async () => {
  await using emu = await startEmulator({ nodes: 3 });
  const first = emu.hosts[0];
  await using cluster = await Cluster.connect({ hosts: `${first.host}:${first.port}` });
  assert.deepEqual(cluster.nodes.map((n) => n.name).sort(), [...emu.nodeNames].sort());
  for (const n of cluster.nodes) assert.match(n.build, /^\d+\.\d+\.\d+/);
  const all = await cluster.infoAll(["node", "build"]);
  assert.equal(all.size, 3);
  for (const [name, a] of all) assert.equal(a.get("node"), name);
  const one = await cluster.info(["namespaces"], { node: emu.nodeNames[1] });
  assert.match(one.get("namespaces")!, /test/);
  await assert.rejects(
    cluster.info(["node"], { node: "nope" }),
    (e: unknown) => e instanceof AerobakError && e.code === "NODE_NOT_FOUND",
  );
});

Deno.test("Cluster.nodeForPartition() routes every partition to the emulator's master", async () => {
  await using emu = await startEmulator({ nodes: 3 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const ns = emu.cluster.namespace("test")!;
  const rf = ns.layout.replicationFactor;
  let total = 0;
  for (let pid = 0; pid < 4096; pid++) {
    const master = emu.cluster.nodes[ns.layout.owners[pid * rf]].name;
    assert.equal(cluster.nodeForPartition("test", pid).name, master, `partition ${pid}`);
    const replica = emu.cluster.nodes[ns.layout.owners[pid * rf + 1]].name;
    assert.equal(cluster.nodeForPartition("test", pid, 1).name, replica);
  }
  for (const name of emu.nodeNames) total += cluster.masterPartitions("test", name).length;
  assert.equal(total, 4096);
});

Deno.test("Cluster.scan() returns every record once, across 3 nodes", async () => {
  await using emu = await seeded(3);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const filter = PartitionFilter.all();
  const got = await collect(cluster.scan(filter, { namespace: "test" }));
  assert.equal(got.length, 300);
  assert.equal(new Set(got.map((r) => hex(r.digest))).size, 300);
  assert.equal(filter.done, true);
  const want = new Map(emu.dump("test").map((r) => [hex(r.digest), r]));
  for (const r of got) {
    const w = want.get(hex(r.digest))!;
    assert.deepEqual(r.bins, w.bins);
    assert.equal(r.voidTime, w.voidTime);
    assert.equal(r.generation, w.generation);
    assert.deepEqual(r.key, w.key);
  }
});

Deno.test("Cluster.scan() applies set, bins, no-bins and filter expressions", async () => {
  await using emu = await seeded(2);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const setA = await collect(cluster.scan(PartitionFilter.all(), { namespace: "test", set: "a" }));
  assert.equal(setA.length, 100);
  assert.ok(setA.every((r) => r.set === "a"));
  const bins = await collect(
    cluster.scan(PartitionFilter.all(), { namespace: "test", binNames: ["s"] }),
  );
  assert.equal(bins.length, 300);
  assert.ok(bins.every((r) => r.bins.length === 1 && r.bins[0].name === "s"));
  const meta = await collect(
    cluster.scan(PartitionFilter.all(), { namespace: "test", noBins: true }),
  );
  assert.equal(meta.length, 300);
  assert.ok(meta.every((r) => r.bins.length === 0 && r.digest.length === 20));
  const noTtl = encodeExpression(Exp.eq(Exp.ttl(), Exp.int(-1)));
  const never = await collect(
    cluster.scan(PartitionFilter.all(), { namespace: "test", filterExpression: noTtl }),
  );
  assert.equal(never.length, 150);
  assert.ok(never.every((r) => r.voidTime === 0));
  const big = encodeExpression(Exp.ge(Exp.intBin("i"), Exp.int(290)));
  const last = await collect(cluster.scan(PartitionFilter.all(), {
    namespace: "test",
    filterExpression: big,
    recordsPerSecond: 100000,
  }));
  assert.deepEqual(last.map((r) => Number(r.bins[0].value)).sort((a, b) => a - b), [
    290,
    291,
    292,
    293,
    294,
    295,
    296,
    297,
    298,
    299,
  ]);
});

Deno.test("Cluster.scan() covers range, id list, digest and after-digest filters", async () => {
  await using emu = await seeded(3);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const all = emu.dump("test");
  const inRange = (lo: number, hi: number) =>
    all.filter((r) => partitionId(r.digest) >= lo && partitionId(r.digest) < hi);
  const half = await collect(cluster.scan(PartitionFilter.range(0, 2048), { namespace: "test" }));
  assert.equal(half.length, inRange(0, 2048).length);
  const some = [...new Set(all.slice(0, 5).map((r) => partitionId(r.digest)))];
  const byIds = await collect(cluster.scan(PartitionFilter.ids(some), { namespace: "test" }));
  assert.equal(byIds.length, all.filter((r) => some.includes(partitionId(r.digest))).length);
  const one = all[7];
  const byDigest = await collect(
    cluster.scan(PartitionFilter.byDigest(one.digest), { namespace: "test" }),
  );
  assert.ok(byDigest.some((r) => hex(r.digest) === hex(one.digest)));
  const after = await collect(
    cluster.scan(PartitionFilter.afterDigest(one.digest), { namespace: "test" }),
  );
  const pid = partitionId(one.digest);
  const expected = all.filter((r) =>
    partitionId(r.digest) > pid ||
    (partitionId(r.digest) === pid && hex(r.digest) > hex(one.digest))
  );
  assert.deepEqual(
    after.map((r) => hex(r.digest)).sort(),
    expected.map((r) => hex(r.digest)).sort(),
  );
});

Deno.test("Cluster.scan() with maxRecords pages through every record exactly once", async () => {
  await using emu = await seeded(3);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const filter = PartitionFilter.all();
  const seen = new Set<string>();
  let pages = 0;
  while (!filter.done) {
    const page = await collect(cluster.scan(filter, { namespace: "test", maxRecords: 70 }));
    assert.ok(page.length <= 70, `page of ${page.length}`);
    for (const r of page) {
      assert.ok(!seen.has(hex(r.digest)), "duplicate");
      seen.add(hex(r.digest));
    }
    pages++;
    assert.ok(pages < 20);
  }
  assert.equal(seen.size, 300);
  assert.ok(pages >= 5);
});

Deno.test("Cluster.scan() resumes from a cursor saved after breaking out", async () => {
  await using emu = await seeded(3);
  const seen: string[] = [];
  let saved = "";
  {
    await using cluster = await Cluster.connect({ hosts: emu.seeds });
    const filter = PartitionFilter.all();
    for await (const r of cluster.scan(filter, { namespace: "test" })) {
      seen.push(hex(r.digest));
      if (seen.length === 123) break;
    }
    saved = JSON.stringify(filter);
    for (const n of cluster.nodes) assert.ok(n.name); // still usable after the break
    assert.equal(
      (await collect(cluster.scan(PartitionFilter.range(0, 10), { namespace: "test" }))).length >=
        0,
      true,
    );
  }
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const resumed = PartitionFilter.fromJSON(JSON.parse(saved));
  for await (const r of cluster.scan(resumed, { namespace: "test" })) seen.push(hex(r.digest));
  assert.equal(seen.length, 300);
  assert.equal(new Set(seen).size, 300);
  assert.equal(resumed.done, true);
});

Deno.test("Cluster.scan() retries partitions of a dropped scan connection after their digest", async () => {
  await using emu = await seeded(3, 600);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  emu.faults.dropScanConnection(50, { node: emu.nodeNames[1], times: 2 });
  const got = await collect(
    cluster.scan(PartitionFilter.all(), { namespace: "test", retryDelayMs: 10 }),
  );
  assert.equal(got.length, 600);
  assert.equal(new Set(got.map((r) => hex(r.digest))).size, 600);
});

Deno.test("Cluster.scan() finishes when a node is stopped mid-scan", async () => {
  await using emu = await seeded(3, 900);
  await using cluster = await Cluster.connect({ hosts: emu.seeds, tendIntervalMs: 100 });
  const seen = new Set<string>();
  let stopped = false;
  for await (
    const r of cluster.scan(PartitionFilter.all(), {
      namespace: "test",
      retryDelayMs: 50,
      maxRetries: 10,
    })
  ) {
    seen.add(hex(r.digest));
    if (!stopped && seen.size === 100) {
      stopped = true;
      await emu.stopNode(0);
    }
  }
  assert.equal(seen.size, 900);
  // The tend drops the stopped node after consecutive failures.
  for (let i = 0; i < 10 && cluster.nodes.length === 3; i++) await cluster.refresh();
  assert.ok(!cluster.nodes.some((n) => n.name === emu.nodeNames[0]));
  // The node comes back: the tend adds it again and gives it its partitions.
  emu.restartNode(0);
  for (let i = 0; i < 50 && cluster.nodes.length < 3; i++) await cluster.refresh();
  assert.equal(cluster.nodes.length, 3);
  assert.ok(cluster.masterPartitions("test", emu.nodeNames[0]).length > 0);
});

const NSUP = [{ name: "test", nsupPeriod: 120 }];

Deno.test("Cluster.put() applies the write policy and returns result codes", async () => {
  await using emu = await startEmulator({ nodes: 2, namespaces: NSUP });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const key = keyFromJs("k1");
  const rec: AerospikeRecord = {
    namespace: "test",
    set: "demo",
    key,
    digest: computeDigest("demo", key),
    generation: 5,
    voidTime: 0,
    bins: [intBin("a", 1), stringBin("b", "x")],
  };
  assert.deepEqual(await cluster.put(rec, {}, -1), { resultCode: 0, generation: 1 });
  assert.equal((await cluster.put(rec, { recordExistsAction: "createOnly" }, -1)).resultCode, 5);
  assert.equal(
    (await cluster.put({ ...rec, generation: 1 }, { generationPolicy: "expectGenGreater" }, -1))
      .resultCode,
    3,
  );
  assert.equal(
    (await cluster.put({ ...rec, generation: 1 }, { generationPolicy: "expectGenEqual" }, -1))
      .resultCode,
    0,
  );
  assert.equal((await cluster.put(rec, { recordExistsAction: "updateOnly" }, 100)).resultCode, 0);
  let got = await cluster.get("test", "demo", key);
  assert.ok(got!.voidTime > 0);
  await cluster.put({ ...rec, bins: [intBin("c", 3)] }, { recordExistsAction: "replace" }, -2);
  got = await cluster.get("test", "demo", key);
  assert.deepEqual(got!.bins.map((b) => b.name), ["c"]);
  assert.ok(got!.voidTime > 0, "-2 keeps the TTL");
  const noKey = { ...rec, key: keyFromJs("k2"), digest: computeDigest("demo", keyFromJs("k2")) };
  await cluster.put(noKey, { sendKey: false }, 0);
  assert.equal(emu.get("test", noKey.digest)?.key, undefined);
  assert.equal((await cluster.put(noKey, { recordExistsAction: "replaceOnly" }, 0)).resultCode, 0);
  const missing = { ...rec, digest: computeDigest("demo", keyFromJs("nope")) };
  assert.equal((await cluster.put(missing, { recordExistsAction: "updateOnly" }, 0)).resultCode, 2);
  assert.equal(await cluster.delete("test", "demo", key), 0);
  assert.equal(await cluster.delete("test", "demo", key), 2);
  assert.equal(await cluster.get("test", "demo", rec.digest), null);
});

Deno.test("Cluster.putPayload() sends ready-made writes and deletes to the record's master", async () => {
  await using emu = await startEmulator({ nodes: 3, namespaces: NSUP });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const recs: AerospikeRecord[] = Array.from({ length: 30 }, (_, i) => {
    const key = keyFromJs(`p${i}`);
    return {
      namespace: "test",
      set: "pp",
      key,
      digest: computeDigest("pp", key),
      generation: 4,
      voidTime: 0,
      bins: [intBin("i", i), stringBin("s", `v${i}`)],
    };
  });
  for (const r of recs) {
    const payload = encodePutRequest({ record: r, ttl: 3600 }).slice();
    assert.deepEqual(await cluster.putPayload("test", r.digest, payload), {
      resultCode: 0,
      generation: 1,
    });
  }
  assert.equal(emu.count("test", "pp"), 30);
  const got = await cluster.get("test", "pp", recs[7].digest);
  assert.deepEqual(got!.bins, recs[7].bins);
  assert.ok(got!.voidTime > 0, "the payload's TTL applies");
  assert.deepEqual(emu.get("test", recs[7].digest)?.key, recs[7].key);
  // The payload's own bits decide: a generation check in it applies, the policy adds none.
  const gt = encodePutRequest({
    record: { ...recs[7], generation: 1 },
    ttl: -1,
    policy: { generationPolicy: "expectGenGreater" },
  }).slice();
  assert.equal((await cluster.putPayload("test", recs[7].digest, gt)).resultCode, 3);
  const del = encodeDeleteRequest({ namespace: "test", set: "pp", digest: recs[7].digest }).slice();
  assert.equal((await cluster.putPayload("test", recs[7].digest, del)).resultCode, 0);
  assert.equal(await cluster.get("test", "pp", recs[7].digest), null);
  assert.equal((await cluster.putPayload("test", recs[7].digest, del)).resultCode, 2);
  assert.equal(emu.count("test", "pp"), 29);
  await assert.rejects(
    cluster.putPayload("test", recs[0].digest, del.subarray(0, del.length - 2)),
    (e: unknown) => e instanceof AerobakError && e.code === "PAYLOAD_INVALID",
  );
  await assert.rejects(cluster.putPayload("test", new Uint8Array(19), del), RangeError);
});

Deno.test("Cluster.batchWrite() writes per master node and returns a code per record", async () => {
  await using emu = await startEmulator({ nodes: 3, namespaces: NSUP });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const records: AerospikeRecord[] = Array.from({ length: 200 }, (_, i) => {
    const key = keyFromJs(i);
    return {
      namespace: "test",
      set: "bw",
      key,
      digest: computeDigest("bw", key),
      generation: 3,
      voidTime: 0,
      bins: [intBin("i", i)],
    };
  });
  const ttls = records.map((_, i) => (i % 2 === 0 ? -1 : 500));
  const first = await cluster.batchWrite(records, ttls, { generationPolicy: "expectGenGreater" });
  assert.deepEqual([...first], new Array(200).fill(0));
  assert.equal(emu.count("test", "bw"), 200);
  const again = await cluster.batchWrite(records, ttls, { recordExistsAction: "createOnly" });
  assert.deepEqual([...again], new Array(200).fill(5));
  await assert.rejects(cluster.batchWrite(records, [1], {}), RangeError);
});

Deno.test("Cluster.batchWriteRows() routes rows of two namespaces and re-sends the failed ones", async () => {
  await using emu = await startEmulator({
    nodes: 3,
    namespaces: [{ name: "test" }, { name: "bar" }],
  });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const records: AerospikeRecord[] = Array.from({ length: 60 }, (_, i) => {
    const key = keyFromJs(i);
    return {
      namespace: i % 3 === 0 ? "bar" : "test",
      set: "rows",
      key,
      digest: computeDigest("rows", key),
      generation: 1,
      voidTime: 0,
      bins: [intBin("i", i)],
    };
  });
  const rows = new BatchRows({}, 8);
  for (const r of records) rows.add(r, 0);
  // Writes to the partitions of every 4th record fail with 11 (retriable).
  const unavailable = records.filter((_, i) => i % 4 === 1);
  for (const r of unavailable) emu.faults.makeUnavailable(r.namespace, [partitionId(r.digest)]);
  const first = await cluster.batchWriteRows(rows);
  const failed = new Set(unavailable.map((r) => r.digest));
  assert.deepEqual([...first], records.map((r) => (failed.has(r.digest) ? 11 : 0)));
  assert.equal(emu.count("test") + emu.count("bar"), 60 - failed.size);
  emu.faults.clear();
  rows.retain(Array.from(first, (c) => c !== 0));
  assert.equal(rows.length, failed.size);
  const again = await cluster.batchWriteRows(rows);
  assert.deepEqual([...again], new Array(failed.size).fill(0));
  assert.equal(emu.count("test"), 40);
  assert.equal(emu.count("bar"), 20);
  const back = await cluster.get("test", "rows", keyFromJs(1));
  assert.equal(back?.bins[0].value, 1n);
});

Deno.test("Cluster.batchWrite() reports a disabled batch service for every record", async () => {
  await using emu = await startEmulator({ nodes: 1, batchIndexThreads: 0 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const key = keyFromJs(1);
  const rec = {
    namespace: "test",
    set: "",
    key,
    digest: computeDigest("", key),
    generation: 0,
    voidTime: 0,
    bins: [intBin("a", 1)],
  };
  assert.deepEqual([...(await cluster.batchWrite([rec, rec], [0, 0], {}))], [150, 150]);
});

Deno.test("Cluster.connect() logs in with INTERNAL auth and refuses a wrong password", async () => {
  await using emu = await startEmulator({ nodes: 2, users: { admin: "s3cret" } });
  for (let i = 0; i < 10; i++) emu.put({ namespace: "test", key: i, bins: { a: i } });
  {
    await using cluster = await Cluster.connect({
      hosts: emu.seeds,
      user: "admin",
      password: "s3cret",
      maxConnectionsPerNode: 3,
    });
    assert.equal(cluster.nodes.length, 2);
    // Several connections per node: the later ones authenticate with the session token.
    const scans = await Promise.all(
      [1, 2, 3].map(() => collect(cluster.scan(PartitionFilter.all(), { namespace: "test" }))),
    );
    assert.deepEqual(scans.map((s) => s.length), [10, 10, 10]);
  }
  await assert.rejects(
    Cluster.connect({ hosts: emu.seeds, user: "admin", password: "wrong" }),
    (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "AUTH_FAILED");
      assert.equal(e.resultCode, 65);
      assert.match(e.message, /user "admin"/);
      return true;
    },
  );
  await assert.rejects(
    Cluster.connect({ hosts: emu.seeds }),
    (e: unknown) => e instanceof AerobakError && /80/.test(e.message),
  );
});

Deno.test("Cluster.connect() names every seed when none answers", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await assert.rejects(
    Cluster.connect({ hosts: `127.0.0.1:${port}`, connectTimeoutMs: 500 }),
    (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "CLUSTER_UNREACHABLE");
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    },
  );
});

Deno.test("Cluster reads rack ids of rack-aware nodes", async () => {
  await using emu = await startEmulator({ nodes: 2, racks: [1, 2] });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const racks = Object.fromEntries(cluster.nodes.map((n) => [n.name, n.rack?.test]));
  assert.deepEqual(racks, { [emu.nodeNames[0]]: 1, [emu.nodeNames[1]]: 2 });
});

Deno.test("Cluster.scan() with replica any reads every record once", async () => {
  await using emu = await seeded(3);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  emu.faults.dropScanConnection(10, { node: emu.nodeNames[2] });
  const got = await collect(
    cluster.scan(PartitionFilter.all(), { namespace: "test", replica: "any", retryDelayMs: 1 }),
  );
  assert.equal(new Set(got.map((r) => hex(r.digest))).size, 300);
  assert.equal(got.length, 300);
});

Deno.test("Cluster tend keeps nodes whose pools are all busy", async () => {
  await using emu = await seeded(2);
  await using cluster = await Cluster.connect({
    hosts: emu.seeds,
    maxConnectionsPerNode: 1,
    infoTimeoutMs: 200,
  });
  const it = cluster.scan(PartitionFilter.all(), { namespace: "test" });
  await it.next(); // every node's only pooled connection is now held by the scan
  for (let i = 0; i < 3; i++) await cluster.refresh();
  assert.equal(cluster.nodes.length, 2);
  await it.return?.();
});
