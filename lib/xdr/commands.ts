/**
 * The info commands that drive XDR on a source cluster (wire-protocol.md §2.2): create a
 * connector DC pointing at the backup process, ship a namespace with rewind, read its
 * progress, block transaction (MRT) writes, remove the DC. Each is sent to one node.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { asAerobakError } from "./_error.ts";
import { infoError, parseKeyValues } from "../aerospike/info.ts";
import type { NodeInfo } from "../aerospike/node.ts";

/**
 * What the XDR control needs from a cluster; `Cluster` from `aerospike/cluster.ts`
 * satisfies it.
 */
export interface XdrInfoClient {
  /** The nodes currently in the cluster. */
  readonly nodes: readonly NodeInfo[];
  /**
   * Runs info commands on one node.
   *
   * @param commands Commands.
   * @param opts The node's name and a time limit.
   * @returns Command → raw value.
   */
  info(
    commands: string[],
    opts?: { node?: string; timeoutMs?: number },
  ): Promise<Map<string, string>>;
}

/** Settings of the XDR DC a backup creates. */
export interface XdrDcSettings {
  /** DC name: `^[a-zA-Z0-9_\-$]+$`, at most 31 characters. */
  dc: string;
  /** `host:port` of the backup's receiver, as the source nodes must dial it. */
  hostPort: string;
  /** Namespace to ship. */
  namespace: string;
  /** `"all"` or a number of seconds to rewind. */
  rewind: string;
  /** Records per second per node, a multiple of 100; 0 = unlimited (not sent). */
  maxThroughput: number;
  /** Also ship writes that arrived through XDR (`forward=true`). */
  forward: boolean;
  /**
   * TLS name of the receiver: the TLS context of the source nodes (`network { tls <name> }`
   * in aerospike.conf, whose CA trusts the receiver's certificate) that the DC uses
   * (`tls-name=<name>`), and the name the nodes check the certificate against
   * (`node-address-port=<host>:<port>:<name>`). Empty: plain TCP.
   * @default ""
   */
  tlsName?: string;
}

/** Progress of an XDR DC on one node (`get-stats:context=xdr`). */
export interface XdrStats {
  /** Seconds the shipping lags behind the writes (0 = caught up). */
  lag: number;
  /** Partition recoveries (rewind passes) started. */
  recoveries: number;
  /** Partition recoveries still to do; 0 = the rewind is over. */
  recoveriesPending: number;
}

const DC_NAME = /^[a-zA-Z0-9_\-$]+$/;

/**
 * Checks a DC name.
 *
 * @param dc The name.
 * @returns The name.
 * @throws {AerobakError} `CONFIG_INVALID` for a name that does not match
 *   `^[a-zA-Z0-9_\-$]+$` or is longer than 31 characters.
 */
export function checkDcName(dc: string): string {
  if (!DC_NAME.test(dc) || dc.length > 31) {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid XDR DC name "${dc}": expected 1 to 31 of a-z A-Z 0-9 _ - $`,
    );
  }
  return dc;
}

/**
 * The create sequence for one node, in the order the server needs: DC → connector →
 * [TLS name] → node address → [throughput] → namespace with rewind → [forward].
 *
 * @param s The DC settings.
 * @returns The commands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xdrCreateCommands } from "./commands.ts";
 * const cmds = xdrCreateCommands({ dc: "bk", hostPort: "10.0.0.5:8080", namespace: "test", rewind: "all", maxThroughput: 0, forward: false });
 * assert.equal(cmds[0], "set-config:context=xdr;dc=bk;action=create");
 * assert.equal(cmds.length, 4);
 * ```
 */
export function xdrCreateCommands(s: XdrDcSettings): string[] {
  const dc = `set-config:context=xdr;dc=${s.dc}`;
  const cmds = [`${dc};action=create`, `${dc};connector=true`];
  // The DC's TLS context must be set before the address it connects to is added.
  if (s.tlsName) cmds.push(`${dc};tls-name=${s.tlsName}`);
  const address = s.tlsName ? `${s.hostPort}:${s.tlsName}` : s.hostPort;
  cmds.push(`${dc};node-address-port=${address};action=add`);
  if (s.maxThroughput > 0) {
    cmds.push(`${dc};namespace=${s.namespace};max-throughput=${s.maxThroughput}`);
  }
  cmds.push(`${dc};namespace=${s.namespace};action=add;rewind=${s.rewind}`);
  if (s.forward) cmds.push(`${dc};namespace=${s.namespace};forward=true`);
  return cmds;
}

/**
 * The command that removes a DC.
 *
 * @param dc DC name.
 * @returns `set-config:context=xdr;dc=<dc>;action=delete`.
 */
export function xdrDeleteCommand(dc: string): string {
  return `set-config:context=xdr;dc=${dc};action=delete`;
}

/**
 * The command that reads a DC's progress for a namespace.
 *
 * @param dc DC name.
 * @param namespace Namespace.
 * @returns `get-stats:context=xdr;dc=<dc>;namespace=<ns>`.
 */
export function xdrStatsCommand(dc: string, namespace: string): string {
  return `get-stats:context=xdr;dc=${dc};namespace=${namespace}`;
}

/**
 * The command that blocks or unblocks transaction (MRT) writes of a namespace.
 *
 * @param namespace Namespace.
 * @param disabled `true` to block.
 * @returns `set-config:context=namespace;namespace=<ns>;disable-mrt-writes=<disabled>`.
 */
export function mrtWritesCommand(namespace: string, disabled: boolean): string {
  return `set-config:context=namespace;namespace=${namespace};disable-mrt-writes=${disabled}`;
}

/** Options of {@linkcode xdrCommand}. */
export interface XdrCommandOptions {
  /** Name of the node to ask. */
  node: string;
  /** Limit of the request, ms. @default the client's */
  timeoutMs?: number;
}

/**
 * Sends one command to one node and checks the answer the way backup-go does (a value
 * containing `ERROR` fails), also recognising `FAIL:` answers.
 *
 * @param client The cluster.
 * @param command The command.
 * @param options The node and a time limit.
 * @returns The answer.
 * @throws {AerobakError} `XDR_COMMAND_FAILED` naming node and command (with the server's
 *   result code when it gave one), or `XDR_DC_NOT_FOUND` when the answer says the DC is
 *   gone; transport errors as the client throws them.
 */
export async function xdrCommand(
  client: XdrInfoClient,
  command: string,
  options: XdrCommandOptions,
): Promise<string> {
  const { node } = options;
  const answers = await client.info([command], { node, timeoutMs: options.timeoutMs });
  const value = answers.get(command);
  const nodeRef = { address: addressOf(client, node), name: node };
  if (value === undefined) {
    throw new AerobakError(
      "XDR_COMMAND_FAILED",
      `XDR command "${command}" on node ${node} failed: no answer`,
      { node: nodeRef },
    );
  }
  const err = infoError(value);
  if (err !== null || value.includes("ERROR")) {
    const code = value.includes("DC not found") ? "XDR_DC_NOT_FOUND" : "XDR_COMMAND_FAILED";
    throw new AerobakError(code, `XDR command "${command}" on node ${node} failed: ${value}`, {
      node: nodeRef,
      resultCode: err?.code,
    });
  }
  return value;
}

function addressOf(client: XdrInfoClient, node: string): string {
  return client.nodes.find((n) => n.name === node)?.address ?? node;
}

/**
 * Parses a `get-stats:context=xdr` answer.
 *
 * @param value The answer, `k=v;k=v;...`.
 * @returns Lag and recoveries; missing counters are 0.
 * @throws {AerobakError} `XDR_COMMAND_FAILED` for a counter that is not an integer.
 */
export function parseXdrStats(value: string): XdrStats {
  const kv = parseKeyValues(value);
  const num = (k: string) => {
    const v = kv.get(k);
    if (v === undefined) return 0;
    const n = Number(v);
    if (!Number.isInteger(n)) {
      throw new AerobakError(
        "XDR_COMMAND_FAILED",
        `Invalid XDR stats: ${k}=${v} is not an integer`,
      );
    }
    return n;
  };
  return {
    lag: num("lag"),
    recoveries: num("recoveries"),
    recoveriesPending: num("recoveries_pending"),
  };
}

/**
 * Creates the DC on one node and starts shipping the namespace.
 *
 * @param client The cluster.
 * @param settings The DC and the node.
 * @throws {AerobakError} `XDR_COMMAND_FAILED` at the first command the node refuses.
 */
export async function startXdr(
  client: XdrInfoClient,
  settings: XdrDcSettings & { node: string },
): Promise<void> {
  for (const cmd of xdrCreateCommands(settings)) {
    await xdrCommand(client, cmd, { node: settings.node });
  }
}

/**
 * Removes the DC from one node (shipping stops).
 *
 * @param client The cluster.
 * @param target The node and the DC name.
 * @throws {AerobakError} `XDR_COMMAND_FAILED`.
 */
export async function stopXdr(
  client: XdrInfoClient,
  target: { node: string; dc: string },
): Promise<void> {
  await xdrCommand(client, xdrDeleteCommand(target.dc), { node: target.node });
}

/**
 * Reads a DC's progress on one node.
 *
 * @param client The cluster.
 * @param target The node, the DC name and the namespace.
 * @returns Lag and recoveries.
 * @throws {AerobakError} `XDR_DC_NOT_FOUND` when the node has no such DC; `XDR_COMMAND_FAILED`.
 */
export async function getXdrStats(
  client: XdrInfoClient,
  target: { node: string; dc: string; namespace: string },
): Promise<XdrStats> {
  const cmd = xdrStatsCommand(target.dc, target.namespace);
  return parseXdrStats(await xdrCommand(client, cmd, { node: target.node }));
}

/**
 * Blocks or unblocks transaction writes of a namespace on one node.
 *
 * @param client The cluster.
 * @param target The node, the namespace, and `disabled: true` to block MRT writes or
 *   `false` to allow them again.
 * @throws {AerobakError} `XDR_COMMAND_FAILED`.
 */
export async function setMrtWrites(
  client: XdrInfoClient,
  target: { node: string; namespace: string; disabled: boolean },
): Promise<void> {
  await xdrCommand(client, mrtWritesCommand(target.namespace, target.disabled), {
    node: target.node,
  });
}

/**
 * Recovery after an interrupted XDR backup (`--stop-xdr`): removes the DC from every node.
 *
 * @param client The cluster.
 * @param dc DC name.
 * @returns Node names that failed, with their errors (empty when all succeeded).
 */
export async function stopXdrAll(
  client: XdrInfoClient,
  dc: string,
): Promise<Map<string, AerobakError>> {
  return await onAllNodes(client, (node) => stopXdr(client, { node, dc }));
}

/**
 * Recovery after an interrupted XDR backup (`--unblock-mrt`): allows transaction writes of
 * the namespace again on every node.
 *
 * @param client The cluster.
 * @param namespace Namespace.
 * @returns Node names that failed, with their errors (empty when all succeeded).
 */
export async function unblockMrtAll(
  client: XdrInfoClient,
  namespace: string,
): Promise<Map<string, AerobakError>> {
  return await onAllNodes(
    client,
    (node) => setMrtWrites(client, { node, namespace, disabled: false }),
  );
}

async function onAllNodes(
  client: XdrInfoClient,
  action: (node: string) => Promise<void>,
): Promise<Map<string, AerobakError>> {
  const names = client.nodes.map((n) => n.name);
  const results = await Promise.allSettled(names.map(action));
  const failed = new Map<string, AerobakError>();
  results.forEach((r, i) => {
    if (r.status === "rejected") failed.set(names[i], asAerobakError(r.reason));
  });
  return failed;
}
