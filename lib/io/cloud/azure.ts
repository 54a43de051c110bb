/**
 * Azure Blob Storage as backup storage: an {@linkcode ObjectStore} over the Blob service REST
 * API with `fetch` only, as backup-go's `io/storage/azure/blob` package uses it.
 *
 * - Small objects are one Put Blob; larger ones are Put Block (blocks uploaded in parallel)
 *   plus Put Block List. An aborted upload sends nothing: Azure discards uncommitted blocks
 *   by itself (after a week).
 * - Reads are Get Blob from an offset (`x-ms-range`), pinned to the first read's ETag with
 *   `If-Match` (and the answer's ETag checked) so a resumed read never mixes two versions.
 * - Blobs in the Archive tier are rehydrated (Set Blob Tier, priority High) to the configured
 *   tier and polled until readable, as backup-go's reader does; without a tier they are refused.
 * - Authentication: Shared Key (account name and key), an Entra ID client secret (OAuth2
 *   client-credentials, token cached until shortly before it expires), or none (a SAS token in
 *   the endpoint's query, or a public container), chosen in that order like backup-go.
 *
 * @module
 */

import { createHmac, randomBytes } from "node:crypto";
import { systemClock } from "../../pipeline/clock.ts";
import { AerobakError } from "../../errors.ts";
import type {
  MultipartUpload,
  ObjectInfo,
  ObjectSource,
  ObjectStore,
  RequestRetryPolicy,
} from "../object_store.ts";
import { directoryPrefix, withRetry } from "../object_store.ts";
import { answerText, emptyStream, errorMessage, heldBody, RequestDeadline } from "./_http.ts";
import { RequestSlots } from "./_request_slots.ts";
import {
  parseXml,
  xmlAttribute,
  xmlChild,
  xmlChildren,
  type XmlElement,
  xmlErrorFields,
  xmlText,
} from "./xml.ts";

/** Blob service REST version sent in `x-ms-version` (the first with the Cold tier). */
export const AZURE_API_VERSION = "2021-12-02";

/** Statuses the Azure SDK retries (backup-go passes exactly this list). */
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Access tiers the Azure SDK knows; Archive is refused for uploads and rehydration. */
const ACCESS_TIERS = [
  "Archive",
  "Cold",
  "Cool",
  "Hot",
  "P10",
  "P15",
  "P20",
  "P30",
  "P4",
  "P40",
  "P50",
  "P6",
  "P60",
  "P70",
  "P80",
  "Premium",
] as const;

/** Public Entra ID authority, unless `AZURE_AUTHORITY_HOST` says otherwise. */
const DEFAULT_AUTHORITY = "https://login.microsoftonline.com";
/** Scope of a token for the Blob service. */
const STORAGE_SCOPE = "https://storage.azure.com/.default";
/** A token is renewed this long before it expires (MSAL's margin). */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** Azure refuses block blobs with more blocks. */
const MAX_BLOCKS = 50000;

/** Options of {@linkcode AzureBlobStore}; every CLI flag of the provider maps to one. */
export interface AzureBlobStoreOptions {
  /**
   * The account's blob endpoint (`--azure-endpoint`): `https://<account>.blob.core.windows.net`
   * or a path-style URL such as Azurite's `http://127.0.0.1:10000/<account>`. A query string
   * (a SAS token) is sent with every request and never shown in messages.
   */
  endpoint: string;
  /** Container holding the backups (`--azure-container-name`). */
  containerName: string;
  /** Account name for Shared Key authorization (`--azure-account-name`). @default {""} */
  accountName?: string;
  /** Base64 account key for Shared Key authorization (`--azure-account-key`). @default {""} */
  accountKey?: string;
  /** Entra ID tenant of the client secret credential (`--azure-tenant-id`). @default {""} */
  tenantId?: string;
  /** Application (client) ID of the client secret credential (`--azure-client-id`). @default {""} */
  clientId?: string;
  /** Client secret (`--azure-client-secret`). @default {""} */
  clientSecret?: string;
  /**
   * Entra ID authority host for client secret tokens; https, or http on a loopback address.
   * @default {env.AZURE_AUTHORITY_HOST, else "https://login.microsoftonline.com"}
   */
  authorityHost?: string;
  /** Environment to read `AZURE_AUTHORITY_HOST` from (azidentity reads it). @default {{}} */
  env?: Readonly<Record<string, string>>;
  /** Tier of uploaded blobs (`--azure-access-tier` of asbackup); unset = account default. */
  accessTier?: string;
  /**
   * Tier archived blobs are rehydrated to before they are read (`--azure-access-tier` of
   * asrestore); unset = an archived blob is an error, as in backup-go.
   */
  rehydrateTier?: string;
  /** Interval between rehydration status polls, in ms (`--azure-rehydrate-poll-duration`). @default {60000} */
  rehydratePollMs?: number;
  /** Send `x-ms-content-crc64` with every upload (`--azure-calculate-checksum`). @default {false} */
  calculateChecksum?: boolean;
  /** Blocks of one blob uploaded at once at most (the writer's concurrency is capped by it). @default {16} */
  maxConcurrentParts?: number;
  /**
   * Retries of a failed request after the first try (`--azure-retry-max-attempts`, the SDK's
   * MaxRetries); 0 takes the SDK's default of 3.
   * @default {10}
   */
  retryMaxAttempts?: number;
  /** Wait before the first retry, in ms (`--azure-retry-delay`); 0 = the SDK's 800 ms. @default {60000} */
  retryDelayMs?: number;
  /** Longest wait between retries, in ms (`--azure-retry-max-delay`); 0 = the SDK's 60 s. @default {90000} */
  retryMaxDelayMs?: number;
  /** Requests to the endpoint in flight at once, 0 = no limit (`--azure-max-conns-per-host`). @default {0} */
  maxConnsPerHost?: number;
  /**
   * Time limit of one request including its response body, in ms, 0 = none
   * (`--azure-request-timeout`). A download cut by it resumes through the reader.
   * @default {600000}
   */
  requestTimeoutMs?: number;
  /** Clock for token expiry, in ms since the epoch. @default {Date.now} */
  now?: () => number;
}

/** How requests are authorized. */
type Auth =
  | { kind: "sharedKey"; account: string; key: string }
  | { kind: "bearer"; tenantId: string; clientId: string; clientSecret: string; tokenUrl: string }
  | { kind: "none" };

/** One request, described once and sent (and signed) again on every attempt. */
interface BlobRequest {
  method: "GET" | "HEAD" | "PUT" | "DELETE";
  /** Blob key, or `undefined` for the container itself. */
  key?: string;
  /** Query parameters (besides the endpoint's SAS token). */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** What failed, for messages: `"read"`, `"list"`, `"write"`, `"delete"`. */
  verb: string;
  /** A 404 BlobNotFound counts as success (deleting a missing blob). */
  missingOk?: boolean;
  /** Error code for failures that are not auth or not-found ones. */
  failCode: "STORAGE_READ" | "STORAGE_WRITE";
}

/** A response whose connection is still held (until the body is read or `release` runs). */
interface Held {
  response: Response;
  release: () => void;
  /** Whether the request timeout fired (it also covers the body). */
  timedOut: () => boolean;
}

/** Blob properties the reader needs. */
interface BlobState {
  tier: string;
  archiveStatus: string;
}

/**
 * Normalises an access tier the way backup-go does (title case), refusing Archive and
 * unknown names.
 *
 * @param value Tier as given (`hot`, `COOL`, `p10`).
 * @returns The canonical name (`Hot`, `Cool`, `P10`).
 * @throws {RangeError} for Archive or an unknown tier.
 */
export function parseAzureAccessTier(value: string): string {
  const found = ACCESS_TIERS.find((t) => t.toLowerCase() === value.toLowerCase());
  if (found === undefined) {
    throw new RangeError(
      `Invalid Azure access tier "${value}": expected one of ${
        ACCESS_TIERS.filter((t) => t !== "Archive").join(", ")
      }`,
    );
  }
  if (found === "Archive") {
    throw new RangeError(`Invalid Azure access tier "${value}": the Archive tier is not allowed`);
  }
  return found;
}

/**
 * Builds the Shared Key string-to-sign of a Blob service request (version 2009-09-19 and
 * later): the verb, eleven standard headers (Content-Length empty when 0), the `x-ms-*`
 * headers sorted, then `/account/path` and the query parameters sorted by lowercase name.
 *
 * @param request Method, full URL (path as sent, percent-encoded) and headers.
 * @param account Storage account name.
 * @returns The text to sign.
 */
export function sharedKeyStringToSign(
  request: { method: string; url: URL; headers: Headers },
  account: string,
): string {
  const h = request.headers;
  const length = h.get("content-length") ?? "";
  const lines = [
    request.method.toUpperCase(),
    h.get("content-encoding") ?? "",
    h.get("content-language") ?? "",
    length === "0" ? "" : length,
    h.get("content-md5") ?? "",
    h.get("content-type") ?? "",
    h.get("date") ?? "",
    h.get("if-modified-since") ?? "",
    h.get("if-match") ?? "",
    h.get("if-none-match") ?? "",
    h.get("if-unmodified-since") ?? "",
    h.get("range") ?? "",
  ];
  const msHeaders: string[] = [];
  // Headers iterates names in lowercase and sorted order, as the canonical form wants.
  for (const [name, value] of h) {
    if (name.startsWith("x-ms-")) msHeaders.push(`${name}:${value.replace(/\s+/g, " ").trim()}`);
  }
  let resource = `/${account}${request.url.pathname}`;
  const params = new Map<string, string[]>();
  for (const [name, value] of request.url.searchParams) {
    const lower = name.toLowerCase();
    const values = params.get(lower);
    if (values === undefined) params.set(lower, [value]);
    else values.push(value);
  }
  for (const name of [...params.keys()].sort()) {
    resource += `\n${name}:${params.get(name)!.sort().join(",")}`;
  }
  return [...lines, ...msHeaders, resource].join("\n");
}

/**
 * Signs a string-to-sign with an account key (HMAC-SHA256).
 *
 * @param stringToSign From {@linkcode sharedKeyStringToSign}.
 * @param accountKey The base64 account key.
 * @returns The base64 signature for `Authorization: SharedKey <account>:<signature>`.
 */
export function signSharedKey(stringToSign: string, accountKey: string): string {
  return createHmac("sha256", Buffer.from(accountKey, "base64")).update(stringToSign, "utf8")
    .digest("base64");
}

/** CRC-64 table of Azure's polynomial (reflected 0x9A6C9329AC4BC9B5), as two 32-bit halves. */
const CRC_LO = new Uint32Array(256);
const CRC_HI = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let bit = 0; bit < 8; bit++) {
    const odd = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (odd) {
      lo = (lo ^ 0xac4bc9b5) >>> 0;
      hi = (hi ^ 0x9a6c9329) >>> 0;
    }
  }
  CRC_LO[i] = lo;
  CRC_HI[i] = hi;
}

/**
 * The CRC-64 Azure Storage checks in `x-ms-content-crc64` (Go's `crc64.Update` with Azure's
 * polynomial: reflected, all-ones initial value and final xor; CRC-64/NVME).
 *
 * @param bytes The data.
 * @returns The checksum.
 */
export function azureCrc64(bytes: Uint8Array): bigint {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    const idx = (lo ^ bytes[i]) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ CRC_LO[idx]) >>> 0;
    hi = ((hi >>> 8) ^ CRC_HI[idx]) >>> 0;
  }
  return (BigInt((hi ^ 0xffffffff) >>> 0) << 32n) | BigInt((lo ^ 0xffffffff) >>> 0);
}

/** The `x-ms-content-crc64` header value: the checksum as 8 little-endian bytes, base64. */
function crc64Header(bytes: Uint8Array): string {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(azureCrc64(bytes));
  return out.toString("base64");
}

/** The service's error code and first message line from an error response. */
async function serviceError(res: Response): Promise<{ code: string; message: string }> {
  // A HEAD answer has no body: the code is in a header then.
  const fields = xmlErrorFields(await answerText(res));
  const code = fields.code !== "" ? fields.code : res.headers.get("x-ms-error-code") ?? "";
  return { code, message: fields.message.split("\n")[0].trim() };
}

/** Wraps a failed `fetch` (reset, refused, timed out) as a retriable error. */
function transportError(
  err: unknown,
  what: string,
  req: Pick<BlobRequest, "verb" | "failCode">,
  timeoutMs: number,
  timedOut: boolean,
): AerobakError {
  if (err instanceof AerobakError) return err;
  const reason = timedOut ? `no complete answer within ${timeoutMs} ms` : errorMessage(err);
  return new AerobakError(req.failCode, `Cannot ${req.verb} ${what}: ${reason}`, {
    cause: err,
    location: { file: what },
    retriable: true,
  });
}

/**
 * Azure Blob Storage container as an {@linkcode ObjectStore}.
 *
 * @example
 * ```ts ignore
 * const store = new AzureBlobStore({
 *   endpoint: "https://myaccount.blob.core.windows.net",
 *   containerName: "backups",
 *   accountName: "myaccount",
 *   accountKey: Deno.env.get("KEY")!,
 * });
 * const writer = new ObjectStoreWriter(store, "today", { partSize: 5 * 1024 * 1024 });
 * ```
 */
export class AzureBlobStore implements ObjectStore {
  /** Blocks of one blob uploaded at once at most. */
  readonly maxConcurrentParts: number;
  /** Blocks may have any size. */
  readonly partAlignment = 1;
  #base: string;
  #sas: URLSearchParams;
  #container: string;
  #auth: Auth;
  #accessTier?: string;
  #rehydrateTier?: string;
  #pollMs: number;
  #checksum: boolean;
  #retry: RequestRetryPolicy;
  #timeoutMs: number;
  #slots: RequestSlots;
  #now: () => number;
  #token?: { value: string; renewAt: number };
  #tokenRequest?: Promise<string>;
  /** ETag of each blob's first read, so resumed reads get the same version. */
  #etags = new Map<string, string>();

  /**
   * Creates a store; nothing is sent until the first call.
   *
   * @param options Endpoint, container, credentials, tiers, retries and limits.
   * @throws {TypeError} for an endpoint that is not an http(s) URL, a missing container, or a
   *   non-https authority host.
   * @throws {RangeError} for an unknown or Archive tier.
   */
  constructor(options: AzureBlobStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new TypeError(`Invalid Azure endpoint "${options.endpoint}": expected an http(s) URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(`Invalid Azure endpoint "${options.endpoint}": expected an http(s) URL`);
    }
    if (options.containerName === "") {
      throw new TypeError("Cannot use Azure Blob Storage without a container name");
    }
    this.#sas = url.searchParams;
    this.#base = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
    this.#container = options.containerName;
    this.#auth = authOf(options);
    if (options.accessTier) this.#accessTier = parseAzureAccessTier(options.accessTier);
    if (options.rehydrateTier) this.#rehydrateTier = parseAzureAccessTier(options.rehydrateTier);
    this.#pollMs = options.rehydratePollMs ?? 60000;
    this.#checksum = options.calculateChecksum ?? false;
    this.maxConcurrentParts = Math.max(1, options.maxConcurrentParts ?? 16);
    // The Azure SDK counts retries after the first try and backfills zeros with its defaults.
    const retries = options.retryMaxAttempts ?? 10;
    const firstWait = options.retryDelayMs ?? 60000;
    const maxWait = options.retryMaxDelayMs ?? 90000;
    this.#retry = {
      maxAttempts: (retries === 0 ? 3 : Math.max(0, retries)) + 1,
      initialBackoffMs: firstWait === 0 ? 800 : Math.max(0, firstWait),
      multiplier: 2,
      maxBackoffMs: maxWait === 0 ? 60000 : maxWait < 0 ? Infinity : maxWait,
    };
    this.#timeoutMs = options.requestTimeoutMs ?? 600000;
    this.#slots = new RequestSlots(options.maxConnsPerHost ?? 0);
    this.#now = options.now ?? Date.now;
  }

  /**
   * The blob's URL, for messages (never with the SAS token).
   *
   * @param key Blob name.
   * @returns `https://<account>.blob.core.windows.net/<container>/<key>`.
   */
  describe(key: string): string {
    return `${this.#base}/${this.#container}/${key}`;
  }

  /**
   * Lists the blobs directly under `prefix` (List Blobs with delimiter `/`, page by page).
   * Directory markers of hierarchical-namespace accounts (`hdi_isfolder`) are left out.
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a missing container, `STORAGE_AUTH`,
   *   `STORAGE_READ`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const blob of this.#listBlobs(prefix)) yield { key: blob.key, size: blob.size };
  }

  /**
   * Lists the virtual directories directly under `prefix` (the `BlobPrefix` entries of List
   * Blobs with delimiter `/`).
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   * @returns The next name segment of each, without `/`.
   * @throws {AerobakError} As {@linkcode AzureBlobStore.list}.
   */
  async *listDirectories(prefix: string): AsyncIterable<string> {
    for await (const page of this.#listPages(prefix)) {
      for (const dir of xmlChildren(xmlChild(page, "Blobs"), "BlobPrefix")) {
        const full = entryName(dir);
        if (full === undefined) continue;
        const segment = full.slice(prefix.length).replace(/\/$/, "");
        if (full.startsWith(prefix) && segment !== "" && !segment.includes("/")) yield segment;
      }
    }
  }

  async *#listBlobs(
    prefix: string,
  ): AsyncIterable<{ key: string; size: number; tier: string; archiveStatus: string }> {
    for await (const page of this.#listPages(prefix)) {
      for (const blob of xmlChildren(xmlChild(page, "Blobs"), "Blob")) {
        const key = entryName(blob);
        if (key === undefined) continue;
        if (/^\s*true\s*$/i.test(xmlText(xmlChild(blob, "Metadata"), "hdi_isfolder") ?? "")) {
          continue;
        }
        const properties = xmlChild(blob, "Properties");
        yield {
          key,
          size: Number(xmlText(properties, "Content-Length") ?? 0),
          tier: xmlText(properties, "AccessTier") ?? "",
          archiveStatus: xmlText(properties, "ArchiveStatus") ?? "",
        };
      }
    }
  }

  async *#listPages(prefix: string): AsyncIterable<XmlElement> {
    let marker = "";
    do {
      const query: Record<string, string> = {
        restype: "container",
        comp: "list",
        delimiter: "/",
        include: "metadata",
      };
      if (prefix !== "") query.prefix = prefix;
      if (marker !== "") query.marker = marker;
      const what = this.describe(prefix);
      const page = listPage(
        await this.#text({ method: "GET", query, verb: "list", failCode: "STORAGE_READ" }, what),
        what,
      );
      yield page;
      marker = xmlText(page, "NextMarker") ?? "";
    } while (marker !== "");
  }

  /**
   * Reads a blob from `offset` to its end. An archived blob is rehydrated first (with a
   * rehydrate tier) or refused.
   *
   * @param key Blob name.
   * @param offset First byte.
   * @returns The bytes; a cut download errors the stream with a retriable `STORAGE_READ`.
   * @throws {AerobakError} `STORAGE_NOT_FOUND`, `STORAGE_AUTH`, `STORAGE_READ` (also for an
   *   archived blob without a rehydrate tier and a blob replaced between resumed reads).
   */
  async read(key: string, offset: number): Promise<ReadableStream<Uint8Array>> {
    const what = this.describe(key);
    if (offset === 0) this.#etags.delete(key);
    const etag = this.#etags.get(key);
    const headers: Record<string, string> = {};
    // No range for a whole read: Azure answers 416 to any range on an empty blob.
    if (offset > 0) headers["x-ms-range"] = `bytes=${offset}-`;
    if (offset > 0 && etag !== undefined) headers["if-match"] = etag;
    const req: BlobRequest = {
      method: "GET",
      key,
      headers,
      verb: "read",
      failCode: "STORAGE_READ",
    };
    let held: Held;
    try {
      held = await this.#send(req, what);
    } catch (err) {
      if (!(err instanceof BlobArchived)) throw err;
      await this.#makeReadable(key);
      held = await this.#send(req, what);
    }
    const res = held.response;
    if (res.status === 416) {
      // The previous stream broke after its last byte: nothing is left to read.
      held.release();
      return emptyStream();
    }
    const tag = res.headers.get("etag");
    if (offset === 0) {
      if (tag !== null) this.#etags.set(key, tag);
    } else if (etag !== undefined && tag !== null && tag !== etag) {
      // A server that ignores If-Match sends the new blob: never splice it onto the old one.
      held.release();
      await res.body?.cancel();
      throw new AerobakError(
        "STORAGE_READ",
        `Cannot read ${what} from byte ${offset}: the blob changed while it was read (ETag ${etag}, now ${tag})`,
        { location: { file: what } },
      );
    }
    const expected = Number(res.headers.get("content-length") ?? NaN);
    const fail = (message: string, cause?: unknown) =>
      new AerobakError("STORAGE_READ", `Cannot read ${what}: ${message}`, {
        cause,
        location: { file: what },
        retriable: true,
      });
    // Errors are retriable: the reader resumes a cut download from the byte reached. A
    // server that ignores the range sends the whole blob: drop what was already read.
    return heldBody(res, held.release, {
      skip: offset > 0 && res.status === 200 ? offset : 0,
      onEnd: (received) => {
        if (Number.isFinite(expected) && received < expected) {
          throw fail(`download ended after ${received} of ${expected} bytes`);
        }
      },
      mapError: (err, received) => {
        const why = held.timedOut()
          ? `the request timeout (${this.#timeoutMs} ms) ran out`
          : errorMessage(err);
        return fail(`download broke after ${received} bytes: ${why}`, err);
      },
    });
  }

  /**
   * Creates or replaces a blob in one Put Blob request.
   *
   * @param key Blob name.
   * @param bytes Content.
   * @throws {AerobakError} `STORAGE_AUTH`, `STORAGE_NOT_FOUND` (container), `STORAGE_WRITE`.
   */
  async put(key: string, bytes: Uint8Array): Promise<void> {
    const headers: Record<string, string> = {
      "x-ms-blob-type": "BlockBlob",
      "x-ms-blob-content-type": "application/octet-stream",
    };
    if (this.#accessTier) headers["x-ms-access-tier"] = this.#accessTier;
    if (this.#checksum) headers["x-ms-content-crc64"] = crc64Header(bytes);
    await this.#text(
      { method: "PUT", key, headers, body: bytes, verb: "write", failCode: "STORAGE_WRITE" },
      this.describe(key),
    );
  }

  /**
   * Starts a block upload: each part is a Put Block (any number at once), `complete` commits
   * them in order with Put Block List. `abort` sends nothing: Azure garbage-collects
   * uncommitted blocks after seven days, and the blob is not created or changed.
   *
   * @param key Blob name.
   * @returns The upload.
   */
  startUpload(key: string): Promise<MultipartUpload> {
    const what = this.describe(key);
    // Every block ID of a blob must have the same length; a random stem keeps two uploads of
    // the same name from committing each other's blocks.
    const stem = randomBytes(8).toString("hex");
    const ids: string[] = [];
    const upload: MultipartUpload = {
      uploadPart: async (index: number, bytes: Uint8Array) => {
        if (index >= MAX_BLOCKS) {
          throw new AerobakError(
            "STORAGE_WRITE",
            `Cannot write ${what}: a block blob holds at most ${MAX_BLOCKS} blocks; use a larger block size`,
            { location: { file: what } },
          );
        }
        const id = btoa(`${stem}${String(index).padStart(8, "0")}`);
        const headers: Record<string, string> = {};
        if (this.#checksum) headers["x-ms-content-crc64"] = crc64Header(bytes);
        await this.#text({
          method: "PUT",
          key,
          query: { comp: "block", blockid: id },
          headers,
          body: bytes,
          verb: `write block ${index} of`,
          failCode: "STORAGE_WRITE",
        }, what);
        ids[index] = id;
      },
      complete: async () => {
        let xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>';
        for (let i = 0; i < ids.length; i++) {
          if (ids[i] === undefined) {
            throw new TypeError(`Cannot complete ${what}: block ${i} was not uploaded`);
          }
          xml += `<Latest>${ids[i]}</Latest>`;
        }
        xml += "</BlockList>";
        const headers: Record<string, string> = {
          "content-type": "application/xml",
          "x-ms-blob-content-type": "application/octet-stream",
        };
        if (this.#accessTier) headers["x-ms-access-tier"] = this.#accessTier;
        await this.#text({
          method: "PUT",
          key,
          query: { comp: "blocklist" },
          headers,
          body: new TextEncoder().encode(xml),
          verb: "commit the blocks of",
          failCode: "STORAGE_WRITE",
        }, what);
      },
      abort: () => Promise.resolve(),
    };
    return Promise.resolve(upload);
  }

  /**
   * Deletes a blob (Delete Blob); a missing blob is not an error.
   *
   * @param key Blob name.
   * @throws {AerobakError} `STORAGE_AUTH`, `STORAGE_WRITE`.
   */
  async remove(key: string): Promise<void> {
    await this.#text(
      { method: "DELETE", key, verb: "delete", failCode: "STORAGE_WRITE", missingOk: true },
      this.describe(key),
    );
  }

  /**
   * Rehydrates every archived blob of a source before a restore starts, as backup-go's
   * reader does when a tier is set: Set Blob Tier on each archived blob first (so they thaw
   * together), then polls each until it has left the Archive tier.
   *
   * @param source Directories (key prefixes, listed like {@linkcode ObjectStoreReader}) or blobs.
   * @param options Only blobs whose names end with `extension` (all when unset); `signal`
   *   stops the polling.
   * @returns How many blobs were archived.
   * @throws {TypeError} when the store has no rehydrate tier.
   * @throws {AerobakError} as {@linkcode read}.
   */
  async rehydrate(
    source: ObjectSource,
    options: { extension?: string; signal?: AbortSignal } = {},
  ): Promise<number> {
    if (this.#rehydrateTier === undefined) {
      throw new TypeError("Cannot rehydrate archived blobs: no rehydrate tier is set");
    }
    const waiting: string[] = [];
    const consider = async (key: string, state: BlobState) => {
      if (state.tier !== "Archive") return;
      if (state.archiveStatus === "") await this.#setTier(key);
      waiting.push(key);
    };
    if ("files" in source) {
      for (const key of source.files) await consider(key, await this.#state(key));
    } else {
      for (const dir of source.directories) {
        const prefix = directoryPrefix(dir);
        for await (const blob of this.#listBlobs(prefix)) {
          if (options.extension !== undefined && !blob.key.endsWith(options.extension)) continue;
          await consider(blob.key, blob);
        }
      }
    }
    for (const key of waiting) await this.#pollReadable(key, options.signal);
    return waiting.length;
  }

  /** Makes an archived blob readable: rehydrates it (unless already under way) and waits. */
  async #makeReadable(key: string): Promise<void> {
    const what = this.describe(key);
    const state = await this.#state(key);
    if (state.tier !== "Archive") return;
    if (this.#rehydrateTier === undefined) {
      throw new AerobakError(
        "STORAGE_READ",
        `Cannot read ${what}: the blob is in the Archive tier; rehydrate it first or set a rehydrate tier (asrestore --azure-access-tier)`,
        { location: { file: what } },
      );
    }
    if (state.archiveStatus === "") await this.#setTier(key);
    await this.#pollReadable(key);
  }

  /** Set Blob Tier to the rehydrate tier, with high priority as backup-go asks. */
  async #setTier(key: string): Promise<void> {
    await this.#text({
      method: "PUT",
      key,
      query: { comp: "tier" },
      headers: { "x-ms-access-tier": this.#rehydrateTier!, "x-ms-rehydrate-priority": "High" },
      verb: "rehydrate",
      failCode: "STORAGE_READ",
    }, this.describe(key));
  }

  /** Polls a blob's properties every poll interval until it is out of the Archive tier. */
  async #pollReadable(key: string, signal?: AbortSignal): Promise<void> {
    while (true) {
      try {
        await systemClock.sleep(this.#pollMs, signal);
      } catch (err) {
        throw new AerobakError(
          "STORAGE_READ",
          `Stopped waiting for ${this.describe(key)} to be rehydrated`,
          { cause: err, location: { file: this.describe(key) } },
        );
      }
      if ((await this.#state(key)).tier !== "Archive") return;
    }
  }

  /** Get Blob Properties: the tier and rehydration status. */
  async #state(key: string): Promise<BlobState> {
    const held = await this.#send(
      { method: "HEAD", key, verb: "read the properties of", failCode: "STORAGE_READ" },
      this.describe(key),
    );
    held.release();
    const h = held.response.headers;
    return {
      tier: h.get("x-ms-access-tier") ?? "",
      archiveStatus: h.get("x-ms-archive-status") ?? "",
    };
  }

  /** Sends a request and reads the whole answer as text. */
  async #text(req: BlobRequest, what: string): Promise<string> {
    return await withRetry(async () => {
      const held = await this.#attempt(req, what);
      try {
        return await held.response.text();
      } catch (err) {
        throw transportError(err, what, req, this.#timeoutMs, false);
      } finally {
        held.release();
      }
    }, this.#retry);
  }

  /** Sends a request with retries; the caller reads the body and releases the connection. */
  #send(req: BlobRequest, what: string): Promise<Held> {
    return withRetry(() => this.#attempt(req, what), this.#retry);
  }

  /** One attempt: waits for a connection slot, signs, sends, and classifies a failure. */
  async #attempt(req: BlobRequest, what: string): Promise<Held> {
    const url = new URL(
      req.key === undefined
        ? `${this.#base}/${this.#container}`
        : `${this.#base}/${this.#container}/${encodeKey(req.key)}`,
    );
    for (const [k, v] of this.#sas) url.searchParams.append(k, v);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const headers = new Headers(req.headers);
    headers.set("x-ms-version", AZURE_API_VERSION);
    headers.set("x-ms-date", new Date(this.#now()).toUTCString());
    if (req.body !== undefined) headers.set("content-length", String(req.body.length));
    await this.#authorize(req, url, headers, what);

    const releaseSlot = await this.#slots.acquire();
    // The time limit covers the body too: it runs until the caller releases the answer.
    const deadline = new RequestDeadline(this.#timeoutMs);
    const release = () => {
      deadline.clear();
      releaseSlot();
    };
    const held = { release, timedOut: () => deadline.timedOut };
    let res: Response;
    try {
      res = await fetch(url, {
        method: req.method,
        headers,
        body: req.body as BodyInit | undefined,
        signal: deadline.signal,
      });
    } catch (err) {
      release();
      throw transportError(err, what, req, this.#timeoutMs, deadline.timedOut);
    }
    if (res.ok || (res.status === 416 && req.headers?.["x-ms-range"] !== undefined)) {
      return { response: res, ...held };
    }
    let info: { code: string; message: string };
    try {
      info = await serviceError(res);
    } finally {
      release();
    }
    if (res.status === 404 && req.missingOk && info.code === "BlobNotFound") {
      return { response: new Response(null, { status: 204 }), ...held };
    }
    if (res.status === 409 && info.code === "BlobArchived") throw new BlobArchived(what);
    throw httpError(res.status, info, what, req);
  }

  /** Adds the Authorization header (Shared Key signature or bearer token). */
  async #authorize(req: BlobRequest, url: URL, headers: Headers, what: string): Promise<void> {
    const auth = this.#auth;
    if (auth.kind === "sharedKey") {
      const toSign = sharedKeyStringToSign({ method: req.method, url, headers }, auth.account);
      headers.set("authorization", `SharedKey ${auth.account}:${signSharedKey(toSign, auth.key)}`);
    } else if (auth.kind === "bearer") {
      headers.set("authorization", `Bearer ${await this.#bearer(auth, what)}`);
    }
  }

  /** A cached token, renewed 5 minutes before it expires; one request at a time. */
  async #bearer(auth: Extract<Auth, { kind: "bearer" }>, what: string): Promise<string> {
    if (this.#token !== undefined && this.#now() < this.#token.renewAt) return this.#token.value;
    this.#tokenRequest ??= this.#fetchToken(auth, what).finally(() => {
      this.#tokenRequest = undefined;
    });
    return await this.#tokenRequest;
  }

  async #fetchToken(auth: Extract<Auth, { kind: "bearer" }>, what: string): Promise<string> {
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: auth.clientId,
      client_secret: auth.clientSecret,
      scope: STORAGE_SCOPE,
    });
    using deadline = new RequestDeadline(this.#timeoutMs);
    const fail = (message: string, retriable: boolean, cause?: unknown) =>
      new AerobakError(
        retriable ? "STORAGE_READ" : "STORAGE_AUTH",
        `Cannot get an Entra ID token from ${auth.tokenUrl} for ${what}: ${message}`,
        { cause, retriable, location: { file: what } },
      );
    let res: Response;
    let body: string;
    try {
      res = await fetch(auth.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
        signal: deadline.signal,
      });
      body = await res.text();
    } catch (err) {
      throw fail(deadline.timedOut ? "timed out" : errorMessage(err), true, err);
    }
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(body);
    } catch {
      // An HTML error page: the status says enough.
    }
    if (!res.ok || typeof json.access_token !== "string") {
      const detail = [json.error, String(json.error_description ?? "").split("\n")[0]]
        .filter((s) => typeof s === "string" && s !== "").join(": ");
      throw fail(
        `HTTP ${res.status}${detail === "" ? "" : ` ${detail}`}`,
        RETRY_STATUSES.has(res.status),
      );
    }
    const lifetime = Number(json.expires_in ?? 3600) * 1000;
    this.#token = {
      value: json.access_token,
      renewAt: this.#now() + Math.max(lifetime - TOKEN_REFRESH_MARGIN_MS, lifetime / 2),
    };
    return json.access_token;
  }
}

/** A Get Blob answered 409 BlobArchived: not retried, but handled by rehydrating. */
class BlobArchived extends AerobakError {
  constructor(what: string) {
    super("STORAGE_READ", `Cannot read ${what}: the blob is in the Archive tier`, {
      location: { file: what },
    });
  }
}

/** Picks the credential like backup-go: shared key, then client secret, then none. */
function authOf(o: AzureBlobStoreOptions): Auth {
  if (o.accountName && o.accountKey) {
    return { kind: "sharedKey", account: o.accountName, key: o.accountKey };
  }
  if (o.tenantId && o.clientId && o.clientSecret) {
    const raw = o.authorityHost || o.env?.AZURE_AUTHORITY_HOST || DEFAULT_AUTHORITY;
    let host: URL;
    try {
      host = new URL(raw);
    } catch {
      throw new TypeError(`Invalid Entra ID authority host "${raw}": expected an https URL`);
    }
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(host.hostname);
    if (host.protocol !== "https:" && !(host.protocol === "http:" && loopback)) {
      throw new TypeError(`Invalid Entra ID authority host "${raw}": it must use https`);
    }
    const base = `${host.origin}${host.pathname.replace(/\/+$/, "")}`;
    return {
      kind: "bearer",
      tenantId: o.tenantId,
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      tokenUrl: `${base}/${encodeURIComponent(o.tenantId)}/oauth2/v2.0/token`,
    };
  }
  return { kind: "none" };
}

/** Parses a List Blobs answer; one that is not XML fails (retriably: it may be cut short). */
/** The name of a listed blob or prefix; names with characters XML cannot carry come percent-encoded. */
function entryName(entry: XmlElement): string | undefined {
  const name = xmlChild(entry, "Name");
  if (name === undefined) return undefined;
  const encoded = /^true$/i.test(xmlAttribute(name, "Encoded") ?? "");
  return encoded ? decodeURIComponent(name.text) : name.text;
}

function listPage(text: string, what: string): XmlElement {
  try {
    return parseXml(text);
  } catch (err) {
    throw new AerobakError(
      "STORAGE_READ",
      `Cannot list ${what}: unreadable answer: ${errorMessage(err)}`,
      {
        cause: err,
        location: { file: what },
        retriable: true,
      },
    );
  }
}

/** Percent-encodes a blob name segment by segment, keeping the `/` separators. */
function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

/** Maps an error status to an AerobakError naming the URL and the service's code. */
function httpError(
  status: number,
  info: { code: string; message: string },
  what: string,
  req: Pick<BlobRequest, "verb" | "failCode">,
): AerobakError {
  const detail = `HTTP ${status}${info.code === "" ? "" : ` ${info.code}`}${
    info.message === "" ? "" : `: ${info.message}`
  }`;
  let code: string = req.failCode;
  let extra = "";
  if (status === 401 || status === 403) {
    code = "STORAGE_AUTH";
    extra = " (check the account key, SAS token or Entra ID role)";
  } else if (status === 404) {
    code = "STORAGE_NOT_FOUND";
  } else if (status === 412) {
    extra = " (the blob changed while it was read)";
  }
  return new AerobakError(code, `Cannot ${req.verb} ${what}: ${detail}${extra}`, {
    location: { file: what },
    retriable: RETRY_STATUSES.has(status),
  });
}
