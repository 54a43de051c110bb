/**
 * ASBX file names (`<writer>_<namespace>_<n>.asbx`) and the order restore must replay
 * them in.
 *
 * XDR ships a record's versions in order, and each writer gets all events of its
 * partitions, so a writer's files must be replayed in ascending `<n>` (and records in file
 * order); files of different writers touch disjoint partitions.
 *
 * @module
 */

import { AerobakError } from "../../errors.ts";

/** The extension of ASBX files. */
export const ASBX_EXTENSION = ".asbx";

/** The parts of an ASBX file name. */
export interface AsbxFileName {
  /** Writer index, the `<w>` of `<w>_<ns>_<n>.asbx`. */
  writer: number;
  /** Namespace as written in the name. */
  namespace: string;
  /** The run-wide file number `<n>`, equal to the number in the header. */
  fileNumber: number;
}

/**
 * The name of an ASBX file, as backup-go's `GenerateFilename` builds it.
 *
 * @param prefix Text before the namespace, normally `"<writer>_"`.
 * @param namespace Namespace.
 * @param fileNumber Run-wide file number (1 for the first file).
 * @returns `prefix + namespace + "_" + fileNumber + ".asbx"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asbxFileName } from "./file_name.ts";
 * assert.equal(asbxFileName("3_", "test", 17), "3_test_17.asbx");
 * ```
 */
export function asbxFileName(prefix: string, namespace: string, fileNumber: number): string {
  return `${prefix}${namespace}_${fileNumber}${ASBX_EXTENSION}`;
}

const DIGITS = /^\d+$/;

/**
 * Parses an ASBX file name the way backup-go does: the base name without `.asbx`, split
 * on `_` into exactly three parts. A namespace containing `_` therefore cannot be parsed
 * (a limitation of the format's naming).
 *
 * @param path File name or path (only the part after the last `/` or `\` counts).
 * @returns Writer index, namespace and file number.
 * @throws {AerobakError} `ASBX_FILE_NAME` when the name does not have that form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAsbxFileName } from "./file_name.ts";
 * assert.deepEqual(parseAsbxFileName("dir/0_test_12.asbx"), { writer: 0, namespace: "test", fileNumber: 12 });
 * ```
 */
export function parseAsbxFileName(path: string): AsbxFileName {
  const base = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
  const fail = (why: string) =>
    new AerobakError(
      "ASBX_FILE_NAME",
      `Invalid ASBX file name "${base}": ${why}, expected <writer>_<namespace>_<number>.asbx`,
      { location: { file: path } },
    );
  if (!base.endsWith(ASBX_EXTENSION)) throw fail("no .asbx extension");
  const parts = base.slice(0, -ASBX_EXTENSION.length).split("_");
  if (parts.length !== 3) throw fail(`${parts.length} parts separated by "_"`);
  const [w, namespace, n] = parts;
  if (!DIGITS.test(w) || !DIGITS.test(n) || namespace === "") throw fail("bad writer or number");
  const writer = Number(w);
  const fileNumber = Number(n);
  if (!Number.isSafeInteger(writer) || !Number.isSafeInteger(fileNumber)) {
    throw fail("number too large");
  }
  return { writer, namespace, fileNumber };
}

/**
 * Groups ASBX files by writer index, each group in ascending file number: the order in
 * which one group must be replayed. Groups can be replayed in parallel.
 *
 * @param items The files.
 * @param nameOf Returns an item's file name or path.
 * @returns Writer index → items, groups in ascending writer index.
 * @throws {AerobakError} `ASBX_FILE_NAME` for a name that does not parse.
 */
export function groupAsbxFiles<T>(
  items: Iterable<T>,
  nameOf: (item: T) => string,
): Map<number, T[]> {
  const parsed: { item: T; name: AsbxFileName }[] = [];
  for (const item of items) parsed.push({ item, name: parseAsbxFileName(nameOf(item)) });
  parsed.sort((a, b) => a.name.writer - b.name.writer || a.name.fileNumber - b.name.fileNumber);
  const groups = new Map<number, T[]>();
  for (const p of parsed) {
    let g = groups.get(p.name.writer);
    if (g === undefined) groups.set(p.name.writer, g = []);
    g.push(p.item);
  }
  return groups;
}

/**
 * Sorts ASBX files as backup-go's `SortBackupFiles` does: by writer, ascending file number
 * within a writer, then interleaved round-robin across writers (`w0[0], w1[0], …, w0[1],
 * w1[1], …`), so any serial replay keeps each writer's order.
 *
 * @param items The files.
 * @param nameOf Returns an item's file name or path.
 * @returns The items in replay order.
 * @throws {AerobakError} `ASBX_FILE_NAME` as {@linkcode groupAsbxFiles}.
 */
export function sortAsbxFiles<T>(items: Iterable<T>, nameOf: (item: T) => string): T[] {
  const groups = [...groupAsbxFiles(items, nameOf).values()];
  const total = groups.reduce((n, g) => n + g.length, 0);
  const out: T[] = [];
  for (let i = 0; out.length < total; i++) {
    for (const g of groups) if (i < g.length) out.push(g[i]);
  }
  return out;
}
