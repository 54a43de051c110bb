/**
 * The fuzz suite's seeded randomness: every iteration of every input kind draws from its
 * own generator, derived from the campaign seed, the kind and the iteration number, so one
 * iteration can be replayed alone (`deno task fuzz --kind zstd --seed 1 --from 4711
 * --iterations 1`).
 *
 * @module
 */

import { rng } from "../../lib/format/asb/_test_util.ts";

/** A seeded generator with the draws the mutators need. */
export class Random {
  readonly #next: () => number;

  /**
   * Creates a generator.
   *
   * @param seed 32-bit seed.
   */
  constructor(seed: number) {
    this.#next = rng(seed);
  }

  /**
   * The generator of one iteration.
   *
   * @param seed Campaign seed.
   * @param kind Input kind.
   * @param iteration Iteration number.
   * @returns A generator that depends on all three only.
   */
  static of(seed: number, kind: string, iteration: number): Random {
    // FNV-1a over the kind, then the numbers mixed in.
    let h = 0x811c9dc5;
    for (let i = 0; i < kind.length; i++) h = Math.imul(h ^ kind.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ seed, 0x01000193);
    h = Math.imul(h ^ iteration, 0x01000193);
    h = Math.imul(h ^ (iteration / 0x100000000), 0x01000193);
    return new Random(h >>> 0);
  }

  /**
   * A float in [0, 1).
   *
   * @returns The draw.
   */
  float(): number {
    return this.#next();
  }

  /**
   * An integer in [0, n).
   *
   * @param n Bound (> 0).
   * @returns The draw.
   */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /**
   * True with probability `p`.
   *
   * @param p Probability.
   * @returns The draw.
   */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  /**
   * One element of a non-empty array.
   *
   * @param items The array.
   * @returns The element drawn.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /**
   * An integer drawn mostly small: lengths of edits and runs.
   *
   * @param max Largest value.
   * @returns 1..max, 1 about half the time.
   */
  small(max: number): number {
    let n = 1;
    while (n < max && this.#next() < 0.5) n *= 2;
    return Math.min(max, n + this.int(n));
  }
}
