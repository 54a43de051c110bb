/**
 * Finds the AWS key and region the way the AWS SDK for Go v2 (which backup-go uses) does:
 * explicit keys first, then a profile chosen explicitly, then the `AWS_*` environment
 * variables, then the profile of `AWS_PROFILE` (or `default`) in the shared files
 * `~/.aws/credentials` and `~/.aws/config`.
 *
 * Not supported (they need other AWS services): EC2/ECS instance metadata credentials,
 * web identity tokens, `role_arn` / `source_profile` role assumption, `credential_process`
 * and SSO profiles. A profile using one of them is refused with a clear message.
 *
 * @module
 */

import { AerobakError } from "../../errors.ts";
import type { AwsCredentials } from "./s3_signer.ts";

/** Where {@linkcode resolveAwsConfig} looks. */
export interface AwsConfigSources {
  /** Access key id given explicitly (`--s3-access-key-id`); used only with the secret. */
  accessKeyId?: string;
  /** Secret access key given explicitly (`--s3-secret-access-key`). */
  secretAccessKey?: string;
  /** Session token that goes with the explicit key. */
  sessionToken?: string;
  /** Profile chosen explicitly (`--s3-profile`); beats the environment's keys. */
  profile?: string;
  /** Region given explicitly (`--s3-region`). */
  region?: string;
  /** The environment (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, `AWS_REGION`, `HOME`, …). @default {{}} */
  env?: Readonly<Record<string, string>>;
  /** Reads a shared file; a missing file (NotFound/ENOENT) counts as empty. @default {Deno.readTextFile} */
  readTextFile?: (path: string) => Promise<string>;
}

/** The key and region to sign with. */
export interface ResolvedAwsConfig {
  /** The key. */
  credentials: AwsCredentials;
  /** The region, `""` when none was found. */
  region: string;
  /** Where the key came from, for messages (`"--s3-access-key-id"`, `"environment"`, `profile "x" in <file>`). */
  credentialSource: string;
}

/** Sections of an AWS shared file: section name → key (lower case) → value. */
export type AwsIniFile = Map<string, Map<string, string>>;

/**
 * Parses an AWS shared credentials or config file (INI): `[section]` headers, `key = value`
 * lines, `#` and `;` comments; indented sub-property lines are skipped.
 *
 * @param text The file's text.
 * @returns Sections by name (as written, `profile x` included).
 */
export function parseAwsIni(text: string): AwsIniFile {
  const sections: AwsIniFile = new Map();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s/.test(raw) && current !== undefined && raw.trim() !== "") continue;
    const line = raw.replace(/\s[#;].*$/, "").trim();
    if (line === "" || line[0] === "#" || line[0] === ";") continue;
    if (line[0] === "[") {
      const name = line.slice(1, line.indexOf("]") < 0 ? undefined : line.indexOf("]")).trim()
        .replace(/\s+/g, " ");
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || current === undefined) continue;
    current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}

const UNSUPPORTED_KEYS = [
  "role_arn",
  "credential_process",
  "sso_session",
  "sso_start_url",
  "web_identity_token_file",
  "credential_source",
];

/**
 * Resolves the key and region.
 *
 * @example Keys from the environment
 * ```ts
 * import { resolveAwsConfig } from "./s3_credentials.ts";
 * const cfg = await resolveAwsConfig({
 *   env: { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "eu-west-1" },
 *   readTextFile: () => Promise.reject(new Deno.errors.NotFound()),
 * });
 * console.assert(cfg.region === "eu-west-1" && cfg.credentialSource === "environment");
 * ```
 *
 * @param sources Explicit values, environment and file reader.
 * @returns The key, the region and where the key came from.
 * @throws {AerobakError} `STORAGE_AUTH` when no key is found, the chosen profile does not
 *   exist or needs an unsupported provider, or a shared file cannot be read.
 */
export async function resolveAwsConfig(sources: AwsConfigSources): Promise<ResolvedAwsConfig> {
  const env = sources.env ?? {};
  const read = sources.readTextFile ?? Deno.readTextFile;
  const explicitProfile = sources.profile ?? "";
  const profile = explicitProfile || env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || "default";
  const home = env.HOME || env.USERPROFILE || "";
  const credFile = env.AWS_SHARED_CREDENTIALS_FILE || (home ? `${home}/.aws/credentials` : "");
  const configFile = env.AWS_CONFIG_FILE || (home ? `${home}/.aws/config` : "");
  let shared: Promise<SharedProfile> | undefined;
  const sharedProfile = () => shared ??= loadProfile(read, profile, credFile, configFile);

  const region = sources.region || env.AWS_REGION || env.AWS_DEFAULT_REGION ||
    (await sharedProfile()).region;

  if (sources.accessKeyId && sources.secretAccessKey) {
    return {
      credentials: withToken(sources.accessKeyId, sources.secretAccessKey, sources.sessionToken),
      region,
      credentialSource: "--s3-access-key-id",
    };
  }
  const envKey = env.AWS_ACCESS_KEY_ID || env.AWS_ACCESS_KEY || "";
  const envSecret = env.AWS_SECRET_ACCESS_KEY || env.AWS_SECRET_KEY || "";
  if (explicitProfile === "" && envKey !== "" && envSecret !== "") {
    return {
      credentials: withToken(envKey, envSecret, env.AWS_SESSION_TOKEN),
      region,
      credentialSource: "environment",
    };
  }
  const found = await sharedProfile();
  if (found.credentials !== undefined) {
    return { credentials: found.credentials, region, credentialSource: found.source };
  }
  if (found.unsupported !== undefined) {
    throw new AerobakError(
      "STORAGE_AUTH",
      `Cannot use AWS profile "${profile}" from ${found.source}: it sets "${found.unsupported}", ` +
        "and aerobak supports only static keys (aws_access_key_id, aws_secret_access_key)",
    );
  }
  const files = [credFile, configFile].filter((f) => f !== "").join(" and ") || "(no HOME)";
  if (found.exists || explicitProfile !== "" || env.AWS_PROFILE) {
    throw new AerobakError(
      "STORAGE_AUTH",
      found.exists
        ? `Cannot use AWS profile "${profile}" from ${found.source}: it has no aws_access_key_id and aws_secret_access_key`
        : `Cannot find AWS profile "${profile}" in ${files}`,
    );
  }
  throw new AerobakError(
    "STORAGE_AUTH",
    "Cannot find AWS credentials: set --s3-access-key-id and --s3-secret-access-key, " +
      `AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ${files} ` +
      "(instance metadata credentials are not supported)",
  );
}

function withToken(id: string, secret: string, token: string | undefined): AwsCredentials {
  return token ? { accessKeyId: id, secretAccessKey: secret, sessionToken: token } : {
    accessKeyId: id,
    secretAccessKey: secret,
  };
}

interface SharedProfile {
  exists: boolean;
  region: string;
  credentials?: AwsCredentials;
  unsupported?: string;
  source: string;
}

async function loadProfile(
  read: (path: string) => Promise<string>,
  profile: string,
  credFile: string,
  configFile: string,
): Promise<SharedProfile> {
  const creds = (await readIni(read, credFile)).get(profile);
  const config = await readIni(read, configFile);
  // The config file names profiles "profile x"; only the default may also be "[default]".
  const conf = config.get(`profile ${profile}`) ??
    (profile === "default" ? config.get("default") : undefined);
  const result: SharedProfile = {
    exists: creds !== undefined || conf !== undefined,
    region: conf?.get("region") ?? creds?.get("region") ?? "",
    source: `profile "${profile}" in ${creds !== undefined ? credFile : configFile}`,
  };
  // Keys in the credentials file win over keys in the config file, as in the SDK.
  for (const [section, file] of [[creds, credFile], [conf, configFile]] as const) {
    const id = section?.get("aws_access_key_id") ?? "";
    const secret = section?.get("aws_secret_access_key") ?? "";
    if (id !== "" && secret !== "") {
      result.credentials = withToken(id, secret, section?.get("aws_session_token"));
      result.source = `profile "${profile}" in ${file}`;
      return result;
    }
  }
  result.unsupported = UNSUPPORTED_KEYS.find((k) => creds?.has(k) || conf?.has(k));
  return result;
}

async function readIni(read: (path: string) => Promise<string>, path: string) {
  if (path === "") return new Map() as AwsIniFile;
  try {
    return parseAwsIni(await read(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || (err as { code?: string }).code === "ENOENT") {
      return new Map() as AwsIniFile;
    }
    throw new AerobakError(
      "STORAGE_AUTH",
      `Cannot read AWS shared file ${path}: ${(err as Error).message}`,
      { cause: err, location: { file: path } },
    );
  }
}
