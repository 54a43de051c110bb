/**
 * The time syntax of `--modified-after` / `--modified-before`, shared by backup-go and the C
 * asbackup: `YYYY-MM-DD_HH:MM:SS`, `YYYY-MM-DD` (midnight) or `HH:MM:SS` (today), all in the
 * **local** time zone, converted to Unix nanoseconds (the unit of the LAST_UPDATE expression).
 *
 * @module
 */

import { invalidConfig } from "../_config_check.ts";

/** Options of {@linkcode parseLocalTime}. */
export interface ParseLocalTimeOptions {
  /**
   * The current time, whose local date completes the `HH:MM:SS` form.
   * @default {new Date()}
   */
  now?: Date;
  /**
   * Name of the option, for messages.
   * @default {"time"}
   */
  field?: string;
}

const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})_(\d{2}):(\d{2}):(\d{2})$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2}):(\d{2})$/;
const EXPECTED = "YYYY-MM-DD_HH:MM:SS, YYYY-MM-DD or HH:MM:SS (local time)";

/**
 * Parses a local date and time into Unix nanoseconds.
 *
 * @param text `YYYY-MM-DD_HH:MM:SS`, `YYYY-MM-DD` or `HH:MM:SS`.
 * @param options The clock and the option name.
 * @returns Nanoseconds since the Unix epoch, as a bigint.
 * @throws {AerobakError} `CONFIG_INVALID` when the text has another form or names a date
 * or time that does not exist (month 13, 30 February, 24:00:00).
 *
 * @example A date means local midnight
 * ```ts
 * import { parseLocalTime } from "./config_time.ts";
 * const ns = parseLocalTime("2024-03-01");
 * console.log(ns === BigInt(new Date(2024, 2, 1).getTime()) * 1_000_000n); // true
 * ```
 */
export function parseLocalTime(text: string, options: ParseLocalTimeOptions = {}): bigint {
  const field = options.field ?? "time";
  let y: number, mo: number, d: number, h = 0, mi = 0, s = 0;
  let m = DATE_TIME_RE.exec(text);
  if (m) {
    [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  } else if ((m = DATE_RE.exec(text))) {
    [y, mo, d] = m.slice(1).map(Number);
  } else if ((m = TIME_RE.exec(text))) {
    const now = options.now ?? new Date();
    y = now.getFullYear();
    mo = now.getMonth() + 1;
    d = now.getDate();
    [h, mi, s] = m.slice(1).map(Number);
  } else {
    throw invalidConfig(field, text, EXPECTED);
  }
  const date = new Date(y, mo - 1, d, h, mi, s);
  // Date rolls 30 February over into March; a round trip finds such impossible fields.
  const exists = date.getFullYear() === y && date.getMonth() === mo - 1 &&
    date.getDate() === d && h < 24 && mi < 60 && s < 60;
  if (!exists) throw invalidConfig(field, text, `an existing date and time, ${EXPECTED}`);
  return BigInt(date.getTime()) * 1_000_000n;
}
