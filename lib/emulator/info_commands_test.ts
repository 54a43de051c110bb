import assert from "node:assert/strict";
import { parsePeers, parseReplicas, parseSindexList, parseUdfList } from "../aerospike/info.ts";
import { ManualClock } from "./clock.ts";
import { startEmulator } from "./emulator.ts";
import { RawClient } from "./_test_client.ts";

const CONTENT =
  "LS0gc2FtcGxlIFVERiBrZXB0IGluIGJhY2t1cHMKZnVuY3Rpb24gYWRkX2JpbnMocmVjLCBhLCBiKQogIHJldHVybiByZWNbYV0gKyByZWNbYl0KZW5kCg==";

Deno.test("answerInfo() answers the connect commands as the captured 8.1.2 server", async () => {
  await using emu = await startEmulator({ nodes: 3 });
  const c = await RawClient.connect(`${emu.hosts[0].host}:${emu.hosts[0].port}`);
  try {
    const a = await c.info("node", "build", "version", "edition", "partitions", "no-such-command");
    assert.equal(a.get("node"), emu.hosts[0].name);
    assert.equal(a.get("build"), "8.1.2.0");
    assert.equal(a.get("version"), "Aerospike Community Edition build 8.1.2.0");
    assert.equal(a.get("edition"), "Aerospike Community Edition");
    assert.equal(a.get("partitions"), "4096");
    assert.equal(a.get("no-such-command"), "ERROR:4:unrecognized command");
    const p = await c.info("peers-clear-std", "peers-tls-std", "peers-clear-alt", "services");
    const peers = parsePeers(p.get("peers-clear-std")!);
    assert.deepEqual(
      peers.peers.map((x) => x.nodeName).sort(),
      [emu.hosts[1].name, emu.hosts[2].name].sort(),
    );
    assert.equal(p.get("peers-tls-std"), "ERROR:25:enterprise only");
    assert.match(p.get("peers-clear-alt")!, /^\d+,3000,\[\]$/);
    assert.equal(p.get("services")!.split(";").length, 2);
    const r = await c.info("racks:", "rack-ids", "service-clear-std", "cluster-stable:");
    assert.equal(r.get("racks:"), "ERROR:25:enterprise only");
    assert.equal(r.get("service-clear-std"), `${emu.hosts[0].host}:${emu.hosts[0].port}`);
    assert.match(r.get("cluster-stable:")!, /^[0-9A-F]{12}$/);
  } finally {
    c.close();
  }
});

Deno.test("answerInfo() replicas give each partition one master and one replica across nodes", async () => {
  await using emu = await startEmulator({ nodes: 3, replicationFactor: 2 });
  const counts = new Map<string, number[]>();
  for (const h of emu.hosts) {
    const c = await RawClient.connect(`${h.host}:${h.port}`);
    try {
      const a = await c.info("replicas", "replicas-all", "replicas-master", "replicas:max=1");
      const maps = parseReplicas(a.get("replicas")!);
      assert.deepEqual([...maps.keys()], ["test", "bar"]);
      assert.match(a.get("replicas")!, /^test:0,2,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+;bar:0,2,/);
      assert.match(a.get("replicas-all")!, /^test:2,[^;]+,[^;]+;bar:2,/);
      assert.match(a.get("replicas-master")!, /^test:[^,;]+;bar:[^,;]+$/);
      assert.match(a.get("replicas:max=1")!, /^test:0,1,[^,;]+;bar:0,1,[^,;]+$/);
      const test = maps.get("test")!;
      for (let i = 0; i < 2; i++) {
        const bits = test.replicas[i];
        for (let pid = 0; pid < 4096; pid++) {
          if (bits[pid >> 3] & (0x80 >> (pid & 7))) {
            const key = `${pid}`;
            const v = counts.get(key) ?? [0, 0];
            v[i]++;
            counts.set(key, v);
          }
        }
      }
    } finally {
      c.close();
    }
  }
  assert.equal(counts.size, 4096);
  for (const v of counts.values()) assert.deepEqual(v, [1, 1]);
});

Deno.test("answerInfo() keeps sindexes and UDFs as cluster metadata seen by every node", async () => {
  await using emu = await startEmulator({ nodes: 2 });
  const [a, b] = await Promise.all(emu.hosts.map((h) => RawClient.connect(`${h.host}:${h.port}`)));
  try {
    const create = "sindex-create:namespace=test;set=alpha;indexname=idx_i;bin=i;type=NUMERIC";
    assert.equal((await a.info(create)).get(create), "ok");
    assert.equal((await b.info(create)).get(create), "ok", "same definition again is ok");
    const other = "sindex-create:ns=test;set=alpha;indexname=idx_i;indexdata=i,STRING";
    assert.equal(
      (await b.info(other)).get(other),
      "ERROR:200:'idx_i' already exists with different definition",
    );
    const listed = (await b.info("sindex-list:namespace=test;b64=true")).get(
      "sindex-list:namespace=test;b64=true",
    )!;
    assert.equal(
      listed,
      "ns=test:indexname=idx_i:set=alpha:bin=i:type=numeric:indextype=default:context=null:exp=null:state=RW",
    );
    assert.equal(parseSindexList(listed)[0].binType, "numeric");
    const stat = (await b.info("sindex-stat:namespace=test;indexname=idx_i")).values().next()
      .value!;
    assert.match(stat, /load_pct=100/);
    const sets = (await b.info("sets/test")).get("sets/test")!;
    assert.match(sets, /^ns=test:set=alpha:objects=0:tombstones=0:.*:sindexes=1:.*;$/);
    const del = "sindex-delete:ns=test;indexname=idx_i";
    assert.equal((await a.info(del)).get(del), "ok");
    assert.equal((await a.info(del)).get(del), "ok", "deleting a missing index is ok");
    assert.equal((await b.info("sindex-list:ns=test")).get("sindex-list:ns=test"), "");

    const put =
      `udf-put:filename=sample.lua;content=${CONTENT};content-len=${CONTENT.length};udf-type=LUA;`;
    assert.equal((await a.info(put)).get(put), "ok");
    // The hash the captured server listed for this very module.
    assert.equal(
      (await b.info("udf-list")).get("udf-list"),
      "filename=sample.lua,hash=5d83f6256f3580b4a1b60ef7fb6bc63e37bf301d,type=LUA;",
    );
    assert.equal(parseUdfList((await b.info("udf-list")).get("udf-list")!)[0].name, "sample.lua");
    assert.equal(
      (await b.info("udf-get:filename=sample.lua;")).get("udf-get:filename=sample.lua;"),
      `type=LUA;content=${CONTENT};`,
    );
    const bad = "udf-put:filename=x.lua;content=abc;content-len=3;";
    assert.equal((await a.info(bad)).get(bad), "error=invalid_content_len");
    assert.equal(
      (await a.info("udf-remove:filename=sample.lua;")).get("udf-remove:filename=sample.lua;"),
      "ok",
    );
    assert.equal(
      (await b.info("udf-get:filename=sample.lua")).get("udf-get:filename=sample.lua"),
      "error=not_found",
    );
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("answerInfo() counts objects per node and truncates sets", async () => {
  await using emu = await startEmulator({ nodes: 3, replicationFactor: 2 });
  for (let i = 0; i < 300; i++) {
    emu.put({ namespace: "test", set: i % 2 ? "odd" : "even", key: i, bins: { i } });
  }
  let objects = 0;
  let master = 0;
  for (const h of emu.hosts) {
    const c = await RawClient.connect(`${h.host}:${h.port}`);
    try {
      const ns = (await c.info("namespace/test")).get("namespace/test")!;
      const kv = new Map(ns.split(";").map((p) => p.split("=") as [string, string]));
      assert.equal(kv.get("effective_replication_factor"), "2");
      assert.equal(kv.get("ns_cluster_size"), "3");
      objects += Number(kv.get("objects"));
      master += Number(kv.get("master_objects"));
    } finally {
      c.close();
    }
  }
  assert.equal(objects, 600);
  assert.equal(master, 300);
  const c = await RawClient.connect(emu.seeds.split(",")[0]);
  try {
    assert.equal((await c.info("namespace/nope")).get("namespace/nope"), "type=unknown");
    const t = "truncate:namespace=test;set=odd";
    assert.equal((await c.info(t)).get(t), "ok");
    assert.equal(emu.count("test", "odd"), 0);
    assert.equal(emu.count("test", "even"), 150);
    const tn = "truncate-namespace:namespace=test";
    assert.equal((await c.info(tn)).get(tn), "ok");
    assert.equal(emu.count("test"), 0);
    const svc = (await c.info("get-config:context=service")).get("get-config:context=service")!;
    assert.match(svc, /batch-index-threads=4/);
  } finally {
    c.close();
  }
});

Deno.test("answerInfo() namespace and set counts follow writes, deletes, truncation and expiry", async () => {
  await using emu = await startEmulator({
    nodes: 1,
    namespaces: [{ name: "test", nsupPeriod: 120 }],
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
  });
  const c = await RawClient.connect(emu.seeds);
  const figures = async () => {
    const ns = (await c.info("namespace/test")).get("namespace/test")!;
    const kv = new Map(ns.split(";").map((p) => p.split("=") as [string, string]));
    const sets = (await c.info("sets/test/s")).get("sets/test/s")!;
    return {
      objects: Number(kv.get("objects")),
      nonExpirable: Number(kv.get("non_expirable_objects")),
      setObjects: Number(/:objects=(\d+):/.exec(sets)?.[1]),
    };
  };
  try {
    const digests = [];
    for (let i = 0; i < 50; i++) {
      digests.push(
        emu.put({ namespace: "test", set: "s", key: i, bins: { i }, ttl: i < 10 ? 60 : 0 }),
      );
    }
    // Asked twice: the second answer comes from the counts kept per partition.
    assert.deepEqual(await figures(), { objects: 50, nonExpirable: 40, setObjects: 50 });
    assert.deepEqual(await figures(), { objects: 50, nonExpirable: 40, setObjects: 50 });
    emu.put({ namespace: "test", set: "s", key: 100, bins: { i: 100 } });
    emu.put({ namespace: "test", set: "s", key: 0, bins: { i: 0 } }); // replaces: no TTL now
    assert.deepEqual(await figures(), { objects: 51, nonExpirable: 42, setObjects: 51 });
    emu.cluster.namespace("test")!.store.remove(digests[20]);
    assert.deepEqual(await figures(), { objects: 50, nonExpirable: 41, setObjects: 50 });
    emu.advanceClock(61_000); // the 9 records still holding a 60 s TTL expire
    assert.deepEqual(await figures(), { objects: 41, nonExpirable: 41, setObjects: 41 });
    const t = "truncate:namespace=test;set=s";
    assert.equal((await c.info(t)).get(t), "ok");
    assert.deepEqual(await figures(), { objects: 0, nonExpirable: 0, setObjects: 0 });
  } finally {
    c.close();
  }
});
