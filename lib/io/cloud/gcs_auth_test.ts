import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { AerobakError } from "../../errors.ts";
import { GCS_READ_WRITE_SCOPE, GcsCredentials, signJwtRs256 } from "./gcs_auth.ts";
import { startGcsTestServer } from "./gcs_test_server.ts";

/** The RSA key of RFC 7515 appendix A.2 (JWK). */
const RFC7515_A2_KEY = {
  kty: "RSA",
  n: "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
  e: "AQAB",
  d: "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
  p: "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
  q: "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
  dp:
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
  dq:
    "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
  qi:
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U",
};

/** The JWS RFC 7515 A.2 signs with that key (RS256 is deterministic, so it must match exactly). */
const RFC7515_A2_JWS = "eyJhbGciOiJSUzI1NiJ9" +
  ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
  ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

const KEYS = generateKeyPairSync("rsa", { modulusLength: 2048 });
const EMAIL = "backup@test-project.iam.gserviceaccount.com";

function keyFile(tokenUri: string, email = EMAIL): string {
  return JSON.stringify({
    type: "service_account",
    private_key_id: "kid-1",
    private_key: KEYS.privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: email,
    token_uri: tokenUri,
    quota_project_id: "from-file",
  });
}

Deno.test("signJwtRs256() reproduces the RS256 example of RFC 7515 appendix A.2", () => {
  const key = createPrivateKey({ key: RFC7515_A2_KEY, format: "jwk" });
  const payload = '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}';
  assert.equal(signJwtRs256('{"alg":"RS256"}', payload, key), RFC7515_A2_JWS);
});

Deno.test("GcsCredentials signs the claims Google's token endpoint checks", async (t) => {
  await using gcs = await startGcsTestServer({ publicKey: KEYS.publicKey, clientEmail: EMAIL });
  const refused = async (creds: GcsCredentials, why: string) => {
    const err = await creds.headers().then(() => undefined, (e) => e);
    assert.ok(err instanceof AerobakError && err.code === "STORAGE_AUTH", String(err));
    assert.ok(err.message.includes(why), err.message);
  };
  await t.step("iss, scope, aud and times right: a bearer token", async () => {
    const creds = new GcsCredentials({
      keyPath: "/k.json",
      readTextFile: () => Promise.resolve(keyFile(gcs.tokenUri)),
      env: { GOOGLE_CLOUD_QUOTA_PROJECT: "from-env" },
    });
    const headers = await creds.headers();
    assert.match(headers.authorization, /^Bearer ya29\.fake-[0-9a-f]+$/);
    assert.equal(headers["x-goog-user-project"], "from-env");
    assert.equal(await creds.describe(), `service account ${EMAIL} (key file /k.json)`);
    assert.equal(GCS_READ_WRITE_SCOPE, "https://www.googleapis.com/auth/devstorage.read_write");
  });
  await t.step("another service account: iss refused", async () => {
    await refused(
      new GcsCredentials({
        keyPath: "/k.json",
        readTextFile: () =>
          Promise.resolve(keyFile(gcs.tokenUri, "intruder@p.iam.gserviceaccount.com")),
      }),
      "400 invalid_grant: Invalid JWT: iss intruder@p.iam.gserviceaccount.com",
    );
  });
  await t.step("a token_uri other than the endpoint: aud refused", async () => {
    await refused(
      new GcsCredentials({
        keyPath: "/k.json",
        readTextFile: () => Promise.resolve(keyFile(`${gcs.tokenUri}?v=2`)),
      }),
      "Invalid JWT: aud",
    );
  });
  await t.step("a clock two hours slow: the JWT has expired", async () => {
    await refused(
      new GcsCredentials({
        keyPath: "/k.json",
        readTextFile: () => Promise.resolve(keyFile(gcs.tokenUri)),
        now: () => Date.now() - 2 * 3600_000,
      }),
      "Token must be a short-lived token (expired)",
    );
  });
  await t.step("a read-only scope: refused", async () => {
    await refused(
      new GcsCredentials({
        keyPath: "/k.json",
        readTextFile: () => Promise.resolve(keyFile(gcs.tokenUri)),
        scope: "https://www.googleapis.com/auth/devstorage.read_only",
      }),
      "does not allow storage writes",
    );
  });
});

Deno.test("GcsCredentials never puts a secret in its messages", async () => {
  await using gcs = await startGcsTestServer({
    authorizedUser: {
      clientId: "cid",
      clientSecret: "the-secret",
      refreshToken: "the-refresh-token",
    },
  });
  const creds = new GcsCredentials({
    keyPath: "/u.json",
    readTextFile: () =>
      Promise.resolve(JSON.stringify({
        type: "authorized_user",
        client_id: "cid",
        client_secret: "wrong-secret",
        refresh_token: "the-refresh-token",
        token_uri: gcs.tokenUri,
      })),
  });
  const err = await creds.headers().then(() => undefined, (e) => e);
  assert.ok(err instanceof AerobakError && err.code === "STORAGE_AUTH");
  assert.ok(err.message.includes("401 invalid_client"), err.message);
  for (const secret of ["wrong-secret", "the-refresh-token", "the-secret"]) {
    assert.ok(!err.message.includes(secret), err.message);
  }
  const pem = Buffer.from(KEYS.privateKey.export({ type: "pkcs8", format: "pem" })).toString();
  const bad = new GcsCredentials({
    keyPath: "/k.json",
    readTextFile: () =>
      Promise.resolve(JSON.stringify({ type: "service_account", private_key: pem })),
  });
  const missing = await bad.headers().then(() => undefined, (e) => e);
  assert.ok(missing.message.includes('"client_email" is missing'), missing.message);
  assert.ok(!missing.message.includes("PRIVATE KEY"), missing.message);
});
