/**
 * Writes ASBX records to a writer's sequence of files: the first file opens on the first
 * record, each file starts with its 44-byte header, and a file is closed and the next one
 * opened once it holds the file limit on disk (same rule as ASB files). Bytes go through
 * compression → encryption → byte count → storage (`openFileChain`).
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import { AerobakError } from "../errors.ts";
import type { AsbxEncoder, AsbxToken } from "../format/asbx/encoder.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import { type FileChain, openFileChain } from "../io/file_chain.ts";
import type { StorageWriter } from "../io/storage.ts";
import type { PipeWriter } from "../pipeline/pipe.ts";

/** Encoded bytes are handed to the chain in blocks of about this size. */
const FLUSH_SIZE = 64 * 1024;

/** What every sink of one XDR backup run shares. */
export interface AsbxFileRun {
  /** Where files go. */
  storage: StorageWriter;
  /** The run's encoder: its file counter numbers the files of every writer. */
  encoder: AsbxEncoder;
  /** Compression of every file. */
  compression: Readonly<CompressionPolicy>;
  /** AES key (16 or 32 bytes), when encrypting. */
  encryptionKey?: Uint8Array;
  /** Called when a file is opened. */
  onOpen?: (name: string) => void;
  /** Called when a file is closed, with its size on disk. */
  onClose?: (name: string, bytes: number) => void;
}

/** Options of {@linkcode AsbxFileSink}. */
export interface AsbxFileSinkOptions {
  /** File name prefix, `"<writer>_"`. */
  prefix: string;
  /** Roll over once a file holds this many bytes on disk; 0 = never. @default 0 */
  fileLimit?: number;
}

interface OpenFile {
  name: string;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  chain: FileChain;
}

/** One writer of an XDR backup. */
export class AsbxFileSink implements PipeWriter<AsbxToken> {
  readonly #run: AsbxFileRun;
  readonly #prefix: string;
  readonly #limit: number;
  readonly #buf = new ByteWriter(FLUSH_SIZE + 4096);
  #file?: OpenFile;
  #error: unknown = undefined;
  #closed = false;

  /**
   * Creates a sink; nothing is opened until the first record.
   *
   * @param run The run's shared state.
   * @param options Prefix and file limit.
   */
  constructor(run: AsbxFileRun, options: AsbxFileSinkOptions) {
    this.#run = run;
    this.#prefix = options.prefix;
    this.#limit = run.storage.kind === "directory" ? options.fileLimit ?? 0 : 0;
  }

  /** Bytes on disk of the file currently open (0 when none). */
  get openBytes(): number {
    return this.#file ? this.#file.chain.bytesWritten() : 0;
  }

  /**
   * Encodes and writes a record.
   *
   * @param token The record.
   * @returns Its encoded size; a promise only when a file had to be opened, rolled or flushed.
   */
  write(token: AsbxToken): number | Promise<number> {
    if (this.#file === undefined || this.#closed || this.#mustRoll()) {
      return this.#prepare().then(() => this.#encode(token));
    }
    return this.#encode(token);
  }

  /** Flushes and closes the open file; later writes throw. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#closeFile();
  }

  #encode(token: AsbxToken): number | Promise<number> {
    const n = this.#run.encoder.encodeToken(this.#buf, token);
    if (this.#buf.length >= FLUSH_SIZE) return this.#flush().then(() => n);
    return n;
  }

  #mustRoll(): boolean {
    if (this.#file === undefined || this.#limit <= 0) return false;
    // Without compression, bytes still buffered will land on disk as they are.
    const pending = this.#run.compression.mode === "NONE" ? this.#buf.length : 0;
    return this.#file.chain.bytesWritten() + pending >= this.#limit;
  }

  async #prepare(): Promise<void> {
    if (this.#closed) {
      throw new AerobakError("WRITER_CLOSED", "Cannot write to a closed ASBX file writer");
    }
    if (this.#mustRoll()) await this.#closeFile();
    if (this.#file === undefined) await this.#open();
  }

  async #open(): Promise<void> {
    const run = this.#run;
    const file = run.encoder.nextFile(this.#prefix);
    let chain: FileChain;
    try {
      chain = await openFileChain(run.storage, file.name, {
        compression: run.compression,
        encryptionKey: run.encryptionKey,
      });
    } catch (e) {
      throw wrap(e, file.name, "open");
    }
    run.onOpen?.(file.name);
    this.#file = { name: file.name, writer: chain.writable.getWriter(), chain };
    this.#buf.bytes(file.header);
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    if (file === undefined) return;
    await this.#flush();
    this.#file = undefined;
    try {
      await file.writer.close();
    } catch (e) {
      throw wrap(e, file.name, "close");
    }
    if (this.#error !== undefined) throw wrap(this.#error, file.name, "write");
    this.#run.onClose?.(file.name, file.chain.bytesWritten());
  }

  async #flush(): Promise<void> {
    const file = this.#file;
    if (file === undefined || this.#buf.length === 0) return;
    if (this.#error !== undefined) throw wrap(this.#error, file.name, "write");
    // The buffer is reused, so the chain gets its own copy of each block.
    const chunk = this.#buf.subarray().slice();
    this.#buf.reset();
    await file.writer.ready;
    file.writer.write(chunk).catch((e) => {
      this.#error ??= e;
    });
  }
}

function wrap(e: unknown, name: string, action: string): unknown {
  if (e instanceof AerobakError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new AerobakError("STORAGE_WRITE", `Cannot ${action} backup file ${name}: ${message}`, {
    cause: e,
    location: { file: name },
  });
}
