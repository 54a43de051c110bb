import assert from "node:assert/strict";
import {
  DEFAULT_RETRY_POLICY,
  DEFAULT_SCAN_POLICY,
  resolveInfoPolicy,
  resolveRetryPolicy,
  resolveScanPolicy,
  retryAttempts,
  retryDelayMs,
} from "./policy.ts";
import { AerobakError } from "./errors.ts";

function configError(message: RegExp) {
  return (e: unknown) =>
    e instanceof AerobakError && e.code === "CONFIG_INVALID" && message.test(e.message);
}

Deno.test("retryAttempts() counts attempts, with 0 meaning one attempt", () => {
  assert.equal(retryAttempts({ baseTimeoutMs: 1, multiplier: 1, maxRetries: 0 }), 1);
  assert.equal(retryAttempts({ baseTimeoutMs: 1, multiplier: 1, maxRetries: 1 }), 1);
  assert.equal(retryAttempts({ baseTimeoutMs: 1, multiplier: 1, maxRetries: 4 }), 4);
});

Deno.test("retryDelayMs() grows by the multiplier with ±10 % jitter", () => {
  const p = { baseTimeoutMs: 1000, multiplier: 2, maxRetries: 3 };
  assert.equal(retryDelayMs(p, 0, () => 0.5), 1000);
  assert.equal(retryDelayMs(p, 1, () => 0.5), 2000);
  assert.equal(retryDelayMs(p, 3, () => 0.5), 8000);
  assert.equal(retryDelayMs(p, 0, () => 0), 900);
  assert.equal(retryDelayMs(p, 0, () => 0.999999), 1100);
});

Deno.test("resolveRetryPolicy() fills defaults into a new frozen policy", () => {
  const input = { maxRetries: 7 };
  const p = resolveRetryPolicy("retryPolicy", input, DEFAULT_RETRY_POLICY);
  assert.deepEqual(p, { baseTimeoutMs: 1000, multiplier: 2, maxRetries: 7 });
  assert.ok(Object.isFrozen(p));
  assert.deepEqual(input, { maxRetries: 7 });
});

Deno.test("resolveRetryPolicy() names the bad field and value", () => {
  const d = DEFAULT_RETRY_POLICY;
  assert.throws(
    () => resolveRetryPolicy("retryPolicy", { multiplier: 0.5 }, d),
    configError(/Invalid retryPolicy\.multiplier 0\.5: expected a number of at least 1/),
  );
  assert.throws(
    () => resolveRetryPolicy("info", { maxRetries: 1.5 }, d),
    configError(/info\.maxRetries 1\.5/),
  );
  assert.throws(
    () => resolveRetryPolicy("info", { baseTimeoutMs: -1 }, d),
    configError(/info\.baseTimeoutMs -1/),
  );
});

Deno.test("resolveInfoPolicy() defaults to 10 s and refuses negative timeouts", () => {
  assert.deepEqual(resolveInfoPolicy(undefined), { timeoutMs: 10000 });
  assert.throws(() => resolveInfoPolicy({ timeoutMs: -5 }), configError(/timeoutMs -5/));
});

Deno.test("resolveScanPolicy() checks the replica policy and racks", () => {
  assert.deepEqual(resolveScanPolicy({}), DEFAULT_SCAN_POLICY);
  assert.deepEqual(resolveScanPolicy({ replica: "preferRack", rackIds: [2, 1] }).rackIds, [2, 1]);
  assert.throws(() => resolveScanPolicy({ replica: "preferRack" }), configError(/rackIds/));
  assert.throws(
    () => resolveScanPolicy({ replica: "sequence" as "any" }),
    configError(/replica "sequence": expected one of master, any, preferRack/),
  );
  assert.throws(() => resolveScanPolicy({ rackIds: [1, 1] }), configError(/duplicate entry 1/));
  assert.throws(
    () => resolveScanPolicy({ socketTimeoutMs: NaN }),
    configError(/socketTimeoutMs NaN/),
  );
});
