/**
 * Partition scans as a node serves them: the requested partitions (PID_ARRAY) and resume
 * points (DIGEST_ARRAY), records in digest order within each partition, set / filter
 * expression / bin selection / no-bins, MAX_RECORDS pagination, the records-per-second
 * throttle, PARTITION_DONE markers (result 11) for partitions this node cannot serve, task
 * ids that must be new to the node, and replies framed as a real node frames them.
 *
 * Framing, from the server (`as/src/query/query_job.c`, `query.c`) and the node-failure
 * captures: a job runs on up to four threads (`single-query-threads`; one when it is
 * throttled), each taking the next partition and filling its own buffer, which it sends
 * as one proto once it holds over 1 MiB and when it runs out of partitions. So a
 * connection carries protos of varying size whose partitions interleave, each partition's
 * records in order within one thread's protos, then a separate LAST message. A throttled
 * job sleeps between records without sending. A client that reads nothing for the scan's
 * socket timeout has its connection closed, as the server's blocking send gives up.
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import { partitionId } from "../aerospike/digest.ts";
import { encodeRecordMessage, Info1, Info3, type MessageHeader } from "../aerospike/message.ts";
import { beginProto, endProto, ProtoType } from "../aerospike/proto.ts";
import { decodeScanRequest, type ScanRequest, writeReplyHeader } from "../aerospike/requests.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import { SendTimeout, type ServerConnection } from "./connection.ts";
import { isExpired, type StoredRecord } from "./record_store.ts";
import type { RecordFilter } from "./record_commands.ts";
import { compileFilter } from "./expression_eval.ts";
import { geoJsonCells } from "./_s2_cell.ts";
import { PARTITION_COUNT } from "../aerospike/digest.ts";

/** Size past which a scan thread sends its buffer (the server's `QUERY_CHUNK_LIMIT`). */
export const SCAN_FLUSH_BYTES = 1 << 20;

/** Threads of an unthrottled job (the server's `single-query-threads` default). */
export const SCAN_THREADS = 4;

/** Finest pause of the records-per-second throttle, in ms. */
const THROTTLE_STEP_MS = 5;

interface WorkItem {
  pid: number;
  after?: Uint8Array;
}

/** One server thread of a scan job: its reply buffer, one proto being filled. */
class ScanThread {
  readonly w = new ByteWriter(64 * 1024);
  #start = beginProto(this.w);

  /** Bytes of messages in the open proto. */
  get size(): number {
    return this.w.length - this.#start - 8;
  }

  /** Closes the proto and returns it; the next one starts empty. */
  take(): Uint8Array {
    endProto(this.w, this.#start, ProtoType.MESSAGE);
    const proto = this.w.subarray().slice();
    this.w.reset();
    this.#start = beginProto(this.w);
    return proto;
  }
}

async function replyOnly(c: ServerConnection, h: Partial<MessageHeader>): Promise<void> {
  c.begin();
  writeReplyHeader(c.w, h);
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
    return await replyOnly(c, { info3: Info3.LAST, resultCode: ResultCode.PARAMETER_ERROR });
  }
  if ((header.info3 & Info3.PARTITION_DONE) === 0) {
    // Servers 6+ serve only partition scans, which need the partition-done bit.
    return await replyOnly(c, { info3: Info3.LAST, resultCode: ResultCode.UNSUPPORTED_FEATURE });
  }
  const cluster = c.cluster;
  const ns = cluster.namespace(scan.namespace);
  if (ns === undefined) {
    return await replyOnly(c, { info3: Info3.LAST, resultCode: ResultCode.INVALID_NAMESPACE });
  }
  if (scan.filterExpression !== undefined) {
    try {
      compileFilter(scan.filterExpression);
    } catch {
      return await replyOnly(c, { info3: Info3.LAST, resultCode: ResultCode.PARAMETER_ERROR });
    }
  }
  const node = c.node;
  cluster.events.dispatchEvent(
    new CustomEvent("scan-started", { detail: { node: node.name, scan } }),
  );
  const tasks = node.scanTasks;
  if (!tasks.start(scan.taskId)) {
    // The job never starts: a bare answer, without the LAST bit, as the capture shows.
    return await replyOnly(c, { resultCode: ResultCode.PARAMETER_ERROR });
  }
  try {
    await runScan(c, scan, filter);
  } catch (err) {
    if (!(err instanceof SendTimeout)) throw err;
    // The server's log says "error sending … Connection timed out" and abandons the job.
    c.cluster.events.dispatchEvent(new CustomEvent("scan-abandoned", { detail: node.name }));
  } finally {
    tasks.finish(scan.taskId);
  }
}

async function runScan(c: ServerConnection, scan: ScanRequest, filter: RecordFilter) {
  const cluster = c.cluster;
  const ns = cluster.namespace(scan.namespace)!;
  const store = ns.store;
  const node = c.node;
  const set = scan.set ?? "";
  const noBins = scan.noBins ?? false;
  const binNames = scan.binNames;
  const exp = scan.filterExpression;
  const max = Number(scan.maxRecords ?? 0);
  const rps = scan.recordsPerSecond ?? 0;
  const sendTimeout = scan.socketTimeoutMs ?? 0;
  const dropAfter = cluster.faults.takeScanDrop(node.name);
  const plain = !noBins && binNames === undefined;
  const info1 = noBins ? Info1.GET_NOBINDATA : 0;
  const items = workList(scan);
  const threads = Array.from(
    { length: Math.max(1, Math.min(rps > 0 ? 1 : SCAN_THREADS, items.length)) },
    () => new ScanThread(),
  );
  const started = performance.now();
  let count = 0;
  // Read the clock once per partition, not per record.
  let now = cluster.nowSeconds();

  /** Sends what every thread holds (the job ends, or a fault cuts it short). */
  const sendAll = async () => {
    for (const t of threads) if (t.size > 0) await c.sendProto(t.take(), sendTimeout);
  };

  outer: for (let k = 0; k < items.length; k++) {
    const item = items[k];
    const t = threads[k % threads.length];
    if (
      cluster.faults.isUnavailable(ns.config.name, item.pid) ||
      cluster.replicaIndex(ns, item.pid, node.index) < 0 || !node.alive
    ) {
      writeReplyHeader(t.w, {
        info3: Info3.PARTITION_DONE,
        resultCode: ResultCode.PARTITION_UNAVAILABLE,
        generation: item.pid,
      });
      continue;
    }
    now = cluster.nowSeconds();
    let part: readonly StoredRecord[] = store.partition(item.pid);
    let i = item.after === undefined ? 0 : store.indexAfter(item.pid, item.after);
    while (i < part.length) {
      const r = part[i++];
      if (r.voidTime !== 0 && isExpired(r, now)) continue;
      if (set !== "" && r.set !== set) continue;
      if (exp !== undefined && !filter(exp, r)) continue;
      // With a bin selection the server leaves out records holding none of the selected
      // bins (official-node-client.jsonl: the one-bin scan skips the record without it).
      if (!noBins && binNames !== undefined && !hasAnyBin(r.bins, binNames)) continue;
      if (plain) encodeRecordMessage(t.w, r, { geoCells: geoJsonCells });
      else encodeRecordMessage(t.w, r, { info1, noBins, binNames, geoCells: geoJsonCells });
      count++;
      cluster.faults.served("scan", node.name);
      if (dropAfter >= 0 && count >= dropAfter) {
        await sendAll();
        c.close();
        return;
      }
      if (max > 0 && count >= max) break outer;
      let yielded = false;
      if (t.size > SCAN_FLUSH_BYTES) {
        await c.sendProto(t.take(), sendTimeout);
        yielded = true;
      }
      if (rps > 0) {
        const pause = (count * 1000) / rps - (performance.now() - started);
        if (pause >= THROTTLE_STEP_MS) {
          await new Promise((res) => setTimeout(res, pause));
          yielded = true;
        }
      }
      if (yielded) {
        if (c.closed || !node.alive) return;
        // The partition may have changed meanwhile: continue after the last digest.
        const last = r.digest;
        part = store.partition(item.pid);
        i = store.indexAfter(item.pid, last);
      }
    }
  }
  if (dropAfter === 0) {
    c.close();
    return;
  }
  await sendAll();
  await replyOnly(c, { info3: Info3.LAST });
}
