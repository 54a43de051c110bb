/**
 * Regression cases of the fuzz suite: inputs that once broke the contract, saved as
 * `testdata/fuzz/<kind>/<class>-<hash>.bin` by `deno task fuzz` and replayed by
 * the fuzz tests (`tests/fuzz_*_test.ts`) on every test run.
 *
 * @module
 */

import { hashBytes, type Violation } from "./engine.ts";

/** Where the regression cases live. */
export const REGRESSIONS_DIR = new URL("../../testdata/fuzz/", import.meta.url).pathname;

/**
 * Saves an input that broke the contract (once: the name comes from its bytes).
 *
 * @param kind The input kind.
 * @param v The violation.
 * @returns The path written.
 */
export async function saveRegression(kind: string, v: Violation): Promise<string> {
  const dir = `${REGRESSIONS_DIR}${kind}`;
  await Deno.mkdir(dir, { recursive: true });
  const hash = hashBytes(v.input).toString(16).padStart(8, "0");
  const path = `${dir}/${v.class}-${hash}.bin`;
  await Deno.writeFile(path, v.input);
  return path;
}

/** One saved case. */
export interface RegressionCase {
  /** The input kind (its directory). */
  kind: string;
  /** File name. */
  name: string;
  /** The input. */
  input: Uint8Array;
}

/**
 * Every saved case, by kind directory.
 *
 * @returns The cases, sorted by kind and name.
 */
export async function loadRegressions(): Promise<RegressionCase[]> {
  const out: RegressionCase[] = [];
  let kinds: Deno.DirEntry[];
  try {
    kinds = await Array.fromAsync(Deno.readDir(REGRESSIONS_DIR));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    throw err;
  }
  for (const k of kinds.filter((e) => e.isDirectory)) {
    for await (const e of Deno.readDir(`${REGRESSIONS_DIR}${k.name}`)) {
      if (!e.isFile || !e.name.endsWith(".bin")) continue;
      const input = await Deno.readFile(`${REGRESSIONS_DIR}${k.name}/${e.name}`);
      out.push({ kind: k.name, name: e.name, input });
    }
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}
