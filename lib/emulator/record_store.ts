/**
 * The records of one namespace, kept per partition in digest order.
 *
 * The store is cluster-wide: nodes do not copy records between them; which node may serve
 * a partition is the {@linkcode PartitionLayout}'s business. Keeping each partition sorted
 * by digest is what makes digest cursors work: a scan resumes "after digest D" with a
 * binary search, exactly as the server's partition tree does.
 *
 * @module
 */

import type { AerospikeRecord } from "../aerospike/record.ts";
import { PARTITION_COUNT, partitionId } from "../aerospike/digest.ts";

/** A record as the emulator stores it: the shared record model plus server-side state. */
export interface StoredRecord extends AerospikeRecord {
  /** Last-update time in ms since the Unix epoch. */
  lutMs: number;
}

/** A change to a record, as the XDR shipper (a later feature) will consume it. */
export interface RecordChange {
  /** `"write"` for a create or update, `"delete"` for a delete, expiry is not reported. */
  kind: "write" | "delete";
  /** Namespace name. */
  namespace: string;
  /** The record after a write, or as it was before a delete. */
  record: StoredRecord;
}

/** Receives every change to a namespace. */
export type ChangeListener = (change: RecordChange) => void;

/**
 * Compares two digests as unsigned byte strings (the server's partition-tree order).
 *
 * @param a First digest.
 * @param b Second digest.
 * @returns Negative, zero or positive like `Array.prototype.sort` wants.
 */
export function compareDigests(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 20; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return 0;
}

/** The records of one namespace. */
export class NamespaceStore {
  /** Namespace name. */
  readonly name: string;
  readonly #partitions: StoredRecord[][] = [];
  // One change counter per partition, so derived figures (namespace statistics) can be
  // cached per partition and recomputed only where records changed.
  readonly #versions = new Float64Array(PARTITION_COUNT);
  readonly #sets = new Map<string, { truncateLutMs: number }>();
  readonly #listeners = new Set<ChangeListener>();
  #truncateLutMs = 0;

  /**
   * Creates an empty store.
   *
   * @param name Namespace name.
   */
  constructor(name: string) {
    this.name = name;
    for (let i = 0; i < PARTITION_COUNT; i++) this.#partitions.push([]);
  }

  /**
   * The records of one partition in digest order (live and expired alike). Do not modify.
   *
   * @param pid Partition id.
   * @returns The partition's array.
   */
  partition(pid: number): readonly StoredRecord[] {
    return this.#partitions[pid];
  }

  /**
   * A counter that changes whenever a record of the partition is written, removed or
   * truncated (records themselves are never modified in place).
   *
   * @param pid Partition id.
   * @returns The partition's change counter.
   */
  version(pid: number): number {
    return this.#versions[pid];
  }

  /**
   * Index of the first record strictly after a digest in its partition.
   *
   * @param pid Partition id.
   * @param digest The cursor.
   * @returns An index into {@linkcode partition}.
   */
  indexAfter(pid: number, digest: Uint8Array): number {
    const part = this.#partitions[pid];
    let lo = 0;
    let hi = part.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareDigests(part[mid].digest, digest) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Finds a record, expired or not.
   *
   * @param digest The digest.
   * @returns The record or `undefined`.
   */
  get(digest: Uint8Array): StoredRecord | undefined {
    const part = this.#partitions[partitionId(digest)];
    const i = this.#find(part, digest);
    return i >= 0 ? part[i] : undefined;
  }

  /**
   * Inserts or replaces a record (by digest) and reports the change.
   *
   * @param record The record; the store keeps this object.
   */
  put(record: StoredRecord): void {
    const pid = partitionId(record.digest);
    const part = this.#partitions[pid];
    const i = this.#find(part, record.digest);
    this.#versions[pid]++;
    if (i >= 0) part[i] = record;
    else part.splice(-i - 1, 0, record);
    this.noteSet(record.set);
    this.#emit({ kind: "write", namespace: this.name, record });
  }

  /**
   * Removes a record.
   *
   * @param digest The digest.
   * @param report Whether to tell the change listeners (false for expiry). @default true
   * @returns The removed record, or `undefined` when there was none.
   */
  remove(digest: Uint8Array, report = true): StoredRecord | undefined {
    const pid = partitionId(digest);
    const part = this.#partitions[pid];
    const i = this.#find(part, digest);
    if (i < 0) return undefined;
    this.#versions[pid]++;
    const [gone] = part.splice(i, 1);
    if (report) this.#emit({ kind: "delete", namespace: this.name, record: gone });
    return gone;
  }

  /**
   * Registers a set name (sets exist from their first write or index on, like the
   * server's set table, and stay listed when emptied).
   *
   * @param set Set name; `""` is ignored.
   */
  noteSet(set: string): void {
    if (set !== "" && !this.#sets.has(set)) this.#sets.set(set, { truncateLutMs: 0 });
  }

  /**
   * The known set names in creation order.
   *
   * @returns Set names.
   */
  setNames(): string[] {
    return [...this.#sets.keys()];
  }

  /**
   * Truncate time of a set, or of the namespace when `set` is `""`.
   *
   * @param set Set name or `""`.
   * @returns Milliseconds since the Unix epoch, 0 = never truncated.
   */
  truncateLutMs(set: string): number {
    return set === "" ? this.#truncateLutMs : this.#sets.get(set)?.truncateLutMs ?? 0;
  }

  /**
   * Deletes every record of a set (or of the namespace) last updated at or before a time.
   *
   * @param set Set name, or `undefined` for the whole namespace.
   * @param lutMs Cut-off time in ms since the Unix epoch.
   * @returns Number of records deleted.
   */
  truncate(set: string | undefined, lutMs: number): number {
    if (set === undefined) this.#truncateLutMs = Math.max(this.#truncateLutMs, lutMs);
    else {
      this.noteSet(set);
      const s = this.#sets.get(set)!;
      s.truncateLutMs = Math.max(s.truncateLutMs, lutMs);
    }
    let n = 0;
    for (let pid = 0; pid < this.#partitions.length; pid++) {
      const part = this.#partitions[pid];
      let w = 0;
      for (let r = 0; r < part.length; r++) {
        const rec = part[r];
        if ((set === undefined || rec.set === set) && rec.lutMs <= lutMs) n++;
        else part[w++] = rec;
      }
      if (w !== part.length) this.#versions[pid]++;
      part.length = w;
    }
    return n;
  }

  /**
   * Subscribes to changes (the hook XDR shipping will use).
   *
   * @param listener Called synchronously after each write or delete.
   * @returns A function that unsubscribes.
   */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: RecordChange): void {
    for (const l of this.#listeners) l(change);
  }

  #find(part: StoredRecord[], digest: Uint8Array): number {
    let lo = 0;
    let hi = part.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareDigests(part[mid].digest, digest);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }
}

/**
 * Whether a record has expired at a given time (expired records are invisible to reads,
 * writes and scans, as on the server before nsup removes them).
 *
 * @param record The record.
 * @param nowSeconds Current time in Citrusleaf-epoch seconds.
 * @returns True when the void time has passed.
 */
export function isExpired(record: StoredRecord, nowSeconds: number): boolean {
  return record.voidTime !== 0 && record.voidTime <= nowSeconds;
}
