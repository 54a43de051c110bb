/**
 * The backup state file: what `--continue` needs to resume an interrupted backup.
 *
 * It holds the same information as backup-go's gob state (§6 of the design notes) as
 * JSON: the run counter (the `(k)` file-name suffix), and for every reader the partition
 * filter cursor at the start of the page whose records were the last ones in a closed file.
 * It also lists files opened but not yet closed, which a resumed run deletes: they may be
 * cut short, and their records are read again from the saved cursors.
 *
 * @module
 */

import { parseJsonObject } from "../_json_file.ts";
import { PartitionFilter, type PartitionFilterJson } from "../aerospike/partition_filter.ts";
import { AerobakError } from "../errors.ts";
import type { ManifestFile } from "./manifest.ts";

/** Where one reader resumes. */
export interface ReaderCursor {
  /** Index into the set list of the set being scanned (0 when scanning the namespace). */
  setIndex: number;
  /** The partition filter, with per-partition digests, at the start of the page. */
  filter: PartitionFilterJson;
}

/** The content of a state file. */
export interface BackupState {
  /** Format version, 1. */
  version: 1;
  /** The namespace backed up. */
  namespace: string;
  /** How many times the backup was resumed; the next run writes files with suffix `(counter + 1)`. */
  counter: number;
  /** Whether the metadata file (UDFs, sindexes) is complete. */
  metadataDone: boolean;
  /** Saved cursor of each reader, by reader (= writer) index. */
  readers: ReaderCursor[];
  /** Files opened and not closed yet when the state was written. */
  openFiles: string[];
  /** When the first run started (RFC 3339): the manifest's start time. */
  startTime?: string;
  /** Manifest entries of the files closed so far, by every run. */
  files?: ManifestFile[];
}

/**
 * Serialises a state.
 *
 * @param state The state.
 * @returns UTF-8 JSON.
 */
export function encodeBackupState(state: BackupState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state, null, 1) + "\n");
}

/**
 * Parses and checks a state file.
 *
 * @param bytes The file content.
 * @param file The file name, for messages.
 * @returns The state.
 * @throws {AerobakError} `STATE_INVALID` naming the file and what is wrong, a reader's
 *   partition cursor included.
 *
 * @example Round trip
 * ```ts
 * import { decodeBackupState, encodeBackupState } from "./state.ts";
 * const s = { version: 1 as const, namespace: "test", counter: 0, metadataDone: true, readers: [], openFiles: [] };
 * console.log(decodeBackupState(encodeBackupState(s), "state").namespace); // "test"
 * ```
 */
export function decodeBackupState(bytes: Uint8Array, file: string): BackupState {
  const bad = (what: string, cause?: unknown) =>
    new AerobakError("STATE_INVALID", `Invalid backup state file ${file}: ${what}`, {
      cause,
      location: { file },
    });
  const s = parseJsonObject(bytes, bad);
  if (s.version !== 1) throw bad(`version ${JSON.stringify(s.version)}, expected 1`);
  if (typeof s.namespace !== "string") throw bad("namespace missing");
  if (!Number.isInteger(s.counter) || (s.counter as number) < 0) throw bad("bad counter");
  if (typeof s.metadataDone !== "boolean") throw bad("metadataDone missing");
  if (!Array.isArray(s.readers) || s.readers.length === 0) throw bad("no reader cursors");
  for (const [i, r] of s.readers.entries()) {
    const c = r as Record<string, unknown> | null;
    if (
      typeof c !== "object" || c === null || !Number.isInteger(c.setIndex) ||
      (c.setIndex as number) < 0 || typeof c.filter !== "object" || c.filter === null
    ) {
      throw bad(`reader ${i} cursor malformed`);
    }
    // Checked here, where the file is known, not first when the reader resumes.
    try {
      PartitionFilter.fromJSON(c.filter);
    } catch (e) {
      throw bad(`reader ${i}: ${(e as Error).message}`, e);
    }
  }
  if (!Array.isArray(s.openFiles) || s.openFiles.some((f) => typeof f !== "string")) {
    throw bad("openFiles malformed");
  }
  if (s.startTime !== undefined && Number.isNaN(Date.parse(String(s.startTime)))) {
    throw bad("startTime malformed");
  }
  if (
    s.files !== undefined &&
    (!Array.isArray(s.files) ||
      s.files.some((f) => typeof f !== "object" || f === null || typeof f.name !== "string"))
  ) {
    throw bad("files malformed");
  }
  return s as unknown as BackupState;
}
