import assert from "node:assert/strict";
import {
  clientPolicyFromFlags,
  compressionFromFlags,
  encryptionFromFlags,
} from "./_common_options.ts";
import { BACKUP_FLAGS } from "./_backup_flags.ts";
import { FlagError, parseFlags } from "./_flags.ts";
import { parseConfigFile } from "./_config_file.ts";
import type { PasswordSources } from "./_password.ts";

const SOURCES: PasswordSources = {
  env: { get: (n: string) => (n === "PW" ? "envpw" : undefined) },
  readTextFile: () => Promise.reject(new Error("no files")),
};

Deno.test("clientPolicyFromFlags() maps the client flags", async () => {
  const flags = parseFlags(BACKUP_FLAGS, [
    "-h",
    "a:3100,b",
    "-p",
    "3200",
    "-U",
    "admin",
    "-P",
    "env:PW",
    "--auth",
    "external",
    "--tls-enable",
    "--tls-name",
    "t1",
    "--tls-cafile",
    "b64:QUJD",
    "--tls-keyfile-password",
    "b64:a2V5cHc=",
    "--services-alternate",
    "--client-timeout",
    "500",
    "--client-idle-timeout",
    "7",
    "--client-login-timeout",
    "9",
  ]);
  assert.deepEqual(await clientPolicyFromFlags(flags, SOURCES, undefined), {
    hosts: "a:3100,b",
    defaultPort: 3200,
    authMode: "EXTERNAL",
    servicesAlternate: true,
    connectTimeoutMs: 500,
    idleTimeoutMs: 7,
    loginTimeoutMs: 9,
    user: "admin",
    password: "envpw",
    tls: {
      enabled: true,
      protocols: "+TLSv1.2",
      name: "t1",
      caFile: "b64:QUJD",
      keyPassword: "keypw",
    },
  });
});

Deno.test("clientPolicyFromFlags() ignores TLS settings without --tls-enable on the command line", async () => {
  const flags = parseFlags(BACKUP_FLAGS, ["--tls-name", "t1"]);
  const p = await clientPolicyFromFlags(flags, SOURCES, undefined);
  assert.equal(p.tls, undefined);
  assert.equal(p.user, undefined);
  assert.equal(p.password, undefined);
  // In a config file any TLS setting turns TLS on, as backup-go does.
  const file = parseConfigFile("cluster:\n  tls:\n    cafile: /ca.pem\n", BACKUP_FLAGS, "c.yaml");
  assert.equal((await clientPolicyFromFlags(file, SOURCES, undefined)).tls?.caFile, "/ca.pem");
});

Deno.test("clientPolicyFromFlags() refuses an unknown auth mode and EXTERNAL without TLS", async () => {
  await assert.rejects(
    clientPolicyFromFlags(parseFlags(BACKUP_FLAGS, ["--auth", "kerberos"]), SOURCES, undefined),
    (e) =>
      e instanceof FlagError &&
      /"kerberos" for --auth: expected one of INTERNAL, EXTERNAL, PKI/.test(e.message),
  );
  await assert.rejects(
    clientPolicyFromFlags(parseFlags(BACKUP_FLAGS, ["--auth", "EXTERNAL"]), SOURCES, undefined),
    (e) => e instanceof FlagError && /needs TLS/.test(e.message),
  );
});

Deno.test("compressionFromFlags() and encryptionFromFlags() accept any case and refuse unknown modes", () => {
  assert.deepEqual(
    compressionFromFlags(parseFlags(BACKUP_FLAGS, ["-z", "zstd", "--compression-level", "9"])),
    { mode: "ZSTD", level: 9 },
  );
  assert.throws(
    () => compressionFromFlags(parseFlags(BACKUP_FLAGS, ["-z", "gzip"])),
    (e) => e instanceof FlagError && /"gzip" for --compress/.test(e.message),
  );
  assert.deepEqual(
    encryptionFromFlags(
      parseFlags(BACKUP_FLAGS, ["--encrypt", "aes256", "--encryption-key-env", "K"]),
    ),
    { mode: "AES256", keyEnv: "K" },
  );
  assert.throws(
    () => encryptionFromFlags(parseFlags(BACKUP_FLAGS, ["--encrypt", "DES"])),
    (e) => e instanceof FlagError,
  );
});
