/**
 * What the flag lists of `asbackup` and `asrestore` share (cli-flags.md §1, §2): the order
 * of the groups, how one flag of a tool's own group is written down, and the run of
 * throttle, timeout and info-retry flags both tools have with the same names, types and
 * defaults (and how they are read).
 *
 * @module
 */

import type { InfoPolicy, RetryPolicy } from "../lib/policy.ts";
import { cloudFlags } from "./_cloud_flags.ts";
import {
  CLIENT_FLAGS,
  compressionFlags,
  encryptionFlags,
  GENERAL_FLAGS,
  SECRET_AGENT_FLAGS,
} from "./_common_flags.ts";
import { num } from "./_common_options.ts";
import { METRICS_FLAGS } from "./_metrics.ts";
import type { FlagSpec, FlagType, FlagValue, ParsedFlags } from "./_flags.ts";

/** Which tool a job flag belongs to; also its section of the YAML config file. */
export type JobKind = "backup" | "restore";

/**
 * Writes down one flag of a tool's own group.
 *
 * @param long Long name without `--`.
 * @param short One-letter shorthand, or `undefined`.
 * @param type Value type.
 * @param def Value when the flag is not given.
 * @param help Help text.
 * @param extra Fields to add or override (value name, YAML key, list).
 * @returns The flag.
 */
export type JobFlag = (
  long: string,
  short: string | undefined,
  type: FlagType,
  def: FlagValue,
  help: string,
  extra?: Partial<FlagSpec>,
) => FlagSpec;

/**
 * The flag writer of one tool: its group title, and a YAML key `<kind>.<long>` unless
 * `extra` says otherwise.
 *
 * @param kind `"backup"` or `"restore"`.
 * @returns The writer.
 */
export function jobFlag(kind: JobKind): JobFlag {
  const group = kind === "backup" ? "Backup Flags" : "Restore Flags";
  return (long, short, type, def, help, extra = {}) => {
    const spec: FlagSpec = {
      long,
      type,
      default: def,
      group,
      help,
      yaml: `${kind}.${long}`,
      ...extra,
    };
    if (short) spec.short = short;
    return spec;
  };
}

/**
 * Every flag of one tool, in `--help` order: the shared groups around the tool's own.
 *
 * @param kind `"backup"` or `"restore"` (the shared groups word some help for it).
 * @param own The tool's own group.
 * @param localStorage Its local storage flags, when it has any.
 * @returns The flags.
 */
export function toolFlags(
  kind: JobKind,
  own: readonly FlagSpec[],
  localStorage: readonly FlagSpec[] = [],
): FlagSpec[] {
  const restore = kind === "restore";
  return [
    ...GENERAL_FLAGS,
    ...CLIENT_FLAGS,
    ...own,
    ...compressionFlags(restore),
    ...encryptionFlags(restore),
    ...SECRET_AGENT_FLAGS,
    ...METRICS_FLAGS,
    ...localStorage,
    ...cloudFlags(restore),
  ];
}

/**
 * The flags from `--socket-timeout` to `--std-buffer`, which both tools list in this order.
 *
 * @param kind `"backup"` or `"restore"`.
 * @param bandwidthHelp Help text of `--bandwidth` (the tools throttle different I/O).
 * @returns The flags.
 */
export function transferFlags(kind: JobKind, bandwidthHelp: string): FlagSpec[] {
  const flag = jobFlag(kind);
  return [
    flag(
      "socket-timeout",
      undefined,
      "int",
      10000,
      "Socket timeout in milliseconds. If this value is 0, it's set to --total-timeout.\n" +
        "If both this and --total-timeout are 0, there is no socket idle time limit.",
    ),
    flag(
      "nice",
      undefined,
      "int",
      0,
      "The limits for read/write storage bandwidth in MiB/s.\nDeprecated: use --bandwidth.",
      {
        yaml: undefined,
      },
    ),
    flag("bandwidth", "N", "int", 0, bandwidthHelp),
    flag(
      "info-timeout",
      "T",
      "int",
      10000,
      `Set the timeout (ms) for asinfo commands sent from as${kind} to the database.`,
    ),
    flag(
      "info-retry-interval",
      undefined,
      "int",
      1000,
      "Set the initial interval for a retry in milliseconds when info commands are sent.",
    ),
    flag(
      "info-retry-multiplier",
      undefined,
      "float",
      1,
      "Increases the delay between subsequent retry attempts.\nThe actual delay is calculated as: info-retry-interval * (info-retry-multiplier ^ attemptNumber)",
    ),
    flag(
      "info-max-retries",
      undefined,
      "uint",
      3,
      "How many times to retry to send info commands before failing.",
    ),
    flag("std-buffer", undefined, "int", 4, "Buffer size in MiB for stdin and stdout operations."),
  ];
}

/** The info-command settings of a job, as both job configurations take them. */
export interface InfoPolicies {
  /** Deadline of one info command (`--info-timeout`). */
  infoPolicy: InfoPolicy;
  /** Retries of info commands (`--info-retry-interval`, `--info-retry-multiplier`, `--info-max-retries`). */
  infoRetryPolicy: RetryPolicy;
}

/**
 * Reads the info flags of {@linkcode transferFlags}.
 *
 * @param flags The parsed flags.
 * @returns The info policies.
 */
export function infoPoliciesFromFlags(flags: ParsedFlags): InfoPolicies {
  return {
    infoPolicy: { timeoutMs: num(flags, "info-timeout") },
    infoRetryPolicy: {
      baseTimeoutMs: num(flags, "info-retry-interval"),
      multiplier: num(flags, "info-retry-multiplier"),
      maxRetries: num(flags, "info-max-retries"),
    },
  };
}
