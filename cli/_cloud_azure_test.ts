import assert from "node:assert/strict";
import { collect } from "../lib/io/_test_helpers.ts";
import { startAzureTestServer } from "../lib/io/cloud/azure_test_server.ts";
import { ObjectStoreReader, ObjectStoreWriter } from "../lib/io/object_store.ts";
import { azureReadRetry, azureStoreFromFlags, azureWriterOptions } from "./_cloud_azure.ts";
import { cloudFlags } from "./_cloud_flags.ts";
import { FlagError, parseFlags } from "./_flags.ts";

function flags(restore: boolean, args: string[]) {
  return parseFlags(cloudFlags(restore), args);
}

function noFile(path: string): Promise<string> {
  return Promise.reject(new Error(`unexpected read of ${path}`));
}

const BASE = [
  "--azure-endpoint",
  "https://acct.blob.core.windows.net",
  "--azure-container-name",
  "backups",
];

Deno.test("azureStoreFromFlags() backs up and restores through the flags, rehydrating archived files", async () => {
  await using server = await startAzureTestServer({ rehydratePolls: 1 });
  const common = [
    "--azure-endpoint",
    server.url,
    "--azure-container-name",
    server.container,
    "--azure-account-name",
    server.account,
    "--azure-account-key",
    server.accountKey,
    "--azure-retry-delay",
    "1",
  ];
  const backup = flags(false, [
    ...common,
    "--azure-access-tier",
    "cool",
    "--azure-block-size",
    "1",
    "--azure-upload-concurrency",
    "3",
    "--azure-calculate-checksum",
  ]);
  const store = azureStoreFromFlags(backup, false, {}, noFile);
  const opts = azureWriterOptions(backup);
  assert.deepEqual(opts, { partSize: 1024 * 1024, uploadConcurrency: 3 });
  const writer = new ObjectStoreWriter(store, "backups/today", opts);
  const data = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => i % 251);
  const sink = (await writer.open("test_1.asb")).getWriter();
  await sink.write(data);
  await sink.close();
  const blob = server.objects.get("backups/today/test_1.asb")!;
  assert.equal(blob.tier, "Cool");
  assert.equal(blob.blocks.length, 3);
  assert.ok(
    server.requests.filter((r) => r.comp === "block").every((r) =>
      r.headers.has("x-ms-content-crc64")
    ),
  );

  blob.tier = "Archive";
  const restore = flags(true, [
    ...common,
    "--azure-access-tier",
    "Hot",
    "--azure-rehydrate-poll-duration",
    "5",
    "--azure-retry-read-backoff",
    "1",
  ]);
  const reader = new ObjectStoreReader(
    azureStoreFromFlags(restore, true, {}, noFile),
    { directories: ["backups/today"] },
    { readRetry: azureReadRetry(restore) },
  );
  const entries = [];
  for await (const e of reader.list()) entries.push(e);
  assert.deepEqual(entries.map((e) => e.path), [`${server.url}/backups/backups/today/test_1.asb`]);
  assert.deepEqual(await collect(await reader.open(entries[0])), data);
  assert.equal(blob.tier, "Hot");
  const setTier = server.requests.filter((r) => r.comp === "tier");
  assert.deepEqual(setTier.map((r) => r.headers.get("x-ms-access-tier")), ["Hot"]);
});

Deno.test("azureStoreFromFlags() authenticates with a client secret at AZURE_AUTHORITY_HOST", async () => {
  await using server = await startAzureTestServer();
  const f = flags(false, [
    "--azure-endpoint",
    server.url,
    "--azure-container-name",
    server.container,
    "--azure-tenant-id",
    "tenant-1",
    "--azure-client-id",
    "client-1",
    "--azure-client-secret",
    "secret-1",
  ]);
  const store = azureStoreFromFlags(
    f,
    false,
    { AZURE_AUTHORITY_HOST: server.authorityHost },
    noFile,
  );
  await store.put("a.asb", new Uint8Array([1, 2, 3]));
  assert.equal(server.tokensIssued, 1);
  assert.equal(server.requests[0].auth, "bearer");
});

Deno.test("azureWriterOptions() and azureReadRetry() take backup-go's defaults", () => {
  assert.deepEqual(azureWriterOptions(flags(false, BASE)), {
    partSize: 5 * 1024 * 1024,
    uploadConcurrency: 1,
  });
  assert.equal(
    azureWriterOptions(flags(false, [...BASE, "--azure-block-size", "0"])).partSize,
    5 * 1024 * 1024,
  );
  assert.deepEqual(azureReadRetry(flags(true, BASE)), {
    initialBackoffMs: 1000,
    multiplier: 2,
    maxAttempts: 3,
  });
  assert.equal(
    azureReadRetry(flags(true, [...BASE, "--azure-retry-read-max-attempts", "0"])).maxAttempts,
    1,
  );
  const store = azureStoreFromFlags(
    flags(false, [...BASE, "--azure-upload-concurrency", "40"]),
    false,
    {},
    noFile,
  );
  assert.equal(store.maxConcurrentParts, 40);
  assert.equal(store.describe("a/b.asb"), "https://acct.blob.core.windows.net/backups/a/b.asb");
});

Deno.test("azureStoreFromFlags() refuses missing, malformed and half-given settings", () => {
  const refuses = (restore: boolean, args: string[], message: RegExp) =>
    assert.throws(
      () => {
        const f = flags(restore, args);
        azureStoreFromFlags(f, restore, {}, noFile);
        if (!restore) azureWriterOptions(f);
        else azureReadRetry(f);
      },
      (e: Error) => e instanceof FlagError && message.test(e.message),
    );
  refuses(
    false,
    ["--azure-endpoint", "https://a.blob.core.windows.net"],
    /--azure-container-name is required/,
  );
  refuses(false, ["--azure-container-name", "c"], /--azure-endpoint is required/);
  refuses(
    false,
    ["--azure-container-name", "c", "--azure-endpoint", "a.blob.core.windows.net"],
    /invalid value "a.blob.core.windows.net" for --azure-endpoint/,
  );
  refuses(
    false,
    [...BASE, "--azure-access-tier", "Archive"],
    /--azure-access-tier: the Archive tier is not allowed/,
  );
  refuses(
    true,
    [...BASE, "--azure-access-tier", "warm"],
    /invalid value "warm" for --azure-access-tier: expected one of Cold, Cool, Hot/,
  );
  refuses(
    false,
    [...BASE, "--azure-account-name", "acct"],
    /--azure-account-name also needs --azure-account-key/,
  );
  refuses(
    true,
    [...BASE, "--azure-tenant-id", "t", "--azure-client-secret", "s"],
    /--azure-tenant-id and --azure-client-secret also needs --azure-client-id/,
  );
  refuses(
    false,
    [...BASE, "--azure-retry-max-attempts", "-1"],
    /invalid value "-1" for --azure-retry-max-attempts/,
  );
  refuses(
    false,
    [...BASE, "--azure-request-timeout", "-5"],
    /--azure-request-timeout: expected 0 or more/,
  );
  refuses(
    false,
    [...BASE, "--azure-block-size", "4001"],
    /--azure-block-size: Azure blocks hold at most 4000 MiB/,
  );
  refuses(
    false,
    [...BASE, "--azure-upload-concurrency", "0"],
    /--azure-upload-concurrency: expected 1 or more/,
  );
  refuses(
    true,
    [...BASE, "--azure-rehydrate-poll-duration", "0"],
    /--azure-rehydrate-poll-duration: expected 1 or more/,
  );
  refuses(
    true,
    [...BASE, "--azure-retry-read-multiplier", "0.5"],
    /--azure-retry-read-multiplier: expected 1 or more/,
  );
});
