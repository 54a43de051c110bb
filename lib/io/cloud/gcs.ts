/**
 * Google Cloud Storage as an {@linkcode ObjectStore}, over the JSON API with `fetch`: listing
 * with a `/` delimiter, ranged media downloads pinned to the generation first read, simple
 * media uploads for small files, resumable uploads in 256 KiB-aligned chunks for large ones,
 * and deletes. Requests carry an OAuth token from {@linkcode GcsCredentials}, have a time
 * limit, are retried on 408/429/5xx and network errors, and share a per-host connection cap.
 *
 * With `calculateChecksum` (`--gcp-calculate-checksum`) each upload sends its CRC32C
 * (`x-goog-hash`) so Cloud Storage refuses a corrupted upload, and the CRC32C Cloud Storage
 * reports for the new object is compared with the one computed while sending, as backup-go
 * does; on a mismatch the object is deleted and the write fails.
 *
 * @module
 */

import { AerobakError } from "../../errors.ts";
import {
  type MultipartUpload,
  type ObjectInfo,
  type ObjectStore,
  type RequestRetryPolicy,
  withRetry,
} from "../object_store.ts";
import { answerText, emptyStream, errorMessage, heldBody, stripQuery } from "./_http.ts";
import { RequestSlots } from "./_request_slots.ts";
import { GcsCredentials } from "./gcs_auth.ts";
import { crc32c, crc32cBase64 } from "./gcs_crc32c.ts";

/** Chunks of a resumable upload must be multiples of 256 KiB (all but the last). */
export const GCS_CHUNK_ALIGNMENT = 256 * 1024;

/** The public Cloud Storage endpoint. */
export const GCS_DEFAULT_ENDPOINT = "https://storage.googleapis.com";

/** Content type of every object written, as backup-go sets it. */
const CONTENT_TYPE = "application/octet-stream";

/** Options of {@linkcode GcsStore}: every `--gcp-*` flag of asbackup and asrestore. */
export interface GcsStoreOptions {
  /** Bucket name (`--gcp-bucket-name`). */
  bucket: string;
  /**
   * Credentials file, a service-account key or an `authorized_user` file (`--gcp-key-path`).
   * Empty means Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, the gcloud
   * ADC file, then the GCE metadata server.
   * @default {""}
   */
  keyPath?: string;
  /**
   * Endpoint replacing `https://storage.googleapis.com` (`--gcp-endpoint-override`), for
   * emulators and private endpoints. A trailing `/storage/v1/` or `/storage/v1/b` (the
   * forms Google's Go client takes) is accepted and dropped. Without it,
   * `STORAGE_EMULATOR_HOST` (`host:port` or a URL) is used when set, as Google's clients do.
   * @default {"https://storage.googleapis.com"}
   */
  endpoint?: string;
  /**
   * Send no credentials. backup-go talks to a custom endpoint without authentication, so
   * this is on when `endpoint` (or `STORAGE_EMULATOR_HOST`) is set and `keyPath` is not.
   * @default {endpoint or STORAGE_EMULATOR_HOST set, and no keyPath}
   */
  anonymous?: boolean;
  /** Send and check the CRC32C of every upload (`--gcp-calculate-checksum`). @default {false} */
  calculateChecksum?: boolean;
  /**
   * Retries of a failed request (`--gcp-retry-max-attempts`, `--gcp-retry-init-backoff`,
   * `--gcp-retry-backoff-multiplier`, `--gcp-retry-max-backoff`).
   * @default {{ maxAttempts: 10, initialBackoffMs: 60000, multiplier: 2, maxBackoffMs: 90000 }}
   */
  retry?: RequestRetryPolicy;
  /** Requests in flight at once, a download counting until its body is read (0 = no limit). @default {0} */
  maxConnsPerHost?: number;
  /** Time limit of one request in ms, reading the answer included (0 = none). @default {600000} */
  requestTimeoutMs?: number;
  /** Environment variables (credential discovery, `STORAGE_EMULATOR_HOST`). @default {{}} */
  env?: Readonly<Record<string, string>>;
  /** Reads credentials files. @default {Deno.readTextFile} */
  readTextFile?: (path: string) => Promise<string>;
  /** The clock, in ms since the epoch (token expiry). @default {Date.now} */
  now?: () => number;
}

/** The fields of an object resource the store reads. */
interface ObjectResource {
  name?: unknown;
  size?: unknown;
  crc32c?: unknown;
  generation?: unknown;
}

/** One request, described for sending and for messages. */
interface Call {
  method: string;
  url: string;
  /** The verb of messages: `Cannot <action> <target>`. */
  action: string;
  /** What the request is about (`gs://bucket/key`). */
  target: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Statuses that are an answer, not an error. */
  ok: (status: number) => boolean;
  /** Error code for other failures: `STORAGE_WRITE` or `STORAGE_READ`. */
  failCode: "STORAGE_WRITE" | "STORAGE_READ";
  /** Error code of a 404. @default {"STORAGE_NOT_FOUND"} */
  notFoundCode?: string;
}

/** An answer whose body the caller still reads; `release` frees its connection slot. */
interface Answer {
  res: Response;
  release: () => void;
}

/**
 * Cloud Storage under the {@linkcode ObjectStore} contract.
 *
 * @example
 * ```ts ignore
 * const gcs = new GcsStore({ bucket: "my-backups", keyPath: "/secrets/sa.json" });
 * const storage = new ObjectStoreWriter(gcs, "backups/today", { partSize: 5 * 1024 * 1024 });
 * ```
 */
export class GcsStore implements ObjectStore {
  /** Resumable uploads take their chunks strictly in order. */
  readonly maxConcurrentParts: number = 1;
  /** Chunk sizes are multiples of 256 KiB. */
  readonly partAlignment: number = GCS_CHUNK_ALIGNMENT;
  /** The bucket. */
  readonly bucket: string;
  /** The endpoint requests go to (no trailing `/`). */
  readonly endpoint: string;
  /** Whether requests carry no credentials. */
  readonly anonymous: boolean;
  #t: Transport;
  #checksum: boolean;
  #objects: string;
  #uploads: string;
  /** Generation of each object read from its start, so a resumed read sees the same bytes. */
  #generations = new Map<string, string>();

  /**
   * Creates the store; nothing is sent until the first call.
   *
   * @param options Bucket, credentials, endpoint, retries, limits.
   * @throws {TypeError} For an empty bucket name or an endpoint that is not an http(s) URL.
   */
  constructor(options: GcsStoreOptions) {
    if (options.bucket === "" || options.bucket.includes("/")) {
      throw new TypeError(`Cannot use GCS bucket "${options.bucket}": expected a bucket name`);
    }
    const env = options.env ?? {};
    const emulator = env.STORAGE_EMULATOR_HOST ?? "";
    const custom = (options.endpoint ?? "") !== "" || emulator !== "";
    this.bucket = options.bucket;
    this.endpoint = options.endpoint
      ? gcsEndpointBase(options.endpoint)
      : emulator !== ""
      ? gcsEndpointBase(emulator.includes("://") ? emulator : `http://${emulator}`)
      : GCS_DEFAULT_ENDPOINT;
    const keyPath = options.keyPath ?? "";
    this.anonymous = options.anonymous ?? (custom && keyPath === "");
    const retry: RequestRetryPolicy = {
      maxAttempts: 10,
      initialBackoffMs: 60000,
      multiplier: 2,
      maxBackoffMs: 90000,
      ...options.retry,
    };
    const timeoutMs = options.requestTimeoutMs ?? 600000;
    const credentials = this.anonymous ? undefined : new GcsCredentials({
      keyPath,
      env,
      readTextFile: options.readTextFile,
      now: options.now,
      requestTimeoutMs: timeoutMs,
      retry,
    });
    this.#t = new Transport(credentials, retry, timeoutMs, options.maxConnsPerHost ?? 0);
    this.#checksum = options.calculateChecksum ?? false;
    const b = encodeURIComponent(this.bucket);
    this.#objects = `${this.endpoint}/storage/v1/b/${b}/o`;
    this.#uploads = `${this.endpoint}/upload/storage/v1/b/${b}/o`;
  }

  /**
   * The URL of a key.
   *
   * @param key Object key.
   * @returns `gs://bucket/key`.
   */
  describe(key: string): string {
    return `gs://${this.bucket}/${key}`;
  }

  /**
   * Lists the objects right under `prefix`, page by page. Keys ending with `/` (the "folder"
   * placeholders the Cloud Console creates) are left out, as backup-go leaves them out.
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   * @returns The objects, in key order.
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a missing bucket, `STORAGE_AUTH`,
   *   `STORAGE_READ`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const { page, call } of this.#listPages(prefix, "items(name,size)")) {
      const items = Array.isArray(page.items) ? page.items as ObjectResource[] : [];
      for (const item of items) {
        const key = item.name;
        const size = Number(item.size);
        if (typeof key !== "string" || !Number.isSafeInteger(size) || size < 0) {
          throw badAnswer(call, `an item without a name or size (${JSON.stringify(item)})`);
        }
        const rest = key.slice(prefix.length);
        if (!key.startsWith(prefix) || rest === "" || rest.includes("/")) continue;
        yield { key, size };
      }
    }
  }

  /**
   * Lists the prefixes directly under `prefix` (the `prefixes` of a `/`-delimited listing).
   *
   * @param prefix Key prefix (`""` or ending with `/`).
   * @returns The next key segment of each, without `/`.
   * @throws {AerobakError} As {@linkcode GcsStore.list}.
   */
  async *listDirectories(prefix: string): AsyncIterable<string> {
    for await (const { page } of this.#listPages(prefix, "prefixes")) {
      const prefixes = Array.isArray(page.prefixes) ? page.prefixes : [];
      for (const p of prefixes) {
        if (typeof p !== "string" || !p.startsWith(prefix)) continue;
        const name = p.slice(prefix.length).replace(/\/$/, "");
        if (name !== "" && !name.includes("/")) yield name;
      }
    }
  }

  async *#listPages(
    prefix: string,
    fields: string,
  ): AsyncIterable<{ page: { items?: unknown; prefixes?: unknown }; call: Call }> {
    let pageToken = "";
    do {
      const q = new URLSearchParams({
        prefix,
        delimiter: "/",
        fields: `${fields},nextPageToken`,
      });
      if (pageToken !== "") q.set("pageToken", pageToken);
      const call: Call = {
        method: "GET",
        url: `${this.#objects}?${q}`,
        action: "list",
        target: this.describe(prefix),
        ok: (s) => s === 200,
        failCode: "STORAGE_READ",
      };
      const page = await this.#t.json(call) as {
        items?: unknown;
        prefixes?: unknown;
        nextPageToken?: unknown;
      };
      yield { page, call };
      pageToken = typeof page.nextPageToken === "string" ? page.nextPageToken : "";
    } while (pageToken !== "");
  }

  /**
   * Downloads an object from `offset` to its end. A read from 0 remembers the object's
   * generation; a read from further on asks for that generation (and checks the answer's),
   * so an object replaced meanwhile fails with `STORAGE_READ` instead of mixing two versions.
   *
   * @param key Object key.
   * @param offset First byte to read.
   * @returns The bytes; a broken download errors the stream (the reader resumes).
   * @throws {AerobakError} `STORAGE_NOT_FOUND` for a missing object, `STORAGE_AUTH`,
   *   `STORAGE_READ` (a replaced object included).
   */
  read(key: string, offset: number): Promise<ReadableStream<Uint8Array>> {
    const generation = offset > 0 ? this.#generations.get(key) : undefined;
    const q = new URLSearchParams({ alt: "media" });
    if (generation !== undefined) q.set("generation", generation);
    const call: Call = {
      method: "GET",
      url: `${this.#objects}/${encodeURIComponent(key)}?${q}`,
      action: "read",
      target: generation === undefined
        ? this.describe(key)
        : `${this.describe(key)} (generation ${generation}, from byte ${offset})`,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : undefined,
      // 416: the offset is the object's end (a download that broke after its last byte).
      ok: (s) => s === 200 || s === 206 || (s === 416 && offset > 0),
      failCode: "STORAGE_READ",
    };
    const changed = (now: string) =>
      new AerobakError(
        "STORAGE_READ",
        `Cannot resume reading ${this.describe(key)} at byte ${offset}: the object changed ` +
          `since the read started (generation ${generation}, ${now})`,
        { location: { file: this.describe(key) } },
      );
    return withRetry(async () => {
      let answer: Answer;
      try {
        answer = await this.#t.send(call);
      } catch (err) {
        // The generation first read is gone: the object was replaced or deleted.
        if (
          generation !== undefined && err instanceof AerobakError &&
          err.code === "STORAGE_NOT_FOUND"
        ) {
          throw changed("that generation is gone");
        }
        throw err;
      }
      const { res, release } = answer;
      if (res.status === 416) {
        release();
        await res.body?.cancel();
        return emptyStream();
      }
      const gen = res.headers.get("x-goog-generation");
      if (offset === 0 && gen !== null) this.#generations.set(key, gen);
      if (generation !== undefined && gen !== null && gen !== generation) {
        // A server that ignores the generation parameter sends the new object.
        release();
        await res.body?.cancel();
        throw changed(`now generation ${gen}`);
      }
      // A server that ignores Range sends the whole object: skip what was read already.
      // A broken download errors the stream as it is: the resumable reader retries it from
      // where it stopped.
      return heldBody(res, release, { skip: res.status === 200 ? offset : 0 });
    }, this.#t.retry);
  }

  /**
   * Creates or replaces a small object with one media upload.
   *
   * @param key Object key.
   * @param bytes Content.
   * @throws {AerobakError} `STORAGE_WRITE` (checksum mismatch included), `STORAGE_AUTH`,
   *   `STORAGE_NOT_FOUND` for a missing bucket.
   */
  async put(key: string, bytes: Uint8Array): Promise<void> {
    const crc = this.#checksum ? crc32c(bytes) : 0;
    const headers: Record<string, string> = { "content-type": CONTENT_TYPE };
    if (this.#checksum) headers["x-goog-hash"] = `crc32c=${crc32cBase64(crc)}`;
    const call: Call = {
      method: "POST",
      url: `${this.#uploads}?${new URLSearchParams({ uploadType: "media", name: key })}`,
      action: "write",
      target: this.describe(key),
      headers,
      body: bytes,
      ok: (s) => s === 200 || s === 201,
      failCode: "STORAGE_WRITE",
    };
    const resource = await this.#t.json(call) as ObjectResource;
    await this.#checkWritten(key, resource, bytes.length, crc);
  }

  /**
   * Opens a resumable upload session for `key`.
   *
   * @param key Object key.
   * @returns The upload; chunks go in order, one at a time.
   * @throws {AerobakError} `STORAGE_WRITE`, `STORAGE_AUTH`, `STORAGE_NOT_FOUND` for a missing bucket.
   */
  async startUpload(key: string): Promise<MultipartUpload> {
    const call: Call = {
      method: "POST",
      url: `${this.#uploads}?${new URLSearchParams({ uploadType: "resumable", name: key })}`,
      action: "start an upload of",
      target: this.describe(key),
      headers: {
        "content-type": "application/json; charset=UTF-8",
        "x-upload-content-type": CONTENT_TYPE,
      },
      body: JSON.stringify({ name: key, contentType: CONTENT_TYPE }),
      ok: (s) => s === 200 || s === 201,
      failCode: "STORAGE_WRITE",
    };
    const session = await withRetry(async () => {
      const { res, release } = await this.#t.send(call);
      try {
        await res.body?.cancel();
      } finally {
        release();
      }
      return res.headers.get("location");
    }, this.#t.retry);
    if (session === null || !/^https?:\/\//.test(session)) {
      throw badAnswer(call, "no session URI (Location header)");
    }
    return new ResumableUpload(this.#t, session, this.describe(key), {
      checksum: this.#checksum,
      check: (resource, size, crc) => this.#checkWritten(key, resource, size, crc),
      removeObject: () => this.remove(key),
    });
  }

  /**
   * Deletes an object; a missing one is not an error.
   *
   * @param key Object key.
   * @throws {AerobakError} `STORAGE_WRITE`, `STORAGE_AUTH`.
   */
  async remove(key: string): Promise<void> {
    await this.#t.json({
      method: "DELETE",
      url: `${this.#objects}/${encodeURIComponent(key)}`,
      action: "delete",
      target: this.describe(key),
      ok: (s) => s === 200 || s === 204 || s === 404,
      failCode: "STORAGE_WRITE",
    });
  }

  /** Checks the new object's size and (with checksums on) its CRC32C; deletes it on a mismatch. */
  async #checkWritten(
    key: string,
    resource: ObjectResource,
    size: number,
    crc: number,
  ): Promise<void> {
    const where = this.describe(key);
    if (resource.size !== undefined && Number(resource.size) !== size) {
      throw new AerobakError(
        "STORAGE_WRITE",
        `Cannot write ${where}: Cloud Storage stored ${resource.size} bytes, ${size} were sent`,
        { location: { file: where } },
      );
    }
    if (!this.#checksum) return;
    const sent = crc32cBase64(crc);
    if (resource.crc32c === sent) return;
    let removal = "the object was deleted";
    await this.remove(key).catch((err) => {
      removal = `deleting the object failed too: ${(err as Error).message}`;
    });
    throw new AerobakError(
      "STORAGE_WRITE",
      `Cannot write ${where}: checksum mismatch, crc32c ${sent} was sent and Cloud Storage stored ${
        typeof resource.crc32c === "string" ? resource.crc32c : "none"
      }; ${removal}`,
      { location: { file: where } },
    );
  }
}

/**
 * A resumable upload session: each part is sent as one chunk (`Content-Range: bytes a-b/*`,
 * `/total` on the last); the server may keep less than it got (its `Range` answer says how
 * much), and after a failure the session is asked how far it got before sending again.
 */
class ResumableUpload implements MultipartUpload {
  #t: Transport;
  #session: string;
  #target: string;
  #checksum: boolean;
  #check: (resource: ObjectResource, size: number, crc: number) => Promise<void>;
  #removeObject: () => Promise<void>;
  /** Bytes the server has confirmed. */
  #persisted = 0;
  /** Offset of the next part. */
  #partStart = 0;
  #nextIndex = 0;
  #crc = 0;
  /** The object, once the server has made it. */
  #resource?: ObjectResource;

  constructor(
    t: Transport,
    session: string,
    target: string,
    hooks: {
      checksum: boolean;
      check: (resource: ObjectResource, size: number, crc: number) => Promise<void>;
      removeObject: () => Promise<void>;
    },
  ) {
    this.#t = t;
    this.#session = session;
    this.#target = target;
    this.#checksum = hooks.checksum;
    this.#check = hooks.check;
    this.#removeObject = hooks.removeObject;
  }

  async uploadPart(index: number, bytes: Uint8Array, last: boolean): Promise<void> {
    if (index !== this.#nextIndex || this.#resource !== undefined) {
      throw new RangeError(
        `Cannot upload part ${index} of ${this.#target}: expected part ${this.#nextIndex}${
          this.#resource !== undefined ? " (the object is already complete)" : ""
        }`,
      );
    }
    const start = this.#partStart;
    if (this.#checksum) this.#crc = crc32c(bytes, this.#crc);
    await withRetry(async (attempt) => {
      if (attempt > 1) await this.#queryStatus();
      await this.#sendPart(bytes, start, last);
    }, this.#t.retry);
    this.#partStart = start + bytes.length;
    this.#nextIndex++;
  }

  async #sendPart(bytes: Uint8Array, start: number, last: boolean): Promise<void> {
    const end = start + bytes.length;
    while (this.#resource === undefined && this.#persisted < end) {
      if (this.#persisted < start) {
        throw new AerobakError(
          "STORAGE_WRITE",
          `Cannot write ${this.#target}: the upload session holds ${this.#persisted} bytes, fewer than the ${start} already confirmed`,
          { location: { file: this.#target } },
        );
      }
      const from = this.#persisted;
      const headers: Record<string, string> = {
        "content-range": `bytes ${from}-${end - 1}/${last ? end : "*"}`,
      };
      if (last && this.#checksum) headers["x-goog-hash"] = `crc32c=${crc32cBase64(this.#crc)}`;
      await this.#put(headers, bytes.subarray(from - start), "write");
    }
    if (last && this.#resource === undefined) {
      // Every byte is kept but the object is not made yet: tell the session its size.
      await this.#put({ "content-range": `bytes */${end}` }, new Uint8Array(0), "finish");
      if (this.#resource === undefined) {
        throw new AerobakError(
          "STORAGE_WRITE",
          `Cannot finish ${this.#target}: the upload session did not make the object`,
          { location: { file: this.#target } },
        );
      }
    }
  }

  /** Asks the session how many bytes it holds (after a failed or unanswered chunk). */
  async #queryStatus(): Promise<void> {
    await this.#put({ "content-range": "bytes */*" }, new Uint8Array(0), "resume");
  }

  async #put(headers: Record<string, string>, body: Uint8Array, action: string): Promise<void> {
    const call: Call = {
      method: "PUT",
      url: this.#session,
      action,
      target: this.#target,
      headers,
      body,
      ok: (s) => s === 200 || s === 201 || s === 308,
      failCode: "STORAGE_WRITE",
      // The session expired or was cancelled: the upload cannot go on.
      notFoundCode: "STORAGE_WRITE",
    };
    const { res, release } = await this.#t.send(call);
    try {
      if (res.status === 308) {
        this.#persisted = persistedBytes(call, res.headers.get("range"));
        await res.body?.cancel();
        return;
      }
      this.#resource = await readJson(call, res) as ObjectResource;
      this.#persisted = Number(this.#resource.size ?? this.#persisted);
    } finally {
      release();
    }
  }

  async complete(): Promise<void> {
    if (this.#resource === undefined) {
      throw new AerobakError(
        "STORAGE_WRITE",
        `Cannot finish ${this.#target}: its last part was not uploaded`,
        { location: { file: this.#target } },
      );
    }
    await this.#check(this.#resource, this.#partStart, this.#crc);
  }

  async abort(): Promise<void> {
    if (this.#resource !== undefined) {
      // The last chunk made the object but the upload failed afterwards: take it back.
      await this.#removeObject();
      return;
    }
    // One attempt, no retries: a session left behind expires by itself after a week.
    const { res, release } = await this.#t.send({
      method: "DELETE",
      url: this.#session,
      action: "cancel the upload of",
      target: this.#target,
      // 499 is Cloud Storage's answer to a cancelled session; 404/410: already gone.
      ok: (s) => s === 200 || s === 204 || s === 499 || s === 404 || s === 410,
      failCode: "STORAGE_WRITE",
    });
    try {
      await res.body?.cancel();
    } finally {
      release();
    }
  }
}

/**
 * Sends requests: credentials, time limit, connection cap, error mapping. One `send` is one
 * attempt; `json` retries.
 */
class Transport {
  readonly retry: RequestRetryPolicy;
  #credentials?: GcsCredentials;
  #timeoutMs: number;
  #slots: RequestSlots;

  constructor(
    credentials: GcsCredentials | undefined,
    retry: RequestRetryPolicy,
    timeoutMs: number,
    maxConns: number,
  ) {
    this.#credentials = credentials;
    this.retry = retry;
    this.#timeoutMs = timeoutMs;
    this.#slots = new RequestSlots(maxConns);
  }

  /** Sends with retries and returns the parsed JSON answer (`{}` for an empty body). */
  json(call: Call): Promise<unknown> {
    return withRetry(async () => {
      const { res, release } = await this.send(call);
      try {
        return await readJson(call, res);
      } finally {
        release();
      }
    }, this.retry);
  }

  /**
   * Sends once. An accepted answer is returned with its body unread and its connection slot
   * held until `release`; any other answer is thrown as an {@linkcode AerobakError}.
   */
  async send(call: Call): Promise<Answer> {
    const headers = new Headers(call.headers);
    if (this.#credentials !== undefined) {
      for (const [k, v] of Object.entries(await this.#credentials.headers())) headers.set(k, v);
    }
    const release = await this.#slots.acquire();
    try {
      let res: Response;
      try {
        res = await fetch(call.url, {
          method: call.method,
          headers,
          body: call.body as BodyInit | undefined,
          // Cloud Storage answers 308 to an unfinished upload; it is not a redirect.
          redirect: "manual",
          signal: this.#timeoutMs > 0 ? AbortSignal.timeout(this.#timeoutMs) : undefined,
        });
      } catch (err) {
        throw requestFailed(call, err, this.#timeoutMs);
      }
      if (call.ok(res.status)) return { res, release };
      const text = await answerText(res);
      if (res.status === 401) this.#credentials?.invalidate();
      throw statusError(call, res, text);
    } catch (err) {
      release();
      throw err;
    }
  }
}

/**
 * The base URL of an endpoint: http(s) only, without a trailing `/`, `/storage/v1` or
 * `/storage/v1/b` (what Google's Go client is given), a proxy path prefix kept.
 *
 * @param endpoint The endpoint as given.
 * @returns For example `http://127.0.0.1:4443` for `http://127.0.0.1:4443/storage/v1/b`.
 * @throws {TypeError} When it is not an http or https URL.
 */
export function gcsEndpointBase(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    url = new URL("invalid:");
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new TypeError(
      `Cannot use GCS endpoint "${endpoint}": expected an http or https URL such as http://localhost:4443`,
    );
  }
  const path = url.pathname.replace(/\/+$/, "").replace(/\/storage\/v1(\/b)?$/, "");
  return `${url.origin}${path}`;
}

async function readJson(call: Call, res: Response): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw requestFailed(call, err, 0);
  }
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badAnswer(call, `not JSON: ${clip(text)}`);
  }
}

/** The byte count a 308 answer's `Range: bytes=0-N` confirms (no header: none). */
function persistedBytes(call: Call, range: string | null): number {
  if (range === null) return 0;
  const m = /^bytes=0-(\d+)$/.exec(range.trim());
  if (m === null) throw badAnswer(call, `a Range header "${range}"`);
  return Number(m[1]) + 1;
}

/** A failed fetch (network error or time limit): worth another attempt. */
function requestFailed(call: Call, err: unknown, timeoutMs: number): AerobakError {
  const timedOut = (err as Error | null)?.name === "TimeoutError";
  const why = timedOut ? `no answer within ${timeoutMs} ms` : errorMessage(err);
  return new AerobakError(
    call.failCode,
    `Cannot ${call.action} ${call.target}: ${why} (${call.method} ${stripQuery(call.url)})`,
    { cause: err, location: { file: call.target }, retriable: true },
  );
}

/** An error answer, with Cloud Storage's reason and message. */
function statusError(call: Call, res: Response, text: string): AerobakError {
  const s = res.status;
  const code = s === 401 || s === 403
    ? "STORAGE_AUTH"
    : s === 404
    ? call.notFoundCode ?? "STORAGE_NOT_FOUND"
    : call.failCode;
  return new AerobakError(
    code,
    `Cannot ${call.action} ${call.target}: ${s} ${res.statusText}${
      gcsErrorText(text)
    } (${call.method} ${stripQuery(call.url)})`,
    {
      location: { file: call.target },
      retriable: s === 408 || s === 429 || s >= 500,
    },
  );
}

function badAnswer(call: Call, what: string): AerobakError {
  return new AerobakError(
    call.failCode,
    `Cannot ${call.action} ${call.target}: Cloud Storage answered with ${what} (${call.method} ${
      stripQuery(call.url)
    })`,
    { location: { file: call.target } },
  );
}

/** `: (reason) message` from a JSON API error body, or the start of a body of another kind. */
function gcsErrorText(text: string): string {
  if (text.trim() === "") return "";
  try {
    const err = JSON.parse(text)?.error;
    if (typeof err?.message === "string") {
      const reason = err.errors?.[0]?.reason;
      return `: ${typeof reason === "string" ? `(${reason}) ` : ""}${err.message}`;
    }
  } catch {
    // Not JSON (a proxy's page): quote its start.
  }
  return `: ${clip(text)}`;
}

function clip(text: string): string {
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
