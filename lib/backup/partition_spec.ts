/**
 * Partition filters as plain data: what part of a namespace a backup scans, how the CLI's
 * `--partition-list` and `--after-digest` are parsed, and how filters are shared out among
 * parallel readers (backup-go `config_partition_filter.go` and `splitPartitions`).
 *
 * @module
 */

import { DIGEST_SIZE, PARTITION_COUNT, partitionId } from "../aerospike/digest.ts";
import { decodeBase64, invalidConfig, requireInteger } from "../_config_check.ts";
import { AerobakError } from "../errors.ts";

/**
 * One partition filter of a backup.
 *
 * - `all`: every partition (the default).
 * - `range`: partitions `begin` … `begin + count − 1` (the CLI's `B-C`: C is a **count**).
 * - `id`: the single partition `id`.
 * - `digest`: the whole partition holding the digest (the digest itself is dropped).
 * - `afterDigest`: the records after `digest` in its partition, then every later partition.
 *
 * Digests are base64 (20 bytes decoded), so a spec is plain, freezable, JSON-able data.
 */
export type PartitionFilterSpec =
  | { readonly kind: "all" }
  | { readonly kind: "range"; readonly begin: number; readonly count: number }
  | { readonly kind: "id"; readonly id: number }
  | { readonly kind: "digest"; readonly digest: string }
  | { readonly kind: "afterDigest"; readonly digest: string };

/**
 * The partitions one reader scans: `begin` … `begin + count − 1`, starting after `digest`
 * (base64) in partition `begin` when it is set.
 */
export interface PartitionRange {
  /** First partition id. */
  readonly begin: number;
  /** Number of partitions (at least 1). */
  readonly count: number;
  /** Base64 digest to resume after, in partition `begin`. */
  readonly digest?: string;
}

/**
 * Parses the CLI's `--partition-list`: comma-separated `begin-count`, `id` or base64 digest
 * entries, then rejects overlapping ranges and duplicate partitions.
 *
 * @param text The flag value, such as `"0-1000,2222,EjRWeJq83vEjRRI0VniavN7xI0U="`.
 * @returns The filters in the order given.
 * @throws {AerobakError} `CONFIG_INVALID` naming the bad entry.
 *
 * @example Ranges are begin and count
 * ```ts
 * import { parsePartitionList } from "./partition_spec.ts";
 * console.log(parsePartitionList("0-1000,2222"));
 * // [{ kind: "range", begin: 0, count: 1000 }, { kind: "id", id: 2222 }]
 * ```
 */
export function parsePartitionList(text: string): PartitionFilterSpec[] {
  if (text === "") throw invalidConfig("partition-list", text, "at least one filter");
  const specs = text.split(",").map(parsePartitionEntry);
  validatePartitionFilters(specs, "partition-list");
  return specs;
}

/**
 * Parses the CLI's `--after-digest`: a base64 digest to resume after.
 *
 * @param text The base64 of a 20-byte digest.
 * @returns An `afterDigest` filter.
 * @throws {AerobakError} `CONFIG_INVALID` when the text is not base64 of 20 bytes.
 *
 * @example Resume after a record
 * ```ts
 * import { parseAfterDigest } from "./partition_spec.ts";
 * console.log(parseAfterDigest("EjRWeJq83vEjRRI0VniavN7xI0U=").kind); // "afterDigest"
 * ```
 */
export function parseAfterDigest(text: string): PartitionFilterSpec {
  checkDigest("after-digest", text);
  return { kind: "afterDigest", digest: text };
}

/**
 * Returns the partitions a filter covers.
 *
 * @param spec The filter.
 * @returns The range; an `afterDigest` filter's range keeps the digest.
 * @throws {AerobakError} `CONFIG_INVALID` when the filter is out of range.
 *
 * @example A digest filter covers its whole partition
 * ```ts
 * import { partitionRangeOf } from "./partition_spec.ts";
 * console.log(partitionRangeOf({ kind: "range", begin: 10, count: 5 })); // { begin: 10, count: 5 }
 * ```
 */
export function partitionRangeOf(spec: PartitionFilterSpec): PartitionRange {
  switch (spec.kind) {
    case "all":
      return { begin: 0, count: PARTITION_COUNT };
    case "range":
      requireInteger("partition range begin", spec.begin, 0, PARTITION_COUNT - 1);
      requireInteger("partition range count", spec.count, 1, PARTITION_COUNT);
      if (spec.begin + spec.count > PARTITION_COUNT) {
        throw invalidConfig(
          "partition range",
          `${spec.begin}-${spec.count}`,
          `begin + count ≤ ${PARTITION_COUNT}`,
        );
      }
      return { begin: spec.begin, count: spec.count };
    case "id":
      requireInteger("partition id", spec.id, 0, PARTITION_COUNT - 1);
      return { begin: spec.id, count: 1 };
    case "digest":
      return { begin: partitionId(checkDigest("partition digest", spec.digest)), count: 1 };
    case "afterDigest": {
      const begin = partitionId(checkDigest("after-digest", spec.digest));
      return { begin, count: PARTITION_COUNT - begin, digest: spec.digest };
    }
    default:
      throw invalidConfig(
        "partition filter kind",
        (spec as { kind: unknown }).kind,
        "all, range, id, digest or afterDigest",
      );
  }
}

/**
 * Checks a list of filters: each is in range, and no two cover the same partition.
 *
 * @param specs The filters.
 * @param field Name of the option, for messages.
 * @throws {AerobakError} `CONFIG_INVALID` naming the bad or overlapping filters.
 */
export function validatePartitionFilters(
  specs: readonly PartitionFilterSpec[],
  field = "partitionFilters",
): void {
  if (specs.length === 0) throw invalidConfig(field, [], "at least one partition filter");
  const ranges = specs.map((s, i) => ({ i, r: partitionRangeOf(s) }));
  ranges.sort((a, b) => a.r.begin - b.r.begin);
  for (let k = 1; k < ranges.length; k++) {
    const prev = ranges[k - 1];
    const cur = ranges[k];
    if (cur.r.begin < prev.r.begin + prev.r.count) {
      throw new AerobakError(
        "CONFIG_INVALID",
        `Invalid ${field}: ${describe(specs[prev.i])} and ${describe(specs[cur.i])} overlap`,
      );
    }
  }
}

/**
 * Shares filters out among `n` parallel readers, as backup-go does:
 *
 * - one filter covering more than one partition is cut into `n` contiguous sub-ranges
 *   (`begin_j = B + ⌊j·C/n⌋`); an after-digest stays on the first; error if C < n;
 * - k filters and n = k: one each; n < k: error (`--parallel` must be ≥ k);
 * - n > k: single partitions get one reader each, the other readers are shared among the
 *   ranges in proportion to their sizes (the last range takes the rest).
 *
 * @param specs The filters (validated by {@linkcode validatePartitionFilters}).
 * @param n Number of parallel readers (at least 1).
 * @returns One range per reader; fewer than `n` when the filters cannot use all readers.
 * @throws {AerobakError} `CONFIG_INVALID` when the filters cannot be shared out.
 *
 * @example Cut the whole namespace in four
 * ```ts
 * import { splitPartitionFilters } from "./partition_spec.ts";
 * console.log(splitPartitionFilters([{ kind: "all" }], 4).map((r) => r.begin)); // [0, 1024, 2048, 3072]
 * ```
 */
export function splitPartitionFilters(
  specs: readonly PartitionFilterSpec[],
  n: number,
): PartitionRange[] {
  requireInteger("parallel readers", n, 1);
  validatePartitionFilters(specs);
  const ranges = specs.map(partitionRangeOf);
  if (ranges.length === 1) {
    const r = ranges[0];
    if (r.count === 1 || n === 1) return [r];
    if (r.count < n) {
      throw new AerobakError(
        "CONFIG_INVALID",
        `Cannot split ${describe(specs[0])} (${r.count} partitions) among ${n} parallel readers`,
      );
    }
    return cutRange(r, n);
  }
  if (n < ranges.length) {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid parallel ${n}: expected at least the number of partition filters (${ranges.length})`,
    );
  }
  if (n === ranges.length) return ranges;
  const singles = ranges.filter((r) => r.count === 1).length;
  const multi = ranges.filter((r) => r.count > 1);
  if (multi.length === 0) return ranges;
  const spare = n - singles;
  const total = multi.reduce((sum, r) => sum + r.count, 0);
  const out: PartitionRange[] = [];
  let given = 0;
  let seen = 0;
  for (const r of ranges) {
    if (r.count === 1) {
      out.push(r);
      continue;
    }
    seen++;
    const rangesLeft = multi.length - seen;
    let workers = seen === multi.length ? spare - given : Math.floor((spare * r.count) / total);
    // Every range needs a reader, and leaves at least one for each range after it.
    workers = Math.max(1, Math.min(workers, spare - given - rangesLeft, r.count));
    given += workers;
    out.push(...cutRange(r, workers));
  }
  return out;
}

function cutRange(r: PartitionRange, n: number): PartitionRange[] {
  const out: PartitionRange[] = [];
  for (let j = 0; j < n; j++) {
    const from = Math.floor((j * r.count) / n);
    const to = Math.floor(((j + 1) * r.count) / n);
    const part: PartitionRange = j === 0 && r.digest !== undefined
      ? { begin: r.begin + from, count: to - from, digest: r.digest }
      : { begin: r.begin + from, count: to - from };
    out.push(part);
  }
  return out;
}

const RANGE_RE = /^(\d+)-(\d+)$/;
const ID_RE = /^\d+$/;

function parsePartitionEntry(entry: string): PartitionFilterSpec {
  const range = RANGE_RE.exec(entry);
  if (range) {
    const spec = { kind: "range" as const, begin: Number(range[1]), count: Number(range[2]) };
    if (
      spec.begin >= PARTITION_COUNT || spec.count < 1 || spec.begin + spec.count > PARTITION_COUNT
    ) {
      throw invalidConfig(
        "partition-list entry",
        entry,
        `begin-count with begin 0..${PARTITION_COUNT - 1}, count 1..${PARTITION_COUNT}, ` +
          `begin + count ≤ ${PARTITION_COUNT}`,
      );
    }
    return spec;
  }
  if (ID_RE.test(entry)) {
    const id = Number(entry);
    if (id >= PARTITION_COUNT) {
      throw invalidConfig(
        "partition-list entry",
        entry,
        `a partition id 0..${PARTITION_COUNT - 1}`,
      );
    }
    return { kind: "id", id };
  }
  try {
    checkDigest("partition-list entry", entry);
  } catch {
    throw invalidConfig(
      "partition-list entry",
      entry,
      "begin-count, a partition id, or the base64 of a 20-byte digest",
    );
  }
  return { kind: "digest", digest: entry };
}

function checkDigest(field: string, text: string): Uint8Array {
  const bytes = decodeBase64(field, text);
  if (bytes.length !== DIGEST_SIZE) {
    throw invalidConfig(field, text, `base64 of a ${DIGEST_SIZE}-byte digest`);
  }
  return bytes;
}

function describe(spec: PartitionFilterSpec): string {
  switch (spec.kind) {
    case "all":
      return "all partitions";
    case "range":
      return `range ${spec.begin}-${spec.count}`;
    case "id":
      return `partition ${spec.id}`;
    case "digest":
      return `digest ${spec.digest}`;
    case "afterDigest":
      return `after-digest ${spec.digest}`;
  }
}
