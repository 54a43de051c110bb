/**
 * The object stores the cloud cross-checks run against, each as one {@linkcode CloudTarget}:
 * the independent servers (s3rver, Azurite) and aerobak's own in-process fakes (S3, Azure
 * Blob, GCS), all reached by aerobak through a {@linkcode FaultProxy} and read or written
 * directly with the provider's official SDK (`@aws-sdk/client-s3`, `@azure/storage-blob`,
 * `@google-cloud/storage`), the second opinion on what each API means.
 *
 * @module
 */

import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import { Buffer } from "node:buffer";
import { AzureBlobStore } from "../lib/io/cloud/azure.ts";
import { startAzureTestServer } from "../lib/io/cloud/azure_test_server.ts";
import { GcsStore } from "../lib/io/cloud/gcs.ts";
import { startGcsTestServer } from "../lib/io/cloud/gcs_test_server.ts";
import { S3Store } from "../lib/io/cloud/s3.ts";
import { startS3TestServer } from "../lib/io/cloud/s3_test_server.ts";
import type { ObjectInfo, ObjectStore } from "../lib/io/object_store.ts";
import { startAzurite, startS3rver } from "./_cloud_peers.ts";
import { type FaultProxy, type ProxiedRequest, startFaultProxy } from "./_fault_proxy.ts";

/** The provider's SDK, talking to the server directly (not through the proxy). */
export interface SdkClient {
  /** Every object directly under `prefix` (delimiter `/`), all pages, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** An object's bytes. */
  get(key: string): Promise<Uint8Array>;
  /** Creates or replaces an object in one request. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * Uploads an object in parts of `partSize` bytes: an S3 multipart upload, Azure blocks
   * and a block list, a GCS resumable upload in chunks.
   */
  putInParts(key: string, bytes: Uint8Array, partSize: number): Promise<void>;
}

/** One store under test. */
export interface CloudTarget extends AsyncDisposable {
  /** Its name in test names (`s3rver`, `S3 fake`, …). */
  name: string;
  /** Which provider. */
  provider: "s3" | "azure" | "gcs";
  /** Whether it is a server aerobak did not write. */
  independent: boolean;
  /** Objects a listing page holds at most (a listing of more pages). */
  pageSize: number;
  /** The proxy between aerobak and the server. */
  proxy: FaultProxy;
  /** The SDK, straight to the server. */
  sdk: SdkClient;
  /**
   * What wrong credentials are here: a wrong secret, or a wrong key id where the server does
   * not check signatures (s3rver checks no SigV4 signature).
   */
  wrong: "secret" | "key id";
  /**
   * aerobak's store, through the proxy, retrying quickly.
   *
   * @param credentials `"wrong"` for a store with wrong credentials (see `wrong`).
   */
  store(credentials?: "right" | "wrong"): ObjectStore;
  /**
   * The CLI flags that reach the store through the proxy.
   *
   * @param credentials `"wrong"` for wrong credentials (see `wrong`).
   */
  flags(credentials?: "right" | "wrong"): string[];
  /** Whether a proxied request is the download (GET) of `key`. */
  isRead(r: ProxiedRequest, key: string): boolean;
  /** Whether a proxied request uploads a part (not the first) of a multipart upload. */
  isLaterPart(r: ProxiedRequest): boolean;
}

/** Retries of the stores under test: quick, but as many as a real run. */
const FAST_RETRY = { maxAttempts: 5, initialBackoffMs: 5, multiplier: 2, maxBackoffMs: 50 };

/** A target before it is started. */
export interface TargetKind extends Pick<CloudTarget, "name" | "provider" | "independent"> {
  /** Starts the server, its proxy and its SDK client. */
  start(): Promise<CloudTarget>;
}

/** The five targets, each started by its test. */
export const TARGETS: readonly TargetKind[] = [
  { name: "s3rver", provider: "s3", independent: true, start: s3rverTarget },
  { name: "S3 fake", provider: "s3", independent: false, start: s3FakeTarget },
  { name: "Azurite", provider: "azure", independent: true, start: azuriteTarget },
  { name: "Azure fake", provider: "azure", independent: false, start: azureFakeTarget },
  { name: "GCS fake", provider: "gcs", independent: false, start: gcsFakeTarget },
];

/** A request's target path, decoded, without its query. */
function decodedPath(r: ProxiedRequest): string {
  const q = r.target.indexOf("?");
  try {
    return decodeURIComponent(q < 0 ? r.target : r.target.slice(0, q));
  } catch {
    return r.target;
  }
}

function s3Sdk(where: {
  url: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}): SdkClient {
  const client = new S3Client({
    endpoint: where.url,
    region: where.region,
    forcePathStyle: true,
    credentials: { accessKeyId: where.accessKeyId, secretAccessKey: where.secretAccessKey },
  });
  const Bucket = where.bucket;
  return {
    async list(prefix) {
      const out: ObjectInfo[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: prefix, Delimiter: "/", ContinuationToken }),
        );
        for (const c of page.Contents ?? []) out.push({ key: c.Key!, size: Number(c.Size) });
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken !== undefined);
      return sorted(out);
    },
    async get(key) {
      const r = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      return await r.Body!.transformToByteArray();
    },
    async put(key, bytes) {
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: bytes }));
    },
    async putInParts(key, bytes, partSize) {
      const { UploadId } = await client.send(
        new CreateMultipartUploadCommand({ Bucket, Key: key }),
      );
      const Parts = [];
      for (let off = 0, n = 1; off < bytes.length; off += partSize, n++) {
        const part = await client.send(
          new UploadPartCommand({
            Bucket,
            Key: key,
            UploadId,
            PartNumber: n,
            Body: bytes.subarray(off, off + partSize),
          }),
        );
        Parts.push({ PartNumber: n, ETag: part.ETag });
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts },
        }),
      );
    },
  };
}

function s3Target(
  name: string,
  independent: boolean,
  server: {
    url: string;
    bucket: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
  },
  wrong: "secret" | "key id",
  stop: () => PromiseLike<void>,
): CloudTarget {
  const proxy = startFaultProxy(server.url);
  const secret = (c: "right" | "wrong") =>
    c === "wrong" && wrong === "secret" ? "wrong/secret" : server.secretAccessKey;
  const keyId = (c: "right" | "wrong") =>
    c === "wrong" && wrong === "key id" ? "AKIDWRONG" : server.accessKeyId;
  return {
    name,
    provider: "s3",
    independent,
    wrong,
    pageSize: 1000,
    proxy,
    sdk: s3Sdk(server),
    store: (c = "right") =>
      new S3Store({
        bucket: server.bucket,
        region: server.region,
        endpoint: proxy.url,
        accessKeyId: keyId(c),
        secretAccessKey: secret(c),
        retry: FAST_RETRY,
      }),
    flags: (c = "right") => [
      "--s3-bucket-name",
      server.bucket,
      "--s3-region",
      server.region,
      "--s3-endpoint-override",
      proxy.url,
      "--s3-access-key-id",
      keyId(c),
      "--s3-secret-access-key",
      secret(c),
      "--s3-retry-max-backoff",
      "50",
    ],
    isRead: (r, key) => r.method === "GET" && decodedPath(r) === `/${server.bucket}/${key}`,
    isLaterPart: (r) => r.method === "PUT" && /[?&]partNumber=([2-9]|\d\d)/.test(r.target),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await stop();
    },
  };
}

async function s3rverTarget(): Promise<CloudTarget> {
  const peer = await startS3rver();
  return s3Target("s3rver", true, peer, "key id", () => peer[Symbol.asyncDispose]());
}

async function s3FakeTarget(): Promise<CloudTarget> {
  // Parts as small as the tests' 1 MiB chunks are accepted (S3 wants 5 MiB).
  const fake = await startS3TestServer({ minPartSize: 1 });
  return s3Target("S3 fake", false, fake, "secret", () => fake.close());
}

function azureTarget(
  name: string,
  independent: boolean,
  server: { url: string; account: string; accountKey: string },
  container: string,
  stop: () => PromiseLike<void>,
): CloudTarget {
  const origin = new URL(server.url);
  const proxy = startFaultProxy(origin.origin);
  const endpoint = `${proxy.url}${origin.pathname}`;
  const wrongKey = btoa("not the account key, 32 bytes..");
  const key = (c: "right" | "wrong") => c === "right" ? server.accountKey : wrongKey;
  const service = new BlobServiceClient(
    server.url,
    new StorageSharedKeyCredential(server.account, server.accountKey),
  );
  const blobs = service.getContainerClient(container);
  const sdk: SdkClient = {
    async list(prefix) {
      const out: ObjectInfo[] = [];
      for await (const item of blobs.listBlobsByHierarchy("/", { prefix })) {
        if (item.kind === "blob") {
          out.push({ key: item.name, size: Number(item.properties.contentLength) });
        }
      }
      return sorted(out);
    },
    async get(k) {
      return new Uint8Array(await blobs.getBlobClient(k).downloadToBuffer());
    },
    async put(k, bytes) {
      await blobs.getBlockBlobClient(k).upload(bytes, bytes.length);
    },
    async putInParts(k, bytes, partSize) {
      const blob = blobs.getBlockBlobClient(k);
      const ids: string[] = [];
      for (let off = 0; off < bytes.length; off += partSize) {
        const id = btoa(`block-${String(ids.length).padStart(6, "0")}`);
        const part = bytes.subarray(off, off + partSize);
        await blob.stageBlock(id, part, part.length);
        ids.push(id);
      }
      await blob.commitBlockList(ids);
    },
  };
  return {
    name,
    provider: "azure",
    independent,
    wrong: "secret",
    pageSize: 5000,
    proxy,
    sdk,
    store: (c = "right") =>
      new AzureBlobStore({
        endpoint,
        containerName: container,
        accountName: server.account,
        accountKey: key(c),
        retryMaxAttempts: FAST_RETRY.maxAttempts - 1,
        retryDelayMs: FAST_RETRY.initialBackoffMs,
        retryMaxDelayMs: FAST_RETRY.maxBackoffMs,
      }),
    flags: (c = "right") => [
      "--azure-endpoint",
      endpoint,
      "--azure-container-name",
      container,
      "--azure-account-name",
      server.account,
      "--azure-account-key",
      key(c),
      "--azure-retry-delay",
      "5",
      "--azure-retry-max-delay",
      "50",
    ],
    isRead: (r, k) =>
      r.method === "GET" && decodedPath(r) === `${origin.pathname}/${container}/${k}`,
    isLaterPart: (r) => r.method === "PUT" && /[?&]comp=block(&|$)/.test(r.target),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await stop();
    },
  };
}

async function azuriteTarget(): Promise<CloudTarget> {
  const peer = await startAzurite();
  const container = "backups";
  try {
    await BlobServiceClient.fromConnectionString(peer.connectionString)
      .getContainerClient(container).create();
  } catch (err) {
    await peer[Symbol.asyncDispose]();
    throw err;
  }
  return azureTarget("Azurite", true, peer, container, () => peer[Symbol.asyncDispose]());
}

async function azureFakeTarget(): Promise<CloudTarget> {
  const fake = await startAzureTestServer();
  return azureTarget("Azure fake", false, fake, fake.container, () => fake.close());
}

async function gcsFakeTarget(): Promise<CloudTarget> {
  const fake = await startGcsTestServer({ requireAuth: false });
  const proxy = startFaultProxy(fake.url);
  const bucket = "test-bucket";
  const files = new Storage({ apiEndpoint: fake.url, projectId: "test-project" }).bucket(bucket);
  const sdk: SdkClient = {
    async list(prefix) {
      const [found] = await files.getFiles({ prefix, delimiter: "/", autoPaginate: true });
      return sorted(found.map((f) => ({ key: f.name, size: Number(f.metadata.size) })));
    },
    async get(key) {
      const [bytes] = await files.file(key).download();
      return new Uint8Array(bytes);
    },
    async put(key, bytes) {
      await files.file(key).save(Buffer.from(bytes), { resumable: false });
    },
    async putInParts(key, bytes, partSize) {
      await new Promise<void>((resolve, reject) => {
        const out = files.file(key).createWriteStream({ resumable: true, chunkSize: partSize });
        out.on("error", reject).on("finish", resolve);
        out.end(Buffer.from(bytes));
      });
    },
  };
  return {
    name: "GCS fake",
    provider: "gcs",
    independent: false,
    wrong: "secret",
    pageSize: 1000,
    proxy,
    sdk,
    // The fake takes no credentials when started without any (as an emulator).
    store: () => new GcsStore({ bucket, endpoint: proxy.url, retry: FAST_RETRY }),
    flags: () => [
      "--gcp-bucket-name",
      bucket,
      "--gcp-endpoint-override",
      proxy.url,
      "--gcp-retry-init-backoff",
      "5",
      "--gcp-retry-max-backoff",
      "50",
    ],
    isRead: (r, key) =>
      r.method === "GET" && decodedPath(r) === `/storage/v1/b/${bucket}/o/${key}` &&
      /[?&]alt=media/.test(r.target),
    isLaterPart: (r) =>
      r.method === "PUT" && /[?&]upload_id=/.test(r.target) &&
      /\r\ncontent-range: bytes [1-9]\d*-/i.test(r.head),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await fake.close();
    },
  };
}

function sorted(objects: ObjectInfo[]): ObjectInfo[] {
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
