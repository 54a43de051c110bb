import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { isSecretRef, parseSecretRef, resolveSecret } from "./resolve.ts";
import { SecretAgentTestServer } from "./test_server.ts";

Deno.test("isSecretRef() recognises the secrets: prefix only", () => {
  assert.equal(isSecretRef("secrets:vault:pw"), true);
  assert.equal(isSecretRef("secrets:"), true);
  assert.equal(isSecretRef("hunter2"), false);
  assert.equal(isSecretRef("Secrets:vault:pw"), false);
});

Deno.test("parseSecretRef() requires exactly secrets:<resource>:<key>", () => {
  assert.deepEqual(parseSecretRef("secrets:vault:pw"), { resource: "vault", key: "pw" });
  for (const bad of ["secrets:pw", "secrets:a:b:c", "sacred:a:b", "secrets::b", "secrets:a:"]) {
    assert.throws(
      () => parseSecretRef(bad),
      (err: unknown) =>
        err instanceof AerobakError && err.code === "SECRET_REF_INVALID" &&
        err.message.includes(bad),
    );
  }
});

Deno.test("resolveSecret() fetches the referenced secret", async () => {
  await using agent = await SecretAgentTestServer.start({ secrets: { vault: { pw: "s3cret" } } });
  assert.equal(await resolveSecret("secrets:vault:pw", agent.config()), "s3cret");
  await assert.rejects(resolveSecret("secrets:vault", agent.config()), AerobakError);
  assert.equal(agent.requests.length, 1);
});
