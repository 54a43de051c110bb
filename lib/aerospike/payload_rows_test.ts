import assert from "node:assert/strict";
import { startEmulator } from "../emulator/mod.ts";
import { concatBytes } from "../_test_utils.ts";
import { AerobakError } from "../errors.ts";
import { Cluster } from "./cluster.ts";
import { computeDigest, keyFromJs, partitionId } from "./digest.ts";
import { intBin, stringBin } from "./particle.ts";
import { PayloadRows } from "./payload_rows.ts";
import type { AerospikeRecord } from "./record.ts";
import { encodeDeleteRequest, encodePutRequest } from "./requests.ts";
import { ResultCode } from "./result_code.ts";

/** The text of bin `s` of a stored record. */
async function textOf(cluster: Cluster, i: number): Promise<string | undefined> {
  const r = await cluster.get("test", "pp", rec(i, "").digest);
  return r ? new TextDecoder().decode(r.bins[1].value as Uint8Array) : undefined;
}

function rec(i: number, value: string, generation = 1): AerospikeRecord {
  const key = keyFromJs(`p${i}`);
  return {
    namespace: "test",
    set: "pp",
    key,
    digest: computeDigest("pp", key),
    generation,
    voidTime: 0,
    bins: [intBin("i", i), stringBin("s", value)],
  };
}

const put = (r: AerospikeRecord, generationPolicy: "none" | "expectGenGreater" = "none") =>
  encodePutRequest({ record: r, ttl: -1, policy: { generationPolicy } }).slice();
const del = (r: AerospikeRecord) =>
  encodeDeleteRequest({ namespace: r.namespace, set: r.set, digest: r.digest }).slice();

Deno.test("PayloadRows copies messages in, refuses malformed ones, retains and lays out runs", () => {
  const rows = new PayloadRows({}, 2);
  const messages = [0, 1, 2, 3].map((i) => put(rec(i, `v${i}`)));
  for (let i = 0; i < 4; i++) assert.equal(rows.add("test", rec(i, "").digest, messages[i]), i);
  messages[1].fill(0); // the rows own their copies
  assert.deepEqual(rows.payload(1), put(rec(1, "v1")));
  assert.equal(rows.partition(2), partitionId(rec(2, "").digest));
  assert.deepEqual(
    rows.encodeRun([2, 3, 0]),
    concatBytes([put(rec(2, "v2")), put(rec(3, "v3")), put(rec(0, "v0"))]),
  );
  rows.noteFailure(3);
  rows.retain([false, true, false, true]);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows.digest(0), rec(1, "").digest);
  assert.deepEqual(rows.payload(1), put(rec(3, "v3")));
  assert.equal(rows.failures(1), 1);
  assert.throws(() => rows.payload(2), RangeError);
  const cut = put(rec(9, "x")).subarray(0, 40);
  assert.throws(
    () => rows.add("test", rec(9, "").digest, cut),
    (e: unknown) =>
      e instanceof AerobakError && e.code === "PAYLOAD_INVALID" && /proto header/.test(e.message),
  );
  assert.throws(() => rows.add("test", new Uint8Array(19), put(rec(9, "x"))), RangeError);
  assert.equal(rows.length, 2);
  rows.clear();
  assert.equal(rows.length, 0);
});

Deno.test("Cluster.putPayloads() pipelines each node's messages on one connection, in order", async () => {
  await using emu = await startEmulator({ nodes: 3 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const opened = () => emu.cluster.nodes.reduce((n, s) => n + s.clientConnectionsOpened, 0);
  const rows = new PayloadRows();
  // Every record twice: the second version must win, as the rows are sent in order.
  for (let i = 0; i < 300; i++) rows.add("test", rec(i, "").digest, put(rec(i, `first ${i}`)));
  for (let i = 0; i < 300; i++) rows.add("test", rec(i, "").digest, put(rec(i, `second ${i}`)));
  const before = opened();
  const codes = await cluster.putPayloads(rows);
  assert.deepEqual([...codes], new Array(600).fill(0));
  assert.ok(opened() - before <= 3, `${opened() - before} connections for 600 messages`);
  for (let i = 0; i < 300; i += 29) {
    assert.equal(
      await textOf(cluster, i),
      `second ${i}`,
    );
  }
  // The answers are each message's own: generation errors, deletes, deletes of nothing.
  rows.clear();
  rows.add("test", rec(1, "").digest, put(rec(1, "old", 1), "expectGenGreater"));
  rows.add("test", rec(2, "").digest, del(rec(2, "")));
  rows.add("test", rec(2, "").digest, del(rec(2, "")));
  rows.add("test", rec(3, "").digest, put(rec(3, "new", 9), "expectGenGreater"));
  assert.deepEqual([...await cluster.putPayloads(rows)], [
    ResultCode.GENERATION_ERROR,
    0,
    ResultCode.KEY_NOT_FOUND,
    0,
  ]);
  assert.equal(emu.get("test", rec(2, "").digest), undefined);
  assert.equal(await textOf(cluster, 3), "new");
});

Deno.test("Cluster.putPayloads() gives the messages of a node that is gone a client code", async () => {
  await using emu = await startEmulator({ nodes: 2 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds, tendIntervalMs: 60_000 });
  const rows = new PayloadRows({ socketTimeoutMs: 500, totalTimeoutMs: 1000 });
  for (let i = 0; i < 100; i++) rows.add("test", rec(i, "").digest, put(rec(i, `v${i}`)));
  const gone = cluster.nodes[1].name;
  await emu.stopNode(gone);
  const codes = await cluster.putPayloads(rows);
  let lost = 0;
  for (let i = 0; i < rows.length; i++) {
    if (cluster.nodeForPartition("test", rows.partition(i)).name === gone) {
      assert.ok(codes[i] < 0, `row ${i}: ${codes[i]}`);
      assert.equal(rows.failures(i), 1);
      lost++;
    } else {
      assert.equal(codes[i], 0);
      assert.equal(rows.failures(i), 0);
    }
  }
  assert.ok(lost > 0 && lost < 100, `${lost} rows on the node that is gone`);
});
