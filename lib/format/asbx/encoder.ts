/**
 * ASBX encoding: the file header, the records (digest, 48-bit length, raw XDR message) and
 * the run-wide file numbering.
 *
 * @module
 */

import type { ByteWriter } from "../../aerospike/byte_writer.ts";
import { asbxFileName } from "./file_name.ts";
import { encodeAsbxHeader } from "./header.ts";

/** Size of a record's fixed part: 20-byte digest + 6-byte payload length. */
export const ASBX_RECORD_HEADER_SIZE = 26;

/** Largest payload written or read (128 MiB, the proto size limit). */
export const ASBX_MAX_PAYLOAD_SIZE = 128 * 1024 * 1024;

/** Size of a digest. */
const DIGEST_SIZE = 20;

/**
 * One ASBX record: a raw XDR write or delete message and the digest it concerns.
 *
 * `payload` is a whole type-3 proto message (8-byte proto header + AS_MSG) exactly as XDR
 * shipped it, except that the XDR bit of info1 is cleared.
 */
export interface AsbxToken {
  /** Namespace (from the message at backup time, from the file header at restore). */
  namespace: string;
  /** The record's 20-byte digest. */
  digest: Uint8Array;
  /** The whole message, proto header included. */
  payload: Uint8Array;
}

/**
 * Writes one ASBX record into a caller-owned buffer.
 *
 * @param buf Destination, with room for `26 + payload.length` bytes from `offset`.
 * @param offset Where the record starts.
 * @param digest 20-byte digest.
 * @param payload The message.
 * @returns The offset after the record.
 * @throws {RangeError} For a digest that is not 20 bytes, a payload above 128 MiB or a
 *   buffer too small.
 */
export function writeAsbxRecord(
  buf: Uint8Array,
  offset: number,
  digest: Uint8Array,
  payload: Uint8Array,
): number {
  checkRecord(digest, payload);
  const end = offset + ASBX_RECORD_HEADER_SIZE + payload.length;
  if (end > buf.length) {
    throw new RangeError(`Cannot write an ASBX record of ${end - offset} bytes at ${offset}`);
  }
  buf.set(digest, offset);
  const n = payload.length;
  // 48-bit length; the top 16 bits are 0 below the 128 MiB cap.
  buf[offset + 20] = 0;
  buf[offset + 21] = 0;
  buf[offset + 22] = (n >>> 24) & 0xff;
  buf[offset + 23] = (n >>> 16) & 0xff;
  buf[offset + 24] = (n >>> 8) & 0xff;
  buf[offset + 25] = n & 0xff;
  buf.set(payload, offset + ASBX_RECORD_HEADER_SIZE);
  return end;
}

function checkRecord(digest: Uint8Array, payload: Uint8Array): void {
  if (digest.length !== DIGEST_SIZE) {
    throw new RangeError(`Cannot write an ASBX record: digest of ${digest.length} bytes`);
  }
  if (payload.length > ASBX_MAX_PAYLOAD_SIZE) {
    throw new RangeError(
      `Cannot write an ASBX record: payload of ${payload.length} bytes exceeds ${ASBX_MAX_PAYLOAD_SIZE}`,
    );
  }
}

/** A file opened by {@linkcode AsbxEncoder.nextFile}. */
export interface AsbxFile {
  /** File name, `<prefix><namespace>_<n>.asbx`. */
  name: string;
  /** The file number `<n>`. */
  fileNumber: number;
  /** The 44-byte header to write first. */
  header: Uint8Array;
}

/**
 * Encodes the ASBX files of one backup run. One encoder is shared by all writers of the
 * run: file numbers are a run-wide counter starting at 1, as in backup-go.
 *
 * @example Name, header and one record
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter } from "../../aerospike/byte_writer.ts";
 * import { AsbxEncoder } from "./encoder.ts";
 * const enc = new AsbxEncoder("test");
 * const file = enc.nextFile("0_");
 * assert.equal(file.name, "0_test_1.asbx");
 * const w = new ByteWriter();
 * const n = enc.encodeToken(w, { namespace: "test", digest: new Uint8Array(20), payload: new Uint8Array(30) });
 * assert.equal(n, 56);
 * ```
 */
export class AsbxEncoder {
  readonly #namespace: string;
  #fileNumber = 0;

  /**
   * Creates the encoder of one backup run.
   *
   * @param namespace Namespace of the backup.
   * @throws {RangeError} For an empty namespace.
   */
  constructor(namespace: string) {
    if (namespace === "") throw new RangeError("Cannot encode ASBX: namespace is empty");
    this.#namespace = namespace;
  }

  /** Namespace of the backup. */
  get namespace(): string {
    return this.#namespace;
  }

  /** Number of files opened so far (= the last file number). */
  get filesOpened(): number {
    return this.#fileNumber;
  }

  /**
   * Takes the next file number and returns the file's name and header.
   *
   * @param prefix Text before the namespace, normally `"<writer>_"`.
   * @returns Name, number and header.
   */
  nextFile(prefix: string): AsbxFile {
    const fileNumber = ++this.#fileNumber;
    return {
      name: asbxFileName(prefix, this.#namespace, fileNumber),
      fileNumber,
      header: encodeAsbxHeader(this.#namespace, fileNumber),
    };
  }

  /**
   * Appends one record.
   *
   * @param w Destination.
   * @param token The record.
   * @returns Bytes appended (26 + payload length).
   * @throws {RangeError} For a digest that is not 20 bytes or a payload above 128 MiB.
   */
  encodeToken(w: ByteWriter, token: AsbxToken): number {
    checkRecord(token.digest, token.payload);
    w.bytes(token.digest);
    const n = token.payload.length;
    w.u16(0);
    w.u32(n);
    w.bytes(token.payload);
    return ASBX_RECORD_HEADER_SIZE + n;
  }
}
