import assert from "node:assert/strict";
import { decodePassword, type PasswordSources, resolveSecretFlag } from "./_password.ts";
import { FlagError } from "./_flags.ts";

const SOURCES: PasswordSources = {
  env: {
    get: (n: string) => ({ PW: "plain-pw", PW64: btoa("s3cret") } as Record<string, string>)[n],
  },
  readTextFile: (path: string) =>
    path === "/pw.txt" ? Promise.resolve("from-file\n") : Promise.reject(new Error("not found")),
};

Deno.test("decodePassword() reads every password form", async () => {
  assert.equal(await decodePassword("password", "clear", SOURCES), "clear");
  assert.equal(await decodePassword("password", "b64:cMOkc3N3b3Jk", SOURCES), "pässword");
  assert.equal(await decodePassword("password", "env-b64:PW64", SOURCES), "s3cret");
  assert.equal(await decodePassword("password", "env:PW", SOURCES), "plain-pw");
  assert.equal(await decodePassword("password", "file:/pw.txt", SOURCES), "from-file");
});

Deno.test("decodePassword() names the flag when a source is missing or malformed", async () => {
  await assert.rejects(
    decodePassword("password", "env:NOPE", SOURCES),
    (e) =>
      e instanceof FlagError && /--password: environment variable NOPE is not set/.test(e.message),
  );
  await assert.rejects(
    decodePassword("tls-keyfile-password", "b64:%%%", SOURCES),
    (e) => e instanceof FlagError && /--tls-keyfile-password: invalid base64/.test(e.message),
  );
  await assert.rejects(
    decodePassword("password", "file:/missing", SOURCES),
    (e) => e instanceof FlagError && /cannot read password file \/missing/.test(e.message),
  );
});

Deno.test("resolveSecretFlag() passes plain values and needs an agent for references", async () => {
  assert.equal(await resolveSecretFlag("user", "admin", undefined), "admin");
  await assert.rejects(
    resolveSecretFlag("user", "secrets:res:user", undefined),
    (e) =>
      e instanceof FlagError && /--user "secrets:res:user" needs a Secret Agent/.test(e.message),
  );
});
