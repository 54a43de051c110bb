/**
 * Restoring metadata: secondary indexes (created for the server version, dropped and
 * re-created when one of the same name differs, then waited for on every node) and UDF
 * modules.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import {
  compareVersion,
  infoError,
  parseKeyValues,
  sindexCreateCommand,
  type SIndexInfo,
  udfPutCommand,
} from "../aerospike/info.ts";
import { AerobakError } from "../errors.ts";
import type { AsbUdf } from "../format/asb/encoder.ts";
import { systemClock } from "../pipeline/clock.ts";
import { infoAnswer, infoCommand, type InfoCommandOptions } from "../backup/_info.ts";

/** Result code of `sindex-create` when an index of that name exists with another definition. */
const INDEX_FOUND = 200;
/** Interval between index build polls, ms. */
const POLL_MS = 250;

/** Restores secondary indexes and UDFs through info commands. */
export class MetadataRestorer {
  readonly #cluster: Cluster;
  readonly #version: readonly number[];
  readonly #info: InfoCommandOptions;

  /**
   * Creates a restorer.
   *
   * @param cluster The cluster.
   * @param version Lowest server version (chooses command syntax).
   * @param info Info options with the restore's retry policy.
   */
  constructor(cluster: Cluster, version: readonly number[], info: InfoCommandOptions) {
    this.#cluster = cluster;
    this.#version = version;
    this.#info = info;
  }

  /**
   * Creates an index (dropping a different one of the same name first) and waits until
   * every node has built it.
   *
   * @param s The index.
   * @throws {AerobakError} `INFO_ERROR` when the server refuses it.
   */
  async sindex(s: SIndexInfo): Promise<void> {
    const create = sindexCreateCommand(s, this.#version);
    const err = infoError(await infoAnswer(this.#cluster, create, this.#info));
    if (err?.code === INDEX_FOUND) {
      const key = compareVersion(this.#version, [8, 1, 0]) >= 0 ? "namespace" : "ns";
      await infoCommand(
        this.#cluster,
        `sindex-delete:${key}=${s.namespace};indexname=${s.name}`,
        this.#info,
      );
      await infoCommand(this.#cluster, create, this.#info);
    } else if (err !== null) {
      await infoCommand(this.#cluster, create, this.#info);
    }
    await this.#waitBuilt(s);
  }

  /**
   * Registers a UDF module.
   *
   * @param udf The module.
   * @throws {AerobakError} `INFO_ERROR` when the server refuses it.
   */
  async udf(udf: AsbUdf): Promise<void> {
    await infoCommand(this.#cluster, udfPutCommand(udf.name, udf.content), this.#info);
  }

  /**
   * Polls every node until it has built the index. A node that cannot be reached is asked
   * again after a refresh of the cluster: once it has left the cluster (it died), the index
   * is built on the nodes that remain.
   */
  async #waitBuilt(s: SIndexInfo): Promise<void> {
    const modern = compareVersion(this.#version, [8, 1, 0]) >= 0;
    const cmd = modern
      ? `sindex-stat:namespace=${s.namespace};indexname=${s.name}`
      : `sindex/${s.namespace}/${s.name}`;
    const clock = this.#info.clock ?? systemClock;
    const built = new Set<string>();
    for (;;) {
      const pending = this.#cluster.nodes.filter((n) => !built.has(n.name));
      if (pending.length === 0) return;
      for (const node of pending) {
        let value: string;
        try {
          value = await infoCommand(this.#cluster, cmd, { ...this.#info, node: node.name });
        } catch (err) {
          if (!isUnreachable(err)) throw err;
          await this.#cluster.refresh().catch(() => {});
          continue;
        }
        const pct = parseKeyValues(value).get("load_pct");
        if (pct === undefined) {
          throw new AerobakError(
            "INFO_INVALID",
            `Cannot wait for index ${s.name} on node ${node.name}: no load_pct in "${cmd}" answer`,
          );
        }
        if (Number(pct) >= 100) built.add(node.name);
      }
      if (this.#cluster.nodes.some((n) => !built.has(n.name))) {
        await clock.sleep(POLL_MS, this.#info.signal);
      }
    }
  }
}

/** Whether an error means the node could not be reached (or left the cluster meanwhile). */
function isUnreachable(err: unknown): boolean {
  return err instanceof AerobakError &&
    ["NODE_NOT_FOUND", "CONNECT_FAILED", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "NETWORK_ERROR"]
      .includes(err.code);
}
