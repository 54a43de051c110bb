/**
 * The fuzz suite's CI budget (issue 16): every input kind gets its bounded number of
 * damaged real samples (seed 1, reproducible with `deno task fuzz --kind <name> --from
 * <iteration> --iterations 1`), and every saved regression case under `testdata/fuzz/` is
 * replayed. Any outcome outside the contract (an uncaught exception, an unclear error, a
 * stack trace, a hang, an allocation past the cap) fails the kind's test.
 */

import assert from "node:assert/strict";
import { formatReport, runCampaign, runInput } from "./fuzz/engine.ts";
import { loadRegressions } from "./fuzz/regressions.ts";
import { TARGETS } from "./fuzz/targets/mod.ts";

for (const target of TARGETS) {
  Deno.test(`fuzz ${target.name}: ${target.ciIterations} damaged inputs meet the contract`, async () => {
    const report = await runCampaign(target, { seed: 1, iterations: target.ciIterations });
    console.log(formatReport(report));
    const lines = report.violations.map((v) =>
      `#${v.iteration} ${v.class}: ${
        v.detail.slice(0, 300)
      } (deno task fuzz --kind ${target.name} --from ${v.iteration} --iterations 1)`
    );
    assert.deepEqual(lines, []);
    assert.ok(
      [...report.outcomes.keys()].some((c) => c.startsWith("rejected:")),
      "no input was rejected: the damage does not reach the reader",
    );
  });
}

Deno.test("fuzz regression cases: each saved input now meets the contract", async () => {
  const cases = await loadRegressions();
  const failures: string[] = [];
  for (const kind of new Set(cases.map((c) => c.kind))) {
    const target = TARGETS.find((t) => t.name === kind);
    assert.ok(target, `testdata/fuzz/${kind}/: no fuzz target ${kind}`);
    const env = await target.open();
    try {
      for (const c of cases.filter((c) => c.kind === kind)) {
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
