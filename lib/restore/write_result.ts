/**
 * How restore classifies a write's result code (wire spec §9, backup-go
 * `restore_writer.go`): every record ends in exactly one category.
 *
 * @module
 */

import { isRecordSpecific, ResultCode } from "../aerospike/result_code.ts";

/** What becomes of a record after a write attempt. */
export type WriteOutcome = "inserted" | "fresher" | "existed" | "ignored" | "retry" | "fail";

/** Options of {@linkcode classifyWriteResult}. */
export interface ClassifyOptions {
  /** `--ignore-record-error`: skip records refused for a record-specific reason. */
  ignoreRecordError: boolean;
  /** Whether the code came from a batch write (record-specific codes are then always ignored). */
  batch: boolean;
}

/**
 * Classifies a result code.
 *
 * - 0 → inserted; 3 (generation) → fresher; 5 (key exists) → existed;
 * - record-specific codes (13, 19, 21, 10, 22, 12, 17) → ignored in batches or with
 *   `ignoreRecordError`, else fail;
 * - 2 (key not found) → ignored with `ignoreRecordError`, else retried;
 * - anything else → retried (then fails once the retry policy is exhausted).
 *
 * @param code Result code of the record's write.
 * @param options Ignore flag and batch mode.
 * @returns The outcome.
 *
 * @example
 * ```ts
 * import { classifyWriteResult } from "./write_result.ts";
 * console.log(classifyWriteResult(3, { ignoreRecordError: false, batch: false })); // "fresher"
 * console.log(classifyWriteResult(13, { ignoreRecordError: false, batch: true })); // "ignored"
 * ```
 */
export function classifyWriteResult(code: number, options: ClassifyOptions): WriteOutcome {
  switch (code) {
    case ResultCode.OK:
      return "inserted";
    case ResultCode.GENERATION_ERROR:
      return "fresher";
    case ResultCode.KEY_EXISTS_ERROR:
      return "existed";
    case ResultCode.KEY_NOT_FOUND:
      return options.ignoreRecordError ? "ignored" : "retry";
  }
  if (isRecordSpecific(code)) {
    return options.batch || options.ignoreRecordError ? "ignored" : "fail";
  }
  return "retry";
}
