import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { bytesToHex, loadCapture, loadInfoCapture } from "./_captures.ts";
import {
  encodeInfoRequest,
  encodeInfoResponse,
  hasPartition,
  infoError,
  parseBuild,
  parseInfoRequest,
  parseInfoResponse,
  parseKeyValues,
  parseNamespaceStats,
  parsePeers,
  parseRacks,
  parseReplicas,
  parseServices,
  parseSets,
  parseSindexList,
  parseUdfGet,
  parseUdfList,
  sindexCreateCommand,
  udfPutCommand,
} from "./info.ts";

const single = loadInfoCapture("info-single-node.json")["127.0.0.1:3000"];
const cluster = loadInfoCapture("info-3-node-cluster.json");

/** The value of a captured answer (`cmd\tvalue\n`). */
function answer(node: Record<string, string>, cmd: string): string {
  const v = parseInfoResponse(node[cmd]).get(cmd);
  assert.ok(v !== undefined, cmd);
  return v;
}

Deno.test("encodeInfoRequest() matches the spec and the captured requests", () => {
  assert.equal(bytesToHex(encodeInfoRequest(["build"])), "02010000000000066275696c640a");
  for (const m of loadCapture("c-asbackup-plain.jsonl")) {
    if (m.dir !== "c2s" || m.type !== 1) continue;
    const cmds = parseInfoRequest(m.bytes.subarray(8));
    assert.deepEqual(encodeInfoRequest(cmds), m.bytes);
  }
  assert.throws(() => encodeInfoRequest(["a\nb"]), TypeError);
});

Deno.test("parseInfoResponse() and encodeInfoResponse() mirror the captured answers", () => {
  for (const m of loadCapture("official-node-client.jsonl")) {
    if (m.dir !== "s2c" || m.type !== 1) continue;
    const answers = parseInfoResponse(m.bytes.subarray(8));
    assert.deepEqual(encodeInfoResponse(answers), m.bytes);
  }
  const a = parseInfoResponse("services\t\nnode\tBB9\n");
  assert.equal(a.get("services"), "");
  assert.equal(a.get("node"), "BB9");
});

Deno.test("infoError() recognises the error forms", () => {
  assert.deepEqual(infoError(answer(single, "peers-tls-std")), {
    code: 25,
    message: "enterprise only",
  });
  assert.deepEqual(infoError(answer(single, "no-such-command")), {
    code: 4,
    message: "unrecognized command",
  });
  assert.deepEqual(infoError("FAIL:0:x"), { code: 1, message: "x" });
  assert.deepEqual(infoError("ERROR::bad"), { code: 1, message: "bad" });
  assert.deepEqual(infoError("ERROR"), { code: 1, message: "" });
  assert.deepEqual(infoError("error=not_found"), { code: 1, message: "not_found" });
  assert.equal(
    infoError("error=compile_error;file=a.lua;line=1;message=" + btoa("boom"))?.message,
    "compile_error: boom",
  );
  assert.equal(infoError("ok"), null);
  assert.equal(infoError(answer(single, "build")), null);
});

Deno.test("parseBuild() reads the version triple", () => {
  assert.deepEqual(parseBuild(answer(single, "build")), [8, 1, 2]);
  assert.throws(() => parseBuild("x"), AerobakError);
  assert.throws(
    () => parseBuild("8.x", "node A1 at 10.0.0.1:3000"),
    /"8\.x" from node A1 at 10\.0\.0\.1:3000/,
  );
});

Deno.test("parseReplicas() reads the bitmaps of one and three nodes", () => {
  const one = parseReplicas(answer(single, "replicas"));
  assert.deepEqual([...one.keys()], ["test", "bar"]);
  const t = one.get("test")!;
  assert.equal(t.regime, 0);
  assert.equal(t.replicas.length, 1);
  for (let p = 0; p < 4096; p++) assert.ok(hasPartition(t.replicas[0], p));
  // Three nodes, rf 2: every partition has exactly one master and one replica.
  const maps = Object.values(cluster).map((n) => parseReplicas(answer(n, "replicas")).get("test")!);
  for (let p = 0; p < 4096; p++) {
    for (let r = 0; r < 2; r++) {
      assert.equal(maps.filter((m) => hasPartition(m.replicas[r], p)).length, 1, `p${p} r${r}`);
    }
  }
  assert.throws(() => parseReplicas("test:0,2,AAAA"), AerobakError);
});

Deno.test("parsePeers() reads peers with and without ports", () => {
  assert.deepEqual(parsePeers(answer(single, "peers-clear-std")), {
    generation: 0,
    defaultPort: 3000,
    peers: [],
  });
  assert.deepEqual(parsePeers(answer(cluster["127.0.0.1:4000"], "peers-clear-std")), {
    generation: 4,
    defaultPort: 3000,
    peers: [
      { nodeName: "A1", tlsName: "", hosts: [{ host: "127.0.0.1", port: 4010 }] },
      { nodeName: "A2", tlsName: "", hosts: [{ host: "127.0.0.1", port: 4020 }] },
    ],
  });
  assert.deepEqual(
    parsePeers(
      "12,3000,[[BB9030011AC4202,,[172.17.0.4]],[BB9,tls1,[172.17.0.5:3100,[::1]:4333,[fe80::1]]]]",
    ),
    {
      generation: 12,
      defaultPort: 3000,
      peers: [
        { nodeName: "BB9030011AC4202", tlsName: "", hosts: [{ host: "172.17.0.4", port: 3000 }] },
        {
          nodeName: "BB9",
          tlsName: "tls1",
          hosts: [
            { host: "172.17.0.5", port: 3100 },
            { host: "::1", port: 4333 },
            { host: "fe80::1", port: 3000 },
          ],
        },
      ],
    },
  );
  assert.throws(() => parsePeers("garbage"), AerobakError);
});

Deno.test("parseServices() splits host lists", () => {
  assert.deepEqual(parseServices(answer(single, "services")), []);
  assert.deepEqual(parseServices(answer(cluster["127.0.0.1:4000"], "services")), [
    { host: "127.0.0.1", port: 4010 },
    { host: "127.0.0.1", port: 4020 },
  ]);
  assert.deepEqual(parseServices(answer(single, "service-clear-std")), [{
    host: "192.0.2.2",
    port: 3000,
  }]);
});

Deno.test("parseNamespaceStats() reads objects and replication factor", () => {
  const s = parseNamespaceStats(answer(single, "namespace/test"));
  assert.equal(s.objects, 19);
  assert.equal(s.effectiveReplicationFactor, 1);
  assert.equal(s.migrateTxPartitionsRemaining, 0);
  const total = Object.values(cluster).reduce(
    (n, node) => n + parseNamespaceStats(answer(node, "namespace/test")).objects,
    0,
  );
  const rf = parseNamespaceStats(answer(cluster["127.0.0.1:4000"], "namespace/test"))
    .effectiveReplicationFactor;
  assert.equal(rf, 2);
  assert.ok(Number.isInteger(total / rf));
  assert.throws(() => parseNamespaceStats("type=unknown"), AerobakError);
});

Deno.test("parseSets() reads sets including names with spaces", () => {
  const sets = parseSets(answer(single, "sets/test"));
  assert.deepEqual(sets.map((s) => s.set), ["alpha", "beta", "set with space", "perf", "cap"]);
  assert.equal(sets[4].objects, 18);
  assert.equal(sets[0].namespace, "test");
  assert.deepEqual(
    parseSets("ns_name=t:set_name=s:n_objects=3;").map((s) => [s.namespace, s.set, s.objects]),
    [["t", "s", 3]],
  );
});

Deno.test("parseSindexList() reads the captured indexes and skips set indexes", () => {
  const list = parseSindexList(answer(single, "sindex-list:namespace=test;b64=true"));
  assert.deepEqual(list, [
    {
      namespace: "test",
      set: "alpha",
      name: "idx_i",
      indexType: "default",
      bin: "i",
      binType: "numeric",
      state: "RW",
    },
    {
      namespace: "test",
      set: "alpha",
      name: "idx s",
      indexType: "default",
      bin: "s",
      binType: "string",
      state: "RW",
    },
    {
      namespace: "test",
      set: "alpha",
      name: "idx_geo",
      indexType: "default",
      bin: "g",
      binType: "geo2dsphere",
      state: "RW",
    },
  ]);
  const more = parseSindexList(
    "ns=t:indexname=e:set=null:bin=null:type=numeric:indextype=default:context=null:exp=kwNCAA==:state=RW;" +
      "ns=t:indexname=si:set=s:indextype=set;ns=t:indexname=l:set=NULL:bin=b:type=STRING:indextype=LIST:context=khAA:exp=null:state=WO",
  );
  assert.deepEqual(more, [
    {
      namespace: "t",
      set: "",
      name: "e",
      indexType: "default",
      bin: "",
      binType: "numeric",
      expression: "kwNCAA==",
      state: "RW",
    },
    {
      namespace: "t",
      set: "",
      name: "l",
      indexType: "list",
      bin: "b",
      binType: "string",
      context: "khAA",
      state: "WO",
    },
  ]);
  assert.throws(() => parseSindexList("ns=t:indexname=x:bin=b:type=weird"), AerobakError);
});

Deno.test("sindexCreateCommand() follows the server version syntax", () => {
  const [idx] = parseSindexList(answer(single, "sindex-list:namespace=test;b64=true"));
  assert.equal(
    sindexCreateCommand(idx, [8, 1, 2]),
    "sindex-create:namespace=test;set=alpha;indexname=idx_i;bin=i;type=NUMERIC",
  );
  assert.equal(
    sindexCreateCommand(idx, [8, 1, 3]),
    "sindex-create:namespace=test;set=alpha;indexname=idx_i;bin=i;type=INTEGER",
  );
  assert.equal(
    sindexCreateCommand(idx, [7, 0, 0]),
    "sindex-create:ns=test;set=alpha;indexname=idx_i;indexdata=i,NUMERIC",
  );
  assert.equal(
    sindexCreateCommand({
      namespace: "t",
      set: "",
      name: "e",
      indexType: "list",
      bin: "",
      binType: "string",
      expression: "kwM=",
    }, [8, 1, 2]),
    "sindex-create:namespace=t;indexname=e;exp=kwM=;indextype=LIST;type=STRING",
  );
});

Deno.test("parseUdfList()/parseUdfGet()/udfPutCommand() match the captures", () => {
  assert.deepEqual(parseUdfList(answer(single, "udf-list")), [
    { name: "sample.lua", hash: "5d83f6256f3580b4a1b60ef7fb6bc63e37bf301d", type: "LUA" },
  ]);
  const got = parseUdfGet(answer(single, "udf-get:filename=sample.lua"));
  assert.ok(new TextDecoder().decode(got.content).startsWith("-- sample UDF"));
  const put = loadCapture("c-asrestore-default.jsonl")[30].text!.trimEnd();
  assert.equal(udfPutCommand("sample.lua", got.content), put);
  assert.throws(
    () => parseUdfGet("error=not_found"),
    (e) => e instanceof AerobakError && e.code === "INFO_ERROR",
  );
});

Deno.test("parseKeyValues() splits on the first equals sign only", () => {
  assert.deepEqual([...parseKeyValues("a=b=c;d=;e")], [["a", "b=c"], ["d", ""], ["e", ""]]);
  assert.deepEqual(parseRacks("ns=test:rack_1=A,B:rack_2=C;ns=bar:rack_0=A").get("test")?.get(1), [
    "A",
    "B",
  ]);
});
