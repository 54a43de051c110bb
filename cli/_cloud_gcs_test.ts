import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { AerobakError } from "../lib/errors.ts";
import { serviceAccountKeyFile, startGcsTestServer } from "../lib/io/cloud/gcs_test_server.ts";
import { ObjectStoreReader, ObjectStoreWriter } from "../lib/io/object_store.ts";
import { gcsReadRetry, gcsStoreFromFlags, gcsWriterOptions } from "./_cloud_gcs.ts";
import { cloudFlags } from "./_cloud_flags.ts";
import { FlagError, parseFlags } from "./_flags.ts";

const KEYS = generateKeyPairSync("rsa", { modulusLength: 2048 });
const noFiles = (path: string) => Promise.reject(new Deno.errors.NotFound(path));

function backupFlags(...args: string[]) {
  return parseFlags(cloudFlags(false), args);
}

function restoreFlags(...args: string[]) {
  return parseFlags(cloudFlags(true), args);
}

Deno.test("gcsStoreFromFlags() refuses what backup-go refuses, naming the flag", () => {
  const bad: Array<[string[], boolean, string]> = [
    [[], false, "--gcp-bucket-name is required"],
    [["--gcp-bucket-name", "a/b"], false, 'invalid value "a/b" for --gcp-bucket-name'],
    [
      ["--gcp-bucket-name", "b", "--gcp-endpoint-override", "localhost:4443"],
      false,
      'invalid value "localhost:4443" for --gcp-endpoint-override: expected an http or https URL',
    ],
    [
      ["--gcp-bucket-name", "b", "--gcp-retry-max-attempts", "-1"],
      false,
      "--gcp-retry-max-attempts",
    ],
    [["--gcp-bucket-name", "b", "--gcp-retry-max-backoff", "-5"], true, "--gcp-retry-max-backoff"],
    [
      ["--gcp-bucket-name", "b", "--gcp-retry-init-backoff", "-5"],
      false,
      "--gcp-retry-init-backoff",
    ],
    [
      ["--gcp-bucket-name", "b", "--gcp-retry-backoff-multiplier", "0.5"],
      false,
      'invalid value "0.5" for --gcp-retry-backoff-multiplier: expected 1 or more',
    ],
    [
      ["--gcp-bucket-name", "b", "--gcp-max-conns-per-host", "-1"],
      false,
      "--gcp-max-conns-per-host",
    ],
    [["--gcp-bucket-name", "b", "--gcp-request-timeout", "-1"], true, "--gcp-request-timeout"],
    [
      ["--gcp-bucket-name", "b", "--gcp-chunk-size", "0"],
      false,
      "--gcp-chunk-size: expected 1 or more",
    ],
    [["--gcp-bucket-name", "b", "--gcp-retry-read-backoff", "0"], true, "--gcp-retry-read-backoff"],
    [
      ["--gcp-bucket-name", "b", "--gcp-retry-read-multiplier", "0"],
      true,
      "--gcp-retry-read-multiplier",
    ],
  ];
  for (const [args, restore, message] of bad) {
    const flags = restore ? restoreFlags(...args) : backupFlags(...args);
    assert.throws(
      () => gcsStoreFromFlags(flags, restore, {}, noFiles),
      (err: unknown) => err instanceof FlagError && err.message.includes(message),
      args.join(" "),
    );
  }
});

Deno.test("gcsStoreFromFlags() uses the endpoint without credentials unless a key is given", () => {
  const emulator = gcsStoreFromFlags(
    backupFlags(
      "--gcp-bucket-name",
      "bk",
      "--gcp-endpoint-override",
      "http://127.0.0.1:4443/storage/v1/b",
    ),
    false,
    {},
    noFiles,
  );
  assert.equal(emulator.bucket, "bk");
  assert.equal(emulator.endpoint, "http://127.0.0.1:4443");
  assert.equal(emulator.anonymous, true);
  const keyed = gcsStoreFromFlags(
    restoreFlags(
      "--gcp-bucket-name",
      "bk",
      "--gcp-endpoint-override",
      "https://storage.example",
      "--gcp-key-path",
      "/k.json",
    ),
    true,
    {},
    noFiles,
  );
  assert.equal(keyed.anonymous, false);
  const google = gcsStoreFromFlags(backupFlags("--gcp-bucket-name", "bk"), false, {}, noFiles);
  assert.equal(google.endpoint, "https://storage.googleapis.com");
  assert.equal(google.anonymous, false);
});

Deno.test("gcsWriterOptions() and gcsReadRetry() read the chunk size and read retries", () => {
  assert.deepEqual(gcsWriterOptions(backupFlags()), {
    partSize: 5 * 1024 * 1024,
    uploadConcurrency: 1,
  });
  assert.deepEqual(
    gcsWriterOptions(backupFlags("--gcp-chunk-size", "16")).partSize,
    16 * 1024 * 1024,
  );
  assert.deepEqual(gcsReadRetry(restoreFlags()), {
    initialBackoffMs: 1000,
    multiplier: 2,
    maxAttempts: 3,
  });
  assert.deepEqual(
    gcsReadRetry(
      restoreFlags("--gcp-retry-read-max-attempts", "0", "--gcp-retry-read-backoff", "5"),
    ),
    { initialBackoffMs: 5, multiplier: 2, maxAttempts: 1 },
  );
});

Deno.test("gcsStoreFromFlags() backs up and restores through a fake that checks the key's JWT", async () => {
  await using gcs = await startGcsTestServer({ publicKey: KEYS.publicKey });
  const keyJson = serviceAccountKeyFile(gcs.tokenUri, KEYS.privateKey);
  const readTextFile = (path: string) =>
    path === "/secrets/sa.json" ? Promise.resolve(keyJson) : noFiles(path);
  const common = [
    "--gcp-bucket-name",
    "test-bucket",
    "--gcp-endpoint-override",
    gcs.url,
    "--gcp-key-path",
    "/secrets/sa.json",
    "--gcp-retry-init-backoff",
    "1",
    "--gcp-retry-max-attempts",
    "2",
  ];
  const backup = backupFlags(...common, "--gcp-chunk-size", "1", "--gcp-calculate-checksum");
  const store = gcsStoreFromFlags(backup, false, {}, readTextFile);
  const writer = new ObjectStoreWriter(store, "backups/today", gcsWriterOptions(backup));
  const big = new Uint8Array(2_500_000).map((_, i) => (i * 7) & 0xff);
  for (
    const [name, data] of [["ns_1.asb", big], ["ns_2.asb", new Uint8Array([1, 2, 3])]] as const
  ) {
    const sink = (await writer.open(name)).getWriter();
    await sink.write(data);
    await sink.close();
  }
  assert.deepEqual(gcs.objects.get("backups/today/ns_1.asb"), big);
  assert.ok(gcs.requests.some((r) => r.headers.has("x-goog-hash")));
  // Two 503s in a row exceed --gcp-retry-max-attempts 2.
  gcs.faults.failCount = 2;
  const err = await store.remove("backups/today/x.asb").then(() => undefined, (e) => e);
  assert.ok(
    err instanceof AerobakError && err.code === "STORAGE_WRITE" && err.message.includes("503"),
  );

  const restore = restoreFlags(...common, "--gcp-retry-read-backoff", "1");
  const reader = new ObjectStoreReader(
    gcsStoreFromFlags(restore, true, {}, readTextFile),
    { directories: ["backups/today"] },
    { readRetry: gcsReadRetry(restore) },
  );
  gcs.faults.cutCount = 2;
  gcs.faults.cutAfterBytes = 1_000_000;
  const got: Array<[string, number]> = [];
  for await (const entry of reader.list()) {
    const bytes = new Uint8Array(await new Response(await reader.open(entry)).arrayBuffer());
    got.push([entry.name, bytes.length]);
    if (entry.name === "ns_1.asb") assert.deepEqual(bytes, big);
  }
  assert.deepEqual(got, [["ns_1.asb", 2_500_000], ["ns_2.asb", 3]]);
});
