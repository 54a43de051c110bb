/**
 * AES-CTR encryption of backup files, in the layout of the C asbackup and backup-go.
 *
 * A file is `AES_ECB_encrypt(key, C0)` (16 bytes) followed by the data encrypted with
 * AES-CTR whose first counter block is `C0 + 1` (128-bit big-endian, continuous over the
 * whole file). AES-128 or AES-256 is chosen by the key length.
 *
 * @module
 */

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AerobakError } from "../errors.ts";

/** Encryption modes of backup files. */
export type EncryptionMode = "NONE" | "AES128" | "AES256";

/**
 * How backup files are encrypted (backup-go `EncryptionPolicy`, CLI `--encrypt` and
 * `--encryption-key-*`). Exactly one key source is used when the mode is not `"NONE"`.
 */
export interface EncryptionPolicy {
  /** `"NONE"`, `"AES128"` or `"AES256"`. */
  mode: EncryptionMode;
  /** Path of a PEM RSA private key (PKCS#1 or PKCS#8). */
  keyFile?: string;
  /** Name of an environment variable holding the key (PEM, base64 PEM, or base64 DER). */
  keyEnv?: string;
  /** `secrets:<resource>:<key>` naming the key in the Secret Agent. */
  keySecret?: string;
}

/** Length of the encrypted counter block at the start of every encrypted file. */
export const ENCRYPTION_HEADER_SIZE = 16;

/** Options of {@linkcode createEncryptStream}. */
export interface EncryptOptions {
  /**
   * The 16-byte initial counter `C0`, for reproducible output in tests.
   * @default {16 random bytes}
   */
  counter?: Uint8Array;
}

/** Options of {@linkcode createDecryptStream}. */
export interface DecryptOptions {
  /**
   * File name used in error messages.
   * @default {"<input>"}
   */
  file?: string;
}

function algorithm(key: Uint8Array): "aes-128" | "aes-256" {
  if (key.length === 16) return "aes-128";
  if (key.length === 32) return "aes-256";
  throw new RangeError(`Cannot use an AES key of ${key.length} bytes: expected 16 or 32`);
}

/**
 * Returns `c + 1` as a new 16-byte block (128-bit big-endian, wrapping to zero).
 *
 * @param c A 16-byte counter block.
 * @returns The next counter block.
 */
export function incrementCounter(c: Uint8Array): Uint8Array {
  const out = c.slice();
  for (let i = 15; i >= 0; i--) {
    out[i] = (out[i] + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return out;
}

function ecb(key: Uint8Array, block: Uint8Array, encrypt: boolean): Uint8Array {
  const name = `${algorithm(key)}-ecb`;
  const c = encrypt ? createCipheriv(name, key, null) : createDecipheriv(name, key, null);
  c.setAutoPadding(false);
  const a = c.update(block);
  const b = c.final();
  return b.length === 0 ? new Uint8Array(a) : new Uint8Array([...a, ...b]);
}

function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Creates the encrypting stage of a backup file.
 *
 * The first output chunk is the 16-byte encrypted counter block; data chunks of any size
 * (not only multiples of 16) are encrypted as one continuous CTR stream.
 *
 * @example Encrypt with AES-256
 * ```ts
 * import { createEncryptStream } from "./encryption.ts";
 * const key = new Uint8Array(32);
 * const out = ReadableStream.from([new TextEncoder().encode("Version 3.1\n")])
 *   .pipeThrough(createEncryptStream(key));
 * let n = 0;
 * for await (const chunk of out) n += chunk.length;
 * console.log(n); // 16 + 12
 * ```
 *
 * @param key 16-byte (AES-128) or 32-byte (AES-256) key from {@linkcode loadEncryptionKey}.
 * @param options Fixed counter for tests.
 * @returns A transform stream producing the encrypted file.
 * @throws {RangeError} For a key that is not 16 or 32 bytes, or a counter not 16 bytes.
 */
export function createEncryptStream(
  key: Uint8Array,
  options: EncryptOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const alg = algorithm(key);
  const c0 = options.counter ?? new Uint8Array(randomBytes(16));
  if (c0.length !== 16) throw new RangeError(`Cannot use a counter of ${c0.length} bytes: expected 16`);
  const cipher = createCipheriv(`${alg}-ctr`, key, incrementCounter(c0));
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      controller.enqueue(ecb(key, c0, true));
    },
    transform(chunk, controller) {
      if (chunk.length > 0) controller.enqueue(view(cipher.update(chunk)));
    },
    flush(controller) {
      const rest = cipher.final();
      if (rest.length > 0) controller.enqueue(view(rest));
    },
  });
}

/**
 * Creates the decrypting stage of a restored file: reads the counter block, then decrypts.
 *
 * A wrong key cannot be detected here (CTR has no integrity check); it shows as garbage that
 * the ASB header check ({@linkcode createHeaderCheckStream}) reports.
 *
 * @param key 16-byte (AES-128) or 32-byte (AES-256) key.
 * @param options File name for messages.
 * @returns A transform stream producing the plain (possibly compressed) file.
 * @throws {RangeError} For a key that is not 16 or 32 bytes.
 * @throws {AerobakError} Through the stream: `ENCRYPTION_TRUNCATED` when the file is
 *   shorter than the 16-byte counter block.
 */
export function createDecryptStream(
  key: Uint8Array,
  options: DecryptOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const alg = algorithm(key);
  const file = options.file ?? "<input>";
  const head = new Uint8Array(ENCRYPTION_HEADER_SIZE);
  let headLen = 0;
  let decipher: ReturnType<typeof createDecipheriv> | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      let data = chunk;
      if (!decipher) {
        const take = Math.min(ENCRYPTION_HEADER_SIZE - headLen, data.length);
        head.set(data.subarray(0, take), headLen);
        headLen += take;
        data = data.subarray(take);
        if (headLen < ENCRYPTION_HEADER_SIZE) return;
        const c0 = ecb(key, head, false);
        decipher = createDecipheriv(`${alg}-ctr`, key, incrementCounter(c0));
      }
      if (data.length > 0) controller.enqueue(view(decipher.update(data)));
    },
    flush(controller) {
      if (!decipher) {
        throw new AerobakError(
          "ENCRYPTION_TRUNCATED",
          `Cannot decrypt ${file}: it has ${headLen} bytes, fewer than the ${ENCRYPTION_HEADER_SIZE}-byte counter block of an encrypted backup file`,
          { location: { file, offset: headLen } },
        );
      }
      const rest = decipher.final();
      if (rest.length > 0) controller.enqueue(view(rest));
    },
  });
}
