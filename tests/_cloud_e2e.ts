/**
 * Shared pieces of the cloud end-to-end tests: a cluster of records large enough that
 * backup files are uploaded in several parts, in-process CLI runs, and pseudo-random bytes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fakeIo } from "../cli/_test_io.ts";
import { ManualClock } from "../lib/emulator/clock.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import { T0 } from "./_backup_e2e.ts";

type Io = ReturnType<typeof fakeIo>;

/**
 * Deterministic bytes that do not compress.
 *
 * @param n Length.
 * @param seed Seed; a different seed gives different bytes.
 * @returns The bytes.
 */
export function pseudoRandom(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = (seed * 0x9e3779b1) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A 1-node emulator on a manual clock whose namespace `test` holds `records` records of
 * about 2.5 KB each (a blob bin, a string, an integer), in two sets, every fifth with a TTL.
 * With one node each backup file gets its records in the order of one scan, so two backups
 * of it are byte for byte the same.
 *
 * @param records Records in `test`.
 * @param namespaces Namespaces besides `test`, to restore into.
 * @returns The emulator.
 */
export async function blobCluster(records: number, namespaces: string[]): Promise<Emulator> {
  const emu = await startEmulator({
    nodes: 1,
    clock: new ManualClock(T0),
    namespaces: ["test", ...namespaces].map((name) => ({ name, nsupPeriod: 120 })),
  });
  for (let i = 0; i < records; i++) {
    emu.put({
      namespace: "test",
      set: i % 2 === 0 ? "even" : "odd",
      key: i,
      ttl: i % 5 === 0 ? 7200 : 0,
      lastUpdateMs: T0 - (records - i) * 1000,
      bins: { i, s: `record ${i} ü`, blob: pseudoRandom(2500, i + 1) },
    });
  }
  return emu;
}

/**
 * Asserts two byte strings are equal, naming the first byte that differs (a diff of
 * megabytes would not be readable).
 *
 * @param actual Bytes read.
 * @param expected Bytes expected.
 * @param what What they are, for the message.
 */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  assert.fail(
    `${what}: ${actual.length} bytes where ${expected.length} were expected, first difference at byte ${i}`,
  );
}

/**
 * A fake process whose clock is the emulator's, so TTLs back up and restore as they were.
 *
 * @param emu The emulator.
 * @returns The fake process.
 */
export function clusterIo(emu: Emulator): Io {
  return fakeIo({ now: () => new Date(emu.cluster.clock.now()) });
}

/**
 * Runs a CLI in-process and asserts it exits 0.
 *
 * @param main `asbackup`'s or `asrestore`'s main.
 * @param args Its arguments.
 * @param io The fake process (see {@linkcode clusterIo}).
 * @returns The fake process, with what the CLI printed.
 */
export async function cliRun(
  main: (args: string[], io: Io) => Promise<number>,
  args: string[],
  io: Io,
): Promise<Io> {
  const code = await main(args, io);
  assert.equal(code, 0, `${args.join(" ")}\n${io.err.text}`);
  return io;
}
