/**
 * `asbackup xdr`: backs up a namespace through XDR into ASBX files (backup-go's XDR
 * subcommand flags, cli-flags.md §1 "XDR subcommand flags"; backup-go-design.md §11).
 * `--stop-xdr` and `--unblock-mrt` only run the recovery actions of a crashed run.
 *
 * Like backup-go's CLI (aerospike-backup-cli `internal/backup/backup.go` `Run`), the run
 * also backs up the namespace's UDFs and secondary indexes with a no-records scan backup
 * into the same directory (`metadata_<ns>_1.asb`), started once the XDR receiver listens,
 * and reports the sum of both. Unlike backup-go, whose companion backup is a default config
 * (no compression, no encryption), the metadata file gets the XDR files' compression and
 * encryption: a restore applies one setting to every file of a directory, so backup-go's
 * own `asrestore --mode auto` cannot restore its encrypted XDR backups.
 *
 * `--xdr-tls-certfile`/`--xdr-tls-keyfile`/`--xdr-tls-name` (aerobak's own; backup-go's CLI
 * has no TLS for the receiver) make the receiver a TLS server and tell the DC its TLS name.
 *
 * @module
 */

import { Cluster } from "../lib/aerospike/cluster.ts";
import { type BackupConfig, resolveBackupConfig } from "../lib/backup/config.ts";
import type { BackupStats } from "../lib/backup/stats.ts";
import { BackupClient } from "../lib/client.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";
import { ManifestBuilder, writeManifest, xdrManifestSettings } from "../lib/backup/manifest.ts";
import type { AerobakError } from "../lib/errors.ts";
import { stopXdrAll, unblockMrtAll } from "../lib/xdr/commands.ts";
import { type BackupXdrConfig, resolveBackupXdrConfig } from "../lib/xdr/config.ts";
import { type CliContext, type CliIo, EXIT_OK, fail, startCli } from "./_cli.ts";
import {
  CLIENT_FLAGS,
  compressionFlags,
  encryptionFlags,
  GENERAL_FLAGS,
  SECRET_AGENT_FLAGS,
} from "./_common_flags.ts";
import {
  bool,
  clientPolicyFromFlags,
  compressionFromFlags,
  encryptionFromFlags,
  num,
  str,
} from "./_common_options.ts";
import { FlagError, type FlagSpec, type ParsedFlags } from "./_flags.ts";
import { infoPoliciesFromFlags, jobFlag, transferFlags } from "./_job_flags.ts";
import { MIB } from "./_backup_options.ts";
import { waitWithProgress } from "./_progress.ts";
import { reportBackup, sumStats, type TextSink } from "./_report.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";

const DESCRIPTION = "asbackup xdr backs up an Aerospike namespace through XDR into ASBX " +
  "backup files (compatible with backup-go's XDR backup).";

const flag = jobFlag("backup");

/** The XDR flags proper (backup-go's `internal/flags/backup_xdr.go`). */
const XDR_GROUP: readonly FlagSpec[] = [
  flag("namespace", "n", "string", "", "The namespace to be backed up. Required."),
  flag("directory", "d", "string", "", "The directory that holds the backup files. Required."),
  flag("remove-files", "r", "bool", false, "Remove existing backup file (-o) or files (-d)."),
  flag(
    "file-limit",
    "F",
    "uint",
    250,
    "Rotate backup files when their size crosses the given\nvalue (in MiB).",
  ),
  flag(
    "parallel-write",
    undefined,
    "int",
    0,
    "Number of concurrent backup files writing.\n0 = the number of CPUs.",
  ),
  flag(
    "dc",
    undefined,
    "string",
    "dc",
    "DC that will be created on source instance for xdr backup.",
  ),
  flag(
    "forward",
    undefined,
    "bool",
    false,
    "Forward records received through XDR (sets the DC's forward config).",
  ),
  flag(
    "local-address",
    undefined,
    "string",
    "127.0.0.1",
    "Local IP address that the XDR server listens on.",
  ),
  flag("local-port", undefined, "int", 8080, "Local port that the XDR server listens on."),
  flag(
    "rewind",
    undefined,
    "string",
    "all",
    "Rewind is used to ship all existing records of a namespace.\nall or a number of seconds.",
  ),
  flag(
    "max-throughput",
    undefined,
    "int",
    0,
    "Number of records per second to ship using XDR (a multiple of 100).",
  ),
  flag("read-timeout", undefined, "int", 1000, "Timeout in milliseconds for TCP read operations."),
  flag(
    "write-timeout",
    undefined,
    "int",
    1000,
    "Timeout in milliseconds for TCP write operations.",
  ),
  flag(
    "results-queue-size",
    undefined,
    "int",
    256,
    "Buffer for processing messages received from XDR.",
  ),
  flag(
    "ack-queue-size",
    undefined,
    "int",
    256,
    "Buffer for processing acknowledge messages sent to XDR.",
  ),
  flag("max-connections", undefined, "int", 4096, "Maximum number of concurrent TCP connections."),
  flag(
    "info-poling-period",
    undefined,
    "int",
    1000,
    "How often (in milliseconds) the backup client sends info commands\nto check the XDR status.",
  ),
  flag(
    "start-timeout",
    undefined,
    "int",
    30000,
    "Timeout in milliseconds for starting the XDR backup (XDR must connect in it).",
  ),
  flag(
    "stop-xdr",
    undefined,
    "bool",
    false,
    "Stop XDR and remove the DC from the config, then exit (after a crashed run).",
  ),
  flag(
    "unblock-mrt",
    undefined,
    "bool",
    false,
    "Unblock MRT writes on the namespace, then exit (after a crashed run).",
  ),
  // -T and the info retry flags, as the scan backup has them.
  ...transferFlags("backup", "").filter((f) => f.long.startsWith("info-")),
  flag(
    "xdr-tls-certfile",
    undefined,
    "string",
    "",
    "Certificate chain (PEM file) of the XDR receiver: it then accepts TLS only.\n" +
      "Needs --xdr-tls-keyfile and --xdr-tls-name.",
    { valueName: "<cert-file-name>" },
  ),
  flag(
    "xdr-tls-keyfile",
    undefined,
    "string",
    "",
    "Private key (PEM file) of --xdr-tls-certfile.",
    { valueName: "<key-file-name>" },
  ),
  flag(
    "xdr-tls-name",
    undefined,
    "string",
    "",
    "TLS name the source nodes connect to the receiver with: a tls context of their\n" +
      "aerospike.conf whose CA trusts the certificate, and the name in the certificate.",
  ),
];

/** Every flag of `asbackup xdr`, in `--help` order. */
export const XDR_FLAGS: readonly FlagSpec[] = [
  ...GENERAL_FLAGS,
  ...CLIENT_FLAGS,
  ...XDR_GROUP,
  ...compressionFlags(false),
  ...encryptionFlags(false),
  ...SECRET_AGENT_FLAGS,
];

/**
 * Maps parsed `asbackup xdr` flags to an XDR backup configuration.
 *
 * @param flags The parsed flags.
 * @param secretAgent The Secret Agent, when configured.
 * @param cpus Number of CPUs, the default of `--parallel-write`.
 * @returns The configuration input.
 * @throws {FlagError} for a missing namespace.
 */
export function backupXdrConfigFromFlags(
  flags: ParsedFlags,
  secretAgent: SecretAgentConfig | undefined,
  cpus: number,
): Partial<BackupXdrConfig> & { namespace: string } {
  const namespace = str(flags, "namespace");
  if (namespace === "") throw new FlagError("--namespace is required");
  const certFile = str(flags, "xdr-tls-certfile");
  const keyFile = str(flags, "xdr-tls-keyfile");
  const tlsName = str(flags, "xdr-tls-name");
  if ((certFile === "") !== (keyFile === "")) {
    throw new FlagError("--xdr-tls-certfile and --xdr-tls-keyfile must be given together");
  }
  // Without the name the nodes are not told to use TLS and could never connect.
  if ((certFile === "") !== (tlsName === "")) {
    throw new FlagError("--xdr-tls-name must be given with --xdr-tls-certfile, and only then");
  }
  const config: Partial<BackupXdrConfig> & { namespace: string } = {
    namespace,
    dc: str(flags, "dc"),
    forward: bool(flags, "forward"),
    localAddress: str(flags, "local-address"),
    localPort: num(flags, "local-port"),
    rewind: str(flags, "rewind"),
    maxThroughput: num(flags, "max-throughput"),
    parallelWrite: num(flags, "parallel-write") === 0 ? cpus : num(flags, "parallel-write"),
    fileLimit: num(flags, "file-limit") * MIB,
    readTimeoutMs: num(flags, "read-timeout"),
    writeTimeoutMs: num(flags, "write-timeout"),
    resultQueueSize: num(flags, "results-queue-size"),
    ackQueueSize: num(flags, "ack-queue-size"),
    maxConnections: num(flags, "max-connections"),
    infoPollingPeriodMs: num(flags, "info-poling-period"),
    startTimeoutMs: num(flags, "start-timeout"),
    infoRetryPolicy: infoPoliciesFromFlags(flags).infoRetryPolicy,
    compression: compressionFromFlags(flags),
    encryption: encryptionFromFlags(flags),
  };
  if (secretAgent !== undefined) config.secretAgent = secretAgent;
  if (certFile !== "") config.tls = { certFile, keyFile, name: tlsName };
  return config;
}

/**
 * The companion backup of an XDR run: the namespace's UDFs and secondary indexes, no
 * records (backup-go's CLI: `NoRecords` and the namespace), with the XDR files' compression
 * and encryption and the XDR run's info policies.
 *
 * @param xdr The resolved XDR configuration.
 * @param flags The parsed flags (`-T` and the info retry flags).
 * @returns The resolved scan backup configuration.
 */
function metadataBackupConfig(
  xdr: Readonly<BackupXdrConfig>,
  flags: ParsedFlags,
): Readonly<BackupConfig> {
  return resolveBackupConfig({
    namespace: xdr.namespace,
    noRecords: true,
    compression: xdr.compression,
    encryption: xdr.encryption,
    ...(xdr.secretAgent ? { secretAgent: xdr.secretAgent } : {}),
    ...infoPoliciesFromFlags(flags),
  });
}

/**
 * Runs `asbackup xdr`.
 *
 * @param args Command-line arguments after `xdr`.
 * @param io The process: output sinks, environment, signal.
 * @returns The exit code: 0 on success, 1 on any error.
 */
export async function xdrMain(args: string[], io: CliIo): Promise<number> {
  const ctx = await startCli(
    { name: "asbackup xdr", description: DESCRIPTION, flags: XDR_FLAGS },
    args,
    io,
  );
  if (typeof ctx === "number") return ctx;
  const recovery = bool(ctx.flags, "stop-xdr") || bool(ctx.flags, "unblock-mrt");
  let config;
  let metadataConfig;
  try {
    config = resolveBackupXdrConfig(
      backupXdrConfigFromFlags(ctx.flags, ctx.secretAgent, navigator.hardwareConcurrency || 1),
    );
    metadataConfig = metadataBackupConfig(config, ctx.flags);
    if (!recovery && str(ctx.flags, "directory") === "") {
      throw new FlagError("--directory is required");
    }
  } catch (err) {
    return fail(ctx, "invalid backup configuration", err);
  }
  let cluster: Cluster | undefined;
  try {
    // One writer for both jobs: the directory is checked (or cleared with -r) once, before
    // anything runs, as backup-go's CLI creates its writer first.
    const writer = recovery ? undefined : new DirectoryWriter(str(ctx.flags, "directory"), {
      removeFiles: bool(ctx.flags, "remove-files"),
      bufferSize: 4 * MIB,
    });
    await writer?.prepare();
    const policy = await clientPolicyFromFlags(ctx.flags, ctx.sources, ctx.secretAgent);
    // -T limits every XDR info command (set-up, stats polls, clean-up).
    const infoTimeoutMs = infoPoliciesFromFlags(ctx.flags).infoPolicy.timeoutMs;
    cluster = await Cluster.connect({ ...policy, infoTimeoutMs }, { signal: io.signal });
    if (recovery) {
      const failures = new Map<string, AerobakError>();
      if (bool(ctx.flags, "stop-xdr")) {
        for (const [n, e] of await stopXdrAll(cluster, config.dc)) failures.set(n, e);
      }
      if (bool(ctx.flags, "unblock-mrt")) {
        for (const [n, e] of await unblockMrtAll(cluster, config.namespace)) failures.set(n, e);
      }
      const first = failures.values().next();
      if (!first.done) throw first.value;
      ctx.log.info("xdr recovery done");
      return EXIT_OK;
    }
    const stats = await runXdrAndMetadata(new BackupClient(cluster), {
      xdr: config,
      metadata: metadataConfig,
      writer: writer!,
      ctx,
      stderr: io.stderr,
      signal: io.signal,
    });
    reportBackup(stats, ctx.log, io.stderr, { xdr: true });
    return EXIT_OK;
  } catch (err) {
    return fail(ctx, "backup failed", err);
  } finally {
    await cluster?.close();
  }
}

interface XdrRun {
  xdr: Readonly<BackupXdrConfig>;
  metadata: Readonly<BackupConfig>;
  writer: DirectoryWriter;
  ctx: CliContext;
  stderr: TextSink;
  signal?: AbortSignal;
}

/**
 * Runs the XDR backup and, once its receiver listens (so a port or TLS file problem leaves
 * no metadata file behind), the metadata backup; the first failure of either stops the
 * other and is what the run fails with.
 *
 * @param client The client of the source cluster.
 * @param run Both configurations, the shared directory writer, the CLI context.
 * @returns The sum of both jobs' statistics.
 */
async function runXdrAndMetadata(client: BackupClient, run: XdrRun): Promise<BackupStats> {
  const stop = new AbortController();
  let cause: unknown;
  const failRun = (err: unknown) => {
    cause ??= err;
    stop.abort(err);
  };
  const onAbort = () => failRun(run.signal!.reason);
  run.signal?.addEventListener("abort", onAbort, { once: true });
  let metadata: Promise<BackupStats> | undefined;
  // One manifest for both jobs' files, written once both are done.
  const now = run.ctx.now;
  const manifest = new ManifestBuilder({
    kind: "xdr",
    namespace: run.xdr.namespace,
    settings: xdrManifestSettings(run.xdr),
    startTime: now(),
  });
  const startMetadata = () => {
    run.ctx.log.info("backing up UDFs and secondary indexes", { namespace: run.xdr.namespace });
    metadata = client.backup(run.metadata, run.writer, {
      signal: stop.signal,
      emptyBackupFile: false,
      manifest,
      now,
    }).wait();
    metadata.catch(failRun);
  };
  try {
    const xdr = client.backupXdr(run.xdr, run.writer, {
      signal: stop.signal,
      manifest,
      now,
      onListening: (hostPort) => {
        run.ctx.log.info("xdr receiver listening", { address: hostPort });
        if (!stop.signal.aborted) startMetadata();
      },
    });
    let xdrStats: BackupStats;
    try {
      xdrStats = await waitWithProgress(xdr, {
        count: (s) => ({
          records: s.recordsRead,
          bytes: s.bytesWritten,
          total: s.estimatedRecords,
        }),
        stderr: run.stderr,
        log: run.ctx.log,
        now: run.ctx.now,
      });
    } catch (err) {
      failRun(err);
      await metadata?.catch(() => {});
      throw cause;
    }
    // The receiver always listens before a successful XDR run ends.
    const stats = sumStats(xdrStats, await metadata!);
    await writeManifest(run.writer, manifest.build(now()));
    return stats;
  } finally {
    run.signal?.removeEventListener("abort", onAbort);
  }
}
