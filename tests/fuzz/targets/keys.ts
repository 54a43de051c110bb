/**
 * Fuzz target of encryption keys as `--encryption-key-file` and `--encryption-key-env` give
 * them: PEM (PKCS#1 and PKCS#8), base64 of a PEM, base64 of DER. Every refusal must be
 * one `ENCRYPTION_KEY` error naming the file or the variable.
 *
 * An input is `<file|env> <AES128|AES256>\n<key text>`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPrivateKey } from "node:crypto";
import { loadEncryptionKey } from "../../../lib/io/encryption_key.ts";
import { type FuzzTarget, namesSource } from "../engine.ts";
import { splitHeader, withHeader } from "../input.ts";
import { mutateBytes } from "../mutate.ts";
import { SAMPLE_KEY } from "./files.ts";

const VARIABLE = "AEROBAK_FUZZ_KEY";

interface KeyEnv {
  dir: string;
}

function split(input: Uint8Array): [string, string, string] {
  const [line, body] = splitHeader(input);
  const [how = "env", mode = "AES256"] = line.split(" ");
  return [how, mode, new TextDecoder().decode(body)];
}

const tagged = (how: string, mode: string, text: string | Uint8Array) =>
  withHeader(`${how} ${mode}`, text);

/** Encryption key files and variables. */
export const keysTarget: FuzzTarget<KeyEnv> = {
  name: "keys",
  about: "encryption keys: PEM files (PKCS#1, PKCS#8), base64 PEM and base64 DER variables",
  ciIterations: 1500,
  async open() {
    return { dir: await Deno.makeTempDir({ prefix: "aerobak-fuzz-keys-" }) };
  },
  async close(env) {
    await Deno.remove(env.dir, { recursive: true });
  },
  async seeds() {
    const pkcs1 = await Deno.readTextFile(SAMPLE_KEY);
    const key = createPrivateKey(pkcs1);
    const pkcs8 = key.export({ type: "pkcs8", format: "pem" }) as string;
    const der1 = key.export({ type: "pkcs1", format: "der" });
    const der8 = key.export({ type: "pkcs8", format: "der" });
    const b64 = (b: string | Uint8Array) => Buffer.from(b).toString("base64");
    return [
      tagged("file", "AES256", pkcs1),
      tagged("file", "AES128", pkcs8),
      tagged("env", "AES256", pkcs1),
      tagged("env", "AES128", b64(pkcs8)),
      tagged("env", "AES256", b64(der1)),
      tagged("env", "AES128", b64(der8)),
    ];
  },
  mutate(seed, r, seeds) {
    const [how, mode, text] = split(seed);
    return tagged(how, mode, mutateBytes(new TextEncoder().encode(text), r, seeds));
  },
  async run(input, env) {
    const [how, mode, text] = split(input);
    const m = mode === "AES128" ? "AES128" : "AES256";
    if (how === "file") {
      const path = `${env.dir}/key.pem`;
      await Deno.writeTextFile(path, text);
      await loadEncryptionKey({ mode: m, keyFile: path });
    } else {
      await loadEncryptionKey({ mode: m, keyEnv: VARIABLE }, { getEnv: () => text });
    }
  },
  judge(err, input, env) {
    const [how] = split(input);
    return namesSource(err, [how === "file" ? `${env.dir}/key.pem` : VARIABLE]);
  },
};
