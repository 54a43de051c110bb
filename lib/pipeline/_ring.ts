/**
 * A growable FIFO ring buffer with O(1) push and shift, used for channel items and waiters.
 *
 * @module
 */

/** A FIFO queue over a power-of-two circular array; never calls `Array#shift`. */
export class Ring<T> {
  #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  #mask: number;

  /**
   * Creates an empty ring.
   *
   * @param initial Initial slot count, rounded up to a power of two.
   */
  constructor(initial = 16) {
    let n = 4;
    while (n < initial) n *= 2;
    this.#items = new Array(n);
    this.#mask = n - 1;
  }

  /** Number of queued items. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends an item.
   *
   * @param item The item.
   */
  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  /**
   * Removes and returns the oldest item.
   *
   * @returns The item, or `undefined` when empty.
   */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#items;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#items = next;
    this.#head = 0;
    this.#mask = next.length - 1;
  }
}
