import assert from "node:assert/strict";
import { type BackupConfigInput, resolveBackupConfig } from "./config.ts";
import { AerobakError } from "../errors.ts";

function configError(message: RegExp) {
  return (e: unknown) =>
    e instanceof AerobakError && e.code === "CONFIG_INVALID" && message.test(e.message);
}

function resolve(extra: Partial<BackupConfigInput>) {
  return resolveBackupConfig({ namespace: "test", ...extra });
}

Deno.test("resolveBackupConfig() fills backup-go's defaults", () => {
  const c = resolveBackupConfig({ namespace: "test" });
  assert.equal(c.namespace, "test");
  assert.deepEqual(c.partitionFilters, [{ kind: "all" }]);
  assert.equal(c.parallelRead, 1);
  assert.equal(c.parallelWrite, 1);
  assert.deepEqual([c.setList, c.binList, c.nodeList, c.rackList], [[], [], [], []]);
  assert.equal(c.encoderType, "ASB");
  assert.equal(c.fileLimit, 0);
  assert.equal(c.pageSize, 0);
  assert.equal(c.stateFile, "");
  assert.equal(c.continue, false);
  assert.deepEqual(c.compression, { mode: "NONE", level: 3 });
  assert.deepEqual(c.encryption, { mode: "NONE" });
  assert.deepEqual(c.infoPolicy, { timeoutMs: 10000 });
  assert.equal(c.scanPolicy.socketTimeoutMs, 10000);
  assert.equal(c.scanPolicy.maxRetries, 5);
  assert.deepEqual(c.infoRetryPolicy, { baseTimeoutMs: 1000, multiplier: 2, maxRetries: 3 });
  assert.equal(c.modAfter, undefined);
  assert.equal(c.filterExpression, undefined);
  assert.equal(c.secretAgent, undefined);
});

Deno.test("resolveBackupConfig() returns a deeply frozen copy and leaves the input alone", () => {
  const input: BackupConfigInput = {
    namespace: "test",
    setList: ["a"],
    partitionFilters: [{ kind: "id", id: 3 }],
    scanPolicy: { maxRetries: 2 },
  };
  const before = structuredClone(input);
  const c = resolveBackupConfig(input);
  assert.deepEqual(input, before);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.setList));
  assert.ok(Object.isFrozen(c.partitionFilters));
  assert.ok(Object.isFrozen(c.partitionFilters[0]));
  assert.ok(Object.isFrozen(c.scanPolicy));
  assert.ok(Object.isFrozen(c.compression));
  assert.notEqual(c.setList, input.setList);
  assert.equal(c.scanPolicy.maxRetries, 2);
});

Deno.test("resolveBackupConfig() converts Date time bounds to nanoseconds", () => {
  const c = resolve({ modAfter: new Date(1000), modBefore: 5_000_000_000n });
  assert.equal(c.modAfter, 1_000_000_000n);
  assert.equal(c.modBefore, 5_000_000_000n);
  assert.throws(() => resolve({ modAfter: new Date(NaN) }), configError(/modAfter Invalid Date/));
});

Deno.test("resolveBackupConfig() requires a namespace", () => {
  assert.throws(() => resolveBackupConfig({}), configError(/namespace "": expected a namespace/));
});

Deno.test("resolveBackupConfig() bounds parallelism to 1..1024", () => {
  assert.throws(
    () => resolve({ parallelRead: 0 }),
    configError(/parallelRead 0: expected an integer from 1 to 1024/),
  );
  assert.throws(() => resolve({ parallelWrite: 1025 }), configError(/parallelWrite 1025/));
  assert.throws(() => resolve({ parallelRead: 2.5 }), configError(/parallelRead 2\.5/));
  assert.equal(resolve({ parallelRead: 1024, parallelWrite: 1024 }).parallelRead, 1024);
});

Deno.test("resolveBackupConfig() requires modBefore after modAfter", () => {
  assert.throws(
    () => resolve({ modAfter: 10n, modBefore: 10n }),
    configError(/modBefore 10: expected a time after modAfter 10/),
  );
  assert.equal(resolve({ modAfter: 10n, modBefore: 11n }).modBefore, 11n);
});

Deno.test("resolveBackupConfig() allows node and rack lists only with the default filter", () => {
  assert.deepEqual(resolve({ nodeList: ["10.0.0.1:3000"] }).nodeList, ["10.0.0.1:3000"]);
  assert.throws(
    () => resolve({ nodeList: ["n1"], partitionFilters: [{ kind: "id", id: 1 }] }),
    configError(/nodeList \["n1"\]: expected no node or rack list together with partition filters/),
  );
  assert.throws(
    () => resolve({ rackList: [1], partitionFilters: [{ kind: "range", begin: 0, count: 5 }] }),
    configError(/rackList \[1\]/),
  );
  assert.throws(() => resolve({ rackList: [1], nodeList: ["n1"] }), configError(/rackList \[1\]/));
  assert.throws(
    () => resolve({ parallelNodes: true, partitionFilters: [{ kind: "id", id: 1 }] }),
    configError(/parallelNodes/),
  );
  assert.throws(
    () => resolve({ nodeList: ["n1"], scanPolicy: { replica: "preferRack", rackIds: [1] } }),
    configError(/replica "preferRack"/),
  );
});

Deno.test("resolveBackupConfig() ties state files to page size and file limit", () => {
  assert.throws(() => resolve({ stateFile: "s", fileLimit: 100 }), configError(/pageSize 0/));
  assert.throws(() => resolve({ stateFile: "s", pageSize: 100 }), configError(/fileLimit 0/));
  assert.throws(
    () => resolve({ stateFile: "s", pageSize: 10, fileLimit: 10, nodeList: ["n1"] }),
    configError(/stateFile "s"/),
  );
  assert.throws(
    () => resolve({ continue: true }),
    configError(/continue true: expected a state file/),
  );
  const c = resolve({ stateFile: "s", pageSize: 10, fileLimit: 10, continue: true });
  assert.equal(c.continue, true);
});

Deno.test("resolveBackupConfig() refuses negative rates and the MRT monitor set", () => {
  assert.throws(() => resolve({ recordsPerSecond: -1 }), configError(/recordsPerSecond -1/));
  assert.throws(() => resolve({ bandwidth: -1 }), configError(/bandwidth -1/));
  assert.throws(() => resolve({ maxRecords: -3 }), configError(/maxRecords -3/));
  assert.throws(() => resolve({ setList: ["a", "<ERO~MRT"] }), configError(/<ERO~MRT/));
});

Deno.test("resolveBackupConfig() refuses duplicates in node, rack, set and bin lists", () => {
  assert.throws(
    () => resolve({ setList: ["a", "b", "a"] }),
    configError(/setList: duplicate entry "a"/),
  );
  assert.throws(
    () => resolve({ binList: ["x", "x"] }),
    configError(/binList: duplicate entry "x"/),
  );
  assert.throws(() => resolve({ nodeList: ["n", "n"] }), configError(/nodeList: duplicate/));
  assert.throws(() => resolve({ rackList: [2, 2] }), configError(/rackList: duplicate entry 2/));
  assert.throws(() => resolve({ setList: [""] }), configError(/setList/));
});

Deno.test("resolveBackupConfig() reserves the metadata_ prefix and bad file name characters", () => {
  assert.throws(() => resolve({ outputFilePrefix: "metadata_x" }), configError(/"metadata_x"/));
  assert.throws(() => resolve({ outputFilePrefix: "a/b" }), configError(/"a\/b"/));
  assert.throws(() => resolve({ outputFilePrefix: " a" }), configError(/outer spaces/));
  assert.throws(() => resolve({ outputFilePrefix: "a\tb" }), configError(/control characters/));
  assert.equal(resolve({ outputFilePrefix: "daily-" }).outputFilePrefix, "daily-");
});

Deno.test("resolveBackupConfig() accepts only the ASB encoder and known modes", () => {
  assert.throws(() => resolve({ encoderType: "ASBX" }), configError(/encoderType "ASBX"/));
  assert.throws(
    () => resolve({ compression: { mode: "GZIP" as "ZSTD" } }),
    configError(/compression\.mode "GZIP": expected one of NONE, ZSTD/),
  );
  assert.throws(
    () => resolve({ encryption: { mode: "AES256" } }),
    configError(/exactly one of keyFile, keyEnv, keySecret/),
  );
  assert.throws(
    () => resolve({ encryption: { mode: "AES128", keyFile: "k.pem", keyEnv: "K" } }),
    configError(/2 key sources/),
  );
  assert.throws(
    () => resolve({ encryption: { mode: "AES128", keySecret: "secrets:r:k" } }),
    configError(/keySecret "secrets:r:k": expected a configured secretAgent/),
  );
  const c = resolve({
    encryption: { mode: "AES128", keySecret: "secrets:r:k" },
    secretAgent: { address: "127.0.0.1", port: 3005 },
  });
  assert.equal(c.secretAgent?.port, 3005);
  assert.throws(
    () => resolve({ secretAgent: { address: "h", port: 70000 } }),
    configError(/secretAgent\.port 70000/),
  );
  assert.throws(
    () => resolve({ secretAgent: { address: "" } }),
    configError(/secretAgent\.address ""/),
  );
});

Deno.test("resolveBackupConfig() checks the filter expression is base64", () => {
  assert.equal(
    resolve({ filterExpression: "kwGTUQOVH4oAAQ==" }).filterExpression,
    "kwGTUQOVH4oAAQ==",
  );
  assert.throws(() => resolve({ filterExpression: "%%%" }), configError(/filterExpression "%%%"/));
  assert.throws(() => resolve({ filterExpression: "" }), configError(/filterExpression ""/));
});

Deno.test("resolveBackupConfig() checks the partition filters fit the readers", () => {
  assert.throws(
    () => resolve({ partitionFilters: [{ kind: "id", id: 1 }, { kind: "id", id: 2 }] }),
    configError(/parallel 1: expected at least the number of partition filters \(2\)/),
  );
  assert.throws(
    () => resolve({ partitionFilters: [{ kind: "range", begin: 0, count: 2 }], parallelRead: 3 }),
    configError(/among 3 parallel readers/),
  );
  assert.throws(
    () => resolve({ partitionFilters: [{ kind: "id", id: 9999 }] }),
    configError(/partition id 9999/),
  );
  // A resumed backup reuses its saved filters, so it is not split again.
  const c = resolve({
    partitionFilters: [{ kind: "id", id: 1 }, { kind: "id", id: 2 }],
    stateFile: "s",
    pageSize: 1,
    fileLimit: 1,
    continue: true,
  });
  assert.equal(c.partitionFilters.length, 2);
});
