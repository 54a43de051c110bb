import assert from "node:assert/strict";
import {
  parseAfterDigest,
  parsePartitionList,
  type PartitionFilterSpec,
  partitionRangeOf,
  splitPartitionFilters,
  validatePartitionFilters,
} from "./partition_spec.ts";
import { AerobakError } from "../errors.ts";
import { PARTITION_COUNT } from "../aerospike/digest.ts";

// A digest whose first two bytes (little endian, low 12 bits) give partition 0x0234 = 564.
const DIGEST_564 = new Uint8Array(20);
DIGEST_564[0] = 0x34;
DIGEST_564[1] = 0xf2;
const DIGEST_564_B64 = DIGEST_564.toBase64();

function configError(message: RegExp) {
  return (e: unknown) =>
    e instanceof AerobakError && e.code === "CONFIG_INVALID" && message.test(e.message);
}

Deno.test("parsePartitionList() reads ranges as begin-count, ids and digests", () => {
  assert.deepEqual(parsePartitionList(`0-500,2222,${DIGEST_564_B64}`), [
    { kind: "range", begin: 0, count: 500 },
    { kind: "id", id: 2222 },
    { kind: "digest", digest: DIGEST_564_B64 },
  ]);
  assert.deepEqual(parsePartitionList("4095"), [{ kind: "id", id: 4095 }]);
  assert.deepEqual(parsePartitionList("0-4096"), [{ kind: "range", begin: 0, count: 4096 }]);
});

Deno.test("parsePartitionList() rejects out-of-range entries naming them", () => {
  assert.throws(() => parsePartitionList("4096"), configError(/"4096".*0\.\.4095/));
  assert.throws(() => parsePartitionList("4000-97"), configError(/"4000-97".*begin \+ count/));
  assert.throws(() => parsePartitionList("10-0"), configError(/"10-0"/));
  assert.throws(() => parsePartitionList("abc"), configError(/"abc".*20-byte digest/));
  assert.throws(() => parsePartitionList("1,,2"), configError(/""/));
  assert.throws(() => parsePartitionList(""), configError(/at least one/));
  // Base64 of 3 bytes is valid base64 but not a digest.
  assert.throws(() => parsePartitionList("AAAA"), configError(/"AAAA"/));
});

Deno.test("parsePartitionList() rejects overlapping ranges and duplicate partitions", () => {
  assert.throws(
    () => parsePartitionList("0-100,50-10"),
    configError(/range 0-100 and range 50-10 overlap/),
  );
  assert.throws(
    () => parsePartitionList("7,7"),
    configError(/partition 7 and partition 7 overlap/),
  );
  assert.throws(() => parsePartitionList("560-10,564"), configError(/overlap/));
  assert.throws(() => parsePartitionList(`564,${DIGEST_564_B64}`), configError(/overlap/));
  // Adjacent ranges do not overlap.
  assert.equal(parsePartitionList("0-100,100-100,200").length, 3);
});

Deno.test("parseAfterDigest() accepts only base64 of 20 bytes", () => {
  assert.deepEqual(parseAfterDigest(DIGEST_564_B64), {
    kind: "afterDigest",
    digest: DIGEST_564_B64,
  });
  assert.throws(() => parseAfterDigest("not base64!"), configError(/after-digest "not base64!"/));
  assert.throws(() => parseAfterDigest("AAAA"), configError(/20-byte digest/));
  // Go's StdEncoding requires the padding.
  assert.throws(
    () => parseAfterDigest(DIGEST_564_B64.replace("=", "")),
    configError(/after-digest/),
  );
});

Deno.test("partitionRangeOf() gives every kind's partitions", () => {
  assert.deepEqual(partitionRangeOf({ kind: "all" }), { begin: 0, count: 4096 });
  assert.deepEqual(partitionRangeOf({ kind: "id", id: 9 }), { begin: 9, count: 1 });
  assert.deepEqual(partitionRangeOf({ kind: "digest", digest: DIGEST_564_B64 }), {
    begin: 564,
    count: 1,
  });
  assert.deepEqual(partitionRangeOf({ kind: "afterDigest", digest: DIGEST_564_B64 }), {
    begin: 564,
    count: PARTITION_COUNT - 564,
    digest: DIGEST_564_B64,
  });
  assert.throws(
    () => partitionRangeOf({ kind: "range", begin: 4090, count: 7 }),
    configError(/4090-7/),
  );
  assert.throws(() => partitionRangeOf({ kind: "id", id: -1 }), configError(/partition id -1/));
  assert.throws(
    () => partitionRangeOf({ kind: "bogus" } as unknown as PartitionFilterSpec),
    configError(/kind "bogus"/),
  );
});

Deno.test("validatePartitionFilters() rejects an empty list and overlaps with all", () => {
  assert.throws(() => validatePartitionFilters([]), configError(/at least one/));
  assert.throws(
    () => validatePartitionFilters([{ kind: "all" }, { kind: "id", id: 3 }]),
    configError(/all partitions and partition 3 overlap/),
  );
});

Deno.test("splitPartitionFilters() cuts one range into n contiguous sub-ranges", () => {
  const parts = splitPartitionFilters([{ kind: "all" }], 3);
  assert.deepEqual(parts, [
    { begin: 0, count: 1365 },
    { begin: 1365, count: 1365 },
    { begin: 2730, count: 1366 },
  ]);
  assert.deepEqual(splitPartitionFilters([{ kind: "range", begin: 100, count: 10 }], 4), [
    { begin: 100, count: 2 },
    { begin: 102, count: 3 },
    { begin: 105, count: 2 },
    { begin: 107, count: 3 },
  ]);
  assert.deepEqual(splitPartitionFilters([{ kind: "all" }], 1), [{ begin: 0, count: 4096 }]);
});

Deno.test("splitPartitionFilters() keeps an after-digest on the first sub-range", () => {
  const parts = splitPartitionFilters([{ kind: "afterDigest", digest: DIGEST_564_B64 }], 2);
  assert.deepEqual(parts, [
    { begin: 564, count: 1766, digest: DIGEST_564_B64 },
    { begin: 2330, count: 1766 },
  ]);
});

Deno.test("splitPartitionFilters() refuses more readers than a range has partitions", () => {
  assert.throws(
    () => splitPartitionFilters([{ kind: "range", begin: 0, count: 3 }], 4),
    configError(/range 0-3 \(3 partitions\) among 4/),
  );
  // A single partition is one task whatever the parallelism.
  assert.deepEqual(splitPartitionFilters([{ kind: "id", id: 5 }], 8), [{ begin: 5, count: 1 }]);
});

Deno.test("splitPartitionFilters() maps k filters 1:1 and refuses fewer readers", () => {
  const specs: PartitionFilterSpec[] = [{ kind: "id", id: 1 }, {
    kind: "range",
    begin: 10,
    count: 5,
  }];
  assert.deepEqual(splitPartitionFilters(specs, 2), [{ begin: 1, count: 1 }, {
    begin: 10,
    count: 5,
  }]);
  assert.throws(() => splitPartitionFilters(specs, 1), configError(/parallel 1.*\(2\)/));
  assert.throws(() => splitPartitionFilters(specs, 0), configError(/parallel readers 0/));
});

Deno.test("splitPartitionFilters() shares spare readers among ranges by size", () => {
  const specs: PartitionFilterSpec[] = [
    { kind: "id", id: 0 },
    { kind: "range", begin: 100, count: 300 },
    { kind: "range", begin: 1000, count: 100 },
  ];
  // 9 readers: 1 for the single, 8 spare: 300/400 × 8 = 6 for the first range, the rest (2)
  // for the last.
  const parts = splitPartitionFilters(specs, 9);
  assert.equal(parts.length, 9);
  assert.deepEqual(parts[0], { begin: 0, count: 1 });
  assert.equal(parts.filter((p) => p.begin >= 100 && p.begin < 400).length, 6);
  assert.deepEqual(parts.slice(7), [{ begin: 1000, count: 50 }, { begin: 1050, count: 50 }]);
  // Sub-ranges cover every partition exactly once.
  const covered = parts.flatMap((p) => Array.from({ length: p.count }, (_, i) => p.begin + i));
  assert.equal(new Set(covered).size, covered.length);
  assert.equal(covered.length, 1 + 300 + 100);
});

Deno.test("splitPartitionFilters() gives a small range at least one reader", () => {
  const specs: PartitionFilterSpec[] = [
    { kind: "range", begin: 0, count: 2 },
    { kind: "range", begin: 2, count: 4000 },
  ];
  // 3 × 2/4002 rounds down to 0 readers: the small range still gets one.
  assert.deepEqual(splitPartitionFilters(specs, 3), [
    { begin: 0, count: 2 },
    { begin: 2, count: 2000 },
    { begin: 2002, count: 2000 },
  ]);
  // Only singles: the extra readers have nothing to do.
  assert.equal(splitPartitionFilters([{ kind: "id", id: 1 }, { kind: "id", id: 2 }], 6).length, 2);
});
