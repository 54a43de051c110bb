import assert from "node:assert/strict";
import { assertListsShardDirectories } from "../_test_helpers.ts";
import { AerobakError } from "../../errors.ts";
import { ObjectStoreReader, ObjectStoreWriter } from "../object_store.ts";
import { S3_MAX_PARTS, S3Error, s3RequestUrl, S3Store, type S3StoreOptions } from "./s3.ts";
import { sha256Hex, signRequest } from "./s3_signer.ts";
import { type S3TestServer, startS3TestServer } from "./s3_test_server.ts";

function storeFor(s3: S3TestServer, extra: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({ ...storeOptions(s3), restorePollMs: 1, ...extra });
}

function bytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

async function writeAll(w: WritableStream<Uint8Array>, data: Uint8Array, step: number) {
  const writer = w.getWriter();
  for (let i = 0; i < data.length; i += step) await writer.write(data.slice(i, i + step));
  await writer.close();
}

async function keys(store: S3Store, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(`${o.key}:${o.size}`);
  return out;
}

function failsWith(code: string, re: RegExp) {
  return (e: AerobakError) => {
    assert.ok(e instanceof AerobakError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  };
}

Deno.test("s3RequestUrl() uses virtual hosts on AWS and path style elsewhere", () => {
  const aws = { bucket: "bk", region: "eu-west-1" };
  assert.equal(
    s3RequestUrl(aws, "dir/a b+c$.asb").href,
    "https://bk.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc%24.asb",
  );
  assert.equal(
    s3RequestUrl(aws, undefined, [["list-type", "2"], ["prefix", "a/b c"], ["delimiter", "/"]])
      .href,
    "https://bk.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=a%2Fb%20c&delimiter=%2F",
  );
  assert.equal(
    s3RequestUrl({ bucket: "my.bk", region: "us-east-1" }, "k").href,
    "https://s3.us-east-1.amazonaws.com/my.bk/k",
  );
  assert.equal(
    s3RequestUrl({ bucket: "bk", region: "x", endpoint: "http://minio:9000/" }, "k", [
      ["uploads", ""],
    ]).href,
    "http://minio:9000/bk/k?uploads=",
  );
});

Deno.test("S3Store.listDirectories() lists the common prefixes under a prefix, page by page", async () => {
  await using s3 = await startS3TestServer();
  await assertListsShardDirectories(storeFor(s3, { listPageSize: 2 }));
});

Deno.test("S3Store puts, lists page by page, reads from an offset and removes", async () => {
  await using s3 = await startS3TestServer();
  const store = storeFor(s3, { listPageSize: 2 });
  const odd = "bk/ä b+c$=&.asb";
  await store.put(odd, bytes(10));
  for (const name of ["bk/1.asb", "bk/2.asb", "bk/3.txt", "bk/sub/x.asb", "other.asb"]) {
    await store.put(name, bytes(3));
  }
  assert.deepEqual(s3.objects.get(odd), bytes(10));
  assert.deepEqual(await keys(store, "bk/"), [
    "bk/1.asb:3",
    "bk/2.asb:3",
    "bk/3.txt:3",
    `${odd}:10`,
  ]);
  assert.deepEqual(await keys(store, ""), ["other.asb:3"]);
  const lists = s3.requests.filter((r) => r.query.get("list-type") === "2");
  assert.ok(lists.some((r) => r.query.has("continuation-token")), "continued the listing");
  assert.deepEqual(await readAll(await store.read(odd, 0)), bytes(10));
  assert.deepEqual(await readAll(await store.read(odd, 4)), bytes(10).slice(4));
  assert.deepEqual(
    await readAll(await store.read(odd, 10)),
    new Uint8Array(0),
    "read from the end",
  );
  await store.remove(odd);
  await store.remove(odd);
  assert.equal(s3.objects.has(odd), false);
  assert.equal(store.describe("bk/1.asb"), "s3://bucket/bk/1.asb");
  await assert.rejects(
    () => store.read("bk/none.asb", 0),
    failsWith("STORAGE_NOT_FOUND", /Cannot read s3:\/\/bucket\/bk\/none\.asb: 404 NoSuchKey/),
  );
  const noBucket = new S3Store({ ...storeOptions(s3), bucket: "nope" });
  await assert.rejects(
    () => keys(noBucket, ""),
    failsWith("STORAGE_NOT_FOUND", /404 NoSuchBucket.*GET http:\/\/127\.0\.0\.1:\d+\/nope\?/),
  );
});

function storeOptions(s3: S3TestServer): S3StoreOptions {
  return {
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.url,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    retry: { maxAttempts: 3, initialBackoffMs: 1 },
  };
}

Deno.test("S3Store takes an endpoint whose scheme is in capitals, as the CLI does", async () => {
  await using s3 = await startS3TestServer();
  const store = storeFor(s3, { endpoint: s3.url.replace(/^http:/, "HTTP:") });
  await store.put("dir/a.asb", bytes(10));
  assert.deepEqual(await keys(store, "dir/"), ["dir/a.asb:10"]);
  assert.throws(() => storeFor(s3, { endpoint: "ftp://x" }), /expected an http/);
});

Deno.test("S3Store uploads files in parts through ObjectStoreWriter, with storage class and MD5", async () => {
  await using s3 = await startS3TestServer({ minPartSize: 100 });
  const store = storeFor(s3, { storageClass: "STANDARD_IA", calculateChecksum: true });
  const writer = new ObjectStoreWriter(store, "backups/today", {
    partSize: 100,
    uploadConcurrency: 3,
  });
  await writeAll(await writer.open("big.asb"), bytes(1234, 3), 77);
  await writeAll(await writer.open("small.asb"), bytes(60, 4), 7);
  await writer.writeAtomic("meta.json", bytes(5, 5));
  assert.deepEqual(s3.objects.get("backups/today/big.asb"), bytes(1234, 3));
  assert.deepEqual(s3.completed.get("backups/today/big.asb"), [...Array(12).fill(100), 34]);
  assert.deepEqual(s3.objects.get("backups/today/small.asb"), bytes(60, 4));
  assert.equal(s3.completed.has("backups/today/small.asb"), false, "one PutObject");
  assert.equal(s3.meta.get("backups/today/big.asb")?.storageClass, "STANDARD_IA");
  assert.equal(s3.meta.get("backups/today/small.asb")?.storageClass, "STANDARD_IA");
  const parts = s3.requests.filter((r) => r.query.has("partNumber"));
  assert.equal(parts.length, 13);
  assert.ok(parts.every((r) => r.headers.has("content-md5")), "every part carries Content-MD5");
  const creates = s3.requests.filter((r) => r.query.has("uploads"));
  assert.equal(creates[0].headers.get("x-amz-storage-class"), "STANDARD_IA");
  assert.equal(s3.uploads.size, 0);
});

Deno.test("S3Store keeps at most max-conns-per-host requests in flight", async () => {
  await using s3 = await startS3TestServer({ minPartSize: 10 });
  const store = storeFor(s3, { maxConnsPerHost: 2 });
  assert.equal(store.maxConcurrentParts, 2);
  s3.faults.delayRequests = 100;
  s3.faults.delayMs = 5;
  const writer = new ObjectStoreWriter(store, "", { partSize: 10, uploadConcurrency: 8 });
  await Promise.all([
    writeAll(await writer.open("a.asb"), bytes(200, 1), 200),
    writeAll(await writer.open("b.asb"), bytes(200, 2), 200),
  ]);
  assert.deepEqual(s3.objects.get("a.asb"), bytes(200, 1));
  assert.deepEqual(s3.objects.get("b.asb"), bytes(200, 2));
  assert.equal(s3.maxInFlight, 2);
});

Deno.test("S3Store reports a part below S3's minimum size and aborts the upload", async () => {
  await using s3 = await startS3TestServer();
  const writer = new ObjectStoreWriter(storeFor(s3), "bk", { partSize: 100 });
  const sink = await writer.open("f.asb");
  await assert.rejects(
    () => writeAll(sink, bytes(250), 250),
    failsWith(
      "STORAGE_WRITE",
      /Cannot complete the upload of s3:\/\/bucket\/bk\/f\.asb: 400 EntityTooSmall/,
    ),
  );
  assert.equal(s3.uploads.size, 0, "AbortMultipartUpload sent");
  assert.equal(s3.objects.has("bk/f.asb"), false);
  const upload = await storeFor(s3).startUpload("bk/g.asb");
  await assert.rejects(
    () => upload.uploadPart(S3_MAX_PARTS, bytes(1), true),
    failsWith("STORAGE_WRITE", /at most 10000 parts/),
  );
  await upload.abort();
  await upload.abort();
  assert.equal(s3.uploads.size, 0);
});

Deno.test("S3Store fails with STORAGE_AUTH on a bad signature, key, region or token, without retrying", async () => {
  await using s3 = await startS3TestServer({ sessionToken: "tok" });
  const good = { ...storeOptions(s3), sessionToken: "tok" };
  await new S3Store(good).put("k", bytes(1));
  const cases: [Partial<S3StoreOptions>, RegExp][] = [
    [
      { secretAccessKey: "wrong" },
      /403 SignatureDoesNotMatch: The request signature we calculated/,
    ],
    [{ accessKeyId: "AKIDOTHER" }, /403 InvalidAccessKeyId/],
    [
      { region: "eu-west-3" },
      /400 AuthorizationHeaderMalformed.*\(the bucket is in region us-east-1\)/,
    ],
    [{ sessionToken: undefined }, /403 InvalidToken/],
  ];
  for (const [change, re] of cases) {
    const before = s3.requests.length;
    const store = new S3Store({ ...good, ...change });
    await assert.rejects(() => store.put("k", bytes(1)), (e: AerobakError) => {
      assert.equal(e.code, "STORAGE_AUTH", e.message);
      assert.ok(e instanceof S3Error && e.message.includes(`${e.status} ${e.s3Code}`));
      assert.equal(e.retriable, false);
      assert.match(e.message, re);
      assert.match(
        e.message,
        /^Cannot write s3:\/\/bucket\/k: .*\(PUT http:\/\/127\.0\.0\.1:\d+\/bucket\/k\)$/,
      );
      return true;
    });
    assert.equal(s3.requests.length, before + 1, `${re}: not retried`);
  }
});

Deno.test("S3Store signs with the environment's key and the profile's region", async () => {
  await using s3 = await startS3TestServer({ region: "eu-central-1" });
  const store = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.url,
    env: { HOME: "/home/u", AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: "bad" },
    profile: "b",
    readTextFile: (path) =>
      path === "/home/u/.aws/credentials"
        ? Promise.resolve(
          `[b]\naws_access_key_id=${s3.accessKeyId}\naws_secret_access_key=${s3.secretAccessKey}\n`,
        )
        : Promise.resolve("[profile b]\nregion = eu-central-1\n"),
  });
  await store.put("x", bytes(2));
  assert.deepEqual(s3.objects.get("x"), bytes(2));
  const noRegion = new S3Store({
    bucket: "b",
    accessKeyId: "A",
    secretAccessKey: "B",
    readTextFile: () => Promise.reject(new Deno.errors.NotFound()),
  });
  await assert.rejects(
    () => noRegion.put("x", bytes(1)),
    failsWith("STORAGE_AUTH", /no AWS region/),
  );
});

Deno.test("S3Store retries 5xx, throttling, timeouts and failed completions, not 4xx", async () => {
  await using s3 = await startS3TestServer({ minPartSize: 10 });
  const store = storeFor(s3, { retry: { maxAttempts: 4, initialBackoffMs: 1 } });
  s3.faults.failRequests = 3;
  await store.put("a", bytes(3));
  assert.deepEqual(s3.requests.map((r) => r.status), [503, 503, 503, 200]);

  s3.faults.failRequests = 9;
  await assert.rejects(() => store.put("b", bytes(3)), (e: AerobakError) => {
    assert.equal(e.code, "STORAGE_WRITE");
    assert.equal(e.retriable, true);
    assert.match(e.message, /Cannot write s3:\/\/bucket\/b: 503 SlowDown: Injected failure/);
    return true;
  });
  s3.faults.failRequests = 0;

  s3.faults.failRequests = 1;
  s3.faults.failStatus = 400;
  s3.faults.failCode = "RequestTimeout";
  await store.put("c", bytes(3));
  s3.faults.failRequests = 1;
  s3.faults.failCode = "InvalidArgument";
  const before = s3.requests.length;
  await assert.rejects(
    () => store.put("d", bytes(3)),
    failsWith("STORAGE_WRITE", /400 InvalidArgument/),
  );
  assert.equal(s3.requests.length, before + 1);
  s3.faults.failStatus = 503;
  s3.faults.failCode = "SlowDown";

  s3.faults.completeErrors = 1;
  const writer = new ObjectStoreWriter(store, "e", { partSize: 10 });
  await writeAll(await writer.open("e.asb"), bytes(25), 25);
  assert.deepEqual(s3.objects.get("e/e.asb"), bytes(25), "completed on the second try");

  const slow = storeFor(s3, {
    requestTimeoutMs: 40,
    retry: { maxAttempts: 2, initialBackoffMs: 1 },
  });
  s3.faults.delayRequests = 1;
  s3.faults.delayMs = 400;
  await slow.put("f", bytes(4));
  assert.deepEqual(s3.objects.get("f"), bytes(4));
  s3.faults.delayRequests = 1;
  const once = storeFor(s3, { requestTimeoutMs: 40, retry: { maxAttempts: 1 } });
  await assert.rejects(
    () => once.put("g", bytes(4)),
    failsWith("STORAGE_WRITE", /Cannot write s3:\/\/bucket\/g: no complete answer within 40 ms/),
  );
});

Deno.test("ObjectStoreReader resumes broken S3 downloads with Range and If-Match", async () => {
  await using s3 = await startS3TestServer();
  const store = storeFor(s3);
  const data = bytes(5000, 7);
  await store.put("bk/0_a.asb", data);
  await store.put("bk/1_b.asb", bytes(10, 8));
  s3.faults.cutDownloadsAt = 1000;
  s3.faults.cutDownloads = 2;
  const reader = new ObjectStoreReader(store, { directories: ["bk"] }, {
    readRetry: { maxAttempts: 3, initialBackoffMs: 1 },
  });
  const got: [string, Uint8Array][] = [];
  for await (const entry of reader.list()) {
    got.push([entry.name, await readAll(await reader.open(entry))]);
  }
  assert.deepEqual(got.map(([n]) => n), ["0_a.asb", "1_b.asb"]);
  assert.deepEqual(got[0][1], data);
  const gets = s3.requests.filter((r) => r.method === "GET" && r.key === "bk/0_a.asb");
  assert.deepEqual(gets.map((r) => r.headers.get("range")), [null, "bytes=1000-", "bytes=1000-"]);
  assert.ok(gets.slice(1).every((r) => r.headers.get("if-match")?.startsWith('"')));
});

Deno.test("S3Store refuses to resume a read of an object replaced meanwhile", async () => {
  await using s3 = await startS3TestServer();
  const store = storeFor(s3);
  await store.put("k", bytes(3000));
  s3.faults.cutDownloadsAt = 100;
  s3.faults.cutDownloads = 1;
  const first = (await store.read("k", 0)).getReader();
  let seen = 0;
  await assert.rejects(async () => {
    for (;;) {
      const r = await first.read();
      if (r.done) break;
      seen += r.value.length;
    }
  }, failsWith("STORAGE_READ", /Cannot read s3:\/\/bucket\/k at byte 100: /));
  assert.equal(seen, 100);
  await store.put("k", bytes(3000, 9));
  await assert.rejects(
    () => store.read("k", 100),
    failsWith(
      "STORAGE_READ",
      /Cannot resume reading s3:\/\/bucket\/k at byte 100: the object changed/,
    ),
  );
});

Deno.test("S3Store reading an archived object fails without a tier and restores it with one", async () => {
  await using s3 = await startS3TestServer({ restoreChecks: 3 });
  const plain = storeFor(s3);
  await plain.put("bk/a.asb", bytes(50, 1));
  s3.archive("bk/a.asb", "GLACIER");
  await assert.rejects(
    () => plain.read("bk/a.asb", 0),
    failsWith("STORAGE_READ", /Cannot read s3:\/\/bucket\/bk\/a\.asb: the object is archived/),
  );
  const thawing = storeFor(s3, { restoreTier: "Bulk", restoreDays: 2 });
  assert.deepEqual(await readAll(await thawing.read("bk/a.asb", 0)), bytes(50, 1));
  assert.deepEqual(s3.meta.get("bk/a.asb")?.restore, { tier: "Bulk", days: 2, checksLeft: 0 });
  const heads = s3.requests.filter((r) => r.method === "HEAD").length;
  assert.equal(heads, 4, "one check before the restore, then 3 polls until it completes");
  const restores = s3.requests.filter((r) => r.query.has("restore"));
  assert.equal(restores.length, 1);
});

Deno.test("S3Store.prepareRestore() restores all archived backup files before reading", async () => {
  await using s3 = await startS3TestServer({ restoreChecks: 2 });
  const store = storeFor(s3, { restoreTier: "Expedited" });
  for (const k of ["d/1.asb", "d/2.asb", "d/3.asb", "d/4.txt", "d/5.asb"]) {
    await store.put(k, bytes(8));
  }
  s3.archive("d/1.asb", "GLACIER");
  s3.archive("d/2.asb", "DEEP_ARCHIVE");
  s3.archive("d/3.asb", "INTELLIGENT_TIERING", "ARCHIVE_ACCESS");
  s3.archive("d/4.txt", "GLACIER");
  assert.equal(await storeFor(s3).prepareRestore({ directories: ["d"] }), 0, "no tier: no-op");
  assert.equal(await store.prepareRestore({ directories: ["d"] }), 3);
  assert.equal(s3.meta.get("d/1.asb")?.restore?.tier, "Expedited");
  assert.equal(s3.meta.get("d/3.asb")?.restore?.days, undefined, "no Days for Intelligent-Tiering");
  assert.equal(s3.meta.get("d/4.txt")?.restore, undefined, "only backup files");
  const reader = new ObjectStoreReader(store, { directories: ["d"] });
  for await (const entry of reader.list()) {
    assert.deepEqual(await readAll(await reader.open(entry)), bytes(8));
  }
  assert.equal(s3.requests.filter((r) => r.query.has("restore")).length, 3);
  assert.equal(await store.prepareRestore({ files: ["d/1.asb"] }), 0, "already restored");
});

Deno.test("startS3TestServer() refuses unsigned, tampered and mis-digested requests like S3", async () => {
  await using s3 = await startS3TestServer();
  const url = new URL(`${s3.url}/${s3.bucket}/k`);
  const send = async (
    body: Uint8Array,
    sent: Uint8Array<ArrayBuffer>,
    extra: Record<string, string> = {},
  ) => {
    const hash = sha256Hex(body);
    const signed = signRequest({
      method: "PUT",
      url,
      headers: { "x-amz-content-sha256": hash, ...extra },
      payloadHash: hash,
      region: s3.region,
      service: "s3",
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      date: new Date(),
    });
    const res = await fetch(url, { method: "PUT", headers: signed.headers, body: sent });
    return `${res.status} ${/<Code>(\w+)<\/Code>/.exec(await res.text())?.[1] ?? ""}`;
  };
  const anonymous = await fetch(url, { method: "PUT", body: "x" });
  assert.equal(anonymous.status, 403);
  assert.match(await anonymous.text(), /<Code>AccessDenied<\/Code>/);
  assert.equal(await send(bytes(4), bytes(4)), "200 ");
  assert.equal(await send(bytes(4), bytes(4, 2)), "400 XAmzContentSHA256Mismatch");
  assert.equal(
    await send(bytes(4), bytes(4), { "content-md5": "AAAAAAAAAAAAAAAAAAAAAA==" }),
    "400 BadDigest",
  );
  // A header changed after signing breaks the signature.
  const hash = sha256Hex(bytes(1));
  const signed = signRequest({
    method: "PUT",
    url,
    headers: { "x-amz-content-sha256": hash, "x-amz-storage-class": "GLACIER" },
    payloadHash: hash,
    region: s3.region,
    service: "s3",
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    date: new Date(),
  });
  const res = await fetch(url, {
    method: "PUT",
    headers: { ...signed.headers, "x-amz-storage-class": "STANDARD" },
    body: bytes(1),
  });
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  assert.deepEqual(s3.objects.get("k"), bytes(4));
});
