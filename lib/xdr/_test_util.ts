/**
 * Test helpers of the XDR modules.
 *
 * @module
 */

import type { EmulatedCluster } from "../emulator/cluster.ts";
import { answerInfo } from "../emulator/info_commands.ts";
import { handleXdrInfo } from "../emulator/xdr.ts";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import type { BackupStats } from "../backup/stats.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import { ManualClock } from "../pipeline/clock.ts";
import { type BackupXdrHandle, startBackupXdr } from "./backup_xdr.ts";
import type { XdrInfoClient } from "./commands.ts";
import { type BackupXdrConfigInput, resolveBackupXdrConfig } from "./config.ts";

/** Info straight into the emulator's dispatch (no sockets), recording every command. */
export class DirectInfo implements XdrInfoClient {
  readonly sent: { node: string; command: string }[] = [];
  /** Answers to force for commands starting with a prefix. */
  readonly overrides = new Map<string, string>();
  constructor(readonly cluster: EmulatedCluster) {}
  get nodes() {
    return this.cluster.liveNodes.map((n) => ({
      name: n.name,
      address: `${n.host}:${n.port}`,
      build: "8.1.2.0",
    }));
  }
  info(commands: string[], opts: { node?: string } = {}): Promise<Map<string, string>> {
    const node = this.cluster.node(opts.node ?? this.cluster.liveNodes[0].name);
    const out = new Map<string, string>();
    for (const c of commands) {
      this.sent.push({ node: node.name, command: c });
      const forced = [...this.overrides].find(([p]) => c.startsWith(p));
      out.set(
        c,
        forced?.[1] ?? handleXdrInfo(c, { cluster: this.cluster, node }) ??
          answerInfo(this.cluster, node, c),
      );
    }
    return Promise.resolve(out);
  }
  commands(prefix: string): { node: string; command: string }[] {
    return this.sent.filter((s) => s.command.startsWith(prefix));
  }
}

/**
 * Starts an XDR backup into `dir` (receiver on a free loopback port) on a manual clock and
 * advances the clock until the job ends (the info polls and the start/idle timers run on it).
 *
 * @param cluster Where the info commands go.
 * @param dir Backup directory.
 * @param config Namespace, DC, writers and anything else of the configuration.
 * @param eachRound Runs before each clock step (a writer changing records while it ships).
 * @returns The job's final stats.
 */
export async function runTestBackupXdr(
  cluster: XdrInfoClient,
  dir: string,
  config: Omit<BackupXdrConfigInput, "localPort" | "listenAddress">,
  eachRound?: (round: number, job: BackupXdrHandle) => Promise<void>,
): Promise<BackupStats> {
  const clock = new ManualClock();
  const job = startBackupXdr(
    cluster,
    resolveBackupXdrConfig({ ...config, localPort: 0, listenAddress: "127.0.0.1" }),
    new DirectoryWriter(dir),
    { clock },
  );
  for (let i = 0; i < 4000 && job.status === "running"; i++) {
    await eachRound?.(i, job);
    await clock.advance(500);
    await new Promise((r) => setTimeout(r, 2));
  }
  return await job.wait();
}

/**
 * Puts `n` records (keys 0..n-1, set `s`, bin `i`, and a string bin `pad` when given) into
 * namespace `test` of an in-process cluster, last updated at time 0.
 *
 * @param cluster The source cluster.
 * @param n Records.
 * @param pad Value of the `pad` bin, none when omitted.
 */
export function seedXdrSource(cluster: EmulatedCluster, n: number, pad?: string): void {
  const ns = cluster.namespace("test")!;
  for (let i = 0; i < n; i++) {
    const key = keyFromJs(i);
    ns.store.put({
      namespace: "test",
      set: "s",
      digest: computeDigest("s", key),
      key,
      generation: 1,
      voidTime: 0,
      lutMs: 0,
      bins: pad === undefined ? [intBin("i", i)] : [intBin("i", i), stringBin("pad", pad)],
    });
  }
}
