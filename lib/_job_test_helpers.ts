/**
 * Shared pieces of the job tests: a seeded emulator and record comparison.
 *
 * @module
 */

import { ByteWriter } from "./aerospike/byte_writer.ts";
import type { AerospikeRecord } from "./aerospike/record.ts";
import { ManualClock } from "./emulator/clock.ts";
import { type Emulator, startEmulator } from "./emulator/emulator.ts";
import { AsbEncoder } from "./format/asb/encoder.ts";

/**
 * Starts an emulator on a manual clock and seeds `n` records of every bin type in three
 * sets, some with a TTL.
 *
 * @param n Records to seed.
 * @param nodes Cluster size.
 * @returns The emulator.
 */
export async function seededEmulator(n: number, nodes = 3): Promise<Emulator> {
  const emu = await startEmulator({
    nodes,
    clock: new ManualClock(1_750_000_000_000),
    // nsup on, so records with a TTL can be restored (a real server refuses them otherwise).
    namespaces: [{ name: "test", nsupPeriod: 120 }, { name: "bar", nsupPeriod: 120 }],
  });
  for (let i = 0; i < n; i++) {
    emu.put({
      namespace: "test",
      set: ["alpha", "beta", ""][i % 3],
      key: i % 5 === 0 ? `key-${i}` : i,
      ttl: i % 7 === 0 ? 3600 : 0,
      bins: {
        i,
        s: `string ${i} with spaces\nand newline`,
        f: i + 0.5,
        b: new Uint8Array([i & 255, 0, 255]),
        l: [1, "two", [3]],
        m: { a: i, z: "zz" },
        t: i % 2 === 0,
      },
    });
  }
  return emu;
}

/**
 * Encodes a namespace's records as sorted ASB blocks, renamed to one namespace, so two
 * namespaces can be compared byte for byte.
 *
 * @param records The records.
 * @param namespace The namespace to write in every block.
 * @returns One string per record, sorted.
 */
export function canonicalDump(records: readonly AerospikeRecord[], namespace: string): string[] {
  const enc = new AsbEncoder();
  const w = new ByteWriter(1024);
  const out: string[] = [];
  for (const r of records) {
    w.reset();
    enc.encodeRecord(w, { ...r, namespace });
    out.push(new TextDecoder().decode(w.subarray()));
  }
  return out.sort();
}
