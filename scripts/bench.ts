/**
 * Benchmarks (`deno task bench`): what the toolkit costs, measured per process.
 *
 * The emulated cluster runs in its own process (`scripts/bench_server.ts`, seeded
 * in-process with synthetic ~200-byte records), and every measured job runs as its own
 * subprocess under GNU `/usr/bin/time`, so its CPU seconds (user + sys) and peak RSS are
 * its own, not the server's:
 *
 * - `asbackup` (the real CLI) at `--parallel` 1, 2 and 4, and with zstd, AES-256 and
 *   zstd + AES-256;
 * - the official Node client (Node 20, `tests/conformance/node_modules/aerospike`)
 *   scanning the same namespace, nodes one at a time and all nodes concurrently;
 * - `asrestore` (the real CLI) at its default settings, from each of the four backups;
 * - the official Node client writing the same records with batch writes (batches of 128,
 *   32 in flight, as `asrestore`'s defaults);
 * - `asbackup xdr` receiving the whole namespace through XDR (rewind), and
 *   `asrestore --mode asbx` replaying it into the emptied namespace;
 * - the per-area benches (ASB codec, io stages, emulator scan, client scan decode), after
 *   the server is stopped.
 *
 * Figures per job: wall seconds of the process (start-up and connect included), records/s,
 * MB/s (10^6 bytes of backup files written or read; for the Node client the plain backup's
 * size, so the figures compare), CPU seconds per million records, peak RSS (MiB).
 * Prints a table and writes everything as JSON to `.tmp/bench.json`.
 *
 * ```sh
 * deno task bench                      # 1,000,000 records, 3 nodes (several minutes)
 * deno run -A scripts/bench.ts --records 100000 --skip node,areas
 * ```
 *
 * Flags: `--records N` (default 1,000,000), `--nodes N` (default 3), `--skip a,b` with any
 * of `backup`, `codecs`, `restore`, `node`, `xdr`, `shards`, `areas`; `--json path` (default `.tmp/bench.json`);
 * `--job-v8-flags FLAGS` runs the measured `asbackup`/`asrestore` jobs with
 * `--v8-flags=FLAGS` (e.g. `--max-semi-space-size=4`, which bounds their peak RSS).
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = Deno.execPath();
const TIME = "/usr/bin/time";

/** One measured job (one process). */
export interface JobFigures {
  /** What ran. */
  what: string;
  /** Records backed up, scanned, restored or written. */
  records: number;
  /** Bytes of backup files written or read (post compression/encryption). */
  bytes: number;
  /** Wall seconds of the process. */
  seconds: number;
  /** Records per wall second. */
  recordsPerSecond: number;
  /** MB (10^6 bytes) per wall second. */
  mbPerSecond: number;
  /** User + system CPU seconds of the process. */
  cpuSeconds: number;
  /** CPU seconds per million records. */
  cpuSecondsPerMillion: number;
  /** Peak resident set size, MiB. */
  peakRssMiB: number;
  /** How the figure compares, or what limited it. */
  note?: string;
}

interface Options {
  records: number;
  nodes: number;
  skip: Set<string>;
  json: string;
  /** `--v8-flags=…` for the measured Deno jobs (none: as users run them). */
  jobV8Flags?: string;
}

function parseOptions(args: string[]): Options {
  const o: Options = {
    records: 1_000_000,
    nodes: 3,
    skip: new Set(),
    json: `${ROOT}.tmp/bench.json`,
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    if (/^\d+$/.test(a)) {
      o.records = Number(a);
      continue;
    }
    // `--flag value` or `--flag=value`.
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    let v: string | undefined;
    if (eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else v = args[++i];
    if (v === undefined) throw new Error(`bench: ${a} needs a value`);
    if (a === "--records") o.records = Number(v);
    else if (a === "--nodes") o.nodes = Number(v);
    else if (a === "--skip") o.skip = new Set(v.split(","));
    else if (a === "--json") o.json = v;
    else if (a === "--job-v8-flags") o.jobV8Flags = v;
    else throw new Error(`bench: unknown argument "${a}"`);
  }
  if (!Number.isInteger(o.records) || o.records < 1) throw new Error("bench: bad --records");
  return o;
}

/** Rounds to `digits` decimals. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const decoder = new TextDecoder();
/** Extra `deno run` flags of the measured jobs (set from `--job-v8-flags`). */
let jobFlags: string[] = [];

/** The running benchmark server (an emulator in a subprocess) and its control channel. */
export class BenchServer implements AsyncDisposable {
  readonly seeds: string;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  private constructor(
    child: Deno.ChildProcess,
    stdin: WritableStreamDefaultWriter<Uint8Array>,
    lines: AsyncIterator<string>,
    seeds: string,
  ) {
    this.#child = child;
    this.#stdin = stdin;
    this.#lines = lines;
    this.seeds = seeds;
  }

  /**
   * Starts the server and waits until it is seeded.
   *
   * @param records Records in `test`.
   * @param nodes Nodes.
   * @param extra More `bench_server.ts` flags (`--blob-bytes N`).
   */
  static async start(records: number, nodes: number, extra: string[] = []): Promise<BenchServer> {
    const child = new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        "--v8-flags=--max-old-space-size=16384,--expose-gc",
        `${ROOT}scripts/bench_server.ts`,
        "--records",
        String(records),
        "--nodes",
        String(nodes),
        ...extra,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    if (first.done || !first.value.startsWith("ready ")) {
      throw new Error(`bench server did not start: ${first.value ?? "(no output)"}`);
    }
    return new BenchServer(child, child.stdin.getWriter(), lines, first.value.split(" ")[1]);
  }

  /** Sends one control command and returns its one-line answer. */
  async command(line: string): Promise<string> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
    const r = await this.#lines.next();
    if (r.done) throw new Error("bench server exited");
    if (r.value.startsWith("error ")) throw new Error(`bench server: ${r.value}`);
    return r.value;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#stdin.close();
    } catch { /* already gone */ }
    await this.#child.status;
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
  if (pending) yield pending;
}

/** What GNU time measured of one process, and what it printed. */
export interface ProcessFigures {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

/** Runs one command under GNU time; fails loudly when it fails. */
export async function timed(cmd: string, args: string[], cwd = ROOT): Promise<ProcessFigures> {
  const timeFile = await Deno.makeTempFile({ prefix: "aerobak-bench-time-" });
  try {
    const out = await new Deno.Command(TIME, {
      args: ["-f", "%e %U %S %M", "-o", timeFile, cmd, ...args],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decoder.decode(out.stdout);
    const stderr = decoder.decode(out.stderr);
    if (!out.success) {
      throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${stderr.slice(-2000)}`);
    }
    const t = (await Deno.readTextFile(timeFile)).trim().split("\n").at(-1)!.split(" ");
    return {
      seconds: Number(t[0]),
      cpuSeconds: Number(t[1]) + Number(t[2]),
      peakRssMiB: Math.round(Number(t[3]) / 1024),
      stdout,
      stderr,
    };
  } finally {
    await Deno.remove(timeFile);
  }
}

/** The figures of one measured job (also printed as a row). */
export function figures(
  what: string,
  p: ProcessFigures,
  records: number,
  bytes: number,
  note?: string,
): JobFigures {
  const f: JobFigures = {
    what,
    records,
    bytes,
    seconds: round(p.seconds),
    recordsPerSecond: Math.round(records / p.seconds),
    mbPerSecond: round(bytes / 1e6 / p.seconds, 1),
    cpuSeconds: round(p.cpuSeconds),
    cpuSecondsPerMillion: round(p.cpuSeconds / (records / 1e6)),
    peakRssMiB: p.peakRssMiB,
  };
  if (note) f.note = note;
  console.error(`  ${formatRow(f)}`);
  return f;
}

/** A number of a CLI report (`Records Read: 1000`). */
export function reportNumber(text: string, label: string): number {
  const m = new RegExp(`${label}[^0-9\\n]*([0-9]+)`).exec(text);
  if (!m) throw new Error(`no "${label}" in the report:\n${text.slice(-1500)}`);
  return Number(m[1]);
}

/** Bytes of the files of a directory. */
export async function dirSize(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) n += (await Deno.stat(`${dir}/${e.name}`)).size;
  return n;
}

interface Codec {
  name: string;
  flags: string[];
}

async function codecs(work: string): Promise<Codec[]> {
  const key = `${work}/key.pem`;
  const gen = await new Deno.Command("openssl", {
    args: ["genrsa", "-traditional", "-out", key, "2048"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!gen.success) throw new Error(`openssl genrsa failed: ${decoder.decode(gen.stderr)}`);
  const aes = ["--encrypt", "AES256", "--encryption-key-file", key];
  return [
    { name: "none", flags: [] },
    { name: "zstd", flags: ["--compress", "ZSTD"] },
    { name: "aes256", flags: aes },
    { name: "zstd+aes256", flags: ["--compress", "ZSTD", ...aes] },
  ];
}

function hostFlags(seeds: string): string[] {
  return ["--host", seeds.split(",")[0]];
}

/** The `deno run` arguments of one measured CLI run against the bench server. */
function toolArgs(
  tool: "asbackup" | "asrestore",
  server: BenchServer,
  namespace: string,
  dir: string,
  flags: string[],
): string[] {
  return [
    "run",
    "-A",
    ...jobFlags,
    `${ROOT}cli/${tool}.ts`,
    ...hostFlags(server.seeds),
    "--namespace",
    namespace,
    "--directory",
    dir,
    ...flags,
  ];
}

async function backup(
  server: BenchServer,
  dir: string,
  what: string,
  flags: string[],
  expected: number,
  note?: string,
): Promise<JobFigures> {
  const p = await timed(
    DENO,
    toolArgs("asbackup", server, "test", dir, ["--remove-files", ...flags]),
  );
  const records = reportNumber(p.stderr, "Records Read");
  if (records !== expected) throw new Error(`${what}: backed up ${records} of ${expected}`);
  return figures(what, p, records, await dirSize(dir), note);
}

/**
 * Backs up the namespace as 1, 2 and 4 shards, each shard its own concurrent `asbackup
 * --shards N --shard I` process (as the pods of an Indexed Job): a row per shard (its own
 * records/s and peak RSS) and one for the whole (wall time from the first start to the last
 * end, records/s of the whole, the largest shard's peak RSS).
 */
async function shardJobs(
  server: BenchServer,
  dir: string,
  expected: number,
): Promise<JobFigures[]> {
  const rows: JobFigures[] = [];
  for (const count of [1, 2, 4]) {
    const started = performance.now();
    const shards = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        timed(
          DENO,
          toolArgs("asbackup", server, "test", dir, [
            "--remove-files",
            "--shards",
            String(count),
            "--shard",
            String(i),
          ]),
        )),
    );
    const seconds = (performance.now() - started) / 1000;
    let total = 0;
    for (const [i, p] of shards.entries()) {
      const records = reportNumber(p.stderr, "Records Read");
      total += records;
      const bytes = await dirSize(`${dir}/shard-${i}-of-${count}`);
      rows.push(figures(`asbackup --shards ${count} --shard ${i}`, p, records, bytes));
    }
    if (total !== expected) throw new Error(`${count} shards backed up ${total} of ${expected}`);
    const whole: ProcessFigures = {
      seconds,
      cpuSeconds: shards.reduce((sum, p) => sum + p.cpuSeconds, 0),
      peakRssMiB: Math.max(...shards.map((p) => p.peakRssMiB)),
      stdout: "",
      stderr: "",
    };
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += await dirSize(`${dir}/shard-${i}-of-${count}`);
    rows.push(figures(`${count} shards, the whole`, whole, total, bytes));
  }
  await Deno.remove(dir, { recursive: true });
  return rows;
}

async function restore(
  server: BenchServer,
  dir: string,
  what: string,
  flags: string[],
  expected: number,
  note?: string,
): Promise<JobFigures> {
  const p = await timed(DENO, toolArgs("asrestore", server, "test,bar", dir, flags));
  const inserted = reportNumber(p.stderr, "Inserted Records");
  const stored = Number(await server.command("count bar"));
  await server.command("truncate bar");
  if (inserted !== expected || stored !== expected) {
    throw new Error(`${what}: inserted ${inserted}, stored ${stored}, expected ${expected}`);
  }
  return figures(what, p, inserted, await dirSize(dir), note);
}

/**
 * `asbackup xdr` of the whole namespace (the emulator rewinds it and ships every record),
 * then `asrestore --mode asbx` of those files into the emptied namespace.
 */
async function xdrJobs(server: BenchServer, dir: string, expected: number): Promise<JobFigures[]> {
  const host = hostFlags(server.seeds);
  const b = await timed(DENO, [
    "run",
    "-A",
    ...jobFlags,
    `${ROOT}cli/asbackup.ts`,
    "xdr",
    ...host,
    "--namespace",
    "test",
    "--directory",
    dir,
    "--local-port",
    "0",
    "--info-poling-period",
    "100",
  ]);
  const received = reportNumber(b.stderr, "Records Read");
  if (received < expected) throw new Error(`asbackup xdr: received ${received} of ${expected}`);
  const rows = [figures("asbackup xdr (rewind)", b, received, await dirSize(dir))];
  await server.command("truncate test");
  const r = await timed(DENO, [
    "run",
    "-A",
    ...jobFlags,
    `${ROOT}cli/asrestore.ts`,
    ...host,
    "--directory",
    dir,
    "--mode",
    "asbx",
  ]);
  const stored = Number(await server.command("count test"));
  if (stored !== expected) {
    throw new Error(`asrestore --mode asbx: stored ${stored} of ${expected}`);
  }
  rows.push(figures("asrestore --mode asbx", r, received, await dirSize(dir)));
  return rows;
}

/** The official Node client's jobs (run with `node -e` inside tests/conformance). */
const NODE_SCRIPT = `
const Aerospike = require("aerospike");
const [mode, seeds, total, concurrent] = process.argv.slice(1);
const hosts = seeds.split(",").map((h) => ({ addr: h.split(":")[0], port: Number(h.split(":")[1]) }));
${seedScript()}
(async () => {
  const client = await Aerospike.connect({ hosts, policies: {
    scan: new Aerospike.ScanPolicy({ totalTimeout: 0, socketTimeout: 30000 }),
    batchParentWrite: new Aerospike.BatchPolicy({ totalTimeout: 0, socketTimeout: 30000 }),
  } });
  let n = 0;
  if (mode === "scan") {
    const scan = client.scan("test");
    scan.concurrent = concurrent === "true";
    const stream = scan.foreach();
    await new Promise((res, rej) => {
      stream.on("data", () => n++); stream.on("error", rej); stream.on("end", res);
    });
  } else {
    const gen = records(Number(total));
    const batch = 128, inflight = 32;
    let done = false;
    async function worker() {
      while (!done) {
        const recs = [];
        for (let i = 0; i < batch; i++) {
          const r = gen.next();
          if (r.done) { done = true; break; }
          recs.push({ type: Aerospike.batchType.BATCH_WRITE,
            key: new Aerospike.Key("bar", "bench", r.value.key),
            policy: new Aerospike.BatchWritePolicy({ key: Aerospike.policy.key.SEND }),
            ops: Object.entries(r.value.bins).map(([k, v]) => Aerospike.operations.write(k, v)) });
        }
        if (recs.length === 0) break;
        const res = await client.batchWrite(recs);
        for (const x of res) if (x.status !== 0) throw new Error("batch write status " + x.status);
        n += recs.length;
      }
    }
    await Promise.all(Array.from({ length: inflight }, worker));
  }
  console.log(JSON.stringify({ records: n }));
  await client.close();
})().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
`;

/** A JS copy of bench_server.ts's generator for the Node client's writes (same records). */
function seedScript(): string {
  return `
const WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november " +
  "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu backup " +
  "restore record partition digest cluster replica namespace shard stream").split(" ");
function* records(count) {
  let x = 0x5eed;
  const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
  const text = (min) => { let s = WORDS[rand() % WORDS.length];
    while (s.length < min) s += " " + WORDS[rand() % WORDS.length]; return s; };
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(16);
    for (let j = 0; j < 16; j += 4) b.writeUInt32BE(rand(), j);
    const name = text(36), t = text(84);
    const f = new Aerospike.Double((rand() % 1000000) / 1000);
    yield { key: i, bins: { i, name, text: t, f, b } };
  }
}`;
}

async function nodeClient(
  server: BenchServer,
  what: string,
  args: string[],
  expected: number,
  bytes: number,
  note: string,
): Promise<JobFigures> {
  const p = await timed("node", ["-e", NODE_SCRIPT, ...args], `${ROOT}tests/conformance/`);
  const n = JSON.parse(p.stdout.trim().split("\n").at(-1)!).records as number;
  if (n !== expected) throw new Error(`${what}: ${n} of ${expected} records`);
  if (args[0] === "write") {
    const stored = Number(await server.command("count bar"));
    await server.command("truncate bar");
    if (stored !== expected) throw new Error(`${what}: stored ${stored} of ${expected}`);
  }
  return figures(what, p, n, bytes, note);
}

/**
 * Runs each area bench in a fresh process (`deno eval`), so one bench's heap and JIT state
 * do not skew the next.
 */
async function areaBenches(records: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const areas: [string, string, string][] = [
    ["bench_asb.ts", "benchAsb", ""],
    ["bench_io.ts", "benchIo", ""],
    ["bench_emulator.ts", "benchEmulatorScan", `{ records: ${records} }`],
    ["bench_client.ts", "benchScanDecode", String(Math.max(records, 1_000_000))],
  ];
  for (const [file, name, args] of areas) {
    console.error(`area bench ${name}…`);
    const url = new URL(`./${file}`, import.meta.url).href;
    const code = `import { ${name} } from "${url}";\n` +
      `console.log(JSON.stringify(await ${name}(${args})));`;
    const res = await new Deno.Command(DENO, {
      args: ["eval", code],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!res.success) throw new Error(`area bench ${name} failed (${res.code})`);
    out[name] = JSON.parse(decoder.decode(res.stdout).trim().split("\n").at(-1)!);
    console.error(JSON.stringify(out[name]));
  }
  return out;
}

const COLUMNS = ["records/s", "MB/s", "CPU s/M", "CPU %", "RSS MiB", "wall s"];
const WIDTHS = [10, 7, 8, 6, 8, 7];

function formatRow(f: JobFigures): string {
  return [
    f.what.padEnd(44),
    String(f.recordsPerSecond).padStart(10),
    f.mbPerSecond.toFixed(1).padStart(7),
    f.cpuSecondsPerMillion.toFixed(2).padStart(8),
    String(Math.round(100 * f.cpuSeconds / f.seconds)).padStart(6),
    String(f.peakRssMiB).padStart(8),
    f.seconds.toFixed(1).padStart(7),
    f.note ? `  ${f.note}` : "",
  ].join("");
}

/** Prints figures as a table. */
export function printTable(title: string, rows: JobFigures[]): void {
  if (rows.length === 0) return;
  console.log(`\n${title}`);
  console.log(
    "".padEnd(44) + COLUMNS.map((c, i) => c.padStart(WIDTHS[i])).join(""),
  );
  for (const r of rows) console.log(formatRow(r));
}

async function main(): Promise<void> {
  const o = parseOptions(Deno.args);
  if (o.jobV8Flags) jobFlags = [`--v8-flags=${o.jobV8Flags}`];
  const n = o.records;
  const work = await Deno.makeTempDir({ prefix: "aerobak-bench-" });
  const jobs: Record<string, JobFigures[]> = {
    backup: [],
    codecs: [],
    restore: [],
    node: [],
    xdr: [],
    shards: [],
  };
  let areas: Record<string, unknown> = {};
  const started = new Date();
  try {
    console.error(`bench: seeding ${n} records into a ${o.nodes}-node emulator (own process)…`);
    const codecList = await codecs(work);
    {
      await using server = await BenchServer.start(n, o.nodes);
      const dirs = new Map<string, string>();
      const dirOf = (name: string) => {
        if (!dirs.has(name)) dirs.set(name, `${work}/backup-${name.replace("+", "-")}`);
        return dirs.get(name)!;
      };
      const needBackups = !o.skip.has("backup") || !o.skip.has("restore") ||
        !o.skip.has("codecs") || !o.skip.has("node");
      if (needBackups) {
        console.error("backup (asbackup CLI, plain) at parallel 1, 2, 4:");
        for (const parallel of [1, 2, 4]) {
          const dir = parallel === 1 ? dirOf("none") : `${work}/backup-p${parallel}`;
          const f = await backup(
            server,
            dir,
            `asbackup --parallel ${parallel}`,
            ["--parallel", String(parallel)],
            n,
          );
          jobs.backup.push(f);
          if (parallel !== 1) await Deno.remove(dir, { recursive: true });
        }
      }
      const plainBytes = jobs.backup[0]?.bytes ?? 0;
      if (!o.skip.has("node")) {
        console.error("official Node client scan:");
        for (const concurrent of [false, true]) {
          jobs.node.push(
            await nodeClient(
              server,
              `node client scan (concurrent ${concurrent})`,
              ["scan", server.seeds, String(n), String(concurrent)],
              n,
              plainBytes,
              "MB/s as the plain backup's size",
            ),
          );
        }
      }
      if (!o.skip.has("codecs") || !o.skip.has("restore")) {
        console.error("backup (asbackup CLI, parallel 1) per file codec:");
        for (const c of codecList.slice(1)) {
          jobs.codecs.push(
            await backup(server, dirOf(c.name), `asbackup ${c.name}`, c.flags, n),
          );
        }
        jobs.codecs.unshift({ ...jobs.backup[0], what: "asbackup none" });
      }
      if (!o.skip.has("restore")) {
        console.error("restore (asrestore CLI, default settings) per file codec:");
        for (const c of codecList) {
          jobs.restore.push(
            await restore(server, dirOf(c.name), `asrestore ${c.name}`, c.flags, n),
          );
        }
      }
      if (!o.skip.has("node")) {
        console.error("official Node client batch writes:");
        jobs.node.push(
          await nodeClient(
            server,
            "node client batch writes (128 x 32)",
            ["write", server.seeds, String(n)],
            n,
            plainBytes,
            "MB/s as the plain backup's size",
          ),
        );
      }
      if (!o.skip.has("shards")) {
        console.error("sharded backup (asbackup --shards N, N concurrent processes):");
        jobs.shards = await shardJobs(server, `${work}/sharded`, n);
      }
      if (!o.skip.has("xdr")) {
        console.error("XDR backup (asbackup xdr, 1 connection per node) and ASBX restore:");
        jobs.xdr = await xdrJobs(server, `${work}/xdr`, n);
      }
    }
    if (!o.skip.has("areas")) areas = await areaBenches(n);
  } finally {
    await Deno.remove(work, { recursive: true });
  }

  printTable("Backup (asbackup CLI process)", jobs.backup);
  printTable("Official Node client (node 20 process)", jobs.node);
  printTable("Backup by file codec (parallel 1)", jobs.codecs);
  printTable("Restore by file codec (default settings)", jobs.restore);
  printTable("XDR backup into ASBX and its restore", jobs.xdr);
  printTable(
    "Sharded backup: N concurrent asbackup processes (the whole: wall time, peak RSS of one)",
    jobs.shards,
  );
  // Wall throughput is the slower of server and job; with CPU % well under 100 the server
  // (one emulator process) is the limit, so the cost is also given per CPU second of the job.
  const cost = (rows: JobFigures[], per: "wall" | "cpu") => {
    const plain = rows.find((r) => r.what.endsWith(" none"));
    const both = rows.find((r) => r.what.endsWith("zstd+aes256"));
    if (!plain || !both) return null;
    return per === "wall"
      ? round(1 - both.recordsPerSecond / plain.recordsPerSecond, 3)
      : round(1 - plain.cpuSecondsPerMillion / both.cpuSecondsPerMillion, 3);
  };
  const summary = {
    backupZstdAesCostWall: cost(jobs.codecs, "wall"),
    backupZstdAesCostPerCpuSecond: cost(jobs.codecs, "cpu"),
    restoreZstdAesCostWall: cost(jobs.restore, "wall"),
    restoreZstdAesCostPerCpuSecond: cost(jobs.restore, "cpu"),
  };
  console.log(
    "\nzstd+aes256 throughput cost vs plain (goal <= 0.25; CPU % < 100 means the server " +
      `limits the wall figures): ${JSON.stringify(summary)}`,
  );
  for (const [name, value] of Object.entries(areas)) {
    console.log(`\n${name}`);
    for (const row of Array.isArray(value) ? value : [value]) console.log(JSON.stringify(row));
  }
  const result = {
    startedAt: started.toISOString(),
    records: n,
    nodes: o.nodes,
    jobV8Flags: o.jobV8Flags ?? null,
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    jobs,
    summary,
    areas,
  };
  await Deno.mkdir(o.json.slice(0, o.json.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(o.json, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${o.json}`);
}

if (import.meta.main) await main();
