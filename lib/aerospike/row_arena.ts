/**
 * What batch rows ({@linkcode BatchRows}) and pipelined payloads ({@linkcode PayloadRows})
 * share: rows of bytes back to back in one reusable buffer, and beside each what routing
 * needs (namespace, partition, attempts that got no answer).
 *
 * @module
 */

import { ByteWriter } from "./byte_writer.ts";
import { partitionId } from "./digest.ts";
import { type ResolvedWritePolicy, resolveWritePolicy, type WritePolicy } from "./policy.ts";

/**
 * A cleared buffer that held more than this is replaced by a small one, so rows of large
 * records do not pin their memory for as long as the rows are reused.
 */
const KEEP_BYTES = 1 << 20;

/**
 * Rows of bytes in one reusable buffer, each with its namespace, partition and failed
 * attempts. Subclasses append a row's bytes to {@linkcode RowArena.arena} between
 * {@linkcode RowArena.beginRow} and {@linkcode RowArena.endRow}, and keep their own
 * columns in step through {@linkcode RowArena.grown} and {@linkcode RowArena.moved}.
 *
 * Made for reuse: {@linkcode clear} keeps the buffers, so once grown to the largest set of
 * rows, adding a row allocates nothing.
 */
export class RowArena {
  /** The policy of the rows; its timeouts apply to each request. */
  readonly policy: ResolvedWritePolicy;
  /** The rows' bytes. */
  protected arena: ByteWriter;
  /** Row `i` is `[starts[i], starts[i + 1])` of the arena. */
  protected starts: Int32Array;
  readonly #initialBytes: number;
  #partitions: Uint16Array;
  /** Per row: attempts that failed without an answer (they move it to the next replica). */
  #failures: Uint8Array;
  #namespaces: string[] = [];
  #count = 0;

  /**
   * Creates empty rows.
   *
   * @param policy The rows' policy.
   * @param capacity Rows expected; more grow the buffers.
   * @param rowBytes Bytes expected per row, to size the buffer.
   * @throws {RangeError} For an invalid policy.
   */
  constructor(policy: WritePolicy, capacity: number, rowBytes: number) {
    this.policy = resolveWritePolicy(policy);
    const n = Math.max(1, capacity);
    this.#initialBytes = n * rowBytes;
    this.arena = new ByteWriter(this.#initialBytes);
    this.starts = new Int32Array(n + 1);
    this.#partitions = new Uint16Array(n);
    this.#failures = new Uint8Array(n);
  }

  /** Number of rows. */
  get length(): number {
    return this.#count;
  }

  /** Bytes of the rows held. */
  get byteLength(): number {
    return this.arena.length;
  }

  /**
   * The namespace of a row.
   *
   * @param i Row index.
   * @returns The namespace.
   */
  namespace(i: number): string {
    this.check(i);
    return this.#namespaces[i];
  }

  /**
   * The partition of a row's digest.
   *
   * @param i Row index.
   * @returns 0..4095.
   */
  partition(i: number): number {
    this.check(i);
    return this.#partitions[i];
  }

  /**
   * How many attempts of a row failed without an answer from the server (no node, network
   * error, timeout): each sends it to the partition's next replica.
   *
   * @param i Row index.
   * @returns The count.
   */
  failures(i: number): number {
    this.check(i);
    return this.#failures[i];
  }

  /**
   * Counts an attempt of a row that failed without an answer.
   *
   * @param i Row index.
   */
  noteFailure(i: number): void {
    this.check(i);
    if (this.#failures[i] < 255) this.#failures[i]++;
  }

  /**
   * Keeps only some rows (those to retry), in order, renumbered from 0.
   *
   * @param keep Per row, whether to keep it.
   */
  retain(keep: ArrayLike<boolean>): void {
    const old = this.arena.subarray().slice();
    const starts = this.starts;
    this.arena.reset();
    let n = 0;
    for (let i = 0; i < this.#count; i++) {
      if (!keep[i]) continue;
      const from = starts[i];
      const to = starts[i + 1];
      starts[n] = this.arena.length;
      this.arena.bytes(old.subarray(from, to));
      this.#partitions[n] = this.#partitions[i];
      this.#failures[n] = this.#failures[i];
      this.#namespaces[n] = this.#namespaces[i];
      this.moved(i, n);
      n++;
    }
    starts[n] = this.arena.length;
    this.#count = n;
  }

  /** Forgets every row and keeps the buffers for reuse (up to 1 MiB of row bytes). */
  clear(): void {
    if (this.arena.length > KEEP_BYTES) this.arena = new ByteWriter(this.#initialBytes);
    else this.arena.reset();
    this.#count = 0;
  }

  /**
   * Starts the next row: its bytes go to the arena from here.
   *
   * @returns The row's index.
   */
  protected beginRow(): number {
    const i = this.#count;
    if (i === this.#partitions.length) this.#grow();
    this.starts[i] = this.arena.length;
    return i;
  }

  /**
   * Ends the row begun last, once its bytes are in the arena.
   *
   * @param namespace The row's namespace.
   * @param digest Its record's digest (gives the partition).
   */
  protected endRow(namespace: string, digest: Uint8Array): void {
    const i = this.#count;
    this.starts[i + 1] = this.arena.length;
    this.#partitions[i] = partitionId(digest);
    this.#failures[i] = 0;
    this.#namespaces[i] = namespace;
    this.#count = i + 1;
  }

  /**
   * Drops the bytes of a row begun and not ended (it failed half-way).
   */
  protected dropRow(): void {
    const length = this.starts[this.#count];
    if (length === this.arena.length) return;
    const kept = this.arena.subarray().slice(0, length);
    this.arena.reset();
    this.arena.bytes(kept);
  }

  /**
   * Appends the bytes of some rows to `w`, runs of consecutive rows in one copy.
   *
   * @param indexes Row indexes, in the order to write them.
   * @param w Destination.
   */
  protected copyRows(indexes: readonly number[], w: ByteWriter): void {
    const src = this.arena.subarray();
    const starts = this.starts;
    for (let k = 0; k < indexes.length;) {
      let j = k + 1;
      while (j < indexes.length && indexes[j] === indexes[j - 1] + 1) j++;
      this.check(indexes[k]);
      this.check(indexes[j - 1]);
      w.bytes(src.subarray(starts[indexes[k]], starts[indexes[j - 1] + 1]));
      k = j;
    }
  }

  /**
   * Called when the columns grew to `capacity` rows: grow the subclass's own.
   *
   * @param _capacity The new number of rows the columns hold.
   */
  protected grown(_capacity: number): void {}

  /**
   * Called by {@linkcode retain} for each kept row, once its bytes are at `starts[to]`.
   *
   * @param _from Its index before.
   * @param _to Its index now.
   */
  protected moved(_from: number, _to: number): void {}

  /**
   * Checks a row index.
   *
   * @param i Row index.
   * @throws {RangeError} When there is no such row.
   */
  protected check(i: number): void {
    if (!(i >= 0 && i < this.#count)) {
      throw new RangeError(`Invalid row ${i}: ${this.#count} rows`);
    }
  }

  #grow(): void {
    const n = this.#partitions.length * 2;
    const starts = new Int32Array(n + 1);
    starts.set(this.starts);
    this.starts = starts;
    const partitions = new Uint16Array(n);
    partitions.set(this.#partitions);
    this.#partitions = partitions;
    const failures = new Uint8Array(n);
    failures.set(this.#failures);
    this.#failures = failures;
    this.grown(n);
  }
}
