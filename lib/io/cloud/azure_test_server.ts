/**
 * An in-process fake of the Azure Blob service (one account, one container) and of the
 * Entra ID token endpoint, for tests of {@linkcode AzureBlobStore}. It checks what a real
 * account checks: Shared Key signatures are recomputed here from the request as received
 * (its own canonicalization, not the store's), bearer tokens must be ones it issued and not
 * expired, uploads are checked against `x-ms-content-crc64`, block IDs must have one length
 * per blob. Faults: failing requests, cut downloads, stalled answers, slow rehydration.
 *
 * @module
 */

import { createHmac, randomUUID } from "node:crypto";
import { concatBytes } from "../../_test_utils.ts";
import { azureCrc64 } from "./azure.ts";
import { escapeXml } from "./xml.ts";

/** Azurite's well-known development account (public, for local development only). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
/** The well-known key of {@linkcode AZURITE_ACCOUNT}. */
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** Tiers a block blob can be given. */
const BLOCK_TIERS = ["Hot", "Cool", "Cold", "Archive"];

/** Options of {@linkcode startAzureTestServer}. */
export interface AzureTestServerOptions {
  /** Storage account name. @default {"devstoreaccount1"} */
  account?: string;
  /** Base64 account key Shared Key signatures are checked with. @default {Azurite's key} */
  accountKey?: string;
  /** The one container that exists. @default {"backups"} */
  container?: string;
  /** Tenant whose token endpoint answers. @default {"tenant-1"} */
  tenantId?: string;
  /** Client ID the token endpoint accepts. @default {"client-1"} */
  clientId?: string;
  /** Client secret the token endpoint accepts. @default {"secret-1"} */
  clientSecret?: string;
  /** Lifetime of issued tokens, in seconds. @default {3600} */
  tokenLifetimeSec?: number;
  /** Accept requests without credentials (a public container). @default {false} */
  anonymous?: boolean;
  /** A SAS query string accepted as credentials when all its parameters are present. */
  sasToken?: string;
  /** Entries per List Blobs page unless the request says fewer. @default {5000} */
  pageSize?: number;
  /** Property reads that still show a rehydration pending after Set Blob Tier. @default {2} */
  rehydratePolls?: number;
  /** Delay before answering each blob request, in ms (makes overlaps observable). @default {0} */
  latencyMs?: number;
}

/** One blob of the fake. */
export interface AzureTestBlob {
  /** Content. */
  bytes: Uint8Array;
  /** Access tier (`Hot`, `Cool`, `Cold`, `Archive`). */
  tier: string;
  /** `rehydrate-pending-to-<tier>` while a rehydration runs. */
  archiveStatus?: string;
  /** Priority of the running rehydration. */
  rehydratePriority?: string;
  /** ETag, new on every write. */
  etag: string;
  /** `x-ms-blob-content-type` given on upload. */
  contentType: string;
  /** User metadata (`hdi_isfolder` marks a directory of a hierarchical namespace). */
  metadata: Record<string, string>;
  /** Block IDs of a block-list upload, in order. */
  blocks: string[];
}

/** A request the fake received (blob service requests only). */
export interface AzureTestRequest {
  /** HTTP method. */
  method: string;
  /** Blob name (decoded), `""` for container requests. */
  blob: string;
  /** `comp` query parameter, `""` when absent. */
  comp: string;
  /** Query parameters. */
  query: URLSearchParams;
  /** Headers as received. */
  headers: Headers;
  /** How it was authorized. */
  auth: "sharedKey" | "bearer" | "sas" | "anonymous";
}

/** Picks which requests a fault applies to. */
export type AzureRequestMatch = (r: { method: string; blob: string; comp: string }) => boolean;

/** Faults to inject into the next requests. */
export interface AzureTestFaults {
  /**
   * Answers the next `count` matching requests with an error.
   *
   * @param count How many requests fail.
   * @param status HTTP status. @default 503
   * @param code Azure error code. @default "ServerBusy"
   * @param match Which requests (all when absent).
   */
  fail(count: number, status?: number, code?: string, match?: AzureRequestMatch): void;
  /**
   * Cuts the next `times` downloads after `afterBytes` bytes of their body.
   *
   * @param afterBytes Bytes sent before the connection breaks.
   * @param times How many downloads break.
   */
  cutDownloads(afterBytes: number, times: number): void;
  /**
   * Holds the answer of the next `times` matching requests for `ms` (until the client gives up).
   *
   * @param ms Delay.
   * @param times How many requests.
   * @param match Which requests (all when absent).
   */
  stall(ms: number, times: number, match?: AzureRequestMatch): void;
}

/** A running fake. */
export interface AzureTestServer extends AsyncDisposable {
  /** The account's blob endpoint (path style): `http://127.0.0.1:<port>/<account>`. */
  url: string;
  /** Entra ID authority host serving `/<tenant>/oauth2/v2.0/token`. */
  authorityHost: string;
  /** Account name. */
  account: string;
  /** Account key. */
  accountKey: string;
  /** Container name. */
  container: string;
  /** Blobs by name. */
  objects: Map<string, AzureTestBlob>;
  /** Uncommitted blocks by blob name, then by block ID. */
  uncommitted: Map<string, Map<string, Uint8Array>>;
  /** Every blob service request, in arrival order. */
  requests: AzureTestRequest[];
  /** Tokens issued by the token endpoint. */
  tokensIssued: number;
  /** The most blob requests handled at once (a download counts until its body is sent). */
  maxInFlight: number;
  /** Fault injection. */
  faults: AzureTestFaults;
  /**
   * Stores a blob directly.
   *
   * @param name Blob name.
   * @param bytes Content.
   * @param tier Access tier. @default "Hot"
   */
  putBlob(name: string, bytes: Uint8Array, tier?: string): AzureTestBlob;
  /** Stops the server. */
  close(): Promise<void>;
}

interface Failure {
  status: number;
  code: string;
  match?: AzureRequestMatch;
}

/** An Azure error answer: `<Error><Code>…` XML and the `x-ms-error-code` header. */
function errorResponse(status: number, code: string, message: string, extra = ""): Response {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${
    escapeXml(message)
  }\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message>${extra}</Error>`;
  return new Response(xml, {
    status,
    headers: { "content-type": "application/xml", "x-ms-error-code": code },
  });
}

/**
 * A `<Name>` element as Azure writes it: percent-encoded with `Encoded="true"` when the name
 * holds characters XML 1.0 cannot carry (control characters, U+FFFE, U+FFFF).
 */
function nameXml(name: string): string {
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if ((c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) || c === 0xfffe || c === 0xffff) {
      return `<Name Encoded="true">${encodeURIComponent(name)}</Name>`;
    }
  }
  return `<Name>${escapeXml(name)}</Name>`;
}

/**
 * The Shared Key string-to-sign as this fake reads it off the wire. Written separately from
 * the store's signer (raw query split by hand, headers by `forEach`) so a mistake in one does
 * not hide in the other.
 */
function canonicalRequest(req: Request, raw: URL, account: string): string {
  const header = (name: string) => req.headers.get(name) ?? "";
  const contentLength = header("content-length") === "0" ? "" : header("content-length");
  const out = [
    req.method,
    header("content-encoding"),
    header("content-language"),
    contentLength,
    header("content-md5"),
    header("content-type"),
    header("date"),
    header("if-modified-since"),
    header("if-match"),
    header("if-none-match"),
    header("if-unmodified-since"),
    header("range"),
  ].join("\n") + "\n";
  const ms: [string, string][] = [];
  req.headers.forEach((value, name) => {
    if (name.toLowerCase().startsWith("x-ms-")) ms.push([name.toLowerCase(), value.trim()]);
  });
  ms.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const headerBlock = ms.map(([n, v]) => `${n}:${v}\n`).join("");
  const grouped: Record<string, string[]> = {};
  for (const pair of raw.search.replace(/^\?/, "").split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " "));
    (grouped[name] ??= []).push(value);
  }
  const names = Object.keys(grouped).sort();
  const resource = `/${account}${raw.pathname}` +
    names.map((n) => `\n${n}:${grouped[n].sort().join(",")}`).join("");
  return out + headerBlock + resource;
}

/**
 * Starts the fake on a free local port.
 *
 * @example
 * ```ts ignore
 * await using server = await startAzureTestServer();
 * const store = new AzureBlobStore({
 *   endpoint: server.url,
 *   containerName: server.container,
 *   accountName: server.account,
 *   accountKey: server.accountKey,
 * });
 * ```
 *
 * @param options Account, credentials, paging, rehydration speed.
 * @returns The running server.
 */
export function startAzureTestServer(
  options: AzureTestServerOptions = {},
): Promise<AzureTestServer> {
  const account = options.account ?? AZURITE_ACCOUNT;
  const accountKey = options.accountKey ?? AZURITE_KEY;
  const container = options.container ?? "backups";
  const tenantId = options.tenantId ?? "tenant-1";
  const clientId = options.clientId ?? "client-1";
  const clientSecret = options.clientSecret ?? "secret-1";
  const objects = new Map<string, AzureTestBlob>();
  const uncommitted = new Map<string, Map<string, Uint8Array>>();
  const requests: AzureTestRequest[] = [];
  const tokens = new Map<string, number>();
  const pollsLeft = new Map<string, number>();
  const failures: Failure[] = [];
  const stalls: { ms: number; match?: AzureRequestMatch }[] = [];
  let cuts = { afterBytes: 0, times: 0 };
  let inFlight = 0;
  /** Pending delays, ended at once when the server closes. */
  const holds = new Set<() => void>();
  function hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        holds.delete(finish);
        resolve();
      }
      holds.add(finish);
    });
  }
  function shutdown(): Promise<void> {
    for (const finish of [...holds]) finish();
    return http.shutdown();
  }
  /** Download responses, which report themselves done when their body ends. */
  const streaming = new WeakSet<Response>();
  const sasParams = options.sasToken === undefined
    ? undefined
    : new URLSearchParams(options.sasToken.replace(/^\?/, ""));

  function newBlob(bytes: Uint8Array, tier: string, contentType = ""): AzureTestBlob {
    return {
      bytes,
      tier,
      etag: `"0x${randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase()}"`,
      contentType,
      metadata: {},
      blocks: [],
    };
  }

  const server: AzureTestServer = {
    url: "",
    authorityHost: "",
    account,
    accountKey,
    container,
    objects,
    uncommitted,
    requests,
    tokensIssued: 0,
    maxInFlight: 0,
    faults: {
      fail(count, status = 503, code = "ServerBusy", match) {
        for (let i = 0; i < count; i++) failures.push({ status, code, match });
      },
      cutDownloads(afterBytes, times) {
        cuts = { afterBytes, times };
      },
      stall(ms, times, match) {
        for (let i = 0; i < times; i++) stalls.push({ ms, match });
      },
    },
    putBlob(name, bytes, tier = "Hot") {
      const blob = newBlob(bytes.slice(), tier, "application/octet-stream");
      objects.set(name, blob);
      return blob;
    },
    close: shutdown,
    [Symbol.asyncDispose]: shutdown,
  };

  function authorize(req: Request, raw: URL): AzureTestRequest["auth"] | Response {
    if (!req.headers.has("x-ms-version")) {
      return errorResponse(
        400,
        "MissingRequiredHeader",
        "An HTTP header that's mandatory for this request is not specified.",
      );
    }
    const authz = req.headers.get("authorization") ?? "";
    if (authz.startsWith("SharedKey ")) {
      const [name, sig] = authz.slice(10).split(":");
      const toSign = canonicalRequest(req, raw, account);
      const want = createHmac("sha256", Buffer.from(accountKey, "base64")).update(toSign).digest(
        "base64",
      );
      const date = Date.parse(req.headers.get("x-ms-date") ?? req.headers.get("date") ?? "");
      if (name !== account || sig !== want) {
        return errorResponse(
          403,
          "AuthenticationFailed",
          "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
          `<AuthenticationErrorDetail>The MAC signature found in the HTTP request '${
            escapeXml(sig ?? "")
          }' is not the same as any computed signature. Server used following string to sign: '${
            escapeXml(toSign)
          }'.</AuthenticationErrorDetail>`,
        );
      }
      if (!(Math.abs(Date.now() - date) <= 15 * 60 * 1000)) {
        return errorResponse(
          403,
          "AuthenticationFailed",
          "Request date header too old or missing.",
        );
      }
      return "sharedKey";
    }
    if (authz.startsWith("Bearer ")) {
      const expires = tokens.get(authz.slice(7));
      if (expires === undefined || expires < Date.now()) {
        return errorResponse(
          401,
          "InvalidAuthenticationInfo",
          "Authentication information is not given in the correct format. Check the value of Authorization header.",
        );
      }
      return "bearer";
    }
    if (sasParams !== undefined && [...sasParams].length > 0) {
      const given = raw.searchParams;
      if ([...sasParams].every(([k, v]) => given.get(k) === v)) return "sas";
      if (given.has("sig")) {
        return errorResponse(403, "AuthenticationFailed", "Signature did not match.");
      }
    }
    if (options.anonymous) return "anonymous";
    return errorResponse(
      401,
      "NoAuthenticationInformation",
      "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
    );
  }

  async function token(req: Request, tenant: string): Promise<Response> {
    const form = new URLSearchParams(await req.text());
    const json = (status: number, body: Record<string, unknown>) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      });
    if (tenant !== tenantId) {
      return json(400, {
        error: "invalid_request",
        error_description: `AADSTS90002: Tenant '${tenant}' not found.\r\nTrace ID: x`,
      });
    }
    if (
      form.get("grant_type") !== "client_credentials" ||
      form.get("scope") !== "https://storage.azure.com/.default"
    ) {
      return json(400, {
        error: "invalid_request",
        error_description: "AADSTS900144: bad grant or scope.",
      });
    }
    if (form.get("client_id") !== clientId) {
      return json(400, {
        error: "unauthorized_client",
        error_description: `AADSTS700016: Application with identifier '${
          form.get("client_id")
        }' was not found.`,
      });
    }
    if (form.get("client_secret") !== clientSecret) {
      return json(401, {
        error: "invalid_client",
        error_description: "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: y",
      });
    }
    const lifetime = options.tokenLifetimeSec ?? 3600;
    const value = randomUUID();
    tokens.set(value, Date.now() + lifetime * 1000);
    server.tokensIssued++;
    return json(200, {
      token_type: "Bearer",
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: value,
    });
  }

  function listBlobs(q: URLSearchParams): Response {
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const max = Math.min(
      Number(q.get("maxresults") ?? options.pageSize ?? 5000),
      options.pageSize ?? 5000,
    );
    const marker = q.get("marker") ? atob(q.get("marker")!) : "";
    const withMeta = (q.get("include") ?? "").split(",").includes("metadata");
    const entries: { name: string; dir: boolean }[] = [];
    const dirs = new Set<string>();
    for (const name of [...objects.keys()].sort()) {
      if (!name.startsWith(prefix)) continue;
      const cut = delimiter === "" ? -1 : name.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        const dir = name.slice(0, cut + delimiter.length);
        if (!dirs.has(dir)) entries.push({ name: dir, dir: true });
        dirs.add(dir);
      } else {
        entries.push({ name, dir: false });
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const start = entries.findIndex((e) => e.name >= marker);
    const page = start < 0 ? [] : entries.slice(start, start + max);
    const next = start < 0 ? undefined : entries[start + max];
    let xml =
      `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${server.url}/" ContainerName="${container}"><Prefix>${
        escapeXml(prefix)
      }</Prefix><Delimiter>${escapeXml(delimiter)}</Delimiter><Blobs>`;
    for (const e of page) {
      if (e.dir) {
        xml += `<BlobPrefix>${nameXml(e.name)}</BlobPrefix>`;
        continue;
      }
      const b = objects.get(e.name)!;
      xml += `<Blob>${
        nameXml(e.name)
      }<Properties><Content-Length>${b.bytes.length}</Content-Length><Content-Type>${b.contentType}</Content-Type><Etag>${b.etag}</Etag><BlobType>BlockBlob</BlobType><AccessTier>${b.tier}</AccessTier>${
        b.archiveStatus ? `<ArchiveStatus>${b.archiveStatus}</ArchiveStatus>` : ""
      }</Properties>`;
      if (withMeta) {
        xml += `<Metadata>${
          Object.entries(b.metadata).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join("")
        }</Metadata>`;
      }
      xml += "</Blob>";
    }
    xml += `</Blobs><NextMarker>${
      next === undefined ? "" : btoa(next.name)
    }</NextMarker></EnumerationResults>`;
    return new Response(xml, { headers: { "content-type": "application/xml" } });
  }

  function checkCrc(req: Request, body: Uint8Array): Response | undefined {
    const given = req.headers.get("x-ms-content-crc64");
    if (given === null) return undefined;
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(azureCrc64(body));
    if (buf.toString("base64") === given) return undefined;
    return errorResponse(
      400,
      "Crc64Mismatch",
      "The CRC64 value specified in the request did not match with the CRC64 value calculated by the server.",
    );
  }

  function checkTier(tier: string | null): Response | undefined {
    if (tier === null || BLOCK_TIERS.includes(tier)) return undefined;
    return errorResponse(
      400,
      "InvalidHeaderValue",
      `The value for one of the HTTP headers is not in the correct format: x-ms-access-tier ${tier}.`,
    );
  }

  function properties(name: string, b: AzureTestBlob): Headers {
    if (b.archiveStatus !== undefined) {
      const left = pollsLeft.get(name) ?? 0;
      if (left > 0) {
        pollsLeft.set(name, left - 1);
      } else {
        b.tier = b.archiveStatus.replace("rehydrate-pending-to-", "").replace(
          /^./,
          (c) => c.toUpperCase(),
        );
        b.archiveStatus = undefined;
        b.rehydratePriority = undefined;
      }
    }
    const h = new Headers({
      "etag": b.etag,
      "content-type": b.contentType,
      "x-ms-blob-type": "BlockBlob",
      "x-ms-access-tier": b.tier,
    });
    if (b.archiveStatus !== undefined) h.set("x-ms-archive-status", b.archiveStatus);
    if (b.rehydratePriority !== undefined) h.set("x-ms-rehydrate-priority", b.rehydratePriority);
    return h;
  }

  function download(req: Request, name: string, b: AzureTestBlob, done: () => void): Response {
    if (b.tier === "Archive") {
      done();
      return errorResponse(
        409,
        "BlobArchived",
        "This operation is not permitted on an archived blob.",
      );
    }
    const ifMatch = req.headers.get("if-match");
    if (ifMatch !== null && ifMatch !== "*" && ifMatch !== b.etag) {
      done();
      return errorResponse(
        412,
        "ConditionNotMet",
        "The condition specified using HTTP conditional header(s) is not met.",
      );
    }
    const range = req.headers.get("x-ms-range") ?? req.headers.get("range");
    let start = 0;
    let end = b.bytes.length - 1;
    let status = 200;
    const headers = properties(name, b);
    if (range !== null) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m === null || Number(m[1]) >= b.bytes.length) {
        done();
        return errorResponse(
          416,
          "InvalidRange",
          "The range specified is invalid for the current size of the resource.",
        );
      }
      start = Number(m[1]);
      if (m[2] !== "") end = Math.min(end, Number(m[2]));
      status = 206;
      headers.set("content-range", `bytes ${start}-${end}/${b.bytes.length}`);
    }
    const bytes = b.bytes.subarray(start, end + 1);
    headers.set("content-length", String(bytes.length));
    const cutAt = cuts.times > 0 ? cuts.afterBytes : Infinity;
    if (cuts.times > 0) cuts.times--;
    let pos = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pos >= cutAt) {
          // Ending the body before its Content-Length makes the server drop the connection.
          done();
          c.close();
          return;
        }
        if (pos >= bytes.length) {
          done();
          c.close();
          return;
        }
        const n = Math.min(4096, bytes.length - pos, cutAt - pos);
        c.enqueue(bytes.slice(pos, pos + n));
        pos += n;
      },
      cancel() {
        done();
      },
    });
    const res = new Response(body, { status, headers });
    streaming.add(res);
    return res;
  }

  async function blobService(
    req: Request,
    raw: URL,
    blobName: string,
    done: () => void,
  ): Promise<Response> {
    const q = raw.searchParams;
    const comp = q.get("comp") ?? "";
    if (blobName === "") {
      if (req.method === "GET" && q.get("restype") === "container" && comp === "list") {
        return listBlobs(q);
      }
      return errorResponse(
        400,
        "UnsupportedQueryParameter",
        "One of the query parameters specified in the request URI is not supported.",
      );
    }
    const blob = objects.get(blobName);
    const missing = () => errorResponse(404, "BlobNotFound", "The specified blob does not exist.");
    if (req.method === "HEAD") {
      if (blob === undefined) {
        return new Response(null, { status: 404, headers: { "x-ms-error-code": "BlobNotFound" } });
      }
      const h = properties(blobName, blob);
      h.set("content-length", String(blob.bytes.length));
      return new Response(null, { status: 200, headers: h });
    }
    if (req.method === "GET" && comp === "") {
      if (blob === undefined) return missing();
      return download(req, blobName, blob, done);
    }
    if (req.method === "DELETE" && comp === "") {
      uncommitted.delete(blobName);
      if (!objects.delete(blobName)) return missing();
      return new Response(null, { status: 202 });
    }
    if (req.method !== "PUT") {
      return errorResponse(
        405,
        "UnsupportedHttpVerb",
        "The resource doesn't support specified Http Verb.",
      );
    }
    const body = new Uint8Array(await req.arrayBuffer());
    if (String(body.length) !== (req.headers.get("content-length") ?? "0")) {
      return errorResponse(400, "InvalidHeaderValue", "Content-Length does not match the body.");
    }
    const tier = req.headers.get("x-ms-access-tier");
    if (comp === "") {
      if (req.headers.get("x-ms-blob-type") !== "BlockBlob") {
        return errorResponse(400, "MissingRequiredHeader", "x-ms-blob-type BlockBlob is required.");
      }
      const bad = checkCrc(req, body) ?? checkTier(tier);
      if (bad) return bad;
      objects.set(
        blobName,
        newBlob(body, tier ?? "Hot", req.headers.get("x-ms-blob-content-type") ?? ""),
      );
      uncommitted.delete(blobName);
      return new Response(null, { status: 201 });
    }
    if (comp === "block") {
      const id = q.get("blockid") ?? "";
      let decoded: string;
      try {
        decoded = atob(id);
      } catch {
        decoded = "";
      }
      const blocks = uncommitted.get(blobName) ?? new Map<string, Uint8Array>();
      const other = blocks.keys().next();
      if (
        decoded === "" || decoded.length > 64 ||
        (!other.done && atob(other.value).length !== decoded.length)
      ) {
        return errorResponse(
          400,
          "InvalidBlobOrBlock",
          "The specified blob or block content is invalid.",
        );
      }
      const bad = checkCrc(req, body);
      if (bad) return bad;
      blocks.set(id, body);
      uncommitted.set(blobName, blocks);
      return new Response(null, { status: 201 });
    }
    if (comp === "blocklist") {
      const xml = new TextDecoder().decode(body);
      const ids = [...xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)].map((m) =>
        m[2]
      );
      const blocks = uncommitted.get(blobName) ?? new Map<string, Uint8Array>();
      const parts: Uint8Array[] = [];
      for (const id of ids) {
        const part = blocks.get(id);
        if (part === undefined) {
          return errorResponse(400, "InvalidBlockList", "The specified block list is invalid.");
        }
        parts.push(part);
      }
      const bad = checkTier(tier);
      if (bad) return bad;
      const created = newBlob(
        concatBytes(parts),
        tier ?? "Hot",
        req.headers.get("x-ms-blob-content-type") ?? "",
      );
      created.blocks = ids;
      objects.set(blobName, created);
      uncommitted.delete(blobName);
      return new Response(null, { status: 201 });
    }
    if (comp === "tier") {
      if (blob === undefined) return missing();
      const bad = checkTier(tier);
      if (bad || tier === null) {
        return bad ?? errorResponse(400, "MissingRequiredHeader", "x-ms-access-tier is required.");
      }
      if (blob.tier === "Archive") {
        if (blob.archiveStatus !== undefined) {
          return errorResponse(
            409,
            "BlobBeingRehydrated",
            "This operation is not permitted because the blob is being rehydrated.",
          );
        }
        blob.archiveStatus = `rehydrate-pending-to-${tier.toLowerCase()}`;
        blob.rehydratePriority = req.headers.get("x-ms-rehydrate-priority") ?? "Standard";
        pollsLeft.set(blobName, options.rehydratePolls ?? 2);
        return new Response(null, { status: 202 });
      }
      blob.tier = tier;
      return new Response(null, { status: 200 });
    }
    return errorResponse(400, "UnsupportedQueryParameter", `comp=${comp} is not supported.`);
  }

  async function handle(req: Request): Promise<Response> {
    const raw = new URL(req.url);
    const segments = raw.pathname.split("/");
    // Token endpoint: /<tenant>/oauth2/v2.0/token
    if (req.method === "POST" && raw.pathname.endsWith("/oauth2/v2.0/token")) {
      return await token(req, decodeURIComponent(segments[1]));
    }
    if (segments[1] !== account) {
      return errorResponse(
        400,
        "InvalidUri",
        "The requested URI does not represent any resource on the server.",
      );
    }
    const blobName = segments.slice(3).map(decodeURIComponent).join("/");
    inFlight++;
    server.maxInFlight = Math.max(server.maxInFlight, inFlight);
    let finished = false;
    const done = () => {
      if (!finished) inFlight--;
      finished = true;
    };
    let res: Response;
    try {
      res = await route(req, raw, blobName, done);
    } catch (err) {
      done();
      throw err;
    }
    // A download holds its slot until its body is sent; everything else is done now.
    if (!streaming.has(res)) done();
    return res;
  }

  async function route(
    req: Request,
    raw: URL,
    blobName: string,
    done: () => void,
  ): Promise<Response> {
    const auth = authorize(req, raw);
    const comp = raw.searchParams.get("comp") ?? "";
    const info = { method: req.method, blob: blobName, comp };
    if (typeof auth !== "string") return auth;
    requests.push({ ...info, query: raw.searchParams, headers: req.headers, auth });
    if (options.latencyMs) await hold(options.latencyMs);
    const stall = stalls.findIndex((s) => s.match === undefined || s.match(info));
    if (stall >= 0) {
      const { ms } = stalls.splice(stall, 1)[0];
      await hold(ms);
    }
    const fail = failures.findIndex((f) => f.match === undefined || f.match(info));
    if (fail >= 0) {
      const f = failures.splice(fail, 1)[0];
      await req.body?.cancel().catch(() => {});
      return errorResponse(f.status, f.code, `Injected failure ${f.code}.`);
    }
    if (raw.pathname.split("/")[2] !== container) {
      return errorResponse(404, "ContainerNotFound", "The specified container does not exist.");
    }
    return await blobService(req, raw, blobName, done);
  }

  const http = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handle);
  const origin = `http://127.0.0.1:${http.addr.port}`;
  server.url = `${origin}/${account}`;
  server.authorityHost = origin;
  return Promise.resolve(server);
}
