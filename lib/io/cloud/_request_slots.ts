/**
 * The per-host connection cap of the cloud stores (`maxConnsPerHost` of S3, GCS and Azure):
 * a counting semaphore whose slots are handed on in arrival order.
 *
 * @module
 */

/**
 * A counting semaphore for requests in flight. `acquire()` resolves, once a slot is free, to
 * the function that gives the slot back; a freed slot passes straight to the oldest waiter.
 *
 * @example
 * ```ts
 * import { RequestSlots } from "./_request_slots.ts";
 * const slots = new RequestSlots(1);
 * const release = await slots.acquire();
 * const next = slots.acquire(); // waits until release() runs
 * release();
 * (await next)();
 * ```
 */
export class RequestSlots {
  /** Free slots; `Infinity` without a limit. */
  #free: number;
  /** Waiters from `#head` on, oldest first; the spent ones before it are dropped in bulk. */
  #waiting: (() => void)[] = [];
  #head = 0;

  /**
   * Creates the semaphore.
   *
   * @param limit Slots; 0 or less for no limit (every `acquire()` resolves at once).
   */
  constructor(limit: number) {
    this.#free = limit > 0 ? limit : Infinity;
  }

  /**
   * Waits for a free slot.
   *
   * @returns The function that gives the slot back; calling it again does nothing.
   */
  acquire(): Promise<() => void> {
    if (this.#free === Infinity) return Promise.resolve(noop);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#releaser())));
  }

  /** A release function for one held slot, which only its first call acts on. */
  #releaser(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#handOn();
    };
  }

  /** Gives a slot to the oldest waiter, or back to the pool when nobody waits. */
  #handOn(): void {
    if (this.#head === this.#waiting.length) {
      this.#free++;
      return;
    }
    const wake = this.#waiting[this.#head];
    // Dropped at once so a long queue does not keep woken waiters (and their requests) alive.
    this.#waiting[this.#head++] = noop;
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > this.#waiting.length) {
      // Array#shift would copy the queue on every wake-up; compacting at half keeps it O(1)
      // amortised.
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    wake();
  }
}

function noop(): void {}
