/**
 * The info protocol (proto type 1): request/response framing and parsers for the
 * answers backup and restore use.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { AerobakError } from "../errors.ts";
import { PROTO_HEADER_SIZE, ProtoType, writeProtoHeader } from "./proto.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes an info request: each command followed by `\n`, sent as-is.
 *
 * @param commands Info commands, e.g. `["node", "build"]`.
 * @returns The whole message, proto header included.
 * @throws {TypeError} When a command contains a newline.
 */
export function encodeInfoRequest(commands: readonly string[]): Uint8Array {
  for (const c of commands) {
    if (c.includes("\n")) {
      throw new TypeError(`Cannot send info command "${c}": contains a newline`);
    }
  }
  return frameInfo(commands.map((c) => c + "\n").join(""));
}

/**
 * Encodes an info response as the server does: `<cmd>\t<value>\n` per command, in order
 * (used by the emulator).
 *
 * @param answers Command → value, in request order.
 * @returns The whole message, proto header included.
 */
export function encodeInfoResponse(answers: ReadonlyMap<string, string>): Uint8Array {
  let text = "";
  for (const [cmd, value] of answers) text += `${cmd}\t${value}\n`;
  return frameInfo(text);
}

function frameInfo(text: string): Uint8Array {
  const body = encoder.encode(text);
  const out = new Uint8Array(PROTO_HEADER_SIZE + body.length);
  writeProtoHeader(out, 0, ProtoType.INFO, body.length);
  out.set(body, PROTO_HEADER_SIZE);
  return out;
}

/**
 * Splits an info request body (what follows the proto header) into its commands.
 *
 * @param body The body bytes or text.
 * @returns The commands, in order (empty lines dropped).
 */
export function parseInfoRequest(body: Uint8Array | string): string[] {
  const text = typeof body === "string" ? body : decoder.decode(body);
  return text.split("\n").filter((c) => c !== "");
}

/**
 * Parses an info response body into command → value.
 *
 * @param body The body (what follows the proto header), bytes or text.
 * @returns The answers keyed by the echoed command. A line without a tab maps to `""`.
 */
export function parseInfoResponse(body: Uint8Array | string): Map<string, string> {
  const text = typeof body === "string" ? body : decoder.decode(body);
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const tab = line.indexOf("\t");
    if (tab < 0) out.set(line, "");
    else out.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return out;
}

/** An error reported inside an info value. */
export interface InfoError {
  /** Numeric code (1 when the server gave none or a non-numeric one). */
  code: number;
  /** The message text. */
  message: string;
}

/**
 * Recognises an error answer: `ERROR:<code>:<msg>`, `FAIL:<code>:<msg>`, or
 * `error=<msg>` (udf-put/udf-get).
 *
 * @param value An info value.
 * @returns The error, or `null` when the value is not an error.
 */
export function infoError(value: string): InfoError | null {
  const v = value.trimEnd();
  const m = /^(?:ERROR|FAIL)(?::(.*))?$/is.exec(v);
  if (m) {
    const rest = m[1] ?? "";
    const colon = rest.indexOf(":");
    const codeText = colon < 0 ? rest : rest.slice(0, colon);
    const n = Number(codeText);
    if (codeText !== "" && Number.isInteger(n)) {
      return { code: n === 0 ? 1 : n, message: colon < 0 ? "" : rest.slice(colon + 1) };
    }
    // Missing or non-numeric code: generic server error, keep all the text.
    return { code: 1, message: codeText === "" ? rest.slice(colon + 1) : rest };
  }
  if (v.startsWith("error=")) {
    const fields = parseKeyValues(v);
    let message = fields.get("error") ?? "";
    const b64 = fields.get("message");
    if (b64) {
      try {
        message += ": " + decoder.decode(Buffer.from(b64, "base64"));
      } catch {
        // A message that is not base64 is left out; the error code is what matters.
      }
    }
    return { code: 1, message };
  }
  return null;
}

/**
 * Parses `k=v;k=v` (split on the first `=` of each pair).
 *
 * @param value The info value.
 * @param separator Pair separator. @default ";"
 * @returns Key → value, in order.
 */
export function parseKeyValues(value: string, separator = ";"): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of value.trimEnd().split(separator)) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq < 0) out.set(pair, "");
    else out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/**
 * Parses a list of objects: `k=v:k=v;k=v:k=v` (`;` between objects, `:` between pairs).
 *
 * @param value The info value.
 * @param pairSeparator Separator between pairs of one object. @default ":"
 * @returns One map per object.
 */
export function parseObjectList(value: string, pairSeparator = ":"): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  for (const obj of value.trimEnd().split(";")) {
    if (obj === "") continue;
    out.push(parseKeyValues(obj, pairSeparator));
  }
  return out;
}

/** One namespace of a `replicas` answer. */
export interface ReplicaMap {
  /** SC regime (0 for AP namespaces). */
  regime: number;
  /** One 512-byte bitmap per replica index (0 = master). */
  replicas: Uint8Array[];
}

/**
 * Parses a `replicas` (or `replicas:max=1`) answer.
 *
 * @param value `ns:regime,n,b64,b64;ns2:...`
 * @returns Namespace → replica bitmaps.
 * @throws {AerobakError} `INFO_INVALID` when the answer is malformed.
 */
export function parseReplicas(value: string): Map<string, ReplicaMap> {
  const out = new Map<string, ReplicaMap>();
  for (const part of value.trimEnd().split(";")) {
    if (part === "") continue;
    const colon = part.indexOf(":");
    const items = part.slice(colon + 1).split(",");
    const regime = Number(items[0]);
    const count = Number(items[1]);
    if (
      colon <= 0 || !Number.isInteger(regime) || !Number.isInteger(count) ||
      items.length !== 2 + count
    ) {
      throw new AerobakError("INFO_INVALID", `Invalid replicas answer for "${part.slice(0, 40)}"`);
    }
    const replicas = items.slice(2).map((b64) => {
      const b = Buffer.from(b64, "base64");
      if (b.length !== 512) {
        throw new AerobakError(
          "INFO_INVALID",
          `Invalid replicas bitmap of ${b.length} bytes for namespace ${part.slice(0, colon)}`,
        );
      }
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    });
    out.set(part.slice(0, colon), { regime, replicas });
  }
  return out;
}

/**
 * Whether partition `pid` is set in a replicas bitmap (MSB first).
 *
 * @param bitmap 512-byte bitmap.
 * @param pid Partition id.
 * @returns `true` when the node holds the partition.
 */
export function hasPartition(bitmap: Uint8Array, pid: number): boolean {
  return (bitmap[pid >> 3] & (0x80 >> (pid & 7))) !== 0;
}

/** A host and port. */
export interface HostPort {
  /** Host name or IP (IPv6 without brackets). */
  host: string;
  /** Port. */
  port: number;
}

/** One peer of a `peers-*` answer. */
export interface PeerInfo {
  /** Node name. */
  nodeName: string;
  /** TLS name, `""` when none. */
  tlsName: string;
  /** Addresses. */
  hosts: HostPort[];
}

/** A parsed `peers-*` answer. */
export interface PeersAnswer {
  /** peers-generation. */
  generation: number;
  /** Port used for addresses without one. */
  defaultPort: number;
  /** The peers. */
  peers: PeerInfo[];
}

function parseHost(text: string, defaultPort: number): HostPort {
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    const host = text.slice(1, end);
    const rest = text.slice(end + 1);
    return { host, port: rest.startsWith(":") ? Number(rest.slice(1)) : defaultPort };
  }
  const colon = text.lastIndexOf(":");
  if (colon < 0 || text.indexOf(":") !== colon) return { host: text, port: defaultPort };
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

/**
 * Parses a `peers-clear-std` / `peers-tls-std` / `-alt` answer:
 * `<gen>,<port>,[[<name>,<tls-name>,[<addr>[:<port>],...]],...]`.
 *
 * @param value The info value.
 * @returns Generation, default port and peers.
 * @throws {AerobakError} `INFO_INVALID` when malformed.
 */
export function parsePeers(value: string): PeersAnswer {
  const v = value.trim();
  const m = /^(\d+),(\d*),\[(.*)\]$/s.exec(v);
  if (!m) throw new AerobakError("INFO_INVALID", `Invalid peers answer "${v.slice(0, 80)}"`);
  const defaultPort = m[2] === "" ? 3000 : Number(m[2]);
  const peers: PeerInfo[] = [];
  const re = /\[([^,\[\]]*),([^,\[\]]*),\[((?:[^\[\]]|\[[^\]]*\])*)\]\]/g;
  for (const p of m[3].matchAll(re)) {
    const hosts = p[3] === "" ? [] : splitHosts(p[3]).map((h) => parseHost(h, defaultPort));
    peers.push({ nodeName: p[1], tlsName: p[2], hosts });
  }
  return { generation: Number(m[1]), defaultPort, peers };
}

function splitHosts(text: string): string[] {
  // Commas separate hosts; IPv6 addresses are bracketed so they hold no commas.
  return text.split(",").filter((h) => h !== "");
}

/**
 * Parses a `services`/`service-clear-std` answer (`host:port` separated by `;` or `,`).
 *
 * @param value The info value.
 * @param defaultPort Port for hosts without one. @default 3000
 * @returns The hosts.
 */
export function parseServices(value: string, defaultPort = 3000): HostPort[] {
  return value.trim().split(/[;,]/).filter((h) => h !== "").map((h) => parseHost(h, defaultPort));
}

/** One set of a `sets` answer. */
export interface SetInfo {
  /** Namespace. */
  namespace: string;
  /** Set name. */
  set: string;
  /** Object count on this node (master + replicas). */
  objects: number;
  /** Tombstones on this node. */
  tombstones: number;
  /** Every key/value of the entry. */
  fields: Map<string, string>;
}

/**
 * Parses a `sets` / `sets/<ns>` answer (modern and old key names).
 *
 * @param value The info value.
 * @returns The sets.
 */
export function parseSets(value: string): SetInfo[] {
  return parseObjectList(value).map((f) => ({
    namespace: f.get("ns") ?? f.get("ns_name") ?? "",
    set: f.get("set") ?? f.get("set_name") ?? "",
    objects: Number(f.get("objects") ?? f.get("n_objects") ?? 0),
    tombstones: Number(f.get("tombstones") ?? 0),
    fields: f,
  }));
}

/** A secondary index definition. */
export interface SIndexInfo {
  /** Namespace. */
  namespace: string;
  /** Set, `""` for none. */
  set: string;
  /** Index name. */
  name: string;
  /** What is indexed within the bin. */
  indexType: "default" | "list" | "mapkeys" | "mapvalues";
  /** Bin, `""` for an expression index. */
  bin: string;
  /** Value type. */
  binType: "numeric" | "string" | "blob" | "geo2dsphere";
  /** CDT context, base64 of msgpack. */
  context?: string;
  /** Expression of an expression index, base64. */
  expression?: string;
  /** Server state (`RW`, `WO`, `ERROR`). */
  state?: string;
}

/** A registered UDF module. */
export interface UdfInfo {
  /** File name. */
  name: string;
  /** SHA-1 hex of the content. */
  hash: string;
  /** Language. */
  type: "LUA";
}

function nullable(v: string | undefined): string {
  return v === undefined || v.toLowerCase() === "null" ? "" : v;
}

const BIN_TYPES: Record<string, SIndexInfo["binType"]> = {
  numeric: "numeric",
  integer: "numeric",
  "int signed": "numeric",
  string: "string",
  text: "string",
  blob: "blob",
  geo2dsphere: "geo2dsphere",
  geojson: "geo2dsphere",
};

const INDEX_TYPES: Record<string, SIndexInfo["indexType"]> = {
  default: "default",
  none: "default",
  list: "list",
  mapkeys: "mapkeys",
  mapvalues: "mapvalues",
};

/**
 * Parses a `sindex-list` answer. Set-index entries (`indextype=set`) are skipped.
 *
 * @param value The info value.
 * @returns The index definitions.
 * @throws {AerobakError} `INFO_INVALID` for an unknown index or bin type.
 */
export function parseSindexList(value: string): SIndexInfo[] {
  const out: SIndexInfo[] = [];
  for (const f of parseObjectList(value)) {
    const it = (f.get("indextype") ?? "default").toLowerCase();
    if (it === "set") continue;
    const indexType = INDEX_TYPES[it];
    const binType = BIN_TYPES[(f.get("type") ?? "").toLowerCase()];
    const name = f.get("indexname") ?? "";
    if (indexType === undefined || binType === undefined) {
      throw new AerobakError(
        "INFO_INVALID",
        `Invalid sindex "${name}": unknown index type "${it}" or bin type "${f.get("type")}"`,
      );
    }
    const s: SIndexInfo = {
      namespace: f.get("ns") ?? f.get("namespace") ?? "",
      set: nullable(f.get("set")),
      name,
      indexType,
      bin: nullable(f.get("bin")),
      binType,
    };
    const ctx = nullable(f.get("context"));
    if (ctx !== "") s.context = ctx;
    const exp = nullable(f.get("exp"));
    if (exp !== "") s.expression = exp;
    const state = f.get("state");
    if (state !== undefined) s.state = state;
    out.push(s);
  }
  return out;
}

/**
 * Builds the `sindex-create` command for a server version (2.3 of the wire spec).
 *
 * @param s The index.
 * @param version Server version triple (`parseBuild`).
 * @returns The info command.
 */
export function sindexCreateCommand(s: SIndexInfo, version: readonly number[]): string {
  const modern = compareVersion(version, [8, 1, 0]) >= 0;
  let type = s.binType.toUpperCase();
  if (type === "NUMERIC" && compareVersion(version, [8, 1, 3]) >= 0) type = "INTEGER";
  let cmd = `sindex-create:${modern ? "namespace" : "ns"}=${s.namespace}`;
  if (s.set !== "") cmd += `;set=${s.set}`;
  cmd += `;indexname=${s.name}`;
  if (s.context) cmd += `;context=${s.context}`;
  if (s.expression) cmd += `;exp=${s.expression}`;
  if (s.indexType !== "default") cmd += `;indextype=${s.indexType.toUpperCase()}`;
  if (s.expression) cmd += `;type=${type}`;
  else if (modern) cmd += `;bin=${s.bin};type=${type}`;
  else cmd += `;indexdata=${s.bin},${type}`;
  return cmd;
}

/**
 * Parses a `udf-list` answer (`filename=f,hash=h,type=LUA;...`).
 *
 * @param value The info value.
 * @returns The modules.
 */
export function parseUdfList(value: string): UdfInfo[] {
  return parseObjectList(value, ",").map((f) => ({
    name: f.get("filename") ?? "",
    hash: f.get("hash") ?? "",
    type: "LUA" as const,
  })).filter((u) => u.name !== "");
}

/**
 * Parses a `udf-get` answer (`type=LUA;content=<b64>;`).
 *
 * @param value The info value.
 * @returns The module source.
 * @throws {AerobakError} `INFO_ERROR` for `error=...` answers, `INFO_INVALID` when there
 * is no content.
 */
export function parseUdfGet(value: string): { type: string; content: Uint8Array } {
  const err = infoError(value);
  if (err) throw new AerobakError("INFO_ERROR", `Cannot get UDF: ${err.message}`);
  const f = parseKeyValues(value);
  const b64 = f.get("content");
  if (b64 === undefined) {
    throw new AerobakError("INFO_INVALID", "Invalid udf-get answer: no content");
  }
  const b = Buffer.from(b64, "base64");
  return {
    type: f.get("type") ?? "LUA",
    content: new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  };
}

/**
 * Builds the `udf-put` command for a module.
 *
 * @param name File name.
 * @param content Module source.
 * @returns The info command.
 */
export function udfPutCommand(name: string, content: Uint8Array): string {
  const b64 = Buffer.from(content).toString("base64");
  return `udf-put:filename=${name};content=${b64};content-len=${b64.length};udf-type=LUA;`;
}

/** What backup/restore read from a `namespace/<ns>` answer. */
export interface NamespaceStats {
  /** Objects on the node (master + replicas). */
  objects: number;
  /** Effective replication factor (throws when missing: both tools fail then). */
  effectiveReplicationFactor: number;
  /** Outgoing migrations left. */
  migrateTxPartitionsRemaining: number;
  /** Incoming migrations left. */
  migrateRxPartitionsRemaining: number;
  /** Every key/value. */
  fields: Map<string, string>;
}

/**
 * Parses a `namespace/<ns>` answer.
 *
 * @param value The info value.
 * @returns The statistics.
 * @throws {AerobakError} `INFO_INVALID` when `effective_replication_factor` is missing
 * (also the case for an unknown namespace, answered `type=unknown`).
 */
export function parseNamespaceStats(value: string): NamespaceStats {
  const f = parseKeyValues(value);
  const rf = f.get("effective_replication_factor");
  if (rf === undefined) {
    throw new AerobakError(
      "INFO_INVALID",
      "Invalid namespace answer: no effective_replication_factor (unknown namespace?)",
    );
  }
  return {
    objects: Number(f.get("objects") ?? 0),
    effectiveReplicationFactor: Number(rf),
    migrateTxPartitionsRemaining: Number(f.get("migrate_tx_partitions_remaining") ?? 0),
    migrateRxPartitionsRemaining: Number(f.get("migrate_rx_partitions_remaining") ?? 0),
    fields: f,
  };
}

/**
 * Parses a `racks:` answer: `ns=<ns>:rack_<id>=<node>,<node>:...;ns=...`.
 *
 * @param value The info value.
 * @returns Namespace → rack id → node names.
 */
export function parseRacks(value: string): Map<string, Map<number, string[]>> {
  const out = new Map<string, Map<number, string[]>>();
  for (const f of parseObjectList(value)) {
    const racks = new Map<number, string[]>();
    for (const [k, v] of f) {
      const m = /^rack_(\d+)$/i.exec(k);
      if (m) racks.set(Number(m[1]), v.split(",").filter((n) => n !== ""));
    }
    out.set(f.get("ns") ?? "", racks);
  }
  return out;
}

/**
 * Parses a `build` answer into a version triple.
 *
 * @param value E.g. `8.1.2.0`.
 * @param from Who answered, for the message (`node BB9… at 10.0.0.1:3000`).
 * @returns `[major, minor, patch]`.
 * @throws {AerobakError} `INFO_INVALID` when the value is not a version.
 */
export function parseBuild(value: string, from?: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(value.trim());
  if (!m) {
    const who = from === undefined ? "" : ` from ${from}`;
    throw new AerobakError("INFO_INVALID", `Invalid build answer "${value.trim()}"${who}`);
  }
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Compares two version triples.
 *
 * @param a First version.
 * @param b Second version.
 * @returns Negative, 0 or positive like a sort comparator.
 */
export function compareVersion(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
