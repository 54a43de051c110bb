import assert from "node:assert/strict";
import { resolveRestoreConfig, type RestoreConfigInput } from "./config.ts";
import { AerobakError } from "../errors.ts";

function configError(message: RegExp) {
  return (e: unknown) =>
    e instanceof AerobakError && e.code === "CONFIG_INVALID" && message.test(e.message);
}

Deno.test("resolveRestoreConfig() fills backup-go's defaults", () => {
  const c = resolveRestoreConfig();
  assert.equal(c.namespace, undefined);
  assert.equal(c.parallel, 4);
  assert.equal(c.batchSize, 128);
  assert.equal(c.maxAsyncBatches, 16);
  assert.equal(c.warmUp, 0);
  assert.equal(c.extraTtl, 0);
  assert.equal(c.encoderType, "ASB");
  assert.equal(c.validateOnly, false);
  assert.equal(c.applyMetadataLast, false);
  assert.deepEqual(c.writePolicy, {
    recordExistsAction: "update",
    generationPolicy: "expectGenGreater",
    sendKey: true,
    totalTimeoutMs: 10000,
    socketTimeoutMs: 10000,
    durableDelete: false,
  });
  assert.deepEqual(c.retryPolicy, { baseTimeoutMs: 150, multiplier: 2, maxRetries: 6 });
  assert.deepEqual(c.compression, { mode: "NONE", level: 3 });
});

Deno.test("resolveRestoreConfig() returns a frozen copy and keeps given write fields", () => {
  const input: RestoreConfigInput = {
    namespace: { source: "a", destination: "b" },
    writePolicy: { recordExistsAction: "createOnly", generationPolicy: undefined },
    setList: ["s1"],
  };
  const before = structuredClone(input);
  const c = resolveRestoreConfig(input);
  assert.deepEqual(input, before);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.namespace) && Object.isFrozen(c.writePolicy));
  assert.ok(Object.isFrozen(c.setList));
  assert.deepEqual(c.namespace, { source: "a", destination: "b" });
  assert.equal(c.writePolicy.recordExistsAction, "createOnly");
  assert.equal(c.writePolicy.generationPolicy, "expectGenGreater");
});

Deno.test("resolveRestoreConfig() validates counts with the value in the message", () => {
  assert.throws(
    () => resolveRestoreConfig({ parallel: 0 }),
    configError(/parallel 0: expected an integer from 1 to 1024/),
  );
  assert.throws(() => resolveRestoreConfig({ parallel: 2000 }), configError(/parallel 2000/));
  assert.throws(() => resolveRestoreConfig({ batchSize: 0 }), configError(/batchSize 0/));
  assert.throws(
    () => resolveRestoreConfig({ maxAsyncBatches: 0 }),
    configError(/maxAsyncBatches 0/),
  );
  assert.throws(() => resolveRestoreConfig({ extraTtl: -1 }), configError(/extraTtl -1/));
  assert.throws(
    () => resolveRestoreConfig({ recordsPerSecond: -2 }),
    configError(/recordsPerSecond -2/),
  );
  assert.throws(() => resolveRestoreConfig({ warmUp: -1 }), configError(/warmUp -1/));
});

Deno.test("resolveRestoreConfig() needs both sides of a namespace mapping", () => {
  assert.throws(
    () => resolveRestoreConfig({ namespace: { source: "a", destination: "" } }),
    configError(/namespace\.destination ""/),
  );
  assert.throws(
    () =>
      resolveRestoreConfig({
        namespace: { destination: "b" } as { source: string; destination: string },
      }),
    configError(/namespace\.source \(missing\)/),
  );
});

Deno.test("resolveRestoreConfig() refuses duplicate set and bin names", () => {
  assert.throws(
    () => resolveRestoreConfig({ setList: ["a", "a"] }),
    configError(/setList: duplicate entry "a"/),
  );
  assert.throws(
    () => resolveRestoreConfig({ binList: ["b", "b"] }),
    configError(/binList: duplicate entry "b"/),
  );
});

Deno.test("resolveRestoreConfig() refuses unknown write policy modes", () => {
  assert.throws(
    () => resolveRestoreConfig({ writePolicy: { recordExistsAction: "upsert" as "update" } }),
    configError(/recordExistsAction "upsert"/),
  );
  assert.throws(
    () => resolveRestoreConfig({ writePolicy: { generationPolicy: "gt" as "none" } }),
    configError(/generationPolicy "gt"/),
  );
  assert.throws(
    () => resolveRestoreConfig({ retryPolicy: { multiplier: 0 } }),
    configError(/retryPolicy\.multiplier 0/),
  );
});

Deno.test("resolveRestoreConfig() refuses what ASBX restores cannot honour", () => {
  assert.equal(resolveRestoreConfig({ encoderType: "ASBX" }).encoderType, "ASBX");
  const cases: [RestoreConfigInput, RegExp][] = [
    [{ namespace: { source: "a", destination: "b" } }, /namespace "a,b"/],
    [{ setList: ["s"] }, /setList \["s"\]/],
    [{ binList: ["b"] }, /binList/],
    [{ noRecords: true }, /noRecords true/],
    [{ noIndexes: true }, /noIndexes/],
    [{ noUdfs: true }, /noUdfs/],
    [{ disableBatchWrites: true }, /disableBatchWrites/],
    [{ extraTtl: 5 }, /extraTtl 5/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => resolveRestoreConfig({ ...input, encoderType: "ASBX" }),
      configError(message),
    );
  }
  assert.throws(
    () => resolveRestoreConfig({ encoderType: "CSV" as "ASB" }),
    configError(/encoderType "CSV"/),
  );
});
