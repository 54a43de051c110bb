/**
 * Checks shared by the config resolvers (private): each throws an {@linkcode AerobakError}
 * with code `CONFIG_INVALID` that names the option and the value given.
 *
 * @module
 */

import { AerobakError } from "./errors.ts";

/**
 * Builds the error every config check throws: `Invalid <field> <value>: expected <what>`.
 *
 * @param field Dotted name of the option.
 * @param value The value that was given.
 * @param expected What would have been accepted.
 * @returns An {@linkcode AerobakError} with code `CONFIG_INVALID`.
 */
export function invalidConfig(field: string, value: unknown, expected: string): AerobakError {
  return new AerobakError(
    "CONFIG_INVALID",
    `Invalid ${field} ${showValue(value)}: expected ${expected}`,
  );
}

/**
 * Checks that a value is a finite number of at least `min`.
 *
 * @param field Dotted name of the option.
 * @param value The value.
 * @param min Smallest value accepted.
 * @param max Largest value accepted.
 * @throws {AerobakError} `CONFIG_INVALID` otherwise.
 */
export function requireNumber(field: string, value: unknown, min: number, max = Infinity): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalidConfig(field, value, rangeText("a number", min, max));
  }
}

/**
 * Checks that a value is a safe integer in `[min, max]`.
 *
 * @param field Dotted name of the option.
 * @param value The value.
 * @param min Smallest value accepted.
 * @param max Largest value accepted.
 * @throws {AerobakError} `CONFIG_INVALID` otherwise.
 */
export function requireInteger(
  field: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidConfig(field, value, rangeText("an integer", min, max));
  }
}

/**
 * Checks that a value is one of a fixed list; an unknown mode is an error, never a fallback.
 *
 * @param field Dotted name of the option.
 * @param value The value.
 * @param allowed The accepted values.
 * @throws {AerobakError} `CONFIG_INVALID` otherwise.
 */
export function requireOneOf(field: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw invalidConfig(field, value, `one of ${allowed.join(", ")}`);
  }
}

/**
 * Checks that a list holds no value twice.
 *
 * @param field Dotted name of the option.
 * @param list The list.
 * @throws {AerobakError} `CONFIG_INVALID` naming the first duplicate.
 */
export function requireNoDuplicates(field: string, list: readonly unknown[]): void {
  const seen = new Set<unknown>();
  for (const v of list) {
    if (seen.has(v)) {
      throw new AerobakError("CONFIG_INVALID", `Invalid ${field}: duplicate entry ${showValue(v)}`);
    }
    seen.add(v);
  }
}

function rangeText(kind: string, min: number, max: number): string {
  const hasMax = max !== Infinity && max !== Number.MAX_SAFE_INTEGER;
  if (hasMax) return `${kind} from ${min} to ${max}`;
  return min === 0 ? `${kind} of at least 0` : `${kind} of at least ${min}`;
}

function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}`;
  if (Array.isArray(value)) return `[${value.map(showValue).join(", ")}]`;
  if (value === undefined) return "(missing)";
  return String(value);
}

/**
 * Decodes standard padded base64 (Go's `base64.StdEncoding`), strictly.
 *
 * @param field Dotted name of the option, for the message.
 * @param text The base64 text.
 * @returns The decoded bytes.
 * @throws {AerobakError} `CONFIG_INVALID` when the text is not valid padded base64.
 */
export function decodeBase64(field: string, text: string): Uint8Array {
  try {
    return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    throw invalidConfig(field, text, "standard base64 text");
  }
}

/**
 * Checks a list of names: each a non-empty string, none twice.
 *
 * @param field Dotted name of the option.
 * @param list The names.
 * @returns A frozen copy of the list.
 * @throws {AerobakError} `CONFIG_INVALID` naming the bad entry.
 */
export function resolveNameList(
  field: string,
  list: readonly string[] | undefined,
): readonly string[] {
  const out = [...(list ?? [])];
  for (const name of out) {
    if (typeof name !== "string" || name === "") {
      throw invalidConfig(field, out, "a list of non-empty names");
    }
  }
  requireNoDuplicates(field, out);
  return Object.freeze(out);
}
