/**
 * Runs an emulated cluster from the command line:
 *
 * ```sh
 * deno task emulator --port 3000 --nodes 3
 * ```
 *
 * Prints exactly one line, `ready <host:port,…>`, on stdout once every node accepts
 * connections, and stops cleanly on SIGINT or SIGTERM.
 *
 * Flags: `--port N` (first node's port, 0 = free ports; default 3000), `--nodes N`
 * (default 1), `--namespaces a,b` (default test,bar), `--replication-factor N` (default 2),
 * `--nsup-period S` (default 0: TTL writes refused with 22 as on a real server),
 * `--default-ttl S`, `--racks 1,2,…`, `--user name:password` (repeatable; enables
 * security), `--cluster-name NAME`.
 *
 * @module
 */

import { startEmulator } from "./emulator.ts";
import type { NamespaceOptions } from "./cluster.ts";

function usage(message: string): never {
  console.error(`emulator: ${message}`);
  Deno.exit(2);
}

function parseArgs(args: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) usage(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined) usage(`flag --${name} needs a value`);
    out.set(name, [...(out.get(name) ?? []), value]);
  }
  return out;
}

function intFlag(flags: Map<string, string[]>, name: string, def: number): number {
  const v = flags.get(name)?.at(-1);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) usage(`invalid --${name} "${v}": expected an integer >= 0`);
  return n;
}

async function main(): Promise<void> {
  const flags = parseArgs(Deno.args);
  const known = new Set([
    "port",
    "nodes",
    "namespaces",
    "replication-factor",
    "nsup-period",
    "default-ttl",
    "racks",
    "user",
    "cluster-name",
  ]);
  for (const k of flags.keys()) if (!known.has(k)) usage(`unknown flag --${k}`);
  const nsupPeriod = intFlag(flags, "nsup-period", 0);
  const defaultTtl = intFlag(flags, "default-ttl", 0);
  const namespaces: NamespaceOptions[] = (flags.get("namespaces")?.at(-1) ?? "test,bar")
    .split(",").map((name) => ({ name, nsupPeriod, defaultTtl }));
  const users: Record<string, string> = {};
  for (const u of flags.get("user") ?? []) {
    const c = u.indexOf(":");
    if (c <= 0) usage(`invalid --user "${u}": expected name:password`);
    users[u.slice(0, c)] = u.slice(c + 1);
  }
  const racksText = flags.get("racks")?.at(-1);
  const emu = await startEmulator({
    port: intFlag(flags, "port", 3000),
    nodes: intFlag(flags, "nodes", 1),
    namespaces,
    replicationFactor: intFlag(flags, "replication-factor", 2),
    racks: racksText === undefined ? undefined : racksText.split(",").map(Number),
    users,
    clusterName: flags.get("cluster-name")?.at(-1),
  });
  const stop = async () => {
    await emu.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`ready ${emu.seeds}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
}
