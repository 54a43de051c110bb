/**
 * Checks that a decoded backup file starts like one, to catch a missing or wrong
 * `--compress`, `--encrypt` or key before the decoder reports confusing syntax errors.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";

/** Backup formats whose start can be checked. */
export type BackupFormat = "asb" | "asbx";

const ASB_PREFIX = new TextEncoder().encode("Version 3.");
/** ASBX: version byte 1, then (after the 8-byte file number) 4 reserved zero bytes. */
const ASBX_CHECK_LENGTH = 13;
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Options of {@linkcode checkBackupHeader} and {@linkcode createHeaderCheckStream}. */
export interface HeaderCheckOptions {
  /**
   * File name used in the message.
   * @default {"<input>"}
   */
  file?: string;
  /**
   * Expected format.
   * @default {"asb"}
   */
  format?: BackupFormat;
  /**
   * Whether the bytes were decrypted first: a bad start then points at the key.
   * @default {false}
   */
  encrypted?: boolean;
}

/**
 * Number of leading bytes {@linkcode checkBackupHeader} needs.
 *
 * @param format The format.
 * @returns 10 for ASB (`Version 3.`), 13 for ASBX.
 */
export function headerCheckLength(format: BackupFormat = "asb"): number {
  return format === "asbx" ? ASBX_CHECK_LENGTH : ASB_PREFIX.length;
}

function hint(head: Uint8Array, encrypted: boolean): string {
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) {
    return "the data looks zstd-compressed: missing --compress ZSTD?";
  }
  if (encrypted) return "wrong encryption key or --encrypt mode?";
  return "wrong or missing --encrypt/--compress/key?";
}

function preview(head: Uint8Array): string {
  const text = Array.from(
    head.subarray(0, 10),
    (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."),
  ).join("");
  const hex = Array.from(head.subarray(0, 10), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `"${text}" (${hex})`;
}

/**
 * Checks the first decoded bytes of a backup file.
 *
 * @example
 * ```ts
 * import { checkBackupHeader } from "./header_check.ts";
 * checkBackupHeader(new TextEncoder().encode("Version 3.1\n"), { file: "a.asb" }); // passes
 * ```
 *
 * @param head The first bytes of the file (all of them if it is shorter than
 *   {@linkcode headerCheckLength}).
 * @param options File name and format.
 * @throws {AerobakError} `BACKUP_HEADER_INVALID` naming the file, what was found and the
 *   likely cause.
 */
export function checkBackupHeader(head: Uint8Array, options: HeaderCheckOptions = {}): void {
  const file = options.file ?? "<input>";
  const format = options.format ?? "asb";
  const need = headerCheckLength(format);
  if (head.length === 0) {
    throw new AerobakError(
      "BACKUP_HEADER_INVALID",
      `File ${file} is empty: expected an ${format.toUpperCase()} header`,
      {
        location: { file, offset: 0 },
      },
    );
  }
  let ok: boolean;
  if (format === "asb") ok = head.length >= need && ASB_PREFIX.every((b, i) => head[i] === b);
  else {ok = head.length >= need && head[0] === 1 && head[9] === 0 && head[10] === 0 &&
      head[11] === 0 && head[12] === 0;}
  if (ok) return;
  const what = format === "asb" ? 'an ASB header ("Version 3.x")' : "an ASBX header (version 1)";
  throw new AerobakError(
    "BACKUP_HEADER_INVALID",
    `File ${file} does not start with ${what}, found ${preview(head)}: ${
      hint(head, options.encrypted ?? false)
    }`,
    { location: { file, offset: 0 } },
  );
}

/**
 * Creates a pass-through stage that checks the first bytes with {@linkcode checkBackupHeader}
 * (place it after decryption and decompression).
 *
 * @param options File name and format.
 * @returns A transform stream that passes every byte on once the start checked out.
 * @throws {AerobakError} Through the stream: `BACKUP_HEADER_INVALID`.
 */
export function createHeaderCheckStream(
  options: HeaderCheckOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const need = headerCheckLength(options.format);
  const head = new Uint8Array(need);
  let have = 0;
  let checked = false;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (checked) {
        controller.enqueue(chunk);
        return;
      }
      const take = Math.min(need - have, chunk.length);
      head.set(chunk.subarray(0, take), have);
      have += take;
      if (have < need) return;
      checkBackupHeader(head, options);
      checked = true;
      controller.enqueue(head);
      if (take < chunk.length) controller.enqueue(chunk.subarray(take));
    },
    flush() {
      // Shorter than the header: checkBackupHeader always throws here.
      if (!checked) checkBackupHeader(head.subarray(0, have), options);
    },
  });
}
