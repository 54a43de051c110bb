/**
 * ASB codec throughput on one core: encode and decode MB/s and records/s for small
 * (~200-byte) records and for records holding a 10 KiB blob.
 *
 * Run alone: `deno run -A scripts/bench_asb.ts`.
 *
 * @module
 */

import { ByteWriter } from "../lib/aerospike/byte_writer.ts";
import type { AerospikeRecord } from "../lib/aerospike/record.ts";
import { AsbEncoder, AsbParser, decodeAsb } from "../lib/format/asb/mod.ts";

/** Figures of one workload. */
export interface AsbBenchFigures {
  /** Workload name. */
  name: string;
  /** Records per run. */
  records: number;
  /** Average encoded record size in bytes. */
  bytesPerRecord: number;
  /** Encode throughput. */
  encodeRecordsPerSecond: number;
  /** Encode throughput in MB/s (10^6 bytes). */
  encodeMBps: number;
  /** Decode throughput through the synchronous parser. */
  decodeRecordsPerSecond: number;
  /** Decode MB/s through the synchronous parser. */
  decodeMBps: number;
  /** Decode throughput through `decodeAsb()` over a ReadableStream of 64 KiB chunks. */
  streamDecodeRecordsPerSecond: number;
  /** Decode MB/s through `decodeAsb()`. */
  streamDecodeMBps: number;
}

const te = new TextEncoder();

function smallRecord(i: number): AerospikeRecord {
  const digest = new Uint8Array(20);
  new DataView(digest.buffer).setUint32(0, i);
  return {
    namespace: "test",
    set: "demo",
    digest,
    key: { type: 3, value: te.encode(`user-${i}`) },
    generation: 1 + (i % 7),
    voidTime: 500000000 + i,
    bins: [
      { name: "id", type: 1, value: BigInt(i) },
      { name: "name", type: 3, value: te.encode(`name of user number ${i}`) },
      { name: "score", type: 2, value: i / 7 },
      { name: "active", type: 17, value: (i & 1) === 0 },
      { name: "tags", type: 20, value: new Uint8Array([0x93, 0xa2, 3, 0x61, 1, 2, 3, 4]) },
      { name: "blob", type: 4, value: digest },
    ],
  };
}

function blobRecord(i: number): AerospikeRecord {
  const digest = new Uint8Array(20);
  new DataView(digest.buffer).setUint32(0, i);
  const blob = new Uint8Array(10 * 1024);
  for (let j = 0; j < blob.length; j++) blob[j] = (i + j * 31) & 255;
  return {
    namespace: "test",
    set: "blobs",
    digest,
    key: { type: 1, value: BigInt(i) },
    generation: 1,
    voidTime: 0,
    bins: [{ name: "data", type: 4, value: blob }, { name: "n", type: 1, value: BigInt(i) }],
  };
}

function chunks(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + size));
      at += size;
    },
  });
}

async function run(
  name: string,
  make: (i: number) => AerospikeRecord,
  n: number,
): Promise<AsbBenchFigures> {
  const records = Array.from({ length: n }, (_, i) => make(i));
  const enc = new AsbEncoder();
  const w = new ByteWriter(1 << 20);
  // Warm up, then time an encode that flushes every 1 MiB like a file writer would.
  for (let i = 0; i < Math.min(n, 20000); i++) {
    enc.encodeRecord(w, records[i]);
    if (w.length > 1 << 20) w.reset();
  }
  w.reset();
  let total = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    enc.encodeRecord(w, records[i]);
    if (w.length > 1 << 20) {
      total += w.length;
      w.reset();
    }
  }
  total += w.length;
  const encodeMs = performance.now() - t0;

  const file = new ByteWriter(total + 64);
  file.bytes(enc.header("test"));
  for (const r of records) enc.encodeRecord(file, r);
  const bytes = file.subarray();

  const parseAll = () => {
    const p = new AsbParser();
    let count = 0;
    for (let at = 0; at < bytes.length; at += 65536) {
      p.push(bytes.subarray(at, at + 65536));
      while (p.next() !== undefined) count++;
    }
    p.end();
    while (p.next() !== undefined) count++;
    return count;
  };
  parseAll();
  const t1 = performance.now();
  const parsed = parseAll();
  const decodeMs = performance.now() - t1;
  if (parsed !== n) throw new Error(`Decoded ${parsed} records, expected ${n}`);

  const t2 = performance.now();
  let streamed = 0;
  for await (const _ of decodeAsb(chunks(bytes, 65536))) streamed++;
  const streamMs = performance.now() - t2;
  if (streamed !== n) throw new Error(`Streamed ${streamed} records, expected ${n}`);

  const mb = bytes.length / 1e6;
  return {
    name,
    records: n,
    bytesPerRecord: Math.round(total / n),
    encodeRecordsPerSecond: Math.round(n / (encodeMs / 1000)),
    encodeMBps: Math.round(total / 1e6 / (encodeMs / 1000)),
    decodeRecordsPerSecond: Math.round(n / (decodeMs / 1000)),
    decodeMBps: Math.round(mb / (decodeMs / 1000)),
    streamDecodeRecordsPerSecond: Math.round(n / (streamMs / 1000)),
    streamDecodeMBps: Math.round(mb / (streamMs / 1000)),
  };
}

/**
 * Measures the ASB encoder and decoder on one core.
 *
 * @param options Record counts.
 * @returns One figure set per workload (small records, 10 KiB blob records).
 */
export async function benchAsb(
  options: { smallRecords?: number; blobRecords?: number } = {},
): Promise<AsbBenchFigures[]> {
  return [
    await run("small (~200 B)", smallRecord, options.smallRecords ?? 300_000),
    await run("blob (10 KiB)", blobRecord, options.blobRecords ?? 20_000),
  ];
}

if (import.meta.main) {
  for (const f of await benchAsb()) console.log(JSON.stringify(f));
}
