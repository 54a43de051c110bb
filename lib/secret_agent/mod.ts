/**
 * Secret Agent client: resolves `secrets:<resource>:<key>` option values over TCP, TLS or a
 * Unix socket (the protocol of Aerospike's Secret Agent).
 *
 * The test agent (`test_server.ts`) and test certificates (`test_tls.ts`) are for tests
 * and are not re-exported here.
 *
 * @module
 */

export * from "./client.ts";
export * from "./protocol.ts";
export * from "./resolve.ts";
