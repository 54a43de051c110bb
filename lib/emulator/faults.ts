/**
 * Faults a test can inject into the emulated cluster: they wrap the real request handling
 * (a scan stops mid-stream, an answer comes late, a write fails, partitions are missing)
 * instead of scripting replies.
 *
 * @module
 */

/** The kinds of request a delay can target. */
export type RequestKind = "info" | "read" | "write" | "scan" | "batch" | "admin";

interface DropRule {
  afterRecords: number;
  node?: string;
  remaining: number;
}

interface DelayRule {
  ms: number;
  kinds?: ReadonlySet<RequestKind>;
  node?: string;
}

interface UnavailableRule {
  namespace: string;
  pids: ReadonlySet<number>;
  untilMs: number;
}

/** Options of {@linkcode Faults.dropScanConnection}. */
export interface DropScanOptions {
  /**
   * Only scans served by this node (name).
   *
   * @default {any node}
   */
  node?: string;
  /**
   * How many scans to break.
   *
   * @default {1}
   */
  times?: number;
}

/** Options of {@linkcode Faults.delay}. */
export interface DelayOptions {
  /**
   * Only these request kinds.
   *
   * @default {all}
   */
  kinds?: RequestKind[];
  /**
   * Only this node (name).
   *
   * @default {every node}
   */
  node?: string;
}

/** Options of {@linkcode Faults.failWrite}. */
export interface FailWriteOptions {
  /**
   * Only writes to this namespace.
   *
   * @default {any}
   */
  namespace?: string;
}

/** What {@linkcode Faults.atProgress} counts. */
export type ProgressKind = "scan" | "write";

interface ProgressRule {
  kind: ProgressKind;
  at: number;
  action: (node: string) => void;
}

/** The fault switchboard of one emulated cluster. */
export class Faults {
  readonly #drops: DropRule[] = [];
  readonly #progress: ProgressRule[] = [];
  readonly #counts: Record<ProgressKind, number> = { scan: 0, write: 0 };
  readonly #delays: DelayRule[] = [];
  readonly #unavailable: UnavailableRule[] = [];
  readonly #failWrites = new Map<number, { code: number; namespace?: string }>();
  #writeCount = 0;

  /**
   * Makes the next scan(s) close their connection after sending `records` records (the
   * records already sent reach the client; the LAST message never comes).
   *
   * @param records Records to send before the connection drops.
   * @param opts Which node and how many times.
   */
  dropScanConnection(records: number, opts: DropScanOptions = {}): void {
    if (!(records >= 0)) throw new RangeError(`Invalid record count ${records}: must be >= 0`);
    this.#drops.push({ afterRecords: records, node: opts.node, remaining: opts.times ?? 1 });
  }

  /**
   * Delays every matching answer until {@linkcode clear}.
   *
   * @param ms Milliseconds of real time before each answer.
   * @param opts Which requests and node.
   */
  delay(ms: number, opts: DelayOptions = {}): void {
    this.#delays.push({
      ms,
      kinds: opts.kinds ? new Set(opts.kinds) : undefined,
      node: opts.node,
    });
  }

  /**
   * Makes the `nth` write from now (single or batch sub-write, counted cluster-wide, 1 =
   * the next one) fail with a result code, leaving the record untouched.
   *
   * @param nth Which write, counting from 1.
   * @param resultCode The code to answer, e.g. 14 (KEY_BUSY).
   * @param opts Namespace filter.
   */
  failWrite(nth: number, resultCode: number, opts: FailWriteOptions = {}): void {
    if (!(nth >= 1)) throw new RangeError(`Invalid write number ${nth}: must be >= 1`);
    this.#failWrites.set(this.#writeCount + nth, { code: resultCode, namespace: opts.namespace });
  }

  /**
   * Makes partitions unavailable: scans answer them with a PARTITION_DONE marker and
   * result 11, reads and writes fail with 11.
   *
   * @param namespace Namespace.
   * @param pids Partition ids.
   * @param forMs For how long, in real milliseconds. @default Infinity (until clear())
   */
  makeUnavailable(namespace: string, pids: readonly number[], forMs = Infinity): void {
    this.#unavailable.push({ namespace, pids: new Set(pids), untilMs: performance.now() + forMs });
  }

  /**
   * Runs an action once the cluster has served `count` more records of a kind: scanned
   * records sent (`"scan"`) or writes applied, single or batch rows (`"write"`). Tests use
   * it to kill a node at a chosen point of a job instead of guessing the moment with a
   * timer.
   *
   * @param kind What to count.
   * @param count How many more, from now (at least 1).
   * @param action Called once, synchronously, from inside the request that reached it,
   *   with the name of the node serving that request.
   *
   * @example Kill a node a third of the way through a scan of 3000 records
   * ```ts ignore
   * emu.faults.atProgress("scan", 1000, () => void emu.killNode(1));
   * ```
   */
  atProgress(kind: ProgressKind, count: number, action: (node: string) => void): void {
    if (!(count >= 1)) throw new RangeError(`Invalid count ${count}: must be >= 1`);
    this.#progress.push({ kind, at: this.#counts[kind] + count, action });
  }

  /**
   * Counts records served; runs the {@linkcode atProgress} actions that are due.
   *
   * @param kind What was served.
   * @param node The node serving it.
   */
  served(kind: ProgressKind, node: string): void {
    const n = ++this.#counts[kind];
    if (this.#progress.length === 0) return;
    for (let i = 0; i < this.#progress.length; i++) {
      const rule = this.#progress[i];
      if (rule.kind !== kind || rule.at > n) continue;
      this.#progress.splice(i--, 1);
      rule.action(node);
    }
  }

  /** Removes every fault. */
  clear(): void {
    this.#drops.length = 0;
    this.#progress.length = 0;
    this.#delays.length = 0;
    this.#unavailable.length = 0;
    this.#failWrites.clear();
  }

  /**
   * Takes the drop rule a new scan on a node is subject to, if any.
   *
   * @param node Node name.
   * @returns Records to send before dropping, or -1 for no fault.
   */
  takeScanDrop(node: string): number {
    const i = this.#drops.findIndex((d) => d.node === undefined || d.node === node);
    if (i < 0) return -1;
    const rule = this.#drops[i];
    if (--rule.remaining <= 0) this.#drops.splice(i, 1);
    return rule.afterRecords;
  }

  /**
   * The delay to apply before answering.
   *
   * @param node Node name.
   * @param kind Request kind.
   * @returns Milliseconds (0 = none).
   */
  delayFor(node: string, kind: RequestKind): number {
    let ms = 0;
    for (const d of this.#delays) {
      if (d.node !== undefined && d.node !== node) continue;
      if (d.kinds !== undefined && !d.kinds.has(kind)) continue;
      ms = Math.max(ms, d.ms);
    }
    return ms;
  }

  /**
   * Counts a write and tells whether it must fail.
   *
   * @param namespace Namespace written.
   * @returns The result code to fail with, or 0.
   */
  nextWrite(namespace: string): number {
    const n = ++this.#writeCount;
    const rule = this.#failWrites.get(n);
    if (rule === undefined) return 0;
    this.#failWrites.delete(n);
    if (rule.namespace !== undefined && rule.namespace !== namespace) return 0;
    return rule.code;
  }

  /**
   * Whether a partition is currently unavailable.
   *
   * @param namespace Namespace.
   * @param pid Partition id.
   * @returns True when a fault hides it.
   */
  isUnavailable(namespace: string, pid: number): boolean {
    if (this.#unavailable.length === 0) return false;
    const now = performance.now();
    for (let i = this.#unavailable.length - 1; i >= 0; i--) {
      const u = this.#unavailable[i];
      if (u.untilMs <= now) {
        this.#unavailable.splice(i, 1);
        continue;
      }
      if (u.namespace === namespace && u.pids.has(pid)) return true;
    }
    return false;
  }
}
