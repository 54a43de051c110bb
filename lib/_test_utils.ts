/**
 * Test helpers shared across areas: error assertions, joining bytes, temporary directories.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AerobakError } from "./errors.ts";

/**
 * Asserts that a promise rejects with an {@linkcode AerobakError} of the given code whose
 * message matches `mention`.
 *
 * @param p The promise.
 * @param code The expected error code.
 * @param mention What the message must say.
 */
export async function rejectsCode(
  p: Promise<unknown>,
  code: string,
  mention: RegExp,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AerobakError, `expected AerobakError, got ${err}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, mention);
    return true;
  });
}

/**
 * Joins byte arrays into one.
 *
 * @param parts The arrays, in order.
 * @returns A new array holding all their bytes.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Runs `fn` with a new temporary directory, removed afterwards whatever happens.
 *
 * @param fn The body.
 * @param prefix Name prefix of the directory.
 * @returns What `fn` returns.
 */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "aerobak-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
