/**
 * Resolvers of the io policies both job configs carry (private): compression, encryption
 * and the Secret Agent, each checked with a `CONFIG_INVALID` error naming the field.
 *
 * @module
 */

import { invalidConfig, requireInteger, requireNumber, requireOneOf } from "./_config_check.ts";
import {
  type CompressionPolicy,
  ZSTD_DEFAULT_LEVEL,
  ZSTD_MAX_LEVEL,
  ZSTD_MIN_LEVEL,
} from "./io/compression.ts";
import type { EncryptionPolicy } from "./io/encryption.ts";
import type { SecretAgentConfig } from "./secret_agent/client.ts";

/**
 * Resolves a compression policy: the mode is `NONE` or `ZSTD`, the level an integer.
 *
 * @param input The caller's policy, or `undefined` for none.
 * @returns A new frozen policy (`level` defaults to 3).
 * @throws {AerobakError} `CONFIG_INVALID` for an unknown mode or a bad level.
 */
export function resolveCompression(
  input: CompressionPolicy | undefined,
): Readonly<CompressionPolicy> {
  const p: CompressionPolicy = {
    mode: input?.mode ?? "NONE",
    level: input?.level ?? ZSTD_DEFAULT_LEVEL,
  };
  requireOneOf("compression.mode", p.mode, ["NONE", "ZSTD"]);
  requireInteger("compression.level", p.level, ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL);
  return Object.freeze(p);
}

/**
 * Resolves an encryption policy: the mode is `NONE`, `AES128` or `AES256`, and any other
 * mode than `NONE` takes its key from exactly one of a file, an environment variable or the
 * Secret Agent (which then must be configured).
 *
 * @param input The caller's policy, or `undefined` for none.
 * @param secretAgent The Secret Agent configuration, if any.
 * @returns A new frozen policy.
 * @throws {AerobakError} `CONFIG_INVALID` for an unknown mode or a missing or doubled key source.
 */
export function resolveEncryption(
  input: EncryptionPolicy | undefined,
  secretAgent: SecretAgentConfig | undefined,
): Readonly<EncryptionPolicy> {
  const p: EncryptionPolicy = { mode: input?.mode ?? "NONE" };
  requireOneOf("encryption.mode", p.mode, ["NONE", "AES128", "AES256"]);
  if (input?.keyFile !== undefined && input.keyFile !== "") p.keyFile = input.keyFile;
  if (input?.keyEnv !== undefined && input.keyEnv !== "") p.keyEnv = input.keyEnv;
  if (input?.keySecret !== undefined && input.keySecret !== "") p.keySecret = input.keySecret;
  const sources = [p.keyFile, p.keyEnv, p.keySecret].filter((s) => s !== undefined).length;
  if (p.mode !== "NONE" && sources !== 1) {
    throw invalidConfig(
      "encryption",
      `mode ${p.mode} with ${sources} key sources`,
      "exactly one of keyFile, keyEnv, keySecret",
    );
  }
  if (p.keySecret !== undefined && secretAgent === undefined) {
    throw invalidConfig("encryption.keySecret", p.keySecret, "a configured secretAgent");
  }
  return Object.freeze(p);
}

/**
 * Resolves a Secret Agent configuration: an address is required, the transport is `tcp` or
 * `unix`, a port is 1 … 65535.
 *
 * @param input The caller's configuration, or `undefined` for none.
 * @returns A new frozen configuration, or `undefined`.
 * @throws {AerobakError} `CONFIG_INVALID` naming the bad field.
 */
export function resolveSecretAgent(
  input: SecretAgentConfig | undefined,
): Readonly<SecretAgentConfig> | undefined {
  if (input === undefined) return undefined;
  const p: SecretAgentConfig = { ...input };
  const type = p.connectionType ?? "tcp";
  requireOneOf("secretAgent.connectionType", type, ["tcp", "unix"]);
  if (typeof p.address !== "string" || p.address === "") {
    throw invalidConfig("secretAgent.address", p.address, "a host name or socket path");
  }
  if (p.port !== undefined) requireInteger("secretAgent.port", p.port, 1, 65535);
  if (p.timeoutMs !== undefined) requireNumber("secretAgent.timeoutMs", p.timeoutMs, 0);
  return Object.freeze(p);
}
