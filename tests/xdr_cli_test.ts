/**
 * End-to-end tests of the CLIs on XDR (ASBX) backups: `asbackup xdr` (with its metadata
 * companion backup and a TLS receiver) and `asrestore --mode asbx|auto|asb` on what it wrote,
 * and on an XDR backup made with the library alone.
 */

import { MANIFEST_FILE_NAME, readManifest } from "../lib/backup/manifest.ts";
import { DirectoryReader } from "../lib/io/local_reader.ts";
import { runTestBackupXdr } from "../lib/xdr/_test_util.ts";
import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo } from "../cli/_test_io.ts";
import { type RestoreMode, restorePasses } from "../cli/_restore_options.ts";
import { addMetadata, tempDir } from "./_backup_e2e.ts";
import { jsonReport } from "./_restore_helpers.ts";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import { XdrEmulation, type XdrEmulationOptions } from "../lib/emulator/xdr.ts";
import { createTestCertificates, type TestCertificates } from "../lib/secret_agent/test_tls.ts";

const RECORDS = 150;
const KEY_FILE = new URL("../lib/aerospike/testdata/tls/server.key", import.meta.url).pathname;

/** Seeds a 1-node emulator and writes its namespace `test` into `dir` as ASBX through XDR. */
async function xdrBackup(dir: string): Promise<Emulator> {
  const source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < RECORDS; i++) {
    source.put({ namespace: "test", set: "x", key: i, bins: { i, s: `v${i}` } });
  }
  XdrEmulation.attach(source.cluster);
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  const stats = await runTestBackupXdr(cluster, dir, {
    namespace: "test",
    dc: "clitest",
    parallelWrite: 1,
  });
  assert.equal(stats.recordsRead, RECORDS);
  return source;
}

/** A 2-node source with records in set `y`, a UDF and sindexes, XDR enabled. */
async function xdrSource(options: XdrEmulationOptions = {}): Promise<Emulator> {
  const source = await startEmulator({ nodes: 2 });
  for (let i = 0; i < RECORDS; i++) {
    source.put({ namespace: "test", set: "y", key: `k${i}`, bins: { i, b: `w${i}` } });
  }
  addMetadata(source);
  XdrEmulation.attach(source.cluster, options);
  return source;
}

/** `asbackup xdr` flags for a quick run against `source` into `dir`. */
function xdrArgs(source: Emulator, dir: string, more: string[] = []): string[] {
  return [
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
    "--info-poling-period",
    "50",
    ...more,
  ];
}

function digests(emu: Emulator): string[][] {
  return emu.dump("test").map((r) => [r.set, r.digest.join(","), String(r.bins.length)]);
}

function binNames(emu: Emulator): string[] {
  return emu.dump("test").map((r) => r.bins.map((b) => b.name).join(","));
}

/** Sindexes of namespace `test` and UDF names: what a metadata file carries. */
function metadataOf(emu: Emulator): { sindexes: string[][]; udfs: string[] } {
  return {
    sindexes: emu.sindexes.filter((s) => s.namespace === "test")
      .map((s) => [s.name, s.set, s.bin, s.binType]),
    udfs: emu.udfs.map((u) => u.name),
  };
}

async function fileNames(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

async function restore(target: Emulator, args: string[]): Promise<Record<string, unknown>> {
  const io = fakeIo();
  const code = await restoreMain(["--log-json", "-h", target.seeds, ...args], io);
  assert.equal(code, 0, io.err.text);
  return jsonReport(io);
}

/** Throw-away certificates whose server certificate is for `xdr.test`; removed on dispose. */
async function certificates(): Promise<TestCertificates & AsyncDisposable> {
  const certs = await createTestCertificates({ serverName: "xdr.test" });
  return {
    ...certs,
    [Symbol.asyncDispose]: () => Deno.remove(certs.dir, { recursive: true }),
  };
}

/** The TLS flags of a receiver with the server certificate of `certs` and `keyFile`. */
function tlsFlags(certs: TestCertificates, keyFile: string): string[] {
  return [
    "--xdr-tls-certfile",
    certs.serverCertFile,
    "--xdr-tls-keyfile",
    keyFile,
    "--xdr-tls-name",
    "xdr.test",
  ];
}

function oneErrorLine(text: string, why: RegExp): void {
  const lines = text.trim().split("\n");
  assert.equal(lines.length, 1, text);
  assert.match(lines[0], why);
}

Deno.test("asrestore --mode asbx and --mode auto restore an XDR backup's every record", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
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
});

Deno.test("asrestore --validate --mode auto validates ASBX files without a cluster", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await using _source = await xdrBackup(dir);
  const io = fakeIo();
  const code = await restoreMain(["-d", dir, "--validate"], io);
  assert.equal(code, 0, io.err.text);
});

Deno.test("asrestore --mode bogus prints one error line and exits 1", async () => {
  const io = fakeIo();
  const code = await restoreMain(
    ["-h", "127.0.0.1:1", "-d", "/nonexistent", "--mode", "bogus"],
    io,
  );
  assert.equal(code, 1);
  oneErrorLine(io.err.text, /--mode: expected auto, asb or asbx/);
});

Deno.test("asbackup xdr writes the records as ASBX and UDFs and sindexes as metadata_test_1.asb; asrestore restores both", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await using source = await xdrSource();
  const io = fakeIo();
  const args = xdrArgs(source, dir, ["--parallel-write", "2", "--dc", "clidc", "-T", "5000"]);
  const code = await backupMain(
    [...args, "--info-retry-interval", "20", "--info-max-retries", "4"],
    io,
  );
  assert.equal(code, 0, io.err.text);
  // One report: the XDR records plus the metadata backup's UDF and sindex (backup-go sums them).
  const report = jsonReport(io, "backup report");
  assert.equal(report.records_received, RECORDS);
  assert.equal(report.records_read, undefined);
  assert.equal(report.s_index_read, 1);
  assert.equal(report.udf_read, 1);
  const names = (await fileNames(dir)).filter((n) => n !== MANIFEST_FILE_NAME);
  assert.ok(names.includes("metadata_test_1.asb"), names.join(","));
  const data = names.filter((n) => n !== "metadata_test_1.asb");
  // One manifest for the ASBX files and their metadata file.
  const found = await readManifest(new DirectoryReader(dir));
  assert.ok(found);
  assert.equal(found.manifest.kind, "xdr");
  assert.deepEqual(found.manifest.files.map((f) => f.name), names);
  assert.equal(found.manifest.totals.records, RECORDS);
  assert.equal(found.manifest.totals.sindexes, 1);
  assert.equal(found.manifest.totals.udfs, 1);
  assert.ok(data.length > 0 && data.every((n) => /^[01]_test_\d+\.asbx$/.test(n)), names.join());
  assert.equal(report.files_written, names.length);
  // The metadata file is plain ASB (no compression or encryption asked for).
  const meta = await Deno.readTextFile(`${dir}/metadata_test_1.asb`);
  assert.match(meta, /^Version 3\.1\n# namespace test\n/);
  assert.match(meta, /idx_i/);
  assert.match(meta, /hello\.lua/);

  // auto (backup-go: .asb as ASB, .asbx as ASBX), asbx (aerobak adds the metadata): both
  // bring back every record, the namespace's sindexes and the UDF.
  for (const mode of ["auto", "asbx"]) {
    await using target = await startEmulator({ nodes: 1 });
    const r = await restore(target, ["-d", dir, "--mode", mode]);
    assert.equal(r.records_read, RECORDS, mode);
    assert.equal(r.s_index_read, 1, mode);
    assert.equal(r.udf_read, 1, mode);
    assert.deepEqual(digests(target), digests(source), mode);
    assert.deepEqual(binNames(target), binNames(source), mode);
    assert.deepEqual(metadataOf(target), metadataOf(source), mode);
  }
  // asb reads only the metadata file: indexes and UDF, no record.
  await using target = await startEmulator({ nodes: 1 });
  const r = await restore(target, ["-d", dir, "--mode", "asb"]);
  assert.equal(target.count("test"), 0);
  assert.equal(r.records_read, 0);
  assert.deepEqual(metadataOf(target), metadataOf(source));
  // --no-indexes and --no-udfs hold for the metadata of an XDR backup too.
  await using bare = await startEmulator({ nodes: 1 });
  await restore(bare, ["-d", dir, "--mode", "asbx", "--no-indexes", "--no-udfs"]);
  assert.equal(bare.count("test", "y"), RECORDS);
  assert.deepEqual(metadataOf(bare), { sindexes: [], udfs: [] });
});

Deno.test("asbackup xdr -r --compress --encrypt: the metadata file is compressed and encrypted like the ASBX files", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  // Backup files of an older run are replaced; other files stay.
  await Deno.writeTextFile(`${dir}/0_test_9.asbx`, "old");
  await Deno.writeTextFile(`${dir}/metadata_test_7.asb`, "old");
  await Deno.writeTextFile(`${dir}/notes.txt`, "kept");
  await using source = await xdrSource();
  const crypto = [
    "--compress",
    "ZSTD",
    "--encrypt",
    "AES128",
    "--encryption-key-file",
    KEY_FILE,
  ];
  const io = fakeIo();
  const code = await backupMain(
    xdrArgs(source, dir, ["-r", "--parallel-write", "1", ...crypto]),
    io,
  );
  assert.equal(code, 0, io.err.text);
  const names = await fileNames(dir);
  assert.deepEqual(
    names.filter((n) => !n.endsWith(".asbx")),
    [MANIFEST_FILE_NAME, "metadata_test_1.asb", "notes.txt"],
  );
  assert.ok(!names.includes("0_test_9.asbx"));
  const head = (await Deno.readFile(`${dir}/metadata_test_1.asb`)).subarray(0, 8);
  assert.notEqual(new TextDecoder().decode(head), "Version ");

  await using target = await startEmulator({ nodes: 1 });
  await restore(target, ["-d", dir, "--mode", "auto", ...crypto]);
  assert.deepEqual(digests(target), digests(source));
  assert.deepEqual(metadataOf(target), metadataOf(source));
  // Without the key the metadata file cannot be read: the restore fails.
  await using other = await startEmulator({ nodes: 1 });
  const bad = fakeIo();
  assert.equal(await restoreMain(["-h", other.seeds, "-d", dir, "--mode", "asb"], bad), 1);
});

Deno.test("asbackup xdr refuses a non-empty directory without -r before contacting the cluster", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/0_test_1.asbx`, "old");
  const io = fakeIo();
  const code = await backupMain(
    ["xdr", "-h", "127.0.0.1:1", "-n", "test", "-d", dir, "--local-port", "0"],
    io,
  );
  assert.equal(code, 1);
  oneErrorLine(io.err.text, /directory is not empty.*-r/);
});

Deno.test("asbackup xdr --config with xdr-tls-*: the source ships over TLS to the receiver", async () => {
  await using certs = await certificates();
  await using tmp = await tempDir();
  const dir = tmp.path;
  const ca = await Deno.readTextFile(certs.caFile);
  // The nodes' aerospike.conf: `network { tls xdr.test { ca-file ca.pem } }`.
  await using source = await xdrSource({ tls: { "xdr.test": { caCerts: [ca] } } });
  const [host, port] = source.seeds.split(",")[0].split(":");
  const config = `${dir}/backup.yaml`;
  await Deno.writeTextFile(
    config,
    [
      "app:",
      "  log-json: true",
      "cluster:",
      "  seeds:",
      `    - host: ${host}`,
      `      port: ${port}`,
      "backup:",
      "  namespace: test",
      `  directory: ${dir}/out`,
      "  local-port: 0",
      "  info-poling-period: 50",
      "  dc: tlsdc",
      `  xdr-tls-certfile: ${certs.serverCertFile}`,
      `  xdr-tls-keyfile: ${certs.serverKeyFile}`,
      "  xdr-tls-name: xdr.test",
      "",
    ].join("\n"),
  );
  const io = fakeIo();
  const code = await backupMain(["xdr", "--config", config], io);
  assert.equal(code, 0, io.err.text);
  assert.equal(jsonReport(io, "backup report").records_received, RECORDS);
  // The receiver accepts TLS only: every record came over TLS.
  await using target = await startEmulator({ nodes: 1 });
  await restore(target, ["-d", `${dir}/out`]);
  assert.deepEqual(digests(target), digests(source));
  assert.deepEqual(metadataOf(target), metadataOf(source));
});

Deno.test("asbackup xdr with TLS: nodes that do not trust the certificate ship nothing; the start times out", async () => {
  await using certs = await certificates();
  await using other = await certificates();
  await using tmp = await tempDir();
  // The nodes' TLS context trusts another CA.
  const ca = await Deno.readTextFile(other.caFile);
  await using source = await xdrSource({ tls: { "xdr.test": { caCerts: [ca] } } });
  const io = fakeIo();
  const code = await backupMain(
    xdrArgs(source, tmp.path, [...tlsFlags(certs, certs.serverKeyFile), "--start-timeout", "1500"]),
    io,
  );
  assert.equal(code, 1);
  assert.match(io.err.text, /XDR_START_TIMEOUT/);
  // The DC was removed again.
  await using cluster = await Cluster.connect({ hosts: source.seeds });
  for (const answers of (await cluster.infoAll(["get-config:context=xdr"])).values()) {
    assert.match(answers.get("get-config:context=xdr") ?? "", /^dcs=;/);
  }
});

Deno.test("asbackup xdr with a missing --xdr-tls-keyfile prints one error line, exits 1 and leaves no file", async () => {
  await using certs = await certificates();
  await using tmp = await tempDir();
  await using source = await xdrSource();
  const io = fakeIo();
  const code = await backupMain(
    xdrArgs(source, tmp.path, tlsFlags(certs, `${certs.dir}/missing.key`))
      .filter((a) => a !== "--log-json"),
    io,
  );
  assert.equal(code, 1);
  oneErrorLine(io.err.text, /backup failed.*Cannot read .*missing\.key.*TLS_CONFIG/);
  assert.deepEqual(await fileNames(tmp.path), []);
});

for (
  const [bad, why] of [
    [["--dc", "bad dc!"], /dc/],
    [["--rewind", "soon"], /rewind/],
    [["--max-throughput", "150"], /maxThroughput|max-throughput/],
    [["--local-port", "70000"], /localPort|local-port/],
    [["-n", ""], /--namespace is required/],
    [["--xdr-tls-certfile", "c.pem", "--xdr-tls-name", "x"], /--xdr-tls-keyfile/],
    [["--xdr-tls-keyfile", "k.pem", "--xdr-tls-name", "x"], /--xdr-tls-certfile/],
    [["--xdr-tls-certfile", "c.pem", "--xdr-tls-keyfile", "k.pem"], /--xdr-tls-name/],
    [["--xdr-tls-name", "x"], /--xdr-tls-name/],
    [[
      "--xdr-tls-certfile",
      "c.pem",
      "--xdr-tls-keyfile",
      "k.pem",
      "--xdr-tls-name",
      "a:b",
    ], /tls\.name/],
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
    oneErrorLine(io.err.text, why);
  });
}

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

Deno.test("restorePasses() runs ASBX for .asbx files and ASB for .asb files beside them", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const source = { kind: "directory" as const, path: dir };
  const passes = async (mode: RestoreMode, applyMetadataLast = false) =>
    (await restorePasses({ config: { applyMetadataLast }, source, mode }))
      .map((p) => `${p.encoderType}${p.metadataOnly ? ":metadata" : ""}`);
  assert.deepEqual(await passes("auto"), ["ASB"], "an empty directory");
  assert.deepEqual(await passes("asbx"), ["ASBX"]);
  await Deno.writeTextFile(`${dir}/0_test_1.asbx`, "");
  assert.deepEqual(await passes("auto"), ["ASBX"]);
  assert.deepEqual(await passes("asb"), ["ASB"]);
  // An XDR backup: records in .asbx, UDFs and sindexes in metadata_*.asb.
  await Deno.writeTextFile(`${dir}/metadata_test_1.asb`, "");
  assert.deepEqual(await passes("auto"), ["ASB", "ASBX"]);
  assert.deepEqual(await passes("auto", true), ["ASBX", "ASB"]);
  assert.deepEqual(await passes("asbx"), ["ASB:metadata", "ASBX"]);
  assert.deepEqual(await passes("asbx", true), ["ASBX", "ASB:metadata"]);
  assert.deepEqual(await passes("asb"), ["ASB"]);
  const noRecords = await restorePasses({ config: { noRecords: true }, source, mode: "asbx" });
  assert.deepEqual(noRecords, [{ encoderType: "ASB", metadataOnly: true }]);
  // A C or Go scan backup: ASB only.
  await Deno.remove(`${dir}/0_test_1.asbx`);
  await Deno.writeTextFile(`${dir}/0_test_1.asb`, "");
  assert.deepEqual(await passes("auto"), ["ASB"]);
  const file = async (path: string, mode: RestoreMode = "auto") =>
    (await restorePasses({ config: {}, source: { kind: "file", path }, mode }))
      .map((p) => p.encoderType);
  assert.deepEqual(await file("/x/y.asbx"), ["ASBX"]);
  assert.deepEqual(await file("/x/y.asb"), ["ASB"]);
  assert.deepEqual(await file("/x/y.asb", "asbx"), ["ASBX"]);
  assert.deepEqual(
    (await restorePasses({ config: {}, source: { kind: "stdin" }, mode: "auto" }))
      .map((p) => p.encoderType),
    ["ASB"],
  );
  await assert.rejects(
    restorePasses({ config: {}, source: { kind: "directory", path: `${dir}/none` }, mode: "auto" }),
    /none/,
  );
});

Deno.test("asbackup --help points to the xdr subcommand, whose --help lists its flags", async () => {
  const top = fakeIo();
  assert.equal(await backupMain(["--help"], top), 0);
  assert.match(top.out.text, /asbackup xdr \[flags\]/);
  const xdr = fakeIo();
  assert.equal(await backupMain(["xdr", "--help"], xdr), 0);
  for (
    const flag of [
      "--dc",
      "--local-port",
      "--rewind",
      "--stop-xdr",
      "--unblock-mrt",
      "--xdr-tls-certfile",
      "--xdr-tls-keyfile",
      "--xdr-tls-name",
    ]
  ) {
    assert.ok(xdr.out.text.includes(flag), `xdr --help lists ${flag}`);
  }
});

Deno.test("asbackup xdr of a namespace without UDFs or sindexes writes only ASBX files", async () => {
  await using tmp = await tempDir();
  await using source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < 30; i++) source.put({ namespace: "test", key: i, bins: { i } });
  XdrEmulation.attach(source.cluster);
  const io = fakeIo();
  assert.equal(await backupMain(xdrArgs(source, tmp.path), io), 0, io.err.text);
  const names = (await fileNames(tmp.path)).filter((n) => n !== MANIFEST_FILE_NAME);
  assert.ok(names.length > 0 && names.every((n) => n.endsWith(".asbx")), names.join());
  await using target = await startEmulator({ nodes: 1 });
  const r = await restore(target, ["-d", tmp.path]);
  assert.equal(r.records_read, 30);
  assert.deepEqual(digests(target), digests(source));
});
