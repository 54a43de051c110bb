/**
 * Measures how fast the emulator serves a partition scan: the emulator runs alone in a
 * worker thread (one core), seeded with `records` records of about 200 bytes on the
 * wire; the main thread is a raw-socket client that sends one scan of all 4096
 * partitions and counts reply bytes and records until the LAST message.
 *
 * ```sh
 * deno run -A scripts/bench_emulator.ts [records]
 * ```
 *
 * @module
 */

import { encodeScanRequest } from "../lib/aerospike/requests.ts";
import { PROTO_HEADER_SIZE, readProtoHeader } from "../lib/aerospike/proto.ts";
import { Info3 } from "../lib/aerospike/message.ts";

/** Options of {@linkcode benchEmulatorScan}. */
export interface BenchEmulatorOptions {
  /** Records to seed and scan. @default 1_000_000 */
  records?: number;
}

/** What {@linkcode benchEmulatorScan} measured. */
export interface BenchEmulatorResult {
  /** Records received. */
  records: number;
  /** Reply bytes received. */
  bytes: number;
  /** Wall time of the scan (request sent → LAST received), seconds. */
  seconds: number;
  /** Records per second. */
  recordsPerSecond: number;
  /** Megabytes (10^6) per second. */
  mbPerSecond: number;
  /** Average bytes per record on the wire. */
  bytesPerRecord: number;
}

interface WorkerReady {
  seeds: string;
}

const IS_WORKER = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
    "undefined" && self instanceof
    (globalThis as unknown as { WorkerGlobalScope: typeof EventTarget }).WorkerGlobalScope;

async function workerMain(records: number): Promise<void> {
  const { startEmulator } = await import("../lib/emulator/emulator.ts");
  const emu = await startEmulator({ nodes: 1, namespaces: ["test"], replicationFactor: 1 });
  const text = "x".repeat(100);
  for (let i = 0; i < records; i++) {
    emu.put({ namespace: "test", set: "bench", key: i, bins: { i, s: text, f: i + 0.5 } });
  }
  (self as unknown as Worker).postMessage({ seeds: emu.seeds } satisfies WorkerReady);
}

if (IS_WORKER) {
  (self as unknown as Worker).onmessage = (e: MessageEvent<{ records: number }>) =>
    void workerMain(e.data.records);
}

/** Counts the AS_MSGs of one type-3 body; returns -1 when it holds the LAST message. */
function countMessages(body: Uint8Array, view: DataView): number {
  let off = 0;
  let n = 0;
  while (off < body.length) {
    const info3 = body[off + 3];
    const nFields = view.getUint16(off + 18);
    const nOps = view.getUint16(off + 20);
    off += 22;
    for (let i = 0; i < nFields + nOps; i++) off += 4 + view.getUint32(off);
    if ((info3 & Info3.LAST) !== 0) return -1 - n;
    n++;
  }
  return n;
}

/**
 * Seeds an emulator (in a worker) and times one full scan from a raw-socket client.
 *
 * @param opts Number of records.
 * @returns The measurement.
 */
export async function benchEmulatorScan(
  opts: BenchEmulatorOptions = {},
): Promise<BenchEmulatorResult> {
  const records = opts.records ?? 1_000_000;
  const worker = new Worker(import.meta.url, { type: "module" });
  try {
    const ready = await new Promise<WorkerReady>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(e.error ?? new Error(e.message));
      worker.postMessage({ records });
    });
    const [host, port] = ready.seeds.split(":");
    const conn = await Deno.connect({ hostname: host, port: Number(port) });
    try {
      const partitions = Array.from({ length: 4096 }, (_, i) => i);
      const started = performance.now();
      await conn.write(encodeScanRequest({ namespace: "test", partitions, taskId: 1n }));
      let buf = new Uint8Array(4 << 20);
      let start = 0;
      let end = 0;
      let bytes = 0;
      let count = 0;
      let done = false;
      while (!done) {
        if (end === buf.length) {
          const grown = new Uint8Array(Math.max(buf.length, 2 * (end - start)));
          grown.set(buf.subarray(start, end));
          end -= start;
          start = 0;
          buf = grown;
        }
        const n = await conn.read(buf.subarray(end));
        if (n === null) throw new Error("Emulator closed the connection during the scan");
        end += n;
        bytes += n;
        while (end - start >= PROTO_HEADER_SIZE) {
          const h = readProtoHeader(buf, start);
          if (end - start < PROTO_HEADER_SIZE + h.size) break;
          const body = buf.subarray(start + PROTO_HEADER_SIZE, start + PROTO_HEADER_SIZE + h.size);
          const c = countMessages(
            body,
            new DataView(body.buffer, body.byteOffset, body.byteLength),
          );
          if (c < 0) {
            count += -1 - c;
            done = true;
          } else count += c;
          start += PROTO_HEADER_SIZE + h.size;
        }
        if (start === end) start = end = 0;
        else if (start > buf.length / 2) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      return {
        records: count,
        bytes,
        seconds,
        recordsPerSecond: count / seconds,
        mbPerSecond: bytes / 1e6 / seconds,
        bytesPerRecord: bytes / count,
      };
    } finally {
      conn.close();
    }
  } finally {
    worker.terminate();
  }
}

if (import.meta.main && !IS_WORKER) {
  const records = Number(Deno.args[0] ?? 1_000_000);
  const r = await benchEmulatorScan({ records });
  console.log(
    `scan: ${r.records} records, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s = ` +
      `${Math.round(r.recordsPerSecond)} records/s, ${r.mbPerSecond.toFixed(1)} MB/s ` +
      `(${r.bytesPerRecord.toFixed(0)} bytes/record)`,
  );
}
