import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { pushGroupUrl, pushMetrics, serveMetrics } from "./http.ts";
import { MetricsRegistry, PROMETHEUS_TEXT_CONTENT_TYPE } from "./registry.ts";

function registryWith(value: () => number): MetricsRegistry {
  const r = new MetricsRegistry();
  r.register(
    () => [{ name: "t_total", help: "T.", type: "counter", samples: [{ value: value() }] }],
  );
  return r;
}

Deno.test("serveMetrics() answers GET /metrics with the current exposition, 404 elsewhere", async () => {
  let n = 1;
  await using server = await serveMetrics(registryWith(() => n), { port: 0 });
  const first = await fetch(server.url);
  assert.equal(first.headers.get("content-type"), PROMETHEUS_TEXT_CONTENT_TYPE);
  assert.match(await first.text(), /^t_total 1$/m);
  n = 5;
  assert.match(await (await fetch(server.url)).text(), /^t_total 5$/m);
  const other = await fetch(server.url.replace("/metrics", "/"));
  assert.equal(other.status, 404);
  await other.body?.cancel();
  const post = await fetch(server.url, { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("serveMetrics() names the address it cannot listen on", async () => {
  await using taken = await serveMetrics(new MetricsRegistry(), { port: 0 });
  await assert.rejects(
    serveMetrics(new MetricsRegistry(), { port: taken.port }),
    (e) =>
      e instanceof AerobakError && e.code === "METRICS_LISTEN" &&
      e.message.startsWith(`Cannot serve metrics on 127.0.0.1:${taken.port}: `),
  );
});

Deno.test("pushGroupUrl() builds the grouping key path, base64url for values with a slash", () => {
  assert.equal(pushGroupUrl("http://pg:9091", "asbackup"), "http://pg:9091/metrics/job/asbackup");
  assert.equal(
    pushGroupUrl("http://pg:9091/", "a b", { shard: "3", path: "x/y", empty: "" }),
    "http://pg:9091/metrics/job/a%20b/shard/3/path@base64/eC95/empty@base64/=",
  );
});

Deno.test("pushMetrics() sends the exposition with the method asked; an error answer is one clear error", async () => {
  const seen: { method: string; path: string; body: string; type: string | null }[] = [];
  let status = 200;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      seen.push({
        method: req.method,
        path: new URL(req.url).pathname,
        body: await req.text(),
        type: req.headers.get("content-type"),
      });
      return new Response(status === 200 ? "" : "pushed metrics are invalid\n", { status });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const registry = registryWith(() => 2);
  await pushMetrics(registry, base, { job: "asbackup", grouping: { shard: "1" } });
  await pushMetrics(registry, base, { job: "asbackup", method: "POST" });
  assert.deepEqual(seen.map((s) => [s.method, s.path]), [
    ["PUT", "/metrics/job/asbackup/shard/1"],
    ["POST", "/metrics/job/asbackup"],
  ]);
  assert.match(seen[0].body, /^t_total 2$/m);
  assert.equal(seen[0].type, PROMETHEUS_TEXT_CONTENT_TYPE);
  status = 400;
  await assert.rejects(
    pushMetrics(registry, base, { job: "x" }),
    (e) =>
      e instanceof AerobakError && e.code === "METRICS_PUSH" &&
      e.message ===
        `Cannot push metrics to ${base}/metrics/job/x: 400 Bad Request (pushed metrics are invalid)`,
  );
});
