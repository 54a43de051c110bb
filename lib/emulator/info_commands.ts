/**
 * Answers info commands as an Aerospike 8.1.2 node does, with the exact formats recorded
 * in the captures (`info-single-node.json`, `info-3-node-cluster.json`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { PARTITION_COUNT } from "../aerospike/digest.ts";
import { parseKeyValues } from "../aerospike/info.ts";
import type { EmulatedCluster, NamespaceState, NodeState } from "./cluster.ts";
import type { SIndexDefinition } from "./cluster_metadata.ts";
import { replicaBitmap } from "./partition_layout.ts";
import { isExpired } from "./record_store.ts";
import { handleXdrInfo } from "./xdr.ts";

/** Server version reported by `build`. */
export const SERVER_BUILD = "8.1.2.0";

const FEATURES = "batch-any;batch-index;blob-bits;cdt-index;cdt-list;cdt-map;cluster-stable;" +
  "float;geo;sindex-exists;peers;pipelining;pquery;pscans;query-show;relaxed-sc;replicas;" +
  "replicas-all;replicas-master;replicas-max;truncate-namespace;udf";

const UNRECOGNIZED = "ERROR:4:unrecognized command";
const ENTERPRISE_ONLY = "ERROR:25:enterprise only";

/**
 * Answers one info command.
 *
 * @param cluster The cluster.
 * @param node The node asked.
 * @param command The command exactly as sent (without the newline).
 * @returns The value (without the echoed command, tab or newline).
 */
export function answerInfo(cluster: EmulatedCluster, node: NodeState, command: string): string {
  // XDR hook (lib/emulator/xdr.ts, helper X): context=xdr commands and disable-mrt-writes.
  const xdr = handleXdrInfo(command, { cluster, node });
  if (xdr !== undefined) return xdr;
  const colon = command.indexOf(":");
  const name = colon < 0 ? command : command.slice(0, colon);
  const params = colon < 0 ? "" : command.slice(colon + 1);
  const slash = name.indexOf("/");
  if (slash >= 0) return answerPath(cluster, node, name.slice(0, slash), name.slice(slash + 1));
  switch (name) {
    case "node":
      return node.name;
    case "build":
      return SERVER_BUILD;
    case "version":
      return `Aerospike ${edition(cluster)} build ${SERVER_BUILD}`;
    case "edition":
      return `Aerospike ${edition(cluster)}`;
    case "features":
      return FEATURES;
    case "cluster-name":
      return cluster.clusterName;
    case "partitions":
      return String(PARTITION_COUNT);
    case "partition-generation":
      return String(node.partitionGeneration);
    case "rebalance-generation":
      return String(node.rebalanceGeneration);
    case "peers-generation":
      return String(cluster.peersGeneration);
    case "peers-clear-std":
      return peers(cluster, node);
    case "peers-clear-alt":
      return `${cluster.peersGeneration},3000,[]`;
    case "peers-tls-std":
    case "peers-tls-alt":
      return isEnterprise(cluster) ? `${cluster.peersGeneration},4333,[]` : ENTERPRISE_ONLY;
    case "service-clear-std":
      return address(node);
    case "service-clear-alt":
    case "service-tls-std":
    case "service-tls-alt":
      return "";
    case "services":
    case "services-alumni":
      return cluster.viewOf(node).filter((n) => n !== node).map(address).join(";");
    case "replicas":
      return replicas(cluster, node, params === "max=1" ? 1 : Infinity, true);
    case "replicas-all":
      return replicas(cluster, node, Infinity, false);
    case "replicas-master":
      return [...cluster.namespaces.values()].map((ns) =>
        `${ns.config.name}:${base64(replicaBitmap(ns.layout, node.index, 0))}`
      ).join(";");
    case "namespaces":
      return [...cluster.namespaces.keys()].join(";");
    case "sets":
      return [...cluster.namespaces.values()].map((ns) => setsOf(cluster, node, ns)).join("");
    case "sindex-list":
      return sindexList(cluster, parseKeyValues(params));
    case "sindex-create":
      return sindexCreate(cluster, parseKeyValues(params));
    case "sindex-delete": {
      const p = parseKeyValues(params);
      const ns = p.get("namespace") ?? p.get("ns");
      const index = p.get("indexname");
      if (ns === undefined || index === undefined) return "ERROR:4:missing namespace or indexname";
      cluster.metadata.deleteSIndex(ns, index);
      return "ok";
    }
    case "sindex-stat": {
      const p = parseKeyValues(params);
      return sindexStat(cluster, p.get("namespace") ?? p.get("ns") ?? "", p.get("indexname") ?? "");
    }
    case "udf-list":
      return cluster.metadata.udfs().map((u) => `filename=${u.name},hash=${u.hash},type=LUA;`)
        .join("");
    case "udf-get":
      return udfGet(cluster, parseKeyValues(params));
    case "udf-put":
      return udfPut(cluster, parseKeyValues(params));
    case "udf-remove": {
      const file = parseKeyValues(params).get("filename");
      if (file === undefined || file === "") return "error=invalid_filename";
      cluster.metadata.removeUdf(file);
      return "ok";
    }
    case "racks":
      return cluster.racksEnabled ? racks(cluster) : ENTERPRISE_ONLY;
    case "rack-ids":
      return cluster.racksEnabled
        ? [...cluster.namespaces.keys()].map((ns) => `${ns}:${node.rackId}`).join(";")
        : ENTERPRISE_ONLY;
    case "statistics":
      return statistics(cluster, node);
    case "get-config":
      return getConfig(cluster, node, parseKeyValues(params));
    case "truncate":
    case "truncate-namespace":
      return truncate(cluster, parseKeyValues(params), name === "truncate");
    case "user-agent-set":
      return "ok";
    case "cluster-stable":
      return clusterStable(cluster, parseKeyValues(params));
    case "best-practices":
      return "failed_best_practices=none";
    default:
      return UNRECOGNIZED;
  }
}

function edition(cluster: EmulatedCluster): string {
  return isEnterprise(cluster) ? "Enterprise Edition" : "Community Edition";
}

function isEnterprise(cluster: EmulatedCluster): boolean {
  // Racks and security are Enterprise features: configuring them makes an EE server.
  return cluster.racksEnabled || cluster.users.size > 0;
}

function address(node: NodeState): string {
  return `${node.host}:${node.port}`;
}

function peers(cluster: EmulatedCluster, self: NodeState): string {
  const list = cluster.viewOf(self).filter((n) => n !== self).map((n) =>
    `[${n.name},,[${n.port === 3000 ? n.host : address(n)}]]`
  );
  return `${cluster.peersGeneration},3000,[${list.join(",")}]`;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function replicas(cluster: EmulatedCluster, node: NodeState, max: number, regime: boolean): string {
  return [...cluster.namespaces.values()].map((ns) => {
    const n = Math.min(ns.layout.replicationFactor, max);
    const maps: string[] = [];
    for (let i = 0; i < n; i++) maps.push(base64(replicaBitmap(ns.layout, node.index, i)));
    return `${ns.config.name}:${regime ? "0," : ""}${n},${maps.join(",")}`;
  }).join(";");
}

interface NodeCounts {
  objects: number;
  master: number;
  prole: number;
  nonExpirable: number;
  bytes: number;
  bySet: Map<string, { objects: number; bytes: number }>;
}

/** Live-record figures of one partition, valid while its records and the clock allow. */
interface PartitionCounts {
  /** The store's change counter of the partition when counted. */
  version: number;
  /** Clock (Citrusleaf seconds) when counted: an earlier clock may revive records. */
  countedAt: number;
  /** Earliest void time of a counted record: the figures hold until then. */
  validUntil: number;
  objects: number;
  nonExpirable: number;
  bytes: number;
  bySet: Map<string, { objects: number; bytes: number }>;
}

// Per-partition figures of each store. A real server keeps these counters as it writes, so
// `namespace/<ns>` and `sets` answer at once; walking every record for every node on each
// call kept a 1M-record emulator busy for seconds and stalled the scans it served.
const partitionCounts = new WeakMap<NamespaceState["store"], (PartitionCounts | undefined)[]>();

function countPartition(ns: NamespaceState, pid: number, now: number): PartitionCounts {
  let cache = partitionCounts.get(ns.store);
  if (cache === undefined) partitionCounts.set(ns.store, cache = new Array(PARTITION_COUNT));
  const version = ns.store.version(pid);
  const hit = cache[pid];
  if (
    hit !== undefined && hit.version === version && hit.countedAt <= now && now < hit.validUntil
  ) {
    return hit;
  }
  const c: PartitionCounts = {
    version,
    countedAt: now,
    validUntil: Infinity,
    objects: 0,
    nonExpirable: 0,
    bytes: 0,
    bySet: new Map(),
  };
  for (const r of ns.store.partition(pid)) {
    if (isExpired(r, now)) continue;
    const size = recordSize(r.bins);
    c.objects++;
    if (r.voidTime === 0) c.nonExpirable++;
    else if (r.voidTime < c.validUntil) c.validUntil = r.voidTime;
    c.bytes += size;
    let s = c.bySet.get(r.set);
    if (s === undefined) c.bySet.set(r.set, s = { objects: 0, bytes: 0 });
    s.objects++;
    s.bytes += size;
  }
  cache[pid] = c;
  return c;
}

function countOnNode(cluster: EmulatedCluster, node: NodeState, ns: NamespaceState): NodeCounts {
  const now = cluster.nowSeconds();
  const c: NodeCounts = {
    objects: 0,
    master: 0,
    prole: 0,
    nonExpirable: 0,
    bytes: 0,
    bySet: new Map(),
  };
  if (!node.alive) return c;
  for (let pid = 0; pid < PARTITION_COUNT; pid++) {
    const idx = cluster.replicaIndex(ns, pid, node.index);
    if (idx < 0) continue;
    const p = countPartition(ns, pid, now);
    c.objects += p.objects;
    if (idx === 0) c.master += p.objects;
    else c.prole += p.objects;
    c.nonExpirable += p.nonExpirable;
    c.bytes += p.bytes;
    for (const [set, ps] of p.bySet) {
      let s = c.bySet.get(set);
      if (s === undefined) c.bySet.set(set, s = { objects: 0, bytes: 0 });
      s.objects += ps.objects;
      s.bytes += ps.bytes;
    }
  }
  return c;
}

function recordSize(bins: readonly { name: string; value: unknown }[]): number {
  // An estimate of the stored size: the server's exact figure depends on its storage format.
  let n = 16;
  for (const b of bins) {
    n += 2 + b.name.length + (b.value instanceof Uint8Array ? b.value.length + 4 : 8);
  }
  return n;
}

function namespaceConfigPairs(ns: NamespaceState, node: NodeState): [string, string | number][] {
  const c = ns.config;
  return [
    // In the server's order (namespace/<ns> in the captures).
    ["allow-ttl-without-nsup", String(c.allowTtlWithoutNsup)],
    ["default-ttl", c.defaultTtl],
    ["max-record-size", 1048576],
    ["nsup-period", c.nsupPeriod],
    ["rack-id", node.rackId],
    ["replication-factor", c.replicationFactor],
    ["strong-consistency", "false"],
    ["storage-engine", "memory"],
  ];
}

function answerPath(cluster: EmulatedCluster, node: NodeState, head: string, rest: string): string {
  if (head === "namespace") {
    const ns = cluster.namespace(rest);
    if (ns === undefined) return "type=unknown";
    const c = countOnNode(cluster, node, ns);
    const pairs: [string, string | number][] = [
      ["ns_cluster_size", cluster.viewOf(node).length],
      ["effective_replication_factor", ns.layout.replicationFactor],
      ["objects", c.objects],
      ["tombstones", 0],
      ["master_objects", c.master],
      ["master_tombstones", 0],
      ["prole_objects", c.prole],
      ["prole_tombstones", 0],
      ["non_replica_objects", 0],
      ["dead_partitions", 0],
      ["unavailable_partitions", 0],
      ["stop_writes", "false"],
      ["current_time", cluster.nowSeconds()],
      ["non_expirable_objects", c.nonExpirable],
      ["expired_objects", 0],
      ["evicted_objects", 0],
      ["truncate_lut", ns.store.truncateLutMs("") === 0 ? 0 : clMs(ns.store.truncateLutMs(""))],
      ["truncating", "false"],
      ["data_used_bytes", c.bytes],
      ["migrate_tx_partitions_initial", 0],
      ["migrate_tx_partitions_remaining", 0],
      ["migrate_rx_partitions_initial", 0],
      ["migrate_rx_partitions_remaining", 0],
      ...namespaceConfigPairs(ns, node),
    ];
    return pairs.map(([k, v]) => `${k}=${v}`).join(";");
  }
  if (head === "sets") {
    const [nsName, setName] = rest.split("/");
    const ns = cluster.namespace(nsName);
    if (ns === undefined) return "";
    return setsOf(cluster, node, ns, setName);
  }
  if (head === "sindex") {
    const [nsName, index] = rest.split("/");
    return sindexStat(cluster, nsName, index ?? "");
  }
  return UNRECOGNIZED;
}

function clMs(unixMs: number): number {
  // truncate_lut is shown in ms since the Citrusleaf epoch.
  return unixMs - 1262304000000;
}

function setsOf(
  cluster: EmulatedCluster,
  node: NodeState,
  ns: NamespaceState,
  only?: string,
): string {
  const c = countOnNode(cluster, node, ns);
  let out = "";
  for (const set of ns.store.setNames()) {
    if (only !== undefined && set !== only) continue;
    const s = c.bySet.get(set) ?? { objects: 0, bytes: 0 };
    const tl = ns.store.truncateLutMs(set);
    const nIdx = cluster.metadata.sindexes(ns.config.name).filter((d) => d.set === set).length;
    out += `ns=${ns.config.name}:set=${set}:objects=${s.objects}:tombstones=0:` +
      `data_used_bytes=${s.bytes}:truncate_lut=${tl === 0 ? 0 : clMs(tl)}:sindexes=${nIdx}:` +
      `index_populating=false:truncating=false:default-read-touch-ttl-pct=0:default-ttl=0:` +
      `disable-eviction=false:enable-index=false:stop-writes-count=0:stop-writes-size=0;`;
  }
  return out;
}

function sindexReady(cluster: EmulatedCluster, d: SIndexDefinition): number {
  const now = cluster.clock.now();
  if (now >= d.readyAtMs) return 100;
  const total = d.readyAtMs - d.createdAtMs;
  return Math.min(99, Math.floor(((now - d.createdAtMs) / total) * 100));
}

function sindexList(cluster: EmulatedCluster, p: Map<string, string>): string {
  const ns = p.get("namespace") ?? p.get("ns");
  return cluster.metadata.sindexes(ns).map((d) =>
    `ns=${d.namespace}:indexname=${d.name}:set=${d.set || "null"}:bin=${d.bin || "null"}:` +
    `type=${d.binType}:indextype=${d.indexType}:context=${d.context || "null"}:` +
    `exp=${d.expression || "null"}:state=${sindexReady(cluster, d) === 100 ? "RW" : "WO"}`
  ).join(";");
}

const BIN_TYPES: Record<string, string> = {
  NUMERIC: "numeric",
  INTEGER: "numeric",
  STRING: "string",
  BLOB: "blob",
  GEO2DSPHERE: "geo2dsphere",
};

const INDEX_TYPES: Record<string, string> = {
  DEFAULT: "default",
  LIST: "list",
  MAPKEYS: "mapkeys",
  MAPVALUES: "mapvalues",
};

function sindexCreate(cluster: EmulatedCluster, p: Map<string, string>): string {
  const nsName = p.get("namespace") ?? p.get("ns");
  if (nsName === undefined || cluster.namespace(nsName) === undefined) {
    return "ERROR:4:invalid namespace";
  }
  const name = p.get("indexname");
  if (name === undefined || name === "") return "ERROR:4:invalid indexname";
  if (new TextEncoder().encode(name).length > 63) return "ERROR:205:index name too long";
  let bin = p.get("bin") ?? "";
  let type = p.get("type") ?? "";
  const indexdata = p.get("indexdata");
  if (indexdata !== undefined) [bin, type] = indexdata.split(",");
  const expression = p.get("exp") ?? "";
  if ((bin === "") === (expression === "")) return "ERROR:4:exactly one of bin and exp needed";
  const binType = BIN_TYPES[(type ?? "").toUpperCase()];
  if (binType === undefined) return `ERROR:4:invalid type ${type}`;
  const indexType = INDEX_TYPES[(p.get("indextype") ?? "DEFAULT").toUpperCase()];
  if (indexType === undefined) return `ERROR:4:invalid indextype ${p.get("indextype")}`;
  const now = cluster.clock.now();
  const set = p.get("set") ?? "";
  const result = cluster.metadata.createSIndex({
    namespace: nsName,
    set,
    name,
    bin,
    binType,
    indexType,
    context: p.get("context") ?? "",
    expression,
    createdAtMs: now,
    readyAtMs: now + cluster.sindexBuildMs,
  });
  if (result === "conflict") return `ERROR:200:'${name}' already exists with different definition`;
  cluster.namespace(nsName)!.store.noteSet(set);
  return "ok";
}

function sindexStat(cluster: EmulatedCluster, ns: string, name: string): string {
  const d = cluster.metadata.sindex(ns, name);
  if (d === undefined) return `ERROR:201:no index with name '${name}'`;
  return `keys=0;entries=0;used_bytes=0;entries_per_bval=0;entries_per_rec=0;` +
    `load_pct=${sindexReady(cluster, d)};load_time=0;stat_gc_recs=0`;
}

function udfGet(cluster: EmulatedCluster, p: Map<string, string>): string {
  const file = p.get("filename");
  if (file === undefined || file === "") return "error=invalid_filename";
  const u = cluster.metadata.udf(file);
  if (u === undefined) return "error=not_found";
  return `type=LUA;content=${u.content64};`;
}

function udfPut(cluster: EmulatedCluster, p: Map<string, string>): string {
  const file = p.get("filename");
  if (file === undefined || file === "") return "error=invalid_filename";
  const dot = file.indexOf(".");
  if (dot <= 0 || dot === file.length - 1) return "error=invalid_filename";
  const lenText = p.get("content-len");
  const len = Number(lenText);
  if (lenText === undefined || !Number.isInteger(len) || len % 4 !== 0) {
    return "error=invalid_content_len";
  }
  const type = p.get("udf-type");
  if (type !== undefined && type !== "LUA") return "error=invalid_udf_type";
  const content = p.get("content");
  if (content === undefined || content.length !== len) return "error=invalid_content";
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content)) return "error=invalid_base64_content";
  cluster.metadata.putUdf(file, content);
  return "ok";
}

function racks(cluster: EmulatedCluster): string {
  return [...cluster.namespaces.keys()].map((ns) => {
    const byRack = new Map<number, string[]>();
    for (const n of cluster.members) {
      let list = byRack.get(n.rackId);
      if (list === undefined) byRack.set(n.rackId, list = []);
      list.push(n.name);
    }
    const parts = [...byRack.entries()].sort((a, b) => a[0] - b[0])
      .map(([id, names]) => `rack_${id}=${names.join(",")}`);
    return `ns=${ns}:${parts.join(":")}`;
  }).join(";");
}

function statistics(cluster: EmulatedCluster, node: NodeState): string {
  let objects = 0;
  for (const ns of cluster.namespaces.values()) objects += countOnNode(cluster, node, ns).objects;
  const view = cluster.viewOf(node);
  const principal = view.reduce((a, b) => (a.name > b.name ? a : b));
  const pairs: [string, string | number][] = [
    ["cluster_size", view.length],
    ["cluster_key", cluster.clusterKey],
    ["cluster_generation", cluster.clusterGeneration],
    ["cluster_principal", principal.name],
    ["cluster_integrity", "true"],
    ["cluster_is_member", "true"],
    ["uptime", Math.floor((cluster.clock.now() - cluster.startMs) / 1000)],
    // In the server's order (`statistics` in info-single-node.json).
    ["objects", objects],
    ["tombstones", 0],
    ["client_connections", node.clientConnections],
    ["client_connections_opened", node.clientConnectionsOpened],
    ["paxos_principal", principal.name],
    ["migrate_allowed", "true"],
    ["migrate_partitions_remaining", 0],
  ];
  return pairs.map(([k, v]) => `${k}=${v}`).join(";");
}

function getConfig(cluster: EmulatedCluster, node: NodeState, p: Map<string, string>): string {
  const context = p.get("context");
  if (context === "service") {
    const pairs: [string, string | number][] = [
      ["advertise-ipv6", "false"],
      ["batch-index-threads", cluster.batchIndexThreads],
      ["batch-max-buffers-per-queue", 255],
      ["batch-max-requests", 0],
      ["batch-max-unused-buffers", 256],
      ["cluster-name", cluster.clusterName],
      ["info-threads", 16],
      ["migrate-threads", 1],
      ["min-cluster-size", 1],
      ["node-id", node.name],
      ["proto-fd-max", 1024],
      ["query-threads-limit", 128],
      ["service-threads", 2],
      ["sindex-builder-threads", 4],
      ["transaction-max-ms", 1000],
    ];
    return pairs.map(([k, v]) => `${k}=${v}`).join(";");
  }
  if (context === "namespace") {
    const ns = cluster.namespace(p.get("namespace") ?? p.get("id") ?? "");
    if (ns === undefined) return "ERROR::namespace not found";
    return namespaceConfigPairs(ns, node).map(([k, v]) => `${k}=${v}`).join(";");
  }
  return "ERROR::invalid context";
}

function truncate(cluster: EmulatedCluster, p: Map<string, string>, withSet: boolean): string {
  const ns = cluster.namespace(p.get("namespace") ?? p.get("ns") ?? "");
  if (ns === undefined) return "ERROR::namespace not found";
  const set = p.get("set");
  if (withSet && (set === undefined || set === "")) return "ERROR::missing set";
  const now = cluster.clock.now();
  let lutMs = now;
  const lut = p.get("lut");
  if (lut !== undefined) {
    if (!/^\d+$/.test(lut)) return "ERROR::invalid lut";
    lutMs = Number(BigInt(lut) / 1_000_000n);
    if (lutMs > now) return "ERROR::lut is in the future";
  }
  ns.store.truncate(withSet ? set : undefined, lutMs);
  return "ok";
}

function clusterStable(cluster: EmulatedCluster, p: Map<string, string>): string {
  const size = p.get("size");
  if (size !== undefined && Number(size) !== cluster.members.length) {
    return "ERROR::cluster not specified size";
  }
  const ns = p.get("namespace");
  if (ns !== undefined && cluster.namespace(ns) === undefined) {
    return "ERROR::namespace not found";
  }
  return cluster.clusterKey;
}
