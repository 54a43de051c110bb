/**
 * What `asrestore` reads and keeps beside a backup's data files: its manifest (checked
 * against the files present before anything is restored, validated or verified) and the
 * state file of a resumable restore (`--state-file-dst`, `--continue`).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { type BackupManifest, readManifest } from "../lib/backup/manifest.ts";
import { AerobakError } from "../lib/errors.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";
import { ObjectStoreWriter } from "../lib/io/object_store.ts";
import type { StorageEntry, StorageWriter } from "../lib/io/storage.ts";
import {
  checkFileRead,
  checkListing,
  type FileReadResult,
  type ManifestFinding,
} from "../lib/restore/manifest_check.ts";
import type { ShardedReader } from "../lib/restore/shards.ts";
import { openRestoreSource, type RestoreSource } from "./_restore_options.ts";
import type { Logger } from "./_report.ts";

/** A backup's manifest and where it was read from. */
export interface FoundManifest {
  /** The manifest. */
  manifest: BackupManifest;
  /** Its path or URL. */
  path: string;
}

/**
 * Reads the manifest of the backup a restore reads, when it has one: in the directory
 * (`-d`, or a cloud prefix) or beside the single file (`-i`). A list of directories and
 * standard input have none.
 *
 * @param source Where the backup is.
 * @returns The manifest, or `undefined`.
 * @throws {AerobakError} `MANIFEST_INVALID` for a manifest that is not one.
 */
export function findManifest(source: RestoreSource): Promise<FoundManifest | undefined> {
  return readManifest(openRestoreSource(source, { extension: ".asb" }));
}

/**
 * Every data file of a backup: its `.asb` and `.asbx` files.
 *
 * @param source Where the backup is.
 * @returns The files, each once.
 */
export async function backupDataFiles(source: RestoreSource): Promise<StorageEntry[]> {
  const out = new Map<string, StorageEntry>();
  for (const extension of [".asb", ".asbx"]) {
    for await (const e of openRestoreSource(source, { extension }).list()) out.set(e.path, e);
  }
  return [...out.values()];
}

/**
 * Checks the files present against the manifest before a restore or verify: a file it
 * lists that is missing or of another size stops the run (the backup is incomplete or
 * damaged: `--validate` tells all); a file it does not list is only reported.
 *
 * @param checks The manifest(s) and what the listing of the files found against them.
 * @param log Where an extra file is reported.
 * @throws {AerobakError} `MANIFEST_MISMATCH` naming the first missing or resized file.
 */
export function requireManifestFiles(checks: ManifestSet, log: Logger): void {
  const findings = checks.listing;
  for (const f of findings.filter((x) => x.kind === "extra")) {
    log.warn("data file not in the manifest", { file: f.file, manifest: checks.path });
  }
  const bad = findings.filter((x) => x.kind !== "extra");
  if (bad.length === 0) return;
  throw new AerobakError(
    "MANIFEST_MISMATCH",
    `The backup does not match its manifest ${checks.path}: ${bad[0].message}${
      bad.length > 1 ? ` (and ${bad.length - 1} more; run --validate for all)` : ""
    }`,
    { location: { file: checks.path } },
  );
}

/**
 * Warns when the file options given differ from those the manifest records, which would
 * make every file fail to decode (a wrong key cannot be told from damage).
 *
 * @param found The manifest.
 * @param given The compression and encryption modes of the run.
 * @param log Where the warning goes.
 */
export function warnFileOptions(
  found: FoundManifest,
  given: { compression: string; encryption: string },
  log: Logger,
): void {
  const s = found.manifest.settings;
  for (
    const [what, flag, recorded, now] of [
      ["compression", "--compress", s.compression, given.compression],
      ["encryption", "--encrypt", s.encryption, given.encryption],
    ]
  ) {
    if (recorded !== now) {
      log.warn(`the manifest records ${what} ${recorded}, this run reads ${now}`, {
        hint: `pass ${flag} ${recorded}`,
        manifest: found.path,
      });
    }
  }
}

/**
 * Logs each finding of a validation against the manifest, one error line each.
 *
 * @param findings The findings.
 * @param log The logger (`--log-json` gives one JSON object each).
 */
export function logFindings(findings: readonly ManifestFinding[], log: Logger): void {
  for (const f of findings) {
    const attrs: Record<string, unknown> = { file: f.file, check: f.kind };
    if (f.expected !== undefined) attrs.expected = f.expected;
    if (f.found !== undefined) attrs.found = f.found;
    attrs.detail = f.message;
    log.emit("error", "validation finding", attrs);
  }
}

/**
 * Where a resumable restore keeps its state file: the backup's directory (the first of a
 * list), the directory of a single file, or the key prefix of a cloud backup.
 *
 * @param source Where the backup is (not standard input).
 * @returns A storage that replaces the state file atomically.
 */
export function restoreStateStorage(source: RestoreSource): StorageWriter {
  const local = (dir: string) => new DirectoryWriter(dir, { skipDirCheck: true });
  switch (source.kind) {
    case "directory":
      return local(source.path);
    case "directoryList":
      return local(
        source.parentDirectory ? join(source.parentDirectory, source.paths[0]) : source.paths[0],
      );
    case "file":
      return local(dirname(source.path));
    case "cloud": {
      const o = source.objects;
      const dir = "files" in o ? o.files[0].slice(0, o.files[0].lastIndexOf("/") + 1) : o
        .directories[0];
      return new ObjectStoreWriter(source.cloud.store, dir, { skipDirCheck: true });
    }
    case "stdin":
      throw new AerobakError(
        "CONFIG_INVALID",
        "Cannot keep a restore state file for standard input",
      );
  }
}

/** The manifests a run checks the files it reads against: the backup's, or every shard's. */
export interface ManifestSet {
  /** The manifest's path, or for a sharded backup the shard manifests', for messages. */
  path: string;
  /** Files the manifests list. */
  files: number;
  /** What the listing of the files found against the manifests. */
  listing: ManifestFinding[];
  /**
   * Checks one file read against the manifest that lists it.
   *
   * @param read The file's bytes, checksum and counts.
   * @returns The findings.
   */
  checkRead(read: FileReadResult): ManifestFinding[];
}

/**
 * The manifest checks of a backup with one manifest.
 *
 * @param found The manifest.
 * @param files The backup's data files.
 * @returns The checks.
 */
export function singleManifestSet(
  found: FoundManifest,
  files: readonly StorageEntry[],
): ManifestSet {
  return {
    path: found.path,
    files: found.manifest.files.length,
    listing: checkListing(found.manifest, files),
    checkRead: (r) => checkFileRead(found.manifest, r),
  };
}

/**
 * The manifest checks of a sharded backup: each shard's files against its own manifest
 * (every shard read is finished, so it has one).
 *
 * @param reader The shards read.
 * @returns The checks.
 * @throws {AerobakError} `MANIFEST_INVALID` or `STORAGE_READ` for a manifest that cannot be read.
 */
export async function shardManifestSet(reader: ShardedReader): Promise<ManifestSet> {
  const byPath = new Map<string, BackupManifest>();
  const listing: ManifestFinding[] = [];
  const paths: string[] = [];
  let files = 0;
  for (const { index, reader: shard } of reader.shardReaders()) {
    const found = await readManifest(shard);
    if (found === undefined) {
      throw new AerobakError("MANIFEST_INVALID", `Shard ${index} has no manifest any more`);
    }
    const entries = await Array.fromAsync(shard.list());
    for (const e of entries) byPath.set(e.path, found.manifest);
    listing.push(...checkListing(found.manifest, entries));
    paths.push(found.path);
    files += found.manifest.files.length;
  }
  return {
    path: paths.length === 1 ? paths[0] : `${paths.length} shard manifests`,
    files,
    listing,
    checkRead: (r) => {
      const manifest = byPath.get(r.path);
      return manifest === undefined ? [] : checkFileRead(manifest, r);
    },
  };
}
