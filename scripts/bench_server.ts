/**
 * The benchmark server: an emulated cluster in its own process, seeded in-process with
 * synthetic records (no wire, so loading a million records takes seconds), so that the
 * benchmarked jobs run in other processes and their CPU time and memory are their own.
 *
 * ```sh
 * deno run -A scripts/bench_server.ts --records 1000000 --nodes 3
 * ```
 *
 * Prints `ready <host:port,…> <records>` on stdout once seeded and listening, and stops on
 * SIGINT/SIGTERM or when stdin closes (so it never outlives the bench that spawned it).
 *
 * Flags: `--records N` (default 1,000,000) synthetic records in namespace `test`, set
 * `bench`; `--nodes N` (default 3); `--namespaces a,b` (default test,bar); `--blob-bytes N`
 * (default 16) bytes of each record's blob bin.
 *
 * @module
 */

import { floatBin, intBin } from "../lib/aerospike/particle.ts";
import { startEmulator } from "../lib/emulator/emulator.ts";
import { answerInfo } from "../lib/emulator/info_commands.ts";
import { XdrEmulation } from "../lib/emulator/xdr.ts";

/** Options of {@linkcode seedBenchRecords}. */
export interface SeedOptions {
  /** Namespace. @default "test" */
  namespace?: string;
  /** Set. @default "bench" */
  set?: string;
  /** Bytes of the blob bin `b` (random, so it does not compress). @default 16 */
  blobBytes?: number;
}

const WORDS = (
  "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november " +
  "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu backup " +
  "restore record partition digest cluster replica namespace shard stream"
).split(" ");

/** A small deterministic PRNG (xorshift32) so every run seeds the same data. */
function prng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/**
 * The synthetic records of the benchmark, as the emulator's seed input: an integer user
 * key, and bins `i` (int), `name` (~40-byte text of words), `text` (~90-byte text of words),
 * `f` (float) and `b` (16-byte blob), about 200 bytes of ASB text per record; text
 * compresses like real data (words repeat), the blob does not.
 *
 * @param put Receives each record.
 * @param count Number of records.
 * @param opts Namespace and set.
 */
export function seedBenchRecords(
  put: (r: {
    namespace: string;
    set: string;
    key: number;
    bins: Record<string, unknown>;
  }) => void,
  count: number,
  opts: SeedOptions = {},
): void {
  const namespace = opts.namespace ?? "test";
  const set = opts.set ?? "bench";
  const rand = prng(0x5eed);
  const text = (min: number) => {
    let s = WORDS[rand() % WORDS.length];
    while (s.length < min) s += " " + WORDS[rand() % WORDS.length];
    return s;
  };
  const blobBytes = opts.blobBytes ?? 16;
  for (let i = 0; i < count; i++) {
    const b = new Uint8Array(blobBytes);
    const v = new DataView(b.buffer);
    for (let j = 0; j + 4 <= blobBytes; j += 4) v.setUint32(j, rand());
    put({
      namespace,
      set,
      key: i,
      bins: {
        i: intBin("i", i),
        name: text(36),
        text: text(84),
        f: floatBin("f", (rand() % 1_000_000) / 1000),
        b,
      },
    });
  }
}

function flag(name: string, def: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : def;
}

if (import.meta.main) {
  const records = Number(flag("records", "1000000"));
  const nodes = Number(flag("nodes", "3"));
  const namespaces = flag("namespaces", "test,bar").split(",");
  const emu = await startEmulator({
    nodes,
    namespaces: namespaces.map((name) => ({ name })),
  });
  // A source cluster for `asbackup xdr` as well (idle until a DC is created).
  XdrEmulation.attach(emu.cluster);
  const t0 = performance.now();
  seedBenchRecords((r) => emu.put(r as Parameters<typeof emu.put>[0]), records, {
    blobBytes: Number(flag("blob-bytes", "16")),
  });
  console.error(
    `bench_server: seeded ${records} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  // A real server keeps its object counts as it writes; the emulator counts each partition
  // once and caches it. Count now, so the first measured job (which asks every node for
  // `namespace/<ns>`) does not pay for a walk of every record.
  for (const name of namespaces) {
    for (const node of emu.cluster.liveNodes) answerInfo(emu.cluster, node, `namespace/${name}`);
  }
  // Seeding leaves a large young heap behind: collect it now (bench.ts passes --expose-gc),
  // or the first measured job pays the emulator's full collection of a million records.
  (globalThis as { gc?: () => void }).gc?.();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await emu.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`ready ${emu.seeds} ${records}`);
  // Control commands, one a line: `count <ns>`, `truncate <ns>`; EOF (the parent went
  // away) stops the server.
  const ctl = (line: string): string => {
    const [cmd, name] = line.trim().split(/\s+/);
    const ns = emu.cluster.namespace(name ?? "");
    if (ns === undefined) return `error unknown namespace "${name}"`;
    if (cmd === "count") return String(emu.count(name));
    if (cmd === "truncate") {
      ns.store.truncate(undefined, emu.cluster.clock.now());
      return "ok";
    }
    return `error unknown command "${cmd}"`;
  };
  let pending = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      console.log(ctl(pending.slice(0, nl)));
      pending = pending.slice(nl + 1);
    }
  }
  await stop();
}
