/**
 * Policy types shared by the backup and restore configurations: how info commands, scans
 * and retries behave.
 *
 * They mirror the policies backup-go's `ConfigBackup` and `ConfigRestore` carry
 * (`InfoPolicy`, `ScanPolicy`, `models.RetryPolicy`), with times in milliseconds.
 *
 * @module
 */

import {
  invalidConfig,
  requireInteger,
  requireNoDuplicates,
  requireNumber,
  requireOneOf,
} from "./_config_check.ts";

/**
 * How often and how patiently an operation is tried again (backup-go `models.RetryPolicy`).
 *
 * The delay before attempt `k + 1` after a failed attempt `k` (0-based) is
 * `baseTimeoutMs × multiplier^k`, with ±10 % jitter. Like backup-go, `maxRetries` counts
 * **attempts**, not retries: the operation is tried `maxRetries` times when it is above 0,
 * else once (see {@linkcode retryAttempts}).
 */
export interface RetryPolicy {
  /** Delay after the first failed attempt, in milliseconds. */
  baseTimeoutMs: number;
  /** Factor the delay grows by after each further failed attempt (at least 1). */
  multiplier: number;
  /** Total number of attempts; 0 means one attempt. */
  maxRetries: number;
}

/** Policy for info commands (backup-go `InfoPolicy`). */
export interface InfoPolicy {
  /** Deadline of one info command, in milliseconds. */
  timeoutMs: number;
}

/**
 * Which replica a scan reads a partition from.
 *
 * `"master"` always reads the master (node and rack backups); `"any"` reads the master and
 * moves to a replica on retry (the Go client's `SEQUENCE`); `"preferRack"` reads from a
 * replica in one of {@linkcode ScanPolicy.rackIds} when there is one (`PREFER_RACK`).
 */
export type ReplicaPolicy = "master" | "any" | "preferRack";

/** Policy for the scans a backup runs (backup-go `ScanPolicy`). */
export interface ScanPolicy {
  /** Socket idle timeout sent to the server with each scan, in milliseconds (0 = none). */
  socketTimeoutMs: number;
  /** Deadline of a whole scan, in milliseconds (0 = none). */
  totalTimeoutMs: number;
  /** How many times unfinished partitions are scanned again. */
  maxRetries: number;
  /** Delay between scan retries, in milliseconds. */
  sleepBetweenRetriesMs: number;
  /** Which replica to read from. */
  replica: ReplicaPolicy;
  /** Racks preferred when `replica` is `"preferRack"`, in order of preference. */
  rackIds: readonly number[];
}

/**
 * backup-go's default retry policy when none is given: 1000 ms, ×2, 3 attempts.
 *
 * @example Use the default
 * ```ts
 * import { DEFAULT_RETRY_POLICY } from "./policy.ts";
 * console.log(DEFAULT_RETRY_POLICY.maxRetries); // 3
 * ```
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  baseTimeoutMs: 1000,
  multiplier: 2,
  maxRetries: 3,
});

/**
 * The default retry policy of restore writes, patient enough to ride out a node's death
 * as the C asrestore does (which retries 5 times, backing off from 150 ms): 6 attempts,
 * waiting 150, 300, 600, 1200 and 2400 ms between them. A cluster drops a dead node after
 * its heartbeat timeout (1.5 s by default) and holds the writes meanwhile.
 *
 * @example Use the default
 * ```ts
 * import { DEFAULT_WRITE_RETRY_POLICY, retryAttempts } from "./policy.ts";
 * console.log(retryAttempts(DEFAULT_WRITE_RETRY_POLICY)); // 6
 * ```
 */
export const DEFAULT_WRITE_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  baseTimeoutMs: 150,
  multiplier: 2,
  maxRetries: 6,
});

/**
 * The default info policy: a 10 s deadline, as the CLIs' `--info-timeout` default.
 */
export const DEFAULT_INFO_POLICY: Readonly<InfoPolicy> = Object.freeze({ timeoutMs: 10000 });

/**
 * The default scan policy, as the backup CLI's defaults (`--socket-timeout 10000`,
 * `--total-timeout 0`, `--max-retries 5`, `--sleep-between-retries 5`).
 */
export const DEFAULT_SCAN_POLICY: Readonly<ScanPolicy> = Object.freeze({
  socketTimeoutMs: 10000,
  totalTimeoutMs: 0,
  maxRetries: 5,
  sleepBetweenRetriesMs: 5,
  replica: "any",
  rackIds: Object.freeze([]) as readonly number[],
});

/**
 * Returns how many times an operation is attempted under a retry policy.
 *
 * @param policy The retry policy.
 * @returns `policy.maxRetries` when it is above 0, else 1.
 *
 * @example Attempts, not retries
 * ```ts
 * import { retryAttempts } from "./policy.ts";
 * console.log(retryAttempts({ baseTimeoutMs: 1000, multiplier: 1, maxRetries: 0 })); // 1
 * console.log(retryAttempts({ baseTimeoutMs: 1000, multiplier: 1, maxRetries: 3 })); // 3
 * ```
 */
export function retryAttempts(policy: RetryPolicy): number {
  return policy.maxRetries > 0 ? policy.maxRetries : 1;
}

/**
 * Returns the delay to wait after failed attempt `attempt` (0-based) before the next one.
 *
 * @param policy The retry policy.
 * @param attempt 0-based number of the attempt that failed.
 * @param random Source of randomness in [0, 1) for the ±10 % jitter; inject it in tests.
 * @returns The delay in milliseconds, `baseTimeoutMs × multiplier^attempt` ±10 %.
 *
 * @example Without jitter
 * ```ts
 * import { retryDelayMs } from "./policy.ts";
 * const p = { baseTimeoutMs: 1000, multiplier: 2, maxRetries: 3 };
 * console.log(retryDelayMs(p, 2, () => 0.5)); // 4000
 * ```
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = policy.baseTimeoutMs * policy.multiplier ** attempt;
  return Math.round(base * (0.9 + 0.2 * random()));
}

/**
 * Fills a retry policy's missing fields from a default and validates it.
 *
 * @param field Name of the option, for messages (such as `"retryPolicy"`).
 * @param input The caller's fields, or `undefined` for the default.
 * @param defaults The policy to take missing fields from.
 * @returns A new frozen policy.
 * @throws {AerobakError} `CONFIG_INVALID` when a field is negative, not finite or the
 * multiplier is below 1.
 *
 * @example Fill the defaults
 * ```ts
 * import { DEFAULT_RETRY_POLICY, resolveRetryPolicy } from "./policy.ts";
 * const p = resolveRetryPolicy("retryPolicy", { maxRetries: 5 }, DEFAULT_RETRY_POLICY);
 * console.log(p.baseTimeoutMs, p.maxRetries); // 1000 5
 * ```
 */
export function resolveRetryPolicy(
  field: string,
  input: Partial<RetryPolicy> | undefined,
  defaults: Readonly<RetryPolicy>,
): Readonly<RetryPolicy> {
  const p: RetryPolicy = {
    baseTimeoutMs: input?.baseTimeoutMs ?? defaults.baseTimeoutMs,
    multiplier: input?.multiplier ?? defaults.multiplier,
    maxRetries: input?.maxRetries ?? defaults.maxRetries,
  };
  requireNumber(`${field}.baseTimeoutMs`, p.baseTimeoutMs, 0);
  if (!Number.isFinite(p.multiplier) || p.multiplier < 1) {
    throw invalidConfig(`${field}.multiplier`, p.multiplier, "a number of at least 1");
  }
  requireInteger(`${field}.maxRetries`, p.maxRetries, 0);
  return Object.freeze(p);
}

/**
 * Fills an info policy's missing fields from the default and validates it.
 *
 * @param input The caller's fields, or `undefined` for the default.
 * @returns A new frozen policy.
 * @throws {AerobakError} `CONFIG_INVALID` when the timeout is negative or not finite.
 */
export function resolveInfoPolicy(input: Partial<InfoPolicy> | undefined): Readonly<InfoPolicy> {
  const p: InfoPolicy = { timeoutMs: input?.timeoutMs ?? DEFAULT_INFO_POLICY.timeoutMs };
  requireNumber("infoPolicy.timeoutMs", p.timeoutMs, 0);
  return Object.freeze(p);
}

/**
 * Fills a scan policy's missing fields from the default and validates it.
 *
 * @param input The caller's fields, or `undefined` for the default.
 * @returns A new frozen policy.
 * @throws {AerobakError} `CONFIG_INVALID` for a negative timeout or retry count, an unknown
 * replica policy, a rack id that is not an integer ≥ 0, or `"preferRack"` without racks.
 */
export function resolveScanPolicy(input: Partial<ScanPolicy> | undefined): Readonly<ScanPolicy> {
  const d = DEFAULT_SCAN_POLICY;
  const p: ScanPolicy = {
    socketTimeoutMs: input?.socketTimeoutMs ?? d.socketTimeoutMs,
    totalTimeoutMs: input?.totalTimeoutMs ?? d.totalTimeoutMs,
    maxRetries: input?.maxRetries ?? d.maxRetries,
    sleepBetweenRetriesMs: input?.sleepBetweenRetriesMs ?? d.sleepBetweenRetriesMs,
    replica: input?.replica ?? d.replica,
    rackIds: Object.freeze([...(input?.rackIds ?? d.rackIds)]),
  };
  requireNumber("scanPolicy.socketTimeoutMs", p.socketTimeoutMs, 0);
  requireNumber("scanPolicy.totalTimeoutMs", p.totalTimeoutMs, 0);
  requireInteger("scanPolicy.maxRetries", p.maxRetries, 0);
  requireNumber("scanPolicy.sleepBetweenRetriesMs", p.sleepBetweenRetriesMs, 0);
  requireOneOf("scanPolicy.replica", p.replica, ["master", "any", "preferRack"]);
  for (const id of p.rackIds) requireInteger("scanPolicy.rackIds", id, 0);
  requireNoDuplicates("scanPolicy.rackIds", p.rackIds);
  if (p.replica === "preferRack" && p.rackIds.length === 0) {
    throw invalidConfig("scanPolicy.rackIds", [], "at least one rack id with replica preferRack");
  }
  return Object.freeze(p);
}
