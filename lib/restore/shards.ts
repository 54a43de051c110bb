/**
 * Restoring a sharded backup: the directory of a backup split by `asbackup --shards N`
 * holds one subdirectory `shard-<I>-of-<N>/` per shard (see `lib/backup/shards.ts`), each
 * with its own manifest recording `I` and `N`. A restore of that directory restores every
 * shard, its parallel readers spread over the shards; a restore with a `shard` restores
 * that shard only. Either way a shard that is missing (no directory, or no backup files in
 * it) or unfinished (no manifest: its backup has not ended, or died) makes the backup
 * incomplete, which a restore refuses unless told `allowPartial` (then the finished shards
 * are restored), and which a validation reports by shard number.
 *
 * @module
 */

import { parseShardDirectoryName, shardDirectoryName, type ShardSpec } from "../backup/shards.ts";
import { readManifest } from "../backup/manifest.ts";
import { AerobakError } from "../errors.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";

/** The shards found in a sharded backup directory. */
export interface ShardLayout {
  /** How many shards the backup was split into (the `N` of the directory names). */
  count: number;
  /** Finished shards: backup files and a manifest of this shard, ascending. */
  present: number[];
  /** Shard numbers with no directory or one without backup files, ascending. */
  missing: number[];
  /** Shards with backup files but no manifest (not finished), ascending. */
  unfinished: number[];
}

/**
 * Looks for the shard directories of a sharded backup.
 *
 * @param root A reader of the backup directory (local or a key prefix).
 * @returns The layout, or `undefined` when the directory is not a sharded backup (it holds
 *   backup files of its own, or no `shard-<I>-of-<N>` directory).
 * @throws {AerobakError} `SHARDS_INVALID` when the shard directories name different shard
 *   counts; `STORAGE_READ` when a directory cannot be listed.
 */
export async function findShards(root: StorageReader): Promise<ShardLayout | undefined> {
  if (root.kind !== "directory" || !root.subdirectories || !root.subdirectory) return undefined;
  const shards: ShardSpec[] = [];
  for await (const name of root.subdirectories()) {
    const shard = parseShardDirectoryName(name);
    if (shard !== undefined) shards.push(shard);
  }
  if (shards.length === 0) return undefined;
  for await (const _ of root.list()) return undefined;
  const counts = [...new Set(shards.map((s) => s.count))].sort((a, b) => a - b);
  if (counts.length > 1) {
    throw new AerobakError(
      "SHARDS_INVALID",
      `Cannot restore the sharded backup in ${describeRoot(root)}: it holds shards of ${
        counts.join(" and of ")
      } (${counts.map((n) => `shard-*-of-${n}`).join(", ")}); remove those of the other runs`,
    );
  }
  const count = counts[0];
  const layout: ShardLayout = { count, present: [], missing: [], unfinished: [] };
  const named = new Set(shards.map((s) => s.index));
  for (let index = 0; index < count; index++) {
    const dir = root.subdirectory(shardDirectoryName({ index, count }));
    if (!named.has(index) || !(await hasFiles(dir))) layout.missing.push(index);
    else if (await finished(dir, { index, count })) layout.present.push(index);
    else layout.unfinished.push(index);
  }
  return layout;
}

/** Whether a shard's directory holds its manifest (a backup of another shard is an error). */
async function finished(dir: StorageReader, shard: ShardSpec): Promise<boolean> {
  const found = await readManifest(dir);
  if (found === undefined) return false;
  const recorded = found.manifest.settings.shard;
  if (recorded?.index !== shard.index || recorded?.count !== shard.count) {
    throw new AerobakError(
      "SHARDS_INVALID",
      `Cannot restore the sharded backup: ${found.path} is the manifest of ${
        recorded ? `shard ${recorded.index} of ${recorded.count}` : "a backup that is not sharded"
      }, in the directory of shard ${shard.index} of ${shard.count}`,
      { location: { file: found.path } },
    );
  }
  return true;
}

async function hasFiles(reader: StorageReader): Promise<boolean> {
  for await (const _ of reader.list()) return true;
  return false;
}

function describeRoot(root: StorageReader): string {
  // Only a reader of one directory can name it (not one of files, or of several).
  if (root.kind !== "directory") return "the backup files";
  try {
    return root.describe?.("") ?? "the backup directory";
  } catch (e) {
    if (e instanceof TypeError) return "the backup directories";
    throw e;
  }
}

/** Options of {@linkcode ShardedReader}. */
export interface ShardedReaderOptions {
  /**
   * The shards to read.
   * @default {every shard present}
   */
  shards?: readonly number[];
}

/**
 * Reads the files of several shards of a sharded backup as one backup. The listing takes
 * one file of each shard in turn (each shard's files in name order), so a restore's
 * parallel readers, which take files in listing order, work on different shards at once.
 *
 * @example
 * ```ts ignore
 * const root = new DirectoryReader("/backups/test");
 * const layout = await findShards(root);
 * const reader = new ShardedReader(root, layout!);
 * ```
 */
export class ShardedReader implements StorageReader {
  /** Always `"files"`: the files of several directories. */
  readonly kind = "files" as const;
  /** The shards found. */
  readonly layout: Readonly<ShardLayout>;
  /** The shards read, ascending. */
  readonly shards: readonly number[];
  readonly #readers: StorageReader[];
  readonly #byPath = new Map<string, StorageReader>();

  /**
   * Creates a reader.
   *
   * @param root The backup directory.
   * @param layout What {@linkcode findShards} found in it.
   * @param options Which shards to read.
   */
  constructor(root: StorageReader, layout: ShardLayout, options: ShardedReaderOptions = {}) {
    if (!root.subdirectory) {
      throw new TypeError("Cannot read shards: the reader has no subdirectories");
    }
    this.layout = layout;
    this.shards = [...(options.shards ?? layout.present)].sort((a, b) => a - b);
    this.#readers = this.shards.map((index) =>
      root.subdirectory!(shardDirectoryName({ index, count: layout.count }))
    );
  }

  /**
   * The reader of each shard read.
   *
   * @returns Shard number and reader, by shard number.
   */
  shardReaders(): { index: number; reader: StorageReader }[] {
    return this.shards.map((index, i) => ({ index, reader: this.#readers[i] }));
  }

  /**
   * Lists the files, one shard after the other in turn.
   *
   * @returns The entries.
   */
  async *list(): AsyncIterable<StorageEntry> {
    const lists: StorageEntry[][] = [];
    for (const reader of this.#readers) {
      const entries: StorageEntry[] = [];
      for await (const e of reader.list()) {
        entries.push(e);
        this.#byPath.set(e.path, reader);
      }
      lists.push(entries);
    }
    const longest = Math.max(0, ...lists.map((l) => l.length));
    for (let i = 0; i < longest; i++) {
      for (const l of lists) if (i < l.length) yield l[i];
    }
  }

  /**
   * Opens a listed file through its shard's reader.
   *
   * @param entry An entry from `list()`.
   * @returns Its bytes.
   */
  open(entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
    const reader = this.#byPath.get(entry.path);
    if (reader === undefined) {
      throw new TypeError(`Cannot open ${entry.path}: not listed by this reader`);
    }
    return reader.open(entry);
  }
}

/** What a restore does with a sharded backup: the reader, and what is missing from it. */
export interface ShardedInput {
  /** The files to restore (the input itself when it is not a sharded backup). */
  reader: StorageReader;
  /** The shards found, for a sharded backup. */
  layout?: ShardLayout;
  /** The shards that are not there (missing or unfinished), ascending. */
  incomplete: number[];
  /** The backup directory, for messages. */
  where: string;
}

/** Options of {@linkcode openShardedInput}. */
export interface ShardedInputOptions {
  /** Restore only this shard (its `count` must match the backup's). */
  shard?: ShardSpec;
}

/**
 * Sees whether a restore's input is a sharded backup and picks the files to restore: every
 * shard present, or the one shard asked for.
 *
 * @param input The restore's reader.
 * @param options The shard to restore, if only one.
 * @returns The reader to restore from and the shards that are not there.
 * @throws {AerobakError} `CONFIG_INVALID` for a shard of a backup that is not sharded or
 *   was split in another number of shards; `SHARDS_INVALID` for mixed shard counts.
 */
export async function openShardedInput(
  input: StorageReader,
  options: ShardedInputOptions = {},
): Promise<ShardedInput> {
  const layout = await findShards(input);
  const shard = options.shard;
  if (layout === undefined) {
    if (shard === undefined) return { reader: input, incomplete: [], where: describeRoot(input) };
    // A shard asked of a directory without any shard directory: that shard is missing.
    if (input.kind === "directory" && input.subdirectory && !(await hasFiles(input))) {
      const only: ShardLayout = { count: shard.count, present: [], missing: [], unfinished: [] };
      for (let i = 0; i < shard.count; i++) only.missing.push(i);
      return {
        reader: new ShardedReader(input, only, { shards: [] }),
        layout: only,
        incomplete: only.missing,
        where: describeRoot(input),
      };
    }
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid shard ${shard.index} of ${shard.count}: ${describeRoot(input)} is not a ` +
        "sharded backup (give the directory that holds the shard-<I>-of-<N> directories)",
    );
  }
  if (shard !== undefined && shard.count !== layout.count) {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid shard ${shard.index} of ${shard.count}: ${describeRoot(input)} holds a backup ` +
        `split into ${layout.count} shards`,
    );
  }
  const shards = shard === undefined
    ? layout.present
    : layout.present.includes(shard.index)
    ? [shard.index]
    : [];
  return {
    reader: new ShardedReader(input, layout, { shards }),
    layout,
    incomplete: [...layout.missing, ...layout.unfinished].sort((a, b) => a - b),
    where: describeRoot(input),
  };
}

/**
 * The error of a sharded backup with shards that are not there.
 *
 * @param input What {@linkcode openShardedInput} found.
 * @param restoring Whether a restore is refused (the message says how to restore the rest),
 *   or a validation fails.
 * @returns An {@linkcode AerobakError} with code `SHARDS_INCOMPLETE`.
 */
export function shardsIncomplete(input: ShardedInput, restoring: boolean): AerobakError {
  const { incomplete } = input;
  const layout = input.layout ?? { count: 0, present: [], missing: [], unfinished: [] };
  const numbers = (list: readonly number[]) =>
    list.slice(0, 8).join(", ") + (list.length > 8 ? ` and ${list.length - 8} more` : "");
  const parts = [];
  const missing = layout.missing.filter((i) => incomplete.includes(i));
  const unfinished = layout.unfinished.filter((i) => incomplete.includes(i));
  if (missing.length > 0) parts.push(`missing: shard ${numbers(missing)}`);
  if (unfinished.length > 0) {
    parts.push(`unfinished, without a manifest: shard ${numbers(unfinished)}`);
  }
  return new AerobakError(
    "SHARDS_INCOMPLETE",
    `${
      restoring ? "Cannot restore: the" : "The"
    } sharded backup in ${input.where} is incomplete: ` +
      `${incomplete.length} of its ${layout.count} shards ${
        incomplete.length === 1 ? "is" : "are"
      } not there (${parts.join("; ")})` +
      (restoring ? "; pass allowPartial (--allow-partial) to restore the finished shards" : ""),
  );
}
