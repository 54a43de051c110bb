/**
 * Shared pieces of the compression / encryption / Secret Agent CLI tests: running the CLIs
 * in-process, a seeded 3-node emulator on the real clock, record comparison and key files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import type { AerospikeRecord } from "../lib/aerospike/record.ts";
import { canonicalDump } from "../lib/_job_test_helpers.ts";
import { type Emulator, startEmulator } from "../lib/emulator/mod.ts";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo } from "./_backup_e2e.ts";

/** Samples the C asbackup 4.5.8 wrote (`testdata/c-asbackup-4.5.8/SOURCE.md`). */
export const C_SAMPLES = new URL("../testdata/c-asbackup-4.5.8/", import.meta.url).pathname;
/** The RSA key (PKCS#1 PEM) the encrypted C samples were written with. */
export const SAMPLE_KEY = `${C_SAMPLES}sample-key.pem`;

/** What a CLI run printed and returned. */
export interface CliRun {
  /** Exit code. */
  code: number;
  /** Everything written to stderr (logs, reports). */
  stderr: string;
  /** Everything written to stdout. */
  stdout: string;
}

/**
 * Runs `asbackup` in-process.
 *
 * @param args Its arguments.
 * @param env Environment variables for the password forms (`--encryption-key-env` reads the
 *   process environment, as in a real run).
 * @returns Exit code and output.
 */
export async function asbackup(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const io = fakeIo(env);
  const code = await backupMain(args, io);
  return { code, stderr: io.err.text, stdout: io.out.text };
}

/**
 * Runs `asrestore` in-process.
 *
 * @param args Its arguments.
 * @param env Environment variables for the password forms (`--encryption-key-env` reads the
 *   process environment, as in a real run).
 * @returns Exit code and output.
 */
export async function asrestore(
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  const io = fakeIo(env);
  const code = await restoreMain(args, io);
  return { code, stderr: io.err.text, stdout: io.out.text };
}

/**
 * Asserts a run succeeded, showing its output otherwise.
 *
 * @param run The run.
 * @param what What ran, for the message.
 */
export function assertOk(run: CliRun, what: string): void {
  assert.equal(run.code, 0, `${what} failed:\n${run.stderr}`);
}

/**
 * Asserts a run failed with exit code 1 and exactly one error line matching `pattern`,
 * no stack trace, and (for restores) no record written.
 *
 * @param run The run.
 * @param pattern What the error line must say.
 */
export function assertFailsCleanly(run: CliRun, pattern: RegExp): void {
  assert.equal(run.code, 1, `expected exit code 1, got ${run.code}:\n${run.stderr}`);
  const errors = run.stderr.split("\n").filter((l) => /level=ERROR|^Error:/.test(l));
  assert.equal(errors.length, 1, `expected one error line:\n${run.stderr}`);
  assert.match(errors[0], pattern, `error line does not match ${pattern}:\n${errors[0]}`);
  assert.doesNotMatch(run.stderr, /\n\s+at .*:\d+:\d+/, "stack trace in the output");
}

/**
 * Starts a 3-node emulator on the real clock (the CLIs compute TTLs from it) with
 * namespaces `test` and `bar`, nsup on so records with a TTL restore.
 *
 * @param users Users and passwords (security on when given).
 * @returns The emulator.
 */
export function emulator3(users?: Record<string, string>): Promise<Emulator> {
  return startEmulator({
    nodes: 3,
    namespaces: [{ name: "test", nsupPeriod: 120 }, { name: "bar", nsupPeriod: 120 }],
    ...(users ? { users } : {}),
  });
}

/**
 * Seeds `n` records of every bin type in three sets, some with a TTL, some with large
 * random blobs (so compression and encryption see both text and noise).
 *
 * @param emu The emulator.
 * @param n Records.
 * @param blobBytes Size of the random blob bin.
 */
export function seedRecords(emu: Emulator, n: number, blobBytes = 64): void {
  let seed = 7;
  for (let i = 0; i < n; i++) {
    const noise = new Uint8Array(blobBytes);
    for (let j = 0; j < noise.length; j++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      noise[j] = seed >>> 24;
    }
    emu.put({
      namespace: "test",
      set: ["alpha", "beta", ""][i % 3],
      key: i % 5 === 0 ? `key-${i}` : i,
      ttl: i % 7 === 0 ? 86400 : 0,
      bins: {
        i,
        s: `string ${i} with spaces\nand newline`,
        f: i + 0.25,
        b: noise,
        l: [1, "two", [3]],
        m: { a: i, z: "zz" },
        t: i % 2 === 0,
      },
    });
  }
}

/**
 * Asserts two namespaces hold the same records (compared as ASB text), allowing void
 * times to differ by up to 2 s (a restore rewrites each TTL relative to its own clock).
 *
 * @param actual Restored records.
 * @param expected Source records.
 */
export function assertSameRecords(
  actual: readonly AerospikeRecord[],
  expected: readonly AerospikeRecord[],
): void {
  assert.equal(actual.length, expected.length, "record count");
  const voidTimes = new Map(expected.map((r) => [Buffer.from(r.digest).toString("hex"), r]));
  const aligned = actual.map((r) => {
    const e = voidTimes.get(Buffer.from(r.digest).toString("hex"));
    if (e && r.voidTime !== 0 && e.voidTime !== 0 && Math.abs(r.voidTime - e.voidTime) <= 2) {
      return { ...r, voidTime: e.voidTime };
    }
    return r;
  });
  assert.deepEqual(canonicalDump(aligned, "ns"), canonicalDump(expected, "ns"));
}

/**
 * Restores a backup directory into a fresh 3-node cluster and asserts it holds exactly the
 * records of `source`.
 *
 * @param source The cluster the backup was taken from.
 * @param dir The backup directory.
 * @param flags Further `asrestore` flags (compression, decryption).
 * @param what What ran, for the message.
 */
export async function assertRestoresSame(
  source: Emulator,
  dir: string,
  flags: string[],
  what: string,
): Promise<void> {
  await using target = await emulator3();
  const restore = await asrestore(["-h", target.seeds, "-d", dir, ...flags]);
  assertOk(restore, what);
  assertSameRecords(target.dump("test"), source.dump("test"));
}

/** Key files of one RSA key in both PEM forms, plus a non-RSA key. */
export interface TestKeys {
  /** Temporary directory holding them. */
  dir: string;
  /** PKCS#1 PEM (`RSA PRIVATE KEY`): the C samples' key. */
  pkcs1: string;
  /** The same key as PKCS#8 PEM (`PRIVATE KEY`). */
  pkcs8: string;
  /** An EC key (PKCS#8 PEM), which is not RSA. */
  ec: string;
  /** PEM text of the PKCS#1 file. */
  pkcs1Pem: string;
  /** PEM text of the PKCS#8 file. */
  pkcs8Pem: string;
}

/**
 * Writes the sample key as PKCS#1 and PKCS#8 PEM and an EC key to a temporary directory.
 *
 * @returns The paths and texts.
 */
export async function writeTestKeys(): Promise<TestKeys> {
  const dir = await Deno.makeTempDir({ prefix: "aerobak-keys-" });
  const pkcs1Pem = await Deno.readTextFile(SAMPLE_KEY);
  const pkcs8Pem = createPrivateKey(pkcs1Pem).export({ type: "pkcs8", format: "pem" }) as string;
  const ecPem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
    .export({ type: "pkcs8", format: "pem" }) as string;
  const keys = {
    dir,
    pkcs1: `${dir}/pkcs1.pem`,
    pkcs8: `${dir}/pkcs8.pem`,
    ec: `${dir}/ec.pem`,
    pkcs1Pem,
    pkcs8Pem,
  };
  await Deno.writeTextFile(keys.pkcs1, pkcs1Pem);
  await Deno.writeTextFile(keys.pkcs8, pkcs8Pem);
  await Deno.writeTextFile(keys.ec, ecPem);
  return keys;
}

/**
 * Base64 of the DER body of a PEM text (the value `--encryption-key-env` takes in the C tool).
 *
 * @param pem PEM text.
 * @returns Base64 without line breaks.
 */
export function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
}

/**
 * Lists the files of a directory with their sizes, sorted by name.
 *
 * @param dir The directory.
 * @returns Name and size of each file.
 */
export async function listFiles(dir: string): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) out.push({ name: e.name, size: (await Deno.stat(`${dir}/${e.name}`)).size });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
