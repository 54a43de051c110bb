/**
 * Derives the AES key of encrypted backup files from an RSA private key, as both backup
 * tools do: `SHA-256(PKCS#1 DER of the key)`, all 32 bytes for AES-256, the first 16 for
 * AES-128.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, type KeyObject } from "node:crypto";
import { AerobakError } from "../errors.ts";
import { resolveSecret } from "../secret_agent/resolve.ts";
import type { SecretAgentConfig } from "../secret_agent/client.ts";
import type { EncryptionMode, EncryptionPolicy } from "./encryption.ts";

/** Options of {@linkcode loadEncryptionKey}. */
export interface LoadEncryptionKeyOptions {
  /** Secret Agent to ask when the policy names a `keySecret`. */
  secretAgent?: SecretAgentConfig;
  /**
   * Reads environment variables (for tests).
   * @default {Deno.env.get}
   */
  getEnv?: (name: string) => string | undefined;
}

function keyError(source: string, what: string, cause?: unknown): AerobakError {
  return new AerobakError(
    "ENCRYPTION_KEY",
    `Cannot load the encryption key from ${source}: ${what}`,
    { cause },
  );
}

/** Go `base64.StdEncoding.DecodeString`: padded standard alphabet; CR and LF are ignored. */
function decodeBase64(text: string): Uint8Array | null {
  const s = text.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const PEM_BLOCK = /-----BEGIN ([A-Za-z0-9 ]+)-----\s*([\s\S]*?)\s*-----END [A-Za-z0-9 ]+-----/;

/** Returns the DER bytes of the first PEM block in `text`, whatever its label (as Go's `pem.Decode`). */
function pemToDer(text: string, source: string): Uint8Array {
  const m = PEM_BLOCK.exec(text);
  if (!m) throw keyError(source, "no PEM block (-----BEGIN ...----- / -----END ...-----) found");
  if (m[1] === "ENCRYPTED PRIVATE KEY") {
    throw keyError(source, "the PEM key is encrypted with a passphrase, which is not supported");
  }
  let body = m[2];
  // RFC 1421 headers ("Proc-Type: ...") come before a blank line.
  if (/^[A-Za-z-]+:/.test(body)) {
    if (/Proc-Type:\s*4,ENCRYPTED/i.test(body)) {
      throw keyError(source, "the PEM key is encrypted with a passphrase, which is not supported");
    }
    body = body.replace(/^([A-Za-z-]+:.*\r?\n)+\r?\n?/, "");
  }
  const der = decodeBase64(body.replace(/[ \t]/g, ""));
  if (!der || der.length === 0) {
    throw keyError(source, `the body of the PEM block "${m[1]}" is not base64`);
  }
  return der;
}

/**
 * Turns a key given as text (environment variable or Secret Agent value) into DER, with
 * backup-go's rules: raw PEM; base64 of PEM; base64 of DER; or base64 of base64 of DER.
 */
function keyTextToDer(value: string, source: string): Uint8Array {
  const trimmed = value.trim();
  if (trimmed === "") throw keyError(source, "the value is empty");
  if (trimmed.includes("-----BEGIN")) return pemToDer(trimmed, source);
  const once = decodeBase64(trimmed);
  if (!once) throw keyError(source, "the value is neither PEM nor base64");
  const text = new TextDecoder().decode(once);
  if (text.includes("-----BEGIN")) return pemToDer(text, source);
  return decodeBase64(text) ?? once;
}

/** Parses DER as PKCS#8, then PKCS#1 (Go `parsePK`), and requires an RSA key. */
function derToRsaKey(der: Uint8Array, source: string): KeyObject {
  let key: KeyObject;
  const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    key = createPrivateKey({ key: bytes, format: "der", type: "pkcs8" });
  } catch {
    try {
      key = createPrivateKey({ key: bytes, format: "der", type: "pkcs1" });
    } catch (err) {
      throw keyError(source, "the data is not a PKCS#8 or PKCS#1 private key", err);
    }
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw keyError(
      source,
      `expected an RSA private key, found a key of type ${key.asymmetricKeyType ?? "unknown"}`,
    );
  }
  return key;
}

/**
 * Derives the AES key from an RSA private key given as PEM, DER, or the text forms of
 * {@linkcode loadEncryptionKey}'s environment variable.
 *
 * @example AES-128 key from a PEM file's text
 * ```ts
 * import { deriveEncryptionKey } from "./encryption_key.ts";
 * const pem = Deno.readTextFileSync("key.pem");
 * const key = deriveEncryptionKey(pem, { mode: "AES128" });
 * console.log(key.length); // 16
 * ```
 *
 * @param key PEM text, or DER bytes (PKCS#1 or PKCS#8).
 * @param options `mode` picks the key length; `source` names the key in messages (default `"the key"`).
 * @returns 16 bytes for AES128, 32 for AES256.
 * @throws {AerobakError} `ENCRYPTION_KEY` when the key is not an RSA private key.
 */
export function deriveEncryptionKey(
  key: string | Uint8Array,
  options: { mode: Exclude<EncryptionMode, "NONE">; source?: string },
): Uint8Array {
  const source = options.source ?? "the key";
  const der = typeof key === "string" ? keyTextToDer(key, source) : key;
  const pkcs1 = derToRsaKey(der, source).export({ type: "pkcs1", format: "der" });
  const digest = new Uint8Array(createHash("sha256").update(pkcs1).digest());
  if (options.mode === "AES128") return digest.subarray(0, 16);
  if (options.mode === "AES256") return digest;
  throw new TypeError(
    `Cannot derive a key for encryption mode "${String(options.mode)}": expected AES128 or AES256`,
  );
}

/**
 * Loads the AES key an encryption policy names, from exactly one source:
 * - `keyFile`: PEM file, PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`);
 * - `keyEnv`: environment variable with raw PEM, base64 of PEM, base64 of the DER key, or
 *   base64 of that (backup-go semantics; the C tool agrees only on base64 of PKCS#1 DER);
 * - `keySecret`: `secrets:<resource>:<key>` fetched from the Secret Agent, then read like
 *   the environment variable.
 *
 * @example
 * ```ts
 * import { loadEncryptionKey } from "./encryption_key.ts";
 * const key = await loadEncryptionKey({ mode: "AES256", keyFile: "key.pem" });
 * console.log(key.length); // 32
 * ```
 *
 * @param policy Mode and key source.
 * @param options Secret Agent for `keySecret`.
 * @returns The 16- or 32-byte key.
 * @throws {TypeError} When the mode is `"NONE"` or unknown, or not exactly one source is set.
 * @throws {AerobakError} `ENCRYPTION_KEY` naming the file, variable or secret when the key
 *   cannot be read or is not an RSA private key; Secret Agent errors (`SECRET_AGENT_*`).
 */
export async function loadEncryptionKey(
  policy: EncryptionPolicy,
  options: LoadEncryptionKeyOptions = {},
): Promise<Uint8Array> {
  const mode = policy.mode;
  if (mode !== "AES128" && mode !== "AES256") {
    throw new TypeError(
      `Cannot load an encryption key for mode "${String(mode)}": expected AES128 or AES256`,
    );
  }
  const sources = [policy.keyFile, policy.keyEnv, policy.keySecret].filter((s) =>
    s !== undefined && s !== ""
  );
  if (sources.length !== 1) {
    throw new TypeError(
      `Cannot load the ${mode} key: expected exactly one of keyFile, keyEnv, keySecret, got ${sources.length}`,
    );
  }
  if (policy.keyFile) {
    const source = `file ${policy.keyFile}`;
    let text: string;
    try {
      text = await Deno.readTextFile(policy.keyFile);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
      throw keyError(source, why, err);
    }
    return deriveEncryptionKey(pemToDer(text, source), { mode, source });
  }
  if (policy.keyEnv) {
    const source = `environment variable ${policy.keyEnv}`;
    const value = (options.getEnv ?? Deno.env.get)(policy.keyEnv);
    if (value === undefined || value === "") throw keyError(source, "it is not set");
    return deriveEncryptionKey(value, { mode, source });
  }
  const ref = policy.keySecret as string;
  if (!options.secretAgent) {
    throw new TypeError(`Cannot fetch the encryption key ${ref}: no Secret Agent configured`);
  }
  const value = await resolveSecret(ref, options.secretAgent);
  return deriveEncryptionKey(value, { mode, source: `secret ${ref}` });
}

/**
 * Loads the key a job needs: none when the policy's mode is `"NONE"`, else as
 * {@linkcode loadEncryptionKey} does.
 *
 * @param policy Mode and key source.
 * @param options Secret Agent for `keySecret`.
 * @returns The 16- or 32-byte key, or `undefined` without encryption.
 */
export function loadJobEncryptionKey(
  policy: EncryptionPolicy,
  options: LoadEncryptionKeyOptions = {},
): Promise<Uint8Array | undefined> {
  return policy.mode === "NONE" ? Promise.resolve(undefined) : loadEncryptionKey(policy, options);
}
