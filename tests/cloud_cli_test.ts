/**
 * End to end through the cloud storage flags: asbackup writes into a fake S3, GCS or Azure
 * Blob (each checking its provider's authentication), asrestore reads the objects back, and
 * the restored namespace equals the source.
 */

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo as cliFakeIo } from "../cli/_test_io.ts";
import { startAzureTestServer } from "../lib/io/cloud/azure_test_server.ts";
import { serviceAccountKeyFile, startGcsTestServer } from "../lib/io/cloud/gcs_test_server.ts";
import { startS3TestServer } from "../lib/io/cloud/s3_test_server.ts";
import { SecretAgentTestServer } from "../lib/secret_agent/test_server.ts";
import { addMetadata, seeded } from "./_backup_e2e.ts";
import { assertSameRecords, jsonReport } from "./_restore_helpers.ts";
import { s3Flags } from "./_cloud_flags.ts";

type Io = ReturnType<typeof cliFakeIo>;

async function run(
  main: (args: string[], io: Io) => Promise<number>,
  args: string[],
  io: Io = cliFakeIo(),
): Promise<Io> {
  const code = await main(args, io);
  assert.equal(code, 0, io.err.text);
  return io;
}

type AzureFake = Awaited<ReturnType<typeof startAzureTestServer>>;

/** Flags that reach a fake Azure container with its shared key. */
function azureFlags(azure: AzureFake): string[] {
  return [
    "--azure-endpoint",
    azure.url,
    "--azure-container-name",
    azure.container,
    "--azure-account-name",
    azure.account,
    "--azure-account-key",
    azure.accountKey,
  ];
}

async function backupThenRestore(
  cloud: string[],
  files: Record<string, string>,
  expectFiles: () => void,
) {
  await using emu = await seeded(300);
  addMetadata(emu);
  // The CLI's clock is the emulator's, so TTLs restore as they were backed up.
  const io = () => cliFakeIo({ files, now: () => new Date(emu.cluster.clock.now()) });
  const hosts = ["-h", emu.seeds];
  await run(
    backupMain,
    [...hosts, "-n", "test", "-d", "backups/today", "-w", "2", "-F", "1", ...cloud],
    io(),
  );
  const report = jsonReport(
    await run(restoreMain, [
      ...hosts,
      "-n",
      "test,bar",
      "-d",
      "backups/today",
      "--log-json",
      ...cloud,
    ], io()),
  );
  assert.equal(report.records_read, 300);
  assertSameRecords(emu, "test", "bar");
  assert.ok(
    emu.cluster.metadata.sindexes("bar").length > 0,
    "the secondary index of the backup was restored",
  );
  expectFiles();
}

Deno.test("asbackup/asrestore --s3-* back up into and restore from an S3 bucket prefix", async () => {
  await using s3 = await startS3TestServer({ region: "eu-west-1", minPartSize: 1 });
  const cloud = s3Flags(s3, "eu-west-1");
  await backupThenRestore(cloud, {}, () => {
    const keys = [...s3.objects.keys()];
    assert.ok(keys.length >= 2 && keys.every((k) => k.startsWith("backups/today/")), `${keys}`);
    assert.ok(keys.some((k) => /^backups\/today\/[0-9]+_test_[0-9]+\.asb$/.test(k)));
  });
  // The prefix now holds a backup: a new one is refused without -r, accepted with it.
  await using emu = await seeded(10);
  const again = ["-h", emu.seeds, "-n", "test", "-d", "backups/today", ...cloud];
  const refused = cliFakeIo();
  assert.equal(await backupMain(again, refused), 1);
  assert.equal(refused.err.text.trim().split("\n").length, 1, refused.err.text);
  assert.match(refused.err.text, /s3:\/\/bucket\/backups\/today\/.*not empty/);
  await run(backupMain, [...again, "-r"]);
  // The credentials can come from the environment as the AWS SDK takes them.
  const envIo = cliFakeIo({
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
  });
  await run(backupMain, [
    "-h",
    emu.seeds,
    "-n",
    "test",
    "-d",
    "other",
    "--s3-bucket-name",
    s3.bucket,
    "--s3-region",
    "eu-west-1",
    "--s3-endpoint-override",
    s3.url,
  ], envIo);
  assert.ok([...s3.objects.keys()].some((k) => k.startsWith("other/")));
  // A wrong secret is one clear line naming the bucket and the signature failure.
  const bad = cliFakeIo();
  const badArgs = [...again.map((a) => (a === s3.secretAccessKey ? "wrong" : a)), "-r"];
  assert.equal(await backupMain(badArgs, bad), 1);
  assert.equal(bad.err.text.trim().split("\n").length, 1, bad.err.text);
  assert.match(bad.err.text, /SignatureDoesNotMatch|signature/i);
});

Deno.test("asbackup/asrestore --gcp-* back up into and restore from a GCS bucket with a service-account key", async () => {
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  await using gcs = await startGcsTestServer({ publicKey: keys.publicKey });
  const keyJson = serviceAccountKeyFile(gcs.tokenUri, keys.privateKey);
  const cloud = [
    "--gcp-bucket-name",
    "test-bucket",
    "--gcp-endpoint-override",
    gcs.url,
    "--gcp-key-path",
    "/secrets/sa.json",
  ];
  await backupThenRestore(
    cloud,
    { "/secrets/sa.json": keyJson },
    () => {
      const names = [...gcs.objects.keys()];
      assert.ok(
        names.length >= 2 && names.every((k) => k.startsWith("backups/today/")),
        `${names}`,
      );
    },
  );
});

Deno.test("asbackup/asrestore --azure-* back up into and restore from an Azure container", async () => {
  await using azure = await startAzureTestServer();
  const cloud = azureFlags(azure);
  await backupThenRestore(cloud, {}, () => {
    const names = [...azure.objects.keys()];
    assert.ok(names.length >= 2 && names.every((k) => k.startsWith("backups/today/")), `${names}`);
  });
});

Deno.test("cloud flags of two providers, or with -o or -i -, are one clear error", async () => {
  for (
    const [main, args, pattern] of [
      [backupMain, ["--s3-bucket-name", "b", "--gcp-bucket-name", "g"], /only one cloud provider/],
      [backupMain, ["--s3-bucket-name", "b", "-o", "-"], /standard output/],
      [restoreMain, [
        "--azure-container-name",
        "c",
        "--azure-endpoint",
        "http://127.0.0.1:1/a",
        "-i",
        "-",
      ], /standard input/],
    ] as const
  ) {
    const io = cliFakeIo();
    assert.equal(await main(["-n", "test", "-h", "127.0.0.1:1", ...args], io), 1);
    assert.match(io.err.text.split("\n")[0], pattern);
  }
});

Deno.test("asbackup --state-file-dst into S3 interrupted says how to resume; --continue completes it", async () => {
  await using s3 = await startS3TestServer({ minPartSize: 1 });
  const cloud = s3Flags(s3);
  await using emu = await seeded(0);
  const blob = new Uint8Array(3000);
  for (let i = 0; i < 1900; i++) {
    blob.fill(i & 255);
    emu.put({ namespace: "test", set: "", key: i, bins: { b: blob, i } });
  }
  const args = ["-h", emu.seeds, "-n", "test", "-d", "bk", "-F", "1", "-w", "2", ...cloud];
  const abort = new AbortController();
  const io = { ...cliFakeIo(), signal: abort.signal };
  // ~8 MiB at 2 MiB/s after a free first 2 MiB: stopped once 3 files are in the bucket.
  const first = backupMain(
    [...args, "-N", "2", "--state-file-dst", "backup.state", "--scan-page-size", "100"],
    io,
  );
  const deadline = performance.now() + 20_000;
  const dataFiles = () => [...s3.objects.keys()].filter((k) => /^bk\/\d+_test_\d+\.asb$/.test(k));
  while (dataFiles().length < 3 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  abort.abort(new Error("interrupted by signal"));
  assert.equal(await first, 1);
  assert.match(io.err.text, /resume="run again with --continue backup\.state/);
  assert.ok(s3.objects.has("bk/backup.state"), "the state file is in the bucket");
  await run(backupMain, [...args, "--continue", "backup.state"]);
  assert.equal(s3.objects.has("bk/backup.state"), false, "state file removed on success");
  const restored = cliFakeIo();
  await run(restoreMain, ["-h", emu.seeds, "-n", "test,bar", "-d", "bk", ...cloud], restored);
  assertSameRecords(emu, "test", "bar");
});

Deno.test("asrestore from S3: --validate reads the manifest in the bucket; --state-file-dst keeps its state there; --continue completes", async () => {
  await using s3 = await startS3TestServer({ minPartSize: 1 });
  const cloud = s3Flags(s3);
  await using emu = await seeded(0);
  const blob = new Uint8Array(1000);
  for (let i = 0; i < 3000; i++) {
    blob.fill(i & 255);
    emu.put({ namespace: "test", set: "", key: i, bins: { b: blob, i } });
  }
  await run(backupMain, ["-h", emu.seeds, "-n", "test", "-d", "bk", "-w", "4", ...cloud]);
  assert.ok(s3.objects.has("bk/backup.manifest.json"));
  const valid = await run(restoreMain, ["--validate", "-d", "bk", "--log-json", ...cloud]);
  assert.match(valid.err.text, /"msg":"the backup matches its manifest".*"files":4/);

  const args = ["-h", emu.seeds, "-n", "test,bar", "-d", "bk", "-w", "2", ...cloud];
  const abort = new AbortController();
  const io = { ...cliFakeIo(), signal: abort.signal };
  const first = restoreMain([...args, "-L", "3000", "--state-file-dst", "restore.state"], io);
  let finished = false;
  first.then(() => finished = true);
  const progress = () => {
    const state = s3.objects.get("bk/restore.state");
    if (state === undefined) return false;
    const s = JSON.parse(new TextDecoder().decode(state));
    return s.done.length + Object.keys(s.offsets).length > 0;
  };
  while (!finished && (emu.count("bar") < 1000 || !progress())) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(finished, false, "the restore ended before it could be interrupted");
  abort.abort(new Error("interrupted by signal"));
  assert.equal(await first, 1);
  assert.match(io.err.text, /resume="run again with --continue restore\.state/);
  await run(restoreMain, [...args, "--continue", "restore.state"]);
  assert.equal(s3.objects.has("bk/restore.state"), false, "state removed on success");
  assertSameRecords(emu, "test", "bar");
});

Deno.test("asbackup -o into an Azure container writes one object; asrestore -i reads it back", async () => {
  await using azure = await startAzureTestServer();
  const cloud = azureFlags(azure);
  await using emu = await seeded(120);
  const io = () => cliFakeIo({ now: () => new Date(emu.cluster.clock.now()) });
  await run(backupMain, ["-h", emu.seeds, "-n", "test", "-o", "single/all.asb", ...cloud], io());
  assert.deepEqual([...azure.objects.keys()], ["single/all.asb", "single/all.asb.manifest.json"]);
  await run(
    restoreMain,
    ["-h", emu.seeds, "-n", "test,bar", "-i", "single/all.asb", ...cloud],
    io(),
  );
  assertSameRecords(emu, "test", "bar");
  await run(
    backupMain,
    ["-n", "test", "-o", "single/all.asb", "--remove-artifacts", ...cloud],
    io(),
  );
  assert.equal(azure.objects.size, 0);
});

Deno.test("cloud credentials given as secrets: references come from the Secret Agent", async () => {
  await using s3 = await startS3TestServer({ minPartSize: 1 });
  await using agent = await SecretAgentTestServer.start({
    secrets: { aws: { id: s3.accessKeyId, key: s3.secretAccessKey } },
  });
  await using emu = await seeded(40);
  await run(backupMain, [
    "-h",
    emu.seeds,
    "-n",
    "test",
    "-d",
    "sa",
    ...s3Flags(s3, "us-east-1", ["secrets:aws:id", "secrets:aws:key"]),
    "--sa-address",
    agent.address,
    "--sa-port",
    String(agent.port),
  ]);
  assert.ok([...s3.objects.keys()].some((k) => /^sa\/\d+_test_\d+\.asb$/.test(k)));
});
