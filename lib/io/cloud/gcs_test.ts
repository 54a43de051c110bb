import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { AerobakError } from "../../errors.ts";
import { assertListsShardDirectories, chunked, collect } from "../_test_helpers.ts";
import { ObjectStoreReader, ObjectStoreWriter, type RequestRetryPolicy } from "../object_store.ts";
import { GCS_CHUNK_ALIGNMENT, gcsEndpointBase, GcsStore, type GcsStoreOptions } from "./gcs.ts";
import { crc32c, crc32cBase64 } from "./gcs_crc32c.ts";
import {
  type GcsTestServer,
  type GcsTestServerOptions,
  startGcsTestServer,
} from "./gcs_test_server.ts";

const KEYS = generateKeyPairSync("rsa", { modulusLength: 2048 });
const EMAIL = "backup@test-project.iam.gserviceaccount.com";
/** Retries without waiting, so fault tests stay fast. */
const FAST: RequestRetryPolicy = {
  maxAttempts: 4,
  initialBackoffMs: 1,
  multiplier: 1,
  maxBackoffMs: 1,
};
const KIB = 1024;

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

function serviceAccountJson(tokenUri: string, key: KeyObject = KEYS.privateKey): string {
  return JSON.stringify({
    type: "service_account",
    project_id: "test-project",
    private_key_id: "0123456789abcdef",
    private_key: key.export({ type: "pkcs8", format: "pem" }),
    client_email: EMAIL,
    client_id: "1234567890",
    token_uri: tokenUri,
  });
}

/** A `readTextFile` over an in-memory set of files. */
function files(map: Record<string, string>): (path: string) => Promise<string> {
  return (path) =>
    path in map
      ? Promise.resolve(map[path])
      : Promise.reject(new Deno.errors.NotFound(`No such file or directory: ${path}`));
}

async function withGcs(
  serverOptions: GcsTestServerOptions,
  storeOptions: Partial<GcsStoreOptions>,
  fn: (gcs: GcsTestServer, store: GcsStore) => Promise<void>,
): Promise<void> {
  await using gcs = await startGcsTestServer({ publicKey: KEYS.publicKey, ...serverOptions });
  const store = new GcsStore({
    bucket: "test-bucket",
    endpoint: gcs.url,
    keyPath: "/keys/sa.json",
    readTextFile: files({ "/keys/sa.json": serviceAccountJson(gcs.tokenUri) }),
    retry: FAST,
    ...storeOptions,
  });
  await fn(gcs, store);
}

function writeAll(w: WritableStream<Uint8Array>, data: Uint8Array, step: number): Promise<void> {
  return chunked(data, [step]).pipeTo(w);
}

async function keys(store: GcsStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(`${o.key}:${o.size}`);
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: string, ...parts: (string | RegExp)[]) {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof AerobakError, `expected an AerobakError, got ${err}`);
  assert.equal(err.code, code, err.message);
  for (const part of parts) {
    if (typeof part === "string") assert.ok(err.message.includes(part), err.message);
    else assert.match(err.message, part);
  }
  return err;
}

Deno.test("gcsEndpointBase() accepts the endpoint forms Google's clients take", () => {
  assert.equal(gcsEndpointBase("https://storage.googleapis.com"), "https://storage.googleapis.com");
  assert.equal(gcsEndpointBase("http://127.0.0.1:4443/storage/v1/b"), "http://127.0.0.1:4443");
  assert.equal(gcsEndpointBase("http://localhost:4443/storage/v1/"), "http://localhost:4443");
  assert.equal(gcsEndpointBase("https://proxy.example/gcs/"), "https://proxy.example/gcs");
  assert.throws(() => gcsEndpointBase("localhost:4443"), TypeError);
  assert.throws(() => gcsEndpointBase("ftp://x"), TypeError);
  assert.throws(() => new GcsStore({ bucket: "" }), TypeError);
});

Deno.test("GcsStore.listDirectories() lists the prefixes under a prefix, page by page", async () => {
  await withGcs({ pageSize: 2 }, {}, (_gcs, store) => assertListsShardDirectories(store));
});

Deno.test("GcsStore lists, puts, reads and removes objects with one service-account token", async () => {
  await withGcs({ pageSize: 2 }, {}, async (gcs, store) => {
    await store.put("bk/a.asb", bytes(10));
    await store.put("bk/b.asb", bytes(20, 2));
    await store.put("bk/c.asb", bytes(0));
    await store.put("bk/sub/deep.asb", bytes(5));
    await store.put("bk/", new Uint8Array(0)); // a console "folder" placeholder
    await store.put("other.asb", bytes(3));
    // Pages of two entries: objects, the "bk/sub/" prefix and the placeholder are spread over them.
    assert.deepEqual(await keys(store, "bk/"), ["bk/a.asb:10", "bk/b.asb:20", "bk/c.asb:0"]);
    assert.deepEqual(await keys(store, ""), ["other.asb:3"]);
    assert.deepEqual(await keys(store, "none/"), []);
    assert.deepEqual(await collect(await store.read("bk/b.asb", 0)), bytes(20, 2));
    assert.deepEqual(await collect(await store.read("bk/b.asb", 5)), bytes(20, 2).subarray(5));
    // From the last byte on: Cloud Storage answers 416, which is an empty rest.
    assert.deepEqual(await collect(await store.read("bk/b.asb", 20)), new Uint8Array(0));
    await store.remove("bk/a.asb");
    await store.remove("bk/a.asb"); // missing: not an error
    assert.equal(gcs.objects.has("bk/a.asb"), false);
    await rejectsWith(
      store.read("bk/a.asb", 0),
      "STORAGE_NOT_FOUND",
      "gs://test-bucket/bk/a.asb",
      "404",
      "No such object",
    );
    assert.equal(gcs.tokensIssued(), 1);
    const storageCalls = gcs.requests.filter((r) => r.path !== "/token");
    assert.ok(
      storageCalls.every((r) => /^Bearer ya29\.fake-/.test(r.headers.get("authorization") ?? "")),
    );
    assert.equal(store.describe("x/y.asb"), "gs://test-bucket/x/y.asb");
    assert.equal(gcs.objects.get("other.asb")?.length, 3);
  });
});

Deno.test("GcsStore uploads a large file in 256 KiB-aligned resumable chunks", async () => {
  await withGcs({}, {}, async (gcs, store) => {
    // 300 KiB parts are rounded up to 512 KiB.
    const w = new ObjectStoreWriter(store, "bk", { partSize: 300 * KIB, uploadConcurrency: 4 });
    const data = bytes(1300 * KIB, 3);
    await writeAll(await w.open("big.asb"), data, 100_000);
    assert.deepEqual(gcs.objects.get("bk/big.asb"), data);
    const ranges = gcs.requests.filter((r) => r.method === "PUT").map((r) =>
      r.headers.get("content-range")
    );
    assert.deepEqual(ranges, [
      `bytes 0-${512 * KIB - 1}/*`,
      `bytes ${512 * KIB}-${1024 * KIB - 1}/*`,
      `bytes ${1024 * KIB}-${1300 * KIB - 1}/${1300 * KIB}`,
    ]);
    const start = gcs.requests.find((r) => r.query.get("uploadType") === "resumable");
    assert.equal(start?.query.get("name"), "bk/big.asb");
    assert.equal(start?.headers.get("x-upload-content-type"), "application/octet-stream");
    assert.equal(gcs.openSessions(), 0);
    assert.equal(store.partAlignment, GCS_CHUNK_ALIGNMENT);
    assert.equal(store.maxConcurrentParts, 1);
    // An object of exactly two parts ends with a full last chunk, never an empty one.
    await writeAll(await w.open("even.asb"), bytes(1024 * KIB, 4), 65536);
    assert.deepEqual(gcs.objects.get("bk/even.asb"), bytes(1024 * KIB, 4));
  });
});

Deno.test("GcsStore resends what a session did not keep and asks a session where it stopped", async () => {
  await withGcs({}, {}, async (gcs, store) => {
    gcs.faults.shortPersistCount = 1;
    gcs.faults.loseAnswerCount = 1;
    const w = new ObjectStoreWriter(store, "", { partSize: 512 * KIB });
    const data = bytes(1200 * KIB, 5);
    await writeAll(await w.open("f.asb"), data, 77_777);
    assert.deepEqual(gcs.objects.get("f.asb"), data);
    const puts = gcs.requests.filter((r) => r.method === "PUT").map((r) =>
      r.headers.get("content-range")
    );
    assert.deepEqual(puts, [
      `bytes 0-${512 * KIB - 1}/*`, // kept 256 KiB of it (308 Range: bytes=0-262143)
      `bytes ${256 * KIB}-${512 * KIB - 1}/*`, // the rest; stored, but the answer was lost (503)
      "bytes */*", // where did it stop? (308 Range: bytes=0-524287)
      `bytes ${512 * KIB}-${1024 * KIB - 1}/*`,
      `bytes ${1024 * KIB}-${1200 * KIB - 1}/${1200 * KIB}`,
    ]);
  });
});

Deno.test("GcsStore retries 5xx answers and then names the URL and Cloud Storage's reason", async () => {
  await withGcs({}, {}, async (gcs, store) => {
    gcs.faults.failCount = 3;
    await store.put("a.asb", bytes(5));
    assert.deepEqual(await keys(store, ""), ["a.asb:5"]);
    gcs.faults.failCount = 4;
    gcs.faults.failStatus = 429;
    const err = await rejectsWith(
      keys(store, "bk/"),
      "STORAGE_READ",
      "Cannot list gs://test-bucket/bk/: 429",
      "(backendError) We encountered an internal error",
      `GET ${gcs.url}/storage/v1/b/test-bucket/o`,
    );
    assert.equal(err.retriable, true);
    gcs.faults.failCount = 1;
    gcs.faults.failStatus = 400;
    const bad = await rejectsWith(
      store.remove("a.asb"),
      "STORAGE_WRITE",
      "Cannot delete gs://test-bucket/a.asb: 400",
    );
    assert.equal(bad.retriable, false);
    assert.equal(gcs.objects.has("a.asb"), true);
  });
});

Deno.test("GcsStore maps a missing bucket to STORAGE_NOT_FOUND", async () => {
  await withGcs({}, { bucket: "no-such-bucket" }, async (_gcs, store) => {
    await rejectsWith(
      keys(store, ""),
      "STORAGE_NOT_FOUND",
      "gs://no-such-bucket/",
      "The specified bucket does not exist",
    );
    await rejectsWith(
      store.put("x.asb", bytes(1)),
      "STORAGE_NOT_FOUND",
      "Cannot write gs://no-such-bucket/x.asb",
    );
  });
});

Deno.test("GcsStore reports a JWT the token endpoint refuses as STORAGE_AUTH", async () => {
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  await using gcs = await startGcsTestServer({ publicKey: KEYS.publicKey });
  const store = new GcsStore({
    bucket: "test-bucket",
    endpoint: gcs.url,
    keyPath: "/k.json",
    readTextFile: files({ "/k.json": serviceAccountJson(gcs.tokenUri, other) }),
    retry: FAST,
  });
  const err = await rejectsWith(
    keys(store, ""),
    "STORAGE_AUTH",
    `from ${gcs.tokenUri} for service account ${EMAIL} (key file /k.json): 400 invalid_grant: Invalid JWT Signature.`,
  );
  assert.equal(err.retriable, false);
  // Nothing reached the bucket without a token.
  assert.equal(gcs.requests.filter((r) => r.path !== "/token").length, 0);
});

Deno.test("GcsStore refuses unusable credentials files with STORAGE_AUTH naming the file", async () => {
  await using gcs = await startGcsTestServer({ publicKey: KEYS.publicKey });
  const cases: Array<[string, string | undefined, string]> = [
    ["/missing.json", undefined, "Cannot read the Google credentials in key file /missing.json"],
    ["/bad.json", "{not json", "key file /bad.json: expected a JSON object"],
    ["/ext.json", '{"type":"external_account"}', 'type "external_account" is not supported'],
    ["/nokey.json", '{"type":"service_account","client_email":"a@b"}', '"private_key" is missing'],
    [
      "/pem.json",
      '{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n"}',
      '"private_key" is not a PEM private key',
    ],
  ];
  for (const [path, text, message] of cases) {
    const store = new GcsStore({
      bucket: "test-bucket",
      endpoint: gcs.url,
      keyPath: path,
      readTextFile: files(text === undefined ? {} : { [path]: text }),
      retry: FAST,
    });
    await rejectsWith(store.put("x.asb", bytes(1)), "STORAGE_AUTH", message);
  }
  assert.equal(gcs.requests.length, 0);
});

Deno.test("GcsStore answers a 401 with STORAGE_AUTH and fetches a new token for the next call", async () => {
  await withGcs({}, {}, async (gcs, store) => {
    await store.put("a.asb", bytes(4));
    gcs.revokeTokens();
    const err = await rejectsWith(
      store.put("b.asb", bytes(4)),
      "STORAGE_AUTH",
      "401",
      "(authError) Invalid Credentials",
    );
    assert.equal(err.retriable, false);
    await store.put("b.asb", bytes(4));
    assert.equal(gcs.tokensIssued(), 2);
    assert.equal(gcs.objects.has("b.asb"), true);
  });
});

Deno.test("GcsStore renews its token a minute before it expires", async () => {
  let clock = 1_750_000_000_000;
  const now = () => clock;
  await withGcs({ now, tokenLifetimeS: 3600 }, { now }, async (gcs, store) => {
    gcs.faults.tokenFailCount = 1; // a 503 from the token endpoint is retried
    await store.put("a.asb", bytes(1));
    clock += 3500_000;
    await store.put("b.asb", bytes(1));
    assert.equal(gcs.tokensIssued(), 1);
    clock += 50_000; // 50 s left: renewed before use
    await store.put("c.asb", bytes(1));
    assert.equal(gcs.tokensIssued(), 2);
    // Concurrent calls share one token request.
    clock += 3600_000;
    await Promise.all([
      store.put("d.asb", bytes(1)),
      store.put("e.asb", bytes(1)),
      keys(store, ""),
    ]);
    assert.equal(gcs.tokensIssued(), 3);
  });
});

Deno.test("GcsStore finds Application Default Credentials like Google's clients", async (t) => {
  await using gcs = await startGcsTestServer({
    publicKey: KEYS.publicKey,
    authorizedUser: {
      clientId: "cid.apps.googleusercontent.com",
      clientSecret: "s3cr3t",
      refreshToken: "1//rt",
    },
    metadata: true,
  });
  const userFile = JSON.stringify({
    type: "authorized_user",
    client_id: "cid.apps.googleusercontent.com",
    client_secret: "s3cr3t",
    refresh_token: "1//rt",
    quota_project_id: "billing-project",
    token_uri: gcs.tokenUri,
  });
  const base = { bucket: "test-bucket", endpoint: gcs.url, anonymous: false, retry: FAST };
  await t.step("GOOGLE_APPLICATION_CREDENTIALS names a service-account key", async () => {
    const store = new GcsStore({
      ...base,
      env: { GOOGLE_APPLICATION_CREDENTIALS: "/sa.json", HOME: "/home/op" },
      readTextFile: files({ "/sa.json": serviceAccountJson(gcs.tokenUri) }),
    });
    await store.put("sa.asb", bytes(2));
    assert.equal(gcs.objects.has("sa.asb"), true);
  });
  await t.step("the gcloud ADC file holds user credentials and a quota project", async () => {
    const store = new GcsStore({
      ...base,
      env: { HOME: "/home/op" },
      readTextFile: files({
        "/home/op/.config/gcloud/application_default_credentials.json": userFile,
      }),
    });
    await store.put("user.asb", bytes(2));
    const last = gcs.requests.at(-1)!;
    assert.equal(last.headers.get("x-goog-user-project"), "billing-project");
    const cfg = new GcsStore({
      ...base,
      env: { HOME: "/home/op", CLOUDSDK_CONFIG: "/etc/gcloud" },
      readTextFile: files({ "/etc/gcloud/application_default_credentials.json": userFile }),
    });
    await cfg.remove("user.asb");
    assert.equal(gcs.objects.has("user.asb"), false);
  });
  await t.step("a wrong refresh token is refused", async () => {
    const store = new GcsStore({
      ...base,
      env: { HOME: "/h" },
      readTextFile: files({
        "/h/.config/gcloud/application_default_credentials.json": userFile.replace(
          "1//rt",
          "1//old",
        ),
      }),
    });
    await rejectsWith(
      store.put("x.asb", bytes(1)),
      "STORAGE_AUTH",
      "user credentials (gcloud ADC file",
      "400 invalid_grant",
    );
  });
  await t.step("without a file, the GCE metadata server", async () => {
    const store = new GcsStore({
      ...base,
      env: { HOME: "/h", GCE_METADATA_HOST: gcs.metadataHost },
      readTextFile: files({}),
    });
    await store.put("vm.asb", bytes(2));
    const asked = gcs.requests.find((r) => r.path.startsWith("/computeMetadata/"));
    assert.equal(asked?.headers.get("metadata-flavor"), "Google");
    assert.match(asked?.query.get("scopes") ?? "", /devstorage\.read_write$/);
  });
  await t.step("nothing at all: one error naming every place looked at", async () => {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const store = new GcsStore({
      ...base,
      env: { HOME: "/h", GCE_METADATA_HOST: `127.0.0.1:${port}` },
      readTextFile: files({}),
    });
    await rejectsWith(
      store.put("x.asb", bytes(1)),
      "STORAGE_AUTH",
      "Cannot find Google credentials: no credentials file (no --gcp-key-path, no GOOGLE_APPLICATION_CREDENTIALS, no /h/.config/gcloud/application_default_credentials.json)",
      `GCE metadata server at 127.0.0.1:${port} did not answer`,
    );
  });
});

Deno.test("GcsStore talks to an emulator without credentials, as backup-go does", async () => {
  await using gcs = await startGcsTestServer({ requireAuth: false });
  const viaFlag = new GcsStore({
    bucket: "test-bucket",
    endpoint: `${gcs.url}/storage/v1/b`,
    retry: FAST,
  });
  assert.equal(viaFlag.anonymous, true);
  await viaFlag.put("a.asb", bytes(3));
  const host = gcs.url.slice("http://".length);
  const viaEnv = new GcsStore({
    bucket: "test-bucket",
    env: { STORAGE_EMULATOR_HOST: host },
    retry: FAST,
  });
  assert.equal(viaEnv.endpoint, gcs.url);
  assert.deepEqual(await keys(viaEnv, ""), ["a.asb:3"]);
  assert.ok(gcs.requests.every((r) => !r.headers.has("authorization")));
  assert.equal(new GcsStore({ bucket: "b" }).anonymous, false);
  assert.equal(new GcsStore({ bucket: "b", endpoint: gcs.url, keyPath: "/k" }).anonymous, false);
});

Deno.test("GcsStore downloads resume through ObjectStoreReader at the byte reached", async () => {
  await withGcs({}, {}, async (gcs, store) => {
    const data = bytes(300 * KIB, 6);
    gcs.objects.set("bk/f.asb", data);
    gcs.faults.cutCount = 2;
    gcs.faults.cutAfterBytes = 100 * KIB;
    const reader = new ObjectStoreReader(store, { directories: ["bk"] }, { readRetry: FAST });
    const entries = [];
    for await (const e of reader.list()) entries.push(e);
    assert.deepEqual(entries.map((e) => [e.name, e.path, e.size]), [[
      "f.asb",
      "gs://test-bucket/bk/f.asb",
      data.length,
    ]]);
    assert.deepEqual(await collect(await reader.open(entries[0])), data);
    const gets = gcs.requests.filter((r) => r.query.get("alt") === "media");
    assert.deepEqual(gets.map((r) => r.headers.get("range")), [
      null,
      `bytes=${100 * KIB}-`,
      `bytes=${200 * KIB}-`,
    ]);
    // Resumed reads ask for the generation the first read saw.
    assert.equal(gets[0].query.get("generation"), null);
    assert.ok(gets[1].query.get("generation") !== null);
  });
});

Deno.test("GcsStore refuses to resume a read of an object replaced meanwhile", async () => {
  await withGcs({}, {}, async (_gcs, store) => {
    await store.put("f.asb", bytes(1000));
    const first = await store.read("f.asb", 0);
    await first.cancel();
    await store.put("f.asb", bytes(1000, 9));
    await rejectsWith(
      store.read("f.asb", 500),
      "STORAGE_READ",
      /gs:\/\/test-bucket\/f\.asb at byte 500: the object changed since the read started \(generation \d+, that generation is gone\)/,
    );
  });
});

Deno.test("GcsStore with calculateChecksum sends the CRC32C and deletes an object stored with another", async () => {
  await withGcs({}, { calculateChecksum: true }, async (gcs, store) => {
    await store.put("a.asb", bytes(100));
    assert.equal(
      gcs.requests.at(-1)!.headers.get("x-goog-hash"),
      `crc32c=${crc32cBase64(crc32c(bytes(100)))}`,
    );
    gcs.faults.misreportCrcCount = 1;
    await rejectsWith(
      store.put("b.asb", bytes(100)),
      "STORAGE_WRITE",
      "checksum mismatch",
      "the object was deleted",
    );
    assert.equal(gcs.objects.has("b.asb"), false);
    // A resumable upload sends the CRC32C of the whole object with its last chunk.
    const w = new ObjectStoreWriter(store, "up", { partSize: 256 * KIB });
    const data = bytes(600 * KIB, 7);
    await writeAll(await w.open("big.asb"), data, 50_000);
    const puts = gcs.requests.filter((r) => r.method === "PUT");
    assert.deepEqual(puts.map((r) => r.headers.get("x-goog-hash")), [
      null,
      null,
      `crc32c=${crc32cBase64(crc32c(data))}`,
    ]);
    // Bytes damaged on the way: Cloud Storage refuses them, the upload fails and is dropped.
    gcs.faults.corruptCount = 1;
    await rejectsWith(
      writeAll(await w.open("bad.asb"), data, 50_000),
      "STORAGE_WRITE",
      "400",
      "doesn't match calculated CRC32C",
    );
    assert.equal(gcs.objects.has("up/bad.asb"), false);
    assert.equal(gcs.openSessions(), 0);
  });
});

Deno.test("GcsStore cancels the session of an aborted upload", async () => {
  await withGcs({}, {}, async (gcs, store) => {
    const w = new ObjectStoreWriter(store, "", { partSize: 256 * KIB });
    const sink = (await w.open("x.asb")).getWriter();
    await sink.write(bytes(700 * KIB));
    assert.equal(gcs.openSessions(), 1);
    await sink.abort(new Error("job cancelled"));
    assert.equal(gcs.openSessions(), 0);
    assert.equal(gcs.objects.has("x.asb"), false);
    assert.ok(gcs.requests.some((r) => r.method === "DELETE" && r.query.has("upload_id")));
  });
});

Deno.test("GcsStore keeps at most maxConnsPerHost requests in flight", async () => {
  await withGcs({}, { maxConnsPerHost: 1 }, async (gcs, store) => {
    await store.put("a.asb", bytes(100));
    await store.put("b.asb", bytes(100, 2));
    const a = await store.read("a.asb", 0); // holds the one slot until its body is read
    const b = store.read("b.asb", 0);
    const before = gcs.requests.length;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(gcs.requests.length, before, "the second download waited for a slot");
    assert.deepEqual(await collect(a), bytes(100));
    assert.deepEqual(await collect(await b), bytes(100, 2));
  });
});

Deno.test("GcsStore gives up on a request without an answer after requestTimeoutMs", async () => {
  const waiting: Array<() => void> = [];
  const hang = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Promise<Response>((resolve) => waiting.push(() => resolve(new Response(null)))),
  );
  try {
    const store = new GcsStore({
      bucket: "b",
      endpoint: `http://127.0.0.1:${hang.addr.port}`,
      requestTimeoutMs: 50,
      retry: { ...FAST, maxAttempts: 2 },
    });
    const err = await rejectsWith(
      keys(store, ""),
      "STORAGE_READ",
      "Cannot list gs://b/: no answer within 50 ms",
    );
    assert.equal(err.retriable, true);
  } finally {
    for (const answer of waiting) answer();
    await hang.shutdown();
  }
});
