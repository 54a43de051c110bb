import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { SecretAgentTestServer } from "../secret_agent/test_server.ts";
import { C_SAMPLES, hex, run } from "./_test_helpers.ts";
import { rejectsCode, withTempDir } from "../_test_utils.ts";
import { deriveEncryptionKey, loadEncryptionKey, loadJobEncryptionKey } from "./encryption_key.ts";

const KEY_FILE = `${C_SAMPLES}sample-key.pem`;

/** The reference key: SHA-256 of the PKCS#1 DER that the openssl CLI produces. */
async function opensslKey(pemFile: string): Promise<string> {
  const der = await run("openssl", ["rsa", "-in", pemFile, "-traditional", "-outform", "DER"]);
  return hex(await run("openssl", ["dgst", "-sha256", "-binary"], der));
}

function b64(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return btoa(String.fromCharCode(...b));
}

function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(fn, "aerobak-key-");
}

function rejectsKey(p: Promise<unknown>, mention: RegExp): Promise<void> {
  return rejectsCode(p, "ENCRYPTION_KEY", mention);
}

Deno.test("loadEncryptionKey() derives SHA-256 of the PKCS#1 DER from PKCS#1 and PKCS#8 files", async () => {
  const want = await opensslKey(KEY_FILE);
  assert.equal(hex(await loadEncryptionKey({ mode: "AES256", keyFile: KEY_FILE })), want);
  assert.equal(
    hex(await loadEncryptionKey({ mode: "AES128", keyFile: KEY_FILE })),
    want.slice(0, 32),
  );
  await withTmp(async (dir) => {
    const p8 = `${dir}/key8.pem`;
    await run("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", KEY_FILE, "-out", p8]);
    assert.match(await Deno.readTextFile(p8), /BEGIN PRIVATE KEY/);
    assert.equal(hex(await loadEncryptionKey({ mode: "AES256", keyFile: p8 })), want);
  });
});

Deno.test("loadEncryptionKey() accepts every environment variable form backup-go accepts", async () => {
  const want = await opensslKey(KEY_FILE);
  const pem = await Deno.readTextFile(KEY_FILE);
  const pkcs1 = await run("openssl", ["rsa", "-in", KEY_FILE, "-traditional", "-outform", "DER"]);
  const pkcs8 = await run("openssl", [
    "pkcs8",
    "-topk8",
    "-nocrypt",
    "-in",
    KEY_FILE,
    "-outform",
    "DER",
  ]);
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "\n").trim();
  const forms: Record<string, string> = {
    "raw PEM": pem,
    "PEM on one line": pem.replace(/\n/g, " "),
    "base64 of PEM": b64(pem),
    "PKCS#1 body (the C tool's form)": body,
    "base64 of PKCS#1 DER": b64(pkcs1),
    "base64 of PKCS#8 DER": b64(pkcs8),
    "double base64": b64(b64(pkcs1)),
  };
  for (const [form, value] of Object.entries(forms)) {
    const key = await loadEncryptionKey({ mode: "AES256", keyEnv: "AEROBAK_KEY" }, {
      getEnv: (name) => (name === "AEROBAK_KEY" ? value : undefined),
    });
    assert.equal(hex(key), want, form);
  }
  Deno.env.set("AEROBAK_TEST_KEY_ENV", body);
  try {
    assert.equal(
      hex(await loadEncryptionKey({ mode: "AES128", keyEnv: "AEROBAK_TEST_KEY_ENV" })),
      want.slice(0, 32),
    );
  } finally {
    Deno.env.delete("AEROBAK_TEST_KEY_ENV");
  }
});

Deno.test("loadEncryptionKey() fetches the key from the Secret Agent", async () => {
  const want = await opensslKey(KEY_FILE);
  const pem = await Deno.readTextFile(KEY_FILE);
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  await using agent = await SecretAgentTestServer.start({
    secrets: { keys: { backup: body, pem } },
  });
  const key = await loadEncryptionKey({ mode: "AES256", keySecret: "secrets:keys:backup" }, {
    secretAgent: agent.config(),
  });
  assert.equal(hex(key), want);
  await using b64agent = await SecretAgentTestServer.start({
    transport: "unix",
    secrets: { keys: { pem } },
    base64: true,
  });
  const key2 = await loadEncryptionKey({ mode: "AES128", keySecret: "secrets:keys:pem" }, {
    secretAgent: { ...b64agent.config(), isBase64: true },
  });
  assert.equal(hex(key2), want.slice(0, 32));
  await assert.rejects(
    loadEncryptionKey({ mode: "AES128", keySecret: "secrets:keys:missing" }, {
      secretAgent: agent.config(),
    }),
    (err: unknown) => err instanceof AerobakError && err.code === "SECRET_AGENT_ERROR",
  );
});

Deno.test("loadEncryptionKey() names the file, variable or secret of a bad key", async () => {
  await rejectsKey(
    loadEncryptionKey({ mode: "AES256", keyFile: "/nonexistent/key.pem" }),
    /file \/nonexistent\/key\.pem: no such file/,
  );
  await withTmp(async (dir) => {
    const ec = `${dir}/ec.pem`;
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      ec,
    ]);
    await rejectsKey(
      loadEncryptionKey({ mode: "AES256", keyFile: ec }),
      new RegExp(`${dir}/ec\\.pem: expected an RSA private key, found a key of type ec`),
    );
    const junk = `${dir}/junk.pem`;
    await Deno.writeTextFile(junk, "not a key\n");
    await rejectsKey(
      loadEncryptionKey({ mode: "AES256", keyFile: junk }),
      /junk\.pem: no PEM block/,
    );
    const enc = `${dir}/enc.pem`;
    await run("openssl", [
      "rsa",
      "-in",
      KEY_FILE,
      "-traditional",
      "-aes128",
      "-passout",
      "pass:pw",
      "-out",
      enc,
    ]);
    await rejectsKey(
      loadEncryptionKey({ mode: "AES256", keyFile: enc }),
      /enc\.pem: the PEM key is encrypted/,
    );
    const cert = `${dir}/cert.pem`;
    await run("openssl", [
      "req",
      "-x509",
      "-key",
      KEY_FILE,
      "-subj",
      "/CN=x",
      "-days",
      "1",
      "-out",
      cert,
    ]);
    await rejectsKey(
      loadEncryptionKey({ mode: "AES256", keyFile: cert }),
      /cert\.pem: the data is not a PKCS#8 or PKCS#1 private key/,
    );
  });
  const env = (value: string) => ({ getEnv: (n: string) => (n === "K" ? value : undefined) });
  await rejectsKey(
    loadEncryptionKey({ mode: "AES256", keyEnv: "UNSET" }, env("x")),
    /environment variable UNSET: it is not set/,
  );
  await rejectsKey(
    loadEncryptionKey({ mode: "AES256", keyEnv: "K" }, env("%%%")),
    /environment variable K: the value is neither PEM nor base64/,
  );
  await rejectsKey(
    loadEncryptionKey({ mode: "AES256", keyEnv: "K" }, env(b64("hello"))),
    /environment variable K: the data is not/,
  );
  assert.throws(
    () => deriveEncryptionKey("   ", { mode: "AES128", source: "the test" }),
    /the test: the value is empty/,
  );
});

Deno.test("loadEncryptionKey() rejects mode NONE and zero or several key sources", async () => {
  await assert.rejects(loadEncryptionKey({ mode: "NONE", keyFile: KEY_FILE }), TypeError);
  await assert.rejects(
    loadEncryptionKey({ mode: "AES256" }),
    /exactly one of keyFile, keyEnv, keySecret, got 0/,
  );
  await assert.rejects(
    loadEncryptionKey({ mode: "AES256", keyFile: KEY_FILE, keyEnv: "X" }),
    /got 2/,
  );
  await assert.rejects(
    loadEncryptionKey({ mode: "AES256", keySecret: "secrets:a:b" }),
    /no Secret Agent configured/,
  );
});

Deno.test("loadEncryptionKey() refuses passphrase-protected PKCS#8 and PKCS#1 keys by name", async () => {
  await withTmp(async (dir) => {
    const pkcs8 = `${dir}/enc8.pem`;
    const pkcs1 = `${dir}/enc1.pem`;
    await run("openssl", [
      "pkcs8",
      "-topk8",
      "-in",
      KEY_FILE,
      "-out",
      pkcs8,
      "-passout",
      "pass:secret",
    ]);
    await run("openssl", [
      "rsa",
      "-in",
      KEY_FILE,
      "-traditional",
      "-aes128",
      "-out",
      pkcs1,
      "-passout",
      "pass:secret",
    ]);
    for (const keyFile of [pkcs8, pkcs1]) {
      await rejectsKey(
        loadEncryptionKey({ mode: "AES256", keyFile }),
        new RegExp(
          `${keyFile}: the PEM key is encrypted with a passphrase, which is not supported`,
        ),
      );
    }
  });
});

Deno.test("loadJobEncryptionKey() loads no key without encryption and the key with it", async () => {
  assert.equal(await loadJobEncryptionKey({ mode: "NONE" }), undefined);
  const keyFile = new URL("../../testdata/c-asbackup-4.5.8/sample-key.pem", import.meta.url)
    .pathname;
  const key = await loadJobEncryptionKey({ mode: "AES256", keyFile });
  assert.deepEqual(key, await loadEncryptionKey({ mode: "AES256", keyFile }));
  assert.equal(key?.length, 32);
});
