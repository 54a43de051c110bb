/**
 * Standard input and output as backup storage (CLI `-o -` and `-i -`).
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { bufferedSink } from "./_buffered_sink.ts";
import type { StorageEntry, StorageReader, StorageWriter } from "./storage.ts";

/** Default buffer for standard output (backup-go `--std-buffer` default: 4 MiB). */
export const DEFAULT_STD_BUFFER_SIZE = 4 * 1024 * 1024;

/** Options of {@linkcode StdoutWriter}. */
export interface StdoutWriterOptions {
  /**
   * Where the bytes go; it is never closed, only released.
   * @default {Deno.stdout.writable}
   */
  output?: WritableStream<Uint8Array>;
  /**
   * Buffer size in bytes (CLI `--std-buffer` in MiB).
   * @default {4194304}
   */
  bufferSize?: number;
}

/**
 * Writes the backup to standard output. Files are written one after the other; opening a
 * second file while one is open is an error (their bytes would interleave).
 */
export class StdoutWriter implements StorageWriter {
  /** Always `"stdout"`. */
  readonly kind = "stdout" as const;
  /** True: its buffered sink copies each chunk before its write settles. */
  readonly consumesWrites = true;
  #output?: WritableStream<Uint8Array>;
  #bufferSize: number;
  #busy = false;

  /**
   * Creates a writer.
   *
   * @param options Output stream and buffer size.
   */
  constructor(options: StdoutWriterOptions = {}) {
    this.#output = options.output;
    this.#bufferSize = options.bufferSize ?? DEFAULT_STD_BUFFER_SIZE;
  }

  /**
   * Returns a sink appending to standard output; closing it flushes, not closes, stdout.
   *
   * @param _name Ignored.
   * @returns The byte sink.
   * @throws {AerobakError} `STORAGE_BUSY` when the previous sink is still open.
   */
  open(_name: string): Promise<WritableStream<Uint8Array>> {
    if (this.#busy) {
      return Promise.reject(
        new AerobakError("STORAGE_BUSY", "Cannot open a second file on <stdout> while one is open"),
      );
    }
    this.#busy = true;
    const writer = (this.#output ?? Deno.stdout.writable).getWriter();
    const release = () => {
      if (!this.#busy) return;
      this.#busy = false;
      writer.releaseLock();
    };
    return Promise.resolve(bufferedSink({
      async write(bytes) {
        await writer.ready;
        // The stream may keep the chunk after write() settles on some sinks: hand it a copy.
        await writer.write(bytes.slice());
      },
      close() {
        release();
        return Promise.resolve();
      },
      abort: release,
      mapError: (err) =>
        err instanceof AerobakError
          ? err
          : new AerobakError("STORAGE_WRITE", `Cannot write <stdout>: ${(err as Error).message}`, {
            cause: err,
          }),
    }, this.#bufferSize));
  }

  /**
   * Returns `"<stdout>"`.
   *
   * @param _name Ignored.
   * @returns The label.
   */
  describe(_name: string): string {
    return "<stdout>";
  }
}

/** Reads one backup stream from standard input. */
export class StdinReader implements StorageReader {
  /** Always `"stdin"`. */
  readonly kind = "stdin" as const;
  #input?: ReadableStream<Uint8Array>;
  #opened = false;

  /**
   * Creates a reader.
   *
   * @param options `input` replaces `Deno.stdin.readable` (for tests).
   */
  constructor(options: { input?: ReadableStream<Uint8Array> } = {}) {
    this.#input = options.input;
  }

  /**
   * Lists the single entry `<stdin>`.
   *
   * @returns One entry.
   */
  async *list(): AsyncIterable<StorageEntry> {
    yield { name: "<stdin>", path: "<stdin>" };
  }

  /**
   * Returns standard input; it can be opened once.
   *
   * @param _entry The entry from `list()`.
   * @returns The input bytes.
   * @throws {AerobakError} `STORAGE_READ` on a second call.
   */
  open(_entry: StorageEntry): Promise<ReadableStream<Uint8Array>> {
    if (this.#opened) {
      return Promise.reject(new AerobakError("STORAGE_READ", "Cannot read <stdin> twice"));
    }
    this.#opened = true;
    return Promise.resolve(this.#input ?? Deno.stdin.readable);
  }
}
