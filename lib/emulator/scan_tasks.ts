/**
 * The task ids a node knows: those of its running scans and of the last ones it finished.
 * A real node refuses a scan whose id matches any of them (result 4, PARAMETER_ERROR), and
 * keeps `query-max-done` (100) finished jobs (`as/src/query/query_manager.c`, and the
 * captures' `aerobak-asbackup-nodekill.jsonl`, where a retry that re-sent its first task id
 * was refused so).
 *
 * @module
 */

/** `query-max-done`: finished jobs a node remembers. */
export const QUERY_MAX_DONE = 100;

/** The running and recently finished scan task ids of one node. */
export class ScanTasks {
  readonly #active = new Set<bigint>();
  readonly #done: bigint[] = [];

  /**
   * Registers a new scan.
   *
   * @param taskId Its task id.
   * @returns False (and nothing registered) when the id is running or among the finished.
   */
  start(taskId: bigint): boolean {
    if (this.#active.has(taskId) || this.#done.includes(taskId)) return false;
    this.#active.add(taskId);
    return true;
  }

  /**
   * Moves a scan to the finished ones, forgetting the oldest beyond {@linkcode QUERY_MAX_DONE}.
   *
   * @param taskId Its task id.
   */
  finish(taskId: bigint): void {
    if (!this.#active.delete(taskId)) return;
    this.#done.push(taskId);
    if (this.#done.length > QUERY_MAX_DONE) this.#done.shift();
  }
}
