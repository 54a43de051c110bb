/**
 * Which partitions a scan covers, and how far each has got: the scan cursor.
 *
 * A filter holds one status per partition. A scan updates the statuses as it yields
 * records (the last digest per partition), so a filter saved with
 * {@linkcode PartitionFilter.toJSON} at any point resumes after the last record the caller
 * received.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { DIGEST_SIZE, PARTITION_COUNT, partitionId } from "./digest.ts";

/** Scan state of one partition. */
export interface PartitionStatus {
  /** Partition id, 0..4095. */
  readonly id: number;
  /** Digest of the last record received: the scan resumes after it. */
  digest?: Uint8Array;
  /** Whether the partition must be scanned (again) by the next scan call or round. */
  retry: boolean;
  /** Whether the partition has been scanned to its end. */
  done: boolean;
}

/** JSON form of a {@linkcode PartitionStatus}. */
export interface PartitionStatusJson {
  /** Partition id. */
  id: number;
  /** Base64 digest to resume after. */
  digest?: string;
  /** See {@linkcode PartitionStatus.retry}. */
  retry: boolean;
  /** See {@linkcode PartitionStatus.done}. */
  done: boolean;
}

/** JSON form of a {@linkcode PartitionFilter} (the saved scan cursor). */
export interface PartitionFilterJson {
  /** Format version, 1. */
  version: 1;
  /** First partition of the range (first id of an id list). */
  begin: number;
  /** Number of partitions. */
  count: number;
  /** Base64 after-digest the filter was built with. */
  digest?: string;
  /** Per-partition state. */
  partitions: PartitionStatusJson[];
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function checkDigest(digest: Uint8Array): void {
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_SIZE) {
    throw new RangeError(`Invalid digest: expected ${DIGEST_SIZE} bytes`);
  }
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= PARTITION_COUNT) {
    throw new RangeError(`Invalid partition id ${id}: expected 0..${PARTITION_COUNT - 1}`);
  }
}

/**
 * The partitions a scan covers and the state of each.
 *
 * @example Scan half of the partitions, save the cursor, resume later
 * ```ts
 * import assert from "node:assert/strict";
 * import { PartitionFilter } from "./partition_filter.ts";
 * const filter = PartitionFilter.range(0, 2048);
 * const saved = JSON.stringify(filter);
 * const again = PartitionFilter.fromJSON(JSON.parse(saved));
 * assert.equal(again.count, 2048);
 * assert.equal(again.done, false);
 * ```
 */
export class PartitionFilter {
  /** First partition (first id of an id list). */
  readonly begin: number;
  /** Number of partitions covered. */
  readonly count: number;
  /** After-digest the filter was built with, if any. */
  readonly digest?: Uint8Array;
  /** One status per covered partition, in scan order. */
  readonly partitions: readonly PartitionStatus[];
  #byId?: (PartitionStatus | undefined)[];

  private constructor(
    begin: number,
    count: number,
    digest: Uint8Array | undefined,
    partitions: PartitionStatus[],
  ) {
    this.begin = begin;
    this.count = count;
    if (digest !== undefined) this.digest = digest;
    this.partitions = partitions;
  }

  /**
   * All 4096 partitions.
   *
   * @returns A new filter.
   */
  static all(): PartitionFilter {
    return PartitionFilter.range(0, PARTITION_COUNT);
  }

  /**
   * Partitions `begin .. begin+count-1`.
   *
   * @param begin First partition, 0..4095.
   * @param count How many, ≥ 1, with begin + count ≤ 4096.
   * @returns A new filter.
   * @throws {RangeError} For a range outside 0..4095.
   */
  static range(begin: number, count: number): PartitionFilter {
    checkId(begin);
    if (!Number.isInteger(count) || count < 1 || begin + count > PARTITION_COUNT) {
      throw new RangeError(
        `Invalid partition range begin ${begin} count ${count}: must lie within 0..4095`,
      );
    }
    const parts: PartitionStatus[] = new Array(count);
    for (let i = 0; i < count; i++) parts[i] = { id: begin + i, retry: true, done: false };
    return new PartitionFilter(begin, count, undefined, parts);
  }

  /**
   * One whole partition.
   *
   * @param id Partition id.
   * @returns A new filter.
   */
  static id(id: number): PartitionFilter {
    return PartitionFilter.range(id, 1);
  }

  /**
   * A list of whole partitions, scanned in the order given.
   *
   * @param ids Distinct partition ids (at least one).
   * @returns A new filter; `begin` is the first id and `count` the number of ids.
   * @throws {RangeError} For an empty list, a bad id or a duplicate.
   */
  static ids(ids: readonly number[]): PartitionFilter {
    if (ids.length === 0) throw new RangeError("Invalid partition list: empty");
    const seen = new Set<number>();
    const parts: PartitionStatus[] = [];
    for (const id of ids) {
      checkId(id);
      if (seen.has(id)) throw new RangeError(`Invalid partition list: ${id} appears twice`);
      seen.add(id);
      parts.push({ id, retry: true, done: false });
    }
    return new PartitionFilter(ids[0], ids.length, undefined, parts);
  }

  /**
   * The records after `digest` in its partition, then every later partition
   * (`--after-digest`).
   *
   * @param digest A 20-byte digest.
   * @returns A new filter: begin = partitionId(digest), count = 4096 − begin.
   */
  static afterDigest(digest: Uint8Array): PartitionFilter {
    checkDigest(digest);
    const begin = partitionId(digest);
    const f = PartitionFilter.range(begin, PARTITION_COUNT - begin);
    (f.partitions[0] as PartitionStatus).digest = digest.slice();
    return new PartitionFilter(begin, f.count, digest.slice(), f.partitions as PartitionStatus[]);
  }

  /**
   * The whole partition that contains `digest` (a digest in `--partition-list`).
   *
   * @param digest A 20-byte digest.
   * @returns A new filter of one partition.
   */
  static byDigest(digest: Uint8Array): PartitionFilter {
    checkDigest(digest);
    return PartitionFilter.id(partitionId(digest));
  }

  /**
   * The status of one partition.
   *
   * @param id Partition id.
   * @returns Its status, or undefined when the filter does not cover it.
   */
  statusOf(id: number): PartitionStatus | undefined {
    if (this.#byId === undefined) {
      this.#byId = new Array(PARTITION_COUNT);
      for (const p of this.partitions) this.#byId[p.id] = p;
    }
    return this.#byId[id];
  }

  /** Whether every partition has been scanned to its end. */
  get done(): boolean {
    for (const p of this.partitions) if (!p.done) return false;
    return true;
  }

  /**
   * Records that a record of partition `p` was delivered: the scan resumes after it.
   * The digest is copied into the status's own buffer, so the status never holds on to a
   * reply frame.
   *
   * @param p The partition's status.
   * @param digest The record's digest.
   */
  static setDigest(p: PartitionStatus, digest: Uint8Array): void {
    if (p.digest === undefined) p.digest = new Uint8Array(DIGEST_SIZE);
    p.digest.set(digest);
  }

  /**
   * The cursor as JSON (used by `JSON.stringify`).
   *
   * @returns Plain data for {@linkcode PartitionFilter.fromJSON}.
   */
  toJSON(): PartitionFilterJson {
    const json: PartitionFilterJson = {
      version: 1,
      begin: this.begin,
      count: this.count,
      partitions: this.partitions.map((p) => {
        const s: PartitionStatusJson = { id: p.id, retry: p.retry, done: p.done };
        if (p.digest !== undefined) s.digest = toBase64(p.digest);
        return s;
      }),
    };
    if (this.digest !== undefined) json.digest = toBase64(this.digest);
    return json;
  }

  /**
   * Rebuilds a filter saved with {@linkcode PartitionFilter.toJSON}.
   *
   * @param json The parsed JSON.
   * @returns The filter, ready to resume.
   * @throws {AerobakError} `CURSOR_INVALID` naming what is wrong.
   */
  static fromJSON(json: unknown): PartitionFilter {
    const bad = (why: string) => new AerobakError("CURSOR_INVALID", `Invalid scan cursor: ${why}`);
    if (typeof json !== "object" || json === null) throw bad("not an object");
    const o = json as Record<string, unknown>;
    if (o.version !== 1) throw bad(`unsupported version ${JSON.stringify(o.version)}`);
    const isInt = (v: unknown): v is number => Number.isInteger(v);
    if (!isInt(o.begin) || o.begin < 0 || o.begin >= PARTITION_COUNT) {
      throw bad(`begin ${JSON.stringify(o.begin)} is not a partition id`);
    }
    if (!isInt(o.count) || o.count < 1 || o.count > PARTITION_COUNT) {
      throw bad(`count ${JSON.stringify(o.count)} is not in 1..4096`);
    }
    const digestOf = (v: unknown, where: string): Uint8Array | undefined => {
      if (v === undefined) return undefined;
      let d: Uint8Array;
      try {
        d = fromBase64(String(v));
      } catch {
        throw bad(`${where} digest is not base64`);
      }
      if (typeof v !== "string" || d.length !== DIGEST_SIZE) {
        throw bad(`${where} digest is not ${DIGEST_SIZE} bytes of base64`);
      }
      return d;
    };
    const digest = digestOf(o.digest, "filter");
    if (!Array.isArray(o.partitions) || o.partitions.length !== o.count) {
      throw bad(`expected ${o.count} partition entries`);
    }
    const seen = new Set<number>();
    const parts: PartitionStatus[] = o.partitions.map((e: unknown, i: number) => {
      if (typeof e !== "object" || e === null) throw bad(`partition entry ${i} is not an object`);
      const p = e as Record<string, unknown>;
      if (!isInt(p.id) || p.id < 0 || p.id >= PARTITION_COUNT || seen.has(p.id)) {
        throw bad(`partition entry ${i} has a bad or repeated id ${JSON.stringify(p.id)}`);
      }
      seen.add(p.id);
      if (typeof p.retry !== "boolean" || typeof p.done !== "boolean") {
        throw bad(`partition ${p.id} needs boolean retry and done`);
      }
      const d = digestOf(p.digest, `partition ${p.id}`);
      if (d !== undefined && partitionId(d) !== p.id) {
        throw bad(`partition ${p.id} digest belongs to partition ${partitionId(d)}`);
      }
      const s: PartitionStatus = { id: p.id, retry: p.retry, done: p.done };
      if (d !== undefined) s.digest = d;
      return s;
    });
    return new PartitionFilter(o.begin, o.count, digest, parts);
  }
}
