import assert from "node:assert/strict";
import { parseLocalTime } from "./config_time.ts";
import { AerobakError } from "../errors.ts";

function localNs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): bigint {
  return BigInt(new Date(y, mo - 1, d, h, mi, s).getTime()) * 1_000_000n;
}

function configError(message: RegExp) {
  return (e: unknown) =>
    e instanceof AerobakError && e.code === "CONFIG_INVALID" && message.test(e.message);
}

Deno.test("parseLocalTime() reads YYYY-MM-DD_HH:MM:SS as local time in nanoseconds", () => {
  assert.equal(parseLocalTime("2024-02-29_13:45:07"), localNs(2024, 2, 29, 13, 45, 7));
  assert.equal(parseLocalTime("1999-12-31_23:59:59"), localNs(1999, 12, 31, 23, 59, 59));
});

Deno.test("parseLocalTime() reads a date as local midnight", () => {
  assert.equal(parseLocalTime("2023-07-04"), localNs(2023, 7, 4));
});

Deno.test("parseLocalTime() completes HH:MM:SS with today's local date", () => {
  const now = new Date(2022, 10, 5, 18, 0, 0);
  assert.equal(parseLocalTime("06:30:00", { now }), localNs(2022, 11, 5, 6, 30, 0));
});

Deno.test("parseLocalTime() rejects other forms and impossible dates", () => {
  for (const bad of ["2024-1-01", "2024-01-01 10:00:00", "10:00", "yesterday", ""]) {
    assert.throws(
      () => parseLocalTime(bad, { field: "modified-after" }),
      configError(/modified-after/),
    );
  }
  for (
    const bad of [
      "2023-02-29",
      "2024-13-01",
      "2024-04-31_00:00:00",
      "24:00:00",
      "12:60:00",
      "12:00:60",
    ]
  ) {
    assert.throws(() => parseLocalTime(bad), configError(/an existing date/));
  }
});
