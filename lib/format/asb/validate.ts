/**
 * Whole-file ASB validation for `asrestore --validate`.
 *
 * @module
 */

import type { AsbVersion } from "./encoder.ts";
import { type AsbDecodeOptions, AsbDecoder } from "./decoder.ts";

/** What {@linkcode validateAsb} found in a valid file. */
export interface AsbValidation {
  /** The file name given in the options, or `"<input>"`. */
  file: string;
  /** The `Version` line's value. */
  version: AsbVersion;
  /** The `# namespace` value, when present. */
  namespace?: string;
  /** Whether the file has `# first-file`. */
  firstFile: boolean;
  /** Number of record blocks. */
  records: number;
  /** Records with `+ b 0` (restore skips them). */
  recordsWithoutBins: number;
  /** Total bin lines. */
  bins: number;
  /** Number of `* i` and `* e` lines. */
  sindexes: number;
  /** Number of `* u` lines. */
  udfs: number;
  /** Size of the (decompressed, decrypted) file in bytes. */
  bytes: number;
  /** Number of lines (LF bytes). */
  lines: number;
}

/**
 * Reads a whole ASB file and checks every line, without keeping any record.
 *
 * @example Validate a file
 * ```ts
 * import { validateAsb } from "./validate.ts";
 * const text = "Version 3.1\n# namespace test\n";
 * const v = await validateAsb(ReadableStream.from([new TextEncoder().encode(text)]), { file: "a.asb" });
 * console.log(v.records); // 0
 * ```
 *
 * @param stream The file's bytes (already decrypted and decompressed).
 * @param options File name for error locations, value length cap.
 * @returns Counts of what the file holds.
 * @throws {AerobakError} code `"ASB_SYNTAX"` at the first malformed line, with `location`.
 */
export async function validateAsb(
  stream: ReadableStream<Uint8Array>,
  options: AsbDecodeOptions = {},
): Promise<AsbValidation> {
  const decoder = new AsbDecoder(stream, options);
  let records = 0, recordsWithoutBins = 0, bins = 0, sindexes = 0, udfs = 0;
  for await (const token of decoder) {
    if (token.kind === "record") {
      records++;
      const n = token.record.bins.length;
      bins += n;
      if (n === 0) recordsWithoutBins++;
    } else if (token.kind === "sindex") {
      sindexes++;
    } else {
      udfs++;
    }
  }
  const header = decoder.header!;
  const result: AsbValidation = {
    file: options.file ?? "<input>",
    version: header.version,
    firstFile: header.firstFile,
    records,
    recordsWithoutBins,
    bins,
    sindexes,
    udfs,
    bytes: decoder.offset,
    lines: decoder.line - 1,
  };
  if (header.namespace !== undefined) result.namespace = header.namespace;
  return result;
}
