import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { resolveBackupXdrConfig } from "./config.ts";

function invalid(input: Parameters<typeof resolveBackupXdrConfig>[0], field: RegExp): void {
  assert.throws(() => resolveBackupXdrConfig(input), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "CONFIG_INVALID");
    assert.match(e.message, field);
    return true;
  });
}

Deno.test("resolveBackupXdrConfig() fills backup-go's defaults and freezes a copy", () => {
  const input = { namespace: "test" };
  const c = resolveBackupXdrConfig(input);
  assert.deepEqual(
    {
      dc: c.dc,
      localAddress: c.localAddress,
      localPort: c.localPort,
      rewind: c.rewind,
      readTimeoutMs: c.readTimeoutMs,
      writeTimeoutMs: c.writeTimeoutMs,
      resultQueueSize: c.resultQueueSize,
      ackQueueSize: c.ackQueueSize,
      maxConnections: c.maxConnections,
      infoPollingPeriodMs: c.infoPollingPeriodMs,
      startTimeoutMs: c.startTimeoutMs,
      compression: c.compression.mode,
      encryption: c.encryption.mode,
    },
    {
      dc: "dc1",
      localAddress: "127.0.0.1",
      localPort: 8080,
      rewind: "all",
      readTimeoutMs: 1000,
      writeTimeoutMs: 1000,
      resultQueueSize: 256,
      ackQueueSize: 256,
      maxConnections: 4096,
      infoPollingPeriodMs: 1000,
      startTimeoutMs: 30000,
      compression: "NONE",
      encryption: "NONE",
    },
  );
  assert.ok(c.parallelWrite >= 1);
  assert.ok(Object.isFrozen(c));
  assert.deepEqual(input, { namespace: "test" });
});

Deno.test("resolveBackupXdrConfig() applies backup-go's validation rules", () => {
  invalid({ namespace: "" }, /namespace/);
  invalid({ namespace: "test", dc: "bad name" }, /Invalid dc "bad name"/);
  invalid({ namespace: "test", dc: "x".repeat(32) }, /dc/);
  invalid({ namespace: "test", rewind: "0" }, /rewind/);
  invalid({ namespace: "test", rewind: "soon" }, /rewind/);
  invalid({ namespace: "test", maxThroughput: 150 }, /multiple of 100/);
  invalid({ namespace: "test", localPort: 70000 }, /localPort/);
  invalid({ namespace: "test", localAddress: "a;b" }, /localAddress/);
  invalid({ namespace: "test", parallelWrite: 0 }, /parallelWrite/);
  invalid({ namespace: "test", maxConnections: 0 }, /maxConnections/);
  invalid({ namespace: "test", encryption: { mode: "AES128" } }, /encryption/);
  invalid({ namespace: "test", tls: { certFile: "c.pem", keyFile: "" } }, /tls/);
  assert.equal(resolveBackupXdrConfig({ namespace: "test", rewind: "3600" }).rewind, "3600");
  assert.equal(
    resolveBackupXdrConfig({ namespace: "test", maxThroughput: 500 }).maxThroughput,
    500,
  );
});

Deno.test("resolveBackupXdrConfig() resolves and checks the info retry policy", () => {
  assert.deepEqual(resolveBackupXdrConfig({ namespace: "test" }).infoRetryPolicy, {
    baseTimeoutMs: 1000,
    multiplier: 2,
    maxRetries: 3,
  });
  assert.deepEqual(
    resolveBackupXdrConfig({
      namespace: "test",
      infoRetryPolicy: { baseTimeoutMs: 50, multiplier: 1.5, maxRetries: 7 },
    }).infoRetryPolicy,
    { baseTimeoutMs: 50, multiplier: 1.5, maxRetries: 7 },
  );
  assert.throws(
    () =>
      resolveBackupXdrConfig({
        namespace: "test",
        infoRetryPolicy: { baseTimeoutMs: -1, multiplier: 1, maxRetries: 1 },
      }),
    (e: unknown) => e instanceof AerobakError && e.code === "CONFIG_INVALID",
  );
});
