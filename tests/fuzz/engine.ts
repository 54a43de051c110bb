/**
 * The fuzz suite's runner and its contract. A {@linkcode FuzzTarget} is one input kind the
 * tools read (an ASB file, a zstd frame, a scan stream, a YAML config, ...): real samples,
 * a way to damage them, and the code that reads them. {@linkcode runCampaign} feeds it
 * damaged samples and sorts every outcome into a class:
 *
 * - `accepted`: the input was read without error (damage may leave an input valid);
 * - `rejected:<CODE>`: one error that names the source and says what was expected;
 * - a violation: an uncaught exception or unhandled rejection (`uncaught`), an error that
 *   is not one of the tools' own or lacks the source (`unclear`), a stack trace in the
 *   message (`stack`), no outcome within the target's time limit (`hang`), an array
 *   allocated from a length beyond the target's fixed cap (`allocation`), or a result
 *   that contradicts itself, such as a restore report whose counters do not add up
 *   (`inconsistent`, thrown by the target as a {@linkcode ContractViolation}).
 *
 * @module
 */

import { AerobakError } from "../../lib/errors.ts";
import { mutateBytes } from "./mutate.ts";
import { Random } from "./random.ts";

/**
 * Thrown by a target's `run` when the outcome breaks the contract in a way only the target
 * can see (counters that do not add up, an exit code other than 0 or 1).
 */
export class ContractViolation extends Error {
  /**
   * @param message What is inconsistent.
   */
  constructor(message: string) {
    super(message);
    this.name = "ContractViolation";
  }
}

/** One input kind under test. */
export interface FuzzTarget<Env = unknown> {
  /** Short name, e.g. `"zstd"`; also the directory of its regression cases. */
  readonly name: string;
  /** What the input is and what reads it, for the report. */
  readonly about: string;
  /** Iterations of the CI budget run (`tests/fuzz_*_test.ts`). */
  readonly ciIterations: number;
  /**
   * Longest time one input may take before it counts as a hang, in ms.
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /**
   * Largest array or buffer (bytes) one input may make the code allocate from a length.
   * @default {DEFAULT_ALLOCATION_CAP}
   */
  readonly allocationCap?: number;
  /**
   * Sets up what every input of a campaign shares (an emulator, a directory).
   *
   * @returns The shared state.
   */
  open(): Promise<Env>;
  /**
   * Releases what {@linkcode FuzzTarget.open} set up.
   *
   * @param env The shared state.
   */
  close(env: Env): Promise<void>;
  /**
   * The real samples the inputs are made from.
   *
   * @param env The shared state.
   * @returns At least one sample.
   */
  seeds(env: Env): Promise<readonly Uint8Array[]>;
  /**
   * Damages a sample. @default {mutateBytes}
   *
   * @param seed The sample.
   * @param r The iteration's generator.
   * @param seeds Every sample, for splicing.
   * @returns The input.
   */
  mutate?(seed: Uint8Array, r: Random, seeds: readonly Uint8Array[]): Uint8Array;
  /**
   * Reads one input the way the tools do. Resolves when it was accepted.
   *
   * @param input The input.
   * @param env The shared state.
   * @param r A generator for the run's own choices (chunk sizes), seeded from the input.
   * @throws The error the tools report for it.
   */
  run(input: Uint8Array, env: Env, r: Random): Promise<void>;
  /**
   * Checks a rejection against the contract for this kind: the error names the source.
   *
   * @param err What {@linkcode FuzzTarget.run} threw (already known to be an `Error` with a
   *   one-line message free of stack frames).
   * @param input The input.
   * @param env The shared state.
   * @returns What is wrong with it, or `null` when it meets the contract.
   */
  judge(err: Error, input: Uint8Array, env: Env): string | null;
}

/** `open` and `close` of a target whose inputs share nothing. */
export const STATELESS: Pick<FuzzTarget<null>, "open" | "close"> = {
  open: () => Promise.resolve(null),
  close: () => Promise.resolve(),
};

/** Default of {@linkcode FuzzTarget.allocationCap}: 64 MiB. */
export const DEFAULT_ALLOCATION_CAP = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_KEPT_VIOLATIONS = 100;

/** One input whose outcome broke the contract. */
export interface Violation {
  /** The iteration that made it (-1 for a replayed regression case). */
  iteration: number;
  /** `uncaught`, `unclear`, `stack`, `hang`, `allocation` or `inconsistent`. */
  class: string;
  /** What happened. */
  detail: string;
  /** The input. */
  input: Uint8Array;
}

/** What a campaign did: the figures of the report. */
export interface CampaignReport {
  /** The input kind. */
  kind: string;
  /** Inputs run. */
  inputs: number;
  /** Wall time, ms. */
  ms: number;
  /** Outcome class → inputs. */
  outcomes: Map<string, number>;
  /** The first (up to 100) inputs that broke the contract; `outcomes` counts them all. */
  violations: Violation[];
  /** Largest allocation from a length seen, in bytes. */
  largestAllocation: number;
}

/** Options of {@linkcode runCampaign}. */
export interface CampaignOptions {
  /** Campaign seed. @default {1} */
  seed?: number;
  /** First iteration number. @default {0} */
  from?: number;
  /** Iterations to run. */
  iterations: number;
  /** Called with each violation as it happens. */
  onViolation?(v: Violation): void | Promise<void>;
  /** Called every few seconds with the figures so far. */
  onProgress?(r: CampaignReport): void;
}

// ---- the process-wide watchers: uncaught errors and allocations ----

let uncaught: unknown[] = [];
let largest = 0;
let watching = 0;
const restores: (() => void)[] = [];

function onError(e: ErrorEvent): void {
  e.preventDefault();
  uncaught.push(e.error ?? e.message);
}
function onRejection(e: PromiseRejectionEvent): void {
  e.preventDefault();
  uncaught.push(e.reason);
}

type Constructor = new (...args: unknown[]) => object;
const SIZED = [
  "ArrayBuffer",
  "SharedArrayBuffer",
  "Uint8Array",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigUint64Array",
  "BigInt64Array",
] as const;

/** Replaces the sized constructors by proxies that note the largest length asked for. */
function watchAllocations(): void {
  const g = globalThis as unknown as Record<string, Constructor & { BYTES_PER_ELEMENT?: number }>;
  for (const name of SIZED) {
    const original = g[name];
    const bytesPer = original.BYTES_PER_ELEMENT ?? 1;
    const proxy: Constructor = new Proxy(original, {
      construct(target, args, newTarget): object {
        const n = args[0];
        if (typeof n === "number" && n * bytesPer > largest) largest = n * bytesPer;
        return Reflect.construct(target, args, newTarget === proxy ? target : newTarget);
      },
    });
    g[name] = proxy;
    restores.push(() => {
      g[name] = original;
    });
  }
}

function startWatching(): void {
  if (watching++ > 0) return;
  uncaught = [];
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  watchAllocations();
}

function stopWatching(): void {
  if (--watching > 0) return;
  globalThis.removeEventListener("error", onError);
  globalThis.removeEventListener("unhandledrejection", onRejection);
  for (const restore of restores.splice(0)) restore();
}

/** Lets callbacks queued by the run (timers, rejections) fire before the outcome is taken. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * The generic half of the contract, for any rejection: an `Error` whose message is one
 * line, not empty, without stack frames.
 *
 * @param err What was thrown.
 * @returns The violation class and detail, or `null`.
 */
function checkShape(err: unknown): [string, string] | null {
  if (!(err instanceof Error)) return ["unclear", `threw a non-error: ${String(err)}`];
  const m = err.message;
  if (/\n\s+at \S+/.test(m) || /^\s+at .+:\d+:\d+\)?$/m.test(m)) {
    return ["stack", `stack frames in the message: ${m.slice(0, 300)}`];
  }
  if (m.trim() === "") return ["unclear", `${err.name} with an empty message`];
  if (m.includes("\n")) return ["unclear", `multi-line message: ${m.slice(0, 300)}`];
  return null;
}

/** The outcome of one input. */
export interface Outcome {
  /** `accepted`, `rejected:<CODE>`, or a violation class. */
  class: string;
  /** For a violation, what happened. */
  violation?: string;
  /** Largest allocation from a length during the run, in bytes. */
  allocated: number;
}

/**
 * Runs one input and applies the contract.
 *
 * @param target The kind.
 * @param env Its shared state.
 * @param input The input.
 * @returns The outcome.
 */
export async function runInput<Env>(
  target: FuzzTarget<Env>,
  env: Env,
  input: Uint8Array,
): Promise<Outcome> {
  startWatching();
  try {
    const before = uncaught.length;
    largest = 0;
    const timeoutMs = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = Symbol("hang");
    let result: unknown = undefined;
    let threw = false;
    try {
      result = await Promise.race([
        target.run(input, env, new Random(hashBytes(input))),
        new Promise<symbol>((resolve) => {
          timer = setTimeout(() => resolve(hung), timeoutMs);
        }),
      ]);
    } catch (err) {
      threw = true;
      result = err;
    } finally {
      clearTimeout(timer);
    }
    await settle();
    const allocated = largest;
    if (uncaught.length > before) {
      const first = uncaught[before];
      return { class: "uncaught", violation: describe(first), allocated };
    }
    if (result === hung) {
      return { class: "hang", violation: `no outcome within ${timeoutMs} ms`, allocated };
    }
    const cap = target.allocationCap ?? DEFAULT_ALLOCATION_CAP;
    if (allocated > cap) {
      return {
        class: "allocation",
        violation: `allocated ${allocated} bytes from a length, cap ${cap}`,
        allocated,
      };
    }
    if (!threw) return { class: "accepted", allocated };
    if (result instanceof ContractViolation) {
      return { class: "inconsistent", violation: result.message, allocated };
    }
    const shape = checkShape(result);
    if (shape) return { class: shape[0], violation: shape[1], allocated };
    const err = result as Error;
    const wrong = target.judge(err, input, env);
    if (wrong !== null) {
      return { class: "unclear", violation: `${wrong}: ${describe(err)}`, allocated };
    }
    const own = (err as Error & { code?: unknown }).code;
    const code = typeof own === "string" ? own : err.name;
    return { class: `rejected:${code}`, allocated };
  } finally {
    stopWatching();
  }
}

/**
 * Runs a campaign: `iterations` damaged samples of one kind.
 *
 * @param target The kind.
 * @param options Seed, range, callbacks.
 * @returns The figures and the violations.
 */
export async function runCampaign<Env>(
  target: FuzzTarget<Env>,
  options: CampaignOptions,
): Promise<CampaignReport> {
  const seed = options.seed ?? 1;
  const from = options.from ?? 0;
  const report: CampaignReport = {
    kind: target.name,
    inputs: 0,
    ms: 0,
    outcomes: new Map(),
    violations: [],
    largestAllocation: 0,
  };
  const env = await target.open();
  const start = performance.now();
  let lastProgress = start;
  startWatching();
  try {
    const seeds = await target.seeds(env);
    const mutate = target.mutate?.bind(target) ?? mutateBytes;
    for (let i = from; i < from + options.iterations; i++) {
      const r = Random.of(seed, target.name, i);
      const input = mutate(r.pick(seeds), r, seeds);
      const outcome = await runInput(target, env, input);
      report.inputs++;
      report.outcomes.set(outcome.class, (report.outcomes.get(outcome.class) ?? 0) + 1);
      report.largestAllocation = Math.max(report.largestAllocation, outcome.allocated);
      if (outcome.violation !== undefined) {
        const v = { iteration: i, class: outcome.class, detail: outcome.violation, input };
        // A long run keeps the first ones (memory stays bounded); the counts have them all.
        if (report.violations.length < MAX_KEPT_VIOLATIONS) report.violations.push(v);
        await options.onViolation?.(v);
      }
      const now = performance.now();
      if (options.onProgress && now - lastProgress > 5000) {
        lastProgress = now;
        report.ms = now - start;
        options.onProgress(report);
      }
    }
  } finally {
    stopWatching();
    report.ms = performance.now() - start;
    await target.close(env);
  }
  return report;
}

/**
 * A 32-bit FNV-1a hash of bytes: seeds the run's own generator, so a saved input replays
 * with the same choices.
 *
 * @param bytes The bytes.
 * @returns The hash.
 */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/**
 * The report's figures as text: inputs, rate, outcomes by class.
 *
 * @param r The report.
 * @returns Lines of text.
 */
export function formatReport(r: CampaignReport): string {
  const rate = r.ms > 0 ? (r.inputs * 1000) / r.ms : 0;
  const classes = [...r.outcomes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`);
  const mib = (r.largestAllocation / (1024 * 1024)).toFixed(1);
  return `${r.kind}: ${r.inputs} inputs in ${(r.ms / 1000).toFixed(1)} s (${
    rate.toFixed(0)
  }/s), largest allocation ${mib} MiB; ${classes.join(", ")}`;
}

/** An error class a source may throw. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Checks that an error is one of the tools' own: an `AerobakError` or one of `classes`.
 *
 * @param err The error.
 * @param classes Error classes the source may throw besides `AerobakError`.
 * @returns What is wrong, or `null`.
 */
export function ownError(err: Error, classes: readonly ErrorClass[] = []): string | null {
  if (err instanceof AerobakError || classes.some((c) => err instanceof c)) return null;
  return `not an error of the tools (${err.name})`;
}

/**
 * Checks that an error is one of the tools' own errors naming one of `names`.
 *
 * @param err The error.
 * @param names What the message must mention at least one of (file, flag, node, ...).
 * @param classes Error classes the source may throw besides `AerobakError`.
 * @returns What is wrong, or `null`.
 */
export function namesSource(
  err: Error,
  names: readonly string[],
  classes: readonly ErrorClass[] = [],
): string | null {
  const foreign = ownError(err, classes);
  if (foreign) return foreign;
  if (!names.some((n) => err.message.includes(n))) {
    return `the message names none of ${names.map((n) => JSON.stringify(n)).join(", ")}`;
  }
  return null;
}
