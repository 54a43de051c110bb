import assert from "node:assert/strict";
import type { AerobakError } from "../../errors.ts";
import { assertListsShardDirectories, chunked, collect, sampleText } from "../_test_helpers.ts";
import { ObjectStoreReader, ObjectStoreWriter } from "../object_store.ts";
import {
  AzureBlobStore,
  type AzureBlobStoreOptions,
  azureCrc64,
  parseAzureAccessTier,
  sharedKeyStringToSign,
  signSharedKey,
} from "./azure.ts";
import { type AzureTestServer, startAzureTestServer } from "./azure_test_server.ts";

/** `n` bytes of backup-like text, different for each seed. */
function bytes(n: number, seed = 0): Uint8Array {
  return sampleText(n + seed).slice(seed, seed + n);
}

/** A store on the fake with Shared Key auth and fast retries. */
function sharedKeyStore(
  server: AzureTestServer,
  extra: Partial<AzureBlobStoreOptions> = {},
): AzureBlobStore {
  return new AzureBlobStore({
    endpoint: server.url,
    containerName: server.container,
    accountName: server.account,
    accountKey: server.accountKey,
    retryDelayMs: 1,
    retryMaxDelayMs: 5,
    ...extra,
  });
}

async function keys(store: AzureBlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(`${o.key}:${o.size}`);
  return out;
}

// Requests signed by the .NET storage client (WA-Storage/4.3.0) with the account key below,
// published with their signatures in Microsoft's Dash server tests
// (Microsoft.Dash tests: SignatureValidationTests.SharedKeySignatureTest, RequestAuthTests).
const DASH_ACCOUNT = "dashstorage1";
const DASH_KEY =
  "8jqRVtXUWiEthgIhR+dFwrB8gh3lFuquvJQ1v4eabObIj7okI1cZIuzY8zZHmEdpcC0f+XlUkbFwAhjTfyrLIg==";
const DASH_HOST = "https://dashstorage1.blob.core.windows.net";

function dashSignature(method: string, path: string, headers: [string, string][]): string {
  const h = new Headers(headers);
  const url = new URL(`${DASH_HOST}${path}`);
  return signSharedKey(sharedKeyStringToSign({ method, url, headers: h }, DASH_ACCOUNT), DASH_KEY);
}

const NET_HEADERS: [string, string][] = [
  ["User-Agent", "WA-Storage/4.3.0 (.NET CLR 4.0.30319.34014; Win32NT 6.2.9200.0)"],
  ["Connection", "Keep-Alive"],
  ["Expect", "100-continue"],
  ["Host", "dashstorage1.blob.core.windows.net"],
];

Deno.test("sharedKeyStringToSign() matches signatures of the .NET storage client (published vectors)", () => {
  // PUT of a block blob with Content-MD5 and extra non-x-ms headers.
  assert.equal(
    dashSignature("PUT", "/test/test.txt", [
      ...NET_HEADERS,
      ["Content-Length", "423"],
      ["Content-MD5", "LHmMkMS8mTXh0bRP4e4Ptw=="],
      ["x-ms-blob-type", "BlockBlob"],
      ["x-ms-client-request-id", "TestRequest1"],
      ["x-ms-date", "Thu, 30 Oct 2014 19:48:43 GMT"],
      ["x-ms-version", "2014-02-14"],
      ["x-ms-test", "testvalue"],
      ["x-test", "differentvalue"],
    ]),
    "ktMmzuta7Wsqtzyd3TBbd3zW4miedtJPkWWlW9DCRb0=",
  );
  // If-Modified-Since takes its slot among the standard headers.
  assert.equal(
    dashSignature("PUT", "/test/test.txt", [
      ...NET_HEADERS,
      ["Content-Length", "423"],
      ["Content-MD5", "LHmMkMS8mTXh0bRP4e4Ptw=="],
      ["x-ms-version", "2014-02-14"],
      ["x-ms-blob-type", "BlockBlob"],
      ["x-ms-client-request-id", "d0863cd4-ae43-4dd4-aa27-eff01d30b5cf"],
      ["x-ms-date", "Thu, 30 Oct 2014 20:15:46 GMT"],
      ["If-Modified-Since", "Thu, 30 Oct 2014 20:15:41 GMT"],
    ]),
    "21rAYhnoRQQu6MmxXj6W5Rx3YWI8OCjO50CNNniohAA=",
  );
  // Content-Type, -Language, -Encoding and If-Match.
  assert.equal(
    dashSignature("PUT", "/test/test.txt", [
      ...NET_HEADERS,
      ["x-ms-version", "2014-02-14"],
      ["Content-Type", "application/octet-stream"],
      ["Content-MD5", "LHmMkMS8mTXh0bRP4e4Ptw=="],
      ["Content-Language", "EN-US"],
      ["Content-Encoding", "gzip"],
      ["x-ms-blob-type", "BlockBlob"],
      ["If-Match", "DummyETag"],
      ["x-ms-client-request-id", "93399f8e-6ce2-4020-81a4-4f1f53f427fd"],
      ["x-ms-date", "Thu, 30 Oct 2014 20:46:48 GMT"],
      ["Content-Length", "423"],
    ]),
    "ZBQYgC9dgzldVfH6t06qIYZujSz/3blWrinuYePTMv8=",
  );
  // Content-Length 0 signs as empty; query names are lowercased, merged and sorted.
  assert.equal(
    dashSignature(
      "GET",
      "/test?restype=container&comp=list&prefix=te&include=snapshots&INCLUDE=uncommittedblobs,metadata,copy",
      [
        ...NET_HEADERS,
        ["x-ms-version", "2014-02-14"],
        ["x-ms-client-request-id", "9e51b5a3-2dff-4fb2-98f8-c7cfe05a223a"],
        ["x-ms-date", "Thu, 30 Oct 2014 20:55:13 GMT"],
        ["Content-Length", "0"],
      ],
    ),
    "C0mPsPAiMs+4qlDQXGXMXpRGUkQgyMLzOHBiCmoC4LE=",
  );
  // A whole request as the client sent it (RequestAuthTests.SharedKeyRequestTest; its URL
  // starts with Dash's routing segment "/container", which is not part of the signed path).
  assert.equal(
    dashSignature(
      "GET",
      "/test?restype=container&comp=list&prefix=te&include=snapshots,uncommittedblobs,metadata,copy",
      [
        ...NET_HEADERS,
        ["x-ms-version", "2014-02-14"],
        ["x-ms-client-request-id", "adfb540e-1050-4c9b-a53a-be6cb71688d3"],
        ["x-ms-date", "Fri, 31 Oct 2014 22:50:34 GMT"],
      ],
    ),
    "rB2yPGBXn3CtquDlk03An34hgRHIibK/Xv+hjG3r0Us=",
  );
});

Deno.test("azureCrc64() is CRC-64/NVME, the checksum Azure checks", () => {
  assert.equal(azureCrc64(new TextEncoder().encode("123456789")), 0xae8b14860a799888n);
  assert.equal(azureCrc64(new Uint8Array(0)), 0n);
});

Deno.test("parseAzureAccessTier() title-cases tiers and refuses Archive and unknown ones", () => {
  assert.equal(parseAzureAccessTier("hot"), "Hot");
  assert.equal(parseAzureAccessTier("COLD"), "Cold");
  assert.equal(parseAzureAccessTier("p10"), "P10");
  assert.throws(() => parseAzureAccessTier("archive"), /Archive tier is not allowed/);
  assert.throws(
    () => parseAzureAccessTier("warm"),
    /Invalid Azure access tier "warm": expected one of Cold, Cool, Hot/,
  );
});

Deno.test("AzureBlobStore puts, lists (one level, page by page), reads and removes blobs", async () => {
  await using server = await startAzureTestServer({ pageSize: 2 });
  const store = sharedKeyStore(server);
  await store.put("bk/a.asb", bytes(10));
  await store.put("bk/b c+&.asb", bytes(3));
  await store.put("bk/c.asb", bytes(0));
  await store.put("bk/sub/x.asb", bytes(5));
  await store.put("top.asb", bytes(1));
  server.putBlob("bk/dir", new Uint8Array(0)).metadata.hdi_isfolder = "true";
  assert.deepEqual(await keys(store, "bk/"), ["bk/a.asb:10", "bk/b c+&.asb:3", "bk/c.asb:0"]);
  assert.deepEqual(await keys(store, ""), ["top.asb:1"]);
  assert.deepEqual(await keys(store, "none/"), []);
  const lists = server.requests.filter((r) => r.comp === "list");
  assert.ok(lists.some((r) => r.query.has("marker")), "paged with NextMarker");
  assert.ok(lists.every((r) => r.query.get("delimiter") === "/"));
  assert.deepEqual(await collect(await store.read("bk/b c+&.asb", 0)), bytes(3));
  assert.deepEqual(await collect(await store.read("bk/a.asb", 4)), bytes(10).subarray(4));
  assert.deepEqual(await collect(await store.read("bk/c.asb", 0)), new Uint8Array(0));
  const put = server.requests.find((r) => r.method === "PUT")!;
  assert.equal(put.headers.get("x-ms-blob-type"), "BlockBlob");
  assert.equal(put.auth, "sharedKey");
  assert.equal(server.objects.get("bk/a.asb")!.contentType, "application/octet-stream");
  await store.remove("bk/a.asb");
  await store.remove("bk/a.asb");
  assert.equal(server.objects.has("bk/a.asb"), false);
  assert.equal(
    store.describe("bk/x.asb"),
    `${server.url}/${server.container}/bk/x.asb`,
  );
});

Deno.test("AzureBlobStore.listDirectories() lists the blob prefixes under a prefix, page by page", async () => {
  await using server = await startAzureTestServer({ pageSize: 2 });
  const store = sharedKeyStore(server);
  await assertListsShardDirectories(store);
  // A name Azure sends percent-encoded (Encoded="true").
  server.putBlob("bk/\u0002odd/x.asb", bytes(1));
  assert.deepEqual(await Array.fromAsync(store.listDirectories("bk/")), [
    "\u0002odd",
    "shard-0-of-2",
    "shard-1-of-2",
  ]);
});

Deno.test('AzureBlobStore lists names Azure sends percent-encoded (Encoded="true")', async () => {
  await using server = await startAzureTestServer();
  const store = sharedKeyStore(server);
  const odd = "bk/a\u0001b &\uFFFF.asb";
  server.putBlob(odd, bytes(4));
  server.putBlob("bk/\u0002dir/x.asb", bytes(1));
  await store.put("bk/plain.asb", bytes(2));
  assert.deepEqual(await keys(store, "bk/"), [`${odd}:4`, "bk/plain.asb:2"]);
  assert.deepEqual(await collect(await store.read(odd, 1)), bytes(4).subarray(1));
});

Deno.test("AzureBlobStore refuses a List Blobs answer that is not XML", async () => {
  const answers = ["<EnumerationResults><Blobs><Blob>", "<html><body>Gateway</html>"];
  let next = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(answers[next++ % answers.length], { status: 200 }),
  );
  const store = new AzureBlobStore({
    endpoint: `http://127.0.0.1:${server.addr.port}/acct`,
    containerName: "c",
  });
  for (const _ of answers) {
    await assert.rejects(
      keys(store, "bk/"),
      (e: AerobakError) =>
        e.code === "STORAGE_READ" && e.retriable &&
        /^Cannot list http:\/\/127\.0\.0\.1:\d+\/acct\/c\/bk\/: unreadable answer: Cannot parse XML/
          .test(e.message),
    );
  }
});

Deno.test("AzureBlobStore resumes from a server that ignores the range, without repeating bytes", async () => {
  // Every answer is the whole blob with status 200, cut after 7 more bytes each time but
  // the last (a raw socket: HTTP servers do not send a body shorter than they declare).
  const blob = sampleText(40);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let calls = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(8192));
      const whole = ++calls > 4;
      const head = `HTTP/1.1 200 OK\r\ncontent-length: ${blob.length}\r\nconnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      await conn.write(whole ? blob : blob.subarray(0, 7 * calls));
      conn.close();
    }
  })();
  const store = new AzureBlobStore({
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/acct`,
    containerName: "c",
  });
  const reader = new ObjectStoreReader(store, { files: [] }, {
    readRetry: { maxAttempts: 3, initialBackoffMs: 1 },
  });
  const read = await collect(await reader.open({ name: "a.asb", path: "a.asb", size: 40 }));
  listener.close();
  await serving.catch(() => {});
  assert.deepEqual(read, blob);
  assert.equal(calls, 5);
});

Deno.test("AzureBlobStore uploads blocks in parallel and commits them in order with the tier", async () => {
  await using server = await startAzureTestServer({ latencyMs: 20 });
  const store = sharedKeyStore(server, { accessTier: "cool", calculateChecksum: true });
  const writer = new ObjectStoreWriter(store, "daily", { partSize: 1000, uploadConcurrency: 4 });
  const data = bytes(5500);
  await chunked(data, [777]).pipeTo(await writer.open("ns_1.asb"));
  const blob = server.objects.get("daily/ns_1.asb")!;
  assert.deepEqual(blob.bytes, data);
  assert.equal(blob.tier, "Cool");
  assert.equal(blob.contentType, "application/octet-stream");
  assert.equal(blob.blocks.length, 6);
  assert.equal(new Set(blob.blocks.map((id) => id.length)).size, 1, "one block ID length");
  assert.ok(server.maxInFlight >= 2 && server.maxInFlight <= 4, `in flight ${server.maxInFlight}`);
  const blockPuts = server.requests.filter((r) => r.comp === "block");
  assert.equal(blockPuts.length, 6);
  assert.ok(blockPuts.every((r) => r.headers.has("x-ms-content-crc64")));
  assert.equal(
    server.requests.find((r) => r.comp === "blocklist")!.headers.get("x-ms-access-tier"),
    "Cool",
  );
  // A small file is one Put Blob with the tier and a checksum.
  await chunked(bytes(10), [10]).pipeTo(await writer.open("small.asb"));
  const small = server.requests.findLast((r) => r.method === "PUT")!;
  assert.equal(small.comp, "");
  assert.equal(small.headers.get("x-ms-access-tier"), "Cool");
  assert.ok(small.headers.has("x-ms-content-crc64"));
  assert.equal(server.objects.get("daily/small.asb")!.tier, "Cool");
});

Deno.test("AzureBlobStore abort leaves the blob absent and its blocks uncommitted", async () => {
  await using server = await startAzureTestServer();
  const store = sharedKeyStore(server);
  const writer = new ObjectStoreWriter(store, "", { partSize: 100 });
  const sink = (await writer.open("f.asb")).getWriter();
  await sink.write(bytes(350));
  await sink.abort(new Error("stop"));
  assert.equal(server.objects.has("f.asb"), false);
  assert.ok((server.uncommitted.get("f.asb")?.size ?? 0) >= 1);
});

Deno.test("Azure test server refuses a bad signature and a wrong CRC64", async () => {
  await using server = await startAzureTestServer();
  async function send(body: Uint8Array, crc: string, key: string) {
    const url = new URL(`${server.url}/${server.container}/x.asb`);
    const headers = new Headers({
      "x-ms-version": "2021-12-02",
      "x-ms-date": new Date().toUTCString(),
      "x-ms-blob-type": "BlockBlob",
      "x-ms-content-crc64": crc,
      "content-length": String(body.length),
    });
    const sig = signSharedKey(
      sharedKeyStringToSign({ method: "PUT", url, headers }, server.account),
      key,
    );
    headers.set("authorization", `SharedKey ${server.account}:${sig}`);
    const res = await fetch(url, { method: "PUT", headers, body: body as BodyInit });
    return [res.status, res.headers.get("x-ms-error-code")];
  }
  const data = bytes(100);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(azureCrc64(data));
  assert.deepEqual(await send(data, crc.toString("base64"), server.accountKey), [201, null]);
  assert.deepEqual(await send(data, "AAAAAAAAAAA=", server.accountKey), [400, "Crc64Mismatch"]);
  assert.deepEqual(await send(data, crc.toString("base64"), btoa("wrong key")), [
    403,
    "AuthenticationFailed",
  ]);
});

Deno.test("AzureBlobStore reports a wrong account key as STORAGE_AUTH without retrying", async () => {
  await using server = await startAzureTestServer();
  const store = sharedKeyStore(server, { accountKey: btoa("not the key") });
  await assert.rejects(
    () => keys(store, "bk/"),
    (e: AerobakError) =>
      e.code === "STORAGE_AUTH" && !e.retriable &&
      e.message.includes(`${server.url}/${server.container}/bk/`) &&
      /HTTP 403 AuthenticationFailed: Server failed to authenticate/.test(e.message),
  );
  assert.equal(server.requests.length, 0, "refused before it was served");
  const anon = new AzureBlobStore({ endpoint: server.url, containerName: server.container });
  await assert.rejects(
    () => anon.put("a.asb", bytes(1)),
    (e: AerobakError) =>
      e.code === "STORAGE_AUTH" && /401 NoAuthenticationInformation/.test(e.message),
  );
});

Deno.test("AzureBlobStore gets an Entra ID token with the client secret, caches it, renews it when it expires", async () => {
  await using server = await startAzureTestServer({ tokenLifetimeSec: 600 });
  let now = Date.now();
  const options: AzureBlobStoreOptions = {
    endpoint: server.url,
    containerName: server.container,
    tenantId: "tenant-1",
    clientId: "client-1",
    clientSecret: "secret-1",
    env: { AZURE_AUTHORITY_HOST: server.authorityHost },
    now: () => now,
    retryDelayMs: 1,
  };
  const store = new AzureBlobStore(options);
  await Promise.all([store.put("a.asb", bytes(5)), store.put("b.asb", bytes(6))]);
  assert.deepEqual(await collect(await store.read("a.asb", 0)), bytes(5));
  assert.equal(server.tokensIssued, 1);
  assert.ok(server.requests.every((r) => r.auth === "bearer"));
  now += 6 * 60 * 1000; // past the renewal point (5 minutes before a 10-minute expiry)
  await store.remove("b.asb");
  assert.equal(server.tokensIssued, 2);

  const wrong = new AzureBlobStore({ ...options, clientSecret: "nope", now: undefined });
  await assert.rejects(
    () => wrong.put("c.asb", bytes(1)),
    (e: AerobakError) =>
      e.code === "STORAGE_AUTH" && !e.retriable &&
      e.message.includes(`${server.authorityHost}/tenant-1/oauth2/v2.0/token`) &&
      /invalid_client: AADSTS7000215: Invalid client secret provided/.test(e.message) &&
      !e.message.includes("nope"),
  );
  assert.throws(
    () =>
      new AzureBlobStore({ ...options, env: { AZURE_AUTHORITY_HOST: "http://login.example.com" } }),
    /Invalid Entra ID authority host "http:\/\/login.example.com": it must use https/,
  );
});

Deno.test("AzureBlobStore sends the endpoint's SAS token with every request and never shows it", async () => {
  await using server = await startAzureTestServer({ sasToken: "sv=2021-12-02&ss=b&sig=s3cr3t" });
  const store = new AzureBlobStore({
    endpoint: `${server.url}?sv=2021-12-02&ss=b&sig=s3cr3t`,
    containerName: server.container,
  });
  await store.put("bk/a.asb", bytes(4));
  assert.deepEqual(await keys(store, "bk/"), ["bk/a.asb:4"]);
  assert.ok(server.requests.every((r) => r.auth === "sas"));
  assert.equal(store.describe("bk/a.asb").includes("s3cr3t"), false);
  const bad = new AzureBlobStore({
    endpoint: `${server.url}?sv=2021-12-02&ss=b&sig=bad`,
    containerName: server.container,
  });
  await assert.rejects(
    () => bad.read("bk/a.asb", 0),
    (e: AerobakError) => e.code === "STORAGE_AUTH" && !e.message.includes("sig=bad"),
  );
});

Deno.test("AzureBlobStore retries throttling and 5xx, not 4xx, and names missing blobs and containers", async () => {
  await using server = await startAzureTestServer();
  const store = sharedKeyStore(server, { retryMaxAttempts: 2 });
  server.faults.fail(2, 503, "ServerBusy");
  await store.put("a.asb", bytes(3));
  assert.equal(server.objects.has("a.asb"), true);
  server.faults.fail(3, 500, "InternalError");
  await assert.rejects(
    () => store.put("b.asb", bytes(3)),
    (e: AerobakError) =>
      e.code === "STORAGE_WRITE" && e.retriable && /HTTP 500 InternalError/.test(e.message),
  );
  const before = server.requests.length;
  server.faults.fail(1, 400, "InvalidHeaderValue");
  await assert.rejects(
    () => store.put("b.asb", bytes(3)),
    (e: AerobakError) => e.code === "STORAGE_WRITE" && !e.retriable,
  );
  assert.equal(server.requests.length, before + 1, "a 400 is not retried");
  await assert.rejects(
    () => store.read("missing.asb", 0),
    (e: AerobakError) =>
      e.code === "STORAGE_NOT_FOUND" && e.message.includes("/backups/missing.asb") &&
      /BlobNotFound/.test(e.message),
  );
  const other = sharedKeyStore(server, { containerName: "nope" });
  await assert.rejects(
    () => keys(other, ""),
    (e: AerobakError) => e.code === "STORAGE_NOT_FOUND" && /ContainerNotFound/.test(e.message),
  );
  await assert.rejects(
    () => other.remove("x.asb"),
    (e: AerobakError) => e.code === "STORAGE_NOT_FOUND",
  );
});

Deno.test("AzureBlobStore gives up on a request after the request timeout and tries again", async () => {
  await using server = await startAzureTestServer();
  const store = sharedKeyStore(server, { requestTimeoutMs: 150, retryMaxAttempts: 1 });
  server.faults.stall(5000, 1);
  await store.put("a.asb", bytes(3));
  assert.equal(server.requests.length, 2);
  server.faults.stall(5000, 2);
  await assert.rejects(
    () => store.put("b.asb", bytes(3)),
    (e: AerobakError) =>
      e.code === "STORAGE_WRITE" && /no complete answer within 150 ms/.test(e.message),
  );
});

Deno.test("AzureBlobStore downloads resume from the byte reached, pinned to the first ETag", async () => {
  await using server = await startAzureTestServer();
  const store = sharedKeyStore(server);
  const data = bytes(50000);
  server.putBlob("bk/big.asb", data);
  server.faults.cutDownloads(12000, 2);
  const reader = new ObjectStoreReader(store, { directories: ["bk"] }, {
    readRetry: { initialBackoffMs: 1 },
  });
  const entries = [];
  for await (const e of reader.list()) entries.push(e);
  assert.equal(entries.length, 1);
  assert.deepEqual(await collect(await reader.open(entries[0])), data);
  const gets = server.requests.filter((r) => r.method === "GET" && r.blob === "bk/big.asb");
  assert.deepEqual(gets.map((r) => r.headers.get("x-ms-range")), [
    null,
    "bytes=12000-",
    "bytes=24000-",
  ]);
  const etag = server.objects.get("bk/big.asb")!.etag;
  assert.deepEqual(gets.map((r) => r.headers.get("if-match")), [null, etag, etag]);

  // The blob is replaced while it is read: the resumed read is refused, not mixed.
  server.faults.cutDownloads(1000, 1);
  const stream = (await store.read("bk/big.asb", 0)).getReader();
  let got = 0;
  await assert.rejects(
    async () => {
      while (true) {
        const r = await stream.read();
        if (r.done) break;
        got += r.value.length;
      }
    },
    (e: AerobakError) =>
      e.code === "STORAGE_READ" && e.retriable && /download broke after 1000 bytes/.test(e.message),
  );
  server.putBlob("bk/big.asb", bytes(50000, 2));
  await assert.rejects(
    () => store.read("bk/big.asb", got),
    (e: AerobakError) =>
      e.code === "STORAGE_READ" && !e.retriable &&
      /412 ConditionNotMet.*changed while it was read/.test(e.message),
  );
});

Deno.test("AzureBlobStore refuses an archived blob without a rehydrate tier and rehydrates it with one", async () => {
  await using server = await startAzureTestServer({ rehydratePolls: 2 });
  const data = bytes(300);
  server.putBlob("bk/old.asb", data, "Archive");
  const plain = sharedKeyStore(server);
  await assert.rejects(
    () => plain.read("bk/old.asb", 0),
    (e: AerobakError) =>
      e.code === "STORAGE_READ" && /Archive tier; rehydrate it first/.test(e.message),
  );
  const store = sharedKeyStore(server, { rehydrateTier: "hot", rehydratePollMs: 5 });
  assert.deepEqual(await collect(await store.read("bk/old.asb", 0)), data);
  const tierSet = server.requests.filter((r) => r.comp === "tier");
  assert.equal(tierSet.length, 1);
  assert.equal(tierSet[0].headers.get("x-ms-access-tier"), "Hot");
  assert.equal(tierSet[0].headers.get("x-ms-rehydrate-priority"), "High");
  // One property read for the refused attempt, then one before Set Blob Tier and three polls.
  assert.equal(server.requests.filter((r) => r.method === "HEAD").length, 5);
  assert.equal(server.objects.get("bk/old.asb")!.tier, "Hot");
});

Deno.test("AzureBlobStore.rehydrate() thaws every archived backup file first, then waits for each", async () => {
  await using server = await startAzureTestServer({ rehydratePolls: 1 });
  server.putBlob("bk/a.asb", bytes(10), "Archive");
  server.putBlob("bk/b.asb", bytes(11), "Archive");
  server.putBlob("bk/c.asb", bytes(12), "Cool");
  server.putBlob("bk/notes.txt", bytes(13), "Archive");
  const store = sharedKeyStore(server, { rehydrateTier: "Cool", rehydratePollMs: 5 });
  assert.equal(await store.rehydrate({ directories: ["bk"] }, { extension: ".asb" }), 2);
  const ops = server.requests.map((r) => `${r.method}${r.comp ? `?${r.comp}` : ""} ${r.blob}`);
  assert.deepEqual(ops.slice(0, 3), ["GET?list ", "PUT?tier bk/a.asb", "PUT?tier bk/b.asb"]);
  assert.equal(server.objects.get("bk/a.asb")!.tier, "Cool");
  assert.equal(server.objects.get("bk/b.asb")!.tier, "Cool");
  assert.equal(server.objects.get("bk/notes.txt")!.tier, "Archive");
  assert.equal(await store.rehydrate({ files: ["bk/a.asb", "bk/c.asb"] }), 0);
  // Stopping the wait: a blob that takes long to thaw, and a signal that fires.
  server.putBlob("bk/slow.asb", bytes(5), "Archive");
  const slow = sharedKeyStore(server, { rehydrateTier: "Hot", rehydratePollMs: 60000 });
  const stop = new AbortController();
  const waiting = slow.rehydrate({ files: ["bk/slow.asb"] }, { signal: stop.signal });
  setTimeout(() => stop.abort(), 20);
  await assert.rejects(
    waiting,
    (e: AerobakError) =>
      e.code === "STORAGE_READ" && /Stopped waiting for .*bk\/slow.asb/.test(e.message),
  );
  await assert.rejects(() => sharedKeyStore(server).rehydrate({ files: [] }), TypeError);
});

Deno.test("AzureBlobStore keeps at most maxConnsPerHost requests in flight", async () => {
  await using server = await startAzureTestServer({ latencyMs: 10 });
  const store = sharedKeyStore(server, { maxConnsPerHost: 2 });
  for (let i = 0; i < 6; i++) server.putBlob(`f${i}.asb`, bytes(20000, i));
  const reads = [];
  for (let i = 0; i < 6; i++) reads.push(store.read(`f${i}.asb`, 0).then(collect));
  await Promise.all([...reads, store.put("x.asb", bytes(5)), store.put("y.asb", bytes(5))]);
  assert.equal(server.maxInFlight, 2);
  for (let i = 0; i < 6; i++) assert.deepEqual(await reads[i], bytes(20000, i));
});

Deno.test("AzureBlobStore checks its options", () => {
  assert.throws(() => new AzureBlobStore({ endpoint: "ftp://x", containerName: "c" }), TypeError);
  assert.throws(() => new AzureBlobStore({ endpoint: "not a url", containerName: "c" }), TypeError);
  assert.throws(
    () => new AzureBlobStore({ endpoint: "https://a.blob.core.windows.net", containerName: "" }),
    TypeError,
  );
  assert.throws(
    () =>
      new AzureBlobStore({
        endpoint: "https://a.blob.core.windows.net",
        containerName: "c",
        accessTier: "Archive",
      }),
    RangeError,
  );
  const store = new AzureBlobStore({
    endpoint: "https://a.blob.core.windows.net/",
    containerName: "c",
  });
  assert.equal(store.describe("x/y.asb"), "https://a.blob.core.windows.net/c/x/y.asb");
  assert.equal(store.maxConcurrentParts, 16);
  assert.equal(store.partAlignment, 1);
});
