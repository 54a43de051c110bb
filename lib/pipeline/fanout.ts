/**
 * Fan-out strategies: which writer an item read by a reader goes to.
 *
 * @module
 */

/**
 * Picks the writer index for an item.
 *
 * @param item The item.
 * @param reader Index of the reader that produced it.
 * @returns A writer index in `[0, writers)`.
 */
export type Fanout<T> = (item: T, reader: number) => number;

/**
 * Reader i feeds writer i (needs as many writers as readers). Used for metadata, state-file
 * backups and when the counts are equal.
 *
 * @returns The strategy.
 */
export function fixedFanout<T>(): Fanout<T> {
  return (_item, reader) => reader;
}

/**
 * Items go to the writers in turn, whatever reader they come from.
 *
 * @param writers Number of writers (>= 1).
 * @returns The strategy.
 * @throws {RangeError} When writers < 1.
 */
export function roundRobinFanout<T>(writers: number): Fanout<T> {
  if (!(writers >= 1)) throw new RangeError(`Cannot fan out to ${writers} writers`);
  let next = 0;
  return () => {
    const w = next;
    next = next + 1 === writers ? 0 : next + 1;
    return w;
  };
}

/**
 * Items go to the writer owning their partition: `partition / (4096 / writers)`, clamped to
 * the last writer (backup-go's split fan-out for XDR).
 *
 * @param writers Number of writers (>= 1).
 * @param partitionOf Returns the partition id (0..4095) of an item.
 * @returns The strategy.
 * @throws {RangeError} When writers < 1.
 */
export function partitionFanout<T>(
  writers: number,
  partitionOf: (item: T) => number,
): Fanout<T> {
  if (!(writers >= 1)) throw new RangeError(`Cannot fan out to ${writers} writers`);
  const span = Math.max(1, Math.floor(4096 / writers));
  return (item) => Math.min(writers - 1, Math.floor(partitionOf(item) / span));
}

/**
 * The default choice: fixed when readers and writers are equal, round-robin otherwise.
 *
 * @param readers Number of readers.
 * @param writers Number of writers.
 * @returns The strategy.
 */
export function defaultFanout<T>(readers: number, writers: number): Fanout<T> {
  return readers === writers ? fixedFanout<T>() : roundRobinFanout<T>(writers);
}
