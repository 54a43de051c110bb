/**
 * Test helpers shared by the io tests: streams from byte splits, collecting, CLI runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { concatBytes } from "../_test_utils.ts";
import type { ObjectStore } from "./object_store.ts";

/** Sample files the C asbackup 4.5.8 wrote (key: sample-key.pem). */
export const C_SAMPLES = new URL("../../testdata/c-asbackup-4.5.8/", import.meta.url).pathname;

/**
 * Streams `bytes` in chunks of the given sizes (cycled), or of random sizes 1..max.
 *
 * @param bytes Data.
 * @param sizes Chunk sizes to cycle through, or `{ random: max, seed }`.
 * @returns A readable stream of subarrays.
 */
export function chunked(
  bytes: Uint8Array,
  sizes: number[] | { random: number; seed?: number },
): ReadableStream<Uint8Array> {
  let seed = Array.isArray(sizes) ? 0 : (sizes.seed ?? 1);
  const next = (k: number) => {
    if (Array.isArray(sizes)) return sizes[k % sizes.length];
    seed = (seed * 1103515245 + 12345) >>> 0;
    return 1 + (seed >>> 8) % sizes.random;
  };
  let off = 0;
  let k = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= bytes.length) return controller.close();
      const n = next(k++);
      controller.enqueue(bytes.slice(off, off + n));
      off += n;
    },
  });
}

/**
 * Reads a whole stream.
 *
 * @param stream Input.
 * @returns All bytes.
 */
export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return concatBytes(await Array.fromAsync(stream));
}

/** What a finished command returned. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Whether it exited with 0. */
  success: boolean;
  /** Standard output. */
  stdout: Uint8Array;
  /** Standard error, as text. */
  stderr: string;
}

/**
 * Runs a command, feeding `stdin`, and waits for it to end.
 *
 * @param cmd Program.
 * @param args Arguments.
 * @param stdin Bytes for its standard input.
 * @returns Its exit code and output.
 * @throws {Deno.errors.NotFound} When the program is not installed.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<CommandResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    success: out.success,
    stdout: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * Runs a command, feeding `stdin`, and returns its output; throws on a non-zero exit.
 *
 * @param cmd Program.
 * @param args Arguments.
 * @param stdin Bytes for its standard input.
 * @returns Standard output.
 */
export async function run(cmd: string, args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const out = await runCommand(cmd, args, stdin);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

/**
 * Hex of bytes.
 *
 * @param b Bytes.
 * @returns Lower-case hex.
 */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Deterministic ASB-like text of about `size` bytes (compressible, like real backups).
 *
 * @param size Approximate size.
 * @returns Bytes starting with an ASB header.
 */
export function sampleText(size: number): Uint8Array {
  const lines = ["Version 3.1\n# namespace test\n# first-file\n"];
  let n = lines[0].length;
  for (let i = 0; n < size; i++) {
    const l = `+ k S ${(i * 7919).toString(36)}\n+ n test\n+ d ${
      btoa(String(i * 31).padStart(15, "x"))
    }\n+ g 1\n+ t 0\n+ b 1\n- I count ${i}\n`;
    lines.push(l);
    n += l.length;
  }
  return new TextEncoder().encode(lines.join(""));
}

/** Keys of two shard directories and objects around them, for the stores' `listDirectories()` tests. */
const DIRECTORY_TEST_KEYS = [
  "bk/shard-0-of-2/a.asb",
  "bk/shard-0-of-2/b.asb",
  "bk/shard-1-of-2/x/y.asb",
  "bk/top.asb",
  "bk2/c.asb",
];

/**
 * Puts the keys of two shard directories (and objects beside them) into a store and checks
 * that `listDirectories()` finds exactly the directories, at the top and one level down.
 *
 * @param store The store (its fake's page size should be small, so listings page).
 */
export async function assertListsShardDirectories(store: ObjectStore): Promise<void> {
  for (const key of DIRECTORY_TEST_KEYS) await store.put(key, new Uint8Array([1]));
  assert.deepEqual(await Array.fromAsync(store.listDirectories("bk/")), [
    "shard-0-of-2",
    "shard-1-of-2",
  ]);
  assert.deepEqual(await Array.fromAsync(store.listDirectories("")), ["bk", "bk2"]);
  assert.deepEqual(await Array.fromAsync(store.listDirectories("bk/top.asb/")), []);
}
