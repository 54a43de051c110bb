/**
 * Test helper: the node, records and write policy the client tests run against the fake
 * server of `_test_server.ts`.
 *
 * @module
 */

import { computeDigest, keyFromJs } from "./digest.ts";
import { Node } from "./node.ts";
import { intBin } from "./particle.ts";
import { type ResolvedWritePolicy, resolveWritePolicy } from "./policy.ts";
import type { AerospikeRecord } from "./record.ts";

/**
 * A node `N1` on loopback that needs no login.
 *
 * @param port The fake server's port.
 * @param maxConnections Size of its pool.
 * @returns The node.
 */
export function testNode(port: number, maxConnections = 2): Node {
  return new Node({
    name: "N1",
    host: { name: "127.0.0.1", port },
    build: "8.1.2.0",
    maxConnections,
    idleTimeoutMs: 0,
    connector: { connectTimeoutMs: 2000, authenticate: () => Promise.resolve() },
  });
}

/**
 * Record `i` of set `s` in namespace `test`: integer key `i`, generation 7, bin `a` = `i`.
 *
 * @param i The key and bin value.
 * @returns The record.
 */
export function testRecord(i: number): AerospikeRecord {
  const key = keyFromJs(i);
  return {
    namespace: "test",
    set: "s",
    key,
    digest: computeDigest("s", key),
    generation: 7,
    voidTime: 0,
    bins: [intBin("a", i)],
  };
}

/** A write policy with a generation check and 2 s limits. */
export const TEST_WRITE_POLICY: ResolvedWritePolicy = resolveWritePolicy({
  generationPolicy: "expectGenGreater",
  totalTimeoutMs: 2000,
  socketTimeoutMs: 2000,
});
