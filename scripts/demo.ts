/**
 * Demo (`deno task demo`): the main job end to end on the embedded emulator, as an operator
 * would run it.
 *
 * 1. Starts a 3-node emulated cluster (replication factor 2, nsup on so TTLs are accepted).
 * 2. Seeds 10,000 sample records of varied types (integers with int64 edges, floats,
 *    strings, blobs, booleans, lists, key-ordered maps, GeoJSON; some with a TTL, some
 *    without a stored key, some without a set), registers a UDF and a secondary index.
 * 3. Backs namespace `test` up with `asbackup` (4 parallel readers and writers, zstd).
 * 4. Restores it into namespace `bar` with `asrestore -n test,bar`.
 * 5. Verifies that both namespaces hold the same records, bin for bin, and that the UDF and
 *    the index came back; exits 1 if anything differs.
 *
 * Pass `--records N` to change the amount of data.
 *
 * @module
 */

import { floatBin, geoJsonBin } from "../lib/aerospike/particle.ts";
import { udfPutCommand } from "../lib/aerospike/info.ts";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { ManualClock } from "../lib/emulator/clock.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import { canonicalDump } from "../lib/_job_test_helpers.ts";
import { main as asbackup } from "../cli/asbackup.ts";
import { main as asrestore } from "../cli/asrestore.ts";
import type { CliIo } from "../cli/_cli.ts";

const SETS = ["users", "orders", "events", ""];

/**
 * Seeds `count` sample records into a namespace.
 *
 * @param emu The emulator.
 * @param namespace Namespace.
 * @param count Number of records. @default 10_000
 */
export function seedSampleRecords(emu: Emulator, namespace: string, count = 10_000): void {
  for (let i = 0; i < count; i++) {
    const set = SETS[i % SETS.length];
    emu.put({
      namespace,
      set,
      key: i % 5 === 0 ? `user-${i}` : i,
      sendKey: i % 7 !== 0,
      ttl: i % 10 === 0 ? 86_400 : 0,
      generation: 1 + (i % 4),
      bins: {
        id: i,
        edge: i % 2 === 0 ? 2n ** 63n - 1n : -(2n ** 63n),
        score: floatBin("score", i % 3 === 0 ? 1.0 : i / 7),
        name: `name ${i} ✓`,
        raw: new Uint8Array([i & 0xff, (i >> 8) & 0xff, 0, 255]),
        active: i % 2 === 0,
        tags: ["t" + (i % 10), i, i % 3 === 0 ? null : 1.5],
        profile: { city: `city ${i % 50}`, visits: i % 100, nested: { ok: true } },
        where: geoJsonBin("where", `{"type":"Point","coordinates":[${i % 180},${i % 90}]}`),
      },
    });
  }
}

/** The process around the two CLI runs: real stdout/stderr, one clock shared with the emulator. */
function cliIo(clock: ManualClock): CliIo {
  const encoder = new TextEncoder();
  return {
    stdout: { write: (text) => void Deno.stdout.writeSync(encoder.encode(text)) },
    stderr: { write: (text) => void Deno.stderr.writeSync(encoder.encode(text)) },
    env: { get: (name) => Deno.env.get(name) },
    now: () => new Date(clock.now()),
  };
}

function parseRecordCount(args: string[]): number {
  const at = args.indexOf("--records");
  if (at < 0) return 10_000;
  const n = Number(args[at + 1]);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(
      `demo: invalid --records ${JSON.stringify(args[at + 1])}: expected a positive integer`,
    );
    Deno.exit(2);
  }
  return n;
}

const UDF_SOURCE = `function hello(rec)\n  return "hello " .. rec["name"]\nend\n`;

/** Runs the demo; returns the process exit code. */
async function demo(records: number): Promise<number> {
  // A manual clock shared by the emulator and the tools, so void times compare exactly.
  const clock = new ManualClock();
  await using emu = await startEmulator({
    nodes: 3,
    replicationFactor: 2,
    clock,
    namespaces: [{ name: "test", nsupPeriod: 120 }, { name: "bar", nsupPeriod: 120 }],
  });
  seedSampleRecords(emu, "test", records);
  {
    await using cluster = await Cluster.connect({ hosts: emu.seeds });
    await cluster.info([udfPutCommand("demo.lua", new TextEncoder().encode(UDF_SOURCE))]);
    await cluster.info([
      "sindex-create:namespace=test;set=users;indexname=idx_users_id;bin=id;type=numeric",
    ]);
  }
  console.log(`cluster: ${emu.seeds} (3 nodes, replication factor 2)`);
  console.log(`seeded ${emu.count("test")} records into namespace test, a UDF and an index\n`);

  const dir = await Deno.makeTempDir({ prefix: "aerobak-demo-" });
  try {
    const io = cliIo(clock);
    const host = emu.seeds.split(",")[0];
    const backupArgs = ["-h", host, "-n", "test", "-d", dir, "-w", "4", "-z", "zstd"];
    console.log(`$ asbackup ${backupArgs.join(" ")}`);
    if (await asbackup(backupArgs, io) !== 0) return 1;
    const files = [];
    for await (const entry of Deno.readDir(dir)) files.push(entry.name);
    console.log(`\nbackup files: ${files.sort().join(", ")}\n`);

    const restoreArgs = ["-h", host, "-n", "test,bar", "-d", dir, "-z", "zstd"];
    console.log(`$ asrestore ${restoreArgs.join(" ")}`);
    if (await asrestore(restoreArgs, io) !== 0) return 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  // Verify: every record of test is in bar with the same key, digest, void time and bins
  // (compared as canonical ASB text). The namespace differs by design, and so does the
  // generation: a server gives every record it creates generation 1, whatever the backup
  // says (the backed-up generation only guards against overwriting newer data).
  const comparable = (ns: string) =>
    canonicalDump(emu.dump(ns).map((r) => ({ ...r, generation: 0 })), "ns");
  const source = comparable("test");
  const restored = comparable("bar");
  const missing = source.filter((r, i) => restored[i] !== r).length;
  const indexRestored = emu.sindexes.some((s) =>
    s.namespace === "bar" && s.name === "idx_users_id"
  );
  const udfRestored = emu.udfs.some((u) => u.name === "demo.lua");
  console.log(
    `\nverify: test holds ${source.length} records, bar holds ${restored.length}; ` +
      `${source.length - missing} identical, ${missing} different; ` +
      `index ${indexRestored ? "restored" : "MISSING"}, UDF ${
        udfRestored ? "restored" : "MISSING"
      }`,
  );
  const ok = missing === 0 && source.length === restored.length && indexRestored && udfRestored;
  console.log(ok ? "demo: OK" : "demo: FAILED");
  return ok ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await demo(parseRecordCount(Deno.args)));
}
