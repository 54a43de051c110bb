/**
 * End to end: `asbackup --shards N --shard I` (or `JOB_COMPLETION_INDEX`) writes shard I's
 * partitions into `<dir>/shard-I-of-N/`; `asrestore -d <dir>` restores every shard,
 * `asrestore --shards N --shard I` one; an incomplete sharded backup is refused, reported
 * by `--validate`, and restored in part with `--allow-partial`.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo as cliFakeIo } from "../cli/_test_io.ts";
import { partitionId } from "../lib/aerospike/digest.ts";
import { shardPartitions } from "../lib/backup/shards.ts";
import type { Emulator } from "../lib/emulator/emulator.ts";
import { startS3TestServer } from "../lib/io/cloud/s3_test_server.ts";
import {
  addMetadata,
  assertExactlyOnce,
  type FakeIo,
  hex,
  readBackup,
  seeded,
  tempDir,
} from "./_backup_e2e.ts";
import { assertSameRecords, jsonReport } from "./_restore_helpers.ts";
import { s3Flags } from "./_cloud_flags.ts";

type Main = (args: string[], io: FakeIo) => Promise<number>;

function io(emu?: Emulator, env: Record<string, string> = {}): FakeIo {
  return cliFakeIo({ env, now: emu && (() => new Date(emu.cluster.clock.now())) });
}

async function ok(main: Main, args: string[], proc: FakeIo = io()): Promise<FakeIo> {
  const code = await main(args, proc);
  assert.equal(code, 0, proc.err.text);
  return proc;
}

/** Runs a CLI that must fail with one error line matching `message`. */
async function refused(main: Main, args: string[], message: RegExp, proc = io()): Promise<void> {
  assert.equal(await main(args, proc), 1, proc.err.text);
  const lines = proc.err.text.trim().split("\n").filter((l) => !l.startsWith("Run '"));
  assert.equal(lines.length, 1, proc.err.text);
  assert.match(lines[0], message);
}

/** Backs up `test` as `count` shards, all at once, shard 1 through JOB_COMPLETION_INDEX. */
async function shardedBackup(emu: Emulator, dir: string, count: number, extra: string[] = []) {
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const base = ["-h", emu.seeds, "-n", "test", "-d", dir, "-w", "2", "--shards", `${count}`];
      // One pod of an Indexed Job gets its index from the environment, as Kubernetes sets it.
      return i === 1
        ? ok(backupMain, [...base, ...extra], io(emu, { JOB_COMPLETION_INDEX: "1" }))
        : ok(backupMain, [...base, "--shard", `${i}`, ...extra], io(emu));
    }),
  );
}

Deno.test("asbackup --shards 3 writes each shard's partitions into its directory; asrestore -d restores them all", async () => {
  await using emu = await seeded(1200);
  addMetadata(emu);
  await using dir = await tempDir();
  await shardedBackup(emu, dir.path, 3);
  const entries = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  assert.deepEqual(entries, ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]);
  const all = [];
  for (let index = 0; index < 3; index++) {
    const b = await readBackup(`${dir.path}/shard-${index}-of-3`);
    const { begin, count } = shardPartitions({ index, count: 3 });
    for (const r of b.records) {
      const p = partitionId(r.digest);
      assert.ok(p >= begin && p < begin + count, `shard ${index}: ${hex(r.digest)} in ${p}`);
    }
    // Each shard's own manifest records N and I.
    const manifest = JSON.parse(
      await Deno.readTextFile(`${dir.path}/shard-${index}-of-3/backup.manifest.json`),
    );
    assert.deepEqual(manifest.settings.shard, { index, count: 3 });
    assert.deepEqual(manifest.settings.partitionFilters, [{ kind: "range", begin, count }]);
    assert.equal(manifest.totals.records, b.records.length);
    // Shard 0 holds the UDFs and indexes, once for the whole backup.
    assert.equal(b.udfs.length > 0 && b.sindexes.length > 0, index === 0, `shard ${index}`);
    assert.ok(b.records.length > 300, `shard ${index} has ${b.records.length} records`);
    all.push(...b.records);
  }
  assertExactlyOnce(all, emu.dump("test"));

  const restored = jsonReport(
    await ok(
      restoreMain,
      ["-h", emu.seeds, "-n", "test,bar", "-d", dir.path, "--log-json"],
      io(emu),
    ),
  );
  assert.equal(restored.records_read, 1200);
  assertSameRecords(emu, "test", "bar");
  assert.ok(emu.cluster.metadata.sindexes("bar").some((s) => s.name === "idx_i"));
  const validated = jsonReport(
    await ok(restoreMain, ["-d", dir.path, "--validate", "--log-json"]),
    "validation report",
  );
  assert.equal(validated.records_read, 1200);
});

Deno.test("asrestore --validate checks each shard's files against its own manifest", async () => {
  await using emu = await seeded(600);
  await using dir = await tempDir();
  await shardedBackup(emu, dir.path, 2);
  const clean = await ok(restoreMain, ["-d", dir.path, "--validate", "--log-json"]);
  assert.match(
    clean.err.text,
    /"msg":"the backup matches its manifest","manifest":"2 shard manifests"/,
  );
  // A byte changed inside a value of shard 1's first file: still valid ASB, another SHA-256.
  const file = `${dir.path}/shard-1-of-2/0_test_1.asb`;
  const bytes = await Deno.readFile(file);
  const at = new TextDecoder().decode(bytes).lastIndexOf("with spaces");
  bytes[at] = 0x57; // "w" → "W"
  await Deno.writeFile(file, bytes);
  const tampered = io();
  assert.equal(await restoreMain(["-d", dir.path, "--validate", "--log-json"], tampered), 1);
  assert.match(
    tampered.err.text,
    /"msg":"validation finding","file":"0_test_1\.asb","check":"checksum"/,
  );
  assert.match(tampered.err.text, /shard-1-of-2\/0_test_1\.asb/);
  assert.doesNotMatch(tampered.err.text, /shard-0-of-2\/0_test_1\.asb/);
  // --verify takes one shard at a time (each shard directory is a backup with a manifest).
  await refused(
    restoreMain,
    ["-h", emu.seeds, "-d", dir.path, "--verify"],
    /verify failed.*Cannot --verify the sharded backup in .* as a whole: verify each shard/,
  );
});

Deno.test("asrestore --shards N --shard I restores one shard; JOB_COMPLETION_INDEX picks it too", async () => {
  await using emu = await seeded(600);
  await using dir = await tempDir();
  await shardedBackup(emu, dir.path, 2);
  const restoreShard = async (ns: string, shard: string[], env: Record<string, string> = {}) => {
    const args = ["-h", emu.seeds, "-n", `test,${ns}`, "-d", dir.path, "--shards", "2", ...shard];
    await ok(restoreMain, args, io(emu, env));
  };
  await restoreShard("bar", ["--shard", "1"]);
  const { begin, count } = shardPartitions({ index: 1, count: 2 });
  const want = emu.dump("test").filter((r) => {
    const p = partitionId(r.digest);
    return p >= begin && p < begin + count;
  });
  assertExactlyOnce(emu.dump("bar"), want);
  await restoreShard("bar", [], { JOB_COMPLETION_INDEX: "0" });
  assertSameRecords(emu, "test", "bar");
  // The shard count must be the backup's.
  await refused(
    restoreMain,
    ["-h", emu.seeds, "-d", dir.path, "--shards", "4", "--shard", "0"],
    /restore failed.*Invalid shard 0 of 4: .* holds a backup split into 2 shards/,
  );
});

Deno.test("an incomplete sharded backup is refused, reported by --validate, restored in part with --allow-partial", async () => {
  await using emu = await seeded(900);
  await using dir = await tempDir();
  await shardedBackup(emu, dir.path, 4);
  // Shard 1 never ran; shard 2 died before its manifest (its files are there, unfinished).
  await Deno.remove(`${dir.path}/shard-1-of-4`, { recursive: true });
  await Deno.remove(`${dir.path}/shard-2-of-4/backup.manifest.json`);
  const restore = ["-h", emu.seeds, "-n", "test,bar", "-d", dir.path];
  await refused(
    restoreMain,
    restore,
    /restore failed.*incomplete: 2 of its 4 shards are not there \(missing: shard 1; unfinished, without a manifest: shard 2\); pass allowPartial \(--allow-partial\)/,
  );
  assert.equal(emu.dump("bar").length, 0, "nothing was written");
  // One shard's restore (a pod of an Indexed restore Job) checks the whole backup too.
  await refused(
    restoreMain,
    [...restore, "--shards", "4", "--shard", "0"],
    /\(missing: shard 1; unfinished, without a manifest: shard 2\)/,
  );

  const validate = io();
  assert.equal(await restoreMain(["-d", dir.path, "--validate"], validate), 1);
  assert.match(validate.err.text, /Validation report/);
  assert.match(
    validate.err.text,
    /validation failed.*The sharded backup in .* is incomplete: 2 of its 4 shards are not there \(missing: shard 1; unfinished, without a manifest: shard 2\)/,
  );

  // The finished shards only: 0 and 3.
  const partial = await ok(restoreMain, [...restore, "--allow-partial", "--log-json"], io(emu));
  assert.match(partial.err.text, /"missing_shards":"1,2"/);
  const finished = emu.dump("test").filter((r) => {
    const p = partitionId(r.digest);
    return [0, 3].some((index) => {
      const { begin, count } = shardPartitions({ index, count: 4 });
      return p >= begin && p < begin + count;
    });
  });
  assertExactlyOnce(emu.dump("bar"), finished);
});

Deno.test("asbackup --shards refuses other partition choices and bad shard numbers in one line", async () => {
  await using dir = await tempDir();
  const base = ["-h", "127.0.0.1:1", "-n", "test", "-d", dir.path, "--shards", "4"];
  const cases: [string[], RegExp, Record<string, string>?][] = [
    [
      ["--shard", "0", "--partition-list", "0-100"],
      /--shards cannot be used with --partition-list: a shard's partitions are fixed/,
    ],
    [
      ["--shard", "0", "--after-digest", "EjRWeJq83vEjRRI0VniavN7xI0U="],
      /--shards cannot be used with --after-digest/,
    ],
    [["--shard", "0", "--node-list", "127.0.0.1:3000"], /--shards cannot be used with --node-list/],
    [[], /--shards 4 needs the shard number: set --shard or \$JOB_COMPLETION_INDEX/],
    [["--shard", "4"], /invalid shard 4: expected 0 to 3 with --shards 4/],
    [[], /invalid JOB_COMPLETION_INDEX \\"x1\\": expected a shard number from 0 to 3/, {
      JOB_COMPLETION_INDEX: "x1",
    }],
    [[], /invalid shard 7 \(from \$JOB_COMPLETION_INDEX\): expected 0 to 3/, {
      JOB_COMPLETION_INDEX: "7",
    }],
  ];
  for (const [extra, message, env] of cases) {
    await refused(backupMain, [...base, ...extra], message, io(undefined, env));
  }
  await refused(
    backupMain,
    ["-h", "127.0.0.1:1", "-n", "test", "-o", `${dir.path}/x.asb`, "--shards", "2", "--shard", "0"],
    /--shards cannot be used with --output-file/,
  );
  await refused(
    backupMain,
    ["-h", "127.0.0.1:1", "-n", "test", "-d", dir.path, "--shard", "1"],
    /--shard needs --shards/,
  );
  await refused(backupMain, [...base, "--shards", "4097"], /expected 1 to 4096/);
  await refused(
    restoreMain,
    ["-i", `${dir.path}/x.asb`, "--shards", "2", "--shard", "0"],
    /--shards cannot be used with --input-file/,
  );
});

Deno.test("asbackup --shards from a --config file takes the shard from JOB_COMPLETION_INDEX; --continue resumes one shard", async () => {
  await using emu = await seeded(800);
  await using dir = await tempDir();
  const yaml = (extra: string) =>
    `cluster:\n  seeds:\n${
      emu.seeds.split(",").map((s) => `    - host: 127.0.0.1\n      port: ${s.split(":")[1]}\n`)
        .join("")
    }backup:\n  namespace: test\n  directory: ${dir.path}\n  shards: 2\n  parallel: 2\n${extra}`;
  const files = { "/etc/aerobak/backup.yaml": yaml("") };
  const run = (index: number) =>
    ok(
      backupMain,
      ["--config", "/etc/aerobak/backup.yaml"],
      cliFakeIo({ env: { JOB_COMPLETION_INDEX: `${index}` }, files }),
    );
  await run(0);
  // Shard 1 is interrupted after its state file is written, then continued.
  const abort = new AbortController();
  const interrupted = cliFakeIo({ env: { JOB_COMPLETION_INDEX: "1" } });
  const shard1 = ["-h", emu.seeds, "-n", "test", "-d", dir.path, "--shards", "2", "-F", "1"];
  const args = [
    ...shard1,
    "--state-file-dst",
    "shard.state",
    "--scan-page-size",
    "50",
    "-L",
    "200",
  ];
  const first = backupMain(args, { ...interrupted, signal: abort.signal });
  const state = `${dir.path}/shard-1-of-2/shard.state`;
  for (;;) {
    const found = await Deno.stat(state).then(() => true, () => false);
    if (found) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  abort.abort(new Error("interrupted by signal"));
  assert.equal(await first, 1);
  assert.match(
    interrupted.err.text,
    /resume="run again with --continue shard\.state .*--shards 2 --shard 1/,
  );
  await ok(
    backupMain,
    [...shard1, "--continue", "shard.state", "--scan-page-size", "50"],
    cliFakeIo({ env: { JOB_COMPLETION_INDEX: "1" } }),
  );
  const records = [
    ...(await readBackup(`${dir.path}/shard-0-of-2`)).records,
    ...(await readBackup(`${dir.path}/shard-1-of-2`)).records,
  ];
  const seen = new Set(records.map((r) => hex(r.digest)));
  assert.equal(seen.size, 800, "every record is in one of the shards");
  await ok(restoreMain, ["-h", emu.seeds, "-n", "test,bar", "-d", dir.path], io(emu));
  assertSameRecords(emu, "test", "bar");
});

Deno.test("asbackup --shards into an S3 prefix and asrestore of the prefix", async () => {
  await using s3 = await startS3TestServer({ region: "eu-west-1", minPartSize: 1 });
  const cloud = s3Flags(s3, "eu-west-1");
  await using emu = await seeded(500);
  addMetadata(emu);
  await shardedBackup(emu, "backups/daily", 2, cloud);
  const keys = [...s3.objects.keys()];
  assert.ok(keys.some((k) => k.startsWith("backups/daily/shard-0-of-2/")), `${keys}`);
  assert.ok(keys.some((k) => k.startsWith("backups/daily/shard-1-of-2/")), `${keys}`);
  await ok(
    restoreMain,
    ["-h", emu.seeds, "-n", "test,bar", "-d", "backups/daily", ...cloud],
    io(emu),
  );
  assertSameRecords(emu, "test", "bar");
  // A retried pod replaces its shard's files with -r, leaving the other shard alone.
  await ok(
    backupMain,
    [
      "-h",
      emu.seeds,
      "-n",
      "test",
      "-d",
      "backups/daily",
      "--shards",
      "2",
      "--shard",
      "1",
      "-r",
      ...cloud,
    ],
  );
  assert.deepEqual(
    [...s3.objects.keys()].filter((k) => k.includes("shard-0-of-2")).sort(),
    keys.filter((k) => k.includes("shard-0-of-2")).sort(),
  );
});
