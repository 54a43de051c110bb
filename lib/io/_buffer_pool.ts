/**
 * Spare buffers to copy chunks into, reused once their chunk is done with.
 *
 * @module
 */

/**
 * A pool of same-sized spare buffers. A chunk handed on is copied into one and the buffer
 * comes back once the receiver is done with it: a fresh buffer per chunk would be garbage
 * whose memory a heap that allocates little else frees late (it grows with the backup).
 */
export class BufferPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #size: number;
  readonly #keep: number;

  /**
   * Creates an empty pool.
   *
   * @param size Size of the pooled buffers (a larger chunk gets one of its own size).
   * @param keep How many spare buffers to keep at most.
   */
  constructor(size: number, keep: number) {
    this.#size = size;
    this.#keep = keep;
  }

  /**
   * Copies `chunk` into a spare buffer (or a new one).
   *
   * @param chunk The bytes.
   * @returns A buffer holding them from offset 0.
   */
  take(chunk: Uint8Array): ArrayBuffer {
    let buffer = this.#free.pop();
    if (buffer === undefined || buffer.byteLength < chunk.length) {
      buffer = new ArrayBuffer(Math.max(this.#size, chunk.length));
    }
    new Uint8Array(buffer, 0, chunk.length).set(chunk);
    return buffer;
  }

  /**
   * Gives a buffer back for reuse.
   *
   * @param buffer A buffer from {@linkcode take} whose chunk is done with.
   */
  give(buffer: ArrayBuffer): void {
    if (this.#free.length < this.#keep) this.#free.push(buffer);
  }
}
