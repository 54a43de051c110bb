/**
 * The fuzz suite's CI budget (issue 16), registered by `tests/fuzz_local_test.ts` and
 * `tests/fuzz_network_test.ts`: each input kind gets its bounded number of damaged real
 * samples (seed 1; one is replayed alone with `deno task fuzz --kind <name> --from
 * <iteration> --iterations 1`), and the saved regression cases under `testdata/fuzz/` of
 * those kinds are replayed. Any outcome outside the contract fails the kind's test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatReport, type FuzzTarget, runCampaign, runInput } from "./engine.ts";
import { loadRegressions } from "./regressions.ts";

/**
 * Registers one test per target running its CI budget, and one replaying its saved cases.
 *
 * @param targets The targets.
 * @param group Name of the group, for the replay test.
 */
export function registerFuzzTests(targets: readonly FuzzTarget<never>[], group: string): void {
  for (const target of targets) {
    Deno.test(`fuzz ${target.name}: ${target.ciIterations} damaged inputs meet the contract`, async () => {
      const report = await runCampaign(target, { seed: 1, iterations: target.ciIterations });
      console.log(formatReport(report));
      const lines = report.violations.map((v) =>
        `#${v.iteration} ${v.class}: ${v.detail.slice(0, 300)} ` +
        `(deno task fuzz --kind ${target.name} --from ${v.iteration} --iterations 1)`
      );
      assert.deepEqual(lines, []);
      assert.ok(
        [...report.outcomes.keys()].some((c) => c.startsWith("rejected:")),
        "no input was rejected: the damage does not reach the reader",
      );
    });
  }

  Deno.test(`fuzz regression cases of the ${group} kinds: each saved input meets the contract`, async () => {
    const cases = await loadRegressions();
    const failures: string[] = [];
    for (const target of targets) {
      const mine = cases.filter((c) => c.kind === target.name);
      if (mine.length === 0) continue;
      const env = await target.open();
      try {
        for (const c of mine) {
          const outcome = await runInput(target, env, c.input);
          if (outcome.violation !== undefined) {
            failures.push(`${c.kind}/${c.name}: ${outcome.class}: ${outcome.violation}`);
          }
        }
      } finally {
        await target.close(env);
      }
    }
    assert.deepEqual(failures, []);
  });
}
