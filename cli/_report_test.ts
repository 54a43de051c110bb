import assert from "node:assert/strict";
import {
  formatBytes,
  formatClock,
  formatGoDuration,
  formatProgress,
  formatReport,
  Logger,
  reportBackup,
  reportRestore,
} from "./_report.ts";
import { captureSink as capture } from "./_test_io.ts";

const NOW = () => new Date("2024-05-06T07:08:09.000Z");

Deno.test("formatGoDuration() matches Go's Duration.String()", () => {
  assert.equal(formatGoDuration(0), "0s");
  assert.equal(formatGoDuration(1500), "1.5s");
  assert.equal(formatGoDuration(123_250), "2m3.25s");
  assert.equal(formatGoDuration(3_600_000), "1h0m0s");
  assert.equal(formatGoDuration(12.5), "12.5ms");
});

Deno.test("formatReport() aligns values at backup-go's column", () => {
  assert.equal(
    formatReport("Backup report", [["Records Read", 10], null, ["Files Written", 2]]),
    "\nBackup report\n-------------\nRecords Read:         10\n\nFiles Written:        2\n",
  );
});

Deno.test("reportBackup() prints backup-go's labels or one JSON line", () => {
  const stats = {
    startTime: new Date(2024, 0, 2, 3, 4, 5),
    durationMs: 2500,
    recordsRead: 1000,
    sindexesRead: 2,
    udfsRead: 1,
    bytesWritten: 4096,
    filesWritten: 3,
  };
  const err = capture();
  reportBackup(stats, new Logger(err, { json: false, level: "warn", now: NOW }), err);
  assert.match(
    err.text,
    /^\nBackup report\n-------------\nStart Time: +Tue, 02 Jan 2024 03:04:05 \S+\n/,
  );
  for (
    const line of [
      "Duration:             2.5s",
      "Records Read:         1000",
      "sIndex Read:          2",
      "UDFs Read:            1",
      "Bytes Written:        4096",
      "Files Written:        3",
    ]
  ) {
    assert.ok(err.text.includes(line + "\n"), line);
  }
  const json = capture();
  reportBackup(stats, new Logger(json, { json: true, level: "warn", now: NOW }), json);
  const obj = JSON.parse(json.text);
  assert.equal(json.text.trim().split("\n").length, 1);
  assert.equal(obj.msg, "backup report");
  assert.equal(obj.level, "INFO");
  assert.equal(obj.records_read, 1000);
  assert.equal(obj.s_index_read, 2);
  assert.equal(obj.udf_read, 1);
  assert.equal(obj.bytes_written, 4096);
  assert.equal(obj.files_written, 3);
  assert.equal(obj.duration, 2_500_000_000);
});

Deno.test("reportRestore() prints the restore counters, fewer when validating", () => {
  const stats = {
    recordsRead: 10,
    sindexesRead: 1,
    udfsRead: 0,
    recordsExpired: 1,
    recordsSkipped: 2,
    recordsIgnored: 3,
    recordsFresher: 4,
    recordsExisted: 5,
    recordsInserted: 6,
    errorsInDoubt: 7,
    bytesRead: 999,
  };
  const timing = { startTime: new Date(), durationMs: 10 };
  const err = capture();
  const log = new Logger(err, { json: false, level: "warn" });
  reportRestore(stats, timing, false, log, err);
  for (
    const line of [
      "Expired Records:      1",
      "Skipped Records:      2",
      "Ignored Records:      3",
      "Fresher Records:      4",
      "Existed Records:      5",
      "Inserted Records:     6",
      "In Doubt Errors:      7",
      "Total Bytes Read:     999",
    ]
  ) {
    assert.ok(err.text.includes(line + "\n"), line);
  }
  const v = capture();
  reportRestore(stats, timing, true, new Logger(v, { json: false, level: "warn" }), v);
  assert.match(v.text, /Validation report/);
  assert.ok(!v.text.includes("Inserted Records"));
  const j = capture();
  reportRestore(stats, timing, false, new Logger(j, { json: true, level: "error" }), j);
  const obj = JSON.parse(j.text);
  assert.equal(obj.msg, "restore report");
  assert.equal(obj.inserted_records, 6);
  assert.equal(obj.in_doubt_errors, 7);
  assert.equal(obj.total_bytes_read, 999);
});

Deno.test("reportRestore() shows failed records only when there are some", () => {
  const stats = {
    recordsRead: 3,
    sindexesRead: 0,
    udfsRead: 0,
    recordsExpired: 0,
    recordsSkipped: 0,
    recordsIgnored: 0,
    recordsFresher: 0,
    recordsExisted: 0,
    recordsInserted: 1,
    recordsFailed: 2,
    errorsInDoubt: 0,
    bytesRead: 10,
  };
  const timing = { startTime: new Date(), durationMs: 10 };
  const t = capture();
  reportRestore(stats, timing, false, new Logger(t, { json: false, level: "warn" }), t);
  assert.ok(t.text.includes("Failed Records:       2\n"), t.text);
  const j = capture();
  reportRestore(stats, timing, false, new Logger(j, { json: true, level: "error" }), j);
  assert.equal(JSON.parse(j.text).failed_records, 2);
  const none = capture();
  const ok = { ...stats, recordsFailed: 0 };
  reportRestore(ok, timing, false, new Logger(none, { json: true, level: "error" }), none);
  assert.equal("failed_records" in JSON.parse(none.text), false);
});

Deno.test("Logger writes slog-like text or JSON and filters by level", () => {
  const out = capture();
  const log = new Logger(out, { json: false, level: "info", now: NOW });
  log.debug("hidden");
  log.info("backup started", { namespace: "test", note: "two words" });
  assert.equal(
    out.text,
    'time=2024-05-06T07:08:09.000Z level=INFO msg="backup started" namespace=test note="two words"\n',
  );
  const j = capture();
  new Logger(j, { json: true, level: "error", now: NOW }).error("failed", { error: "boom" });
  assert.deepEqual(JSON.parse(j.text), {
    time: "2024-05-06T07:08:09.000Z",
    level: "ERROR",
    msg: "failed",
    error: "boom",
  });
});

Deno.test("formatProgress() shows records, bytes, rate and ETA as a line or a bar", () => {
  const p = {
    records: 250,
    bytes: 2 * 1024 * 1024,
    total: 1000,
    recordsPerSecond: 50,
    elapsedMs: 5000,
  };
  assert.equal(
    formatProgress(p, false),
    "250 records of ~1000 (25%), 2.0 MiB, 50 records/s, ETA 00:00:15, elapsed 00:00:05\n",
  );
  const bar = formatProgress(p, true);
  assert.ok(bar.startsWith("\r[" + "#".repeat(8) + ".".repeat(22) + "] 250 records"));
  assert.ok(bar.endsWith("\x1b[K"));
  assert.equal(
    formatProgress({ records: 3, bytes: 10, recordsPerSecond: 0, elapsedMs: 0 }, false),
    "3 records, 10 B, 0 records/s, elapsed 00:00:00\n",
  );
});

Deno.test("formatBytes() and formatClock() pick readable units", () => {
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatClock(3_723_000), "01:02:03");
});
