/**
 * End-to-end tests of `asbackup` (cli-flags.md §1): every flag, on a 3-node emulator,
 * checked by reading the files back with the ASB decoder.
 */

import assert from "node:assert/strict";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { partitionId } from "../lib/aerospike/digest.ts";
import { encodeExpression, Exp } from "../lib/aerospike/expression.ts";
import { ParticleType } from "../lib/aerospike/record.ts";
import { BackupClient } from "../lib/client.ts";
import { compareDigests } from "../lib/emulator/record_store.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";
import { ManualClock } from "../lib/pipeline/clock.ts";
import { main as backupMain } from "../cli/asbackup.ts";
import { MANIFEST_FILE_NAME, MANIFEST_SUFFIX } from "../lib/backup/manifest.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import {
  addMetadata,
  assertExactlyOnce,
  assertManifestMatches,
  backupArgs,
  type FakeIo,
  fakeIo,
  localTime,
  readBackup,
  seeded,
  T0,
  tempDir,
} from "./_backup_e2e.ts";

const DATA_NAME = /^(\d+)_test_(\d+)\.asb$/;

async function backup(args: string[], io: FakeIo = fakeIo()): Promise<FakeIo> {
  const code = await backupMain(args, io);
  assert.equal(code, 0, io.err.text);
  return io;
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("asbackup -n -d -w 1/2/4 writes every record once, the metadata file and backup-go names", async () => {
  await using emu = await seeded(600);
  addMetadata(emu);
  const all = emu.dump("test");
  for (const w of [1, 2, 4]) {
    await using dir = await tempDir();
    const io = await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", String(w)]);
    assert.match(io.err.text, /Records Read: +600\n/);
    assert.match(io.err.text, /sIndex Read: +1\n/);
    assert.match(io.err.text, /UDFs Read: +1\n/);
    const b = await readBackup(dir.path);
    assertExactlyOnce(b.records, all);
    assert.deepEqual(b.others, [MANIFEST_FILE_NAME]);
    const manifest = await assertManifestMatches(dir.path, b);
    assert.equal(manifest.namespace, "test");
    assert.equal(manifest.kind, "scan");
    assert.equal(manifest.cluster.name, "aerobak-emulator");
    assert.match(manifest.cluster.build, /^\d+\.\d+/);
    // Metadata: its own file, first in the run (backup-go: metadata_<ns>_<n>.asb).
    const meta = b.files.filter((f) => f.name.startsWith("metadata_"));
    assert.deepEqual(meta.map((f) => f.name), ["metadata_test_1.asb"]);
    assert.equal(meta[0].records.length, 0);
    assert.deepEqual(meta[0].udfs.map((u) => u.name), ["hello.lua"]);
    assert.equal(
      new TextDecoder().decode(meta[0].udfs[0].content),
      "function hello(rec)\n  return 'hi'\nend\n",
    );
    assert.deepEqual(meta[0].sindexes.map((s) => [s.namespace, s.set, s.name, s.bin]), [
      ["test", "alpha", "idx_i", "i"],
    ]);
    assert.equal(meta[0].header.firstFile, true);
    // Data files: <writer>_<ns>_<n>.asb, one counter shared by the run, writers < w.
    const data = b.files.filter((f) => !f.name.startsWith("metadata_"));
    assert.ok(data.length >= 1 && data.length <= w, data.map((f) => f.name).join());
    const numbers = new Set<number>();
    for (const f of data) {
      const m = DATA_NAME.exec(f.name);
      assert.ok(m, f.name);
      assert.ok(Number(m[1]) < w, f.name);
      numbers.add(Number(m[2]));
      assert.equal(f.header.namespace, "test");
      assert.equal(f.header.firstFile, false, `${f.name} is not the first file`);
      assert.equal(f.udfs.length + f.sindexes.length, 0);
    }
    assert.equal(numbers.size, data.length, "file numbers are unique");
    assert.ok(!numbers.has(1), "number 1 went to the metadata file");
    // Bins survive as the server has them.
    const byDigest = new Map(all.map((r) => [r.digest.join(), r]));
    for (const r of b.records.slice(0, 50)) {
      assert.deepEqual(r.bins, byDigest.get(r.digest.join())!.bins);
    }
  }
});

Deno.test("asbackup -o writes metadata and records into one file", async () => {
  await using emu = await seeded(300);
  addMetadata(emu);
  await using dir = await tempDir();
  const file = `${dir.path}/sub/one.asb`;
  await backup(["-h", emu.seeds, "-n", "test", "-o", file, "-w", "4", "-F", "1"]);
  const b = await readBackup(dir.path + "/sub");
  assert.deepEqual(b.files.map((f) => f.name), ["one.asb"]);
  assert.equal(b.files[0].header.firstFile, true);
  assertExactlyOnce(b.records, emu.dump("test"));
  assert.equal(b.udfs.length, 1);
  assert.equal(b.sindexes.length, 1);
});

Deno.test("asbackup -s backs up only the listed sets, -B only the listed bins", async () => {
  await using emu = await seeded(300);
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-s", "alpha,beta", "-w", "2"]);
  const b = await readBackup(dir.path);
  assertExactlyOnce(
    b.records,
    emu.dump("test").filter((r) => r.set === "alpha" || r.set === "beta"),
  );

  await using dir2 = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir2.path, "-B", "i,l"]);
  const b2 = await readBackup(dir2.path);
  assertExactlyOnce(b2.records, emu.dump("test"));
  for (const r of b2.records) assert.deepEqual(r.bins.map((x) => x.name).sort(), ["i", "l"]);
});

Deno.test("asbackup -R writes only metadata; -I and --no-udfs leave out indexes and UDFs", async () => {
  await using emu = await seeded(100);
  addMetadata(emu);
  const run = async (flags: string[]) => {
    await using dir = await tempDir();
    const io = await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, ...flags]);
    return { b: await readBackup(dir.path), io };
  };
  const r = await run(["-R"]);
  assert.deepEqual(r.b.files.map((f) => f.name), ["metadata_test_1.asb"]);
  assert.equal(r.b.records.length, 0);
  assert.equal(r.b.udfs.length, 1);
  assert.equal(r.b.sindexes.length, 1);
  assert.match(r.io.err.text, /Records Read: +0\n/);

  const i = await run(["-I"]);
  assert.equal(i.b.sindexes.length, 0);
  assert.equal(i.b.udfs.length, 1);
  assert.equal(i.b.records.length, 100);

  const u = await run(["--no-udfs"]);
  assert.equal(u.b.sindexes.length, 1);
  assert.equal(u.b.udfs.length, 0);
  assert.equal(u.b.records.length, 100);

  assert.equal(r.b.files[0].header.version, "3.1");

  // An expression index needs ASB 3.2 in the metadata file (and only there).
  const expression = b64(encodeExpression(Exp.intBin("i")));
  emu.cluster.metadata.createSIndex({
    namespace: "test",
    set: "",
    name: "idx_exp",
    bin: "",
    binType: "numeric",
    indexType: "default",
    context: "",
    expression,
    readyAtMs: 0,
    createdAtMs: 0,
  });
  const x = await run([]);
  const meta = x.b.files.find((f) => f.name === "metadata_test_1.asb")!;
  assert.equal(meta.header.version, "3.2");
  assert.deepEqual(
    meta.sindexes.map((s) => [s.name, s.bin, s.expression ?? ""]),
    [["idx_i", "i", ""], ["idx_exp", "", expression]],
  );
  for (const f of x.b.files.filter((f) => f !== meta)) assert.equal(f.header.version, "3.1");

  const none = await run(["-I", "--no-udfs"]);
  assert.ok(!none.b.files.some((f) => f.name.startsWith("metadata_")), "no empty metadata file");
  assertExactlyOnce(none.b.records, emu.dump("test"));
});

Deno.test("asbackup -L holds the scan to the records-per-second limit", async () => {
  await using emu = await seeded(120);
  await using dir = await tempDir();
  const t = performance.now();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-L", "200", "-w", "2"]);
  const ms = performance.now() - t;
  // 120 records at 200/s with a burst of 1 cannot take less than ~0.6 s.
  assert.ok(ms >= 500, `took ${ms.toFixed(0)} ms`);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("backup recordsPerSecond (-L) waits for the limiter's clock: 30 records at 10/s need 2.9 s", async () => {
  await using emu = await seeded(30);
  await using dir = await tempDir();
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const clock = new ManualClock(0);
  const job = new BackupClient(cluster).backup(
    { namespace: "test", recordsPerSecond: 10, parallelRead: 2 },
    new DirectoryWriter(dir.path),
    { clock },
  );
  const tick = () => new Promise((r) => setTimeout(r, 5));
  // Frozen clock: at most the free token plus one waiting record per reader get through.
  for (let i = 0; i < 20; i++) await tick();
  assert.ok(job.stats().recordsRead <= 3, `${job.stats().recordsRead} records`);
  assert.equal(job.status, "running");
  let advanced = 0;
  while (job.status === "running") {
    await clock.advance(50);
    advanced += 50;
    await tick();
    assert.ok(advanced < 60_000, "the job never ended");
  }
  await job.wait();
  assert.ok(advanced >= 2900, `finished after ${advanced} ms of limiter time`);
  assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
});

Deno.test("asbackup -N and --nice hold the writes to the bandwidth limit (MiB/s)", async () => {
  await using emu = await seeded(0);
  const blob = new Uint8Array(40_000).fill(7);
  for (let i = 0; i < 50; i++) emu.put({ namespace: "test", key: i, bins: { b: blob } });
  // 50 records of ~53 KB base64 = ~2.6 MiB at 1 MiB/s, the first second's worth free.
  for (const flag of ["-N", "--nice"]) {
    await using dir = await tempDir();
    const t = performance.now();
    await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, flag, "1"]);
    const ms = performance.now() - t;
    assert.ok(ms >= 1200, `${flag}: took ${ms.toFixed(0)} ms`);
    assertExactlyOnce((await readBackup(dir.path)).records, emu.dump("test"));
  }
});

Deno.test("asbackup -r replaces old backup files; --remove-artifacts only deletes them", async () => {
  await using emu = await seeded(50);
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/0_test_9.asb`, "Version 3.1\n# namespace test\n");
  await Deno.writeTextFile(`${dir.path}/notes.txt`, "keep me");
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-r"]);
  const b = await readBackup(dir.path);
  assert.ok(!b.files.some((f) => f.name === "0_test_9.asb"));
  assert.deepEqual(b.others, [MANIFEST_FILE_NAME, "notes.txt"]);
  assertExactlyOnce(b.records, emu.dump("test"));

  const io = await backup(["-n", "test", "-d", dir.path, "--remove-artifacts"]);
  assert.doesNotMatch(io.err.text, /Backup report/);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["notes.txt"]);

  const file = `${dir.path}/single.asb`;
  await backup(["-h", emu.seeds, "-n", "test", "-o", file]);
  Deno.statSync(`${file}${MANIFEST_SUFFIX}`);
  await backup(["-o", file, "--remove-artifacts"]);
  assert.throws(() => Deno.statSync(file), Deno.errors.NotFound);
  assert.throws(() => Deno.statSync(`${file}${MANIFEST_SUFFIX}`), Deno.errors.NotFound);
});

Deno.test("asbackup -q names data files <prefix><ns>_<n>.asb and keeps metadata_ for metadata", async () => {
  await using emu = await seeded(300);
  addMetadata(emu);
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-q", "nightly_", "-w", "3"]);
  const b = await readBackup(dir.path);
  assertExactlyOnce(b.records, emu.dump("test"));
  assert.equal(b.files[0].name, "metadata_test_1.asb");
  for (const f of b.files.slice(1)) assert.match(f.name, /^nightly_test_\d+\.asb$/);
  for (const bad of ["metadata_", "a/b", "x:y", " lead"]) {
    const io = fakeIo();
    assert.equal(
      await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-r", "-q", bad], io),
      1,
    );
    assert.match(io.err.text, /prefix/i, bad);
  }
});

Deno.test("asbackup -F rolls files over: each file stays within the limit plus one record", async () => {
  await using emu = await seeded(0);
  const blob = new Uint8Array(30_000);
  for (let i = 0; i < 110; i++) {
    blob.fill(i);
    emu.put({ namespace: "test", key: i, bins: { b: blob, i } });
  }
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-F", "1", "-w", "2"]);
  const b = await readBackup(dir.path);
  assertExactlyOnce(b.records, emu.dump("test"));
  // ~4.4 MB of base64 over two writers at 1 MiB per file.
  assert.ok(b.files.length >= 4, `${b.files.length} files`);
  const record = 40_100; // one encoded record: 30000 bytes as base64 plus its lines
  for (const f of b.files) {
    assert.ok(f.size <= 1024 * 1024 + record, `${f.name}: ${f.size} bytes`);
  }
  assert.equal(b.files.filter((f) => f.header.firstFile).length, 1);
});

Deno.test("asbackup -x writes records without bins", async () => {
  await using emu = await seeded(100);
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-x"]);
  const b = await readBackup(dir.path);
  assertExactlyOnce(b.records, emu.dump("test"));
  for (const r of b.records) assert.equal(r.bins.length, 0);
  // A restore skips records without bins.
  const rio = fakeIo();
  assert.equal(
    await restoreMain(["-h", emu.seeds, "-d", dir.path, "-n", "test,bar", "--log-json"], rio),
    0,
    rio.err.text,
  );
  const report = JSON.parse(rio.err.text.trim().split("\n").at(-1)!);
  assert.equal(report.records_read, 100);
  assert.equal(report.skipped_records, 100);
  assert.equal(emu.count("bar"), 0);
});

Deno.test("asbackup --no-ttl-only writes only records that never expire", async () => {
  await using emu = await seeded(210);
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "--no-ttl-only", "-w", "2"]);
  const b = await readBackup(dir.path);
  const want = emu.dump("test").filter((r) => r.voidTime === 0);
  assert.equal(want.length, 180);
  assertExactlyOnce(b.records, want);
});

Deno.test("asbackup -D resumes after a digest: the rest of its partition and all later ones", async () => {
  await using emu = await seeded(2000);
  const all = emu.dump("test");
  // A partition holding several records, cut after its second.
  const byPid = Map.groupBy(all, (r) => partitionId(r.digest));
  const [pid, recs] = [...byPid].find(([p, rs]) => rs.length >= 3 && p > 1000 && p < 3000)!;
  recs.sort((a, b) => compareDigests(a.digest, b.digest));
  const after = recs[1].digest;
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-D", b64(after), "-w", "3"]);
  const want = all.filter((r) => {
    const p = partitionId(r.digest);
    return p > pid || (p === pid && compareDigests(r.digest, after) > 0);
  });
  assertExactlyOnce((await readBackup(dir.path)).records, want);
});

Deno.test("asbackup -a/-b keep records by last-update time (local time)", async () => {
  await using emu = await seeded(300);
  // Record i was last updated at T0 - (300 - i) s.
  const lut = (i: number) => T0 - (300 - i) * 1000;
  const all = emu.dump("test");
  const idx = (r: (typeof all)[number]) => Number(r.bins.find((x) => x.name === "i")!.value);
  const cases: [string[], (i: number) => boolean][] = [
    [["-a", localTime(lut(200))], (i) => i >= 200],
    [["-b", localTime(lut(100))], (i) => i < 100],
    [
      ["--modified-after", localTime(lut(50)), "--modified-before", localTime(lut(60))],
      (i) => i >= 50 && i < 60,
    ],
  ];
  for (const [flags, keep] of cases) {
    await using dir = await tempDir();
    await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-w", "2", ...flags]);
    assertExactlyOnce((await readBackup(dir.path)).records, all.filter((r) => keep(idx(r))));
  }
  const io = fakeIo();
  assert.equal(
    await backupMain(["-h", emu.seeds, "-n", "test", "-d", "/tmp/x", "-a", "2025-13-01"], io),
    1,
  );
  assert.match(io.err.text, /modified-after/);
});

Deno.test("asbackup -X backs up partition ranges, ids and the partition of a digest", async () => {
  await using emu = await seeded(3000);
  const all = emu.dump("test");
  const digest = all.find((r) => partitionId(r.digest) > 3000)!.digest;
  const dp = partitionId(digest);
  await using dir = await tempDir();
  await backup([
    ...backupArgs(emu, dir.path),
    "-X",
    `0-100,2000,${b64(digest)}`,
    "-w",
    "3",
  ]);
  const want = all.filter((r) => {
    const p = partitionId(r.digest);
    return p < 100 || p === 2000 || p === dp;
  });
  assertExactlyOnce((await readBackup(dir.path)).records, want);
  const io = fakeIo();
  assert.equal(
    await backupMain(
      ["-h", emu.seeds, "-n", "test", "-d", dir.path, "-X", "0-100,50", "-w", "3"],
      io,
    ),
    1,
  );
  const io2 = fakeIo();
  assert.equal(
    await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-X", "0-10,20-10"], io2),
    1,
  );
  assert.match(io2.err.text, /parallel/);
});

function mastersOf(
  emu: Awaited<ReturnType<typeof seeded>>,
  nodeIndexes: number[],
): (pid: number) => boolean {
  const layout = emu.cluster.namespaces.get("test")!.layout;
  return (pid) => nodeIndexes.includes(layout.owners[pid * layout.replicationFactor]);
}

Deno.test("asbackup -l backs up the partitions the listed nodes master (names or host:port)", async () => {
  await using emu = await seeded(1500);
  const all = emu.dump("test");
  const hosts = emu.hosts;
  for (
    const [list, nodes] of [
      [hosts[1].name, [1]],
      [`${hosts[0].host}:${hosts[0].port},${hosts[2].host}:${hosts[2].port}`, [0, 2]],
    ] as [string, number[]][]
  ) {
    await using dir = await tempDir();
    await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-l", list, "-w", "2"]);
    const owned = mastersOf(emu, nodes);
    assertExactlyOnce(
      (await readBackup(dir.path)).records,
      all.filter((r) => owned(partitionId(r.digest))),
    );
  }
  const io = fakeIo();
  assert.equal(
    await backupMain(["-h", emu.seeds, "-n", "test", "-d", "/tmp/x", "-l", "NOSUCHNODE"], io),
    1,
  );
  assert.match(io.err.text, /NOSUCHNODE/);
});

Deno.test("asbackup --rack-list backs up the partitions mastered by the racks' nodes", async () => {
  await using emu = await seeded(1500, { racks: [1, 2, 2] });
  const all = emu.dump("test");
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "--rack-list", "2", "-w", "2"]);
  const owned = mastersOf(emu, [1, 2]);
  const want = all.filter((r) => owned(partitionId(r.digest)));
  assert.ok(want.length > 0 && want.length < all.length);
  assertExactlyOnce((await readBackup(dir.path)).records, want);
});

Deno.test("asbackup -f applies a base64 filter expression (ANDed with the others)", async () => {
  await using emu = await seeded(600);
  const all = emu.dump("test");
  const exp = Exp.and(
    Exp.eq(Exp.setName(), Exp.str("beta")),
    Exp.ge(Exp.intBin("i"), Exp.int(300)),
  );
  await using dir = await tempDir();
  await backup([
    ...backupArgs(emu, dir.path),
    "-f",
    b64(encodeExpression(exp)),
    "--no-ttl-only",
  ]);
  const i = (r: (typeof all)[number]) => Number(r.bins.find((x) => x.name === "i")!.value);
  assertExactlyOnce(
    (await readBackup(dir.path)).records,
    all.filter((r) => r.set === "beta" && i(r) >= 300 && r.voidTime === 0),
  );
  const io = fakeIo();
  assert.equal(
    await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-r", "-f", "!!notb64"], io),
    1,
  );
  assert.match(io.err.text, /filter/i);
});

Deno.test("asbackup -M caps the records read (approximately, each still once)", async () => {
  await using emu = await seeded(1000);
  for (const w of ["1", "4"]) {
    await using dir = await tempDir();
    const io = await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-M", "100", "-w", w]);
    const b = await readBackup(dir.path);
    assert.ok(b.records.length >= 100 && b.records.length <= 104, `${b.records.length}`);
    assertExactlyOnce(b.records, b.records);
    const all = new Set(emu.dump("test").map((r) => r.digest.join()));
    for (const r of b.records) assert.ok(all.has(r.digest.join()));
    assert.match(io.err.text, new RegExp(`Records Read: +${b.records.length}\n`));
  }
});

Deno.test("asbackup -C writes blobs raw and they read back equal", async () => {
  await using emu = await seeded(200);
  await using dir = await tempDir();
  await using dir2 = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "-C"]);
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir2.path]);
  const compact = await readBackup(dir.path);
  const plain = await readBackup(dir2.path);
  assertExactlyOnce(compact.records, emu.dump("test"));
  const byDigest = new Map(emu.dump("test").map((r) => [r.digest.join(), r]));
  for (const r of compact.records) assert.deepEqual(r.bins, byDigest.get(r.digest.join())!.bins);
  const text = await Deno.readFile(`${dir.path}/${compact.files[0].name}`);
  // Raw blobs are written as "B! <len> <bytes>", base64 ones as "B <len> <base64>".
  assert.ok(new TextDecoder("latin1").decode(text).includes(" B! b 5 "));
  const size = (b: typeof plain) => b.files.reduce((n, f) => n + f.size, 0);
  assert.ok(size(compact) < size(plain));
  assert.ok(compact.records.some((r) => r.bins.some((x) => x.type === ParticleType.BLOB)));
});

Deno.test("asbackup -e prints an estimate and writes nothing; refuses -d and filters", async () => {
  await using emu = await seeded(500);
  const io = await backup(["-h", emu.seeds, "-n", "test", "-e", "--estimate-samples", "100"]);
  const m = /File size \(bytes\): +(\d+)/.exec(io.err.text);
  assert.ok(m, io.err.text);
  // Within 25% of what a backup really writes.
  await using dir = await tempDir();
  await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path]);
  const real = (await readBackup(dir.path)).files.reduce((n, f) => n + f.size, 0);
  assert.ok(Math.abs(Number(m[1]) - real) < real * 0.25, `estimate ${m[1]}, real ${real}`);
  assert.deepEqual([...Deno.readDirSync(dir.path)].length, 2, "one file and the manifest");
  for (const extra of [["-d", "/tmp/x"], ["-a", "2020-01-01"], ["-X", "1"]]) {
    const bad = fakeIo();
    assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-e", ...extra], bad), 1);
    assert.match(bad.err.text, /--estimate/);
  }
});

Deno.test("asbackup --config reads every setting from YAML and ignores the other flags", async () => {
  await using emu = await seeded(300);
  await using dir = await tempDir();
  const yaml = `cluster:
  seeds:
    - host: ${emu.hosts[0].host}
      port: ${emu.hosts[0].port}
backup:
  directory: ${dir.path}/out
  namespace: test
  set-list: [alpha]
  parallel: 2
  file-limit: 1
app:
  log-json: true
`;
  await Deno.writeTextFile(`${dir.path}/conf.yaml`, yaml);
  const io = await backup(["--config", `${dir.path}/conf.yaml`, "-n", "bar", "-d", "/nonexistent"]);
  const report = JSON.parse(io.err.text.trim().split("\n").at(-1)!);
  assert.equal(report.msg, "backup report");
  assertExactlyOnce(
    (await readBackup(`${dir.path}/out`)).records,
    emu.dump("test").filter((r) => r.set === "alpha"),
  );
  await Deno.writeTextFile(`${dir.path}/bad.yaml`, "backup:\n  namespace: test\n  bogus: 1\n");
  const bad = fakeIo();
  assert.equal(await backupMain(["--config", `${dir.path}/bad.yaml`], bad), 1);
  assert.match(bad.err.text, /bogus/);
});

Deno.test("asbackup --log-json ends with a JSON backup report matching the files", async () => {
  await using emu = await seeded(250);
  addMetadata(emu);
  await using dir = await tempDir();
  const io = await backup(["-h", emu.seeds, "-n", "test", "-d", dir.path, "--log-json", "-w", "2"]);
  const lines = io.err.text.trim().split("\n").map((l) => JSON.parse(l));
  const report = lines.at(-1);
  assert.equal(report.msg, "backup report");
  assert.equal(report.level, "INFO");
  assert.equal(report.records_read, 250);
  assert.equal(report.s_index_read, 1);
  assert.equal(report.udf_read, 1);
  const b = await readBackup(dir.path);
  assert.equal(report.files_written, b.files.length);
  assert.equal(report.bytes_written, b.files.reduce((n, f) => n + f.size, 0));
  assert.ok(report.duration >= 0);
});

Deno.test("asbackup of an empty namespace writes a header-only file that holds nothing", async () => {
  await using emu = await seeded(10);
  await using dir = await tempDir();
  const io = await backup(["-h", emu.seeds, "-n", "empty", "-d", dir.path]);
  assert.match(io.err.text, /Records Read: +0\n/);
  const b = await readBackup(dir.path);
  assert.deepEqual(b.files.map((f) => f.name), ["0_empty_1.asb"]);
  assert.deepEqual(b.files[0].header, { version: "3.1", namespace: "empty", firstFile: true });
  assert.equal(b.records.length, 0);
  // It restores to nothing, successfully.
  const rio = fakeIo();
  assert.equal(await restoreMain(["-h", emu.seeds, "-d", dir.path], rio), 0, rio.err.text);
  assert.match(rio.err.text, /Records Read: +0\n/);
  assert.equal(emu.count("empty"), 0);
  const file = `${dir.path}/single.asb`;
  await backup(["-h", emu.seeds, "-n", "empty", "-o", file]);
  assert.equal(
    await Deno.readTextFile(file),
    "Version 3.1\n# namespace empty\n# first-file\n",
  );
});

Deno.test("asbackup exits 1 with one clear line for bad flags and conflicts", async () => {
  const cases: [string[], RegExp][] = [
    [["-d", "/tmp/x"], /--namespace is required/],
    [["-n", "test"], /--directory or --output-file/],
    [["-n", "test", "-d", "/tmp/x", "-o", "/tmp/y"], /only one of --directory and --output-file/],
    [["-n", "test", "-d", "/tmp/x", "-w", "x"], /-w/],
    [["-n", "test", "-d", "/tmp/x", "-w", "2000"], /parallel/],
    [["-n", "test", "-d", "/tmp/x", "-L", "-5"], /--records-per-second: expected 0 or more/],
    [["-n", "test", "-d", "/tmp/x", "-D", "AAAA", "-X", "1"], /mutually exclusive/],
    [["-n", "test", "-d", "/tmp/x", "-l", "a", "--rack-list", "1"], /mutually exclusive/],
    [["-n", "test", "-d", "/tmp/x", "--state-file-dst", "s", "--continue", "s"], /exclusive/],
    [["-n", "test", "-o", "/tmp/y", "--state-file-dst", "s"], /--directory/],
    [["-n", "test", "-o", "/tmp/y", "-q", "p_"], /prefix/],
    [["-n", "test", "-d", "/tmp/x", "-X", "4095-2"], /partition/i],
    [["-n", "test", "-d", "/tmp/x", "-D", "not-a-digest"], /digest/i],
    [["-n", "test", "-d", "/tmp/x", "-b", "2020-01-01", "-a", "2021-01-01"], /modified/i],
    [["-n", "test", "-d", "/tmp/x", "--bogus"], /bogus/],
    [["-n", "test", "-d", "/tmp/x", "--rack-list", "x"], /rack/],
    [
      ["-n", "test", "-d", "/tmp/x", "--s3-bucket-name", "b", "--azure-container-name", "c"],
      /only one cloud provider/,
    ],
    [["-n", "test", "-d", "/tmp/x", "--auth", "PKI"], /PKI needs TLS/],
    [["-n", "test", "-d", "/tmp/x", "--auth", "BASIC"], /auth/],
    [
      ["-n", "test", "-d", "/tmp/x", "-U", "u", "-P", "p", "--auth", "EXTERNAL"],
      /EXTERNAL needs TLS/,
    ],
    [["-n", "test", "-d", "/tmp/x", "--continue", "s", "-r"], /--continue/],
    [["-n", "test", "-d", "/tmp/x", "-q", "metadata_"], /metadata_/],
    [["-n", "test", "-d", "/tmp/x", "-F", "-1"], /-F|file-limit/],
    [["-n", "test", "-d", "/tmp/x", "-N", "-1"], /--bandwidth: expected 0 or more/],
    [["-n", "test", "-d", "/tmp/x", "-M", "-1"], /--max-records: expected 0 or more/],
    [["-n", "test", "-d", "/tmp/x", "-B", "a", "-x"], /binList.*noBins/],
    [["-n", "test", "-d", "/tmp/x", "-s", "a,a"], /setList: duplicate entry/],
  ];
  for (const [args, re] of cases) {
    const io = fakeIo();
    // No cluster listens on port 1: every case must fail before connecting.
    assert.equal(await backupMain(["-h", "127.0.0.1:1", ...args], io), 1, args.join(" "));
    assert.match(io.err.text, re, `${args.join(" ")}: ${io.err.text}`);
    assert.doesNotMatch(io.err.text, /\n\s+at /, "no stack trace");
    assert.ok(io.err.text.trim().split("\n").length <= 2, io.err.text);
  }
});

Deno.test("asbackup exits 1 naming an unknown namespace or an unreachable seed", async () => {
  await using emu = await seeded(10);
  await using dir = await tempDir();
  const io = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "nosuch", "-d", dir.path], io), 1);
  assert.match(io.err.text, /Namespace nosuch not found: the cluster has only test, bar, empty/);
  assert.doesNotMatch(io.err.text, /\n\s+at /);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");

  const io2 = fakeIo();
  const t = performance.now();
  assert.equal(
    await backupMain([
      "-h",
      "127.0.0.1:1",
      "-n",
      "test",
      "-d",
      dir.path,
      "--client-timeout",
      "300",
    ], io2),
    1,
  );
  assert.ok(performance.now() - t < 10_000);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");
  const estimate = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "nosuch", "-e"], estimate), 1);
  assert.match(estimate.err.text, /Namespace nosuch not found/);
  assert.match(io2.err.text, /127\.0\.0\.1:1/);
  assert.equal(io2.err.text.trim().split("\n").length, 1, io2.err.text);
});
