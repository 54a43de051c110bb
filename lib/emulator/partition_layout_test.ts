import assert from "node:assert/strict";
import {
  computeLayout,
  type LayoutNode,
  replicaBitmap,
  replicaIndexOf,
} from "./partition_layout.ts";

const nodes = (n: number, racks?: number[]): LayoutNode[] =>
  Array.from({ length: n }, (_, i) => ({ name: `N${i}`, rackId: racks?.[i] ?? 0, member: true }));

Deno.test("computeLayout() gives every partition distinct owners, spread evenly", () => {
  const layout = computeLayout(nodes(3), 2);
  assert.equal(layout.replicationFactor, 2);
  const masters = [0, 0, 0];
  for (let pid = 0; pid < 4096; pid++) {
    const a = layout.owners[pid * 2];
    const b = layout.owners[pid * 2 + 1];
    assert.notEqual(a, b);
    masters[a]++;
    assert.equal(replicaIndexOf(layout, pid, a), 0);
    assert.equal(replicaIndexOf(layout, pid, b), 1);
  }
  for (const m of masters) assert.ok(m > 1200 && m < 1550, `unbalanced: ${masters}`);
  const bits = replicaBitmap(layout, 0, 0);
  let set = 0;
  for (const byte of bits) for (let i = 0; i < 8; i++) set += (byte >> i) & 1;
  assert.equal(set, masters[0]);
});

Deno.test("computeLayout() caps the replication factor and moves only a dead node's partitions", () => {
  const all = nodes(3);
  const before = computeLayout(all, 1);
  all[1].member = false;
  const after = computeLayout(all, 1);
  for (let pid = 0; pid < 4096; pid++) {
    if (before.owners[pid] !== 1) assert.equal(after.owners[pid], before.owners[pid]);
    else assert.notEqual(after.owners[pid], 1);
  }
  assert.equal(computeLayout(nodes(1), 2).replicationFactor, 1);
});

Deno.test("computeLayout() puts the replica on another rack when there is one", () => {
  const layout = computeLayout(nodes(4, [1, 1, 2, 2]), 2);
  for (let pid = 0; pid < 4096; pid++) {
    const a = layout.owners[pid * 2];
    const b = layout.owners[pid * 2 + 1];
    assert.notEqual(Math.floor(a / 2), Math.floor(b / 2));
  }
});
