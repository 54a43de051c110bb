/**
 * Reading the metadata a backup saves before the records: UDF modules, then secondary
 * indexes (backup-go: `udf-list` + `udf-get`, then `sindex-list`).
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import {
  compareVersion,
  parseSindexList,
  parseUdfGet,
  parseUdfList,
  type SIndexInfo,
} from "../aerospike/info.ts";
import type { AsbUdf } from "../format/asb/encoder.ts";
import { type InfoCommandOptions, infoParsed } from "./_info.ts";

/**
 * The `sindex-list` command for a server version (wire spec §2.2): `namespace=` from 8.1,
 * `ns=` before; `;b64=true` from 6.1 so contexts come base64.
 *
 * @param namespace The namespace.
 * @param version The lowest server version of the cluster.
 * @returns The command.
 *
 * @example Against 8.1
 * ```ts
 * import { sindexListCommand } from "./metadata.ts";
 * console.log(sindexListCommand("test", [8, 1, 0])); // "sindex-list:namespace=test;b64=true"
 * ```
 */
export function sindexListCommand(namespace: string, version: readonly number[]): string {
  const key = compareVersion(version, [8, 1, 0]) >= 0 ? "namespace" : "ns";
  const b64 = compareVersion(version, [6, 1, 0]) >= 0 ? ";b64=true" : "";
  return `sindex-list:${key}=${namespace}${b64}`;
}

/**
 * Reads the namespace's secondary indexes.
 *
 * @param cluster The cluster.
 * @param namespace The namespace.
 * @param version The lowest server version.
 * @param options Info options.
 * @returns The index definitions, in the server's order.
 */
export async function readSIndexes(
  cluster: Cluster,
  namespace: string,
  version: readonly number[],
  options: InfoCommandOptions,
): Promise<SIndexInfo[]> {
  const list = await infoParsed(
    cluster,
    sindexListCommand(namespace, version),
    options,
    parseSindexList,
  );
  // Older servers list every namespace's indexes for `ns=`; keep only ours.
  return list.filter((s) => s.namespace === "" || s.namespace === namespace);
}

/**
 * Reads every registered UDF module with its source.
 *
 * @param cluster The cluster.
 * @param options Info options.
 * @returns The modules, in the server's order.
 */
export async function readUdfs(cluster: Cluster, options: InfoCommandOptions): Promise<AsbUdf[]> {
  const list = await infoParsed(cluster, "udf-list", options, parseUdfList);
  const out: AsbUdf[] = [];
  for (const udf of list) {
    const got = await infoParsed(cluster, `udf-get:filename=${udf.name}`, options, parseUdfGet);
    out.push({ name: udf.name, content: got.content });
  }
  return out;
}
