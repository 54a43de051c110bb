import assert from "node:assert/strict";
import type { BackupManifest } from "../backup/manifest.ts";
import { checkFileRead, checkListing } from "./manifest_check.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const manifest = {
  files: [
    { name: "0_test_1.asb", size: 10, sha256: A, records: 2, sindexes: 0, udfs: 0 },
    { name: "0_test_2.asb", size: 20, sha256: B, records: 3, sindexes: 1, udfs: 0 },
    { name: "0_test_3.asbx", size: 30, sha256: B, records: 4 },
  ],
} as unknown as BackupManifest;

Deno.test("checkListing() reports missing, extra and resized files by name", () => {
  const findings = checkListing(manifest, [
    { name: "0_test_1.asb", path: "/b/0_test_1.asb", size: 10 },
    { name: "0_test_2.asb", path: "/b/0_test_2.asb", size: 19 },
    { name: "9_test_1.asb", path: "/b/9_test_1.asb", size: 5 },
  ]);
  assert.deepEqual(findings.map((f) => [f.kind, f.file, f.expected, f.found]), [
    ["size", "0_test_2.asb", 20, 19],
    ["missing", "0_test_3.asbx", 30, undefined],
    ["extra", "9_test_1.asb", undefined, 5],
  ]);
  assert.match(
    findings[0].message,
    /\/b\/0_test_2\.asb differs: it holds 19 bytes, the manifest says 20/,
  );
  assert.match(
    findings[1].message,
    /0_test_3\.asbx is missing: the manifest lists it with 30 bytes and 4 records/,
  );
  assert.match(findings[2].message, /\/b\/9_test_1\.asb is not in the manifest/);
});

Deno.test("checkFileRead() compares the checksum and the counts decoded", () => {
  const read = {
    name: "0_test_2.asb",
    path: "/b/0_test_2.asb",
    size: 20,
    sha256: A,
    records: 2,
    sindexes: 1,
    udfs: 1,
  };
  assert.deepEqual(checkFileRead(manifest, read).map((f) => [f.kind, f.expected, f.found]), [
    ["checksum", B, A],
    ["records", 3, 2],
    ["udfs", 0, 1],
  ]);
  // ASBX entries have no index or UDF counts; a file it does not list is checkListing's.
  assert.deepEqual(
    checkFileRead(manifest, { ...read, name: "0_test_3.asbx", sha256: B, records: 4 }),
    [],
  );
  assert.deepEqual(checkFileRead(manifest, { ...read, name: "x.asb" }), []);
});
