/**
 * The YAML configuration file of `--config` (cli-flags.md §4): the only source of settings
 * when given, keys are the long flag names grouped in sections, unknown keys are errors
 * (yaml.v3 `KnownFields(true)`), keys left out take the flags' defaults.
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import {
  defaultFlags,
  FlagError,
  type FlagSpec,
  type FlagValue,
  type ParsedFlags,
} from "./_flags.ts";

/**
 * Reads a configuration file's text into flag values.
 *
 * @param text The YAML text.
 * @param specs The flags of the CLI (their `yaml` keys say where each lives).
 * @param file The file name, for messages.
 * @returns Every flag's value; `given` holds the flags the file set.
 * @throws {FlagError} naming the file, line and key for a syntax error, an unknown key or a
 * value of the wrong type.
 */
export function parseConfigFile(
  text: string,
  specs: readonly FlagSpec[],
  file: string,
): ParsedFlags {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    throw new FlagError(`Invalid config file ${file}:${pos.line}: ${e.message.split("\n")[0]}`);
  }
  const parsed: ParsedFlags = { ...defaultFlags(specs), fromConfigFile: true };
  const byKey = new Map(specs.filter((s) => s.yaml).map((s) => [s.yaml!, s]));
  const sections = new Set<string>();
  for (const key of byKey.keys()) {
    const parts = key.split(".");
    for (let i = 1; i < parts.length; i++) sections.add(parts.slice(0, i).join("."));
  }
  sections.add("cluster");
  const where = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`;
  };
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new FlagError(`Invalid config file ${where(node)}: ${message}`);
  };

  const walk = (node: Node, path: string) => {
    if (!isMap(node)) fail(node, `${path || "the document"} must be a mapping`);
    const map = node as import("yaml").YAMLMap;
    for (const pair of map.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : "";
      const full = path ? `${path}.${key}` : key;
      const value = pair.value as Node | null;
      if (full === "cluster.seeds") {
        parsed.values.set("host", seedsToHost(value, fail));
        parsed.given.add("host");
        continue;
      }
      const spec = byKey.get(full);
      if (spec) {
        parsed.values.set(spec.long, convert(spec, value, full, fail));
        parsed.given.add(spec.long);
        continue;
      }
      if (sections.has(full)) {
        if (value === null || (isScalar(value) && value.value === null)) continue;
        walk(value, full);
        continue;
      }
      fail(keyNode, `unknown key "${full}"`);
    }
  };
  if (doc.contents !== null && !(isScalar(doc.contents) && doc.contents.value === null)) {
    walk(doc.contents as Node, "");
  }
  return parsed;
}

type Fail = (node: Node | null | undefined, message: string) => never;

function convert(spec: FlagSpec, node: Node | null, key: string, fail: Fail): FlagValue {
  if (spec.yamlList) {
    if (node === null || (isScalar(node) && node.value === null)) return "";
    if (!isSeq(node)) return fail(node, `${key} must be a list`);
    return node.items.map((item) => {
      if (!isScalar(item) || item.value === null || typeof item.value === "object") {
        return fail(item as Node, `${key} entries must be scalars`);
      }
      return String(item.value);
    }).join(",");
  }
  if (!isScalar(node)) return fail(node, `${key} must be a scalar value`);
  const v = node.value;
  switch (spec.type) {
    case "bool":
      if (typeof v !== "boolean") return fail(node, `${key} must be true or false, not ${show(v)}`);
      return v;
    case "string":
      if (v === null) return "";
      if (typeof v === "object") return fail(node, `${key} must be a string`);
      return String(v);
    case "int":
    case "uint":
      if (typeof v !== "number" || !Number.isSafeInteger(v) || (spec.type === "uint" && v < 0)) {
        const what = spec.type === "int" ? "an integer" : "a non-negative integer";
        return fail(node, `${key} must be ${what}, not ${show(v)}`);
      }
      return v;
    case "float":
      if (typeof v !== "number" || !Number.isFinite(v)) {
        return fail(node, `${key} must be a number, not ${show(v)}`);
      }
      return v;
  }
}

function seedsToHost(node: Node | null, fail: Fail): string {
  if (!isSeq(node)) return fail(node, "cluster.seeds must be a list of {host, tls-name, port}");
  const hosts: string[] = [];
  for (const item of node.items) {
    if (!isMap(item)) {
      return fail(item as Node, "cluster.seeds entries must be {host, tls-name, port}");
    }
    let host = "";
    let tlsName = "";
    let port = 0;
    for (const pair of item.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : "";
      const v = pair.value as Node | null;
      const value = isScalar(v) ? v.value : undefined;
      if (k === "host" && typeof value === "string") host = value;
      else if (k === "tls-name" && (typeof value === "string" || value === null)) {
        tlsName = value ?? "";
      } else if (k === "port" && typeof value === "number" && Number.isInteger(value)) port = value;
      else return fail(pair.key as Node, `unknown or malformed key "cluster.seeds.${k}"`);
    }
    if (host === "") return fail(item, "cluster.seeds entry needs a host");
    // IPv6 addresses are bracketed so the port separator stays unambiguous.
    let text = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    if (tlsName !== "") text += `:${tlsName}`;
    if (port !== 0) text += `:${port}`;
    hosts.push(text);
  }
  return hosts.join(",");
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}
