/**
 * Cluster-wide metadata (the server's "SMD"): secondary indexes and UDF modules. Every node
 * of the emulated cluster sees the same registry, as every node of a real cluster does.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A secondary index definition as `sindex-create` gives it. */
export interface SIndexDefinition {
  /** Namespace. */
  namespace: string;
  /** Set, `""` for none. */
  set: string;
  /** Index name. */
  name: string;
  /** Bin name, `""` for an expression index. */
  bin: string;
  /** `numeric`, `string`, `blob` or `geo2dsphere` (lower case, as `sindex-list` shows). */
  binType: string;
  /** `default`, `list`, `mapkeys` or `mapvalues` (lower case). */
  indexType: string;
  /** Base64 CDT context, `""` for none. */
  context: string;
  /** Base64 expression (expression indexes), `""` for none. */
  expression: string;
  /** Clock time (ms) when the index finishes building. */
  readyAtMs: number;
  /** Clock time (ms) when it was created. */
  createdAtMs: number;
}

/** A registered UDF module. */
export interface UdfModule {
  /** File name, e.g. `sample.lua`. */
  name: string;
  /** The base64 text exactly as `udf-put` sent it. */
  content64: string;
  /** Hex SHA-1 the server lists in `udf-list`. */
  hash: string;
}

/** The cluster's secondary indexes and UDF modules. */
export class ClusterMetadata {
  readonly #sindexes = new Map<string, SIndexDefinition>();
  readonly #udfs = new Map<string, UdfModule>();

  /**
   * Creates an index, or accepts an identical one again.
   *
   * @param def The definition.
   * @returns `"created"`, `"exists"` (same definition) or `"conflict"` (same name,
   * different definition).
   */
  createSIndex(def: SIndexDefinition): "created" | "exists" | "conflict" {
    const key = `${def.namespace}\u0000${def.name}`;
    const old = this.#sindexes.get(key);
    if (old === undefined) {
      this.#sindexes.set(key, def);
      return "created";
    }
    const same = old.set === def.set && old.bin === def.bin && old.binType === def.binType &&
      old.indexType === def.indexType && old.context === def.context &&
      old.expression === def.expression;
    return same ? "exists" : "conflict";
  }

  /**
   * Drops an index.
   *
   * @param namespace Namespace.
   * @param name Index name.
   * @returns Whether it existed.
   */
  deleteSIndex(namespace: string, name: string): boolean {
    return this.#sindexes.delete(`${namespace}\u0000${name}`);
  }

  /**
   * Finds an index.
   *
   * @param namespace Namespace.
   * @param name Index name.
   * @returns The definition or `undefined`.
   */
  sindex(namespace: string, name: string): SIndexDefinition | undefined {
    return this.#sindexes.get(`${namespace}\u0000${name}`);
  }

  /**
   * The indexes, in creation order.
   *
   * @param namespace Only this namespace, or all when `undefined`.
   * @returns Index definitions.
   */
  sindexes(namespace?: string): SIndexDefinition[] {
    const all = [...this.#sindexes.values()];
    return namespace === undefined ? all : all.filter((d) => d.namespace === namespace);
  }

  /**
   * Registers (or replaces) a UDF module.
   *
   * @param name File name.
   * @param content64 Base64 of the module source, as sent.
   * @returns The module.
   */
  putUdf(name: string, content64: string): UdfModule {
    // The server lists the SHA-1 of the JSON object it stores in its metadata, which
    // jansson prints with ", " and ": " separators.
    const json = `{"content64": ${JSON.stringify(content64)}, "type": "LUA", "name": ${
      JSON.stringify(name)
    }}`;
    const hash = createHash("sha1").update(json).digest("hex");
    const mod = { name, content64, hash };
    this.#udfs.delete(name);
    this.#udfs.set(name, mod);
    return mod;
  }

  /**
   * Removes a UDF module.
   *
   * @param name File name.
   * @returns Whether it existed.
   */
  removeUdf(name: string): boolean {
    return this.#udfs.delete(name);
  }

  /**
   * Finds a UDF module.
   *
   * @param name File name.
   * @returns The module or `undefined`.
   */
  udf(name: string): UdfModule | undefined {
    return this.#udfs.get(name);
  }

  /**
   * The UDF modules in registration order.
   *
   * @returns Modules.
   */
  udfs(): UdfModule[] {
    return [...this.#udfs.values()];
  }
}
