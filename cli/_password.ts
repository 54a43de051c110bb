/**
 * The value forms of password flags (tools-common-go `PasswordFlag`): `env-b64:<var>`,
 * `b64:<base64>`, `file:<path>`, `env:<var>`, or the clear text. Values of the form
 * `secrets:<resource>:<key>` are fetched from the Secret Agent first.
 *
 * @module
 */

import { isSecretRef, resolveSecret } from "../lib/secret_agent/resolve.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { FlagError } from "./_flags.ts";

/** Where password forms are read from; injected so tests need no real environment. */
export interface PasswordSources {
  /** Environment variables. */
  env: { get(name: string): string | undefined };
  /** Reads a text file. */
  readTextFile(path: string): Promise<string>;
}

/**
 * Decodes a password flag's value.
 *
 * @param flag The flag's long name, for messages.
 * @param value The value given.
 * @param sources Environment and files.
 * @returns The password in clear text.
 * @throws {FlagError} naming the flag when the variable is unset, the base64 is malformed or
 * the file cannot be read.
 */
export async function decodePassword(
  flag: string,
  value: string,
  sources: PasswordSources,
): Promise<string> {
  if (value.startsWith("env-b64:")) {
    return decodeB64(flag, envValue(flag, value.slice(8), sources));
  }
  if (value.startsWith("b64:")) return decodeB64(flag, value.slice(4));
  if (value.startsWith("file:")) {
    const path = value.slice(5);
    try {
      // A trailing newline comes from the editor, not the password.
      return (await sources.readTextFile(path)).replace(/\r?\n$/, "");
    } catch (err) {
      throw new FlagError(
        `--${flag}: cannot read password file ${path}: ${(err as Error).message}`,
      );
    }
  }
  if (value.startsWith("env:")) return envValue(flag, value.slice(4), sources);
  return value;
}

/**
 * Resolves a value that may be a `secrets:<resource>:<key>` reference.
 *
 * @param flag The flag's long name, for messages.
 * @param value The value given.
 * @param secretAgent The Secret Agent, when configured.
 * @returns The value itself, or the secret it names.
 * @throws {FlagError} when the value is a reference and no Secret Agent is configured.
 */
export async function resolveSecretFlag(
  flag: string,
  value: string,
  secretAgent: SecretAgentConfig | undefined,
): Promise<string> {
  if (!isSecretRef(value)) return value;
  if (secretAgent === undefined) {
    throw new FlagError(`--${flag} "${value}" needs a Secret Agent: set --sa-address`);
  }
  return await resolveSecret(value, secretAgent);
}

function envValue(flag: string, name: string, sources: PasswordSources): string {
  const v = sources.env.get(name);
  if (v === undefined) throw new FlagError(`--${flag}: environment variable ${name} is not set`);
  return v;
}

function decodeB64(flag: string, text: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.fromBase64(text.trim(), { lastChunkHandling: "strict" }),
    );
  } catch {
    throw new FlagError(`--${flag}: invalid base64 value`);
  }
}
