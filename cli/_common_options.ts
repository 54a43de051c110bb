/**
 * Maps the flags both CLIs share to library settings: the client policy (with passwords
 * and `secrets:` references resolved), compression, encryption and the Secret Agent.
 *
 * @module
 */

import type { ClientPolicy } from "../lib/aerospike/policy.ts";
import { type CompressionPolicy, ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL } from "../lib/io/compression.ts";
import type { EncryptionPolicy } from "../lib/io/encryption.ts";
import type { RequestRetryPolicy } from "../lib/io/object_store.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { FlagError, type ParsedFlags } from "./_flags.ts";
import { decodePassword, type PasswordSources, resolveSecretFlag } from "./_password.ts";

/** Reads a flag's value with its type. */
export function str(flags: ParsedFlags, name: string): string {
  return flags.values.get(name) as string;
}

/** Reads a numeric flag. */
export function num(flags: ParsedFlags, name: string): number {
  return flags.values.get(name) as number;
}

/**
 * Reads a number flag that must be at least `min`.
 *
 * @param flags The parsed flags.
 * @param name Long name.
 * @param min Smallest accepted value.
 * @param unit Unit named in the error (`"MiB"`), if any.
 * @returns The value.
 * @throws {FlagError} Naming the flag and the bound.
 */
export function numAtLeast(flags: ParsedFlags, name: string, min: number, unit = ""): number {
  const value = num(flags, name);
  if (Number.isFinite(value) && value >= min) return value;
  throw new FlagError(
    `invalid value "${value}" for --${name}: expected ${min} or more${unit ? ` ${unit}` : ""}`,
  );
}

/**
 * Reads how a broken cloud download resumes: `--<prefix>retry-read-backoff`, `-multiplier`
 * and `-max-attempts` (total attempts, at least 1, as backup-go counts them).
 *
 * @param flags The parsed flags.
 * @param prefix Provider prefix such as `"s3-"`.
 * @param minBackoffMs Smallest accepted backoff (GCS asks for 1 ms).
 * @returns The policy.
 */
export function readRetryFromFlags(
  flags: ParsedFlags,
  prefix: string,
  minBackoffMs = 0,
): RequestRetryPolicy {
  return {
    initialBackoffMs: numAtLeast(flags, `${prefix}retry-read-backoff`, minBackoffMs),
    multiplier: numAtLeast(flags, `${prefix}retry-read-multiplier`, 1),
    maxAttempts: Math.max(1, numAtLeast(flags, `${prefix}retry-read-max-attempts`, 0)),
  };
}

/** Reads a boolean flag. */
export function bool(flags: ParsedFlags, name: string): boolean {
  return flags.values.get(name) as boolean;
}

/**
 * Splits a comma list flag; empty means none.
 *
 * @param flags The parsed flags.
 * @param name The flag.
 * @returns The entries.
 */
export function list(flags: ParsedFlags, name: string): string[] {
  const v = str(flags, name);
  return v === "" ? [] : v.split(",");
}

/**
 * Picks one of fixed values, case-insensitively, as pflag's enum flags do.
 *
 * @param flags The parsed flags.
 * @param name The flag.
 * @param allowed The accepted values, in canonical spelling.
 * @returns The canonical value.
 * @throws {FlagError} naming the flag, the value and the choices.
 */
export function choice<T extends string>(
  flags: ParsedFlags,
  name: string,
  allowed: readonly T[],
): T {
  const v = str(flags, name);
  const found = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (found === undefined) {
    throw new FlagError(
      `invalid value "${v}" for --${name}: expected one of ${allowed.join(", ")}`,
    );
  }
  return found;
}

/**
 * Builds the Secret Agent configuration from `--sa-*`, or `undefined` without an address.
 *
 * @param flags The parsed flags.
 * @returns The configuration.
 */
export function secretAgentFromFlags(flags: ParsedFlags): SecretAgentConfig | undefined {
  const address = str(flags, "sa-address");
  if (address === "") return undefined;
  const type = choice(flags, "sa-connection-type", ["TCP", "UNIX"] as const);
  const sa: SecretAgentConfig = {
    connectionType: type === "TCP" ? "tcp" : "unix",
    address,
    timeoutMs: num(flags, "sa-timeout"),
    isBase64: bool(flags, "sa-is-base64"),
  };
  if (num(flags, "sa-port") !== 0) sa.port = num(flags, "sa-port");
  if (str(flags, "sa-ca-file") !== "") sa.tlsCaFile = str(flags, "sa-ca-file");
  if (str(flags, "sa-tls-name") !== "") sa.tlsName = str(flags, "sa-tls-name");
  if (str(flags, "sa-cert-file") !== "") sa.certFile = str(flags, "sa-cert-file");
  if (str(flags, "sa-key-file") !== "") sa.keyFile = str(flags, "sa-key-file");
  return sa;
}

/**
 * Builds the compression policy from `--compress` and `--compression-level`.
 *
 * @param flags The parsed flags.
 * @returns The policy.
 * @throws {FlagError} for an unknown mode or a level libzstd does not take.
 */
export function compressionFromFlags(flags: ParsedFlags): CompressionPolicy {
  const level = num(flags, "compression-level");
  if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
    throw new FlagError(
      `invalid value "${level}" for --compression-level: expected an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}`,
    );
  }
  return { mode: choice(flags, "compress", ["NONE", "ZSTD"] as const), level };
}

const KEY_FLAGS = ["encryption-key-file", "encryption-key-env", "encryption-key-secret"] as const;

/**
 * Builds the encryption policy from `--encrypt` and `--encryption-key-*`.
 *
 * @param flags The parsed flags.
 * @returns The policy.
 * @throws {FlagError} for an unknown mode, a mode without exactly one key flag, or
 *   `--encryption-key-secret` without `--sa-address`.
 */
export function encryptionFromFlags(flags: ParsedFlags): EncryptionPolicy {
  const p: EncryptionPolicy = {
    mode: choice(flags, "encrypt", ["NONE", "AES128", "AES256"] as const),
  };
  const given = KEY_FLAGS.filter((f) => str(flags, f) !== "");
  if (p.mode !== "NONE") {
    if (given.length === 0) {
      throw new FlagError(
        `--encrypt ${p.mode} needs the private key: set one of --${KEY_FLAGS.join(", --")}`,
      );
    }
    if (given.length > 1) {
      throw new FlagError(`--${given[0]} and --${given[1]} are mutually exclusive`);
    }
    if (given[0] === "encryption-key-secret" && str(flags, "sa-address") === "") {
      throw new FlagError(
        `--encryption-key-secret "${
          str(flags, "encryption-key-secret")
        }" needs a Secret Agent: set --sa-address`,
      );
    }
  }
  if (str(flags, "encryption-key-file") !== "") p.keyFile = str(flags, "encryption-key-file");
  if (str(flags, "encryption-key-env") !== "") p.keyEnv = str(flags, "encryption-key-env");
  if (str(flags, "encryption-key-secret") !== "") p.keySecret = str(flags, "encryption-key-secret");
  return p;
}

/**
 * Builds the client policy from the Aerospike client flags, resolving `secrets:` references
 * of the user and password and the password forms.
 *
 * @param flags The parsed flags.
 * @param sources Environment and files for password forms.
 * @param secretAgent The Secret Agent, when configured.
 * @returns The policy to connect with.
 * @throws {FlagError} for an unknown auth mode or an unreadable password.
 */
export async function clientPolicyFromFlags(
  flags: ParsedFlags,
  sources: PasswordSources,
  secretAgent: SecretAgentConfig | undefined,
): Promise<ClientPolicy> {
  const policy: ClientPolicy = {
    hosts: str(flags, "host"),
    defaultPort: num(flags, "port"),
    authMode: choice(flags, "auth", ["INTERNAL", "EXTERNAL", "PKI"] as const),
    servicesAlternate: bool(flags, "services-alternate"),
    connectTimeoutMs: num(flags, "client-timeout"),
    idleTimeoutMs: num(flags, "client-idle-timeout"),
    loginTimeoutMs: num(flags, "client-login-timeout"),
  };
  const user = await resolveSecretFlag("user", str(flags, "user"), secretAgent);
  if (user !== "") policy.user = user;
  const rawPassword = await resolveSecretFlag("password", str(flags, "password"), secretAgent);
  if (rawPassword !== "") policy.password = await decodePassword("password", rawPassword, sources);
  // backup-go's config file turns TLS on when any TLS setting is given; on the command line
  // --tls-enable is needed, as in tools-common-go.
  const tlsKeys = ["tls-name", "tls-cafile", "tls-capath", "tls-certfile", "tls-keyfile"];
  const tlsEnabled = bool(flags, "tls-enable") ||
    (flags.fromConfigFile === true && tlsKeys.some((k) => str(flags, k) !== ""));
  if (tlsEnabled) {
    policy.tls = { enabled: true, protocols: str(flags, "tls-protocols") };
    if (str(flags, "tls-name") !== "") policy.tls.name = str(flags, "tls-name");
    if (str(flags, "tls-cafile") !== "") policy.tls.caFile = str(flags, "tls-cafile");
    if (str(flags, "tls-capath") !== "") policy.tls.caPath = str(flags, "tls-capath");
    if (str(flags, "tls-certfile") !== "") policy.tls.certFile = str(flags, "tls-certfile");
    if (str(flags, "tls-keyfile") !== "") policy.tls.keyFile = str(flags, "tls-keyfile");
    const keyPassword = await resolveSecretFlag(
      "tls-keyfile-password",
      str(flags, "tls-keyfile-password"),
      secretAgent,
    );
    if (keyPassword !== "") {
      policy.tls.keyPassword = await decodePassword("tls-keyfile-password", keyPassword, sources);
    }
  }
  if (policy.authMode === "EXTERNAL" && !tlsEnabled) {
    throw new FlagError("--auth EXTERNAL needs TLS: set --tls-enable");
  }
  return policy;
}
