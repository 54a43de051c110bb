import assert from "node:assert/strict";
import { blobBin, floatBin, intBin, stringBin } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { classifyRead, extraScopeOf, sameBins } from "./verify.ts";

const record: AerospikeRecord = {
  namespace: "test",
  set: "s",
  digest: new Uint8Array(20),
  generation: 1,
  voidTime: 0,
  bins: [intBin("i", 1), stringBin("s", "x"), floatBin("f", NaN), {
    name: "gone",
    type: 0,
    value: null,
  }],
};

Deno.test("sameBins() compares names, particle types and values, in any order", () => {
  const cluster = [stringBin("s", "x"), floatBin("f", NaN), intBin("i", 1)];
  assert.equal(sameBins(record.bins, cluster), true);
  assert.equal(sameBins(record.bins, [...cluster.slice(0, 2), intBin("i", 2)]), false);
  assert.equal(sameBins(record.bins, [...cluster.slice(0, 2), floatBin("i", 1)]), false);
  assert.equal(sameBins(record.bins, [...cluster, intBin("extra", 0)]), false);
  assert.equal(
    sameBins([blobBin("b", new Uint8Array([1, 2]))], [blobBin("b", new Uint8Array([1, 3]))]),
    false,
  );
  assert.equal(
    sameBins([blobBin("b", new Uint8Array([1]), 7)], [blobBin("b", new Uint8Array([1]))]),
    false,
  );
  assert.equal(sameBins([floatBin("z", -0)], [floatBin("z", 0)]), false);
});

Deno.test("classifyRead() maps the server's answers to classes", () => {
  const found = (bins = [stringBin("s", "x"), floatBin("f", NaN), intBin("i", 1)]) => ({
    resultCode: 0,
    generation: 1,
    voidTime: 0,
    bins,
  });
  const code = (resultCode: number) => ({ resultCode, generation: 0, voidTime: 0 });
  assert.equal(classifyRead(record, found()), "identical");
  assert.equal(classifyRead(record, found([intBin("i", 1)])), "different");
  assert.equal(classifyRead(record, code(27)), "changed");
  assert.equal(classifyRead(record, code(2)), "missing");
  assert.equal(classifyRead(record, code(19)), "different");
  assert.equal(classifyRead(record, code(4)), "different");
  assert.throws(() => classifyRead(record, code(8)), /server returned 8/);
});

Deno.test("extraScopeOf() takes the backup's filters, narrowed to the restore's sets", () => {
  const settings = {
    setList: ["a", "b"],
    binList: [],
    partitionFilters: [{ kind: "range" as const, begin: 0, count: 100 }],
    nodeList: [],
    rackList: [],
    modifiedAfter: "2025-06-15T15:06:40.000000001Z",
    noTtlOnly: true,
    noRecords: false,
    noIndexes: false,
    noUdfs: false,
    noBins: false,
    maxRecords: 0,
    compression: "NONE",
    encryption: "NONE",
  };
  const scope = extraScopeOf(settings, ["b", "c"]);
  assert.deepEqual(scope.sets, ["b"]);
  assert.deepEqual(scope.partitionFilters, settings.partitionFilters);
  assert.equal(scope.modAfter, 1_750_000_000_000_000_001n);
  assert.equal(scope.noTtlOnly, true);
  assert.deepEqual(extraScopeOf(undefined, []).partitionFilters, [{ kind: "all" }]);
  assert.throws(() => extraScopeOf({ ...settings, nodeList: ["n1"] }, []), /--node-list/);
});
