/**
 * Benchmarks (`deno task bench`): backup of 1,000,000 ~200-byte records from a 3-node
 * emulator at parallel 1, 2 and 4, restore of them, the official Node client doing the same
 * scan and batch writes for comparison, and the per-area benches when present.
 *
 * Figures: records/s, MB/s (10^6 bytes of backup files), CPU seconds per million records
 * (this process, which also runs the emulator), peak RSS.
 *
 * Usage: `deno run -A scripts/bench.ts [records]`
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../lib/aerospike/record.ts";
import { BackupClient } from "../lib/client.ts";
import { startEmulator } from "../lib/emulator/emulator.ts";
import { DirectoryReader } from "../lib/io/local_reader.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";

const RECORDS = Number(Deno.args[0] ?? 1_000_000);

interface Figure {
  what: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  cpuSecondsPerMillion: number;
  peakRssMiB: number;
}

async function measure(
  what: string,
  run: () => Promise<{ records: number; bytes: number }>,
): Promise<Figure> {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 50);
  const cpu0 = cpuUsage();
  const t0 = performance.now();
  const { records, bytes } = await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(cpu0);
  clearInterval(timer);
  peak = Math.max(peak, Deno.memoryUsage().rss);
  const f: Figure = {
    what,
    records,
    seconds: round(seconds),
    recordsPerSecond: Math.round(records / seconds),
    mbPerSecond: round(bytes / 1e6 / seconds),
    cpuSecondsPerMillion: round(((cpu.user + cpu.system) / 1e6) / (records / 1e6)),
    peakRssMiB: Math.round(peak / 1048576),
  };
  console.log(JSON.stringify(f));
  return f;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function nodeClient(seeds: string, mode: "scan" | "write", n: number): Promise<number> {
  const [host, port] = seeds.split(",")[0].split(":");
  const script = `
const Aerospike = require("aerospike");
(async () => {
  const client = await Aerospike.connect({ hosts: [{ addr: "${host}", port: ${port} }] });
  const t0 = process.hrtime.bigint();
  let n = 0;
  if ("${mode}" === "scan") {
    const scan = client.scan("test");
    const stream = scan.foreach({ totalTimeout: 0, socketTimeout: 0 });
    await new Promise((res, rej) => { stream.on("data", () => n++); stream.on("error", rej); stream.on("end", res); });
  } else {
    const batch = 128, inflight = 32, total = ${n};
    const payload = "x".repeat(150);
    let next = 0;
    async function worker() {
      while (next < total) {
        const start = next; next += batch;
        const recs = [];
        for (let i = start; i < Math.min(start + batch, total); i++) {
          recs.push({ type: Aerospike.batchType.BATCH_WRITE, key: new Aerospike.Key("bar", "node", i),
            ops: [Aerospike.operations.write("i", i), Aerospike.operations.write("s", payload)] });
        }
        await client.batchWrite(recs);
        n += recs.length;
      }
    }
    await Promise.all(Array.from({ length: inflight }, worker));
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ records: n, seconds: s, cpu: process.cpuUsage(), rss: process.resourceUsage().maxRSS }));
  await client.close();
})().catch((e) => { console.error(String(e)); process.exit(1); });
`;
  const out = await new Deno.Command("node", {
    args: ["-e", script],
    cwd: new URL("../tests/conformance/", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  const cpu = (r.cpu.user + r.cpu.system) / 1e6;
  console.log(JSON.stringify({
    what: `official Node client ${mode} (subprocess)`,
    records: r.records,
    seconds: round(r.seconds),
    recordsPerSecond: Math.round(r.records / r.seconds),
    cpuSecondsPerMillion: round(cpu / (r.records / 1e6)),
    peakRssMiB: Math.round(r.rss / 1024),
  }));
  return r.records;
}

async function dirSize(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) n += (await Deno.stat(`${dir}/${e.name}`)).size;
  return n;
}

async function main(): Promise<void> {
  await using emu = await startEmulator({
    nodes: 3,
    namespaces: [{ name: "test" }, { name: "bar" }],
  });
  const payload = "x".repeat(150);
  for (let i = 0; i < RECORDS; i++) {
    emu.put({ namespace: "test", set: "bench", key: i, bins: { i, s: payload } });
  }
  console.log(`Seeded ${RECORDS} records into a 3-node emulator`);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const client = new BackupClient(cluster);
  let lastDir = "";
  for (const parallel of [1, 2, 4]) {
    const dir = await Deno.makeTempDir({ prefix: "aerobak-bench-" });
    await measure(`backup parallel ${parallel}`, async () => {
      const s = await client.backup(
        { namespace: "test", parallelRead: parallel, parallelWrite: parallel },
        new DirectoryWriter(dir),
      ).wait();
      return { records: s.recordsRead, bytes: s.bytesWritten };
    });
    if (lastDir) await Deno.remove(lastDir, { recursive: true });
    lastDir = dir;
  }
  const size = await dirSize(lastDir);
  await measure("restore (batch writes, 16 async batches)", async () => {
    const s = await client.restore(
      { namespace: { source: "test", destination: "bar" }, parallel: 4 },
      new DirectoryReader(lastDir),
      { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
    ).wait();
    return { records: s.recordsInserted, bytes: size };
  });
  await Deno.remove(lastDir, { recursive: true });

  try {
    await nodeClient(emu.seeds, "scan", RECORDS);
    await nodeClient(emu.seeds, "write", RECORDS);
  } catch (e) {
    console.log(JSON.stringify({ what: "official Node client", error: String(e).slice(0, 300) }));
  }

  const areas: [string, string, (m: Record<string, unknown>) => Promise<unknown>][] = [
    ["bench_asb.ts", "benchAsb", (m) => (m.benchAsb as () => Promise<unknown>)()],
    ["bench_io.ts", "benchIo", (m) => (m.benchIo as () => Promise<unknown>)()],
    [
      "bench_emulator.ts",
      "benchEmulatorScan",
      (m) =>
        (m.benchEmulatorScan as (o: { records: number }) => Promise<unknown>)({ records: RECORDS }),
    ],
    ["bench_client.ts", "benchScanDecode", (m) => (m.benchScanDecode as () => Promise<unknown>)()],
  ];
  for (const [file, name, call] of areas) {
    const url = new URL(`./${file}`, import.meta.url);
    try {
      await Deno.stat(url);
    } catch {
      continue;
    }
    const mod = await import(url.href);
    if (typeof mod[name] !== "function") continue;
    console.log(JSON.stringify({ what: name, result: await call(mod) }));
  }
}

await main();
