/**
 * What the CLIs print: log lines (text like Go's slog, or JSON with `--log-json`), the live
 * progress (a bar on a terminal, a line every few seconds otherwise) and the final reports
 * with backup-go's labels (`Records Read`, `sIndex Read`, …).
 *
 * @module
 */

import type { BackupStats } from "../lib/backup/stats.ts";
import type { RestoreStats } from "../lib/restore/stats.ts";
import type { VerifyClass, VerifyStats } from "../lib/restore/verify.ts";

/** A text sink: stdout or stderr. */
export interface TextSink {
  /** Writes text as is. */
  write(text: string): void;
  /** Whether the sink is a terminal (live progress bar rather than lines). */
  isTerminal?(): boolean;
}

/** Log levels, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** A logger writing one line per message to stderr. */
export class Logger {
  #sink: TextSink;
  #json: boolean;
  #min: number;
  #now: () => Date;

  /**
   * Creates a logger.
   *
   * @param sink Where lines go (stderr).
   * @param options `json` for JSON lines; `level` the least severe level shown; `now` the clock.
   */
  constructor(sink: TextSink, options: { json: boolean; level: LogLevel; now?: () => Date }) {
    this.#sink = sink;
    this.#json = options.json;
    this.#min = LEVELS.indexOf(options.level);
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether lines are JSON. */
  get json(): boolean {
    return this.#json;
  }

  /**
   * Writes a message when its level is shown.
   *
   * @param level Severity.
   * @param msg The message.
   * @param attrs Key-value pairs appended to the line.
   */
  log(level: LogLevel, msg: string, attrs: Record<string, unknown> = {}): void {
    if (LEVELS.indexOf(level) < this.#min) return;
    this.emit(level, msg, attrs);
  }

  /**
   * Writes a message whatever the level filter: reports and progress are output the user
   * asked for, not diagnostics.
   *
   * @param level Severity shown in the line.
   * @param msg The message.
   * @param attrs Key-value pairs appended to the line.
   */
  emit(level: LogLevel, msg: string, attrs: Record<string, unknown> = {}): void {
    const time = this.#now().toISOString();
    if (this.#json) {
      this.#sink.write(JSON.stringify({ time, level: level.toUpperCase(), msg, ...attrs }) + "\n");
      return;
    }
    let line = `time=${time} level=${level.toUpperCase()} msg=${quote(msg)}`;
    for (const [k, v] of Object.entries(attrs)) line += ` ${k}=${quote(String(v))}`;
    this.#sink.write(line + "\n");
  }

  /** Logs at debug level. */
  debug(msg: string, attrs?: Record<string, unknown>): void {
    this.log("debug", msg, attrs);
  }

  /** Logs at info level. */
  info(msg: string, attrs?: Record<string, unknown>): void {
    this.log("info", msg, attrs);
  }

  /** Logs at warn level. */
  warn(msg: string, attrs?: Record<string, unknown>): void {
    this.log("warn", msg, attrs);
  }

  /** Logs at error level. */
  error(msg: string, attrs?: Record<string, unknown>): void {
    this.log("error", msg, attrs);
  }
}

function quote(s: string): string {
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/**
 * Formats a duration as Go's `time.Duration.String()` does (`1.5s`, `2m3.25s`, `1h0m0s`).
 *
 * @param ms Milliseconds.
 * @returns The text.
 */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${trim(ms)}ms`;
  const totalS = ms / 1000;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS - h * 3600 - m * 60;
  if (h > 0) return `${h}h${m}m${trim(s)}s`;
  if (m > 0) return `${m}m${trim(s)}s`;
  return `${trim(s)}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}

/**
 * Formats a date as Go's `time.RFC1123` in local time (`Mon, 02 Jan 2006 15:04:05 MST`).
 *
 * @param d The date.
 * @returns The text.
 */
export function formatRfc1123(d: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const p = (n: number) => String(n).padStart(2, "0");
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(d).find((x) => x.type === "timeZoneName")?.value ?? "UTC";
  return `${days[d.getDay()]}, ${p(d.getDate())} ${months[d.getMonth()]} ${d.getFullYear()} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone}`;
}

/** One line of a report: a label and its value, or a blank line. */
export type ReportLine = [label: string, value: string | number] | null;

/**
 * Formats a report as backup-go prints it: a blank line, the header, dashes, then
 * `Label:<padding>value` lines with values starting at column 23.
 *
 * @param header `Backup report`, `Restore report`, …
 * @param lines The lines.
 * @returns The text, ending with a newline.
 */
export function formatReport(header: string, lines: readonly ReportLine[]): string {
  const out = ["", header, "-".repeat(header.length)];
  for (const line of lines) {
    if (line === null) out.push("");
    else out.push(`${line[0]}:${" ".repeat(Math.max(1, 21 - line[0].length))}${line[1]}`);
  }
  return out.join("\n") + "\n";
}

/** When a job started and how long it ran, as its statistics say. */
export type ReportTiming = Pick<BackupStats, "startTime" | "durationMs">;

/**
 * Combines the statistics of two jobs of one run into one report (backup-go
 * `SumBackupStats`/`SumRestoreStats`): every counter is added; the time is from the earlier
 * start to the later end.
 *
 * @param first One job's statistics (fields only it has are kept).
 * @param second The other job's statistics.
 * @returns A new object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sumStats } from "./_report.ts";
 * const a = { startTime: new Date(1000), durationMs: 500, recordsRead: 3 };
 * const b = { startTime: new Date(1200), durationMs: 800, recordsRead: 4 };
 * assert.deepEqual(sumStats(a, b), { startTime: new Date(1000), durationMs: 1000, recordsRead: 7 });
 * ```
 */
export function sumStats<S extends ReportTiming>(first: S, second: S): S {
  const out: S = { ...first };
  for (const key of Object.keys(second) as (keyof S)[]) {
    const a = first[key];
    const b = second[key];
    if (typeof a === "number" && typeof b === "number") out[key] = (a + b) as S[keyof S];
    else if (isCounts(a) && isCounts(b)) out[key] = sumCounts(a, b) as S[keyof S];
  }
  const start = Math.min(first.startTime.getTime(), second.startTime.getTime());
  const end = Math.max(
    first.startTime.getTime() + first.durationMs,
    second.startTime.getTime() + second.durationMs,
  );
  out.startTime = new Date(start);
  out.durationMs = end - start;
  return out;
}

/** A plain object of counts (retries by cause, throttle waits), nested or not. */
type Counts = { [key: string]: number | Counts };

function isCounts(v: unknown): v is Counts {
  return typeof v === "object" && v !== null && !(v instanceof Date) && !Array.isArray(v);
}

/** Adds counts key by key (a key only one side has keeps its count). */
function sumCounts(a: Counts, b: Counts): Counts {
  const out: Counts = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const mine = out[k];
    if (typeof v === "number") out[k] = (typeof mine === "number" ? mine : 0) + v;
    else out[k] = isCounts(mine) ? sumCounts(mine, v) : { ...v };
  }
  return out;
}

/** What every report counts first: records, secondary indexes and UDFs read. */
type ReadCounts = Pick<BackupStats, "recordsRead" | "sindexesRead" | "udfsRead">;

/** The JSON attributes every report starts with (backup-go's keys). */
function readAttrs(stats: ReadCounts, timing: ReportTiming): Record<string, unknown> {
  return {
    start_time: timing.startTime.toISOString(),
    duration: Math.round(timing.durationMs * 1e6),
    records_read: stats.recordsRead,
    s_index_read: stats.sindexesRead,
    udf_read: stats.udfsRead,
  };
}

/** The text lines every report starts with (backup-go's labels). */
function readLines(stats: ReadCounts, timing: ReportTiming): ReportLine[] {
  return [
    ["Start Time", formatRfc1123(timing.startTime)],
    ["Duration", formatGoDuration(timing.durationMs)],
    null,
    ["Records Read", stats.recordsRead],
    ["sIndex Read", stats.sindexesRead],
    ["UDFs Read", stats.udfsRead],
    null,
  ];
}

/** What a backup report shows (a subset of the job's stats). */
export type BackupReportStats = Pick<
  BackupStats,
  | "startTime"
  | "durationMs"
  | "recordsRead"
  | "sindexesRead"
  | "udfsRead"
  | "bytesWritten"
  | "filesWritten"
>;

/**
 * Writes the final backup report: text to stderr, or one JSON log line.
 *
 * @param stats The final statistics.
 * @param log The logger (its JSON mode decides the form).
 * @param stderr Where the text report goes.
 * @param options `xdr`: an XDR backup, whose JSON report counts `records_received` (backup-go's
 * key) instead of `records_read`.
 */
export function reportBackup(
  stats: BackupReportStats,
  log: Logger,
  stderr: TextSink,
  options: { xdr?: boolean } = {},
): void {
  if (log.json) {
    const { records_read, ...rest } = readAttrs(stats, stats);
    log.emit("info", "backup report", {
      ...(options.xdr ? { records_received: records_read, ...rest } : readAttrs(stats, stats)),
      bytes_written: stats.bytesWritten,
      files_written: stats.filesWritten,
    });
    return;
  }
  stderr.write(formatReport("Backup report", [
    ...readLines(stats, stats),
    ["Bytes Written", stats.bytesWritten],
    ["Files Written", stats.filesWritten],
  ]));
}

/**
 * What a restore report shows (a subset of the job's stats); `recordsFailed` may be left
 * out, as when the restore succeeded.
 */
export type RestoreReportStats =
  & Pick<
    RestoreStats,
    | "recordsRead"
    | "sindexesRead"
    | "udfsRead"
    | "recordsExpired"
    | "recordsSkipped"
    | "recordsIgnored"
    | "recordsFresher"
    | "recordsExisted"
    | "recordsInserted"
    | "errorsInDoubt"
    | "bytesRead"
  >
  & Partial<Pick<RestoreStats, "recordsFailed" | "retries">>;

/**
 * Writes the final restore (or validation) report: text to stderr, or one JSON log line.
 *
 * @param stats The final statistics.
 * @param timing When the job started and how long it ran.
 * @param validation Whether it was `--validate` (no write counters).
 * @param log The logger.
 * @param stderr Where the text report goes.
 */
export function reportRestore(
  stats: RestoreReportStats,
  timing: ReportTiming,
  validation: boolean,
  log: Logger,
  stderr: TextSink,
): void {
  const header = validation ? "Validation report" : "Restore report";
  if (log.json) {
    const attrs = readAttrs(stats, timing);
    if (!validation) {
      Object.assign(attrs, {
        expired_records: stats.recordsExpired,
        skipped_records: stats.recordsSkipped,
        ignored_records: stats.recordsIgnored,
        fresher_records: stats.recordsFresher,
        existed_records: stats.recordsExisted,
        inserted_records: stats.recordsInserted,
        in_doubt_errors: stats.errorsInDoubt,
        // Not a backup-go key: writes tried again (the C asrestore reports them too).
        retries: stats.retries ?? 0,
      });
      // Not a backup-go key: shown only when a restore failed on records.
      if (stats.recordsFailed) attrs.failed_records = stats.recordsFailed;
    }
    attrs.total_bytes_read = stats.bytesRead;
    log.emit("info", header.toLowerCase(), attrs);
    return;
  }
  const lines = readLines(stats, timing);
  if (!validation) {
    lines.push(
      ["Expired Records", stats.recordsExpired],
      ["Skipped Records", stats.recordsSkipped],
      ["Ignored Records", stats.recordsIgnored],
      ["Fresher Records", stats.recordsFresher],
      ["Existed Records", stats.recordsExisted],
      null,
      ["Inserted Records", stats.recordsInserted],
      ["In Doubt Errors", stats.errorsInDoubt],
      ["Retries", stats.retries ?? 0],
    );
    if (stats.recordsFailed) lines.push(["Failed Records", stats.recordsFailed]);
  }
  if (stats.bytesRead > 0) lines.push(["Total Bytes Read", stats.bytesRead]);
  stderr.write(formatReport(header, lines));
}

/** What a verify report shows (a subset of the job's stats). */
export type VerifyReportStats = Pick<
  VerifyStats,
  | "recordsRead"
  | "sindexesRead"
  | "udfsRead"
  | "recordsExpired"
  | "recordsSkipped"
  | "recordsIdentical"
  | "recordsChanged"
  | "recordsDifferent"
  | "recordsMissing"
  | "recordsExtra"
  | "recordsNew"
  | "samples"
  | "bytesRead"
>;

const VERIFY_CLASSES: readonly [VerifyClass, string, keyof VerifyReportStats][] = [
  ["identical", "Identical", "recordsIdentical"],
  ["changed", "Changed", "recordsChanged"],
  ["different", "Different", "recordsDifferent"],
  ["missing", "Missing", "recordsMissing"],
  ["extra", "Extra", "recordsExtra"],
  ["new", "New", "recordsNew"],
];

/**
 * Writes the final verify report: the counts of each class and up to 10 digests of each
 * (text to stderr, or one JSON log line).
 *
 * @param stats The final statistics.
 * @param timing When the job started and how long it ran.
 * @param extra Whether the cluster was scanned for extra records.
 * @param log The logger.
 * @param stderr Where the text report goes.
 */
export function reportVerify(
  stats: VerifyReportStats,
  timing: ReportTiming,
  extra: boolean,
  log: Logger,
  stderr: TextSink,
): void {
  const classes = VERIFY_CLASSES.filter(([c]) => extra || (c !== "extra" && c !== "new"));
  if (log.json) {
    const attrs = readAttrs(stats, timing);
    attrs.expired_records = stats.recordsExpired;
    attrs.skipped_records = stats.recordsSkipped;
    const samples: Record<string, string[]> = {};
    for (const [c, , key] of classes) {
      attrs[`${c}_records`] = stats[key];
      if (c !== "identical") samples[c] = stats.samples[c];
    }
    attrs.digests = samples;
    attrs.total_bytes_read = stats.bytesRead;
    log.emit("info", "verify report", attrs);
    return;
  }
  const lines = readLines(stats, timing);
  lines.push(["Expired Records", stats.recordsExpired], ["Skipped Records", stats.recordsSkipped]);
  lines.push(null);
  for (const [, label, key] of classes) lines.push([`${label} Records`, stats[key] as number]);
  let heading = false;
  for (const [c, label] of classes) {
    if (c === "identical" || stats.samples[c].length === 0) continue;
    if (!heading) lines.push(null);
    heading = true;
    lines.push([`${label} Digests`, stats.samples[c].join(" ")]);
  }
  if (stats.bytesRead > 0) lines.push(null, ["Total Bytes Read", stats.bytesRead]);
  stderr.write(formatReport("Verify report", lines));
}

/** A snapshot the progress display shows. */
export interface ProgressSnapshot {
  /** Records so far. */
  records: number;
  /** Bytes so far. */
  bytes: number;
  /** Expected records in all, when known. */
  total?: number;
  /** Records per second now. */
  recordsPerSecond: number;
  /** Milliseconds since the start. */
  elapsedMs: number;
}

/**
 * Formats one progress line: records (and percent of the estimate), bytes, rate and ETA.
 * On a terminal the line starts with a bar and `\r` so it redraws in place.
 *
 * @param p The snapshot.
 * @param terminal Whether to draw a bar that redraws in place.
 * @returns The line (with `\r` or `\n`).
 */
export function formatProgress(p: ProgressSnapshot, terminal: boolean): string {
  const parts: string[] = [];
  const fraction = p.total && p.total > 0 ? Math.min(1, p.records / p.total) : undefined;
  let text = `${p.records} records`;
  if (fraction !== undefined) text += ` of ~${p.total} (${Math.floor(fraction * 100)}%)`;
  parts.push(text, formatBytes(p.bytes), `${Math.round(p.recordsPerSecond)} records/s`);
  if (fraction !== undefined && p.recordsPerSecond > 0 && p.total! > p.records) {
    parts.push(`ETA ${formatClock(((p.total! - p.records) / p.recordsPerSecond) * 1000)}`);
  }
  parts.push(`elapsed ${formatClock(p.elapsedMs)}`);
  const line = parts.join(", ");
  if (!terminal) return line + "\n";
  const width = 30;
  const filled = fraction === undefined ? 0 : Math.round(fraction * width);
  const bar = fraction === undefined ? "" : `[${"#".repeat(filled)}${".".repeat(width - filled)}] `;
  // Clear to the end of the line: the new text may be shorter than the old.
  return `\r${bar}${line}\x1b[K`;
}

/**
 * Formats a byte count with a binary unit (`12.3 MiB`).
 *
 * @param n Bytes.
 * @returns The text.
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * Formats milliseconds as `HH:MM:SS`.
 *
 * @param ms Milliseconds.
 * @returns The text.
 */
export function formatClock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}
