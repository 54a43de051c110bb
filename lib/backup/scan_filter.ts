/**
 * The filter expression every backup scan sends (backup-go §3.1, §4):
 * `AND(NE(SET_NAME, "<ERO~MRT"), userFilter?, LAST_UPDATE >= after?, LAST_UPDATE < before?, TTL == -1?)`.
 * The transaction monitor set is always excluded.
 *
 * @module
 */

import { encodeExpression, Exp } from "../aerospike/expression.ts";
import { MRT_MONITOR_SET } from "../aerospike/record.ts";

/** The parts of a backup configuration that shape the scan filter. */
export interface ScanFilterOptions {
  /** Base64 of a user filter expression, ANDed with the rest. */
  filterExpression?: string;
  /** Only records last updated at or after this Unix time in nanoseconds. */
  modAfter?: bigint;
  /** Only records last updated before this Unix time in nanoseconds. */
  modBefore?: bigint;
  /** Only records that never expire. */
  noTtlOnly?: boolean;
}

/**
 * Builds the wire bytes of a backup's scan filter.
 *
 * @param options User filter, time bounds, no-TTL flag.
 * @returns The encoded expression (field 43).
 *
 * @example Only the MRT-set exclusion
 * ```ts
 * import { backupScanFilter } from "./scan_filter.ts";
 * console.log(backupScanFilter({}).length > 0); // true
 * ```
 */
export function backupScanFilter(options: ScanFilterOptions): Uint8Array {
  const parts = [Exp.ne(Exp.setName(), Exp.str(MRT_MONITOR_SET))];
  if (options.filterExpression) parts.push(Exp.fromBase64(options.filterExpression));
  if (options.modAfter !== undefined) {
    parts.push(Exp.ge(Exp.lastUpdate(), Exp.int(options.modAfter)));
  }
  if (options.modBefore !== undefined) {
    parts.push(Exp.lt(Exp.lastUpdate(), Exp.int(options.modBefore)));
  }
  if (options.noTtlOnly) parts.push(Exp.eq(Exp.ttl(), Exp.int(-1n)));
  return encodeExpression(parts.length === 1 ? parts[0] : Exp.and(...parts));
}
