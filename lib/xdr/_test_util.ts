/**
 * Test helpers of the XDR modules.
 *
 * @module
 */

import type { EmulatedCluster } from "../emulator/cluster.ts";
import { answerInfo } from "../emulator/info_commands.ts";
import { handleXdrInfo } from "../emulator/xdr.ts";
import type { XdrInfoClient } from "./commands.ts";

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
