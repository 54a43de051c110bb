/**
 * The error every ASBX decoding failure throws.
 *
 * @module
 */

import { AerobakError, type FileLocation, formatLocation } from "../../errors.ts";

/**
 * Builds an ASBX decoding error whose message and `location` name the file and offset.
 *
 * @param code Stable code.
 * @param what What is wrong.
 * @param location File and byte offset.
 * @returns The error.
 */
export function asbxError(code: string, what: string, location: FileLocation): AerobakError {
  return new AerobakError(code, `Invalid ASBX file ${formatLocation(location)}: ${what}`, {
    location,
  });
}
