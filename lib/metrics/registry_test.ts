import assert from "node:assert/strict";
import { formatExposition, MetricsRegistry } from "./registry.ts";

Deno.test("formatExposition() writes HELP, TYPE and samples, escaping help and label values", () => {
  const text = formatExposition([
    {
      name: "x_total",
      help: 'Back\\slash and\nnewline "kept"',
      type: "counter",
      samples: [
        { labels: { a: 'q"uote', b: "back\\slash\nline" }, value: 3 },
        { value: 1.5 },
      ],
    },
    { name: "g", help: "G.", type: "gauge", samples: [{ value: NaN }, { value: -Infinity }] },
  ]);
  assert.equal(
    text,
    '# HELP x_total Back\\\\slash and\\nnewline "kept"\n' +
      "# TYPE x_total counter\n" +
      'x_total{a="q\\"uote",b="back\\\\slash\\nline"} 3\n' +
      "x_total 1.5\n" +
      "# HELP g G.\n# TYPE g gauge\ng NaN\ng -Inf\n",
  );
});

Deno.test("MetricsRegistry merges families of several collectors and adds their constant labels", () => {
  const registry = new MetricsRegistry();
  let a = 1;
  registry.register(
    () => [{ name: "jobs_total", help: "Jobs.", type: "counter", samples: [{ value: a }] }],
    { labels: { job_id: "a" } },
  );
  const off = registry.register(
    () => [{ name: "jobs_total", help: "Jobs.", type: "counter", samples: [{ value: 7 }] }],
    { labels: { job_id: "b" } },
  );
  a = 2;
  assert.equal(
    registry.exposition(),
    '# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total{job_id="a"} 2\njobs_total{job_id="b"} 7\n',
  );
  off();
  assert.equal(registry.collect()[0].samples.length, 1);
});

Deno.test("MetricsRegistry refuses invalid names and one name with two types", () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.register(() => [], { labels: { "bad-name": "x" } }), /label name/);
  assert.throws(() => registry.register(() => [], { labels: { __reserved: "x" } }), /label name/);
  registry.register(() => [{ name: "9bad", help: "", type: "gauge", samples: [] }]);
  assert.throws(() => registry.collect(), /Invalid metric name "9bad"/);
  const two = new MetricsRegistry();
  two.register(() => [{ name: "m", help: "", type: "gauge", samples: [] }]);
  two.register(() => [{ name: "m", help: "", type: "counter", samples: [] }]);
  assert.throws(() => two.collect(), /Metric m is reported as a gauge and as a counter/);
});
