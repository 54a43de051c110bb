/**
 * Shared pieces of the `asrestore` end-to-end tests: a fake process for the CLIs, a 3-node
 * emulator on a manual clock seeded with every particle type, key type, set, TTL and
 * generation, and record comparison.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ByteWriter } from "../lib/aerospike/byte_writer.ts";
import {
  packArrayHeader,
  packExt,
  packInt,
  packMapHeader,
  packNil,
  packString,
} from "../lib/aerospike/msgpack.ts";
import {
  blobBin,
  boolBin,
  floatBin,
  geoJsonBin,
  intBin,
  listBin,
  mapBin,
  stringBin,
} from "../lib/aerospike/particle.ts";
import type { AerospikeRecord, Bin } from "../lib/aerospike/record.ts";
import { ManualClock } from "../lib/emulator/clock.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import { type FakeIo, fakeIo as fakeProcess } from "../cli/_test_io.ts";
import { withTempDir as withTempDirAt } from "../lib/_test_utils.ts";

export type { FakeIo };

/**
 * Creates a fake process for `main(args, io)`.
 *
 * @param emu When given, the CLI's clock is the emulator's (TTLs are computed against it).
 * @param env Environment variables.
 * @returns The fake.
 */
export function fakeIo(emu?: Emulator, env: Record<string, string> = {}): FakeIo {
  return fakeProcess({ env, now: emu && (() => new Date(emu.cluster.clock.now())) });
}

/** Start time of the emulators' manual clocks (2025-06-15). */
export const START_MS = 1_750_000_000_000;

/**
 * Starts a 3-node emulator on a manual clock with namespaces `test` and `bar` (nsup on, so
 * TTL writes are accepted as by a real server with nsup).
 *
 * @param extra More emulator options.
 * @returns The emulator.
 */
export function startCluster(
  extra: Parameters<typeof startEmulator>[0] = {},
): Promise<Emulator> {
  return startEmulator({
    nodes: 3,
    clock: new ManualClock(START_MS),
    namespaces: [{ name: "test", nsupPeriod: 120 }, { name: "bar", nsupPeriod: 120 }],
    ...extra,
  });
}

function pack(build: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(64);
  build(w);
  return w.subarray().slice();
}

const bytes = (...b: number[]) => new Uint8Array(b);

/** Bins with one value of every particle type and the edge values of each. */
export function everyTypeBins(i: number): Bin[] {
  return [
    intBin("imin", -9223372036854775808n),
    intBin("imax", 9223372036854775807n),
    intBin("izero", 0),
    intBin("ineg", -1 - i),
    floatBin("fone", 1.0),
    floatBin("fnan", NaN),
    floatBin("fpinf", Infinity),
    floatBin("fninf", -Infinity),
    floatBin("fnzero", -0),
    floatBin("ftiny", 5e-324),
    floatBin("fbig", 1.7976931348623157e308),
    floatBin("ffrac", i + 0.1),
    stringBin("str", `héllo ${i}\nline two with spaces`),
    // Not valid UTF-8: strings stay raw bytes end to end.
    { name: "strbin", type: 3, value: bytes(0, 0xff, 0x0a, 0x20, 0xc3, i & 255) },
    stringBin("sempty", ""),
    blobBin("blob", bytes(0, 1, 2, 0xff, 0x0a, i & 255)),
    blobBin("java", bytes(0xac, 0xed, 0, 5), 7),
    blobBin("csharp", bytes(1, 2), 8),
    blobBin("python", bytes(0x80, 4), 9),
    blobBin("ruby", bytes(4, 8), 10),
    blobBin("php", bytes(0x62, 0x3a, 0x31, 0x3b), 11),
    blobBin("erlang", bytes(131, 97, 1), 12),
    boolBin("btrue", true),
    boolBin("bfalse", false),
    blobBin("hll", new Uint8Array(48).fill(i & 255).map((v, k) => (v + k) & 255), 18),
    listBin(
      "list",
      pack((w) => {
        packArrayHeader(w, 3);
        packInt(w, i);
        packString(w, "two");
        packArrayHeader(w, 0);
      }),
    ),
    // An ordered list: the ext header flag 1 first.
    listBin(
      "olist",
      pack((w) => {
        packArrayHeader(w, 3);
        packExt(w, 0, bytes(1));
        packInt(w, 1);
        packInt(w, 2);
      }),
    ),
    mapBin(
      "map",
      pack((w) => {
        packMapHeader(w, 2);
        packString(w, "z");
        packInt(w, i);
        packString(w, "a");
        packNil(w);
      }),
    ),
    // A key-ordered map: the flags ext entry first, keys in order.
    mapBin(
      "kmap",
      pack((w) => {
        packMapHeader(w, 3);
        packExt(w, 1, new Uint8Array());
        packNil(w);
        packString(w, "a");
        packInt(w, 1);
        packString(w, "b");
        packInt(w, 2);
      }),
    ),
    geoJsonBin("geo", `{"type":"Point","coordinates":[103.9,${i % 80}.5]}`),
  ];
}

/** What {@linkcode seedEveryKind} put in. */
export interface SeedSummary {
  /** Records seeded. */
  records: number;
  /** Records with a TTL of 100 s ("soon"). */
  soon: number;
}

/**
 * Seeds `test` with records of every bin type, key type (int, string, bytes, none), set and
 * no set, TTL (never, 100 s, five years) and generation.
 *
 * @param emu The emulator.
 * @param n Records.
 * @param ns Namespace.
 * @returns What was seeded.
 */
export function seedEveryKind(emu: Emulator, n = 24, ns = "test"): SeedSummary {
  let soon = 0;
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    const key = kind === 0 ? i : kind === 1 ? `key-${i}` : bytes(i, 0, 255);
    const ttlKind = i % 3;
    if (ttlKind === 1) soon++;
    emu.put({
      namespace: ns,
      set: i % 2 === 0 ? "types" : "",
      key,
      sendKey: kind !== 3,
      // "Long" stays under the server's 10-year max-ttl even with --extra-ttl.
      ttl: ttlKind === 0 ? 0 : ttlKind === 1 ? 100 : 5 * 365 * 86400,
      generation: 1 + (i % 5) * 3,
      bins: Object.fromEntries(everyTypeBins(i).map((b) => [b.name, b])),
    });
  }
  return { records: n, soon };
}

/**
 * The records of a namespace as comparable values: namespace left out, generation left out
 * (a restored record gets the server's own generation).
 *
 * @param emu The emulator.
 * @param ns Namespace.
 * @returns Records sorted by digest.
 */
export function comparable(
  emu: Emulator,
  ns: string,
): Omit<AerospikeRecord, "namespace" | "generation">[] {
  return emu.dump(ns).map(({ namespace: _ns, generation: _g, ...rest }) => rest);
}

/**
 * Asserts that two namespaces hold the same records, bins byte for byte, keys, sets and
 * void times.
 *
 * @param emu The emulator.
 * @param a One namespace.
 * @param b The other.
 */
export function assertSameRecords(emu: Emulator, a: string, b: string): void {
  const left = comparable(emu, a);
  const right = comparable(emu, b);
  assert.equal(right.length, left.length, `${b} has ${right.length} records, ${a} ${left.length}`);
  for (let i = 0; i < left.length; i++) assert.deepStrictEqual(right[i], left[i]);
}

/**
 * Parses the JSON report line (`--log-json`) a restore printed last.
 *
 * @param io The fake process.
 * @param msg The report's message.
 * @returns The report's attributes.
 */
export function jsonReport(io: FakeIo, msg = "restore report"): Record<string, unknown> {
  const lines = io.err.text.trim().split("\n").map((l) => JSON.parse(l));
  const report = lines.findLast((l) => l.msg === msg);
  assert.ok(report, `no "${msg}" line in:\n${io.err.text}`);
  return report;
}

/**
 * Asserts that every record read was counted in exactly one category.
 *
 * @param r A JSON restore report.
 */
export function assertAccounted(r: Record<string, unknown>): void {
  const sum = ["inserted", "existed", "fresher", "expired", "skipped", "ignored", "failed"]
    .reduce((s, k) => s + Number(r[`${k}_records`] ?? 0), 0);
  assert.equal(sum, r.records_read, `categories do not add up: ${JSON.stringify(r)}`);
}

/**
 * Makes a temporary directory that is removed after `fn`.
 *
 * @param fn The body.
 * @returns What `fn` returns.
 */
export function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDirAt(fn, "aerobak_restore_");
}
