/**
 * AWS Signature Version 4 (header authentication) for S3 requests.
 *
 * The canonical request is built from what goes on the wire (the URL's encoded path, its
 * query string, the header values), so the same functions serve the client, which signs
 * what it is about to send, and the test server, which re-signs what it received. The
 * result is checked against AWS's published examples in `s3_signer_test.ts`.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";

/** An AWS access key. */
export interface AwsCredentials {
  /** Access key id (`AKIA…`). */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token of temporary credentials (sent as `x-amz-security-token`). */
  sessionToken?: string;
}

/** SHA-256 of the empty string, in hex: the payload hash of a request without a body. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * SHA-256 of bytes or a UTF-8 string, in lower-case hex.
 *
 * @param data The bytes.
 * @returns 64 hex digits.
 */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const UTF8 = new TextEncoder();

/**
 * Percent-encodes a string the way SigV4 wants: every byte but `A-Z a-z 0-9 - . _ ~` as
 * `%XX` with upper-case hex, and `/` too unless `keepSlash`.
 *
 * @param text The text.
 * @param keepSlash Leave `/` as is (object key paths).
 * @returns The encoded text.
 */
export function awsUriEncode(text: string, keepSlash = false): string {
  let out = "";
  for (const ch of text) {
    if (UNRESERVED.test(ch) || (keepSlash && ch === "/")) {
      out += ch;
      continue;
    }
    for (const b of UTF8.encode(ch)) {
      out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

/**
 * The `x-amz-date` form of a time: `20150830T123600Z`.
 *
 * @param date The time.
 * @returns The basic ISO 8601 form, UTC, whole seconds.
 */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * The canonical query string of a raw query (`a=1&b` without `?`): each name and value
 * decoded, encoded again the SigV4 way, sorted by name then value, a missing value empty.
 *
 * @param rawQuery The query as sent, without the leading `?`.
 * @returns The canonical form.
 */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === "") return "";
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    pairs.push([awsUriEncode(decodeQueryPart(name)), awsUriEncode(decodeQueryPart(value))]);
  }
  pairs.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The parts of a request that SigV4 signs. */
export interface CanonicalRequestInput {
  /** HTTP method, upper case. */
  method: string;
  /** The URL path as sent (already percent-encoded), `/` for none. */
  path: string;
  /** The query as sent, without `?`. */
  query: string;
  /** The headers to sign, by name (any case); values as sent. */
  headers: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
}

/**
 * Builds the canonical request (SigV4 task 1).
 *
 * @param input Method, path, query, headers to sign, payload hash.
 * @returns The canonical request text and the `SignedHeaders` list.
 */
export function canonicalRequest(
  input: CanonicalRequestInput,
): { text: string; signedHeaders: string } {
  const entries = input.headers instanceof Map
    ? [...input.headers]
    : Object.entries(input.headers as Record<string, string>);
  const headers = entries
    .map(([n, v]) => [n.toLowerCase(), v.trim().replace(/ +/g, " ")] as const)
    .sort((a, b) => compare(a[0], b[0]));
  const signedHeaders = headers.map(([n]) => n).join(";");
  const text = [
    input.method,
    input.path === "" ? "/" : input.path,
    canonicalQuery(input.query),
    headers.map(([n, v]) => `${n}:${v}\n`).join(""),
    signedHeaders,
    input.payloadHash,
  ].join("\n");
  return { text, signedHeaders };
}

/**
 * Computes the signature of a canonical request (SigV4 tasks 2 and 3).
 *
 * @param canonical The canonical request text.
 * @param secretAccessKey The secret key.
 * @param scope Time (`x-amz-date` form), region and service.
 * @returns 64 hex digits.
 */
export function sigV4Signature(
  canonical: string,
  secretAccessKey: string,
  scope: { amzDate: string; region: string; service: string },
): string {
  const day = scope.amzDate.slice(0, 8);
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    scope.amzDate,
    credentialScope,
    sha256Hex(canonical),
  ].join("\n");
  let key: Uint8Array = hmac(`AWS4${secretAccessKey}`, day);
  key = hmac(key, scope.region);
  key = hmac(key, scope.service);
  key = hmac(key, "aws4_request");
  return createHmac("sha256", key).update(stringToSign).digest("hex");
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

/** What {@linkcode signRequest} signs. */
export interface SignRequestInput {
  /** HTTP method. */
  method: string;
  /** The URL the request goes to (its encoded path and query are signed as they are). */
  url: URL;
  /** Headers to send and sign, besides `host`, `x-amz-date` and the session token. */
  headers?: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`. @default {EMPTY_SHA256} */
  payloadHash?: string;
  /** Region of the credential scope. */
  region: string;
  /** Service of the credential scope (`s3`). */
  service: string;
  /** The key to sign with. */
  credentials: AwsCredentials;
  /** Time of the request. */
  date: Date;
}

/** The headers a signed request must carry. */
export interface SignedRequest {
  /** Headers to send: the given ones plus `x-amz-date`, the token and `authorization`. */
  headers: Record<string, string>;
  /** The signature alone, in hex. */
  signature: string;
  /** The canonical request that was signed (for debugging a mismatch). */
  canonicalRequest: string;
}

/**
 * Signs a request with SigV4 header authentication. `host` is signed from the URL (fetch
 * sends it from the URL too).
 *
 * @example AWS's `get-vanilla` test
 * ```ts
 * import { signRequest } from "./s3_signer.ts";
 * const signed = signRequest({
 *   method: "GET",
 *   url: new URL("https://example.amazonaws.com/"),
 *   region: "us-east-1",
 *   service: "service",
 *   credentials: {
 *     accessKeyId: "AKIDEXAMPLE",
 *     secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
 *   },
 *   date: new Date("2015-08-30T12:36:00Z"),
 * });
 * console.assert(signed.signature.startsWith("5fa00fa3"));
 * ```
 *
 * @param input What to sign.
 * @returns The headers to send and the signature.
 */
export function signRequest(input: SignRequestInput): SignedRequest {
  const date = amzDate(input.date);
  const headers: Record<string, string> = { ...input.headers, "x-amz-date": date };
  if (input.credentials.sessionToken !== undefined && input.credentials.sessionToken !== "") {
    headers["x-amz-security-token"] = input.credentials.sessionToken;
  }
  const canonical = canonicalRequest({
    method: input.method,
    path: input.url.pathname,
    query: input.url.search.slice(1),
    headers: { ...headers, host: input.url.host },
    payloadHash: input.payloadHash ?? EMPTY_SHA256,
  });
  const signature = sigV4Signature(canonical.text, input.credentials.secretAccessKey, {
    amzDate: date,
    region: input.region,
    service: input.service,
  });
  const scope = `${date.slice(0, 8)}/${input.region}/${input.service}/aws4_request`;
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/` +
    `${scope}, SignedHeaders=${canonical.signedHeaders}, Signature=${signature}`;
  return { headers, signature, canonicalRequest: canonical.text };
}
