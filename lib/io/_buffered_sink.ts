/**
 * A WritableStream that collects small writes into one buffer before passing them on.
 *
 * @module
 */

/** Where a {@linkcode bufferedSink} sends its bytes. */
export interface SinkTarget {
  /** Writes every byte of `bytes`; the bytes may be reused once the promise settles. */
  write(bytes: Uint8Array): Promise<void>;
  /** Called once after the last write on close. */
  close(): Promise<void>;
  /** Called once when the stream is aborted or a write failed. */
  abort(): Promise<void> | void;
  /** Turns a failure of the target into the error the stream reports. */
  mapError(err: unknown): Error;
}

/** Chunks at least this large go straight to the target when nothing is buffered. */
const DIRECT_BYTES = 64 * 1024;

/**
 * Creates a buffered sink. The buffer exists only once a small chunk needs it: the blocks
 * of a backup file (64 KiB and up) go straight through, so open files cost no buffer.
 *
 * @param target Destination of the bytes.
 * @param bufferSize Buffer size; chunks at least this large (or 64 KiB, when nothing is
 *   buffered) bypass the buffer.
 * @returns The writable side.
 */
export function bufferedSink(target: SinkTarget, bufferSize: number): WritableStream<Uint8Array> {
  const size = Math.max(1, bufferSize);
  let buf: Uint8Array | undefined;
  let used = 0;
  let failed = false;
  async function run(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      failed = true;
      await Promise.resolve(target.abort()).catch(() => {});
      throw target.mapError(err);
    }
  }
  async function flush(): Promise<void> {
    if (used === 0) return;
    const n = used;
    used = 0;
    await target.write(buf!.subarray(0, n));
  }
  return new WritableStream<Uint8Array>({
    write(chunk) {
      return run(async () => {
        if (used === 0 && chunk.length >= Math.min(size, DIRECT_BYTES)) {
          await target.write(chunk);
          return;
        }
        buf ??= new Uint8Array(size);
        if (used + chunk.length <= size) {
          buf.set(chunk, used);
          used += chunk.length;
          if (used === size) await flush();
          return;
        }
        await flush();
        if (chunk.length >= size) await target.write(chunk);
        else {
          buf.set(chunk);
          used = chunk.length;
        }
      });
    },
    close() {
      return run(async () => {
        await flush();
        await target.close();
      });
    },
    async abort() {
      if (!failed) await Promise.resolve(target.abort()).catch(() => {});
    },
  });
}
