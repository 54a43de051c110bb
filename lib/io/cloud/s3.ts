/**
 * AWS S3 (and S3-compatible stores such as MinIO) as an {@linkcode ObjectStore}, over
 * `fetch` with SigV4 signing: ListObjectsV2, ranged GetObject, PutObject, multipart
 * uploads, DeleteObject, and RestoreObject for objects archived in Glacier.
 *
 * Addressing: virtual-hosted (`https://<bucket>.s3.<region>.amazonaws.com/<key>`) on AWS,
 * path-style (`<endpoint>/<bucket>/<key>`) with an endpoint override or a bucket name with
 * dots (which a virtual host's TLS certificate does not cover).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { systemClock } from "../../pipeline/clock.ts";
import { AerobakError } from "../../errors.ts";
import {
  directoryPrefix,
  type MultipartUpload,
  type ObjectInfo,
  type ObjectSource,
  type ObjectStore,
  type RequestRetryPolicy,
  withRetry,
} from "../object_store.ts";
import { answerText, emptyStream, errorMessage, heldBody, RequestDeadline } from "./_http.ts";
import { RequestSlots } from "./_request_slots.ts";
import { resolveAwsConfig, type ResolvedAwsConfig } from "./s3_credentials.ts";
import { awsUriEncode, EMPTY_SHA256, sha256Hex, signRequest } from "./s3_signer.ts";
import {
  escapeXml,
  parseXml,
  xmlChildren,
  type XmlElement,
  xmlErrorFields,
  xmlText,
} from "./xml.ts";

/** The storage classes S3 accepts in `x-amz-storage-class`. */
export const S3_STORAGE_CLASSES = [
  "STANDARD",
  "REDUCED_REDUNDANCY",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER",
  "DEEP_ARCHIVE",
  "OUTPOSTS",
  "GLACIER_IR",
  "SNOW",
  "EXPRESS_ONEZONE",
] as const;

/** A storage class of new objects. */
export type S3StorageClass = typeof S3_STORAGE_CLASSES[number];

/** The retrieval tiers of RestoreObject. */
export const S3_RESTORE_TIERS = ["Standard", "Bulk", "Expedited"] as const;

/** How fast archived objects are restored (and what it costs). */
export type S3RestoreTier = typeof S3_RESTORE_TIERS[number];

/** S3 refuses multipart uploads of more parts than this. */
export const S3_MAX_PARTS = 10000;

/** Options of {@linkcode S3Store}: every AWS S3 flag of backup-go's CLIs. */
export interface S3StoreOptions {
  /** Bucket name (`--s3-bucket-name`). */
  bucket: string;
  /**
   * Region (`--s3-region`); else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`,
   * and `us-east-1` with an endpoint override.
   */
  region?: string;
  /** Shared-file profile of the key and region (`--s3-profile`). @default {AWS_PROFILE or "default"} */
  profile?: string;
  /** Access key id (`--s3-access-key-id`); used with `secretAccessKey`, before any other source. */
  accessKeyId?: string;
  /** Secret access key (`--s3-secret-access-key`). */
  secretAccessKey?: string;
  /** Session token of a temporary explicit key. */
  sessionToken?: string;
  /** Another endpoint, such as `http://minio:9000` (`--s3-endpoint-override`); path-style. */
  endpoint?: string;
  /** Storage class of new objects (`--s3-storage-class`). @default {the bucket's default} */
  storageClass?: S3StorageClass;
  /** Send `Content-MD5` with every upload so S3 checks it (`--s3-calculate-checksum`). @default {false} */
  calculateChecksum?: boolean;
  /** Requests in flight at once, 0 for no limit (`--s3-max-conns-per-host`). @default {0} */
  maxConnsPerHost?: number;
  /** Time limit of one request, body included, in ms; 0 for none (`--s3-request-timeout`). @default {600000} */
  requestTimeoutMs?: number;
  /**
   * Retries of failed requests (`--s3-retry-max-attempts`, `--s3-retry-max-backoff`).
   * @default {{ maxAttempts: 10, initialBackoffMs: 1000, multiplier: 2, maxBackoffMs: 90000 }}
   */
  retry?: RequestRetryPolicy;
  /** Restore archived objects with this tier before reading them (`--s3-tier`). @default {none: reading an archived object fails} */
  restoreTier?: S3RestoreTier;
  /** Interval between checks of an archive restore, in ms (`--s3-restore-poll-duration`). @default {60000} */
  restorePollMs?: number;
  /** Days a restored copy stays readable. @default {1} */
  restoreDays?: number;
  /** Keys per ListObjectsV2 page. @default {1000} */
  listPageSize?: number;
  /** Environment for credentials and region (`AWS_*`, `HOME`). @default {{}} */
  env?: Readonly<Record<string, string>>;
  /** Reads `~/.aws/credentials` and `~/.aws/config`. @default {Deno.readTextFile} */
  readTextFile?: (path: string) => Promise<string>;
  /** Clock of the signatures. @default {() => new Date()} */
  now?: () => Date;
  /** Stops every request and wait. */
  signal?: AbortSignal;
}

/** What HeadObject tells about an object. */
export interface S3ObjectHead {
  /** Size in bytes. */
  size: number;
  /** Entity tag, quotes included. */
  etag: string;
  /** Storage class (`STANDARD` when S3 names none). */
  storageClass: string;
  /** Archive restore: none asked, in progress, or done (a readable copy exists). */
  restore: "none" | "ongoing" | "done";
  /** Intelligent-Tiering archive tier (`ARCHIVE_ACCESS`, `DEEP_ARCHIVE_ACCESS`), if archived there. */
  archiveStatus?: string;
}

/** An S3 error answer: the {@linkcode AerobakError} plus S3's own code and the HTTP status. */
export class S3Error extends AerobakError {
  /** S3's error code (`NoSuchKey`, `SignatureDoesNotMatch`, …) or a name of the status. */
  readonly s3Code: string;
  /** HTTP status. */
  readonly status: number;

  /**
   * Creates the error.
   *
   * @param code aerobak code (`STORAGE_AUTH`, …).
   * @param message The message.
   * @param detail S3 code, status, retriable flag and location.
   */
  constructor(
    code: string,
    message: string,
    detail: { s3Code: string; status: number; retriable: boolean; file: string },
  ) {
    super(code, message, { retriable: detail.retriable, location: { file: detail.file } });
    this.name = "S3Error";
    this.s3Code = detail.s3Code;
    this.status = detail.status;
  }
}

/**
 * The URL of a bucket or object request.
 *
 * @example
 * ```ts
 * import { s3RequestUrl } from "./s3.ts";
 * const url = s3RequestUrl({ bucket: "b", region: "eu-west-1" }, "dir/a b.asb");
 * console.assert(url.href === "https://b.s3.eu-west-1.amazonaws.com/dir/a%20b.asb");
 * ```
 *
 * @param where Bucket, region and endpoint override.
 * @param key Object key; `undefined` for a bucket request.
 * @param query Query parameters (a `""` value is sent as `name=`).
 * @returns The URL.
 */
export function s3RequestUrl(
  where: { bucket: string; region: string; endpoint?: string },
  key?: string,
  query: readonly (readonly [string, string])[] = [],
): URL {
  const object = key === undefined ? "" : awsUriEncode(key, true);
  const bucket = awsUriEncode(where.bucket);
  let base: string;
  let path: string;
  if (where.endpoint) {
    base = where.endpoint.replace(/\/+$/, "");
    path = key === undefined ? `/${bucket}` : `/${bucket}/${object}`;
  } else if (where.bucket.includes(".")) {
    base = `https://s3.${where.region}.amazonaws.com`;
    path = key === undefined ? `/${bucket}` : `/${bucket}/${object}`;
  } else {
    base = `https://${where.bucket}.s3.${where.region}.amazonaws.com`;
    path = `/${object}`;
  }
  const search = query.map(([n, v]) => `${awsUriEncode(n)}=${awsUriEncode(v)}`).join("&");
  return new URL(`${base}${path}${search === "" ? "" : `?${search}`}`);
}

/** One request: what it does (for messages) and what it sends. */
interface S3Call {
  /** Failed action for messages: `Cannot read s3://b/k`. */
  action: string;
  /** Code of failures that are neither auth nor not-found. */
  kind: "STORAGE_READ" | "STORAGE_WRITE";
  method: string;
  /** Object key; absent for bucket requests. */
  key?: string;
  query?: [string, string][];
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses that mean success. */
  ok: readonly number[];
}

/** A response whose body is still open, and the function that frees its slot and timer. */
interface OpenResponse {
  res: Response;
  url: URL;
  done: () => void;
}

const STATUS_NAMES: Record<number, string> = {
  301: "PermanentRedirect",
  307: "TemporaryRedirect",
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  412: "PreconditionFailed",
  416: "InvalidRange",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

const AUTH_CODES = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "AuthorizationHeaderMalformed",
  "ExpiredToken",
  "InvalidAccessKeyId",
  "InvalidToken",
  "MissingSecurityHeader",
  "RequestTimeTooSkewed",
  "SignatureDoesNotMatch",
  "TokenRefreshRequired",
]);

const RETRIABLE_CODES = new Set([
  "InternalError",
  "RequestTimeout",
  "ServiceUnavailable",
  "SlowDown",
  "Throttling",
  "ThrottlingException",
]);

/** An S3 error document (a 200 answer of CompleteMultipartUpload can be one). */
const ERROR_DOCUMENT = /^\s*(<\?xml[^>]*\?>\s*)?<Error>/;

/** At most this many HEAD requests at once while checking archived objects. */
const HEAD_PARALLELISM = 16;

/**
 * An S3 bucket as backup storage.
 *
 * Archived objects (GLACIER, DEEP_ARCHIVE, Intelligent-Tiering archive tiers): with
 * `restoreTier`, `read()` restores an archived object it meets and waits for it; call
 * {@linkcode S3Store.prepareRestore} first to start the restores of all files at once (as
 * backup-go does) so they run in parallel at AWS. Without `restoreTier`, reading one fails
 * with `STORAGE_READ`.
 *
 * @example
 * ```ts ignore
 * const s3 = new S3Store({ bucket: "backups", region: "eu-west-1" });
 * const writer = new ObjectStoreWriter(s3, "cluster1/today", { partSize: 5 << 20 });
 * ```
 */
export class S3Store implements ObjectStore {
  /** Parts of one upload in flight at most (the connection limit, else S3's part limit). */
  readonly maxConcurrentParts: number;
  /** Any part size works (S3 wants 5 MiB or more but for the last; the writer's part size). */
  readonly partAlignment = 1;
  /** The bucket. */
  readonly bucket: string;
  #options: Readonly<S3StoreOptions>;
  #config?: Promise<ResolvedAwsConfig>;
  #slots: RequestSlots;
  #retry: RequestRetryPolicy;
  /** ETag of each object being read, so a resumed read fails if the object changed. */
  #etags = new Map<string, string>();

  /**
   * Creates a store; nothing is sent and no credential is looked up before the first call.
   *
   * @param options Bucket, region, credentials, endpoint, limits (see {@linkcode S3StoreOptions}).
   * @throws {TypeError} for an empty bucket name or an endpoint that is not an http(s) URL.
   */
  constructor(options: S3StoreOptions) {
    if (!options.bucket) throw new TypeError("Cannot use S3: expected a bucket name");
    // URL schemes are case-insensitive (RFC 3986 §3.1), as the CLI's check is.
    if (options.endpoint && !/^https?:\/\/[^/]/i.test(options.endpoint)) {
      throw new TypeError(
        `Cannot use S3 endpoint "${options.endpoint}": expected an http:// or https:// URL`,
      );
    }
    this.#options = Object.freeze({ ...options });
    this.bucket = options.bucket;
    const conns = Math.max(0, options.maxConnsPerHost ?? 0);
    this.#slots = new RequestSlots(conns);
    this.maxConcurrentParts = conns > 0 ? conns : S3_MAX_PARTS;
    this.#retry = {
      maxAttempts: 10,
      initialBackoffMs: 1000,
      multiplier: 2,
      maxBackoffMs: 90000,
      ...options.retry,
    };
  }

  /**
   * The URL of a key.
   *
   * @param key Object key.
   * @returns `s3://bucket/key`.
   */
  describe(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /**
   * Lists the objects directly under a prefix (ListObjectsV2 with `delimiter=/`, page by
   * page).
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   * @returns Key and size of each object.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a missing bucket, `STORAGE_AUTH`,
   *   `STORAGE_READ`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of this.#listPages(prefix)) {
      for (const item of xmlChildren(page, "Contents")) {
        const key = xmlText(item, "Key") ?? "";
        if (!key.startsWith(prefix) || key.slice(prefix.length).includes("/")) continue;
        yield { key, size: Number(xmlText(item, "Size") ?? "0") };
      }
    }
  }

  /**
   * Lists the common prefixes directly under a prefix (ListObjectsV2 with `delimiter=/`).
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   * @returns The next key segment of each, without `/`.
   * @throws {AerobakError} As {@linkcode S3Store.list}.
   */
  async *listDirectories(prefix: string): AsyncIterable<string> {
    for await (const page of this.#listPages(prefix)) {
      for (const item of xmlChildren(page, "CommonPrefixes")) {
        const common = xmlText(item, "Prefix") ?? "";
        const name = common.slice(prefix.length).replace(/\/$/, "");
        if (common.startsWith(prefix) && name !== "" && !name.includes("/")) yield name;
      }
    }
  }

  async *#listPages(prefix: string): AsyncIterable<XmlElement> {
    let token: string | undefined;
    do {
      const query: [string, string][] = [
        ["list-type", "2"],
        ["prefix", prefix],
        ["delimiter", "/"],
        ["max-keys", String(this.#options.listPageSize ?? 1000)],
      ];
      if (token !== undefined) query.push(["continuation-token", token]);
      const call: S3Call = {
        action: `Cannot list ${this.describe(prefix)}`,
        kind: "STORAGE_READ",
        method: "GET",
        query,
        ok: [200],
      };
      const page = this.#xml(call, await this.#exchange(call));
      yield page;
      token = xmlText(page, "IsTruncated") === "true"
        ? xmlText(page, "NextContinuationToken")
        : undefined;
    } while (token !== undefined && token !== "");
  }

  /**
   * Reads an object from a byte (GetObject with `Range: bytes=<offset>-`). A resumed read
   * (offset > 0) sends `If-Match` with the ETag the first read saw and checks the ETag of the
   * answer (for servers that ignore `If-Match`), so a replaced object is never spliced. An archived object is restored first when `restoreTier` is set.
   *
   * @param key Object key.
   * @param offset First byte.
   * @returns The bytes; the request's connection slot is held until the stream ends.
   * @throws {AerobakError} `STORAGE_NOT_FOUND`, `STORAGE_AUTH`, `STORAGE_READ`.
   */
  async read(key: string, offset: number): Promise<ReadableStream<Uint8Array>> {
    try {
      return await this.#read(key, offset);
    } catch (err) {
      if (!(err instanceof S3Error) || err.s3Code !== "InvalidObjectState") throw err;
      if (this.#options.restoreTier === undefined) {
        throw new AerobakError(
          "STORAGE_READ",
          `Cannot read ${this.describe(key)}: the object is archived; ` +
            "restore it first (set a restore tier: Standard, Bulk or Expedited)",
          { cause: err, location: { file: this.describe(key) } },
        );
      }
      await this.restoreArchived([key]);
      return await this.#read(key, offset);
    }
  }

  async #read(key: string, offset: number): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = {};
    const etag = this.#etags.get(key);
    if (offset > 0) {
      headers["range"] = `bytes=${offset}-`;
      if (etag !== undefined) headers["if-match"] = etag;
    }
    const call: S3Call = {
      action: `Cannot read ${this.describe(key)}${offset > 0 ? ` from byte ${offset}` : ""}`,
      kind: "STORAGE_READ",
      method: "GET",
      key,
      headers,
      ok: [200, 206],
    };
    let open: OpenResponse;
    try {
      open = await withRetry(() => this.#open(call, EMPTY_SHA256), this.#retry, this.#signal);
    } catch (err) {
      // Asked from the end of the object: nothing is left to read.
      if (err instanceof S3Error && err.status === 416) return emptyStream();
      if (err instanceof S3Error && err.status === 412) {
        throw new AerobakError(
          "STORAGE_READ",
          `Cannot resume reading ${this.describe(key)} at byte ${offset}: ` +
            `the object changed since the read started (ETag ${etag})`,
          { cause: err, location: { file: this.describe(key) } },
        );
      }
      throw err;
    }
    const tag = open.res.headers.get("etag");
    if (offset === 0) {
      if (tag !== null) this.#etags.set(key, tag);
    } else if (etag !== undefined && tag !== null && tag !== etag) {
      // A server that ignores If-Match (s3rver, some S3-compatible stores) sends the new
      // object: its ETag tells, and its bytes are never spliced onto the old ones.
      open.done();
      await open.res.body?.cancel();
      throw new AerobakError(
        "STORAGE_READ",
        `Cannot resume reading ${this.describe(key)} at byte ${offset}: ` +
          `the object changed since the read started (ETag ${etag}, now ${tag})`,
        { location: { file: this.describe(key) } },
      );
    }
    // A server that ignores Range sends the whole object: drop what was already read.
    const skip = open.res.status === 200 ? offset : 0;
    return heldBody(open.res, open.done, {
      skip,
      onEnd: () => this.#etags.delete(key),
      mapError: (err, received) =>
        new AerobakError(
          "STORAGE_READ",
          `Cannot read ${this.describe(key)} at byte ${offset - skip + received}: ${
            failureText(err, open.url)
          }`,
          { cause: err, retriable: true, location: { file: this.describe(key) } },
        ),
    });
  }

  /**
   * Creates or replaces an object in one request (PutObject).
   *
   * @param key Object key.
   * @param bytes Content.
   * @throws {AerobakError} `STORAGE_WRITE`, `STORAGE_AUTH`, `STORAGE_NOT_FOUND` (bucket).
   */
  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.#exchange({
      action: `Cannot write ${this.describe(key)}`,
      kind: "STORAGE_WRITE",
      method: "PUT",
      key,
      headers: { ...this.#classHeader(), ...this.#md5Header(bytes) },
      body: bytes,
      ok: [200],
    });
  }

  /**
   * Starts a multipart upload (CreateMultipartUpload); parts go up with UploadPart and the
   * object appears on CompleteMultipartUpload.
   *
   * @param key Object key.
   * @returns The upload.
   * @throws {AerobakError} `STORAGE_WRITE`, `STORAGE_AUTH`, `STORAGE_NOT_FOUND` (bucket).
   */
  async startUpload(key: string): Promise<MultipartUpload> {
    const call: S3Call = {
      action: `Cannot start an upload of ${this.describe(key)}`,
      kind: "STORAGE_WRITE",
      method: "POST",
      key,
      query: [["uploads", ""]],
      headers: this.#classHeader(),
      ok: [200],
    };
    const uploadId = xmlText(this.#xml(call, await this.#exchange(call)), "UploadId") ?? "";
    if (uploadId === "") {
      throw new AerobakError("STORAGE_WRITE", `${call.action}: the answer has no UploadId`, {
        location: { file: this.describe(key) },
      });
    }
    return this.#upload(key, uploadId);
  }

  #upload(key: string, uploadId: string): MultipartUpload {
    const etags: string[] = [];
    const where = this.describe(key);
    return {
      uploadPart: async (index: number, bytes: Uint8Array) => {
        if (index >= S3_MAX_PARTS) {
          throw new AerobakError(
            "STORAGE_WRITE",
            `Cannot upload part ${
              index + 1
            } of ${where}: S3 takes at most ${S3_MAX_PARTS} parts; use a larger part size`,
            { location: { file: where } },
          );
        }
        const call: S3Call = {
          action: `Cannot upload part ${index + 1} of ${where}`,
          kind: "STORAGE_WRITE",
          method: "PUT",
          key,
          query: [["partNumber", String(index + 1)], ["uploadId", uploadId]],
          headers: this.#md5Header(bytes),
          body: bytes,
          ok: [200],
        };
        const { headers } = await this.#exchange(call);
        const etag = headers.get("etag");
        if (etag === null) {
          throw new AerobakError("STORAGE_WRITE", `${call.action}: the answer has no ETag`, {
            location: { file: where },
          });
        }
        etags[index] = etag;
      },
      complete: async () => {
        const action = `Cannot complete the upload of ${where}`;
        let parts = "";
        for (let i = 0; i < etags.length; i++) {
          if (etags[i] === undefined) {
            throw new AerobakError("STORAGE_WRITE", `${action}: part ${i + 1} was not uploaded`, {
              location: { file: where },
            });
          }
          parts += `<Part><PartNumber>${i + 1}</PartNumber><ETag>${
            escapeXml(etags[i])
          }</ETag></Part>`;
        }
        const body = new TextEncoder().encode(
          `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts}</CompleteMultipartUpload>`,
        );
        await this.#exchange({
          action,
          kind: "STORAGE_WRITE",
          method: "POST",
          key,
          query: [["uploadId", uploadId]],
          body,
          ok: [200],
        });
      },
      abort: async () => {
        try {
          await this.#exchange({
            action: `Cannot abort the upload of ${where}`,
            kind: "STORAGE_WRITE",
            method: "DELETE",
            key,
            query: [["uploadId", uploadId]],
            ok: [200, 204],
          });
        } catch (err) {
          if (!(err instanceof S3Error && err.status === 404)) throw err;
        }
      },
    };
  }

  /**
   * Deletes an object (DeleteObject); a missing object is not an error.
   *
   * @param key Object key.
   * @throws {AerobakError} `STORAGE_WRITE`, `STORAGE_AUTH`.
   */
  async remove(key: string): Promise<void> {
    try {
      await this.#exchange({
        action: `Cannot delete ${this.describe(key)}`,
        kind: "STORAGE_WRITE",
        method: "DELETE",
        key,
        ok: [200, 204],
      });
    } catch (err) {
      if (!(err instanceof S3Error && err.s3Code === "NoSuchKey")) throw err;
    }
  }

  /**
   * Reads an object's metadata (HeadObject).
   *
   * @param key Object key.
   * @returns Size, ETag, storage class and archive state.
   * @throws {AerobakError} `STORAGE_NOT_FOUND`, `STORAGE_AUTH`, `STORAGE_READ`.
   */
  async head(key: string): Promise<S3ObjectHead> {
    const { headers } = await this.#exchange({
      action: `Cannot look up ${this.describe(key)}`,
      kind: "STORAGE_READ",
      method: "HEAD",
      key,
      ok: [200],
    });
    const restore = headers.get("x-amz-restore") ?? "";
    const head: S3ObjectHead = {
      size: Number(headers.get("content-length") ?? "0"),
      etag: headers.get("etag") ?? "",
      storageClass: headers.get("x-amz-storage-class") ?? "STANDARD",
      restore: /ongoing-request="true"/.test(restore)
        ? "ongoing"
        : /ongoing-request="false"/.test(restore)
        ? "done"
        : "none",
    };
    const archive = headers.get("x-amz-archive-status");
    if (archive !== null) head.archiveStatus = archive;
    return head;
  }

  /**
   * Makes archived objects readable: asks S3 to restore each archived one (RestoreObject with
   * the `restoreTier`, for `restoreDays`), then checks them every `restorePollMs` until no
   * restore is in progress. Objects already readable cost one HEAD.
   *
   * @param keys Object keys.
   * @returns How many objects were archived (restored or being restored) at the start.
   * @throws {TypeError} without the `restoreTier` option.
   * @throws {AerobakError} `STORAGE_READ` (or `STORAGE_AUTH`, `STORAGE_NOT_FOUND`) when a
   *   request fails or the store's signal stops the wait.
   */
  async restoreArchived(keys: readonly string[]): Promise<number> {
    const tier = this.#options.restoreTier;
    if (tier === undefined) {
      throw new TypeError("Cannot restore archived S3 objects: no restoreTier option");
    }
    const pending: string[] = [];
    await forEachLimited(keys, HEAD_PARALLELISM, async (key) => {
      const head = await this.head(key);
      const state = archiveState(head);
      if (state === "archived") await this.#requestRestore(key, head, tier);
      if (state !== "available") pending.push(key);
    });
    const started = pending.length;
    let waiting = pending;
    while (waiting.length > 0) {
      try {
        await systemClock.sleep(this.#options.restorePollMs ?? 60000, this.#signal);
      } catch (err) {
        throw new AerobakError(
          "STORAGE_READ",
          `Cannot wait for the restore of ${this.describe(waiting[0])}: stopped`,
          { cause: err, location: { file: this.describe(waiting[0]) } },
        );
      }
      const still: string[] = [];
      await forEachLimited(waiting, HEAD_PARALLELISM, async (key) => {
        if (archiveState(await this.head(key)) !== "available") still.push(key);
      });
      waiting = still;
    }
    return started;
  }

  async #requestRestore(key: string, head: S3ObjectHead, tier: S3RestoreTier): Promise<void> {
    // Intelligent-Tiering archive tiers take no Days: the object moves back to a live tier.
    const days = head.archiveStatus === undefined
      ? `<Days>${this.#options.restoreDays ?? 1}</Days>`
      : "";
    const body = new TextEncoder().encode(
      `<RestoreRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${days}` +
        `<GlacierJobParameters><Tier>${tier}</Tier></GlacierJobParameters></RestoreRequest>`,
    );
    try {
      await this.#exchange({
        action: `Cannot restore archived ${this.describe(key)}`,
        kind: "STORAGE_READ",
        method: "POST",
        key,
        query: [["restore", ""]],
        body,
        ok: [200, 202],
      });
    } catch (err) {
      if (!(err instanceof S3Error && err.s3Code === "RestoreAlreadyInProgress")) throw err;
    }
  }

  /**
   * Restores the archived backup files of a restore's source before it starts (see
   * {@linkcode S3Store.restoreArchived}); does nothing without `restoreTier`.
   *
   * @param source The directories (key prefixes) or files (keys) the restore reads.
   * @param extension Only files ending with this, in directories. @default ".asb"
   * @returns How many objects were archived.
   */
  async prepareRestore(source: ObjectSource, extension = ".asb"): Promise<number> {
    if (this.#options.restoreTier === undefined) return 0;
    const keys: string[] = [];
    if ("files" in source) {
      keys.push(...source.files);
    } else {
      for (const dir of source.directories) {
        for await (const o of this.list(directoryPrefix(dir))) {
          if (o.key.endsWith(extension)) keys.push(o.key);
        }
      }
    }
    return await this.restoreArchived(keys);
  }

  get #signal(): AbortSignal | undefined {
    return this.#options.signal;
  }

  #classHeader(): Record<string, string> {
    const sc = this.#options.storageClass;
    return sc === undefined ? {} : { "x-amz-storage-class": sc };
  }

  #md5Header(bytes: Uint8Array): Record<string, string> {
    if (!this.#options.calculateChecksum) return {};
    return { "content-md5": createHash("md5").update(bytes).digest("base64") };
  }

  #xml(call: S3Call, answer: { text: string; url: URL }): XmlElement {
    try {
      return parseXml(answer.text);
    } catch (err) {
      throw new AerobakError(
        call.kind,
        `${call.action}: unreadable answer: ${
          (err as Error).message
        } (${call.method} ${answer.url})`,
        { cause: err, retriable: true, location: { file: this.describe(call.key ?? "") } },
      );
    }
  }

  /** Key and region, looked up once. */
  #resolve(): Promise<ResolvedAwsConfig> {
    this.#config ??= (async () => {
      const o = this.#options;
      const cfg = await resolveAwsConfig({
        accessKeyId: o.accessKeyId,
        secretAccessKey: o.secretAccessKey,
        sessionToken: o.sessionToken,
        profile: o.profile,
        region: o.region,
        env: o.env,
        readTextFile: o.readTextFile,
      });
      if (cfg.region !== "") return cfg;
      // MinIO and most S3-compatible stores take any region; us-east-1 is their default.
      if (o.endpoint) return { ...cfg, region: "us-east-1" };
      throw new AerobakError(
        "STORAGE_AUTH",
        `Cannot sign requests to ${this.describe("")}: no AWS region ` +
          "(set the region option, AWS_REGION, or region in the profile)",
      );
    })();
    return this.#config;
  }

  /** Sends a request with retries and reads the whole answer. */
  #exchange(call: S3Call): Promise<{ headers: Headers; text: string; url: URL }> {
    const payloadHash = call.body === undefined ? EMPTY_SHA256 : sha256Hex(call.body);
    return withRetry(
      async () => {
        const open = await this.#open(call, payloadHash);
        try {
          const text = await open.res.text();
          // CompleteMultipartUpload can fail after its 200 status line: the body says so.
          if (ERROR_DOCUMENT.test(text)) throw this.#httpError(call, open.url, open.res, text);
          return { headers: open.res.headers, text, url: open.url };
        } catch (err) {
          if (err instanceof AerobakError) throw err;
          throw new AerobakError(call.kind, `${call.action}: ${failureText(err, open.url)}`, {
            cause: err,
            retriable: true,
            location: { file: this.describe(call.key ?? "") },
          });
        } finally {
          open.done();
        }
      },
      this.#retry,
      this.#signal,
    );
  }

  /** One attempt: signs, waits for a connection slot, sends, checks the status. */
  async #open(call: S3Call, payloadHash: string): Promise<OpenResponse> {
    const cfg = await this.#resolve();
    const url = s3RequestUrl(
      { bucket: this.bucket, region: cfg.region, endpoint: this.#options.endpoint },
      call.key,
      call.query,
    );
    const releaseSlot = await this.#slots.acquire();
    const outer = this.#signal;
    const deadline = new RequestDeadline(this.#options.requestTimeoutMs ?? 600000, outer);
    // Both parts are idempotent, so `done` may run on every path that ends the request.
    const done = () => {
      deadline.clear();
      releaseSlot();
    };
    let res: Response;
    try {
      if (outer?.aborted) throw outer.reason ?? new Error("aborted");
      // Signed just before sending, so a retry after a long backoff has a fresh date.
      const signed = signRequest({
        method: call.method,
        url,
        headers: { ...call.headers, "x-amz-content-sha256": payloadHash },
        payloadHash,
        region: cfg.region,
        service: "s3",
        credentials: cfg.credentials,
        date: (this.#options.now ?? (() => new Date()))(),
      });
      res = await fetch(url, {
        method: call.method,
        headers: signed.headers,
        body: call.body as Uint8Array<ArrayBuffer> | undefined,
        signal: deadline.signal,
        redirect: "manual",
      });
    } catch (err) {
      done();
      throw new AerobakError(call.kind, `${call.action}: ${failureText(err, url)}`, {
        cause: err,
        retriable: !(outer?.aborted ?? false),
        location: { file: this.describe(call.key ?? "") },
      });
    }
    if (call.ok.includes(res.status)) return { res, url, done };
    const text = await answerText(res);
    done();
    throw this.#httpError(call, url, res, text);
  }

  #httpError(call: S3Call, url: URL, res: Response, text: string): S3Error {
    const { code: s3Code, message } = xmlErrorFields(text);
    // Not S3's XML (a proxy's page): the status names the failure.
    const code = s3Code !== "" ? s3Code : STATUS_NAMES[res.status] ?? `HTTP${res.status}`;
    const region = res.headers.get("x-amz-bucket-region");
    const hint = region !== null && region !== "" ? ` (the bucket is in region ${region})` : "";
    const retriable = res.status >= 500 || res.status === 429 || RETRIABLE_CODES.has(code);
    const aerobakCode = AUTH_CODES.has(code) ||
        ((res.status === 401 || res.status === 403) && code !== "InvalidObjectState")
      ? "STORAGE_AUTH"
      : res.status === 404 && code !== "NoSuchUpload"
      ? "STORAGE_NOT_FOUND"
      : call.kind;
    return new S3Error(
      aerobakCode,
      `${call.action}: ${res.status} ${code}${
        message === "" ? "" : `: ${message}`
      }${hint} (${call.method} ${url})`,
      { s3Code: code, status: res.status, retriable, file: this.describe(call.key ?? "") },
    );
  }
}

/** What went wrong with a request that got no (complete) answer, and its URL. */
function failureText(err: unknown, url: URL): string {
  return `${errorMessage(err)} (${url})`;
}

function archiveState(head: S3ObjectHead): "available" | "archived" | "restoring" {
  if (head.restore === "ongoing") return "restoring";
  if (head.restore === "done") return "available";
  if (head.storageClass === "GLACIER" || head.storageClass === "DEEP_ARCHIVE") return "archived";
  if (head.archiveStatus === "ARCHIVE_ACCESS" || head.archiveStatus === "DEEP_ARCHIVE_ACCESS") {
    return "archived";
  }
  return "available";
}

/** Runs `fn` on every item, at most `limit` at once; the first failure rejects. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) await fn(items[next++]);
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
