/**
 * `--shards N [--shard I]` of both tools: which shard of a sharded backup this process backs
 * up or restores. `I` defaults to `JOB_COMPLETION_INDEX`, the index Kubernetes gives each
 * pod of an Indexed Job, so the pods of one Job share one command line (or config file).
 *
 * @module
 */

import { MAX_SHARDS, type ShardSpec } from "../lib/backup/shards.ts";
import { num } from "./_common_options.ts";
import { FlagError, type FlagSpec, type ParsedFlags } from "./_flags.ts";
import { jobFlag, type JobKind } from "./_job_flags.ts";

/** The environment variable of a Kubernetes Indexed Job's pod index. */
export const JOB_COMPLETION_INDEX = "JOB_COMPLETION_INDEX";

/**
 * The shard flags of one tool.
 *
 * @param kind `"backup"` or `"restore"`.
 * @returns `--shards` and `--shard`.
 */
export function shardFlags(kind: JobKind): FlagSpec[] {
  const flag = jobFlag(kind);
  const verb = kind === "backup" ? "Back up" : "Restore";
  return [
    flag(
      "shards",
      undefined,
      "uint",
      0,
      `${verb} one shard of a backup split into N shards (1 to ${MAX_SHARDS}): shard I holds\n` +
        `partitions floor(I*4096/N) to floor((I+1)*4096/N)-1 in <directory>/shard-I-of-N/.\n` +
        "0 = not sharded.",
      { valueName: "N" },
    ),
    flag(
      "shard",
      undefined,
      "uint",
      0,
      `The shard to ${kind === "backup" ? "back up" : "restore"} (0 to N-1), with --shards.\n` +
        `Default: $${JOB_COMPLETION_INDEX} (the pod's index in a Kubernetes Indexed Job).`,
      { valueName: "I" },
    ),
  ];
}

/**
 * Reads `--shards` and `--shard` (or `JOB_COMPLETION_INDEX`).
 *
 * @param flags The parsed flags.
 * @param env The environment.
 * @param conflicts Flags that cannot be combined with `--shards` (they pick other partitions
 *   or another input).
 * @returns The shard, or `undefined` without `--shards`.
 * @throws {FlagError} for `--shard` without `--shards`, a conflicting flag, or a missing or
 *   out-of-range shard number.
 */
export function shardFromFlags(
  flags: ParsedFlags,
  env: { get(name: string): string | undefined },
  conflicts: readonly string[],
): ShardSpec | undefined {
  const count = num(flags, "shards");
  if (count === 0) {
    if (flags.given.has("shard")) throw new FlagError("--shard needs --shards");
    return undefined;
  }
  if (count > MAX_SHARDS) {
    throw new FlagError(
      `invalid value "${count}" for --shards: expected 1 to ${MAX_SHARDS} (one partition each)`,
    );
  }
  const conflict = conflicts.find((f) => flags.given.has(f));
  if (conflict !== undefined) {
    throw new FlagError(
      `--shards cannot be used with --${conflict}: ` +
        (/^(partition-list|after-digest|node-list|rack-list)$/.test(conflict)
          ? "a shard's partitions are fixed by --shards and --shard"
          : "a sharded backup is a directory of shard directories"),
    );
  }
  let index: number;
  if (flags.given.has("shard")) {
    index = num(flags, "shard");
  } else {
    const text = env.get(JOB_COMPLETION_INDEX);
    if (text === undefined || text === "") {
      throw new FlagError(
        `--shards ${count} needs the shard number: set --shard or $${JOB_COMPLETION_INDEX}`,
      );
    }
    if (!/^\d+$/.test(text)) {
      throw new FlagError(
        `invalid ${JOB_COMPLETION_INDEX} "${text}": expected a shard number from 0 to ${count - 1}`,
      );
    }
    index = Number(text);
  }
  if (index >= count) {
    throw new FlagError(
      `invalid shard ${index}${
        flags.given.has("shard") ? "" : ` (from $${JOB_COMPLETION_INDEX})`
      }: expected 0 to ${count - 1} with --shards ${count}`,
    );
  }
  return { index, count };
}
