/**
 * Writes that wait for the cluster to re-form. While a node that died is still in the
 * cluster, a write to one of its partitions cannot complete: the master waits for the
 * dead replica's acknowledgement, a replica waits to proxy to the dead master. The
 * survivors answer such writes only once the heartbeat has dropped the node and the new
 * map is in place; the node-failure captures show batches sent to the survivors after the
 * kill answered together ~2 s after it (`c-asrestore-nodekill.jsonl`,
 * `aerobak-asrestore-nodekill.jsonl`). A write whose own deadline (its transaction TTL)
 * passes first is answered with a timeout.
 *
 * @module
 */

import type { NamespaceState } from "./cluster.ts";
import type { ServerConnection } from "./connection.ts";

/** How a held write ended. */
export type HoldOutcome = "go" | "timeout" | "closed";

/** A partition a write touches. */
export interface WriteTarget {
  /** Namespace. */
  ns: NamespaceState;
  /** Partition id. */
  pid: number;
}

/**
 * Waits until none of the partitions is held (see `EmulatedCluster.holdsWrite`).
 *
 * @param c The connection the write came on.
 * @param targets The partitions the write touches.
 * @param timeoutMs The write's deadline from now (its transaction TTL), 0 = none.
 * @returns `"go"` to execute it, `"timeout"` to answer 9, `"closed"` when the connection
 *   (or the node) went away meanwhile.
 */
export async function awaitWritable(
  c: ServerConnection,
  targets: readonly WriteTarget[],
  timeoutMs: number,
): Promise<HoldOutcome> {
  const cluster = c.cluster;
  const held = () => targets.some((t) => cluster.holdsWrite(t.ns, t.pid, c.node));
  if (!held()) return "go";
  // Replies held for pipelined requests go out before this one waits.
  await c.sendHeld();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = timeoutMs > 0
    ? new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), timeoutMs))
    : undefined;
  const closed = c.whenClosed.then(() => "closed" as const);
  try {
    while (held()) {
      const waits: Promise<"view" | "timeout" | "closed">[] = [
        cluster.nextViewChange().then(() => "view" as const),
        closed,
      ];
      if (deadline) waits.push(deadline);
      const why = await Promise.race(waits);
      if (why !== "view") return why;
      if (c.closed || !c.node.alive) return "closed";
    }
    return "go";
  } finally {
    clearTimeout(timer);
  }
}
