/**
 * `asbackup` and `asrestore` end to end against object stores aerobak did not write
 * (s3rver, Azurite) and against the GCS fake (no independent GCS server installs here):
 * a zstd + AES-256 backup cut into files by `--file-limit` restores into another namespace
 * record for record and validates from the store; a backup SIGKILLed mid-way continues
 * with `--continue` to one that restores whole; a restore that meets a backup file replaced
 * while it reads it fails in one line; wrong credentials are one clear line.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo } from "../cli/_test_io.ts";
import { DENO, ROOT } from "./_backup_e2e.ts";
import { blobCluster, cliRun, clusterIo } from "./_cloud_e2e.ts";
import { TARGETS } from "./_cloud_targets.ts";
import { SAMPLE_KEY } from "./_crypto_helpers.ts";
import { assertSameRecords, jsonReport } from "./_restore_helpers.ts";

const CRYPT = ["-z", "zstd", "--encrypt", "AES256", "--encryption-key-file", SAMPLE_KEY];

/** Polls until `cond` holds; fails after 60 s so a stuck backup cannot hang the suite. */
async function waitFor(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const dataFile = /\/\d+_test_\d+(\(\d+\))?\.asb$/;

for (
  const { name, start } of TARGETS.filter((t) => t.independent || t.provider === "gcs")
) {
  Deno.test({
    name:
      `${name}: asbackup zstd + AES-256 --file-limit, asrestore into another namespace and --validate`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using target = await start();
      await using emu = await blobCluster(3000, ["r1"]);
      const cloud = target.flags();
      await cliRun(
        backupMain,
        [
          "-h",
          emu.seeds,
          "-n",
          "test",
          "-d",
          "crypt/today",
          "-w",
          "2",
          "-F",
          "2",
          ...CRYPT,
          ...cloud,
        ],
        clusterIo(emu),
      );
      const files = (await target.sdk.list("crypt/today/")).filter((o) => dataFile.test(o.key));
      assert.ok(files.length >= 3, `--file-limit cut the backup into files: ${files.length}`);
      const report = jsonReport(
        await cliRun(
          restoreMain,
          ["-h", emu.seeds, "-n", "test,r1", "-d", "crypt/today", "--log-json", ...CRYPT, ...cloud],
          clusterIo(emu),
        ),
      );
      assert.equal(report.records_read, 3000);
      assertSameRecords(emu, "test", "r1");
      const validated = await cliRun(
        restoreMain,
        ["-d", "crypt/today", "--validate", ...CRYPT, ...cloud],
        fakeIo(),
      );
      assert.match(validated.err.text, /Validation report/);
      assert.match(validated.err.text, /Records Read: +3000\n/);
    },
  });

  Deno.test({
    name: `${name}: asbackup SIGKILLed mid-way into the store continues with --continue`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using target = await start();
      await using emu = await blobCluster(3000, ["r1"]);
      // ~10 MiB at 4 MiB/s after a free first 4 MiB, in files of 1 MiB: killed once the
      // state file and two data files are in the store, well before the end.
      const base = [
        "-h",
        emu.seeds,
        "-n",
        "test",
        "-d",
        "killed",
        "-F",
        "1",
        "-w",
        "2",
        ...target.flags(),
      ];
      const child = new Deno.Command(DENO, {
        args: [
          "run",
          "-A",
          "--quiet",
          `${ROOT}cli/asbackup.ts`,
          ...base,
          "-N",
          "4",
          "--state-file-dst",
          "backup.state",
          "--scan-page-size",
          "50",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let exited = false;
      const status = child.status.then((s) => (exited = true, s));
      const stored = async () => {
        const keys = (await target.sdk.list("killed/")).map((o) => o.key);
        return keys.includes("killed/backup.state") &&
          keys.filter((k) => dataFile.test(k)).length >= 2;
      };
      await waitFor(async () => exited || await stored(), "the state file and two data files");
      assert.ok(!exited, "the backup finished before it could be killed");
      child.kill("SIGKILL");
      assert.equal((await status).signal, "SIGKILL");
      await child.stderr.cancel();

      await cliRun(backupMain, [...base, "--continue", "backup.state"], clusterIo(emu));
      const keys = (await target.sdk.list("killed/")).map((o) => o.key);
      assert.ok(!keys.includes("killed/backup.state"), "the state file is removed on success");
      await cliRun(
        restoreMain,
        ["-h", emu.seeds, "-n", "test,r1", "-d", "killed", ...target.flags()],
        clusterIo(emu),
      );
      assertSameRecords(emu, "test", "r1");
    },
  });
}

for (
  const { name, start, provider } of TARGETS.filter((t) => t.independent || t.provider === "gcs")
) {
  const flagPrefix = { s3: "s3-", azure: "azure-", gcs: "gcp-" }[provider];
  Deno.test({
    name: `${name}: asrestore meeting a backup file replaced during its read fails in one line`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using target = await start();
      await using emu = await blobCluster(1500, ["r1"]);
      await cliRun(
        backupMain,
        ["-h", emu.seeds, "-n", "test", "-d", "replaced", "-w", "1", ...target.flags()],
        clusterIo(emu),
      );
      const [file] = (await target.sdk.list("replaced/")).filter((o) => dataFile.test(o.key));
      const original = await target.sdk.get(file.key);
      // The same size, other bytes from the middle on: a new version of the file.
      const other = original.slice();
      other.fill(0x41, other.length >> 1);
      const replaced = target.proxy.cutAnswer(
        (r) => target.isRead(r, file.key),
        original.length >> 2,
        () => target.sdk.put(file.key, other),
      );
      const io = clusterIo(emu);
      const code = await restoreMain([
        "-h",
        emu.seeds,
        "-n",
        "test,r1",
        "-d",
        "replaced",
        `--${flagPrefix}retry-read-backoff`,
        "1",
        ...target.flags(),
      ], io);
      await replaced;
      assert.equal(code, 1, io.err.text);
      // The report of what was restored, then one error line naming the file.
      const errors = io.err.text.split("\n").filter((l) => /level=ERROR|^Error/.test(l));
      assert.equal(errors.length, 1, io.err.text);
      assert.match(errors[0], new RegExp(`${file.key}.*changed (since|while) `));
      assert.doesNotMatch(io.err.text, /\n\s+at /);
      assert.ok(emu.count("r1") < 1500, "the restore stopped");
    },
  });
}

for (const { name, start } of TARGETS.filter((t) => t.provider !== "gcs")) {
  Deno.test({
    name: `${name}: asbackup with wrong credentials is one clear line`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using target = await start();
      await using emu = await blobCluster(10, []);
      const io = fakeIo();
      const code = await backupMain(
        ["-h", emu.seeds, "-n", "test", "-d", "bad", ...target.flags("wrong")],
        io,
      );
      assert.equal(code, 1);
      const lines = io.err.text.trim().split("\n");
      assert.equal(lines.length, 1, io.err.text);
      assert.match(
        lines[0],
        target.provider === "s3"
          ? /InvalidAccessKeyId|SignatureDoesNotMatch/
          : /403 AuthenticationFailed|check the account key/,
      );
    },
  });
}
