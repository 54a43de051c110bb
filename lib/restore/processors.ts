/**
 * The restore processors (backup-go §9): counting, type, set and bin filters, namespace
 * change, expiration and the records-per-second limit. A processor drops a token by
 * returning `null`; every dropped record is counted.
 *
 * @module
 */

import { CITRUSLEAF_EPOCH_SECONDS } from "../aerospike/record.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import type { Processor } from "../pipeline/pipe.ts";
import type { TokenBucket } from "../pipeline/rate_limiter.ts";
import type { RestoreNamespaceConfig } from "./config.ts";
import type { RestoreCounters } from "./stats.ts";

/**
 * The TTL to write for a record: −1 when it never expires, else the seconds left plus
 * `extraTtl`; 0 or less means it has expired.
 *
 * @param record The record (void time in Citrusleaf-epoch seconds).
 * @param extraTtl Seconds added to expirable records.
 * @param nowUnixSeconds Current Unix time in seconds.
 * @returns The TTL.
 *
 * @example
 * ```ts
 * import { restoreTtl } from "./processors.ts";
 * const r = { namespace: "test", set: "", digest: new Uint8Array(20), generation: 1, voidTime: 0, bins: [] };
 * console.log(restoreTtl(r, 0, 1_700_000_000)); // -1
 * ```
 */
export function restoreTtl(
  record: AerospikeRecord,
  extraTtl: number,
  nowUnixSeconds: number,
): number {
  if (record.voidTime === 0) return -1;
  return record.voidTime + extraTtl - (nowUnixSeconds - CITRUSLEAF_EPOCH_SECONDS);
}

/** Settings of {@linkcode restoreProcessors}. */
export interface RestoreProcessorOptions {
  /** Drop records. */
  noRecords: boolean;
  /** Drop secondary indexes. */
  noIndexes: boolean;
  /** Drop UDFs. */
  noUdfs: boolean;
  /** Keep only records of these sets (empty = all). */
  setList: readonly string[];
  /** Keep only these bins (empty = all). */
  binList: readonly string[];
  /** Restore into another namespace. */
  namespace?: Readonly<RestoreNamespaceConfig>;
  /** Seconds added to expirable records. */
  extraTtl: number;
  /** Records-per-second limit. */
  limiter?: TokenBucket;
  /** Current Unix time in seconds. */
  nowSeconds: () => number;
}

/**
 * Builds the processor chain in backup-go's order.
 *
 * @param counters Where counts go.
 * @param options Filters and settings.
 * @returns The processors.
 */
export function restoreProcessors(
  counters: RestoreCounters,
  options: RestoreProcessorOptions,
): Processor<AsbToken>[] {
  const sets = options.setList.length > 0 ? new Set(options.setList) : undefined;
  const bins = options.binList.length > 0 ? new Set(options.binList) : undefined;
  const ns = options.namespace;
  const out: Processor<AsbToken>[] = [{
    process(token) {
      if (token.kind === "record") counters.recordsRead++;
      else if (token.kind === "sindex") counters.sindexesRead++;
      else counters.udfsRead++;
      return token;
    },
  }, {
    // Type filter, set filter, bin filter and namespace change in one pass: they are
    // cheap checks and one closure per record is enough.
    process(token) {
      if (token.kind === "sindex") {
        if (options.noIndexes) return null;
        if (ns && token.sindex.namespace === ns.source) token.sindex.namespace = ns.destination;
        return token;
      }
      if (token.kind === "udf") return options.noUdfs ? null : token;
      const r = token.record;
      if (options.noRecords || (sets && !sets.has(r.set))) {
        counters.recordsSkipped++;
        return null;
      }
      if (bins) {
        r.bins = r.bins.filter((b) => bins.has(b.name));
      }
      if (r.bins.length === 0) {
        counters.recordsSkipped++;
        return null;
      }
      if (ns) {
        if (r.namespace !== ns.source) {
          throw new AerobakError(
            "NAMESPACE_MISMATCH",
            `Cannot restore a record of namespace ${r.namespace}: the namespace mapping expects ` +
              `source namespace ${ns.source}`,
            { record: recordRef(r) },
          );
        }
        r.namespace = ns.destination;
      }
      if (r.voidTime !== 0 && restoreTtl(r, options.extraTtl, options.nowSeconds()) <= 0) {
        counters.recordsExpired++;
        return null;
      }
      return token;
    },
  }];
  const limiter = options.limiter;
  if (limiter) {
    out.push({
      process(token) {
        if (token.kind !== "record") return token;
        const wait = limiter.take();
        return wait ? wait.then(() => token) : token;
      },
    });
  }
  return out;
}

/**
 * Names a record in errors.
 *
 * @param r The record.
 * @returns Namespace, set and base64 digest.
 */
export function recordRef(r: AerospikeRecord): { namespace: string; set: string; digest: string } {
  let s = "";
  for (let i = 0; i < r.digest.length; i++) s += String.fromCharCode(r.digest[i]);
  return { namespace: r.namespace, set: r.set, digest: btoa(s) };
}
