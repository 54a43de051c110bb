/**
 * OAuth 2.0 access tokens for Google Cloud Storage, found the way Google's client libraries
 * find them: an explicit credentials file (`--gcp-key-path`), then Application Default
 * Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, the gcloud ADC file, the GCE metadata
 * server).
 *
 * A service-account key becomes a JWT signed with RS256 and exchanged at the key's `token_uri`
 * (RFC 7523); an `authorized_user` file (what `gcloud auth application-default login` writes)
 * is exchanged with the refresh-token grant; on Compute Engine the metadata server hands out
 * tokens. Tokens are cached until shortly before they expire and shared by concurrent requests.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { AerobakError } from "../../errors.ts";
import { type RequestRetryPolicy, withRetry } from "../object_store.ts";
import { errorMessage, stripQuery } from "./_http.ts";

/** The OAuth scope the store asks for: read, create and delete objects, nothing more. */
export const GCS_READ_WRITE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";

/** Google's OAuth token endpoint, used when a credentials file names none. */
export const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";

/** The GCE metadata server's link-local address (`GCE_METADATA_HOST` overrides it). */
const METADATA_HOST = "169.254.169.254";

/** How long the metadata server gets to answer: off Compute Engine nothing answers at all. */
const METADATA_TIMEOUT_MS = 3000;

/** A token is renewed this long before it expires, so no request carries a dying token. */
const REFRESH_MARGIN_MS = 60_000;

/** Backdates `iat` so a token endpoint whose clock is a little behind still accepts the JWT. */
const CLOCK_SKEW_S = 10;

/** Options of {@linkcode GcsCredentials}. */
export interface GcsCredentialsOptions {
  /**
   * A credentials file: a service-account key or an `authorized_user` file (`--gcp-key-path`).
   * Empty means Application Default Credentials.
   * @default {""}
   */
  keyPath?: string;
  /**
   * Environment variables consulted: `GOOGLE_APPLICATION_CREDENTIALS`, `CLOUDSDK_CONFIG`,
   * `HOME` (`APPDATA` on Windows), `GCE_METADATA_HOST`, `GOOGLE_CLOUD_QUOTA_PROJECT`.
   * @default {{}}
   */
  env?: Readonly<Record<string, string>>;
  /** Reads a credentials file. @default {Deno.readTextFile} */
  readTextFile?: (path: string) => Promise<string>;
  /** The clock, in ms since the epoch. @default {Date.now} */
  now?: () => number;
  /** Time limit of one token request in ms (0 = none). @default {600000} */
  requestTimeoutMs?: number;
  /** Retries of token requests that fail with 5xx, 429 or a network error. @default {{}} (withRetry's defaults) */
  retry?: RequestRetryPolicy;
  /** OAuth scope requested. @default {GCS_READ_WRITE_SCOPE} */
  scope?: string;
}

/** Where tokens come from, once the credentials are found. */
type Source =
  | {
    kind: "service_account";
    origin: string;
    email: string;
    key: KeyObject;
    keyId?: string;
    tokenUri: string;
    quotaProject?: string;
  }
  | {
    kind: "authorized_user";
    origin: string;
    clientId: string;
    clientSecret: string;
    refreshToken: string;
    tokenUri: string;
    quotaProject?: string;
  }
  | { kind: "metadata"; origin: string; host: string };

interface Token {
  value: string;
  expiresAt: number;
}

/**
 * Signs a JWS in compact form with RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7515).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPairSync, verify } from "node:crypto";
 * import { signJwtRs256 } from "./gcs_auth.ts";
 * const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
 * const jwt = signJwtRs256('{"alg":"RS256"}', '{"iss":"me"}', privateKey);
 * const [h, p, s] = jwt.split(".");
 * assert.ok(verify("sha256", new TextEncoder().encode(`${h}.${p}`), publicKey, Buffer.from(s, "base64url")));
 * ```
 *
 * @param header The protected header, as JSON text.
 * @param payload The claims, as JSON text.
 * @param key The RSA private key.
 * @returns `base64url(header).base64url(payload).base64url(signature)`.
 */
export function signJwtRs256(header: string, payload: string, key: KeyObject): string {
  const input = `${Buffer.from(header).toString("base64url")}.${
    Buffer.from(payload).toString("base64url")
  }`;
  const signature = sign("sha256", Buffer.from(input), key);
  return `${input}.${signature.toString("base64url")}`;
}

/**
 * Finds Google credentials and hands out access tokens for them.
 *
 * @example
 * ```ts ignore
 * const creds = new GcsCredentials({ keyPath: "/secrets/sa.json" });
 * const headers = await creds.headers(); // { authorization: "Bearer ya29…" }
 * ```
 */
export class GcsCredentials {
  #keyPath: string;
  #env: Readonly<Record<string, string>>;
  #readTextFile: (path: string) => Promise<string>;
  #now: () => number;
  #timeoutMs: number;
  #retry: RequestRetryPolicy;
  #scope: string;
  #source?: Source;
  #token?: Token;
  #pending?: Promise<Token>;

  /**
   * Creates the credentials; nothing is read or fetched until the first {@linkcode headers}.
   *
   * @param options Key file, environment, clock, limits.
   */
  constructor(options: GcsCredentialsOptions = {}) {
    this.#keyPath = options.keyPath ?? "";
    this.#env = { ...options.env };
    this.#readTextFile = options.readTextFile ?? Deno.readTextFile;
    this.#now = options.now ?? Date.now;
    this.#timeoutMs = options.requestTimeoutMs ?? 600000;
    this.#retry = { ...options.retry };
    this.#scope = options.scope ?? GCS_READ_WRITE_SCOPE;
  }

  /**
   * The headers that authorise a storage request: a bearer token (fetched or renewed when
   * needed) and the quota project when the credentials name one.
   *
   * @returns Header names (lower case) and values.
   * @throws {AerobakError} `STORAGE_AUTH` when no credentials are found or the token endpoint
   *   refuses them.
   */
  async headers(): Promise<Record<string, string>> {
    const token = await this.#currentToken();
    const out: Record<string, string> = { authorization: `Bearer ${token.value}` };
    const source = this.#source;
    const quota = this.#env.GOOGLE_CLOUD_QUOTA_PROJECT ||
      (source?.kind === "metadata" ? undefined : source?.quotaProject);
    if (quota) out["x-goog-user-project"] = quota;
    return out;
  }

  /** Forgets the cached token, so the next request fetches a new one (after a 401). */
  invalidate(): void {
    this.#token = undefined;
  }

  /**
   * Names the credentials in use, for messages (never a secret).
   *
   * @returns For example `service account backup@p.iam.gserviceaccount.com (key file /k.json)`.
   */
  async describe(): Promise<string> {
    const source = await this.#resolve();
    return describeSource(source);
  }

  #currentToken(): Promise<Token> {
    const t = this.#token;
    if (t !== undefined && this.#now() < t.expiresAt - REFRESH_MARGIN_MS) return Promise.resolve(t);
    // Concurrent requests share one token request.
    this.#pending ??= this.#fetchToken().then((token) => {
      this.#token = token;
      return token;
    }).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetchToken(): Promise<Token> {
    const source = await this.#resolve();
    return await withRetry(() => this.#requestToken(source), this.#retry);
  }

  /** Finds the credentials once; a failure is not remembered, so a fixed file is picked up. */
  async #resolve(): Promise<Source> {
    if (this.#source !== undefined) return this.#source;
    this.#source = await this.#find();
    return this.#source;
  }

  async #find(): Promise<Source> {
    if (this.#keyPath !== "") {
      return await this.#readCredentialsFile(
        this.#keyPath,
        `key file ${this.#keyPath}`,
        false,
      ) as Source;
    }
    const envPath = this.#env.GOOGLE_APPLICATION_CREDENTIALS;
    if (envPath) {
      return await this.#readCredentialsFile(
        envPath,
        `GOOGLE_APPLICATION_CREDENTIALS file ${envPath}`,
        false,
      ) as Source;
    }
    const adc = this.#wellKnownFile();
    if (adc !== undefined) {
      const found = await this.#readCredentialsFile(adc, `gcloud ADC file ${adc}`, true);
      if (found !== undefined) return found;
    }
    const host = this.#env.GCE_METADATA_HOST || METADATA_HOST;
    return {
      kind: "metadata",
      host,
      origin: `no credentials file (no --gcp-key-path, no GOOGLE_APPLICATION_CREDENTIALS, ${
        adc === undefined ? "no HOME for the gcloud ADC file" : `no ${adc}`
      })`,
    };
  }

  /** The file `gcloud auth application-default login` writes. */
  #wellKnownFile(): string | undefined {
    const name = "application_default_credentials.json";
    const env = this.#env;
    if (env.CLOUDSDK_CONFIG) return `${env.CLOUDSDK_CONFIG}/${name}`;
    if (Deno.build.os === "windows") {
      return env.APPDATA ? `${env.APPDATA}\\gcloud\\${name}` : undefined;
    }
    return env.HOME ? `${env.HOME}/.config/gcloud/${name}` : undefined;
  }

  async #readCredentialsFile(
    path: string,
    origin: string,
    optional: boolean,
  ): Promise<Source | undefined> {
    let text: string;
    try {
      text = await this.#readTextFile(path);
    } catch (err) {
      if (optional && isNotFound(err)) return undefined;
      throw authError(`Cannot read the Google credentials in ${origin}: ${errorMessage(err)}`, err);
    }
    return parseCredentials(text, origin);
  }

  async #requestToken(source: Source): Promise<Token> {
    const now = this.#now();
    let url: string;
    let init: RequestInit;
    if (source.kind === "metadata") {
      url =
        `http://${source.host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${
          encodeURIComponent(this.#scope)
        }`;
      init = { headers: { "metadata-flavor": "Google" } };
    } else {
      url = source.tokenUri;
      const form: Record<string, string> = source.kind === "service_account"
        ? {
          grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
          assertion: this.#assertion(source, now),
        }
        : {
          grant_type: "refresh_token",
          client_id: source.clientId,
          client_secret: source.clientSecret,
          refresh_token: source.refreshToken,
        };
      init = {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      };
    }
    const limit = source.kind === "metadata"
      ? METADATA_TIMEOUT_MS
      : this.#timeoutMs > 0
      ? this.#timeoutMs
      : undefined;
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        redirect: "manual",
        signal: limit === undefined ? undefined : AbortSignal.timeout(limit),
      });
    } catch (err) {
      if (source.kind === "metadata") {
        throw authError(
          `Cannot find Google credentials: ${source.origin}, and the GCE metadata server at ${source.host} did not answer (${
            errorMessage(err)
          }); pass --gcp-key-path or set GOOGLE_APPLICATION_CREDENTIALS`,
          err,
        );
      }
      throw authError(
        `Cannot get a Google access token from ${url} for ${describeSource(source)}: ${
          errorMessage(err)
        }`,
        err,
        true,
      );
    }
    const text = await res.text();
    if (res.status !== 200) {
      const retriable = res.status === 408 || res.status === 429 || res.status >= 500;
      throw authError(
        `Cannot get a Google access token from ${stripQuery(url)} for ${
          describeSource(source)
        }: ${res.status} ${tokenErrorText(text)}`,
        undefined,
        retriable,
      );
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      body = {};
    }
    if (typeof body.access_token !== "string" || body.access_token === "") {
      throw authError(
        `Cannot get a Google access token from ${
          stripQuery(url)
        }: the answer holds no access_token`,
      );
    }
    const lifetime = typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : 3600;
    return { value: body.access_token, expiresAt: now + lifetime * 1000 };
  }

  /** The signed JWT a service account presents to the token endpoint (RFC 7523 §2.1). */
  #assertion(source: Extract<Source, { kind: "service_account" }>, nowMs: number): string {
    const iat = Math.floor(nowMs / 1000) - CLOCK_SKEW_S;
    const header = JSON.stringify(
      source.keyId ? { alg: "RS256", typ: "JWT", kid: source.keyId } : { alg: "RS256", typ: "JWT" },
    );
    const claims = JSON.stringify({
      iss: source.email,
      scope: this.#scope,
      aud: source.tokenUri,
      iat,
      exp: iat + 3600,
    });
    return signJwtRs256(header, claims, source.key);
  }
}

/** Reads a credentials JSON file into a token source; the message never quotes a secret. */
function parseCredentials(text: string, origin: string): Source {
  let json: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
    json = parsed;
  } catch {
    throw authError(`Cannot use the Google credentials in ${origin}: expected a JSON object`);
  }
  const field = (name: string): string => {
    const v = json[name];
    if (typeof v !== "string" || v === "") {
      throw authError(
        `Cannot use the Google credentials in ${origin}: "${name}" is missing (type "${json.type}")`,
      );
    }
    return v;
  };
  const optional = (name: string): string | undefined => {
    const v = json[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  switch (json.type) {
    case "service_account": {
      let key: KeyObject;
      try {
        key = createPrivateKey(field("private_key"));
      } catch (err) {
        if (err instanceof AerobakError) throw err;
        throw authError(
          `Cannot use the Google credentials in ${origin}: "private_key" is not a PEM private key`,
          err,
        );
      }
      if (key.asymmetricKeyType !== "rsa") {
        throw authError(
          `Cannot use the Google credentials in ${origin}: "private_key" is a ${key.asymmetricKeyType} key, expected RSA`,
        );
      }
      return {
        kind: "service_account",
        origin,
        email: field("client_email"),
        key,
        keyId: optional("private_key_id"),
        tokenUri: optional("token_uri") ?? GOOGLE_TOKEN_URI,
        quotaProject: optional("quota_project_id"),
      };
    }
    case "authorized_user":
      return {
        kind: "authorized_user",
        origin,
        clientId: field("client_id"),
        clientSecret: field("client_secret"),
        refreshToken: field("refresh_token"),
        tokenUri: optional("token_uri") ?? GOOGLE_TOKEN_URI,
        quotaProject: optional("quota_project_id"),
      };
    default:
      throw authError(
        `Cannot use the Google credentials in ${origin}: type "${
          String(json.type)
        }" is not supported (expected "service_account" or "authorized_user")`,
      );
  }
}

function describeSource(source: Source): string {
  switch (source.kind) {
    case "service_account":
      return `service account ${source.email} (${source.origin})`;
    case "authorized_user":
      return `user credentials (${source.origin})`;
    case "metadata":
      return `the GCE metadata server at ${source.host}`;
  }
}

/** `error: error_description` of an OAuth error answer, or the start of whatever came back. */
function tokenErrorText(text: string): string {
  try {
    const body = JSON.parse(text);
    if (typeof body?.error === "string") {
      return body.error_description ? `${body.error}: ${body.error_description}` : body.error;
    }
    if (typeof body?.error?.message === "string") return body.error.message;
  } catch {
    // Not JSON: quote the start of the text below.
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function authError(message: string, cause?: unknown, retriable = false): AerobakError {
  return new AerobakError("STORAGE_AUTH", message, { cause, retriable });
}

function isNotFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err as { code?: string } | null)?.code === "ENOENT";
}
