/**
 * Partition scans as a node serves them: the requested partitions (PID_ARRAY) and resume
 * points (DIGEST_ARRAY) in partition order, records in digest order, set / filter
 * expression / bin selection / no-bins, MAX_RECORDS pagination, the records-per-second
 * throttle, PARTITION_DONE markers (result 11) for partitions this node cannot serve, and
 * replies packed into ~1 MiB protos followed by a separate LAST message.
 *
 * @module
 */

import { partitionId } from "../aerospike/digest.ts";
import { encodeRecordMessage, Info1, Info3, type MessageHeader } from "../aerospike/message.ts";
import { decodeScanRequest, type ScanRequest, writeReplyHeader } from "../aerospike/requests.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import type { ServerConnection } from "./connection.ts";
import { isExpired } from "./record_store.ts";
import type { RecordFilter } from "./record_commands.ts";
import { compileFilter } from "./expression_eval.ts";
import { geoJsonCells } from "./_s2_cell.ts";
import { PARTITION_COUNT } from "../aerospike/digest.ts";

/** Size at which a reply proto is closed and sent (the server flushes at ~1 MiB). */
export const SCAN_FLUSH_BYTES = 1 << 20;

/** Finest pause of the records-per-second throttle, in ms. */
const THROTTLE_STEP_MS = 5;

interface WorkItem {
  pid: number;
  after?: Uint8Array;
}

async function replyLast(c: ServerConnection, resultCode: number): Promise<void> {
  c.begin();
  writeReplyHeader(c.w, { info3: Info3.LAST, resultCode });
  c.end();
  await c.flush();
}

function workList(scan: ScanRequest): WorkItem[] {
  const items: WorkItem[] = [];
  for (const pid of scan.partitions ?? []) items.push({ pid });
  for (const d of scan.digests ?? []) items.push({ pid: partitionId(d), after: d });
  if (items.length === 0) {
    // No partition list: the whole namespace (what this node holds).
    for (let pid = 0; pid < PARTITION_COUNT; pid++) items.push({ pid });
  }
  return items.sort((a, b) => a.pid - b.pid);
}

function hasAnyBin(bins: readonly { name: string }[], names: readonly string[]): boolean {
  for (const b of bins) if (names.includes(b.name)) return true;
  return false;
}

/**
 * Serves one scan request on a connection.
 *
 * @param c The connection.
 * @param body The request body.
 * @param header Its header.
 * @param filter Filter expression evaluator.
 */
export async function serveScan(
  c: ServerConnection,
  body: Uint8Array,
  header: MessageHeader,
  filter: RecordFilter,
): Promise<void> {
  let scan: ScanRequest;
  try {
    scan = decodeScanRequest(body).scan;
  } catch {
    return await replyLast(c, ResultCode.PARAMETER_ERROR);
  }
  if ((header.info3 & Info3.PARTITION_DONE) === 0) {
    // Servers 6+ serve only partition scans, which need the partition-done bit.
    return await replyLast(c, ResultCode.UNSUPPORTED_FEATURE);
  }
  const cluster = c.cluster;
  const ns = cluster.namespace(scan.namespace);
  if (ns === undefined) return await replyLast(c, ResultCode.INVALID_NAMESPACE);
  if (scan.filterExpression !== undefined) {
    try {
      compileFilter(scan.filterExpression);
    } catch {
      return await replyLast(c, ResultCode.PARAMETER_ERROR);
    }
  }
  const store = ns.store;
  const node = c.node;
  const set = scan.set ?? "";
  const noBins = scan.noBins ?? false;
  const binNames = scan.binNames;
  const exp = scan.filterExpression;
  const max = Number(scan.maxRecords ?? 0);
  const rps = scan.recordsPerSecond ?? 0;
  const dropAfter = cluster.faults.takeScanDrop(node.name);
  const plain = !noBins && binNames === undefined;
  const info1 = noBins ? Info1.GET_NOBINDATA : 0;
  const started = performance.now();
  let count = 0;
  // Read the clock once per reply proto, not per record.
  let now = cluster.nowSeconds();

  c.begin();
  outer: for (const item of workList(scan)) {
    if (
      cluster.faults.isUnavailable(ns.config.name, item.pid) ||
      cluster.replicaIndex(ns, item.pid, node.index) < 0 || !node.alive
    ) {
      writeReplyHeader(c.w, {
        info3: Info3.PARTITION_DONE,
        resultCode: ResultCode.PARTITION_UNAVAILABLE,
        generation: item.pid,
      });
      continue;
    }
    let part = store.partition(item.pid);
    let i = item.after === undefined ? 0 : store.indexAfter(item.pid, item.after);
    while (i < part.length) {
      const r = part[i++];
      if (r.voidTime !== 0 && isExpired(r, now)) continue;
      if (set !== "" && r.set !== set) continue;
      if (exp !== undefined && !filter(exp, r)) continue;
      // With a bin selection the server leaves out records holding none of the selected
      // bins (official-node-client.jsonl: the one-bin scan skips the record without it).
      if (!noBins && binNames !== undefined && !hasAnyBin(r.bins, binNames)) continue;
      if (plain) encodeRecordMessage(c.w, r, { geoCells: geoJsonCells });
      else encodeRecordMessage(c.w, r, { info1, noBins, binNames, geoCells: geoJsonCells });
      count++;
      if (dropAfter >= 0 && count >= dropAfter) {
        c.end();
        await c.flush();
        c.close();
        return;
      }
      if (max > 0 && count >= max) break outer;
      let pause = 0;
      if (rps > 0) pause = (count * 1000) / rps - (performance.now() - started);
      if (c.openSize >= SCAN_FLUSH_BYTES || pause >= THROTTLE_STEP_MS) {
        const last = r.digest;
        c.end();
        await c.flush();
        if (pause >= THROTTLE_STEP_MS) await new Promise((res) => setTimeout(res, pause));
        if (c.closed || !node.alive) return;
        now = cluster.nowSeconds();
        c.begin();
        // The partition may have changed while we waited: continue after the last digest.
        part = store.partition(item.pid);
        i = store.indexAfter(item.pid, last);
      }
    }
  }
  if (dropAfter === 0) {
    c.close();
    return;
  }
  c.end();
  c.begin();
  writeReplyHeader(c.w, { info3: Info3.LAST });
  c.end();
  await c.flush();
}
