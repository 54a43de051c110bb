/**
 * Aerospike result codes, their names, and how backup/restore classifies them.
 *
 * @module
 */

import { AerobakError, type NodeRef, type RecordRef } from "../errors.ts";

/** Server result codes (AS_MSG byte 5) and the client-side codes the tools classify. */
export const ResultCode = {
  // Client-side (Go numbering).
  BATCH_FAILED: -20,
  NETWORK_ERROR: -18,
  MAX_RETRIES_EXCEEDED: -16,
  MAX_ERROR_RATE: -15,
  SERVER_NOT_AVAILABLE: -11,
  NO_AVAILABLE_CONNECTIONS_TO_NODE: -8,
  // Server.
  OK: 0,
  SERVER_ERROR: 1,
  KEY_NOT_FOUND: 2,
  GENERATION_ERROR: 3,
  PARAMETER_ERROR: 4,
  KEY_EXISTS_ERROR: 5,
  BIN_EXISTS_ERROR: 6,
  CLUSTER_KEY_MISMATCH: 7,
  SERVER_MEM_ERROR: 8,
  TIMEOUT: 9,
  ALWAYS_FORBIDDEN: 10,
  PARTITION_UNAVAILABLE: 11,
  BIN_TYPE_ERROR: 12,
  RECORD_TOO_BIG: 13,
  KEY_BUSY: 14,
  SCAN_ABORT: 15,
  UNSUPPORTED_FEATURE: 16,
  BIN_NOT_FOUND: 17,
  DEVICE_OVERLOAD: 18,
  KEY_MISMATCH: 19,
  INVALID_NAMESPACE: 20,
  BIN_NAME_TOO_LONG: 21,
  FAIL_FORBIDDEN: 22,
  ELEMENT_NOT_FOUND: 23,
  ELEMENT_EXISTS: 24,
  ENTERPRISE_ONLY: 25,
  OP_NOT_APPLICABLE: 26,
  FILTERED_OUT: 27,
  LOST_CONFLICT: 28,
  XDR_KEY_BUSY: 32,
  QUERY_END: 50,
  SECURITY_NOT_SUPPORTED: 51,
  SECURITY_NOT_ENABLED: 52,
  SECURITY_SCHEME_NOT_SUPPORTED: 53,
  INVALID_COMMAND: 54,
  INVALID_FIELD: 55,
  ILLEGAL_STATE: 56,
  INVALID_USER: 60,
  USER_ALREADY_EXISTS: 61,
  INVALID_PASSWORD: 62,
  EXPIRED_PASSWORD: 63,
  FORBIDDEN_PASSWORD: 64,
  INVALID_CREDENTIAL: 65,
  EXPIRED_SESSION: 66,
  INVALID_ROLE: 70,
  ROLE_ALREADY_EXISTS: 71,
  INVALID_PRIVILEGE: 72,
  INVALID_WHITELIST: 73,
  QUOTAS_NOT_ENABLED: 74,
  INVALID_QUOTA: 75,
  NOT_AUTHENTICATED: 80,
  ROLE_VIOLATION: 81,
  NOT_WHITELISTED: 82,
  QUOTA_EXCEEDED: 83,
  UDF_BAD_RESPONSE: 100,
  MRT_BLOCKED: 120,
  MRT_VERSION_MISMATCH: 121,
  MRT_EXPIRED: 122,
  MRT_TOO_MANY_WRITES: 123,
  MRT_COMMITTED: 124,
  MRT_ABORTED: 125,
  MRT_ALREADY_LOCKED: 126,
  MRT_MONITOR_EXISTS: 127,
  BATCH_DISABLED: 150,
  BATCH_MAX_REQUESTS_EXCEEDED: 151,
  BATCH_QUEUES_FULL: 152,
  GEO_INVALID_GEOJSON: 160,
  INDEX_FOUND: 200,
  INDEX_NOTFOUND: 201,
  INDEX_OOM: 202,
  INDEX_NOTREADABLE: 203,
  INDEX_GENERIC: 204,
  INDEX_NAME_MAXLEN: 205,
  INDEX_MAXCOUNT: 206,
  QUERY_ABORTED: 210,
  QUERY_QUEUEFULL: 211,
  QUERY_TIMEOUT: 212,
  QUERY_GENERIC: 213,
  QUERY_NETIO_ERR: 214,
  QUERY_DUPLICATE: 215,
} as const;

const NAMES = new Map<number, string>(
  Object.entries(ResultCode).map(([name, code]) => [code, name]),
);

/**
 * The symbolic name of a result code.
 *
 * @param code A result code.
 * @returns Its name, e.g. `"KEY_NOT_FOUND"`, or `"UNKNOWN_<code>"`.
 */
export function resultCodeName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_${code}`;
}

/**
 * Names why an operation is tried again, for retry counts by cause: the result code's name
 * for a server answer (`timeout`, `key_busy`, `partition_unavailable`, …), the error code
 * of an aerobak error without one (`socket_timeout`, `connection_closed`, …), `network`
 * for anything else.
 *
 * @param reason A result code, or the error that failed the attempt.
 * @returns A snake_case cause.
 *
 * @example
 * ```ts
 * import { retryCause } from "./result_code.ts";
 * console.log(retryCause(14)); // "key_busy"
 * ```
 */
export function retryCause(reason: number | unknown): string {
  if (typeof reason === "number") return resultCodeName(reason).toLowerCase();
  if (reason instanceof AerobakError) {
    if (reason.resultCode !== undefined) return resultCodeName(reason.resultCode).toLowerCase();
    return reason.code.toLowerCase();
  }
  return "network";
}

// backup-go retries these with backoff; 1 (unknown), 7, 11, 14, 151, 152 are transient
// server states both tools retry as well.
const RETRIABLE = new Set<number>([
  -20,
  -18,
  -16,
  -15,
  -11,
  -8,
  1,
  7,
  9,
  11,
  14,
  18,
  151,
  152,
]);

// Failures tied to one record: restore may skip them (--ignore-record-error).
const RECORD_SPECIFIC = new Set<number>([13, 19, 21, 10, 22, 12, 17]);

/**
 * Whether an operation that failed with `code` may succeed when tried again.
 *
 * @param code A result code.
 * @returns `true` for timeouts, overloads, unavailable partitions and network errors.
 */
export function isRetriable(code: number): boolean {
  return RETRIABLE.has(code);
}

/**
 * Whether `code` concerns one record only (13, 19, 21, 10, 22, 12, 17): restore may skip
 * the record and go on.
 *
 * @param code A result code.
 * @returns `true` for the record-specific codes.
 */
export function isRecordSpecific(code: number): boolean {
  return RECORD_SPECIFIC.has(code);
}

/** What a server error concerns, for {@linkcode serverError}. */
export interface ServerErrorContext {
  /** The command that failed, e.g. `"put"`, `"scan"`, `"login"`. */
  command?: string;
  /** Node that answered. */
  node?: NodeRef;
  /** Record concerned. */
  record?: RecordRef;
  /**
   * Whether the command was a write (a timeout then leaves the write in doubt).
   *
   * @default {false}
   */
  write?: boolean;
}

/**
 * Builds the error for a non-zero server result code.
 *
 * @param code The result code.
 * @param context What failed.
 * @returns An {@linkcode AerobakError} with code `"SERVER_ERROR"`, `resultCode`, and
 * `retriable`/`inDoubt` set from the classification.
 */
export function serverError(code: number, context: ServerErrorContext = {}): AerobakError {
  const what = context.command ? `${context.command} failed` : "Command failed";
  const where = context.node ? ` on ${context.node.name ?? context.node.address}` : "";
  const message = `${what[0].toUpperCase()}${what.slice(1)}${where}: server returned ${code} ${
    resultCodeName(code)
  }`;
  return new AerobakError("SERVER_ERROR", message, {
    resultCode: code,
    node: context.node,
    record: context.record,
    retriable: isRetriable(code),
    // A write that timed out or lost its connection may still have been applied.
    inDoubt: (context.write ?? false) && (code === 9 || code === -18),
  });
}
