/**
 * An in-process fake of the S3 REST API for tests, path-style (`<url>/<bucket>/<key>`), on
 * `Deno.serve({ port: 0 })`: ListObjectsV2, GetObject (ranges, If-Match), HeadObject,
 * PutObject, multipart uploads, DeleteObject and RestoreObject with Glacier-like archive
 * states.
 *
 * Every request must carry a SigV4 `Authorization` header: the server rebuilds the
 * canonical request from what it received (raw path and query, the signed headers' values,
 * the body's SHA-256) and answers 403 `SignatureDoesNotMatch` with S3's XML error when its
 * signature differs, as S3 does. Faults: failing the next requests with a status, cutting
 * downloads after some bytes, delaying answers, a CompleteMultipartUpload that fails after
 * its 200 status line.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { concatBytes } from "../../_test_utils.ts";
import { S3_STORAGE_CLASSES } from "./s3.ts";
import { canonicalRequest, sha256Hex, sigV4Signature } from "./s3_signer.ts";
import { escapeXml, parseXml, xmlChildren, xmlText } from "./xml.ts";

/** Options of {@linkcode startS3TestServer}. */
export interface S3TestServerOptions {
  /** The one bucket that exists. @default {"bucket"} */
  bucket?: string;
  /** Region of the bucket; requests signed for another fail. @default {"us-east-1"} */
  region?: string;
  /** The access key id the server knows. @default {"AKIDTESTEXAMPLE"} */
  accessKeyId?: string;
  /** Its secret. @default {"test/secret+KEY"} */
  secretAccessKey?: string;
  /** When set, requests must carry this `x-amz-security-token` (signed). */
  sessionToken?: string;
  /** Smallest size of every part but the last, as S3's 5 MiB. @default {5242880} */
  minPartSize?: number;
  /** HeadObject checks an archive restore needs before it completes. @default {2} */
  restoreChecks?: number;
}

/** What the server keeps besides an object's bytes. */
export interface S3TestObjectMeta {
  /** Storage class as stored (`STANDARD` by default). */
  storageClass: string;
  /** Intelligent-Tiering archive tier, when archived there. */
  archiveStatus?: string;
  /** Restore asked for the archived object. */
  restore?: { tier: string; days?: number; checksLeft: number };
}

/** One request the server answered. */
export interface S3TestRequest {
  /** HTTP method. */
  method: string;
  /** Object key (decoded), `""` for bucket requests. */
  key: string;
  /** Query parameters. */
  query: URLSearchParams;
  /** Request headers. */
  headers: Headers;
  /** Status answered. */
  status: number;
}

/** Faults to inject; counters go down as they fire. */
export interface S3TestFaults {
  /** The next n requests (matching `failMethod`) fail with `failStatus`/`failCode`. */
  failRequests: number;
  /** Status of injected failures. */
  failStatus: number;
  /** S3 code of injected failures. */
  failCode: string;
  /** Only requests with this method fail (any when `""`). */
  failMethod: string;
  /** GetObject bodies break after this many bytes (while `cutDownloads` > 0). */
  cutDownloadsAt: number;
  /** Downloads left to break. */
  cutDownloads: number;
  /** The next n requests are answered after `delayMs`. */
  delayRequests: number;
  /** Delay of delayed requests, ms. */
  delayMs: number;
  /** The next n CompleteMultipartUpload calls answer 200 with an InternalError body. */
  completeErrors: number;
}

/** A running fake. */
export interface S3TestServer extends AsyncDisposable {
  /** Endpoint URL (`http://127.0.0.1:<port>`), for the endpoint override. */
  url: string;
  /** Bucket name. */
  bucket: string;
  /** Region. */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret. */
  secretAccessKey: string;
  /** Objects by key. */
  objects: Map<string, Uint8Array>;
  /** Storage class and archive state by key (only objects not STANDARD need an entry). */
  meta: Map<string, S3TestObjectMeta>;
  /** Part sizes of each completed multipart upload, by key. */
  completed: Map<string, number[]>;
  /** Multipart uploads started and not completed or aborted, by upload id. */
  uploads: Map<string, { key: string; parts: Map<number, Uint8Array> }>;
  /** Every request, in order. */
  requests: S3TestRequest[];
  /** Faults to inject. */
  faults: S3TestFaults;
  /** The most requests handled at once so far. */
  readonly maxInFlight: number;
  /**
   * Puts an object in an archive (not readable until restored).
   *
   * @param key Object key (must exist).
   * @param storageClass `GLACIER`, `DEEP_ARCHIVE`, or `INTELLIGENT_TIERING` with `archiveStatus`.
   * @param archiveStatus Intelligent-Tiering archive tier.
   */
  archive(key: string, storageClass: string, archiveStatus?: string): void;
  /** Stops the server. */
  close(): Promise<void>;
}

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";
const CLASSES = new Set<string>(S3_STORAGE_CLASSES);

/** An error answer. */
class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly extra: Record<string, string> = {},
  ) {}
}

function md5(bytes: Uint8Array): Buffer {
  return createHash("md5").update(bytes).digest();
}

function etagOf(bytes: Uint8Array): string {
  return `"${md5(bytes).toString("hex")}"`;
}

function xmlAnswer(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`, {
    status,
    headers: { "content-type": "application/xml", ...headers },
  });
}

/**
 * Starts the fake.
 *
 * @example
 * ```ts ignore
 * await using s3 = await startS3TestServer();
 * const store = new S3Store({ bucket: s3.bucket, endpoint: s3.url, region: s3.region,
 *   accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
 * ```
 *
 * @param options Bucket, region, key, part size floor, restore speed.
 * @returns The running server.
 */
export function startS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "bucket";
  const region = options.region ?? "us-east-1";
  const accessKeyId = options.accessKeyId ?? "AKIDTESTEXAMPLE";
  const secretAccessKey = options.secretAccessKey ?? "test/secret+KEY";
  const minPartSize = options.minPartSize ?? 5 * 1024 * 1024;
  const objects = new Map<string, Uint8Array>();
  const meta = new Map<string, S3TestObjectMeta>();
  const completed = new Map<string, number[]>();
  const uploads = new Map<string, { key: string; parts: Map<number, Uint8Array> }>();
  const requests: S3TestRequest[] = [];
  const faults: S3TestFaults = {
    failRequests: 0,
    failStatus: 503,
    failCode: "SlowDown",
    failMethod: "",
    cutDownloadsAt: 0,
    cutDownloads: 0,
    delayRequests: 0,
    delayMs: 0,
    completeErrors: 0,
  };
  const stopping = new AbortController();
  let nextUpload = 1;
  let requestId = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  function refuse(r: Refusal, method: string, resource: string): Response {
    const headers = { "x-amz-request-id": String(requestId), ...r.extra };
    if (method === "HEAD") return new Response(null, { status: r.status, headers });
    return xmlAnswer(
      `<Error><Code>${r.code}</Code><Message>${escapeXml(r.message)}</Message>` +
        `<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`,
      r.status,
      headers,
    );
  }

  /** Checks the signature of a request against the canonical request rebuilt from it. */
  function authenticate(req: Request, url: URL, body: Uint8Array): void {
    const auth = req.headers.get("authorization");
    if (auth === null) throw new Refusal(403, "AccessDenied", "Anonymous access is forbidden");
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/
        .exec(auth);
    if (m === null) {
      throw new Refusal(
        400,
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed",
      );
    }
    const [, keyId, day, scopeRegion, service, signedList, signature] = m;
    if (keyId !== accessKeyId) {
      throw new Refusal(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
      );
    }
    if (scopeRegion !== region || service !== "s3") {
      throw new Refusal(
        400,
        "AuthorizationHeaderMalformed",
        `The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${region}'`,
        { "x-amz-bucket-region": region },
      );
    }
    const date = req.headers.get("x-amz-date") ?? "";
    const signed = signedList.split(";");
    if (date.slice(0, 8) !== day || !signed.includes("x-amz-date") || !signed.includes("host")) {
      throw new Refusal(
        403,
        "AccessDenied",
        "The request must sign host and x-amz-date, dated on the credential day",
      );
    }
    const payloadHash = req.headers.get("x-amz-content-sha256");
    if (payloadHash === null) {
      throw new Refusal(
        400,
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
      );
    }
    if (options.sessionToken !== undefined) {
      const token = req.headers.get("x-amz-security-token");
      if (token !== options.sessionToken || !signed.includes("x-amz-security-token")) {
        throw new Refusal(
          403,
          "InvalidToken",
          "The provided token is malformed or otherwise invalid.",
        );
      }
    }
    const headers = new Map<string, string>();
    for (const name of signed) headers.set(name, req.headers.get(name) ?? "");
    const canonical = canonicalRequest({
      method: req.method,
      path: url.pathname,
      query: url.search.slice(1),
      headers,
      payloadHash,
    });
    const expected = sigV4Signature(canonical.text, secretAccessKey, {
      amzDate: date,
      region,
      service: "s3",
    });
    if (expected !== signature || canonical.signedHeaders !== signedList) {
      throw new Refusal(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. " +
          "Check your key and signing method.",
      );
    }
    if (payloadHash !== "UNSIGNED-PAYLOAD" && sha256Hex(body) !== payloadHash) {
      throw new Refusal(
        400,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    const contentMd5 = req.headers.get("content-md5");
    if (contentMd5 !== null && md5(body).toString("base64") !== contentMd5) {
      throw new Refusal(
        400,
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
      );
    }
  }

  function metaOf(key: string): S3TestObjectMeta {
    return meta.get(key) ?? { storageClass: "STANDARD" };
  }

  function archived(m: S3TestObjectMeta): boolean {
    const inArchive = m.storageClass === "GLACIER" || m.storageClass === "DEEP_ARCHIVE" ||
      m.archiveStatus !== undefined;
    return inArchive && !(m.restore !== undefined && m.restore.checksLeft === 0);
  }

  function storageClassHeader(req: Request): string {
    const sc = req.headers.get("x-amz-storage-class") ?? "STANDARD";
    if (!CLASSES.has(sc)) {
      throw new Refusal(400, "InvalidStorageClass", "The storage class you specified is not valid");
    }
    return sc;
  }

  function listObjects(query: URLSearchParams): Response {
    if (query.get("list-type") !== "2") {
      throw new Refusal(501, "NotImplemented", "Only ListObjectsV2 is implemented");
    }
    const prefix = query.get("prefix") ?? "";
    const delimiter = query.get("delimiter") ?? "";
    const maxKeys = Number(query.get("max-keys") ?? "1000");
    const token = query.get("continuation-token");
    const after = token === null ? query.get("start-after") ?? "" : atob(token);
    const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
    let body = "";
    let count = 0;
    let last = "";
    const seenPrefixes = new Set<string>();
    let truncated = false;
    for (const key of keys) {
      const rest = key.slice(prefix.length);
      const cut = delimiter === "" ? -1 : rest.indexOf(delimiter);
      const common = cut < 0 ? undefined : prefix + rest.slice(0, cut + delimiter.length);
      if (common !== undefined && seenPrefixes.has(common)) {
        last = key;
        continue;
      }
      if (count === maxKeys) {
        truncated = true;
        break;
      }
      count++;
      last = key;
      if (common !== undefined) {
        seenPrefixes.add(common);
        body += `<CommonPrefixes><Prefix>${escapeXml(common)}</Prefix></CommonPrefixes>`;
        continue;
      }
      const bytes = objects.get(key)!;
      body += `<Contents><Key>${escapeXml(key)}</Key><LastModified>2025-01-01T00:00:00.000Z` +
        `</LastModified><ETag>${escapeXml(etagOf(bytes))}</ETag><Size>${bytes.length}</Size>` +
        `<StorageClass>${metaOf(key).storageClass}</StorageClass></Contents>`;
    }
    const next = truncated ? `<NextContinuationToken>${btoa(last)}</NextContinuationToken>` : "";
    return xmlAnswer(
      `<ListBucketResult xmlns="${NS}"><Name>${bucket}</Name><Prefix>${
        escapeXml(prefix)
      }</Prefix>` +
        `<KeyCount>${count}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
        `<Delimiter>${escapeXml(delimiter)}</Delimiter><IsTruncated>${truncated}</IsTruncated>` +
        `${body}${next}</ListBucketResult>`,
    );
  }

  function getObject(req: Request, key: string): Response {
    const bytes = objects.get(key);
    if (bytes === undefined) {
      throw new Refusal(404, "NoSuchKey", "The specified key does not exist.");
    }
    if (archived(metaOf(key))) {
      throw new Refusal(
        403,
        "InvalidObjectState",
        "The operation is not valid for the object's storage class",
      );
    }
    const etag = etagOf(bytes);
    const ifMatch = req.headers.get("if-match");
    if (ifMatch !== null && ifMatch !== etag) {
      throw new Refusal(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
      );
    }
    let start = 0;
    let end = bytes.length;
    const range = req.headers.get("range");
    if (range !== null) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m === null) throw new Refusal(400, "InvalidArgument", `Bad range ${range}`);
      start = Number(m[1]);
      end = m[2] === "" ? bytes.length : Math.min(bytes.length, Number(m[2]) + 1);
      if (start >= bytes.length) {
        throw new Refusal(416, "InvalidRange", "The requested range is not satisfiable", {
          "content-range": `bytes */${bytes.length}`,
        });
      }
    }
    const headers: Record<string, string> = {
      etag,
      "content-length": String(end - start),
      "accept-ranges": "bytes",
    };
    if (range !== null) headers["content-range"] = `bytes ${start}-${end - 1}/${bytes.length}`;
    const status = range === null ? 200 : 206;
    const part = bytes.slice(start, end);
    if (faults.cutDownloads <= 0 || faults.cutDownloadsAt >= end) {
      return new Response(part, { status, headers });
    }
    faults.cutDownloads--;
    const keep = Math.max(0, faults.cutDownloadsAt - start);
    // The body ends early while Content-Length promises more: the client sees a cut.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        if (keep > 0) c.enqueue(part.slice(0, keep));
        c.close();
      },
    });
    return new Response(body, { status, headers });
  }

  function headObject(key: string): Response {
    const bytes = objects.get(key);
    if (bytes === undefined) throw new Refusal(404, "NoSuchKey", "Not Found");
    const m = metaOf(key);
    const headers: Record<string, string> = {
      etag: etagOf(bytes),
      "content-length": String(bytes.length),
    };
    if (m.storageClass !== "STANDARD") headers["x-amz-storage-class"] = m.storageClass;
    if (m.restore !== undefined) {
      if (m.restore.checksLeft > 0) m.restore.checksLeft--;
      headers["x-amz-restore"] = m.restore.checksLeft > 0
        ? 'ongoing-request="true"'
        : 'ongoing-request="false", expiry-date="Fri, 21 Dec 2035 00:00:00 GMT"';
    }
    if (m.archiveStatus !== undefined && (m.restore === undefined || m.restore.checksLeft > 0)) {
      headers["x-amz-archive-status"] = m.archiveStatus;
    }
    // A HEAD answer has no body but tells the size in Content-Length.
    return new Response(null, { status: 200, headers });
  }

  function restoreObject(key: string, body: Uint8Array): Response {
    if (!objects.has(key)) throw new Refusal(404, "NoSuchKey", "The specified key does not exist.");
    const m = metaOf(key);
    const inArchive = m.storageClass === "GLACIER" || m.storageClass === "DEEP_ARCHIVE" ||
      m.archiveStatus !== undefined;
    if (!inArchive) {
      throw new Refusal(
        403,
        "InvalidObjectState",
        "Restore is not allowed for the object's current storage class",
      );
    }
    if (m.restore !== undefined && m.restore.checksLeft > 0) {
      throw new Refusal(409, "RestoreAlreadyInProgress", "Object restore is already in progress");
    }
    if (m.restore !== undefined) return new Response(null, { status: 200 });
    const doc = parseXml(new TextDecoder().decode(body));
    const daysText = xmlText(doc, "Days");
    const job = xmlChildren(doc, "GlacierJobParameters")[0];
    const tier = job === undefined ? "Standard" : xmlText(job, "Tier") ?? "Standard";
    if (!["Standard", "Bulk", "Expedited"].includes(tier)) {
      throw new Refusal(400, "MalformedXML", `Unknown tier ${tier}`);
    }
    if (m.archiveStatus !== undefined && daysText !== undefined) {
      throw new Refusal(
        400,
        "InvalidArgument",
        "Days must not be set for Intelligent-Tiering archives",
      );
    }
    if (m.archiveStatus === undefined && daysText === undefined) {
      throw new Refusal(400, "MalformedXML", "Days is required");
    }
    m.restore = {
      tier,
      days: daysText === undefined ? undefined : Number(daysText),
      checksLeft: Math.max(1, options.restoreChecks ?? 2),
    };
    meta.set(key, m);
    return new Response(null, { status: 202 });
  }

  function completeUpload(key: string, uploadId: string, body: Uint8Array): Response {
    const upload = uploads.get(uploadId);
    if (upload === undefined || upload.key !== key) {
      throw new Refusal(404, "NoSuchUpload", "The specified upload does not exist.");
    }
    const doc = parseXml(new TextDecoder().decode(body));
    const listed = xmlChildren(doc, "Part").map((p) => ({
      n: Number(xmlText(p, "PartNumber")),
      etag: xmlText(p, "ETag") ?? "",
    }));
    if (listed.length === 0) throw new Refusal(400, "MalformedXML", "No parts");
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < listed.length; i++) {
      const { n, etag } = listed[i];
      if (i > 0 && n <= listed[i - 1].n) {
        throw new Refusal(400, "InvalidPartOrder", "The list of parts was not in ascending order.");
      }
      const part = upload.parts.get(n);
      if (part === undefined || etagOf(part) !== etag) {
        throw new Refusal(400, "InvalidPart", `Part ${n} was not uploaded or its ETag differs`);
      }
      if (i < listed.length - 1 && part.length < minPartSize) {
        throw new Refusal(
          400,
          "EntityTooSmall",
          "Your proposed upload is smaller than the minimum allowed object size.",
        );
      }
      chunks.push(part);
    }
    if (faults.completeErrors > 0) {
      faults.completeErrors--;
      return xmlAnswer(
        "<Error><Code>InternalError</Code><Message>We encountered an internal error. " +
          "Please try again.</Message></Error>",
      );
    }
    objects.set(key, concatBytes(chunks));
    completed.set(key, chunks.map((c) => c.length));
    uploads.delete(uploadId);
    const etag = createHash("md5").update(Buffer.concat(chunks.map(md5))).digest("hex");
    return xmlAnswer(
      `<CompleteMultipartUploadResult xmlns="${NS}"><Bucket>${bucket}</Bucket>` +
        `<Key>${escapeXml(key)}</Key><ETag>"${etag}-${chunks.length}"</ETag>` +
        `</CompleteMultipartUploadResult>`,
    );
  }

  function objectRequest(req: Request, key: string, query: URLSearchParams, body: Uint8Array) {
    const uploadId = query.get("uploadId");
    switch (req.method) {
      case "GET":
        return getObject(req, key);
      case "HEAD":
        return headObject(key);
      case "DELETE":
        if (uploadId === null) {
          objects.delete(key);
          meta.delete(key);
          return new Response(null, { status: 204 });
        }
        if (!uploads.delete(uploadId)) {
          throw new Refusal(404, "NoSuchUpload", "The specified upload does not exist.");
        }
        return new Response(null, { status: 204 });
      case "PUT": {
        if (uploadId === null) {
          const storageClass = storageClassHeader(req);
          objects.set(key, body);
          if (storageClass === "STANDARD") meta.delete(key);
          else meta.set(key, { storageClass });
          return new Response(null, { status: 200, headers: { etag: etagOf(body) } });
        }
        const upload = uploads.get(uploadId);
        if (upload === undefined || upload.key !== key) {
          throw new Refusal(404, "NoSuchUpload", "The specified upload does not exist.");
        }
        const n = Number(query.get("partNumber"));
        if (!Number.isInteger(n) || n < 1 || n > 10000) {
          throw new Refusal(
            400,
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000",
          );
        }
        upload.parts.set(n, body);
        return new Response(null, { status: 200, headers: { etag: etagOf(body) } });
      }
      case "POST": {
        if (query.has("uploads")) {
          const storageClass = storageClassHeader(req);
          const id = `upload-${nextUpload++}`;
          uploads.set(id, { key, parts: new Map() });
          if (storageClass !== "STANDARD") meta.set(key, { storageClass });
          return xmlAnswer(
            `<InitiateMultipartUploadResult xmlns="${NS}"><Bucket>${bucket}</Bucket>` +
              `<Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId>` +
              `</InitiateMultipartUploadResult>`,
          );
        }
        if (uploadId !== null) return completeUpload(key, uploadId, body);
        if (query.has("restore")) return restoreObject(key, body);
        break;
      }
    }
    throw new Refusal(405, "MethodNotAllowed", "The specified method is not allowed");
  }

  async function handle(req: Request): Promise<Response> {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      return await answer(req);
    } finally {
      inFlight--;
    }
  }

  async function answer(req: Request): Promise<Response> {
    requestId++;
    const url = new URL(req.url);
    const query = url.searchParams;
    const path = url.pathname;
    const slash = path.indexOf("/", 1);
    const bucketPart = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash));
    const key = slash < 0 ? "" : decodeURIComponent(path.slice(slash + 1));
    const log: S3TestRequest = {
      method: req.method,
      key,
      query,
      headers: new Headers(req.headers),
      status: 0,
    };
    requests.push(log);
    const body = new Uint8Array(await req.arrayBuffer());
    let res: Response;
    try {
      authenticate(req, url, body);
      if (faults.delayRequests > 0) {
        faults.delayRequests--;
        await delay(faults.delayMs, undefined, { signal: stopping.signal }).catch(() => {});
      }
      if (
        faults.failRequests > 0 && (faults.failMethod === "" || faults.failMethod === req.method)
      ) {
        faults.failRequests--;
        throw new Refusal(faults.failStatus, faults.failCode, "Injected failure");
      }
      if (bucketPart !== bucket) {
        throw new Refusal(404, "NoSuchBucket", "The specified bucket does not exist");
      }
      if (slash < 0 || key === "") {
        if (req.method !== "GET") throw new Refusal(405, "MethodNotAllowed", "Not allowed");
        res = listObjects(query);
      } else {
        res = objectRequest(req, key, query, body);
      }
    } catch (err) {
      const refusal = err instanceof Refusal
        ? err
        : err instanceof SyntaxError
        ? new Refusal(400, "MalformedXML", err.message)
        : new Refusal(500, "InternalError", String(err));
      res = refuse(refusal, req.method, path);
    }
    log.status = res.status;
    return res;
  }

  return new Promise((resolve) => {
    const server = Deno.serve({
      port: 0,
      hostname: "127.0.0.1",
      signal: stopping.signal,
      onListen: ({ port }) => {
        let closing: Promise<void> | undefined;
        const close = () => {
          closing ??= (async () => {
            stopping.abort();
            await server.finished;
          })();
          return closing;
        };
        resolve({
          url: `http://127.0.0.1:${port}`,
          bucket,
          region,
          accessKeyId,
          secretAccessKey,
          objects,
          meta,
          completed,
          uploads,
          requests,
          faults,
          get maxInFlight() {
            return maxInFlight;
          },
          archive(key: string, storageClass: string, archiveStatus?: string) {
            if (!objects.has(key)) throw new TypeError(`Cannot archive "${key}": no such object`);
            meta.set(
              key,
              archiveStatus === undefined ? { storageClass } : {
                storageClass,
                archiveStatus,
              },
            );
          },
          close,
          [Symbol.asyncDispose]: close,
        });
      },
    }, handle);
  });
}
