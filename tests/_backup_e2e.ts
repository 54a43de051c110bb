/**
 * Shared pieces of the end-to-end `asbackup` tests: a fake process for in-process runs, a
 * real `deno run cli/asbackup.ts` subprocess, and reading a backup back with the ASB
 * decoder (file names, sizes, headers, records, metadata).
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { SIndexInfo } from "../lib/aerospike/info.ts";
import type { AerospikeRecord } from "../lib/aerospike/record.ts";
import { ManualClock } from "../lib/emulator/clock.ts";
import { type Emulator, type EmulatorOptions, startEmulator } from "../lib/emulator/emulator.ts";
import { decodeAsb } from "../lib/format/asb/decoder.ts";
import type { AsbHeader } from "../lib/format/asb/parser.ts";
import type { AsbUdf } from "../lib/format/asb/encoder.ts";
import { type FakeIo, fakeIo as fakeProcess } from "../cli/_test_io.ts";
import { createHash } from "node:crypto";
import { type BackupManifest, readManifest } from "../lib/backup/manifest.ts";
import { DirectoryReader } from "../lib/io/local_reader.ts";

/** Clock start of every seeded emulator (2025-06-15T15:06:40Z). */
export const T0 = 1_750_000_000_000;

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** The deno binary running the tests. */
export const DENO: string = Deno.execPath();

export type { FakeIo };

/**
 * Creates a fake process.
 *
 * @param env Environment variables.
 * @returns The fake.
 */
export function fakeIo(env: Record<string, string> = {}): FakeIo {
  return fakeProcess({ env });
}

/** One backup file read back. */
export interface BackupFile {
  /** File name. */
  name: string;
  /** Size on disk. */
  size: number;
  /** Its header. */
  header: AsbHeader;
  /** Its records. */
  records: AerospikeRecord[];
  /** Its secondary indexes. */
  sindexes: SIndexInfo[];
  /** Its UDFs. */
  udfs: AsbUdf[];
}

/** A whole backup read back. */
export interface Backup {
  /** Files, sorted by name. */
  files: BackupFile[];
  /** Every record of every file. */
  records: AerospikeRecord[];
  /** Every sindex. */
  sindexes: SIndexInfo[];
  /** Every UDF. */
  udfs: AsbUdf[];
  /** Names of entries that are not `.asb` files (state files, temp files). */
  others: string[];
}

/**
 * Decodes one uncompressed, unencrypted ASB byte stream.
 *
 * @param name File name (for errors).
 * @param stream Its bytes.
 * @param size Its size.
 * @returns The file's content.
 */
export async function decodeFile(
  name: string,
  stream: ReadableStream<Uint8Array>,
  size: number,
): Promise<BackupFile> {
  const dec = decodeAsb(stream, { file: name });
  const f: BackupFile = {
    name,
    size,
    header: { version: "3.1", firstFile: false },
    records: [],
    sindexes: [],
    udfs: [],
  };
  for await (const t of dec) {
    if (t.kind === "record") f.records.push(t.record);
    else if (t.kind === "sindex") f.sindexes.push(t.sindex);
    else f.udfs.push(t.udf);
  }
  f.header = dec.header ?? await dec.readHeader();
  return f;
}

/**
 * Reads every `.asb` file of a directory (or one file) with the ASB decoder.
 *
 * @param path A directory or a file.
 * @returns The backup.
 */
export async function readBackup(path: string): Promise<Backup> {
  const info = await Deno.stat(path);
  const entries = info.isDirectory
    ? (await Array.fromAsync(Deno.readDir(path))).map((e) => ({
      name: e.name,
      path: `${path}/${e.name}`,
    }))
    : [{ name: path.split("/").at(-1)!, path }];
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const b: Backup = { files: [], records: [], sindexes: [], udfs: [], others: [] };
  for (const e of entries) {
    if (!e.name.endsWith(".asb") && info.isDirectory) {
      b.others.push(e.name);
      continue;
    }
    const size = (await Deno.stat(e.path)).size;
    const file = await Deno.open(e.path);
    const f = await decodeFile(e.name, file.readable, size);
    b.files.push(f);
    b.records.push(...f.records);
    b.sindexes.push(...f.sindexes);
    b.udfs.push(...f.udfs);
  }
  return b;
}

/**
 * Checks a directory backup's manifest against its files: every `.asb` file listed with
 * its size, the SHA-256 of its bytes and its record, sindex and UDF counts, and the totals.
 *
 * @param dir The backup directory.
 * @param backup The backup read back with {@linkcode readBackup}.
 * @returns The manifest.
 */
export async function assertManifestMatches(dir: string, backup: Backup): Promise<BackupManifest> {
  const found = await readManifest(new DirectoryReader(dir));
  assert.ok(found, `no manifest in ${dir}`);
  const m = found.manifest;
  assert.deepEqual(
    m.files.map((f) => f.name),
    backup.files.map((f) => f.name),
    "the manifest lists every file",
  );
  for (const [i, f] of backup.files.entries()) {
    const entry = m.files[i];
    const bytes = await Deno.readFile(`${dir}/${f.name}`);
    assert.equal(entry.size, f.size, f.name);
    assert.equal(entry.sha256, createHash("sha256").update(bytes).digest("hex"), f.name);
    assert.equal(entry.records, f.records.length, f.name);
    assert.equal(entry.sindexes, f.sindexes.length, f.name);
    assert.equal(entry.udfs, f.udfs.length, f.name);
  }
  assert.equal(m.totals.files, backup.files.length);
  assert.equal(m.totals.records, backup.records.length);
  assert.equal(m.totals.bytes, backup.files.reduce((n, f) => n + f.size, 0));
  assert.ok(Date.parse(m.startTime) <= Date.parse(m.endTime));
  return m;
}

/**
 * Hex of a digest.
 *
 * @param d Digest bytes.
 * @returns Lower-case hex.
 */
export function hex(d: Uint8Array): string {
  let s = "";
  for (const b of d) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Counts records by digest.
 *
 * @param records Records.
 * @returns Digest hex → occurrences.
 */
export function countByDigest(records: readonly AerospikeRecord[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of records) m.set(hex(r.digest), (m.get(hex(r.digest)) ?? 0) + 1);
  return m;
}

/**
 * Asserts the backup holds exactly the expected records, each exactly once.
 *
 * @param got Records read back.
 * @param expected Records that must be there.
 */
export function assertExactlyOnce(
  got: readonly AerospikeRecord[],
  expected: readonly AerospikeRecord[],
): void {
  const counts = countByDigest(got);
  const dup = [...counts].filter(([, n]) => n > 1);
  assert.equal(dup.length, 0, `${dup.length} records more than once, e.g. ${dup[0]?.[0]}`);
  const want = new Set(expected.map((r) => hex(r.digest)));
  const missing = [...want].filter((d) => !counts.has(d));
  const extra = [...counts.keys()].filter((d) => !want.has(d));
  assert.equal(missing.length, 0, `${missing.length} records missing, e.g. ${missing[0]}`);
  assert.equal(extra.length, 0, `${extra.length} unexpected records, e.g. ${extra[0]}`);
}

/**
 * Asserts every expected record is in the backup at least once and nothing else is.
 *
 * @param got Records read back.
 * @param expected Records that must be there.
 */
export function assertAtLeastOnce(
  got: readonly AerospikeRecord[],
  expected: readonly AerospikeRecord[],
): void {
  const counts = countByDigest(got);
  const want = new Set(expected.map((r) => hex(r.digest)));
  const missing = [...want].filter((d) => !counts.has(d));
  const extra = [...counts.keys()].filter((d) => !want.has(d));
  assert.equal(missing.length, 0, `${missing.length} records missing, e.g. ${missing[0]}`);
  assert.equal(extra.length, 0, `${extra.length} unexpected records, e.g. ${extra[0]}`);
}

/**
 * Starts an emulator on a manual clock with `n` records in the sets `alpha`, `beta` and
 * none; every seventh record has a TTL; records get distinct last-update times one second
 * apart (record `i` at `T0 - (n - i) s`).
 *
 * @param n Records.
 * @param options Emulator options (nodes default 3).
 * @returns The emulator.
 */
export async function seeded(
  n: number,
  options: EmulatorOptions = {},
): Promise<Emulator> {
  const emu = await startEmulator({
    nodes: 3,
    clock: new ManualClock(T0),
    namespaces: [{ name: "test", nsupPeriod: 120 }, { name: "bar", nsupPeriod: 120 }, "empty"],
    ...options,
  });
  for (let i = 0; i < n; i++) {
    emu.put({
      namespace: "test",
      set: ["alpha", "beta", ""][i % 3],
      key: i % 5 === 0 ? `key-${i}` : i,
      ttl: i % 7 === 0 ? 3600 : 0,
      lastUpdateMs: T0 - (n - i) * 1000,
      bins: {
        i,
        s: `string ${i} with spaces\nand newline`,
        b: new Uint8Array([i & 255, 0, 255, 10, 32]),
        l: [1, "two", [3]],
      },
    });
  }
  return emu;
}

/**
 * Registers a UDF and two secondary indexes (one on `test`, one on `bar`).
 *
 * @param emu The emulator.
 */
export function addMetadata(emu: Emulator): void {
  const lua = "function hello(rec)\n  return 'hi'\nend\n";
  emu.cluster.metadata.putUdf("hello.lua", btoa(lua));
  const base = {
    context: "",
    expression: "",
    readyAtMs: 0,
    createdAtMs: 0,
    indexType: "default",
  };
  emu.cluster.metadata.createSIndex({
    ...base,
    namespace: "test",
    set: "alpha",
    name: "idx_i",
    bin: "i",
    binType: "numeric",
  });
  emu.cluster.metadata.createSIndex({
    ...base,
    namespace: "bar",
    set: "",
    name: "idx_bar",
    bin: "s",
    binType: "string",
  });
}

/** What a subprocess run returned. */
export interface ProcessResult {
  /** Exit code. */
  code: number;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** Standard output bytes. */
  stdout: Uint8Array;
  /** Standard error text. */
  stderr: string;
}

/**
 * Runs `deno run -A cli/asbackup.ts` with arguments to completion.
 *
 * @param args Arguments.
 * @returns Exit code and output.
 */
export function runBackupProcess(args: string[]): Promise<ProcessResult> {
  return runTool("asbackup", args);
}

/**
 * Runs `deno run -A cli/<tool>.ts` with arguments to completion.
 *
 * @param tool `asbackup` or `asrestore`.
 * @param args Arguments.
 * @returns Exit code and output.
 */
export async function runTool(
  tool: "asbackup" | "asrestore",
  args: string[],
): Promise<ProcessResult> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}cli/${tool}.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return {
    code: out.code,
    signal: out.signal,
    stdout: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * Starts `deno run -A cli/<tool>.ts` as a subprocess (its stderr piped, for `killWhen`).
 *
 * @param tool `asbackup` or `asrestore`.
 * @param args Arguments.
 * @returns The child.
 */
export function spawnTool(tool: "asbackup" | "asrestore", args: string[]): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}cli/${tool}.ts`, ...args],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
}

/**
 * Polls until `cond` holds; fails after 30 s so a stuck job cannot hang the suite.
 *
 * @param cond The event.
 * @param what What is awaited, for the failure message.
 */
export async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Kills a child with SIGKILL once `ready` holds, unless it exits first.
 *
 * @param child The child (stderr piped).
 * @param ready The kill moment.
 * @returns Whether it was killed (false: it exited on its own first).
 */
export async function killWhen(child: Deno.ChildProcess, ready: () => boolean): Promise<boolean> {
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  await waitFor(() => exited || ready(), "the kill moment");
  if (exited) {
    const err = await new Response(child.stderr).text();
    if ((await status).code !== 0) throw new Error(`exited with ${(await status).code}: ${err}`);
    return false;
  }
  child.kill("SIGKILL");
  const s = await status;
  await child.stderr.cancel();
  assert.equal(s.signal, "SIGKILL");
  return true;
}

/**
 * Formats a Unix time in ms as the CLI's local `YYYY-MM-DD_HH:MM:SS`.
 *
 * @param ms Unix time in ms (whole seconds).
 * @returns The text.
 */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/**
 * Temporary directory removed at disposal.
 *
 * @returns The path and a disposer.
 */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "aerobak_e2e_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/**
 * The arguments most backups start with: the emulator's seeds, namespace `test`, a
 * directory.
 *
 * @param emu The cluster to back up.
 * @param dir The backup directory.
 * @returns `-h <seeds> -n test -d <dir>`.
 */
export function backupArgs(emu: Emulator, dir: string): string[] {
  return ["-h", emu.seeds, "-n", "test", "-d", dir];
}
