/**
 * Client benchmark: how fast the scan path turns reply bytes into records.
 *
 * The replies are built once, up front (1 MiB frames of ~200-byte records, as a server
 * sends them), and an in-memory transport hands them to the real scan code: request
 * encoding, frame reading, record decoding, partition tracking and the async iterator all
 * run; no socket, no server. One core (JS runs on one thread).
 *
 * Usage: `deno run -A scripts/bench_client.ts [records]`
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { ByteWriter } from "../lib/aerospike/byte_writer.ts";
import { Connection } from "../lib/aerospike/connection.ts";
import { encodeRecordMessage, Info3 } from "../lib/aerospike/message.ts";
import { Node } from "../lib/aerospike/node.ts";
import { PartitionFilter } from "../lib/aerospike/partition_filter.ts";
import { intBin, stringBin } from "../lib/aerospike/particle.ts";
import { resolveScanOptions } from "../lib/aerospike/policy.ts";
import { beginProto, endProto, ProtoType } from "../lib/aerospike/proto.ts";
import type { AerospikeRecord } from "../lib/aerospike/record.ts";
import { encodeReply } from "../lib/aerospike/requests.ts";
import { scanPartitions } from "../lib/aerospike/scan.ts";
import type { Transport } from "../lib/aerospike/_transport.ts";

/** Figures of {@linkcode benchScanDecode}. */
export interface ScanDecodeFigures {
  /** What was measured. */
  what: string;
  /** Records decoded. */
  records: number;
  /** Reply bytes consumed (proto headers included). */
  bytes: number;
  /** Average AS_MSG size of a record, bytes. */
  recordBytes: number;
  /** Wall seconds. */
  seconds: number;
  /** Records per second. */
  recordsPerSecond: number;
  /** Reply megabytes (10^6) per second. */
  mbPerSecond: number;
  /** CPU microseconds per record (this process). */
  cpuMicrosPerRecord: number;
}

/** Replays pre-built reply bytes: `frames` copies of `frame`, then the LAST message. */
class ReplayTransport implements Transport {
  closed = false;
  #frame: Uint8Array;
  #left: number;
  #off = 0;
  #last = encodeReply({ info3: Info3.LAST });
  #lastOff = -1;

  constructor(frame: Uint8Array, frames: number) {
    this.#frame = frame;
    this.#left = frames;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#left > 0) {
      const n = Math.min(p.length, this.#frame.length - this.#off);
      p.set(this.#frame.subarray(this.#off, this.#off + n));
      this.#off += n;
      if (this.#off === this.#frame.length) {
        this.#off = 0;
        this.#left--;
        if (this.#left === 0) this.#lastOff = 0;
      }
      return Promise.resolve(n);
    }
    if (this.#lastOff >= 0 && this.#lastOff < this.#last.length) {
      const n = Math.min(p.length, this.#last.length - this.#lastOff);
      p.set(this.#last.subarray(this.#lastOff, this.#lastOff + n));
      this.#lastOff += n;
      return Promise.resolve(n);
    }
    return Promise.resolve(null);
  }

  write(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }
}

/** One reply frame of about 1 MiB of ~200-byte records spread over all partitions. */
function buildFrame(): { frame: Uint8Array; records: number } {
  const w = new ByteWriter(1 << 21);
  const p = beginProto(w);
  let n = 0;
  while (w.length < 1 << 20) {
    const digest = new Uint8Array(20);
    for (let i = 0; i < 20; i++) digest[i] = (n * 7 + i * 13) & 0xff;
    const record: AerospikeRecord = {
      namespace: "test",
      set: "demo",
      digest,
      generation: 1,
      voidTime: 0,
      bins: [intBin("i", n), stringBin("s", "x".repeat(100 + (n % 15)))],
    };
    encodeRecordMessage(w, record);
    n++;
  }
  endProto(w, p, ProtoType.MESSAGE);
  return { frame: w.subarray().slice(), records: n };
}

/**
 * Measures the scan decode rate of the client.
 *
 * @param records Records to decode (rounded up to whole frames). @default 2,000,000
 * @returns The figures.
 */
export async function benchScanDecode(records = 2_000_000): Promise<ScanDecodeFigures> {
  const { frame, records: perFrame } = buildFrame();
  const frames = Math.max(1, Math.ceil(records / perFrame));
  const transport = new ReplayTransport(frame, frames);
  const node = new Node({
    name: "BENCH",
    host: { name: "127.0.0.1", port: 3000 },
    build: "8.1.2.0",
    maxConnections: 1,
    idleTimeoutMs: 0,
    connector: {
      connectTimeoutMs: 1000,
      authenticate: () => Promise.resolve(),
      open: () =>
        Promise.resolve(Connection.fromTransport(transport, { address: "127.0.0.1:3000" })),
    },
  });
  const cluster = {
    locate: () => node,
    refresh: () => Promise.resolve(),
    poolWaitMs: 1000,
    nodeCount: () => 1,
  };
  const opts = resolveScanOptions({ namespace: "test" });
  const cpu0 = cpuUsage();
  const t0 = performance.now();
  let n = 0;
  let bins = 0;
  for await (const r of scanPartitions(cluster, PartitionFilter.all(), opts)) {
    n++;
    bins += r.bins.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(cpu0);
  await node.close();
  if (bins !== 2 * n) throw new Error(`Decoded ${bins} bins for ${n} records`);
  const bytes = frames * frame.length + 30;
  return {
    what: "client scan decode (in-memory replies, 1 node)",
    records: n,
    bytes,
    recordBytes: Math.round((frame.length - 8) / perFrame),
    seconds,
    recordsPerSecond: Math.round(n / seconds),
    mbPerSecond: Math.round(bytes / 1e6 / seconds * 10) / 10,
    cpuMicrosPerRecord: Math.round((cpu.user + cpu.system) / n * 100) / 100,
  };
}

if (import.meta.main) {
  const records = Deno.args[0] ? Number(Deno.args[0]) : undefined;
  console.log(JSON.stringify(await benchScanDecode(records), null, 2));
}
