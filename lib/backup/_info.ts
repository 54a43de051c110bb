/**
 * Info commands as the jobs send them: retried per the job's info retry policy, with
 * errors inside the answer turned into AerobakErrors naming the command.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { formatAddress } from "../aerospike/host.ts";
import { compareVersion, infoError, parseBuild } from "../aerospike/info.ts";
import { AerobakError } from "../errors.ts";
import type { Clock } from "../pipeline/clock.ts";
import { systemClock } from "../pipeline/clock.ts";
import { retryAttempts, retryDelayMs, type RetryPolicy } from "../policy.ts";

/** Options of {@linkcode infoCommand}. */
export interface InfoCommandOptions {
  /** Node name to ask; any node when absent. */
  node?: string;
  /** Deadline of one attempt. */
  timeoutMs?: number;
  /** Retry policy (attempts, backoff). */
  retry: Readonly<RetryPolicy>;
  /** Cancels waits between attempts. */
  signal?: AbortSignal;
  /** Time source of the waits. */
  clock?: Clock;
}

/**
 * Sends one info command and returns its value, retrying transport errors and error
 * answers per the retry policy.
 *
 * @param cluster The cluster.
 * @param command The command, sent verbatim.
 * @param options Node, timeout, retry policy.
 * @returns The value.
 * @throws {AerobakError} `INFO_ERROR` with the server's code as `resultCode` once attempts
 *   are exhausted, or the transport error.
 */
export function infoCommand(
  cluster: Cluster,
  command: string,
  options: InfoCommandOptions,
): Promise<string> {
  return infoAttempts(cluster, command, options, false);
}

/**
 * Sends one info command and returns its raw answer, error answers included: only
 * transport errors are retried per the retry policy (for commands whose error answers
 * the caller acts on, such as `sindex-create`).
 *
 * @param cluster The cluster.
 * @param command The command, sent verbatim.
 * @param options Node, timeout, retry policy.
 * @returns The raw value (check it with `infoError`).
 * @throws {AerobakError} The transport error once attempts are exhausted.
 */
export function infoAnswer(
  cluster: Cluster,
  command: string,
  options: InfoCommandOptions,
): Promise<string> {
  return infoAttempts(cluster, command, options, true);
}

async function infoAttempts(
  cluster: Cluster,
  command: string,
  options: InfoCommandOptions,
  raw: boolean,
): Promise<string> {
  const attempts = retryAttempts(options.retry);
  const clock = options.clock ?? systemClock;
  let last: unknown;
  for (let k = 0; k < attempts; k++) {
    if (k > 0) await clock.sleep(retryDelayMs(options.retry, k - 1), options.signal);
    try {
      const answer = await cluster.info([command], {
        node: options.node,
        timeoutMs: options.timeoutMs,
      });
      const value = answer.get(command) ?? "";
      const err = infoError(value);
      if (err === null || raw) return value;
      last = new AerobakError(
        "INFO_ERROR",
        `Info command "${shorten(command)}" failed${
          options.node ? ` on node ${options.node}` : ""
        }: ` +
          `code ${err.code}${err.message ? ` ${err.message}` : ""}`,
        { resultCode: err.code },
      );
    } catch (e) {
      last = e;
    }
    if (options.signal?.aborted) throw options.signal.reason;
  }
  throw last;
}

/**
 * Sends one info command and reads its value with `parse`; a value `parse` refuses is an
 * error naming the command (and the node, when one was asked).
 *
 * @param cluster The cluster.
 * @param command The command, sent verbatim.
 * @param options Node, timeout, retry policy.
 * @param parse Reads the value; throws an `AerobakError` for one it cannot read.
 * @returns What `parse` returns.
 * @throws {AerobakError} As {@linkcode infoCommand}, or the parser's code naming the command.
 */
export async function infoParsed<T>(
  cluster: Cluster,
  command: string,
  options: InfoCommandOptions,
  parse: (value: string) => T,
): Promise<T> {
  const value = await infoCommand(cluster, command, options);
  try {
    return parse(value);
  } catch (e) {
    if (!(e instanceof AerobakError)) throw e;
    throw new AerobakError(
      e.code,
      `Info command "${shorten(command)}"${
        options.node ? ` on node ${options.node}` : ""
      } gave an answer that cannot be read: ${e.message}`,
      { cause: e },
    );
  }
}

/**
 * The lowest server version among the cluster's nodes (backup-go picks command syntax by it).
 *
 * @param cluster The cluster.
 * @param options Timeout and retry policy.
 * @returns `[major, minor, patch]`.
 */
export async function lowestBuild(
  cluster: Cluster,
  options: InfoCommandOptions,
): Promise<[number, number, number]> {
  let lowest: [number, number, number] | undefined;
  let failure: unknown;
  for (const node of cluster.nodes) {
    let v: [number, number, number];
    try {
      const answer = await infoCommand(cluster, "build", { ...options, node: node.name });
      v = parseBuild(answer, `node ${node.name} at ${node.address}`);
    } catch (e) {
      // A node leaving the cluster meanwhile does not decide the version of the others.
      if (options.signal?.aborted) throw e;
      failure = e;
      continue;
    }
    if (lowest === undefined || compareVersion(v, lowest) < 0) lowest = v;
  }
  if (lowest === undefined) {
    throw failure ??
      new AerobakError(
        "CLUSTER_EMPTY",
        `Cannot read server version: the cluster of seeds ${
          cluster.policy.seeds.map((h) => formatAddress(h.name, h.port)).join(",")
        } has no nodes`,
      );
  }
  return lowest;
}

function shorten(command: string): string {
  // udf-put carries a whole module in base64: keep messages short.
  return command.length > 120 ? `${command.slice(0, 117)}...` : command;
}

/**
 * Fails clearly on a namespace the cluster does not have (a scan of it would only run out
 * of retries): asks `namespaces` and looks the name up.
 *
 * @param cluster The cluster.
 * @param namespace The namespace.
 * @param options Info options.
 * @throws {AerobakError} `NAMESPACE_NOT_FOUND` naming it and the namespaces there are.
 */
export async function requireNamespace(
  cluster: Cluster,
  namespace: string,
  options: InfoCommandOptions,
): Promise<void> {
  const answer = await infoCommand(cluster, "namespaces", options);
  const names = answer.split(";").filter((n) => n !== "");
  if (!names.includes(namespace)) {
    throw new AerobakError(
      "NAMESPACE_NOT_FOUND",
      `Namespace ${namespace} not found: the cluster has ${
        names.length > 0 ? `only ${names.join(", ")}` : "no namespaces"
      }`,
    );
  }
}
