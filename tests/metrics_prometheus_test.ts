/**
 * The metrics against the real Prometheus tools (Debian's `prometheus` and
 * `prometheus-pushgateway` packages, installed by `.ci/run`): `promtool check metrics`
 * lints what we serve, a Prometheus server scrapes `asbackup --metrics-addr` while the
 * backup runs, and `--metrics-push` figures are read back from a Pushgateway.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo } from "../cli/_test_io.ts";
import { seeded, tempDir } from "./_backup_e2e.ts";
import { freePort, startDaemon, startPushgateway, text, until } from "./_prometheus.ts";

/** The samples of a metric in an exposition: label text → value. */
function samples(exposition: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of exposition.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

/** The one value of a metric whose labels contain every `label="value"` given. */
function sample(exposition: string, name: string, ...labels: string[]): number {
  const found = [...samples(exposition, name)].filter(([l]) => labels.every((x) => l.includes(x)));
  assert.equal(found.length, 1, `${name}${labels}: ${JSON.stringify(found)}\n${exposition}`);
  return found[0][1];
}

async function promtoolCheck(exposition: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(exposition));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("promtool check metrics finds nothing to lint in a backup's and a restore's metrics", async () => {
  await using emu = await seeded(300);
  await using dir = await tempDir();
  await using pushgateway = await startPushgateway();
  const push = ["--metrics-push", pushgateway.url, "--metrics-job", "lint"];
  const ok = async (main: typeof backupMain, args: string[]) => {
    const io = fakeIo({ now: () => new Date(emu.cluster.clock.now()) });
    assert.equal(await main(args, io), 0, io.err.text);
  };
  await ok(backupMain, ["-h", emu.seeds, "-n", "test", "-d", dir.path, "-L", "5000", ...push]);
  const afterBackup = await text(`${pushgateway.url}/metrics`);
  assert.equal(sample(afterBackup, "aerobak_records_read_total", 'job="lint"'), 300);
  const ours = exposed(afterBackup, "lint");
  const lint = await promtoolCheck(ours);
  assert.equal(lint.code, 0, lint.output);
  assert.equal(lint.output.trim(), "", lint.output);

  await ok(restoreMain, ["-h", emu.seeds, "-n", "test,bar", "-d", dir.path, ...push]);
  const restore = exposed(await text(`${pushgateway.url}/metrics`), "lint");
  assert.match(restore, /aerobak_records_skipped_total\{.*reason="expired"/);
  const lint2 = await promtoolCheck(restore);
  assert.equal(lint2.code, 0, lint2.output);
  assert.equal(lint2.output.trim(), "", lint2.output);
});

/** Our families of a Pushgateway's page (its own `push_time_seconds` and such left out). */
function exposed(page: string, job: string): string {
  const keep: string[] = [];
  let ours = false;
  for (const line of page.split("\n")) {
    const m = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (m) ours = m[2].startsWith("aerobak_");
    if (ours && (m || line.includes(`job="${job}"`))) keep.push(line);
  }
  return keep.join("\n") + "\n";
}

Deno.test("a Prometheus server scrapes asbackup --metrics-addr while the backup runs", async () => {
  await using emu = await seeded(2000);
  await using dir = await tempDir();
  // Three partitions stay unavailable until Prometheus has seen the scans retry them: the
  // backup keeps running (and retrying) until then.
  emu.faults.makeUnavailable("test", [7, 8, 9]);
  const metricsPort = freePort();
  const io = fakeIo({ now: () => new Date(emu.cluster.clock.now()) });
  const backup = backupMain([
    "-h",
    emu.seeds,
    "-n",
    "test",
    "-d",
    dir.path,
    "-w",
    "2",
    "--max-retries",
    "100000",
    "--sleep-between-retries",
    "1",
    "--metrics-addr",
    `127.0.0.1:${metricsPort}`,
  ], io);
  try {
    const promPort = freePort();
    await using work = await tempDir();
    await Deno.writeTextFile(
      `${work.path}/prometheus.yml`,
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n` +
        `  - job_name: aerobak\n    static_configs:\n      - targets: ["127.0.0.1:${metricsPort}"]\n`,
    );
    await using _prometheus = startDaemon("prometheus", [
      `--config.file=${work.path}/prometheus.yml`,
      `--storage.tsdb.path=${work.path}/data`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    const query = async (q: string) => {
      const body = JSON.parse(
        await text(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`),
      );
      const result = body.data.result as {
        metric: Record<string, string>;
        value: [number, string];
      }[];
      return result.length > 0 ? result : undefined;
    };
    const retried = await until(
      "Prometheus to scrape a scan retry",
      () => query('aerobak_retries_total{job="aerobak",cause="partition_unavailable"} > 0'),
      90_000,
    );
    assert.equal(retried[0].metric.operation, "backup");
    assert.equal(retried[0].metric.instance, `127.0.0.1:${metricsPort}`);
    const read = await until(
      "records read",
      () => query('aerobak_records_read_total{job="aerobak"} > 0'),
    );
    assert.ok(Number(read[0].value[1]) > 0);
    // Still running at that scrape: it has no outcome yet.
    assert.equal(await query('aerobak_job_success{job="aerobak"}'), undefined);
    const up = await query('up{job="aerobak"}');
    assert.equal(up?.[0].value[1], "1");
  } finally {
    emu.faults.clear();
    assert.equal(await backup, 0, io.err.text);
  }
  // The endpoint is gone once the run has ended.
  await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`));
});

Deno.test("asbackup --metrics-push leaves the final figures in the Pushgateway, grouped by job and shard", async () => {
  await using emu = await seeded(500);
  await using dir = await tempDir();
  await using pushgateway = await startPushgateway();
  const run = async (namespace: string, expect: number) => {
    const io = fakeIo({ now: () => new Date(emu.cluster.clock.now()) });
    const args = [
      "-h",
      emu.seeds,
      "-n",
      namespace,
      "-d",
      dir.path,
      "-r",
      "--shards",
      "2",
      "--shard",
      "1",
      "--metrics-push",
      pushgateway.url,
      "--metrics-job",
      "nightly",
    ];
    assert.equal(await backupMain(args, io), expect, io.err.text);
  };
  await run("test", 0);
  const first = await text(`${pushgateway.url}/metrics`);
  const group = ['job="nightly"', 'shard="1"', 'operation="backup"'];
  const written = sample(first, "aerobak_records_written_total", ...group);
  assert.ok(written > 100 && written < 500, `shard 1 of 2 holds part of the records: ${written}`);
  assert.equal(sample(first, "aerobak_records_read_total", ...group), written);
  assert.equal(sample(first, "aerobak_job_success", ...group), 1);
  const lastSuccess = sample(first, "aerobak_last_success_timestamp_seconds", ...group);
  assert.equal(lastSuccess, sample(first, "aerobak_job_end_time_seconds", ...group));
  assert.ok(sample(first, "aerobak_written_bytes_total", ...group) > 0);

  // A failed run (no such namespace) pushes its figures and keeps the last success time.
  await run("nosuchns", 1);
  const second = await text(`${pushgateway.url}/metrics`);
  assert.equal(sample(second, "aerobak_job_success", ...group), 0);
  assert.equal(sample(second, "aerobak_records_written_total", ...group), 0);
  assert.equal(sample(second, "aerobak_last_success_timestamp_seconds", ...group), lastSuccess);
});
