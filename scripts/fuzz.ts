/**
 * `deno task fuzz`: runs the fuzz suite (tests/fuzz/) over every input kind and prints, per
 * kind, the inputs run, the rate and the outcomes by class. Inputs that break the contract
 * are saved under `testdata/fuzz/<kind>/` (replayed by `tests/fuzz_*_test.ts`) and make the
 * run exit 1.
 *
 * ```sh
 * deno task fuzz                          # each kind's CI budget × 10
 * deno task fuzz --iterations 1000000     # the long run
 * deno task fuzz --kind zstd,asb --seed 7 --from 4711 --iterations 1   # replay one input
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatReport, runCampaign } from "../tests/fuzz/engine.ts";
import { saveRegression } from "../tests/fuzz/regressions.ts";
import { TARGETS } from "../tests/fuzz/targets/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    iterations: { type: "string" },
    seed: { type: "string", default: "1" },
    from: { type: "string", default: "0" },
    kind: { type: "string" },
    "no-save": { type: "boolean", default: false },
    list: { type: "boolean", default: false },
  },
});

if (values.list) {
  for (const t of TARGETS) console.log(`${t.name.padEnd(14)} ${t.about}`);
  Deno.exit(0);
}

function integer(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: --${name} ${text}: expected a non-negative integer`);
    Deno.exit(2);
  }
  return n;
}

const seed = integer("seed", values.seed!);
const from = integer("from", values.from!);
const wanted = values.kind?.split(",").filter((k) => k !== "");
const unknown = wanted?.filter((k) => !TARGETS.some((t) => t.name === k)) ?? [];
if (unknown.length > 0) {
  console.error(
    `fuzz: unknown --kind ${unknown.join(",")}: expected ${TARGETS.map((t) => t.name).join(", ")}`,
  );
  Deno.exit(2);
}
let violations = 0;
for (const target of TARGETS) {
  if (wanted && !wanted.includes(target.name)) continue;
  const iterations = values.iterations === undefined
    ? target.ciIterations * 10
    : integer("iterations", values.iterations);
  const report = await runCampaign(target, {
    seed,
    from,
    iterations,
    async onViolation(v) {
      violations++;
      const saved = values["no-save"] ? "" : ` saved ${await saveRegression(target.name, v)}`;
      console.error(
        `${target.name} #${v.iteration} (seed ${seed}): ${v.class}: ${
          v.detail.slice(0, 400)
        }${saved}`,
      );
    },
    onProgress: (r) => console.error(`  … ${formatReport(r)}`),
  });
  console.log(formatReport(report));
}
Deno.exit(violations > 0 ? 1 : 0);
