// The official Aerospike Node client (6.7.1, C client 7.x inside) against the emulator.
// Where the two disagree, the official client is right.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Aerospike from "aerospike";
import { startEmulatorProcess } from "./_emulator.mjs";

let emu;
let client;

before(async () => {
  emu = await startEmulatorProcess();
  client = await Aerospike.connect({
    hosts: emu.hosts,
    log: { level: Aerospike.log.OFF },
    policies: { write: new Aerospike.WritePolicy({ key: Aerospike.policy.key.SEND }) },
  });
});

after(async () => {
  if (client) await client.close();
  if (emu) await emu.stop();
});

async function waitForNodes(n) {
  for (let i = 0; i < 100; i++) {
    if (client.getNodes().length === n) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`client sees ${client.getNodes().length} nodes, expected ${n}`);
}

test("the client connects to all three nodes of the cluster", async () => {
  await waitForNodes(3);
  const names = client.getNodes().map((n) => n.name).sort();
  assert.equal(new Set(names).size, 3);
  const all = await client.infoAll("node");
  assert.equal(all.length, 3);
});

test("put/get returns every particle type exactly", async () => {
  const key = new Aerospike.Key("test", "types", "all");
  const bins = {
    int: 42,
    neg: -7,
    max: 2n ** 63n - 1n,
    min: -(2n ** 63n),
    dbl: new Aerospike.Double(1.0),
    pi: 3.141592653589793,
    str: "hello world\nline two",
    empty: "",
    bytes: Buffer.from([0, 1, 2, 255]),
    t: true,
    f: false,
    list: [1, "a", [2, 3], { k: "v", z: 2.5 }],
    map: { b: 2, a: 1, n: { y: [1], x: "x" } },
    geo: new Aerospike.GeoJSON({ type: "Point", coordinates: [103.9, 1.3] }),
  };
  await client.put(key, bins);
  const rec = await client.get(key);
  assert.equal(rec.gen, 1);
  assert.equal(rec.bins.int, 42);
  assert.equal(rec.bins.neg, -7);
  assert.equal(BigInt(rec.bins.max), 2n ** 63n - 1n);
  assert.equal(BigInt(rec.bins.min), -(2n ** 63n));
  assert.equal(rec.bins.dbl, 1);
  assert.equal(rec.bins.pi, 3.141592653589793);
  assert.equal(rec.bins.str, "hello world\nline two");
  assert.equal(rec.bins.empty, "");
  assert.deepEqual(rec.bins.bytes, Buffer.from([0, 1, 2, 255]));
  assert.equal(rec.bins.t, true);
  assert.equal(rec.bins.f, false);
  assert.deepEqual(rec.bins.list, [1, "a", [2, 3], { k: "v", z: 2.5 }]);
  assert.deepEqual(rec.bins.map, { a: 1, b: 2, n: { x: "x", y: [1] } });
  assert.deepEqual(JSON.parse(rec.bins.geo.toString()), {
    type: "Point",
    coordinates: [103.9, 1.3],
  });
  // The float 1.0 must stay a float: reading it with a double-typed expression proves it.
  const asDouble = await client.get(key, {
    filterExpression: Aerospike.exp.eq(Aerospike.exp.binFloat("dbl"), Aerospike.exp.float(1.0)),
  });
  assert.equal(asDouble.bins.dbl, 1);
});

test("an HLL value written as bytes comes back as an HLL", async () => {
  const key = new Aerospike.Key("test", "types", "hll");
  const hllBytes = Buffer.alloc(24, 7);
  await client.put(key, { h: new Aerospike.HyperLogLog(hllBytes) });
  const rec = await client.get(key);
  assert.deepEqual(Buffer.from(rec.bins.h), hllBytes);
});

test("policies: create-only fails on an existing record, generation checks apply", async () => {
  const key = new Aerospike.Key("test", "pol", 1);
  await client.put(key, { v: 1 });
  await assert.rejects(
    client.put(
      key,
      { v: 2 },
      {},
      new Aerospike.WritePolicy({ exists: Aerospike.policy.exists.CREATE }),
    ),
    (e) => e.code === Aerospike.status.ERR_RECORD_EXISTS,
  );
  await assert.rejects(
    client.put(
      key,
      { v: 3 },
      { gen: 5 },
      new Aerospike.WritePolicy({ gen: Aerospike.policy.gen.EQ }),
    ),
    (e) => e.code === Aerospike.status.ERR_RECORD_GENERATION,
  );
  await client.remove(key);
  assert.equal(await client.exists(key), false);
});

test("writes with a TTL are refused with FAIL_FORBIDDEN as on a server without nsup", async () => {
  const key = new Aerospike.Key("test", "ttl", 1);
  await assert.rejects(client.put(key, { v: 1 }, { ttl: 100 }), (e) => e.code === 22);
  await client.put(key, { v: 1 }, { ttl: -1 });
  const rec = await client.get(key);
  assert.equal(rec.ttl, -1);
});

test("batch writes and batch reads report per-record results", async () => {
  const keys = Array.from({ length: 20 }, (_, i) => new Aerospike.Key("test", "batch", i));
  const writes = keys.map((key, i) => ({
    type: Aerospike.batchType.BATCH_WRITE,
    key,
    ops: [Aerospike.operations.write("v", i), Aerospike.operations.write("s", `s${i}`)],
  }));
  const wres = await client.batchWrite(writes);
  assert.equal(wres.length, 20);
  assert.ok(wres.every((r) => r.status === Aerospike.status.OK));
  const reads = [...keys, new Aerospike.Key("test", "batch", "missing")].map((key) => ({
    key,
    readAllBins: true,
  }));
  const rres = await client.batchRead(reads);
  assert.equal(rres.length, 21);
  for (let i = 0; i < 20; i++) {
    assert.equal(rres[i].status, Aerospike.status.OK);
    assert.deepEqual(rres[i].record.bins, { v: i, s: `s${i}` });
  }
  assert.equal(rres[20].status, Aerospike.status.ERR_RECORD_NOT_FOUND);
});

test("scans by partition range return exactly the records of those partitions", async () => {
  const n = 300;
  for (let i = 0; i < n; i += 50) {
    // The client allows 100 async connections per node: write in groups.
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, j) => client.put(new Aerospike.Key("test", "scan", i + j), { i: i + j }),
      ),
    );
  }
  const collect = async (begin, count) => {
    const scan = client.scan("test", "scan");
    scan.partitions(begin, count);
    const got = [];
    await new Promise((resolve, reject) => {
      const stream = scan.foreach();
      stream.on("data", (rec) => got.push(rec.bins.i));
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    return got;
  };
  const low = await collect(0, 2048);
  const high = await collect(2048, 2048);
  assert.equal(low.length + high.length, n);
  assert.deepEqual([...low, ...high].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  assert.ok(low.length > 0 && high.length > 0);
});

test("info commands answer like the server", async () => {
  const build = await client.infoAny("build");
  assert.equal(build, "build\t8.1.2.0\n");
  const ns = await client.infoAny("namespaces");
  assert.equal(ns, "namespaces\ttest;bar\n");
});

test("UDF register, list and remove", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "aerobak-udf-"));
  const file = path.join(dir, "conformance.lua");
  writeFileSync(file, "function add(rec, a, b)\n  return rec[a] + rec[b]\nend\n");
  const job = await client.udfRegister(file);
  await job.wait(10);
  const list = await client.infoAny("udf-list");
  assert.match(list, /filename=conformance\.lua,hash=[0-9a-f]{40},type=LUA;/);
  const removal = await client.udfRemove("conformance.lua");
  await removal.wait(10);
  assert.doesNotMatch(await client.infoAny("udf-list"), /conformance\.lua/);
});

test("secondary index create and list", async () => {
  const job = await client.createIntegerIndex({ ns: "test", set: "idx", bin: "v", index: "idx_v" });
  await job.wait(10);
  const list = await client.infoAny("sindex-list:namespace=test;b64=true");
  assert.match(
    list,
    /ns=test:indexname=idx_v:set=idx:bin=v:type=numeric:indextype=default:context=null:exp=null:state=RW/,
  );
  await client.indexRemove("test", "idx_v");
  assert.doesNotMatch(await client.infoAny("sindex-list:namespace=test;b64=true"), /idx_v/);
});

test("truncate removes the records of a set", async () => {
  await Promise.all(
    Array.from({ length: 10 }, (_, i) => client.put(new Aerospike.Key("test", "trunc", i), { i })),
  );
  await client.truncate("test", "trunc", 0);
  const results = await client.batchRead(
    Array.from(
      { length: 10 },
      (_, i) => ({ key: new Aerospike.Key("test", "trunc", i), readAllBins: true }),
    ),
  );
  assert.ok(results.every((r) => r.status === Aerospike.status.ERR_RECORD_NOT_FOUND));
});
