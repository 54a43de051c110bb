/**
 * Configuration of an XDR backup (backup-go `ConfigBackupXDR`), resolved once into a new
 * frozen object with every default filled and every rule of backup-go-design.md §11.1
 * checked.
 *
 * @module
 */

import { invalidConfig, requireInteger, requireNumber } from "../_config_check.ts";
import { resolveCompression, resolveEncryption, resolveSecretAgent } from "../_config_io.ts";
import type { CompressionPolicy } from "../io/compression.ts";
import type { EncryptionPolicy } from "../io/encryption.ts";
import type { SecretAgentConfig } from "../secret_agent/client.ts";
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy, type RetryPolicy } from "../policy.ts";
import { checkDcName } from "./commands.ts";

/** Largest number of parallel writers. */
export const MAX_XDR_PARALLEL_WRITE = 1024;

/** TLS of the receiver: the certificate the source nodes see. */
export interface XdrTlsConfig {
  /** Certificate chain, PEM file. */
  certFile: string;
  /** Private key, PEM file. */
  keyFile: string;
  /**
   * The TLS name the source nodes connect with: the DC's `tls-name` (a `tls` context of the
   * nodes' aerospike.conf whose CA trusts the certificate) and the name they check the
   * certificate against (it must be in its subject or SAN). Without it the DC is not told
   * about TLS (as backup-go does), so nodes that are not set up otherwise connect in clear.
   * @default ""
   */
  name?: string;
}

/** A resolved XDR backup configuration. */
export interface BackupXdrConfig {
  /** Namespace to back up. */
  namespace: string;
  /** Name of the DC created on the source nodes. @default "dc1" */
  dc: string;
  /** Address the source nodes dial to reach this process. @default "127.0.0.1" */
  localAddress: string;
  /** Port of the receiver; 0 picks a free one. @default 8080 */
  localPort: number;
  /** Interface the receiver listens on. @default "0.0.0.0" */
  listenAddress: string;
  /** `"all"` or a positive number of seconds of history to ship first. @default "all" */
  rewind: string;
  /** Records per second per node, a multiple of 100; 0 = unlimited. @default 0 */
  maxThroughput: number;
  /** Ship writes that themselves came through XDR. @default false */
  forward: boolean;
  /** Files written at once (records are split among them by partition). @default number of CPUs */
  parallelWrite: number;
  /** Roll over to a new file at this many bytes on disk; 0 = never. @default 0 */
  fileLimit: number;
  /** Compression of the files. @default {mode: "NONE"} */
  compression: Readonly<CompressionPolicy>;
  /** Encryption of the files. @default {mode: "NONE"} */
  encryption: Readonly<EncryptionPolicy>;
  /** Secret Agent for a `keySecret`. @default none */
  secretAgent?: Readonly<SecretAgentConfig>;
  /** TLS of the receiver. @default plain TCP */
  tls?: Readonly<XdrTlsConfig>;
  /** Idle limit of a source connection, ms. @default 1000 */
  readTimeoutMs: number;
  /** Limit of one ack write, ms. @default 1000 */
  writeTimeoutMs: number;
  /**
   * Messages one connection hands to the writers in a run, before their acks go out and
   * the writers flush (there is no queue between the receiver and the writers). @default 256
   */
  resultQueueSize: number;
  /** Unsent acks per connection before it stops reading. @default 256 */
  ackQueueSize: number;
  /** Source connections served at once. @default 4096 */
  maxConnections: number;
  /** Period of the stats and node polls, ms. @default 1000 */
  infoPollingPeriodMs: number;
  /** The backup fails when no message arrived this long after the start, ms. @default 30000 */
  startTimeoutMs: number;
  /**
   * Retries of the XDR stats polls: attempts, base delay and multiplier (the time limit of
   * each info command is the cluster's `ClientPolicy.infoTimeoutMs`).
   * @default {{ baseTimeoutMs: 1000, multiplier: 2, maxRetries: 3 }}
   */
  infoRetryPolicy: Readonly<RetryPolicy>;
}

/** What {@linkcode resolveBackupXdrConfig} accepts: the namespace and any other field. */
export type BackupXdrConfigInput = Partial<BackupXdrConfig> & { namespace: string };

/**
 * Fills the defaults of an XDR backup configuration and checks it.
 *
 * @param input The caller's settings (left untouched).
 * @returns A new frozen configuration.
 * @throws {AerobakError} `CONFIG_INVALID` naming the field and value: empty namespace, DC
 *   name not matching `^[a-zA-Z0-9_\-$]+$` or longer than 31, rewind not `all` or a
 *   positive integer, throughput not a multiple of 100, port outside 0..65535, counts and
 *   times out of range, bad compression or encryption.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveBackupXdrConfig } from "./config.ts";
 * const c = resolveBackupXdrConfig({ namespace: "test", dc: "backup", localPort: 3010 });
 * assert.equal(c.rewind, "all");
 * assert.equal(c.startTimeoutMs, 30000);
 * ```
 */
export function resolveBackupXdrConfig(input: BackupXdrConfigInput): Readonly<BackupXdrConfig> {
  const secretAgent = resolveSecretAgent(input.secretAgent);
  const c: BackupXdrConfig = {
    namespace: input.namespace,
    dc: input.dc ?? "dc1",
    localAddress: input.localAddress ?? "127.0.0.1",
    localPort: input.localPort ?? 8080,
    listenAddress: input.listenAddress ?? "0.0.0.0",
    rewind: input.rewind ?? "all",
    maxThroughput: input.maxThroughput ?? 0,
    forward: input.forward ?? false,
    parallelWrite: input.parallelWrite ?? Math.max(1, navigator.hardwareConcurrency ?? 1),
    fileLimit: input.fileLimit ?? 0,
    compression: resolveCompression(input.compression),
    encryption: resolveEncryption(input.encryption, secretAgent),
    readTimeoutMs: input.readTimeoutMs ?? 1000,
    writeTimeoutMs: input.writeTimeoutMs ?? 1000,
    resultQueueSize: input.resultQueueSize ?? 256,
    ackQueueSize: input.ackQueueSize ?? 256,
    maxConnections: input.maxConnections ?? 4096,
    infoPollingPeriodMs: input.infoPollingPeriodMs ?? 1000,
    startTimeoutMs: input.startTimeoutMs ?? 30000,
    infoRetryPolicy: resolveRetryPolicy(
      "infoRetryPolicy",
      input.infoRetryPolicy,
      DEFAULT_RETRY_POLICY,
    ),
  };
  if (secretAgent !== undefined) c.secretAgent = secretAgent;
  if (input.tls !== undefined) {
    if (!input.tls.certFile || !input.tls.keyFile) {
      throw invalidConfig("tls", JSON.stringify(input.tls), "both certFile and keyFile");
    }
    const name = input.tls.name ?? "";
    // The name goes into info commands and after the port of `node-address-port`.
    if (typeof name !== "string" || (name !== "" && !/^[^;:,=\s]+$/.test(name))) {
      throw invalidConfig("tls.name", name, "a TLS name without ; : , = or spaces");
    }
    c.tls = Object.freeze({ certFile: input.tls.certFile, keyFile: input.tls.keyFile, name });
  }
  if (typeof c.namespace !== "string" || c.namespace === "") {
    throw invalidConfig("namespace", c.namespace, "a namespace name");
  }
  try {
    checkDcName(c.dc);
  } catch {
    throw invalidConfig("dc", c.dc, "1 to 31 of a-z A-Z 0-9 _ - $");
  }
  if (c.rewind !== "all" && !(/^\d+$/.test(c.rewind) && Number(c.rewind) > 0)) {
    throw invalidConfig("rewind", c.rewind, '"all" or a positive number of seconds');
  }
  requireInteger("maxThroughput", c.maxThroughput, 0);
  if (c.maxThroughput % 100 !== 0) {
    throw invalidConfig("maxThroughput", c.maxThroughput, "a multiple of 100");
  }
  // The address goes into an info command: `;` or spaces there would change the command.
  if (typeof c.localAddress !== "string" || !/^[^;\s]+$/.test(c.localAddress)) {
    throw invalidConfig("localAddress", c.localAddress, "a host name or address");
  }
  requireInteger("localPort", c.localPort, 0, 65535);
  if (typeof c.forward !== "boolean") throw invalidConfig("forward", c.forward, "true or false");
  requireInteger("parallelWrite", c.parallelWrite, 1, MAX_XDR_PARALLEL_WRITE);
  requireInteger("fileLimit", c.fileLimit, 0);
  requireNumber("readTimeoutMs", c.readTimeoutMs, 1);
  requireNumber("writeTimeoutMs", c.writeTimeoutMs, 1);
  requireInteger("resultQueueSize", c.resultQueueSize, 1);
  requireInteger("ackQueueSize", c.ackQueueSize, 1);
  requireInteger("maxConnections", c.maxConnections, 1);
  requireNumber("infoPollingPeriodMs", c.infoPollingPeriodMs, 1);
  requireNumber("startTimeoutMs", c.startTimeoutMs, 1);
  return Object.freeze(c);
}
