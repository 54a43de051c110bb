/**
 * The error classes every layer of aerobak throws.
 *
 * Each error carries a stable string `code` that callers may match on, never the message
 * text, plus what it concerns: a node for wire errors, a file position for decoding errors,
 * a record for per-record failures.
 *
 * @module
 */

/** Where in a file a decoding error was found. */
export interface FileLocation {
  /** File name or path, or `"<stdin>"`. */
  file?: string;
  /** 1-based line number. */
  line?: number;
  /** 1-based column (byte within the line). */
  column?: number;
  /** 0-based byte offset from the start of the (decompressed, decrypted) stream. */
  offset?: number;
}

/** The node a wire error concerns. */
export interface NodeRef {
  /** `host:port` the connection was made to. */
  address: string;
  /** Node name as reported by the `node` info command, when known. */
  name?: string;
}

/** The record a per-record error concerns. */
export interface RecordRef {
  /** Namespace of the record. */
  namespace: string;
  /** Set of the record, `""` when it has none. */
  set: string;
  /** Base64 of the 20-byte digest. */
  digest: string;
}

/** Options accepted by {@linkcode AerobakError}. */
export interface AerobakErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Node the error concerns. */
  node?: NodeRef;
  /** File position the error concerns. */
  location?: FileLocation;
  /** Record the error concerns. */
  record?: RecordRef;
  /** Numeric Aerospike result code, for server errors. */
  resultCode?: number;
  /** Whether the operation may succeed when tried again. */
  retriable?: boolean;
  /** Whether a write may have been applied although it failed. */
  inDoubt?: boolean;
}

/**
 * Base class of every error aerobak throws on purpose.
 *
 * @example Match on the code, not the message
 * ```ts
 * import { AerobakError } from "./errors.ts";
 * const err = new AerobakError("CONNECT_TIMEOUT", "Cannot connect to 127.0.0.1:3000: timed out");
 * if (err.code === "CONNECT_TIMEOUT") console.log("retry later");
 * ```
 */
export class AerobakError extends Error {
  /** Stable machine-readable code such as `"CONNECT_TIMEOUT"` or `"ASB_SYNTAX"`. */
  readonly code: string;
  /** Node the error concerns, for wire errors. */
  readonly node?: NodeRef;
  /** File position the error concerns, for decoding errors. */
  readonly location?: FileLocation;
  /** Record the error concerns, for per-record errors. */
  readonly record?: RecordRef;
  /** Aerospike result code, for errors the server reported. */
  readonly resultCode?: number;
  /** Whether trying again may succeed. */
  readonly retriable: boolean;
  /** Whether a write may have been applied although it failed. */
  readonly inDoubt: boolean;

  /**
   * Creates an error.
   *
   * @param code Stable machine-readable code.
   * @param message Human-readable message (capitalised, no final period).
   * @param options What the error concerns.
   */
  constructor(code: string, message: string, options: AerobakErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AerobakError";
    this.code = code;
    this.node = options.node;
    this.location = options.location;
    this.record = options.record;
    this.resultCode = options.resultCode;
    this.retriable = options.retriable ?? false;
    this.inDoubt = options.inDoubt ?? false;
  }
}

/**
 * Formats a file location as `file:line:column (byte offset N)` for messages.
 *
 * @param loc The location.
 * @returns A short text naming the position.
 */
export function formatLocation(loc: FileLocation): string {
  let text = loc.file ?? "<input>";
  if (loc.line !== undefined) text += `:${loc.line}`;
  if (loc.column !== undefined) text += `:${loc.column}`;
  if (loc.offset !== undefined) text += ` (byte offset ${loc.offset})`;
  return text;
}

/**
 * Shows the control characters of a text escaped (`\n`, `\u0007`), so a message that
 * quotes damaged input stays one line.
 *
 * @example
 * ```ts
 * import { oneLine } from "./errors.ts";
 * console.log(oneLine("bad\nvalue")); // bad\nvalue
 * ```
 *
 * @param text The text.
 * @returns The text on one line.
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}
