/**
 * Backup readers: each owns a partition filter, scans one set at a time, and encodes every
 * record where it lies in the scan reply straight into its file sink: no record object, no
 * copy and no promise per record. Waiting happens a reply frame at a time (the sink's
 * buffer going to the file, the bandwidth limit) and when a file rolls over.
 *
 * With a page size (state-file backups) a reader scans page by page and tells its sink's
 * owner where each page starts, so that closing a file can save the cursor to resume from:
 * at worst the records of one page are read again.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import type { MessageHeader } from "../aerospike/message.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import type { ScanOptions } from "../aerospike/policy.ts";
import { RecordView } from "../aerospike/record_view.ts";
import type { ScanConsumer } from "../aerospike/scan.ts";
import type { LeakyBucket } from "../pipeline/rate_limiter.ts";
import type { AsbFileSink } from "./file_writer.ts";
import type { PartitionRange } from "./partition_spec.ts";
import type { ReaderCursor } from "./state.ts";

/** Scan settings every reader of a backup shares. */
export type SharedScanOptions = Omit<ScanOptions, "namespace" | "set" | "signal" | "maxRecords">;

/**
 * A reader's share of the partitions, as data (it crosses to a reader worker): a range
 * (with an optional after-digest), or a list of partition ids.
 */
export type ReaderShare = { range: PartitionRange } | { ids: readonly number[] };

/**
 * A fresh filter of a reader's share.
 *
 * @param share The share.
 * @returns The filter.
 */
export function filterOfShare(share: ReaderShare): PartitionFilter {
  return "range" in share ? filterForRange(share.range) : PartitionFilter.ids(share.ids);
}

/** Options of {@linkcode readRecords}. */
export interface RecordReaderOptions {
  /** Namespace. */
  namespace: string;
  /** Sets to scan in turn; empty = the whole namespace. */
  sets: readonly string[];
  /** This reader's partitions (a fresh filter of them starts each set). */
  share: ReaderShare;
  /** Where to resume (continue from a state file). */
  resume?: ReaderCursor;
  /** Scan settings. */
  scan: SharedScanOptions;
  /** Records per page; 0 = one scan per set. */
  pageSize: number;
  /** Stop after this many records (0 = no cap). */
  maxRecords: number;
}

/** Where a reader's records go, and what it reports. */
export interface RecordReaderTarget {
  /** The file sink the records are encoded into. */
  sink: AsbFileSink;
  /** Called with each record written. */
  onRecord(): void;
  /** Called before each page with where it starts (paged readers only). */
  onPage?(cursor: ReaderCursor): void;
  /** Bytes encoded are charged to it (the bandwidth limit), a reply frame at a time. */
  bandwidth?: LeakyBucket;
  /** Stops the reader. */
  signal: AbortSignal;
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

/** Why a reader stopped its own scan: its record cap was reached. */
class CapReached extends Error {}

/**
 * The scan consumer of one reader: records encoded into the sink where they lie.
 */
class SinkConsumer implements ScanConsumer {
  readonly #target: RecordReaderTarget;
  readonly #view = new RecordView();
  /** Records this reader may still write (Infinity without a cap). */
  remaining: number;
  /** Records this reader wrote. */
  written = 0;
  /** Stops the current scan when the cap is reached. */
  stop: AbortController = new AbortController();
  #bytes = 0;

  constructor(target: RecordReaderTarget, cap: number) {
    this.#target = target;
    this.remaining = cap > 0 ? cap : Infinity;
  }

  record(body: Uint8Array, view: DataView, offset: number, header: MessageHeader): number {
    const rv = this.#view.read(body, view, offset, header);
    if (this.remaining <= 0) return rv.next; // the scan is being stopped
    const n = this.#target.sink.tryWriteView(rv);
    if (n < 0) return -1;
    this.#bytes += n;
    this.written++;
    this.#target.onRecord();
    if (--this.remaining === 0) this.stop.abort(new CapReached());
    return rv.next;
  }

  ready(): Promise<void> {
    return this.#target.sink.prepare();
  }

  frameEnd(): Promise<void> | void {
    const flushing = this.#target.sink.flushIfFull();
    const bytes = this.#bytes;
    this.#bytes = 0;
    const throttled = bytes > 0 ? this.#target.bandwidth?.wait(bytes) : undefined;
    if (flushing === undefined) return throttled;
    return throttled === undefined ? flushing : Promise.all([flushing, throttled]).then(() => {});
  }
}

/**
 * Runs one backup reader to its end: every set, every page, every record into its sink.
 *
 * @param cluster The cluster to scan.
 * @param options The reader's filter, sets, paging and scan settings.
 * @param target The sink and what the reader reports.
 * @returns When the reader has read everything (or its cap).
 * @throws {AerobakError} What the scans or the sink threw; the abort reason when
 *   `target.signal` fires.
 */
export async function readRecords(
  cluster: Cluster,
  options: RecordReaderOptions,
  target: RecordReaderTarget,
): Promise<void> {
  const sets = options.sets.length > 0 ? options.sets : [""];
  const consumer = new SinkConsumer(target, options.maxRecords);
  let setIndex = options.resume?.setIndex ?? 0;
  let filter = options.resume
    ? PartitionFilter.fromJSON(options.resume.filter)
    : filterOfShare(options.share);
  for (; setIndex < sets.length; setIndex++) {
    if (setIndex > (options.resume?.setIndex ?? 0)) filter = filterOfShare(options.share);
    const scan: ScanOptions = {
      ...options.scan,
      namespace: options.namespace,
      signal: AbortSignal.any([target.signal, consumer.stop.signal]),
    };
    if (sets[setIndex] !== "") scan.set = sets[setIndex];
    try {
      if (options.pageSize <= 0) {
        await cluster.scanFrames(filter, scan, consumer);
        continue;
      }
      scan.maxRecords = options.pageSize;
      while (!filter.done) {
        target.onPage?.({ setIndex, filter: filter.toJSON() });
        const before = consumer.written;
        await cluster.scanFrames(filter, scan, consumer);
        // backup-go moves on after an empty page, which also ends a filter whose
        // partitions the server keeps reporting unavailable.
        if (consumer.written === before) break;
      }
    } catch (e) {
      if (consumer.stop.signal.aborted && !target.signal.aborted) return; // cap reached
      throw e;
    }
  }
}
