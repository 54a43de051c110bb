import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { PartitionFilter } from "./partition_filter.ts";
import { PartitionTracker } from "./partition_tracker.ts";

function digestOf(pid: number, n: number): Uint8Array {
  const d = new Uint8Array(20);
  d[0] = pid & 0xff;
  d[1] = pid >> 8;
  d[19] = n;
  return d;
}

const byParity = (pid: number) => (pid % 2 === 0 ? "even" : "odd");

Deno.test("PartitionTracker.startRound() groups partitions by node, digests apart", () => {
  const f = PartitionFilter.range(0, 4);
  PartitionFilter.setDigest(f.partitions[2], digestOf(2, 1));
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 2 });
  const nps = t.startRound(byParity);
  const even = nps.find((n) => n.node === "even")!;
  assert.deepEqual(even.full.map((p) => p.id), [0]);
  assert.deepEqual(even.partial.map((p) => p.id), [2]);
  assert.equal(even.recordMax, 0);
  for (const np of nps) t.nodeDone(np);
  assert.equal(t.endRound(), "done");
  assert.equal(f.done, true);
});

Deno.test("PartitionTracker retries unavailable and failed partitions after their digest", () => {
  const f = PartitionFilter.range(0, 4);
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 2 });
  let [a, b] = t.startRound(byParity);
  t.recordDelivered(a, 0, digestOf(0, 7));
  t.partitionUnavailable(a, 2);
  t.nodeDone(a);
  t.recordDelivered(b, 1, digestOf(1, 3));
  t.nodeFailed(b, new Error("gone"));
  assert.equal(t.endRound(), "retry");
  assert.equal(f.partitions[0].done, true);
  assert.equal(f.partitions[2].done, false);
  const round2 = t.startRound(byParity);
  a = round2.find((n) => n.node === "even")!;
  b = round2.find((n) => n.node === "odd")!;
  assert.deepEqual(a.full.map((p) => p.id), [2]);
  assert.deepEqual(b.partial.map((p) => p.id), [1]);
  assert.deepEqual(b.partial[0].digest, digestOf(1, 3));
  assert.deepEqual(b.full.map((p) => p.id), [3]);
  t.nodeDone(a);
  t.nodeDone(b);
  assert.equal(t.endRound(), "done");
});

Deno.test("PartitionTracker.endRound() gives up after maxRetries with MAX_RETRIES_EXCEEDED", () => {
  const f = PartitionFilter.range(0, 2);
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 1 });
  for (let round = 0; round < 2; round++) {
    const nps = t.startRound(() => null);
    assert.equal(nps.length, 0);
    if (round === 0) assert.equal(t.endRound(), "retry");
  }
  assert.throws(() => t.endRound(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "MAX_RETRIES_EXCEEDED");
    assert.equal(e.resultCode, -16);
    return true;
  });
});

Deno.test("PartitionTracker splits maxRecords across nodes and marks full pages for later", () => {
  const f = PartitionFilter.range(0, 4);
  const t = new PartitionTracker<string>(f, { maxRecords: 5, maxRetries: 0 });
  const [a, b] = t.startRound(byParity);
  assert.equal(a.recordMax + b.recordMax, 5);
  for (let i = 0; i < a.recordMax; i++) t.recordDelivered(a, 0, digestOf(0, i));
  t.nodeDone(a); // full share: partitions 0 and 2 may hold more
  t.recordDelivered(b, 1, digestOf(1, 0));
  t.nodeDone(b); // fewer than its share: 1 and 3 are done
  assert.equal(t.endRound(), "continue");
  assert.equal(f.partitions[1].done && f.partitions[3].done, true);
  assert.equal(f.partitions[0].done, false);
  const next = t.startRound(byParity);
  assert.equal(next.length, 1);
  assert.equal(next[0].recordMax, 5 - t.records);
  for (let i = 0; i < next[0].recordMax; i++) t.recordDelivered(next[0], 0, digestOf(0, 10 + i));
  t.nodeDone(next[0]);
  assert.equal(t.endRound(), "page-full");
  assert.equal(f.done, false);
  // The next call resumes the partitions left.
  const t2 = new PartitionTracker<string>(f, { maxRecords: 5, maxRetries: 0 });
  const r = t2.startRound(byParity);
  assert.deepEqual(r[0].partial.map((p) => p.id), [0]);
  assert.deepEqual(r[0].full.map((p) => p.id), [2]);
});

Deno.test("PartitionTracker gives a page smaller than the node count to the first nodes", () => {
  const f = PartitionFilter.range(0, 3);
  const t = new PartitionTracker<number>(f, { maxRecords: 2, maxRetries: 0 });
  const nps = t.startRound((pid) => pid);
  assert.equal(nps.length, 2);
  assert.deepEqual(nps.map((n) => n.recordMax), [1, 1]);
  assert.equal(f.partitions[2].retry, true);
});
