/**
 * Seed host lists: `host[:tls-name][:port][,…]`, IPv6 in brackets.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";

/** One host to connect to. */
export interface Host {
  /** Host name or IP address (IPv6 without brackets). */
  name: string;
  /** Service port. */
  port: number;
  /** Name the server certificate must carry (also sent as SNI), when TLS is used. */
  tlsName?: string;
}

const PORT_RE = /^[0-9]{1,5}$/;

/** Whether `text` is an IPv6 address: 8 groups, or fewer with one `::`. */
function isIpv6(text: string): boolean {
  const groups = text.split(":");
  const compressed = text.split("::").length - 1;
  if (compressed > 1 || (compressed === 0 && groups.length !== 8) || groups.length > 8) {
    return false;
  }
  return groups.every((g, i) =>
    /^[0-9A-Fa-f]{0,4}$/.test(g) ||
    (i === groups.length - 1 && /^\d{1,3}(\.\d{1,3}){3}$/.test(g))
  );
}

function invalidHost(entry: string, why: string): AerobakError {
  return new AerobakError("CONFIG_INVALID", `Invalid host "${entry}": ${why}`);
}

function parsePort(entry: string, text: string): number {
  const port = PORT_RE.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw invalidHost(entry, `port "${text}" is not a number in 1..65535`);
  }
  return port;
}

/**
 * Parses one seed entry such as `10.0.0.1`, `node-a:tls-a:4333`, `[::1]:3000` or
 * `[fe80::1]:tls-a:4333`. A single item after the host is a port when it is all digits,
 * otherwise a TLS name.
 *
 * @param entry The entry text (no commas).
 * @param defaultPort Port used when the entry has none.
 * @returns The host.
 * @throws {AerobakError} `CONFIG_INVALID` naming the entry when it cannot be parsed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHost } from "./host.ts";
 * assert.deepEqual(parseHost("[::1]:tls-a:4333", 3000), { name: "::1", port: 4333, tlsName: "tls-a" });
 * ```
 */
export function parseHost(entry: string, defaultPort: number): Host {
  const text = entry.trim();
  if (text === "") throw invalidHost(entry, "empty entry");
  let name: string;
  let rest: string[];
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw invalidHost(entry, "missing ']' after an IPv6 address");
    name = text.slice(1, close);
    const tail = text.slice(close + 1);
    if (tail !== "" && !tail.startsWith(":")) {
      throw invalidHost(entry, "expected ':' after ']'");
    }
    rest = tail === "" ? [] : tail.slice(1).split(":");
  } else {
    const parts = text.split(":");
    if (parts.length > 2 && isIpv6(text)) {
      // A bare IPv6 address: nothing can follow it without brackets.
      return { name: text, port: defaultPort };
    }
    name = parts[0];
    rest = parts.slice(1);
  }
  if (name === "") throw invalidHost(entry, "empty host name");
  if (rest.length > 2) throw invalidHost(entry, "expected host[:tls-name][:port]");
  const host: Host = { name, port: defaultPort };
  if (rest.length === 1) {
    if (rest[0] === "") throw invalidHost(entry, "empty item after ':'");
    if (PORT_RE.test(rest[0])) host.port = parsePort(entry, rest[0]);
    else host.tlsName = rest[0];
  } else if (rest.length === 2) {
    if (rest[0] === "") throw invalidHost(entry, "empty TLS name");
    host.tlsName = rest[0];
    host.port = parsePort(entry, rest[1]);
  }
  return host;
}

/**
 * Parses a comma-separated seed list `host[:tls-name][:port][,…]`.
 *
 * @param text The list, e.g. `"a:3000,[::1]:tls:4333"`.
 * @param defaultPort Port for entries without one.
 * @returns The hosts, in the order given, without duplicates.
 * @throws {AerobakError} `CONFIG_INVALID` naming the bad entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHosts } from "./host.ts";
 * assert.deepEqual(parseHosts("a,b:3100", 3000), [{ name: "a", port: 3000 }, { name: "b", port: 3100 }]);
 * ```
 */
export function parseHosts(text: string, defaultPort: number): Host[] {
  const hosts: Host[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(",")) {
    const host = parseHost(entry, defaultPort);
    const key = formatAddress(host.name, host.port);
    if (seen.has(key)) continue;
    seen.add(key);
    hosts.push(host);
  }
  return hosts;
}

/**
 * Formats `host:port`, with an IPv6 address in brackets.
 *
 * @param name Host name or address.
 * @param port Port.
 * @returns The address text used in messages and as a node's address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAddress } from "./host.ts";
 * assert.equal(formatAddress("::1", 3000), "[::1]:3000");
 * ```
 */
export function formatAddress(name: string, port: number): string {
  return name.includes(":") ? `[${name}]:${port}` : `${name}:${port}`;
}

/**
 * Tells whether a host name is a loopback address (`localhost`, `127.x.x.x`, `::1`).
 *
 * @param name Host name or address.
 * @returns True for loopback.
 */
export function isLoopback(name: string): boolean {
  return name === "localhost" || name === "::1" || name.startsWith("127.");
}
