/**
 * Checks a backup against its manifest: the files present against the files listed
 * (missing, extra, size), then each file's decoded content against its entry (SHA-256 of
 * the stored bytes, records, secondary indexes, UDFs). Every difference is one
 * {@linkcode ManifestFinding} naming the file and what was expected.
 *
 * @module
 */

import type { BackupManifest, ManifestFile } from "../backup/manifest.ts";
import type { StorageEntry } from "../io/storage.ts";

/** What reading one file found (the restore job reports it with `onFileRead`). */
export interface FileReadResult {
  /** File name. */
  name: string;
  /** Path or URL, as messages show it. */
  path: string;
  /** Bytes read from storage. */
  size: number;
  /** SHA-256 of the stored bytes, hex. */
  sha256: string;
  /** Records decoded. */
  records: number;
  /** Secondary indexes decoded (ASB). */
  sindexes: number;
  /** UDF modules decoded (ASB). */
  udfs: number;
}

/** What a finding is about. */
export type ManifestFindingKind =
  | "missing"
  | "extra"
  | "size"
  | "checksum"
  | "records"
  | "sindexes"
  | "udfs";

/** One difference between a backup and its manifest. */
export interface ManifestFinding {
  /** What differs. */
  kind: ManifestFindingKind;
  /** The file concerned. */
  file: string;
  /** What the manifest says (absent for an extra file). */
  expected?: string | number;
  /** What was found (absent for a missing file). */
  found?: string | number;
  /** One line for people. */
  message: string;
}

/**
 * Compares the data files present with those a manifest lists.
 *
 * @param manifest The manifest.
 * @param entries Every data file present (`.asb` and `.asbx`).
 * @returns Missing files, extra files and size mismatches, in name order.
 *
 * @example A file the manifest does not list
 * ```ts ignore
 * const findings = checkListing(manifest, [{ name: "9_test_1.asb", path: "/b/9_test_1.asb", size: 10 }]);
 * console.log(findings.map((f) => f.kind)); // ["missing", ..., "extra"]
 * ```
 */
export function checkListing(
  manifest: BackupManifest,
  entries: readonly StorageEntry[],
): ManifestFinding[] {
  const present = new Map(entries.map((e) => [e.name, e]));
  const listed = new Map(manifest.files.map((f) => [f.name, f]));
  const out: ManifestFinding[] = [];
  for (const f of manifest.files) {
    const e = present.get(f.name);
    if (e === undefined) {
      out.push({
        kind: "missing",
        file: f.name,
        expected: f.size,
        message: `${f.name} is missing: the manifest lists it with ${f.size} bytes and ` +
          `${f.records} records`,
      });
    } else if (e.size !== undefined && e.size !== f.size) {
      out.push(mismatch("size", f, e.path, f.size, e.size, "bytes"));
    }
  }
  for (const e of entries) {
    if (!listed.has(e.name)) {
      out.push({
        kind: "extra",
        file: e.name,
        found: e.size,
        message: `${e.path} is not in the manifest: a data file the backup did not write`,
      });
    }
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * Compares what reading a file found with its manifest entry.
 *
 * @param manifest The manifest.
 * @param read What reading the file found.
 * @returns Checksum and count mismatches (none for a file the manifest does not list, which
 *   {@linkcode checkListing} reports; nor a size mismatch it reported already).
 */
export function checkFileRead(manifest: BackupManifest, read: FileReadResult): ManifestFinding[] {
  const f = manifest.files.find((x) => x.name === read.name);
  if (f === undefined) return [];
  const out: ManifestFinding[] = [];
  if (read.sha256 !== f.sha256) {
    out.push(mismatch("checksum", f, read.path, f.sha256, read.sha256, "SHA-256"));
  }
  if (read.records !== f.records) {
    out.push(mismatch("records", f, read.path, f.records, read.records, "records"));
  }
  if (f.sindexes !== undefined && read.sindexes !== f.sindexes) {
    out.push(mismatch("sindexes", f, read.path, f.sindexes, read.sindexes, "secondary indexes"));
  }
  if (f.udfs !== undefined && read.udfs !== f.udfs) {
    out.push(mismatch("udfs", f, read.path, f.udfs, read.udfs, "UDFs"));
  }
  return out;
}

function mismatch(
  kind: ManifestFindingKind,
  f: ManifestFile,
  path: string,
  expected: string | number,
  found: string | number,
  what: string,
): ManifestFinding {
  const text = what === "SHA-256"
    ? `its SHA-256 is ${found}, the manifest says ${expected}`
    : `it holds ${found} ${what}, the manifest says ${expected}`;
  return { kind, file: f.name, expected, found, message: `${path} differs: ${text}` };
}
