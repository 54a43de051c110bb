/**
 * The backup manifest: what a finished backup holds, written beside its data files once
 * everything else is stored, so that a backup can be checked for completeness and
 * integrity later (`asrestore --validate`, `--verify`).
 *
 * A directory (or key prefix) gets `backup.manifest.json`; a single `-o` file gets
 * `<file>.manifest.json`. The Go and C tools read only `.asb`/`.asbx` files and ignore it.
 * A backup without one was not finished by aerobak (or was made by another tool).
 *
 * The data files are described one entry per finished file, as the file sinks report them
 * when a file closes ({@linkcode ManifestFile}); {@linkcode ManifestBuilder} collects the
 * entries of every writer (whatever worker owns it) and {@linkcode writeManifest} stores
 * the result atomically.
 *
 * @module
 */

import { parseJsonObject } from "../_json_file.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import type { Cluster } from "../aerospike/cluster.ts";
import { AerobakError } from "../errors.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import type { EncryptionPolicy } from "../io/encryption.ts";
import type { StorageReader, StorageWriter } from "../io/storage.ts";
import { infoCommand, type InfoCommandOptions } from "./_info.ts";
import type { BackupConfig } from "./config.ts";
import type { PartitionFilterSpec } from "./partition_spec.ts";

/** Name of the manifest in a backup directory or key prefix. */
export const MANIFEST_FILE_NAME = "backup.manifest.json";

/** Suffix of the manifest of a single-file backup: `<file>.manifest.json`. */
export const MANIFEST_SUFFIX = ".manifest.json";

/** The `format` value of every manifest. */
export const MANIFEST_FORMAT = "aerobak-backup-manifest";

/** One data file of a backup, as reported when it was closed. */
export interface ManifestFile {
  /** File name (no directory). */
  name: string;
  /** Bytes on storage (after compression and encryption). */
  size: number;
  /** SHA-256 of the stored bytes, 64 lowercase hex digits. */
  sha256: string;
  /** Records in the file. */
  records: number;
  /** Secondary indexes in the file (ASB files only). */
  sindexes?: number;
  /** UDF modules in the file (ASB files only). */
  udfs?: number;
}

/** The settings that shaped what a backup holds (never the encryption key). */
export interface ManifestSettings {
  /** Sets backed up; empty = all. */
  setList: string[];
  /** Bins backed up; empty = all. */
  binList: string[];
  /** Partition filters (scan backups). */
  partitionFilters: PartitionFilterSpec[];
  /** Nodes whose master partitions were backed up. */
  nodeList: string[];
  /** Racks whose master partitions were backed up. */
  rackList: number[];
  /** Only records last updated at or after this time (RFC 3339, nanoseconds). */
  modifiedAfter?: string;
  /** Only records last updated before this time (RFC 3339, nanoseconds). */
  modifiedBefore?: string;
  /** Only records that never expire. */
  noTtlOnly: boolean;
  /** Base64 of the extra filter expression. */
  filterExpression?: string;
  /** No records, only metadata. */
  noRecords: boolean;
  /** No secondary indexes. */
  noIndexes: boolean;
  /** No UDFs. */
  noUdfs: boolean;
  /** Records without their bins. */
  noBins: boolean;
  /** Approximate cap on the records read (0 = none). */
  maxRecords: number;
  /** `"NONE"` or `"ZSTD"`. */
  compression: string;
  /** `"NONE"`, `"AES128"` or `"AES256"`. */
  encryption: string;
  /** XDR backups: the rewind (`"all"` or seconds). */
  rewind?: string;
  /** Sharded backups: this directory holds shard `index` of `count` (`--shards`, `--shard`). */
  shard?: { index: number; count: number };
}

/** Counts over every file of a backup. */
export interface ManifestTotals {
  /** Data files. */
  files: number;
  /** Bytes stored. */
  bytes: number;
  /** Records. */
  records: number;
  /** Secondary indexes. */
  sindexes: number;
  /** UDF modules. */
  udfs: number;
}

/** The content of a manifest file. */
export interface BackupManifest {
  /** Always {@linkcode MANIFEST_FORMAT}. */
  format: typeof MANIFEST_FORMAT;
  /** Format version, 1. */
  version: 1;
  /** The program that wrote the backup. */
  tool: { name: string; version: string };
  /** `"scan"` (ASB files) or `"xdr"` (ASBX files and their metadata file). */
  kind: "scan" | "xdr";
  /** The namespace backed up. */
  namespace: string;
  /** The source cluster. */
  cluster: { name: string; build: string };
  /** When the backup started (RFC 3339). Records updated later may differ from the files. */
  startTime: string;
  /** When the last file was stored (RFC 3339). */
  endTime: string;
  /** The settings that shaped the contents. */
  settings: ManifestSettings;
  /** Every data file, by name. */
  files: ManifestFile[];
  /** Sums over `files`. */
  totals: ManifestTotals;
}

/** What a {@linkcode ManifestBuilder} starts with. */
export interface ManifestStart {
  /** `"scan"` or `"xdr"`. */
  kind: "scan" | "xdr";
  /** The namespace. */
  namespace: string;
  /** The settings. */
  settings: ManifestSettings;
  /** When the backup started. */
  startTime: Date;
  /**
   * The source cluster.
   * @default {{ name: "", build: "" }}
   */
  cluster?: { name: string; build: string };
}

/**
 * Collects the entries of a backup's files as they close, from any number of writers,
 * and builds the manifest once the backup is done.
 *
 * @example Build and store a manifest
 * ```ts ignore
 * const builder = new ManifestBuilder({ kind: "scan", namespace: "test", settings, startTime: new Date() });
 * builder.addFile({ name: "0_test_1.asb", size: 120, sha256, records: 3, sindexes: 0, udfs: 0 });
 * await writeManifest(storage, builder.build(new Date()));
 * ```
 */
export class ManifestBuilder {
  readonly #start: ManifestStart;
  readonly #files = new Map<string, ManifestFile>();
  #cluster: { name: string; build: string };

  /**
   * Creates a builder.
   *
   * @param start Kind, namespace, settings, start time.
   */
  constructor(start: ManifestStart) {
    this.#start = start;
    this.#cluster = start.cluster ?? { name: "", build: "" };
  }

  /** When the backup started. */
  get startTime(): Date {
    return this.#start.startTime;
  }

  /** The entries collected so far, by name. */
  get files(): ManifestFile[] {
    return [...this.#files.values()].sort(byName);
  }

  /**
   * Records the source cluster.
   *
   * @param cluster Cluster name and server build.
   */
  setCluster(cluster: { name: string; build: string }): void {
    this.#cluster = { ...cluster };
  }

  /**
   * Adds (or replaces) the entry of a finished file.
   *
   * @param file The entry.
   */
  addFile(file: ManifestFile): void {
    this.#files.set(file.name, { ...file });
  }

  /**
   * Builds the manifest.
   *
   * @param endTime When the last file was stored.
   * @returns The manifest.
   */
  build(endTime: Date): BackupManifest {
    const files = this.files;
    const totals: ManifestTotals = {
      files: files.length,
      bytes: 0,
      records: 0,
      sindexes: 0,
      udfs: 0,
    };
    for (const f of files) {
      totals.bytes += f.size;
      totals.records += f.records;
      totals.sindexes += f.sindexes ?? 0;
      totals.udfs += f.udfs ?? 0;
    }
    return {
      format: MANIFEST_FORMAT,
      version: 1,
      tool: { name: "aerobak", version: denoConfig.version },
      kind: this.#start.kind,
      namespace: this.#start.namespace,
      cluster: { ...this.#cluster },
      startTime: this.#start.startTime.toISOString(),
      endTime: endTime.toISOString(),
      settings: this.#start.settings,
      files,
      totals,
    };
  }
}

/**
 * The manifest settings of a scan backup: its filters and file options.
 *
 * @param config The resolved configuration.
 * @returns The settings (the encryption mode only, never a key or where it comes from).
 */
export function scanManifestSettings(config: Readonly<BackupConfig>): ManifestSettings {
  const s: ManifestSettings = {
    setList: [...config.setList],
    binList: [...config.binList],
    partitionFilters: [...config.partitionFilters],
    nodeList: [...config.nodeList],
    rackList: [...config.rackList],
    noTtlOnly: config.noTtlOnly,
    noRecords: config.noRecords,
    noIndexes: config.noIndexes,
    noUdfs: config.noUdfs,
    noBins: config.noBins,
    maxRecords: config.maxRecords,
    ...fileSettings(config.compression, config.encryption),
  };
  if (config.modAfter !== undefined) s.modifiedAfter = formatNanos(config.modAfter);
  if (config.modBefore !== undefined) s.modifiedBefore = formatNanos(config.modBefore);
  if (config.filterExpression !== undefined) s.filterExpression = config.filterExpression;
  if (config.shard !== undefined) {
    s.shard = { index: config.shard.index, count: config.shard.count };
  }
  return s;
}

/**
 * The manifest settings of an XDR backup: the whole namespace from the rewind on.
 *
 * @param config The parts of the XDR configuration that shape the files.
 * @returns The settings.
 */
export function xdrManifestSettings(config: {
  rewind: string;
  compression: Readonly<CompressionPolicy>;
  encryption: Readonly<EncryptionPolicy>;
}): ManifestSettings {
  return {
    setList: [],
    binList: [],
    partitionFilters: [{ kind: "all" }],
    nodeList: [],
    rackList: [],
    noTtlOnly: false,
    noRecords: false,
    noIndexes: false,
    noUdfs: false,
    noBins: false,
    maxRecords: 0,
    rewind: config.rewind,
    ...fileSettings(config.compression, config.encryption),
  };
}

function fileSettings(
  compression: Readonly<CompressionPolicy>,
  encryption: Readonly<EncryptionPolicy>,
): Pick<ManifestSettings, "compression" | "encryption"> {
  return { compression: compression.mode, encryption: encryption.mode };
}

/**
 * The cluster name and server build a manifest records (`cluster-name` and `build` of
 * one node; a node that cannot say leaves the field empty).
 *
 * @param cluster The source cluster.
 * @param info Info command options.
 * @returns Name and build.
 */
export async function clusterIdentity(
  cluster: Cluster,
  info: InfoCommandOptions,
): Promise<{ name: string; build: string }> {
  const ask = (command: string) => infoCommand(cluster, command, info).catch(() => "");
  return { name: await ask("cluster-name"), build: await ask("build") };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The name a manifest gives a stored file: the name itself in a directory; for a single
 * file, whatever the job named it, the last segment of the file's path (or key).
 *
 * @param storage Where the file went.
 * @param name The name the file was opened with.
 * @returns The file name.
 */
export function storedFileName(storage: StorageWriter, name: string): string {
  if (storage.kind !== "file") return name;
  const path = storage.describe("");
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/**
 * Formats Unix nanoseconds as RFC 3339 with nine fraction digits (exact, unlike a `Date`).
 *
 * @param ns Unix time in nanoseconds (not before 1970).
 * @returns For example `2025-06-15T15:06:40.000000000Z`.
 */
export function formatNanos(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = ns % 1_000_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${iso}.${fraction.toString().padStart(9, "0")}Z`;
}

/**
 * Parses what {@linkcode formatNanos} writes (or any RFC 3339 UTC time) back to nanoseconds.
 *
 * @param text The time.
 * @returns Unix nanoseconds, or `undefined` when the text is not such a time.
 */
export function parseNanos(text: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (m === null) return undefined;
  const seconds = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/**
 * Serialises a manifest (indented JSON, one trailing newline).
 *
 * @param manifest The manifest.
 * @returns UTF-8 bytes.
 */
export function encodeManifest(manifest: BackupManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
}

/**
 * Parses and checks a manifest.
 *
 * @param bytes The file's content.
 * @param path Path or URL of the file, for messages.
 * @returns The manifest.
 * @throws {AerobakError} `MANIFEST_INVALID` naming the file and what is wrong (not JSON,
 *   another format, a malformed file entry).
 *
 * @example Round trip
 * ```ts
 * import { encodeManifest, ManifestBuilder, parseManifest } from "./manifest.ts";
 * const settings = { setList: [], binList: [], partitionFilters: [], nodeList: [], rackList: [],
 *   noTtlOnly: false, noRecords: false, noIndexes: false, noUdfs: false, noBins: false,
 *   maxRecords: 0, compression: "NONE", encryption: "NONE" };
 * const b = new ManifestBuilder({ kind: "scan", namespace: "test", settings, startTime: new Date(0) });
 * b.addFile({ name: "0_test_1.asb", size: 9, sha256: "0".repeat(64), records: 1, sindexes: 0, udfs: 0 });
 * const m = parseManifest(encodeManifest(b.build(new Date(1000))), "backup.manifest.json");
 * console.log(m.totals.records); // 1
 * ```
 */
export function parseManifest(bytes: Uint8Array, path: string): BackupManifest {
  const bad = (what: string, cause?: unknown) =>
    new AerobakError("MANIFEST_INVALID", `Invalid backup manifest ${path}: ${what}`, {
      cause,
      location: { file: path },
    });
  const m = parseJsonObject(bytes, bad);
  if (m.format !== MANIFEST_FORMAT) {
    throw bad(`format ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  }
  if (m.version !== 1) throw bad(`version ${JSON.stringify(m.version)}, expected 1`);
  if (m.kind !== "scan" && m.kind !== "xdr") {
    throw bad(`kind ${JSON.stringify(m.kind)}, expected "scan" or "xdr"`);
  }
  if (typeof m.namespace !== "string" || m.namespace === "") throw bad("namespace missing");
  for (const field of ["startTime", "endTime"]) {
    if (typeof m[field] !== "string" || Number.isNaN(Date.parse(m[field] as string))) {
      throw bad(`${field} ${JSON.stringify(m[field])} is not a time`);
    }
  }
  if (typeof m.settings !== "object" || m.settings === null) throw bad("settings missing");
  const shard = (m.settings as { shard?: unknown }).shard as Record<string, unknown> | undefined;
  if (
    shard !== undefined &&
    (typeof shard !== "object" || shard === null || !Number.isSafeInteger(shard.count) ||
      !Number.isSafeInteger(shard.index) || (shard.index as number) < 0 ||
      (shard.index as number) >= (shard.count as number))
  ) {
    throw bad(`settings.shard ${JSON.stringify(shard)} is not { index, count } with index < count`);
  }
  if (!Array.isArray(m.files)) throw bad("files missing");
  const names = new Set<string>();
  for (const [i, f] of (m.files as unknown[]).entries()) {
    const e = f as Record<string, unknown> | null;
    const where = `files[${i}]`;
    if (typeof e !== "object" || e === null) throw bad(`${where} is not an object`);
    if (typeof e.name !== "string" || e.name === "" || /[/\\]/.test(e.name)) {
      throw bad(`${where}.name ${JSON.stringify(e.name)} is not a file name`);
    }
    if (names.has(e.name)) throw bad(`${where}.name ${e.name} is listed twice`);
    names.add(e.name);
    for (const k of ["size", "records"]) {
      if (!Number.isSafeInteger(e[k]) || (e[k] as number) < 0) {
        throw bad(`${where}.${k} of ${e.name} is ${JSON.stringify(e[k])}, expected a count`);
      }
    }
    for (const k of ["sindexes", "udfs"]) {
      if (e[k] !== undefined && (!Number.isSafeInteger(e[k]) || (e[k] as number) < 0)) {
        throw bad(`${where}.${k} of ${e.name} is ${JSON.stringify(e[k])}, expected a count`);
      }
    }
    if (typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw bad(`${where}.sha256 of ${e.name} is not 64 hex digits`);
    }
  }
  return m as unknown as BackupManifest;
}

/**
 * Where a storage keeps its manifest: `backup.manifest.json` in a directory, the file's
 * path followed by `.manifest.json` for a single file, nowhere for standard output.
 *
 * @param storage The storage (writer or reader).
 * @returns The name to pass to the storage, or `undefined` when it holds no manifest.
 */
export function manifestNameOf(storage: Pick<StorageWriter, "kind"> | StorageReader):
  | string
  | undefined {
  switch (storage.kind) {
    case "directory":
      return MANIFEST_FILE_NAME;
    case "file":
    case "files":
      return MANIFEST_SUFFIX;
    default:
      return undefined;
  }
}

/**
 * Stores a manifest atomically beside the backup's files (temporary file and rename on
 * local disks, one put on object stores), so a reader never sees half of one. Storage
 * without a place for it (standard output) is left alone.
 *
 * @param storage Where the backup went.
 * @param manifest The manifest.
 * @returns Whether a manifest was written.
 * @throws {AerobakError} `STORAGE_WRITE` naming the path.
 */
export async function writeManifest(
  storage: StorageWriter,
  manifest: BackupManifest,
): Promise<boolean> {
  const name = manifestNameOf(storage);
  if (name === undefined || storage.writeAtomic === undefined) return false;
  await storage.writeAtomic(name, encodeManifest(manifest));
  return true;
}

/**
 * Removes the manifest of an earlier single-file backup about to be replaced, so that a
 * backup that does not finish is never taken for a whole one. Directories need nothing:
 * their writer refuses a non-empty one, or clears it, manifest included (`removeFiles`).
 *
 * @param storage The storage.
 */
export async function removeManifest(storage: StorageWriter): Promise<void> {
  if (storage.kind === "file") await storage.remove?.(MANIFEST_SUFFIX);
}

/**
 * Reads the manifest of a backup, when it has one.
 *
 * @param reader Where the backup is: a directory (or key prefix), or a single file.
 * @returns The manifest and where it was read from, or `undefined` when there is none
 *   (a backup of the Go or C tools, one aerobak did not finish, a list of directories).
 * @throws {AerobakError} `MANIFEST_INVALID` for a file that is not a manifest;
 *   `STORAGE_READ` when it cannot be read.
 *
 * @example Check a backup's totals
 * ```ts ignore
 * import { DirectoryReader, readManifest } from "@aerobak/backup";
 * const found = await readManifest(new DirectoryReader("./backup"));
 * console.log(found ? found.manifest.totals.records : "no manifest");
 * ```
 */
export async function readManifest(
  reader: StorageReader,
): Promise<{ manifest: BackupManifest; path: string } | undefined> {
  const name = manifestNameOf(reader);
  if (name === undefined || reader.readCompanion === undefined) return undefined;
  const found = await reader.readCompanion(name);
  if (found === undefined) return undefined;
  return { manifest: parseManifest(found.bytes, found.path), path: found.path };
}
