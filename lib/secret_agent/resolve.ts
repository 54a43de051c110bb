/**
 * `secrets:<resource>:<key>` references, resolved through the Secret Agent.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { fetchSecret, type SecretAgentConfig } from "./client.ts";
import type { SecretRequest } from "./protocol.ts";

const PREFIX = "secrets:";

/**
 * Tells whether an option value is a Secret Agent reference (starts with `secrets:`).
 *
 * @example
 * ```ts
 * import { isSecretRef } from "./resolve.ts";
 * console.log(isSecretRef("secrets:vault:pw"), isSecretRef("hunter2")); // true false
 * ```
 *
 * @param value Any option value.
 * @returns Whether it must be resolved with {@linkcode resolveSecret}.
 */
export function isSecretRef(value: string): boolean {
  return value.startsWith(PREFIX);
}

/**
 * Splits `secrets:<resource>:<key>` (backup-go requires exactly these three parts).
 *
 * @param ref The reference.
 * @returns Resource and key.
 * @throws {AerobakError} `SECRET_REF_INVALID` naming the reference.
 */
export function parseSecretRef(ref: string): SecretRequest {
  const parts = ref.split(":");
  if (parts.length !== 3 || parts[0] !== "secrets" || parts[1] === "" || parts[2] === "") {
    throw new AerobakError(
      "SECRET_REF_INVALID",
      `Cannot parse secret reference "${ref}": expected secrets:<resource>:<key>`,
    );
  }
  return { resource: parts[1], key: parts[2] };
}

/**
 * Resolves a `secrets:<resource>:<key>` reference with the Secret Agent.
 *
 * @example
 * ```ts
 * import { resolveSecret } from "./resolve.ts";
 * const password = await resolveSecret("secrets:vault:pw", { address: "127.0.0.1", port: 3005 });
 * ```
 *
 * @param ref The reference.
 * @param config Secret Agent to ask.
 * @returns The secret value.
 * @throws {AerobakError} `SECRET_REF_INVALID`, or the errors of {@linkcode fetchSecret}.
 */
export async function resolveSecret(ref: string, config: SecretAgentConfig): Promise<string> {
  return await fetchSecret(config, parseSecretRef(ref));
}
