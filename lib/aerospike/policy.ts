/**
 * Client, scan and write policies, and their resolution into frozen configs with
 * defaults filled and cross-field rules checked (the caller's object is never changed).
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { type Host, parseHosts } from "./host.ts";
import type { WriteRequestPolicy } from "./requests.ts";
import type { TlsPolicy } from "./tls.ts";

/** How to reach and log in to a cluster. */
export interface ClientPolicy {
  /** Seeds `host[:tls-name][:port][,…]`, IPv6 in brackets. */
  hosts: string;
  /**
   * Port for seeds without one.
   *
   * @default {3000}
   */
  defaultPort?: number;
  /** User name; no authentication when absent (except PKI). */
  user?: string;
  /** Password of `user`. */
  password?: string;
  /**
   * Authentication mode.
   *
   * @default {"INTERNAL"}
   */
  authMode?: "INTERNAL" | "EXTERNAL" | "PKI";
  /**
   * TLS settings.
   *
   * @default {TLS off}
   */
  tls?: TlsPolicy;
  /**
   * Use the alternate access addresses (`peers-*-alt`).
   *
   * @default {false}
   */
  servicesAlternate?: boolean;
  /**
   * Connect (and TLS handshake) limit in ms.
   *
   * @default {30000}
   */
  connectTimeoutMs?: number;
  /**
   * Close pooled connections idle longer than this (ms); 0 = never.
   *
   * @default {55000}
   */
  idleTimeoutMs?: number;
  /**
   * Login limit in ms.
   *
   * @default {10000}
   */
  loginTimeoutMs?: number;
  /**
   * Most connections per node.
   *
   * @default {100}
   */
  maxConnectionsPerNode?: number;
  /**
   * Interval of the cluster tend (peers and partition map refresh), ms.
   *
   * @default {1000}
   */
  tendIntervalMs?: number;
  /**
   * Expected cluster name; nodes of another cluster are refused.
   *
   * @default {no check}
   */
  clusterName?: string;
  /**
   * Limit of an info command, ms.
   *
   * @default {10000}
   */
  infoTimeoutMs?: number;
  /**
   * How long a command waits for a free pooled connection, ms.
   *
   * @default {10000}
   */
  poolWaitMs?: number;
}

/** A {@linkcode ClientPolicy} with defaults filled in and hosts parsed. */
export interface ResolvedClientPolicy {
  /** Seeds. */
  readonly seeds: readonly Host[];
  /** User, when authentication is on. */
  readonly user?: string;
  /** Password. */
  readonly password?: string;
  /** Authentication mode, or null for none. */
  readonly authMode: "INTERNAL" | "EXTERNAL" | "PKI" | null;
  /** TLS settings when enabled. */
  readonly tls?: Readonly<TlsPolicy>;
  /** Use alternate addresses. */
  readonly servicesAlternate: boolean;
  /** Connect limit. */
  readonly connectTimeoutMs: number;
  /** Idle limit, 0 = never. */
  readonly idleTimeoutMs: number;
  /** Login limit. */
  readonly loginTimeoutMs: number;
  /** Pool size per node. */
  readonly maxConnectionsPerNode: number;
  /** Tend interval. */
  readonly tendIntervalMs: number;
  /** Expected cluster name. */
  readonly clusterName?: string;
  /** Info limit. */
  readonly infoTimeoutMs: number;
  /** Pool wait limit. */
  readonly poolWaitMs: number;
}

function configError(field: string, value: unknown, why: string): AerobakError {
  return new AerobakError(
    "CONFIG_INVALID",
    `Invalid ${field} ${JSON.stringify(value)}: ${why}`,
  );
}

function nonNegative(field: string, value: number | undefined, def: number): number {
  const v = value ?? def;
  if (!Number.isFinite(v) || v < 0) throw configError(field, value, "must be a number >= 0");
  return v;
}

function positive(field: string, value: number | undefined, def: number): number {
  const v = value ?? def;
  if (!Number.isFinite(v) || v <= 0) throw configError(field, value, "must be a number > 0");
  return v;
}

/**
 * Fills defaults and checks a client policy.
 *
 * @param policy The caller's policy (not modified).
 * @returns A frozen resolved policy.
 * @throws {AerobakError} `CONFIG_INVALID` naming the field and value: bad hosts or numbers,
 *   EXTERNAL without TLS, PKI without a client certificate, a user without a password.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveClientPolicy } from "./policy.ts";
 * const p = resolveClientPolicy({ hosts: "a:3100,b" });
 * assert.equal(p.seeds[1].port, 3000);
 * assert.equal(p.authMode, null);
 * ```
 */
export function resolveClientPolicy(policy: ClientPolicy): ResolvedClientPolicy {
  if (typeof policy.hosts !== "string" || policy.hosts.trim() === "") {
    throw configError("hosts", policy.hosts, "at least one seed host is required");
  }
  const defaultPort = policy.defaultPort ?? 3000;
  if (!Number.isInteger(defaultPort) || defaultPort < 1 || defaultPort > 65535) {
    throw configError("defaultPort", policy.defaultPort, "must be 1..65535");
  }
  const seeds = parseHosts(policy.hosts, defaultPort);
  const tls = policy.tls?.enabled ? Object.freeze({ ...policy.tls }) : undefined;
  const mode = policy.authMode ?? "INTERNAL";
  if (mode !== "INTERNAL" && mode !== "EXTERNAL" && mode !== "PKI") {
    throw configError("authMode", policy.authMode, "expected INTERNAL, EXTERNAL or PKI");
  }
  let authMode: ResolvedClientPolicy["authMode"] = null;
  if (mode === "PKI") {
    if (!tls || !tls.certFile || !tls.keyFile) {
      throw configError("authMode", mode, "PKI needs TLS with a client certificate and key");
    }
    authMode = "PKI";
  } else if (policy.user !== undefined && policy.user !== "") {
    if (policy.password === undefined) {
      throw configError("password", undefined, `user "${policy.user}" needs a password`);
    }
    if (mode === "EXTERNAL" && !tls) {
      // The password travels in clear inside the login message.
      throw configError("authMode", mode, "EXTERNAL sends the password in clear and needs TLS");
    }
    authMode = mode;
  }
  const resolved: ResolvedClientPolicy = {
    seeds: Object.freeze(seeds.map((h) => Object.freeze(h))),
    user: authMode === "INTERNAL" || authMode === "EXTERNAL" ? policy.user : undefined,
    password: authMode === "INTERNAL" || authMode === "EXTERNAL" ? policy.password : undefined,
    authMode,
    tls,
    servicesAlternate: policy.servicesAlternate ?? false,
    connectTimeoutMs: positive("connectTimeoutMs", policy.connectTimeoutMs, 30000),
    idleTimeoutMs: nonNegative("idleTimeoutMs", policy.idleTimeoutMs, 55000),
    loginTimeoutMs: positive("loginTimeoutMs", policy.loginTimeoutMs, 10000),
    maxConnectionsPerNode: positive("maxConnectionsPerNode", policy.maxConnectionsPerNode, 100),
    tendIntervalMs: positive("tendIntervalMs", policy.tendIntervalMs, 1000),
    clusterName: policy.clusterName || undefined,
    infoTimeoutMs: positive("infoTimeoutMs", policy.infoTimeoutMs, 10000),
    poolWaitMs: positive("poolWaitMs", policy.poolWaitMs, 10000),
  };
  return Object.freeze(resolved);
}

/** What a scan reads. */
export interface ScanOptions {
  /** Namespace to scan. */
  namespace: string;
  /**
   * Only this set.
   *
   * @default {the whole namespace}
   */
  set?: string;
  /**
   * Only these bins.
   *
   * @default {all bins}
   */
  binNames?: string[];
  /**
   * Metadata only, no bins.
   *
   * @default {false}
   */
  noBins?: boolean;
  /**
   * Encoded filter expression (field 43).
   *
   * @default {none}
   */
  filterExpression?: Uint8Array;
  /**
   * Server-side throttle for the whole scan, split evenly across nodes; 0 = none.
   *
   * @default {0}
   */
  recordsPerSecond?: number;
  /**
   * Most records this call returns (pagination); 0 = no limit.
   *
   * @default {0}
   */
  maxRecords?: number;
  /**
   * Longest wait for any reply bytes, ms (also sent as field 9); 0 = the default.
   *
   * @default {10000}
   */
  socketTimeoutMs?: number;
  /**
   * Limit of the whole scan call, ms; 0 = none.
   *
   * @default {0}
   */
  totalTimeoutMs?: number;
  /**
   * Rounds of retries of unfinished partitions.
   *
   * @default {5}
   */
  maxRetries?: number;
  /**
   * Pause before a retry round, ms.
   *
   * @default {100}
   */
  retryDelayMs?: number;
  /**
   * Read from the master only, or from any replica on retries.
   *
   * @default {"master"}
   */
  replica?: "master" | "any";
  /**
   * Rack ids to read from: each partition is asked of a replica on one of these racks when
   * one holds it (backup-go `PREFER_RACK`), else as `replica` says.
   *
   * @default {[]}
   */
  preferRacks?: readonly number[];
  /**
   * Read only from these nodes (names): a partition none of them holds waits, and fails
   * once its retries run out (node-list backups).
   *
   * @default {[]} (any node)
   */
  nodes?: readonly string[];
  /** Stops the scan. */
  signal?: AbortSignal;
  /**
   * Told before each retry round, with its cause (`retryCause`: the failed node request's
   * result or error code, or `partition_unavailable`).
   *
   * @default {none}
   */
  onRetry?: (cause: string) => void;
}

/** {@linkcode ScanOptions} with defaults filled in. */
export type ResolvedScanOptions = Readonly<
  Required<Omit<ScanOptions, "set" | "binNames" | "filterExpression" | "signal" | "onRetry">> & {
    set?: string;
    binNames?: readonly string[];
    filterExpression?: Uint8Array;
    signal?: AbortSignal;
    onRetry?: (cause: string) => void;
  }
>;

/**
 * Fills defaults and checks scan options.
 *
 * @param opts The caller's options (not modified).
 * @returns Frozen options.
 * @throws {RangeError} For a bad namespace, number or combination (bins with no-bins).
 */
export function resolveScanOptions(opts: ScanOptions): ResolvedScanOptions {
  if (
    typeof opts.namespace !== "string" || opts.namespace.length < 1 || opts.namespace.length > 31
  ) {
    throw new RangeError(
      `Invalid namespace ${JSON.stringify(opts.namespace)}: must be 1..31 characters`,
    );
  }
  if (opts.noBins && opts.binNames && opts.binNames.length > 0) {
    throw new RangeError("Invalid scan options: binNames cannot be combined with noBins");
  }
  const num = (name: string, v: number | undefined, def: number) => {
    const x = v ?? def;
    if (!Number.isInteger(x) || x < 0) {
      throw new RangeError(`Invalid ${name} ${v}: must be an integer >= 0`);
    }
    return x;
  };
  const replica = opts.replica ?? "master";
  if (replica !== "master" && replica !== "any") {
    throw new RangeError(
      `Invalid replica ${JSON.stringify(opts.replica)}: expected "master" or "any"`,
    );
  }
  for (const rack of opts.preferRacks ?? []) {
    if (!Number.isInteger(rack) || rack < 0) {
      throw new RangeError(`Invalid preferRacks entry ${rack}: must be an integer >= 0`);
    }
  }
  const socket = num("socketTimeoutMs", opts.socketTimeoutMs, 10000);
  return Object.freeze({
    namespace: opts.namespace,
    set: opts.set === "" ? undefined : opts.set,
    binNames: opts.binNames && opts.binNames.length > 0
      ? Object.freeze([...opts.binNames])
      : undefined,
    noBins: opts.noBins ?? false,
    filterExpression: opts.filterExpression,
    recordsPerSecond: num("recordsPerSecond", opts.recordsPerSecond, 0),
    maxRecords: num("maxRecords", opts.maxRecords, 0),
    // 0 would mean "wait forever" in Aerospike clients; nothing here may wait forever.
    socketTimeoutMs: socket === 0 ? 10000 : socket,
    totalTimeoutMs: num("totalTimeoutMs", opts.totalTimeoutMs, 0),
    maxRetries: num("maxRetries", opts.maxRetries, 5),
    retryDelayMs: num("retryDelayMs", opts.retryDelayMs, 100),
    replica,
    preferRacks: Object.freeze([...(opts.preferRacks ?? [])]),
    nodes: Object.freeze([...(opts.nodes ?? [])]),
    signal: opts.signal,
    onRetry: opts.onRetry,
  });
}

/**
 * How a write treats an existing record, its generation and the timeouts: the request's
 * bits ({@linkcode WriteRequestPolicy}) plus the client's time limits.
 */
export interface WritePolicy extends WriteRequestPolicy {
  /**
   * Limit of the whole command in ms (also sent to the server).
   *
   * @default {10000}
   */
  totalTimeoutMs?: number;
  /**
   * Longest wait for reply bytes, ms.
   *
   * @default {10000}
   */
  socketTimeoutMs?: number;
}

/** {@linkcode WritePolicy} with defaults filled in. */
export type ResolvedWritePolicy = Readonly<Required<WritePolicy>>;

const EXISTS = ["update", "updateOnly", "replace", "replaceOnly", "createOnly"];
const GENERATION = ["none", "expectGenEqual", "expectGenGreater"];

/**
 * Fills defaults and checks a write policy.
 *
 * @param policy The caller's policy (not modified).
 * @returns A frozen policy.
 * @throws {RangeError} For an unknown action or a negative timeout.
 */
export function resolveWritePolicy(policy: WritePolicy = {}): ResolvedWritePolicy {
  const exists = policy.recordExistsAction ?? "update";
  if (!EXISTS.includes(exists)) {
    throw new RangeError(
      `Invalid recordExistsAction ${JSON.stringify(exists)}: expected ${EXISTS.join(", ")}`,
    );
  }
  const gen = policy.generationPolicy ?? "none";
  if (!GENERATION.includes(gen)) {
    throw new RangeError(
      `Invalid generationPolicy ${JSON.stringify(gen)}: expected ${GENERATION.join(", ")}`,
    );
  }
  const total = policy.totalTimeoutMs ?? 10000;
  const socket = policy.socketTimeoutMs ?? 10000;
  if (!(total >= 0) || !(socket >= 0)) {
    throw new RangeError(`Invalid write timeouts total ${total} socket ${socket}: must be >= 0`);
  }
  return Object.freeze({
    recordExistsAction: exists,
    generationPolicy: gen,
    sendKey: policy.sendKey ?? true,
    totalTimeoutMs: total,
    socketTimeoutMs: socket === 0 ? (total > 0 ? total : 10000) : socket,
    durableDelete: policy.durableDelete ?? false,
  });
}
