/**
 * Backup record readers: each owns a partition filter and scans one set at a time.
 *
 * With a page size (state-file backups) a reader scans page by page and puts a
 * {@linkcode PageMark} before each page, so the writer knows which cursor to save when it
 * closes a file: resuming from it re-reads at worst the records of one page.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import type { ScanOptions } from "../aerospike/policy.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import type { PipeReader } from "../pipeline/pipe.ts";
import type { PartitionRange } from "./partition_spec.ts";
import type { ReaderCursor } from "./state.ts";

/** Marks the start of a scan page in a reader's stream. */
export class PageMark {
  /** Index of the reader (and, with fixed fan-out, of the writer). */
  readonly reader: number;
  /** Where a resumed scan of this page starts. */
  readonly cursor: ReaderCursor;

  /**
   * Creates a mark.
   *
   * @param reader Reader index.
   * @param cursor Cursor at the start of the page.
   */
  constructor(reader: number, cursor: ReaderCursor) {
    this.reader = reader;
    this.cursor = cursor;
  }
}

/** What flows through a backup pipe. */
export type BackupItem = AerospikeRecord | PageMark;

/** Scan settings every reader of a backup shares. */
export type SharedScanOptions = Omit<ScanOptions, "namespace" | "set" | "signal" | "maxRecords">;

/** Options of {@linkcode recordReader}. */
export interface RecordReaderOptions {
  /** Reader index. */
  index: number;
  /** Namespace. */
  namespace: string;
  /** Sets to scan in turn; empty = the whole namespace. */
  sets: readonly string[];
  /** Builds this reader's filter afresh (for each set). */
  makeFilter: () => PartitionFilter;
  /** Where to resume (continue from a state file). */
  resume?: ReaderCursor;
  /** Scan settings. */
  scan: SharedScanOptions;
  /** Records per page; 0 = one scan per set. */
  pageSize: number;
  /** Stop after this many records (0 = no cap). */
  maxRecords: number;
}

/**
 * Builds a partition filter for a reader's share of the partitions.
 *
 * @param range Begin, count and optional after-digest (base64) of the share.
 * @returns A fresh filter.
 *
 * @example A share that resumes after a digest
 * ```ts
 * import { filterForRange } from "./record_reader.ts";
 * console.log(filterForRange({ begin: 10, count: 5 }).count); // 5
 * ```
 */
export function filterForRange(range: PartitionRange): PartitionFilter {
  if (range.digest === undefined) return PartitionFilter.range(range.begin, range.count);
  const partitions = [];
  for (let i = 0; i < range.count; i++) {
    partitions.push(
      i === 0
        ? { id: range.begin, digest: range.digest, retry: true, done: false }
        : { id: range.begin + i, retry: true, done: false },
    );
  }
  return PartitionFilter.fromJSON({
    version: 1,
    begin: range.begin,
    count: range.count,
    digest: range.digest,
    partitions,
  });
}

/**
 * Creates a backup reader.
 *
 * @param cluster The cluster to scan.
 * @param options The reader's filter, sets, paging and scan settings.
 * @returns A pipe reader yielding records (and page marks when paging).
 */
export function recordReader(
  cluster: Cluster,
  options: RecordReaderOptions,
): PipeReader<BackupItem> {
  return async function* (signal: AbortSignal): AsyncGenerator<BackupItem> {
    const sets = options.sets.length > 0 ? options.sets : [""];
    let setIndex = options.resume?.setIndex ?? 0;
    let filter = options.resume
      ? PartitionFilter.fromJSON(options.resume.filter)
      : options.makeFilter();
    let remaining = options.maxRecords > 0 ? options.maxRecords : Infinity;
    for (; setIndex < sets.length; setIndex++) {
      if (setIndex > (options.resume?.setIndex ?? 0)) filter = options.makeFilter();
      const scan: ScanOptions = { ...options.scan, namespace: options.namespace, signal };
      if (sets[setIndex] !== "") scan.set = sets[setIndex];
      if (options.pageSize <= 0) {
        for await (const record of cluster.scan(filter, scan)) {
          yield record;
          if (--remaining <= 0) return;
        }
        continue;
      }
      scan.maxRecords = options.pageSize;
      while (!filter.done) {
        yield new PageMark(options.index, { setIndex, filter: filter.toJSON() });
        let n = 0;
        for await (const record of cluster.scan(filter, scan)) {
          n++;
          yield record;
          if (--remaining <= 0) return;
        }
        // backup-go moves on after an empty page, which also ends a filter whose
        // partitions the server keeps reporting unavailable.
        if (n === 0) break;
      }
    }
  };
}
