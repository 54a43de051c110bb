import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { computeDigest, keyFromJs, partitionId } from "./digest.ts";
import { PartitionFilter } from "./partition_filter.ts";

Deno.test("PartitionFilter.all() covers 4096 partitions, none done", () => {
  const f = PartitionFilter.all();
  assert.equal(f.begin, 0);
  assert.equal(f.count, 4096);
  assert.equal(f.partitions.length, 4096);
  assert.equal(f.partitions[4095].id, 4095);
  assert.equal(f.done, false);
});

Deno.test("PartitionFilter.range() and ids() validate their input", () => {
  assert.throws(() => PartitionFilter.range(4000, 200), RangeError);
  assert.throws(() => PartitionFilter.range(-1, 2), RangeError);
  assert.throws(() => PartitionFilter.range(0, 0), RangeError);
  assert.throws(() => PartitionFilter.ids([]), RangeError);
  assert.throws(() => PartitionFilter.ids([1, 1]), RangeError);
  assert.throws(() => PartitionFilter.ids([4096]), RangeError);
  const f = PartitionFilter.ids([7, 3]);
  assert.deepEqual(f.partitions.map((p) => p.id), [7, 3]);
  assert.equal(f.begin, 7);
  assert.equal(f.count, 2);
});

Deno.test("PartitionFilter.afterDigest() starts at the digest's partition with its digest", () => {
  const d = computeDigest("demo", keyFromJs(1)); // partition 1207
  const f = PartitionFilter.afterDigest(d);
  assert.equal(f.begin, 1207);
  assert.equal(f.count, 4096 - 1207);
  assert.deepEqual(f.partitions[0].digest, d);
  assert.equal(f.partitions[1].digest, undefined);
  assert.deepEqual(f.digest, d);
  d[0] ^= 1; // the filter keeps its own copy
  assert.notDeepEqual(f.partitions[0].digest, d);
});

Deno.test("PartitionFilter.byDigest() is the whole partition of the digest", () => {
  const d = computeDigest("demo", keyFromJs(1));
  const f = PartitionFilter.byDigest(d);
  assert.equal(f.count, 1);
  assert.equal(f.partitions[0].id, partitionId(d));
  assert.equal(f.partitions[0].digest, undefined);
});

Deno.test("PartitionFilter.toJSON()/fromJSON() round-trip the cursor", () => {
  const f = PartitionFilter.range(1200, 10);
  const d = computeDigest("demo", keyFromJs(1));
  PartitionFilter.setDigest(f.partitions[7], d);
  f.partitions[0].done = true;
  f.partitions[0].retry = false;
  const json = JSON.parse(JSON.stringify(f));
  assert.equal(json.version, 1);
  const g = PartitionFilter.fromJSON(json);
  assert.equal(g.begin, 1200);
  assert.equal(g.count, 10);
  assert.deepEqual(g.partitions[7].digest, d);
  assert.equal(g.partitions[0].done, true);
  assert.equal(g.partitions[1].done, false);
  assert.deepEqual(g.toJSON(), f.toJSON());
});

Deno.test("PartitionFilter.setDigest() copies into the status's own buffer", () => {
  const f = PartitionFilter.id(5);
  const frame = new Uint8Array(40);
  frame.fill(9, 0, 20);
  PartitionFilter.setDigest(f.partitions[0], frame.subarray(0, 20));
  assert.notEqual(f.partitions[0].digest!.buffer, frame.buffer);
  frame.fill(1);
  assert.equal(f.partitions[0].digest![0], 9);
});

Deno.test("PartitionFilter.fromJSON() refuses broken cursors with CURSOR_INVALID", () => {
  const good = PartitionFilter.range(1207, 2).toJSON();
  const d = computeDigest("demo", keyFromJs(2)); // not partition 1207
  const cases: unknown[] = [
    null,
    { ...good, version: 2 },
    { ...good, begin: 5000 },
    { ...good, count: 3 },
    { ...good, partitions: [good.partitions[0], good.partitions[0]] },
    { ...good, partitions: [{ id: 1207, retry: "yes", done: false }, good.partitions[1]] },
    {
      ...good,
      partitions: [{ id: 1207, retry: true, done: false, digest: "AAAA" }, good.partitions[1]],
    },
    {
      ...good,
      partitions: [
        { id: 1207, retry: true, done: false, digest: btoa(String.fromCharCode(...d)) },
        good.partitions[1],
      ],
    },
  ];
  for (const c of cases) {
    assert.throws(() => PartitionFilter.fromJSON(c), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "CURSOR_INVALID");
      return true;
    }, JSON.stringify(c)?.slice(0, 80));
  }
});

Deno.test("PartitionFilter.done is true only when every partition is done", () => {
  const f = PartitionFilter.ids([1, 2]);
  f.partitions[0].done = true;
  assert.equal(f.done, false);
  f.partitions[1].done = true;
  assert.equal(f.done, true);
});
