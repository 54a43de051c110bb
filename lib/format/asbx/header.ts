/**
 * The 44-byte header at the start of every ASBX file: version, file number, namespace.
 *
 * @module
 */

import type { FileLocation } from "../../errors.ts";
import { asbxError } from "./_error.ts";

/** The only ASBX format version there is. */
export const ASBX_VERSION = 1;

/** Size of the file header in bytes. */
export const ASBX_HEADER_SIZE = 44;

/** Bytes the namespace may take in the header (longer names are truncated). */
export const ASBX_NAMESPACE_SIZE = 31;

// Header layout: version (1), file number (8), reserved (4), namespace (31).
const FILE_NUMBER_AT = 1;
const NAMESPACE_AT = 13;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A decoded ASBX file header. */
export interface AsbxHeader {
  /** Format version (always {@linkcode ASBX_VERSION}). */
  version: number;
  /** The run-wide file number, equal to the `<n>` of the file name. */
  fileNumber: number;
  /** The namespace the file's records belong to. */
  namespace: string;
}

/**
 * Builds the header of an ASBX file.
 *
 * @param namespace Namespace; its UTF-8 is truncated to 31 bytes as backup-go does.
 * @param fileNumber The file number (the `<n>` of the file name), ≥ 1.
 * @returns The 44 header bytes.
 * @throws {RangeError} For an empty namespace or a file number that is not a safe
 *   non-negative integer.
 *
 * @example Header of `0_test_1.asbx`
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeAsbxHeader } from "./header.ts";
 * const h = encodeAsbxHeader("test", 1);
 * assert.equal(h.length, 44);
 * assert.deepEqual([...h.subarray(0, 17)], [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x74, 0x65, 0x73, 0x74]);
 * ```
 */
export function encodeAsbxHeader(namespace: string, fileNumber: number): Uint8Array {
  if (namespace === "") throw new RangeError("Cannot write an ASBX header: namespace is empty");
  if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) {
    throw new RangeError(`Cannot write an ASBX header: invalid file number ${fileNumber}`);
  }
  const head = new Uint8Array(ASBX_HEADER_SIZE);
  head[0] = ASBX_VERSION;
  new DataView(head.buffer).setBigUint64(FILE_NUMBER_AT, BigInt(fileNumber));
  // Byte-wise truncation like backup-go's stringToField (it may cut a multi-byte character).
  const ns = utf8.encode(namespace);
  head.set(ns.subarray(0, ASBX_NAMESPACE_SIZE), NAMESPACE_AT);
  return head;
}

/**
 * Decodes and checks an ASBX header.
 *
 * @param head The first 44 bytes of a file.
 * @param location File name for errors.
 * @returns The header.
 * @throws {AerobakError} `ASBX_VERSION` for a version other than 1, `ASBX_HEADER` for an
 *   empty namespace or a file number above 2^53, `ASBX_TRUNCATED` when fewer than 44 bytes
 *   are given. Each names the file and byte offset.
 */
export function decodeAsbxHeader(head: Uint8Array, location: FileLocation = {}): AsbxHeader {
  if (head.length < ASBX_HEADER_SIZE) {
    throw asbxError(
      "ASBX_TRUNCATED",
      `file ends after ${head.length} bytes of the 44-byte header`,
      { ...location, offset: head.length },
    );
  }
  if (head[0] !== ASBX_VERSION) {
    throw asbxError("ASBX_VERSION", `unsupported version ${head[0]}, expected 1`, {
      ...location,
      offset: 0,
    });
  }
  const view = new DataView(head.buffer, head.byteOffset, ASBX_HEADER_SIZE);
  const n = view.getBigUint64(FILE_NUMBER_AT);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw asbxError("ASBX_HEADER", `file number ${n} is too large`, {
      ...location,
      offset: FILE_NUMBER_AT,
    });
  }
  let end = ASBX_HEADER_SIZE;
  while (end > NAMESPACE_AT && head[end - 1] === 0) end--;
  if (end === NAMESPACE_AT) {
    throw asbxError("ASBX_HEADER", "namespace is empty", { ...location, offset: NAMESPACE_AT });
  }
  return {
    version: ASBX_VERSION,
    fileNumber: Number(n),
    namespace: utf8Decoder.decode(head.subarray(NAMESPACE_AT, end)),
  };
}
