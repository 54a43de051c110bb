import assert from "node:assert/strict";
import { ObjectStoreReader, ObjectStoreWriter } from "../lib/io/object_store.ts";
import { startS3TestServer } from "../lib/io/cloud/s3_test_server.ts";
import { s3OptionsFromFlags, s3ReadRetry, s3StoreFromFlags, s3WriterOptions } from "./_cloud_s3.ts";
import { cloudFlags } from "./_cloud_flags.ts";
import { FlagError, parseFlags } from "./_flags.ts";

function flags(restore: boolean, args: string[]) {
  return parseFlags(cloudFlags(restore), args);
}

const NO_FILES = (path: string) => Promise.reject(new Deno.errors.NotFound(path));

Deno.test("s3OptionsFromFlags() maps the backup flags with backup-go's defaults", () => {
  const opts = s3OptionsFromFlags(
    flags(false, [
      "--s3-bucket-name",
      "bk",
      "--s3-region",
      "eu-west-1",
      "--s3-profile",
      "ops",
      "--s3-storage-class",
      "glacier_ir",
      "--s3-calculate-checksum",
      "--s3-retry-max-attempts",
      "0",
      "--s3-max-conns-per-host",
      "4",
    ]),
    false,
    { AWS_REGION: "x" },
    NO_FILES,
  );
  assert.equal(opts.bucket, "bk");
  assert.equal(opts.region, "eu-west-1");
  assert.equal(opts.profile, "ops");
  assert.equal(opts.storageClass, "GLACIER_IR");
  assert.equal(opts.calculateChecksum, true);
  assert.equal(opts.accessKeyId, undefined);
  assert.equal(opts.endpoint, undefined);
  assert.equal(opts.maxConnsPerHost, 4);
  assert.equal(opts.requestTimeoutMs, 600000);
  assert.deepEqual(opts.retry, {
    maxAttempts: 3,
    initialBackoffMs: 1000,
    multiplier: 2,
    maxBackoffMs: 90000,
  });
  assert.equal(opts.restoreTier, undefined);
  assert.deepEqual(s3WriterOptions(flags(false, ["--s3-bucket-name", "bk"])), {
    partSize: 5 * 1024 * 1024,
    uploadConcurrency: 5,
  });
  assert.deepEqual(
    s3WriterOptions(flags(false, ["--s3-chunk-size", "8", "--s3-upload-concurrency", "2"])),
    { partSize: 8 * 1024 * 1024, uploadConcurrency: 2 },
  );
});

Deno.test("s3OptionsFromFlags() maps the restore flags and s3ReadRetry() the read retries", () => {
  const f = flags(true, [
    "--s3-bucket-name",
    "bk",
    "--s3-tier",
    "bulk",
    "--s3-restore-poll-duration",
    "5000",
    "--s3-retry-read-backoff",
    "250",
    "--s3-retry-read-multiplier",
    "1.5",
    "--s3-retry-read-max-attempts",
    "0",
    "--s3-retry-max-attempts",
    "7",
    "--s3-retry-max-backoff",
    "3000",
  ]);
  const opts = s3OptionsFromFlags(f, true, {}, NO_FILES);
  assert.equal(opts.restoreTier, "Bulk");
  assert.equal(opts.restorePollMs, 5000);
  assert.equal(opts.storageClass, undefined);
  assert.equal(opts.retry?.maxAttempts, 7);
  assert.equal(opts.retry?.maxBackoffMs, 3000);
  assert.deepEqual(s3ReadRetry(f), { maxAttempts: 1, initialBackoffMs: 250, multiplier: 1.5 });
  assert.deepEqual(s3ReadRetry(flags(true, [])), {
    maxAttempts: 3,
    initialBackoffMs: 1000,
    multiplier: 2,
  });
});

Deno.test("s3OptionsFromFlags() refuses bad S3 flags with a FlagError naming the flag", () => {
  const cases: [boolean, string[], RegExp][] = [
    [false, [], /--s3-bucket-name is required/],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-storage-class", "cold"],
      /"cold" for --s3-storage-class: expected one of STANDARD, /,
    ],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-chunk-size", "4"],
      /--s3-chunk-size: S3 parts must be at least 5 MiB/,
    ],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-upload-concurrency", "-1"],
      /--s3-upload-concurrency: expected 0 or more/,
    ],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-access-key-id", "AKID"],
      /--s3-access-key-id also needs --s3-secret-access-key/,
    ],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-secret-access-key", "s"],
      /--s3-secret-access-key also needs --s3-access-key-id/,
    ],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-endpoint-override", "minio:9000"],
      /--s3-endpoint-override: expected an http\(s\) URL/,
    ],
    [
      false,
      ["--s3-bucket-name", "b", "--s3-retry-max-attempts", "-2"],
      /--s3-retry-max-attempts: expected 0 or more/,
    ],
    [
      true,
      ["--s3-bucket-name", "b", "--s3-tier", "fast"],
      /"fast" for --s3-tier: expected one of Standard, Bulk, Expedited/,
    ],
    [
      true,
      ["--s3-bucket-name", "b", "--s3-restore-poll-duration", "0"],
      /--s3-restore-poll-duration: expected 1 or more/,
    ],
    [
      true,
      ["--s3-bucket-name", "b", "--s3-request-timeout", "-1"],
      /--s3-request-timeout: expected 0 or more/,
    ],
  ];
  for (const [restore, args, re] of cases) {
    assert.throws(
      () => s3StoreFromFlags(flags(restore, args), restore, {}, NO_FILES),
      (e: Error) => e instanceof FlagError && re.test(e.message),
      args.join(" "),
    );
  }
  assert.throws(
    () => s3ReadRetry(flags(true, ["--s3-retry-read-multiplier", "0.5"])),
    /--s3-retry-read-multiplier: expected 1 or more/,
  );
});

Deno.test("s3StoreFromFlags() backs up to and restores from an S3 endpoint with profile keys", async () => {
  await using s3 = await startS3TestServer({ region: "eu-north-1", minPartSize: 1 });
  const home = {
    "/h/.aws/credentials":
      `[backup]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`,
    "/h/.aws/config": "[profile backup]\nregion = eu-north-1\n",
  } as Record<string, string>;
  const read = (p: string) => p in home ? Promise.resolve(home[p]) : NO_FILES(p);
  const env = { HOME: "/h", AWS_PROFILE: "backup" };
  const common = ["--s3-bucket-name", s3.bucket, "--s3-endpoint-override", s3.url];
  const backupFlags = flags(false, [...common, "--s3-storage-class", "standard_ia"]);
  const store = s3StoreFromFlags(backupFlags, false, env, read);
  const writer = new ObjectStoreWriter(store, "/backups/today/", s3WriterOptions(backupFlags));
  const sink = (await writer.open("ns_1.asb")).getWriter();
  await sink.write(new TextEncoder().encode("Version 3.1\n"));
  await sink.close();
  assert.equal(new TextDecoder().decode(s3.objects.get("backups/today/ns_1.asb")), "Version 3.1\n");
  assert.equal(s3.meta.get("backups/today/ns_1.asb")?.storageClass, "STANDARD_IA");

  const restoreFlags = flags(true, [...common, "--s3-retry-read-backoff", "1"]);
  const reader = new ObjectStoreReader(
    s3StoreFromFlags(restoreFlags, true, env, read),
    { directories: ["backups/today"] },
    { readRetry: s3ReadRetry(restoreFlags) },
  );
  const names: string[] = [];
  for await (const entry of reader.list()) {
    names.push(entry.path);
    assert.equal(await new Response(await reader.open(entry)).text(), "Version 3.1\n");
  }
  assert.deepEqual(names, ["s3://bucket/backups/today/ns_1.asb"]);
});
