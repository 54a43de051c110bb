/**
 * Error helpers shared by the XDR modules.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";

/**
 * Wraps anything thrown into an AerobakError.
 *
 * @param err The thrown value.
 * @param code Code for values that are not AerobakErrors. @default "XDR_COMMAND_FAILED"
 * @returns `err` itself, or an error caused by it.
 */
export function asAerobakError(err: unknown, code = "XDR_COMMAND_FAILED"): AerobakError {
  if (err instanceof AerobakError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AerobakError(code, message, { cause: err });
}
