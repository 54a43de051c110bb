import assert from "node:assert/strict";
import { backupPlanFromFlags, MIB, openBackupTarget, removeArtifacts } from "./_backup_options.ts";
import { BACKUP_FLAGS } from "./_backup_flags.ts";
import { FlagError, parseFlags } from "./_flags.ts";
import { resolveBackupConfig } from "../lib/backup/config.ts";
import { AerobakError } from "../lib/errors.ts";

function plan(...args: string[]) {
  return backupPlanFromFlags(parseFlags(BACKUP_FLAGS, args), undefined, new Date(2024, 0, 15, 12));
}

function flagError(message: RegExp) {
  return (e: unknown) => e instanceof FlagError && message.test(e.message);
}

Deno.test("backupPlanFromFlags() maps a directory backup", () => {
  const p = plan(
    "-n",
    "test",
    "-d",
    "/b",
    "-w",
    "8",
    "-s",
    "s1,s2",
    "-B",
    "a,b",
    "-F",
    "10",
    "-N",
    "2",
    "-L",
    "500",
  );
  assert.equal(p.mode, "backup");
  assert.deepEqual(p.target, {
    kind: "directory",
    path: "/b",
    removeFiles: false,
    bufferSize: 5 * MIB,
  });
  const c = p.config;
  assert.equal(c.namespace, "test");
  assert.equal(c.parallelRead, 8);
  assert.equal(c.parallelWrite, 8);
  assert.deepEqual(c.setList, ["s1", "s2"]);
  assert.deepEqual(c.binList, ["a", "b"]);
  assert.equal(c.fileLimit, 10 * MIB);
  assert.equal(c.bandwidth, 2 * MIB);
  assert.equal(c.recordsPerSecond, 500);
  assert.equal(c.scanPolicy?.socketTimeoutMs, 10000);
  assert.equal(c.scanPolicy?.maxRetries, 5);
  assert.equal(c.scanPolicy?.sleepBetweenRetriesMs, 5);
  assert.equal(c.scanPolicy?.replica, "any");
  assert.deepEqual(c.infoRetryPolicy, { baseTimeoutMs: 1000, multiplier: 1, maxRetries: 3 });
  assert.deepEqual(c.infoPolicy, { timeoutMs: 10000 });
  assert.deepEqual(c.compression, { mode: "NONE", level: 3 });
  assert.deepEqual(c.encryption, { mode: "NONE" });
  // The mapped input resolves into a valid config.
  assert.equal(resolveBackupConfig(c).fileLimit, 10 * MIB);
});

Deno.test("backupPlanFromFlags() forces one writer and no file limit for a single file", () => {
  const p = plan("-n", "test", "-o", "/b.asb", "-w", "4", "-r");
  assert.equal(p.config.parallelRead, 4);
  assert.equal(p.config.parallelWrite, 1);
  assert.equal(p.config.fileLimit, 0);
  assert.deepEqual(p.target, {
    kind: "file",
    path: "/b.asb",
    removeFiles: true,
    bufferSize: 5 * MIB,
  });
  assert.deepEqual(plan("-n", "x", "-o", "-", "--std-buffer", "2").target, {
    kind: "stdout",
    bufferSize: 2 * MIB,
  });
});

Deno.test("backupPlanFromFlags() maps filters, times and the deprecated --nice", () => {
  const p = plan(
    "-n",
    "test",
    "-d",
    "/b",
    "-X",
    "0-100,200",
    "-w",
    "2",
    "--modified-after",
    "2024-01-01",
    "-b",
    "13:00:00",
    "--no-ttl-only",
    "-f",
    "kwGTUQOVH4oAAQ==",
    "-M",
    "50",
    "--nice",
    "3",
    "-x",
    "-C",
  );
  const c = p.config;
  assert.deepEqual(c.partitionFilters, [{ kind: "range", begin: 0, count: 100 }, {
    kind: "id",
    id: 200,
  }]);
  assert.equal(c.modAfter, BigInt(new Date(2024, 0, 1).getTime()) * 1_000_000n);
  assert.equal(c.modBefore, BigInt(new Date(2024, 0, 15, 13).getTime()) * 1_000_000n);
  assert.equal(c.noTtlOnly, true);
  assert.equal(c.filterExpression, "kwGTUQOVH4oAAQ==");
  assert.equal(c.maxRecords, 50);
  assert.equal(c.bandwidth, 3 * MIB);
  assert.equal(c.noBins, true);
  assert.equal(c.compact, true);
  const d = plan("-n", "t", "-d", "/b", "-D", "EjRWeJq83vEjRRI0VniavN7xI0U=").config;
  assert.deepEqual(d.partitionFilters, [{
    kind: "afterDigest",
    digest: "EjRWeJq83vEjRRI0VniavN7xI0U=",
  }]);
});

Deno.test("backupPlanFromFlags() maps node, rack and prefer-rack reads", () => {
  assert.equal(
    plan("-n", "t", "-d", "/b", "-l", "10.0.0.1:3000").config.scanPolicy?.replica,
    "master",
  );
  const r = plan("-n", "t", "-d", "/b", "--rack-list", "1,2").config;
  assert.deepEqual(r.rackList, [1, 2]);
  assert.equal(r.scanPolicy?.replica, "master");
  const pr = plan("-n", "t", "-d", "/b", "--prefer-racks", "3").config.scanPolicy;
  assert.equal(pr?.replica, "preferRack");
  assert.deepEqual(pr?.rackIds, [3]);
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "--rack-list", "x"),
    flagError(/rack id "x" in --rack-list/),
  );
});

Deno.test("backupPlanFromFlags() maps state files and --continue", () => {
  const s = plan("-n", "t", "-d", "/b", "--state-file-dst", "st", "--scan-page-size", "100").config;
  assert.equal(s.stateFile, "st");
  assert.equal(s.pageSize, 100);
  assert.equal(s.continue, undefined);
  const c = plan("-n", "t", "-d", "/b", "-c", "st").config;
  assert.equal(c.stateFile, "st");
  assert.equal(c.continue, true);
  assert.equal(c.pageSize, 10000);
  assert.equal(plan("-n", "t", "-d", "/b").config.pageSize, undefined);
});

Deno.test("backupPlanFromFlags() refuses contradicting or missing flags", () => {
  assert.throws(() => plan("-d", "/b"), flagError(/^--namespace is required$/));
  assert.throws(
    () => plan("-n", "t"),
    flagError(/one of --directory or --output-file is required/),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-o", "f"),
    flagError(/only one of --directory and --output-file/),
  );
  assert.throws(
    () => plan("-n", "t", "-e", "-d", "/b"),
    flagError(/--estimate cannot be used with --directory/),
  );
  assert.throws(
    () => plan("-n", "t", "-e", "-a", "10:00:00"),
    flagError(/--estimate cannot be used with --modified-after/),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-X", "1", "-D", "EjRWeJq83vEjRRI0VniavN7xI0U="),
    flagError(/--after-digest and --partition-list are mutually exclusive/),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-l", "n1", "--rack-list", "1"),
    flagError(/mutually exclusive/),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-l", "n1", "--prefer-racks", "1"),
    flagError(/--prefer-racks/),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-c", "a", "--state-file-dst", "b"),
    flagError(/mutually exclusive/),
  );
  assert.throws(() => plan("-n", "t", "-o", "f", "-c", "a"), flagError(/need --directory/));
  assert.throws(() => plan("-n", "t", "-o", "f", "-q", "p"), flagError(/--output-file-prefix/));
  assert.throws(
    () => plan("--remove-artifacts"),
    flagError(/--remove-artifacts needs --directory or --output-file/),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-a", "yesterday"),
    (e) => e instanceof AerobakError && /--modified-after "yesterday"/.test(e.message),
  );
  assert.throws(
    () => plan("-n", "t", "-d", "/b", "-X", "5000"),
    (e) => e instanceof AerobakError && e.code === "CONFIG_INVALID" && /"5000"/.test(e.message),
  );
});

Deno.test("backupPlanFromFlags() plans estimates and artifact removal", () => {
  const e = plan("-n", "t", "-e", "--estimate-samples", "500");
  assert.equal(e.mode, "estimate");
  assert.equal(e.estimateSamples, 500);
  assert.deepEqual(e.target, { kind: "none" });
  const r = plan("--remove-artifacts", "-d", "/b");
  assert.equal(r.mode, "removeArtifacts");
  assert.deepEqual(r.target, {
    kind: "directory",
    path: "/b",
    removeFiles: true,
    bufferSize: 5 * MIB,
  });
});

Deno.test("removeArtifacts() clears backup files and openBackupTarget() builds writers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/0_test_1.asb`, "x");
    await Deno.writeTextFile(`${dir}/notes.txt`, "keep");
    await removeArtifacts({ kind: "directory", path: dir, removeFiles: true, bufferSize: MIB });
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left, ["notes.txt"]);
    await Deno.writeTextFile(`${dir}/one.asb`, "x");
    await removeArtifacts({
      kind: "file",
      path: `${dir}/one.asb`,
      removeFiles: true,
      bufferSize: MIB,
    });
    await assert.rejects(Deno.stat(`${dir}/one.asb`), Deno.errors.NotFound);
    assert.equal(
      openBackupTarget({ kind: "directory", path: dir, removeFiles: false, bufferSize: MIB }).kind,
      "directory",
    );
    assert.equal(
      openBackupTarget({ kind: "file", path: `${dir}/f.asb`, removeFiles: false, bufferSize: MIB })
        .kind,
      "file",
    );
    assert.equal(openBackupTarget({ kind: "stdout", bufferSize: MIB }).kind, "stdout");
    assert.throws(() => openBackupTarget({ kind: "none" }), (e) => e instanceof AerobakError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
