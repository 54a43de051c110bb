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

Deno.test("PartitionTracker.assign() groups partitions by node, resume digests apart", () => {
  const f = PartitionFilter.range(0, 4);
  PartitionFilter.setDigest(f.partitions[2], digestOf(2, 1));
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 2 });
  assert.equal(t.waiting, 4);
  const nps = t.assign(byParity);
  assert.equal(t.waiting, 0);
  assert.equal(t.active, 2);
  const even = nps.find((n) => n.node === "even")!;
  assert.deepEqual(even.full.map((p) => p.id), [0]);
  assert.deepEqual(even.partial.map((p) => p.id), [2]);
  assert.deepEqual(even.resume, [digestOf(2, 1)]);
  assert.equal(even.recordMax, 0);
  for (const np of nps) t.nodeDone(np);
  assert.equal(t.outcome(), "done");
  assert.equal(f.done, true);
});

Deno.test("PartitionTracker retries a failed node's partitions while others run, after their digest", () => {
  const f = PartitionFilter.range(0, 4);
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 2 });
  const [a, b] = t.assign(byParity);
  t.recordDelivered(b, 1, digestOf(1, 3), 0);
  t.nodeFailed(b, new Error("gone"));
  // The even node is still reading; the odd node's partitions wait for a retry already.
  assert.equal(t.active, 1);
  assert.equal(t.waiting, 2);
  assert.equal(t.retryPending, true);
  assert.equal(t.failures, 1);
  const [retry] = t.assign((pid, failures) => (failures > 0 ? "replica" : byParity(pid)));
  assert.equal(retry.node, "replica");
  assert.deepEqual(retry.partial.map((p) => p.id), [1]);
  assert.deepEqual(retry.resume, [digestOf(1, 3)]);
  assert.deepEqual(retry.full.map((p) => p.id), [3]);
  t.recordDelivered(a, 0, digestOf(0, 7), 0);
  t.partitionUnavailable(a, 2);
  t.nodeDone(a);
  assert.equal(f.partitions[0].done, true);
  assert.equal(f.partitions[2].done, false);
  assert.deepEqual(f.partitions[0].digest, digestOf(0, 7));
  t.nodeDone(retry);
  const [last] = t.assign(byParity);
  assert.deepEqual(last.full.map((p) => p.id), [2]);
  t.nodeDone(last);
  assert.equal(t.outcome(), "done");
});

Deno.test("PartitionTracker.assign() gives up once a partition failed more than maxRetries times", () => {
  const f = PartitionFilter.range(0, 2);
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 1 });
  assert.equal(t.assign(() => null).length, 0);
  assert.equal(t.assign(() => null).length, 0);
  assert.throws(() => t.assign(() => "n"), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "MAX_RETRIES_EXCEEDED");
    assert.equal(e.resultCode, -16);
    assert.match(e.message, /1 retries with 2 partitions unfinished \(0, 1\)/);
    return true;
  });
});

Deno.test("PartitionTracker splits maxRecords across nodes and leaves full pages waiting", () => {
  const f = PartitionFilter.range(0, 4);
  const t = new PartitionTracker<string>(f, { maxRecords: 5, maxRetries: 0 });
  const [a, b] = t.assign(byParity);
  assert.equal(a.recordMax + b.recordMax, 5);
  for (let i = 0; i < a.recordMax; i++) t.recordDelivered(a, 0, digestOf(0, i), 0);
  t.nodeDone(a); // full share: partitions 0 and 2 may hold more
  t.recordDelivered(b, 1, digestOf(1, 0), 0);
  t.nodeDone(b); // fewer than its share: 1 and 3 are done
  assert.equal(t.outcome(), "more");
  assert.equal(t.retryPending, false, "a full page is not a failure");
  assert.equal(f.partitions[1].done && f.partitions[3].done, true);
  assert.equal(f.partitions[0].done, false);
  const next = t.assign(byParity);
  assert.equal(next.length, 1);
  assert.equal(next[0].recordMax, 5 - t.records);
  for (let i = 0; i < next[0].recordMax; i++) t.recordDelivered(next[0], 0, digestOf(0, 10 + i), 0);
  t.nodeDone(next[0]);
  assert.equal(t.outcome(), "page-full");
  assert.equal(f.done, false);
  // The next call resumes the partitions left.
  const t2 = new PartitionTracker<string>(f, { maxRecords: 5, maxRetries: 0 });
  const r = t2.assign(byParity);
  assert.deepEqual(r[0].partial.map((p) => p.id), [0]);
  assert.deepEqual(r[0].full.map((p) => p.id), [2]);
});

Deno.test("PartitionTracker gives a page smaller than the node count to the first nodes", () => {
  const f = PartitionFilter.range(0, 3);
  const t = new PartitionTracker<number>(f, { maxRecords: 2, maxRetries: 0 });
  const nps = t.assign((pid) => pid);
  assert.equal(nps.length, 2);
  assert.deepEqual(nps.map((n) => n.recordMax), [1, 1]);
  assert.equal(f.partitions[2].retry, true);
  // The budget held by the requests under way is not handed out twice.
  assert.equal(t.assign((pid) => pid).length, 0);
});

Deno.test("PartitionTracker leaves the filter's cursor to the caller when asked", () => {
  const f = PartitionFilter.range(0, 1);
  const t = new PartitionTracker<string>(f, { maxRecords: 0, maxRetries: 1 });
  const [np] = t.assign(() => "n");
  t.recordDelivered(np, 0, digestOf(0, 1), 0, false);
  assert.equal(f.partitions[0].digest, undefined);
  t.nodeFailed(np, new Error("x"));
  assert.deepEqual(t.assign(() => "n")[0].resume, [digestOf(0, 1)]);
});
