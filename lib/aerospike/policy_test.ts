import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { resolveClientPolicy, resolveScanOptions, resolveWritePolicy } from "./policy.ts";

function configError(field: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "CONFIG_INVALID");
    assert.match(e.message, field);
    return true;
  };
}

Deno.test("resolveClientPolicy() fills defaults and freezes, leaving the input alone", () => {
  const input = { hosts: "a,b:3100", user: "u", password: "p" };
  const p = resolveClientPolicy(input);
  assert.deepEqual(input, { hosts: "a,b:3100", user: "u", password: "p" });
  assert.ok(Object.isFrozen(p));
  assert.equal(p.authMode, "INTERNAL");
  assert.equal(p.connectTimeoutMs, 30000);
  assert.equal(p.tendIntervalMs, 1000);
  assert.equal(p.maxConnectionsPerNode, 100);
  assert.deepEqual(p.seeds.map((s) => s.port), [3000, 3100]);
});

Deno.test("resolveClientPolicy() refuses EXTERNAL without TLS and PKI without a certificate", () => {
  assert.throws(
    () => resolveClientPolicy({ hosts: "a", user: "u", password: "p", authMode: "EXTERNAL" }),
    configError(/needs TLS/),
  );
  assert.throws(
    () => resolveClientPolicy({ hosts: "a", authMode: "PKI", tls: { enabled: true } }),
    configError(/PKI/),
  );
  const ok = resolveClientPolicy({
    hosts: "a",
    user: "u",
    password: "p",
    authMode: "EXTERNAL",
    tls: { enabled: true },
  });
  assert.equal(ok.authMode, "EXTERNAL");
});

Deno.test("resolveClientPolicy() names the bad field and value", () => {
  assert.throws(() => resolveClientPolicy({ hosts: "" }), configError(/hosts/));
  assert.throws(() => resolveClientPolicy({ hosts: "a", user: "u" }), configError(/password/));
  assert.throws(
    () => resolveClientPolicy({ hosts: "a", connectTimeoutMs: -1 }),
    configError(/connectTimeoutMs -1/),
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => resolveClientPolicy({ hosts: "a", authMode: "LDAP" as any }),
    configError(/authMode "LDAP"/),
  );
});

Deno.test("resolveScanOptions() fills defaults and checks combinations", () => {
  const o = resolveScanOptions({ namespace: "test" });
  assert.equal(o.socketTimeoutMs, 10000);
  assert.equal(o.maxRetries, 5);
  assert.equal(o.replica, "master");
  assert.equal(resolveScanOptions({ namespace: "t", socketTimeoutMs: 0 }).socketTimeoutMs, 10000);
  assert.throws(() => resolveScanOptions({ namespace: "" }), RangeError);
  assert.throws(
    () => resolveScanOptions({ namespace: "t", noBins: true, binNames: ["a"] }),
    RangeError,
  );
  assert.throws(() => resolveScanOptions({ namespace: "t", maxRecords: -1 }), RangeError);
});

Deno.test("resolveWritePolicy() fills defaults and refuses unknown actions", () => {
  const w = resolveWritePolicy();
  assert.equal(w.recordExistsAction, "update");
  assert.equal(w.generationPolicy, "none");
  assert.equal(w.sendKey, true);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => resolveWritePolicy({ recordExistsAction: "upsert" as any }), RangeError);
});
