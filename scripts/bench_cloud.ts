/**
 * Cloud storage benchmark: what a backup and a restore cost through each object store,
 * beside the same jobs on local disk. Not part of the test suite (it runs for minutes).
 *
 * The cluster is the bench server of `deno task bench` (an emulator in its own process,
 * ~200-byte synthetic records), the stores are servers in their own processes: s3rver and
 * Azurite from `tests/cloud-peers` (run `npm ci` there first) and aerobak's GCS fake (no
 * independent GCS server installs here). Every job is the real CLI in its own process under
 * GNU `/usr/bin/time`: wall seconds, records/s, MB/s (10^6 bytes of backup files), CPU
 * seconds per million records and peak RSS are the job's own, not the servers'.
 *
 * Two rounds: `--records` records (default 1,000,000), then, for the memory figure, a
 * backup of about `--big-mb` MB (default 1,000: ~180,000 records with a 4 KB blob each) and
 * its restore, whose peak RSS must stay near the small round's.
 *
 * ```sh
 * (cd tests/cloud-peers && npm ci)
 * deno run -A scripts/bench_cloud.ts                    # both rounds, every store
 * deno run -A scripts/bench_cloud.ts --records 200000 --big-mb 0 --stores local,s3rver
 * ```
 *
 * Flags: `--records N`, `--big-mb N` (0 skips the big round), `--stores a,b` with any of
 * `local`, `s3rver`, `azurite`, `gcs-fake`, `--json path` (default `.tmp/bench_cloud.json`).
 *
 * @module
 */

import { sharedKeyStringToSign, signSharedKey } from "../lib/io/cloud/azure.ts";
import { startGcsTestServer } from "../lib/io/cloud/gcs_test_server.ts";
import { type AzurePeer, startAzurite, startS3rver } from "../tests/_cloud_peers.ts";
import {
  BenchServer,
  dirSize,
  figures,
  type JobFigures,
  printTable,
  reportNumber,
  timed,
} from "./bench.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = Deno.execPath();
/** Blob bytes of each record of the big round (few records, a large backup). */
const BIG_BLOB = 4000;
/** ASB bytes of a big-round record: the blob in base64 and ~200 bytes of the rest. */
const BIG_RECORD_BYTES = Math.ceil(BIG_BLOB / 3) * 4 + 200;

/** A store a job writes into: its CLI flags, started and stopped around the jobs. */
interface Store extends AsyncDisposable {
  name: string;
  /** Flags of both tools (the directory is given apart). */
  flags: string[];
  /** The directory of a local store. */
  localDir?: string;
}

async function localStore(): Promise<Store> {
  const dir = await Deno.makeTempDir({ prefix: "aerobak-bench-cloud-" });
  return {
    name: "local",
    localDir: dir,
    flags: [],
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function s3rverStore(): Promise<Store> {
  const s3 = await startS3rver();
  return {
    name: "s3rver",
    flags: [
      "--s3-bucket-name",
      s3.bucket,
      "--s3-region",
      s3.region,
      "--s3-endpoint-override",
      s3.url,
      "--s3-access-key-id",
      s3.accessKeyId,
      "--s3-secret-access-key",
      s3.secretAccessKey,
    ],
    [Symbol.asyncDispose]: () => s3[Symbol.asyncDispose](),
  };
}

/** Creates a container with a Shared Key signed Create Container request. */
async function createContainer(az: AzurePeer, container: string): Promise<void> {
  const url = new URL(`${az.url}/${container}?restype=container`);
  const headers = new Headers({
    "x-ms-date": new Date().toUTCString(),
    "x-ms-version": "2021-12-02",
    "content-length": "0",
  });
  const toSign = sharedKeyStringToSign({ method: "PUT", url, headers }, az.account);
  headers.set("authorization", `SharedKey ${az.account}:${signSharedKey(toSign, az.accountKey)}`);
  const res = await fetch(url, { method: "PUT", headers });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`Cannot create container ${container}: ${res.status}`);
}

async function azuriteStore(): Promise<Store> {
  const az = await startAzurite();
  await createContainer(az, "bench");
  return {
    name: "azurite",
    flags: [
      "--azure-endpoint",
      az.url,
      "--azure-container-name",
      "bench",
      "--azure-account-name",
      az.account,
      "--azure-account-key",
      az.accountKey,
    ],
    [Symbol.asyncDispose]: () => az[Symbol.asyncDispose](),
  };
}

/** The GCS fake in a process of its own (`--serve-gcs-fake`), so its memory is not the job's. */
async function gcsFakeStore(): Promise<Store> {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", import.meta.filename!, "--serve-gcs-fake"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const r = await reader.read();
    if (r.done) throw new Error(`the GCS fake did not start: ${out}`);
    out += r.value;
  }
  const m = /^ready (\S+)/.exec(out);
  if (m === null) throw new Error(`the GCS fake did not start: ${out}`);
  return {
    name: "gcs-fake",
    flags: ["--gcp-bucket-name", "test-bucket", "--gcp-endpoint-override", m[1]],
    async [Symbol.asyncDispose]() {
      await child.stdin.close();
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
    },
  };
}

const STORES: Record<string, () => Promise<Store>> = {
  local: localStore,
  s3rver: s3rverStore,
  azurite: azuriteStore,
  "gcs-fake": gcsFakeStore,
};

/** Backs up `test` into the store and restores it into `bar`; returns both jobs' figures. */
async function roundTrip(
  server: BenchServer,
  store: Store,
  label: string,
  expected: number,
): Promise<JobFigures[]> {
  const local = store.localDir;
  const dir = local ?? `bench-${label.replace(/\W+/g, "-")}`;
  const host = ["--host", server.seeds.split(",")[0]];
  const b = await timed(DENO, [
    "run",
    "-A",
    `${ROOT}cli/asbackup.ts`,
    ...host,
    "--namespace",
    "test",
    "--directory",
    dir,
    "--remove-files",
    ...store.flags,
  ]);
  const read = reportNumber(b.stderr, "Records Read");
  if (read !== expected) throw new Error(`${store.name}: backed up ${read} of ${expected}`);
  const bytes = local ? await dirSize(local) : reportNumber(b.stderr, "Bytes Written");
  const rows = [figures(`asbackup ${label} ${store.name}`, b, read, bytes)];
  const r = await timed(DENO, [
    "run",
    "-A",
    `${ROOT}cli/asrestore.ts`,
    ...host,
    "--namespace",
    "test,bar",
    "--directory",
    dir,
    ...store.flags,
  ]);
  const inserted = reportNumber(r.stderr, "Inserted Records");
  const stored = Number(await server.command("count bar"));
  await server.command("truncate bar");
  if (inserted !== expected || stored !== expected) {
    throw new Error(`${store.name}: inserted ${inserted}, stored ${stored}, expected ${expected}`);
  }
  rows.push(figures(`asrestore ${label} ${store.name}`, r, inserted, bytes));
  return rows;
}

interface Options {
  records: number;
  bigMb: number;
  stores: string[];
  json: string;
}

function parseOptions(args: string[]): Options {
  const o: Options = {
    records: 1_000_000,
    bigMb: 1000,
    stores: Object.keys(STORES),
    json: `${ROOT}.tmp/bench_cloud.json`,
  };
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`bench_cloud: ${flag} needs a value`);
    if (flag === "--records") o.records = Number(value);
    else if (flag === "--big-mb") o.bigMb = Number(value);
    else if (flag === "--stores") o.stores = value.split(",");
    else if (flag === "--json") o.json = value;
    else throw new Error(`bench_cloud: unknown argument "${flag}"`);
  }
  for (const s of o.stores) {
    if (!(s in STORES)) throw new Error(`bench_cloud: unknown store "${s}"`);
  }
  if (!Number.isInteger(o.records) || o.records < 1) throw new Error("bench_cloud: bad --records");
  return o;
}

async function rounds(
  records: number,
  blobBytes: number,
  label: string,
  o: Options,
): Promise<JobFigures[]> {
  console.error(`${label}: ${records} records (seeding the bench server)…`);
  await using server = await BenchServer.start(records, 3, ["--blob-bytes", String(blobBytes)]);
  const rows: JobFigures[] = [];
  for (const name of o.stores) {
    await using store = await STORES[name]();
    rows.push(...await roundTrip(server, store, label, records));
  }
  return rows;
}

async function main(): Promise<void> {
  const o = parseOptions(Deno.args);
  const started = new Date();
  const small = await rounds(o.records, 16, `${o.records / 1e6}M`, o);
  printTable(`Backup and restore of ${o.records} records per store`, small);
  const big: JobFigures[] = [];
  if (o.bigMb > 0) {
    const records = Math.round(o.bigMb * 1e6 / BIG_RECORD_BYTES);
    big.push(...await rounds(records, BIG_BLOB, `${o.bigMb}MB`, o));
    printTable(`Backup and restore of ~${o.bigMb} MB (${records} records) per store`, big);
  }
  const result = { startedAt: started.toISOString(), deno: Deno.version.deno, small, big };
  await Deno.mkdir(o.json.slice(0, o.json.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(o.json, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${o.json}`);
}

if (import.meta.main) {
  if (Deno.args[0] === "--serve-gcs-fake") {
    const gcs = await startGcsTestServer({ requireAuth: false });
    console.log(`ready ${gcs.url}`);
    // Runs until the bench closes its standard input.
    for await (const _ of Deno.stdin.readable) { /* wait */ }
    await gcs.close();
  } else {
    await main();
  }
}
