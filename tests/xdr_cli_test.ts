/**
 * End-to-end tests of the CLIs on XDR (ASBX) backups: an XDR backup made with the library,
 * restored by `asrestore --mode asbx|auto`.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo } from "../cli/_test_io.ts";
import { restoreFormat, type RestoreMode } from "../cli/_restore_options.ts";
import { jsonReport } from "./_restore_helpers.ts";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import { XdrEmulation } from "../lib/emulator/xdr.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";
import { ManualClock } from "../lib/pipeline/clock.ts";
import { startBackupXdr } from "../lib/xdr/backup_xdr.ts";
import { resolveBackupXdrConfig } from "../lib/xdr/config.ts";

const RECORDS = 150;

/** Seeds a 1-node emulator and writes its namespace `test` into `dir` as ASBX through XDR. */
async function xdrBackup(dir: string): Promise<Emulator> {
  const source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < RECORDS; i++) {
    source.put({ namespace: "test", set: "x", key: i, bins: { i, s: `v${i}` } });
  }
  XdrEmulation.attach(source.cluster);
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  const clock = new ManualClock();
  const job = startBackupXdr(
    cluster,
    resolveBackupXdrConfig({
      namespace: "test",
      dc: "clitest",
      localPort: 0,
      listenAddress: "127.0.0.1",
      parallelWrite: 1,
    }),
    new DirectoryWriter(dir),
    { clock },
  );
  for (let i = 0; i < 4000 && job.status === "running"; i++) {
    await clock.advance(500);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal((await job.wait()).recordsRead, RECORDS);
  return source;
}

function digests(emu: Emulator): string[][] {
  return emu.dump("test").map((r) => [r.set, r.digest.join(","), String(r.bins.length)]);
}

Deno.test("asrestore --mode asbx and --mode auto restore an XDR backup's every record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using source = await xdrBackup(dir);
    for (const mode of ["asbx", "auto"]) {
      await using target = await startEmulator({ nodes: 2 });
      const io = fakeIo();
      const code = await restoreMain(["-h", target.seeds, "-d", dir, "--mode", mode], io);
      assert.equal(code, 0, io.err.text);
      assert.equal(target.count("test", "x"), RECORDS, mode);
      assert.deepEqual(digests(target), digests(source), mode);
    }
    // Forced ASB finds no .asb file in an ASBX-only directory: it restores nothing.
    await using target = await startEmulator({ nodes: 1 });
    const io = fakeIo();
    await restoreMain(["-h", target.seeds, "-d", dir, "--mode", "asb"], io);
    assert.equal(target.count("test", "x"), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asrestore --validate --mode auto validates ASBX files without a cluster", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using _source = await xdrBackup(dir);
    const io = fakeIo();
    const code = await restoreMain(["-d", dir, "--validate"], io);
    assert.equal(code, 0, io.err.text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asrestore --mode bogus prints one error line and exits 1", async () => {
  const io = fakeIo();
  const code = await restoreMain(
    ["-h", "127.0.0.1:1", "-d", "/nonexistent", "--mode", "bogus"],
    io,
  );
  assert.equal(code, 1);
  const lines = io.err.text.trim().split("\n");
  assert.equal(lines.length, 1, io.err.text);
  assert.match(lines[0], /--mode: expected auto, asb or asbx/);
});

Deno.test("asbackup xdr backs up through XDR; asrestore --mode asbx restores the same records", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using source = await startEmulator({ nodes: 2 });
    for (let i = 0; i < RECORDS; i++) {
      source.put({ namespace: "test", set: "y", key: `k${i}`, bins: { i, b: `w${i}` } });
    }
    XdrEmulation.attach(source.cluster);
    const io = fakeIo();
    const args = [
      "xdr",
      "--log-json",
      "-h",
      source.seeds,
      "-n",
      "test",
      "-d",
      dir,
      "--local-port",
      "0",
    ];
    const code = await backupMain(
      [
        ...args,
        "--info-poling-period",
        "50",
        "--parallel-write",
        "2",
        "--dc",
        "clidc",
        "-T",
        "5000",
        "--info-retry-interval",
        "20",
        "--info-max-retries",
        "4",
      ],
      io,
    );
    assert.equal(code, 0, io.err.text);
    const report = jsonReport(io, "backup report");
    assert.equal(report.records_received, RECORDS);
    assert.equal(report.records_read, undefined);
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assert.ok(names.length > 0 && names.every((n) => n.endsWith(".asbx")), names.join(","));

    await using target = await startEmulator({ nodes: 1 });
    const rio = fakeIo();
    assert.equal(await restoreMain(["-h", target.seeds, "-d", dir, "--mode", "asbx"], rio), 0);
    assert.deepEqual(digests(target), digests(source));
    assert.deepEqual(
      target.dump("test").map((r) => r.bins.map((b) => b.name).join(",")),
      source.dump("test").map((r) => r.bins.map((b) => b.name).join(",")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asbackup xdr --stop-xdr removes a DC left behind by a crashed run", async () => {
  await using source = await startEmulator({ nodes: 1 });
  XdrEmulation.attach(source.cluster);
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  // A crashed run leaves its DC configured.
  await cluster.infoAll(["set-config:context=xdr;dc=left;action=create"]);
  const before = await cluster.infoAll(["get-config:context=xdr"]);
  assert.match([...before.values()][0].get("get-config:context=xdr") ?? "", /dcs=left/);
  const io = fakeIo();
  const code = await backupMain(
    ["xdr", "-h", source.seeds, "-n", "test", "--dc", "left", "--stop-xdr"],
    io,
  );
  assert.equal(code, 0, io.err.text);
  const after = await cluster.infoAll(["get-config:context=xdr"]);
  assert.equal(
    [...after.values()][0].get("get-config:context=xdr"),
    "dcs=;src-id=0;trace-sample=0",
  );
});

for (
  const [bad, why] of [
    [["--dc", "bad dc!"], /dc/],
    [["--rewind", "soon"], /rewind/],
    [["--max-throughput", "150"], /maxThroughput|max-throughput/],
    [["--local-port", "70000"], /localPort|local-port/],
    [["-n", ""], /--namespace is required/],
  ] as const
) {
  Deno.test(`asbackup xdr ${bad.join(" ")} prints one error line and exits 1`, async () => {
    const io = fakeIo();
    const code = await backupMain([
      "xdr",
      "-h",
      "127.0.0.1:1",
      "-n",
      "test",
      "-d",
      "/tmp/x",
      ...bad,
    ], io);
    assert.equal(code, 1);
    const lines = io.err.text.trim().split("\n");
    assert.equal(lines.length, 1, io.err.text);
    assert.match(lines[0], why);
  });
}

Deno.test("restoreFormat() picks ASBX only for .asbx files without .asb files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = { kind: "directory" as const, path: dir };
    const format = (mode: RestoreMode) => restoreFormat({ config: {}, source, mode });
    assert.equal(await format("auto"), "ASB", "an empty directory");
    await Deno.writeTextFile(`${dir}/a.asbx`, "");
    assert.equal(await format("auto"), "ASBX");
    assert.equal(await format("asb"), "ASB");
    await Deno.writeTextFile(`${dir}/b.asb`, "");
    assert.equal(await format("auto"), "ASB", "mixed files");
    assert.equal(await format("asbx"), "ASBX");
    const file = (path: string) =>
      restoreFormat({ config: {}, source: { kind: "file", path }, mode: "auto" });
    assert.equal(await file("/x/y.asbx"), "ASBX");
    assert.equal(await file("/x/y.asb"), "ASB");
    assert.equal(
      await restoreFormat({ config: {}, source: { kind: "stdin" }, mode: "auto" }),
      "ASB",
    );
    await assert.rejects(
      restoreFormat({
        config: {},
        source: { kind: "directory", path: `${dir}/none` },
        mode: "auto",
      }),
      /none/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asbackup --help points to the xdr subcommand, whose --help lists its flags", async () => {
  const top = fakeIo();
  assert.equal(await backupMain(["--help"], top), 0);
  assert.match(top.out.text, /asbackup xdr \[flags\]/);
  const xdr = fakeIo();
  assert.equal(await backupMain(["xdr", "--help"], xdr), 0);
  for (const flag of ["--dc", "--local-port", "--rewind", "--stop-xdr", "--unblock-mrt"]) {
    assert.ok(xdr.out.text.includes(flag), `xdr --help lists ${flag}`);
  }
});
