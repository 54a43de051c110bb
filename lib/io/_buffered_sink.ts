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
  // The buffer grows as small writes need it: the last, small block of a file of large
  // ones must not cost a whole buffer.
  function grow(need: number): void {
    const cap = buf?.length ?? 0;
    if (cap >= Math.min(need, size)) return;
    const next = new Uint8Array(Math.min(size, Math.max(need, cap * 2, DIRECT_BYTES)));
    if (buf !== undefined && used > 0) next.set(buf.subarray(0, used));
    buf = next;
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
        grow(used + chunk.length);
        if (used + chunk.length <= size) {
          buf!.set(chunk, used);
          used += chunk.length;
          if (used === size) await flush();
          return;
        }
        await flush();
        if (chunk.length >= size) await target.write(chunk);
        else {
          grow(chunk.length);
          buf!.set(chunk);
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
