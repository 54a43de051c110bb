/**
 * An in-process fake of the parts of Google Cloud Storage and Google OAuth that
 * {@linkcode GcsStore} and Google's own client use, for tests: the JSON API (list, object
 * metadata, media download with Range, media, multipart and resumable uploads, delete), the
 * OAuth token endpoint and the GCE metadata server.
 *
 * Authentication is checked independently of the client: a service account's JWT must carry
 * a valid RS256 signature for the test's public key and the expected claims (`iss`, `scope`,
 * `aud` = the token URI, `iat`/`exp`), a refresh-token grant must name the configured client
 * and refresh token, and every storage call must then carry a token this server issued and
 * that has not expired (401 otherwise). Uploads are checked as Cloud Storage checks them
 * (256 KiB chunks, contiguous ranges, `x-goog-hash` CRC32C). Faults can be injected.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type KeyObject, randomBytes, verify } from "node:crypto";
import { concatBytes } from "../../_test_utils.ts";
import { crc32c, crc32cBase64 } from "./gcs_crc32c.ts";

/**
 * A service-account key file (JSON) whose JWTs a fake server started with the key's public
 * half accepts.
 *
 * @param tokenUri The fake's token endpoint.
 * @param privateKey The private key of the pair.
 * @param clientEmail The service account. @default "backup@test-project.iam.gserviceaccount.com"
 * @returns The file's text.
 */
export function serviceAccountKeyFile(
  tokenUri: string,
  privateKey: KeyObject,
  clientEmail = "backup@test-project.iam.gserviceaccount.com",
): string {
  return JSON.stringify({
    type: "service_account",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: clientEmail,
    token_uri: tokenUri,
  });
}

const CHUNK = 256 * 1024;

/** Options of {@linkcode startGcsTestServer}. */
export interface GcsTestServerOptions {
  /** The one bucket that exists. @default {"test-bucket"} */
  bucket?: string;
  /** Public key that service-account JWTs must verify with (enables the JWT grant). */
  publicKey?: KeyObject;
  /** The service account (`iss` of its JWTs). @default {"backup@test-project.iam.gserviceaccount.com"} */
  clientEmail?: string;
  /** Accepted refresh-token grant (an `authorized_user` credentials file). */
  authorizedUser?: { clientId: string; clientSecret: string; refreshToken: string };
  /** Serve tokens as the GCE metadata server does. @default {false} */
  metadata?: boolean;
  /** Storage calls need a token issued here. @default {true when any way to get one is set} */
  requireAuth?: boolean;
  /** Lifetime of issued tokens in seconds. @default {3600} */
  tokenLifetimeS?: number;
  /** The clock, in ms (JWT times and token expiry). @default {Date.now} */
  now?: () => number;
  /** Most entries (objects and prefixes) in one list page. @default {1000} */
  pageSize?: number;
}

/** Faults to inject; each counter is used up one request at a time. */
export interface GcsFaults {
  /** Storage requests to let through before failing (see `failCount`). */
  failAfter: number;
  /** Storage requests that then answer `failStatus`. */
  failCount: number;
  /** Status of injected failures. @default {503} */
  failStatus: number;
  /** Downloads that drop the connection after `cutAfterBytes` body bytes. */
  cutCount: number;
  /** Body bytes sent before a cut download drops. */
  cutAfterBytes: number;
  /** Upload chunks (not the last) of which the server keeps one 256 KiB unit less than sent. */
  shortPersistCount: number;
  /** Upload chunks that are stored but answered with 503, as if the answer were lost. */
  loseAnswerCount: number;
  /** Finished uploads whose object resource reports a wrong crc32c. */
  misreportCrcCount: number;
  /** Finished uploads whose data get one byte flipped before storing. */
  corruptCount: number;
  /** Token requests that answer 503. */
  tokenFailCount: number;
}

/** A request the fake received. */
export interface GcsRecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path, as sent (still percent-encoded). */
  path: string;
  /** Query parameters. */
  query: URLSearchParams;
  /** Request headers. */
  headers: Headers;
}

/** A running fake. */
export interface GcsTestServer {
  /** Endpoint to pass as `endpoint` (`http://127.0.0.1:port`). */
  url: string;
  /** The OAuth token endpoint (`token_uri` of test credentials files). */
  tokenUri: string;
  /** `host:port` to set as `GCE_METADATA_HOST`. */
  metadataHost: string;
  /** Objects of the bucket, by name. */
  objects: Map<string, Uint8Array>;
  /** Every request received, in order. */
  requests: GcsRecordedRequest[];
  /** Faults to inject. */
  faults: GcsFaults;
  /** Tokens issued so far. */
  tokensIssued(): number;
  /** Resumable upload sessions neither finished nor cancelled. */
  openSessions(): number;
  /** Makes every token issued so far invalid (as a revoked token is). */
  revokeTokens(): void;
  /** Stops the server. */
  close(): Promise<void>;
  /** Stops the server (`await using`). */
  [Symbol.asyncDispose](): Promise<void>;
}

interface Session {
  name: string;
  data: Uint8Array[];
  size: number;
}

/**
 * Starts the fake on a free port of 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * await using gcs = await startGcsTestServer({ publicKey });
 * const store = new GcsStore({ bucket: "test-bucket", endpoint: gcs.url, keyPath: "/k.json" });
 * ```
 *
 * @param options Bucket, accepted credentials, clock, page size.
 * @returns The running server.
 */
export function startGcsTestServer(options: GcsTestServerOptions = {}): Promise<GcsTestServer> {
  const bucket = options.bucket ?? "test-bucket";
  const email = options.clientEmail ?? "backup@test-project.iam.gserviceaccount.com";
  const now = options.now ?? Date.now;
  const lifetime = options.tokenLifetimeS ?? 3600;
  const pageSize = options.pageSize ?? 1000;
  const requireAuth = options.requireAuth ??
    (options.publicKey !== undefined || options.authorizedUser !== undefined ||
      options.metadata === true);
  const objects = new Map<string, Uint8Array>();
  const generations = new Map<string, number>();
  let nextGeneration = 1_700_000_000_000_000;
  const sessions = new Map<string, Session>();
  const tokens = new Map<string, number>();
  let issued = 0;
  const requests: GcsRecordedRequest[] = [];
  const faults: GcsFaults = {
    failAfter: 0,
    failCount: 0,
    failStatus: 503,
    cutCount: 0,
    cutAfterBytes: 0,
    shortPersistCount: 0,
    loseAnswerCount: 0,
    misreportCrcCount: 0,
    corruptCount: 0,
    tokenFailCount: 0,
  };
  let base = "";

  function issue(): Response {
    if (faults.tokenFailCount > 0) {
      faults.tokenFailCount--;
      return Response.json({ error: "internal_failure" }, { status: 503 });
    }
    const token = `ya29.fake-${randomBytes(12).toString("hex")}`;
    tokens.set(token, now() + lifetime * 1000);
    issued++;
    return Response.json({ access_token: token, expires_in: lifetime, token_type: "Bearer" });
  }

  async function tokenEndpoint(req: Request): Promise<Response> {
    const form = new URLSearchParams(await req.text());
    const grant = form.get("grant_type");
    if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer" && options.publicKey) {
      const problem = checkJwt(form.get("assertion") ?? "", options.publicKey, {
        email,
        audience: `${base}/token`,
        nowS: now() / 1000,
      });
      if (problem !== undefined) {
        return Response.json({ error: "invalid_grant", error_description: problem }, {
          status: 400,
        });
      }
      return issue();
    }
    const user = options.authorizedUser;
    if (grant === "refresh_token" && user) {
      if (
        form.get("client_id") !== user.clientId || form.get("client_secret") !== user.clientSecret
      ) {
        return Response.json({ error: "invalid_client", error_description: "Unauthorized" }, {
          status: 401,
        });
      }
      if (form.get("refresh_token") !== user.refreshToken) {
        return Response.json({ error: "invalid_grant", error_description: "Bad Request" }, {
          status: 400,
        });
      }
      return issue();
    }
    return Response.json({ error: "unsupported_grant_type", error_description: `${grant}` }, {
      status: 400,
    });
  }

  function authorised(req: Request): boolean {
    if (!requireAuth) return true;
    const m = /^Bearer (\S+)$/.exec(req.headers.get("authorization") ?? "");
    const expiry = m === null ? undefined : tokens.get(m[1]);
    return expiry !== undefined && now() < expiry;
  }

  function resource(name: string): Record<string, string> {
    const data = objects.get(name) ?? new Uint8Array(0);
    return {
      kind: "storage#object",
      bucket,
      name,
      size: String(data.length),
      generation: String(generations.get(name) ?? 1),
      crc32c: crc32cBase64(crc32c(data)),
      contentType: "application/octet-stream",
    };
  }

  /** Stores a finished upload as Cloud Storage does: hash check, new generation. */
  function finish(name: string, data: Uint8Array, hashHeader: string | null): Response {
    if (faults.corruptCount > 0 && data.length > 0) {
      faults.corruptCount--;
      data = data.slice();
      data[data.length >> 1] ^= 0x01;
    }
    const crc = crc32cBase64(crc32c(data));
    const sent = /(?:^|,)\s*crc32c=([^,\s]+)/.exec(hashHeader ?? "")?.[1];
    if (sent !== undefined && sent !== crc) {
      return gcsError(
        400,
        `Provided CRC32C "${sent}" doesn't match calculated CRC32C "${crc}".`,
        "invalid",
      );
    }
    objects.set(name, data);
    generations.set(name, nextGeneration++);
    const body = resource(name);
    if (faults.misreportCrcCount > 0) {
      faults.misreportCrcCount--;
      body.crc32c = crc32cBase64(crc32c(data) ^ 1);
    }
    return Response.json(body);
  }

  function list(q: URLSearchParams): Response {
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const max = Math.min(pageSize, Number(q.get("maxResults") ?? pageSize));
    const entries: Array<{ name: string; prefix: boolean }> = [];
    const seen = new Set<string>();
    for (const name of [...objects.keys()].sort()) {
      if (!name.startsWith(prefix)) continue;
      const cut = delimiter === "" ? -1 : name.indexOf(delimiter, prefix.length);
      if (cut < 0) {
        entries.push({ name, prefix: false });
      } else {
        const p = name.slice(0, cut + delimiter.length);
        if (!seen.has(p)) entries.push({ name: p, prefix: true });
        seen.add(p);
      }
    }
    const start = q.has("pageToken") ? Number(atob(q.get("pageToken")!)) : 0;
    const page = entries.slice(start, start + max);
    const body: Record<string, unknown> = { kind: "storage#objects" };
    const items = page.filter((e) => !e.prefix).map((e) => resource(e.name));
    const prefixes = page.filter((e) => e.prefix).map((e) => e.name);
    if (items.length > 0) body.items = items;
    if (prefixes.length > 0) body.prefixes = prefixes;
    if (start + max < entries.length) body.nextPageToken = btoa(String(start + max));
    return Response.json(body);
  }

  function download(name: string, q: URLSearchParams, req: Request): Response {
    const data = objects.get(name);
    const gen = String(generations.get(name) ?? 1);
    if (data === undefined || (q.has("generation") && q.get("generation") !== gen)) {
      return gcsError(404, `No such object: ${bucket}/${name}`, "notFound");
    }
    let start = 0;
    const range = req.headers.get("range");
    if (range !== null) {
      const m = /^bytes=(\d+)-$/.exec(range);
      if (m === null) return gcsError(400, `Unsupported Range "${range}"`, "invalid");
      start = Number(m[1]);
      if (start >= data.length) {
        return gcsError(
          416,
          "The requested range cannot be satisfied.",
          "requestedRangeNotSatisfiable",
        );
      }
    }
    const headers = new Headers({
      "content-type": "application/octet-stream",
      "content-length": String(data.length - start),
      "x-goog-generation": gen,
      "x-goog-hash": `crc32c=${crc32cBase64(crc32c(data))}`,
    });
    if (range !== null) {
      headers.set("content-range", `bytes ${start}-${data.length - 1}/${data.length}`);
    }
    let end = data.length;
    if (faults.cutCount > 0) {
      faults.cutCount--;
      end = Math.min(end, start + faults.cutAfterBytes);
    }
    let pos = start;
    // Closing early under a larger Content-Length drops the connection mid-body.
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pos >= end) return c.close();
        const n = Math.min(64 * 1024, end - pos);
        c.enqueue(data.slice(pos, pos + n));
        pos += n;
      },
    });
    return new Response(body, { status: range !== null ? 206 : 200, headers });
  }

  async function chunk(req: Request, id: string): Promise<Response> {
    const session = sessions.get(id);
    if (session === undefined) return gcsError(404, "No such upload session", "notFound");
    const body = new Uint8Array(await req.arrayBuffer());
    const cr = req.headers.get("content-range") ?? "";
    const status = /^bytes \*\/(\*|\d+)$/.exec(cr);
    if (status !== null) {
      if (body.length !== 0) return gcsError(400, "A status query has no body", "invalid");
      if (status[1] !== "*" && Number(status[1]) === session.size) {
        return finishSession(id, session, req.headers.get("x-goog-hash"));
      }
      return incomplete(session);
    }
    // `bytes N-*/…` (Google's clients stream an upload of unknown size so): the body is the
    // rest of the object, which is complete when the request ends.
    const rest = /^bytes (\d+)-\*\/(\*|\d+)$/.exec(cr);
    const m = rest === null ? /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(cr) : null;
    if (rest === null && m === null) {
      return gcsError(400, `Bad Content-Range "${cr}"`, "invalid");
    }
    const from = Number((rest ?? m!)[1]);
    const to = rest === null ? Number(m![2]) : from + body.length - 1;
    const totalText = rest === null ? m![3] : rest[2];
    const total = totalText === "*"
      ? (rest === null ? undefined : from + body.length)
      : Number(totalText);
    if (to - from + 1 !== body.length) {
      return gcsError(
        400,
        `Content-Range ${cr} does not match a body of ${body.length} bytes`,
        "invalid",
      );
    }
    if (from > session.size) {
      return gcsError(
        400,
        `Chunk starts at ${from} but only ${session.size} bytes are stored`,
        "invalid",
      );
    }
    if (total === undefined && body.length % CHUNK !== 0) {
      return gcsError(400, `Chunk of ${body.length} bytes is not a multiple of 262144`, "invalid");
    }
    if (total !== undefined && to + 1 !== total) {
      return gcsError(400, `Last chunk ends at ${to}, not at the total ${total}`, "invalid");
    }
    // Bytes the session already holds are skipped, as Cloud Storage does.
    let fresh = body.subarray(session.size - from);
    const shorten = total === undefined && faults.shortPersistCount > 0 && fresh.length > CHUNK;
    if (shorten) {
      faults.shortPersistCount--;
      fresh = fresh.subarray(0, fresh.length - CHUNK);
    }
    session.data.push(fresh.slice());
    session.size += fresh.length;
    let answer = total !== undefined && session.size === total
      ? finishSession(id, session, req.headers.get("x-goog-hash"))
      : incomplete(session);
    // One fault per chunk, so a test can order them.
    if (!shorten && faults.loseAnswerCount > 0) {
      faults.loseAnswerCount--;
      answer = gcsError(503, "Service Unavailable (answer lost)", "backendError");
    }
    return answer;
  }

  function incomplete(session: Session): Response {
    const headers = new Headers();
    if (session.size > 0) headers.set("range", `bytes=0-${session.size - 1}`);
    return new Response(null, { status: 308, headers });
  }

  function finishSession(id: string, session: Session, hash: string | null): Response {
    sessions.delete(id);
    return finish(session.name, concatBytes(session.data), hash);
  }

  async function storage(req: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const q = url.searchParams;
    const json = `/storage/v1/b/${encodeURIComponent(bucket)}/o`;
    const upload = `/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`;
    const isSession = path === upload && q.has("upload_id");
    if (!isSession && !authorised(req)) {
      return gcsError(401, "Invalid Credentials", "authError", {
        "www-authenticate": 'Bearer realm="https://accounts.google.com/"',
      });
    }
    if (faults.failAfter > 0) {
      faults.failAfter--;
    } else if (faults.failCount > 0) {
      faults.failCount--;
      return gcsError(
        faults.failStatus,
        "We encountered an internal error. Please try again.",
        "backendError",
      );
    }
    if (!path.startsWith(json) && !path.startsWith(upload)) {
      return gcsError(404, "The specified bucket does not exist.", "notFound");
    }
    if (req.method === "GET" && path === json) return list(q);
    if (req.method === "GET" && path.startsWith(`${json}/`) && q.get("alt") === "media") {
      return download(decodeURIComponent(path.slice(json.length + 1)), q, req);
    }
    if (req.method === "GET" && path.startsWith(`${json}/`)) {
      const name = decodeURIComponent(path.slice(json.length + 1));
      if (!objects.has(name)) return gcsError(404, `No such object: ${bucket}/${name}`, "notFound");
      return Response.json(resource(name));
    }
    if (req.method === "DELETE" && path.startsWith(`${json}/`)) {
      const name = decodeURIComponent(path.slice(json.length + 1));
      if (!objects.delete(name)) {
        return gcsError(404, `No such object: ${bucket}/${name}`, "notFound");
      }
      generations.delete(name);
      return new Response(null, { status: 204 });
    }
    if (req.method === "POST" && path === upload && q.get("uploadType") === "media") {
      const name = q.get("name");
      if (!name) return gcsError(400, "Required parameter: name", "required");
      return finish(name, new Uint8Array(await req.arrayBuffer()), req.headers.get("x-goog-hash"));
    }
    if (req.method === "POST" && path === upload && q.get("uploadType") === "multipart") {
      const parsed = multipartRelated(
        req.headers.get("content-type") ?? "",
        new Uint8Array(await req.arrayBuffer()),
      );
      if (typeof parsed === "string") return gcsError(400, parsed, "invalid");
      const name = q.get("name") ?? parsed.metadata.name;
      if (typeof name !== "string" || name === "") {
        return gcsError(400, "Required parameter: name", "required");
      }
      const hash = typeof parsed.metadata.crc32c === "string"
        ? `crc32c=${parsed.metadata.crc32c}`
        : req.headers.get("x-goog-hash");
      return finish(name, parsed.media, hash);
    }
    if (req.method === "POST" && path === upload && q.get("uploadType") === "resumable") {
      const name = q.get("name");
      if (!name) return gcsError(400, "Required parameter: name", "required");
      await req.body?.cancel();
      const id = randomBytes(16).toString("hex");
      sessions.set(id, { name, data: [], size: 0 });
      // The session URI names the host the client asked, as Cloud Storage's does (a proxy
      // in front of the fake stays in the path of the chunks).
      const location = `http://${
        req.headers.get("host") ?? base.slice(7)
      }${upload}?${new URLSearchParams({
        uploadType: "resumable",
        name,
        upload_id: id,
      })}`;
      return new Response(null, { status: 200, headers: { location } });
    }
    if (isSession && req.method === "PUT") return await chunk(req, q.get("upload_id")!);
    if (isSession && req.method === "DELETE") {
      if (!sessions.delete(q.get("upload_id")!)) {
        return gcsError(404, "No such upload session", "notFound");
      }
      return new Response(null, { status: 499 });
    }
    return gcsError(400, `Unsupported request ${req.method} ${path}`, "invalid");
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    requests.push({
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
    });
    if (url.pathname === "/token" && req.method === "POST") return await tokenEndpoint(req);
    if (url.pathname === "/computeMetadata/v1/instance/service-accounts/default/token") {
      if (!options.metadata) return new Response("not found", { status: 404 });
      if (req.headers.get("metadata-flavor") !== "Google") {
        return new Response("Missing Metadata-Flavor:Google header.", { status: 403 });
      }
      return issue();
    }
    try {
      return await storage(req, url);
    } catch (err) {
      // A client that went away mid-request (a killed backup) leaves a body that cannot be
      // read: nobody waits for the answer.
      if (err instanceof Deno.errors.BadResource || req.signal.aborted) {
        return new Response(null, { status: 499 });
      }
      throw err;
    }
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const port = server.addr.port;
  base = `http://127.0.0.1:${port}`;
  const close = async () => {
    await server.shutdown();
  };
  return Promise.resolve({
    url: base,
    tokenUri: `${base}/token`,
    metadataHost: `127.0.0.1:${port}`,
    objects,
    requests,
    faults,
    tokensIssued: () => issued,
    openSessions: () => sessions.size,
    revokeTokens: () => tokens.clear(),
    close,
    [Symbol.asyncDispose]: close,
  });
}

/** Checks a service account's JWT; returns what is wrong, or `undefined`. */
function checkJwt(
  jwt: string,
  publicKey: KeyObject,
  want: { email: string; audience: string; nowS: number },
): string | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return "Invalid JWT: expected three parts";
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  } catch {
    return "Invalid JWT: header or claims are not JSON";
  }
  if (header.alg !== "RS256") return `Invalid JWT: alg ${header.alg}`;
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  if (!verify("sha256", signed, publicKey, Buffer.from(parts[2], "base64url"))) {
    return "Invalid JWT Signature.";
  }
  if (claims.iss !== want.email) return `Invalid JWT: iss ${claims.iss}`;
  if (claims.aud !== want.audience) return `Invalid JWT: aud ${claims.aud}`;
  const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
  if (!scopes.some((s) => /devstorage\.(read_write|full_control)$|cloud-platform$/.test(s))) {
    return `Invalid JWT: scope ${claims.scope} does not allow storage writes`;
  }
  const iat = claims.iat;
  const exp = claims.exp;
  if (typeof iat !== "number" || typeof exp !== "number") return "Invalid JWT: no iat/exp";
  if (exp - iat > 3600) return "Invalid JWT: exp is more than an hour after iat";
  if (iat > want.nowS + 60) {
    return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe";
  }
  if (exp <= want.nowS) return "Invalid JWT: Token must be a short-lived token (expired)";
  return undefined;
}

/**
 * The metadata (JSON) and media parts of a `multipart/related` upload body, or what is wrong
 * with it.
 */
function multipartRelated(
  contentType: string,
  body: Uint8Array,
): { metadata: Record<string, unknown>; media: Uint8Array } | string {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!/^multipart\/related/i.test(contentType) || boundary === undefined) {
    return `Expected a multipart/related body, got "${contentType}"`;
  }
  // Latin-1 keeps one character per byte, so text offsets are byte offsets.
  const text = Buffer.from(body).toString("latin1");
  const parts: Uint8Array[] = [];
  const delimiter = `--${boundary}`;
  let at = text.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (text.startsWith("--", start)) break;
    const next = text.indexOf(`\r\n${delimiter}`, start);
    if (next < 0) return "The multipart body has no closing boundary";
    const head = text.indexOf("\r\n\r\n", start);
    if (head < 0 || head > next) return "A part of the multipart body has no headers";
    parts.push(body.subarray(head + 4, next));
    at = next + 2;
  }
  if (parts.length !== 2) return `Expected 2 parts (metadata, media), got ${parts.length}`;
  let metadata: Record<string, unknown>;
  try {
    metadata = JSON.parse(new TextDecoder().decode(parts[0]));
  } catch {
    return "The metadata part is not JSON";
  }
  return { metadata, media: parts[1] };
}

/** A JSON API error answer. */
function gcsError(
  status: number,
  message: string,
  reason: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json(
    { error: { code: status, message, errors: [{ message, domain: "global", reason }] } },
    { status, headers },
  );
}
