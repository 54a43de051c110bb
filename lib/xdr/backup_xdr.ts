/**
 * The XDR backup job (backup-go `HandlerBackupXDR`): the source cluster ships a namespace
 * to this process through a connector DC, and the raw messages are written as ASBX files.
 *
 * ```
 * XdrController (info: create DC, rewind, poll, block MRT, delete DC)
 * source nodes ──XDR──▶ XdrReceiver ──split by partition──▶ AsbxFileSink × W
 * ```
 *
 * Each connection's handler encodes the messages it reads straight into the writers (no
 * queue between them): a message is acked once it is in its writer's buffer. All events
 * of one partition go to the same writer, in arrival order, so each writer's files hold a
 * record's versions in the order they happened. The job ends when every node caught up
 * (lag 0 after the rewind), or fails when no message arrived within `startTimeoutMs` or a
 * writer failed; on every exit the DC is removed and MRT writes are unblocked.
 *
 * @module
 */

import { Cluster } from "../aerospike/cluster.ts";
import {
  clusterIdentity,
  ManifestBuilder,
  writeManifest,
  xdrManifestSettings,
} from "../backup/manifest.ts";
import { namespaceRecordCount } from "../backup/record_count.ts";
import { BackupCounters, type BackupStats } from "../backup/stats.ts";
import { AerobakError } from "../errors.ts";
import { AsbxEncoder } from "../format/asbx/encoder.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import type { StorageWriter } from "../io/storage.ts";
import type { Clock } from "../pipeline/clock.ts";
import type { JobHandle } from "../pipeline/job.ts";
import { startCountedJob } from "../pipeline/_counted_job.ts";
import { joinErrors } from "../pipeline/pipe.ts";
import type { ProgressReporter } from "../pipeline/progress.ts";
import { DEFAULT_RETRY_POLICY } from "../policy.ts";
import { AsbxFileSink, AsbxPartitionSinks } from "./asbx_file_sink.ts";
import type { XdrInfoClient } from "./commands.ts";
import type { BackupXdrConfig } from "./config.ts";
import { XdrController } from "./controller.ts";
import { XdrReceiver } from "./receiver.ts";

/** The handle of a running XDR backup. */
export type BackupXdrHandle = JobHandle<BackupStats>;

/** Options of {@linkcode startBackupXdr}. */
export interface BackupXdrJobOptions {
  /** Cancels the backup (the DC is still removed). */
  signal?: AbortSignal;
  /** Receives periodic progress. */
  progress?: ProgressReporter<BackupStats>;
  /** Interval of progress reports, ms. @default 1000 */
  progressIntervalMs?: number;
  /** Time source of the polls, the start timeout, metrics and progress. @default systemClock */
  clock?: Clock;
  /** Called once the receiver listens, with the `host:port` given to the source nodes. */
  onListening?: (hostPort: string) => void;
  /**
   * The backup's manifest. Unset: the job writes its own once the files are stored. A
   * builder: the job adds its files and the caller writes it (the CLI's one manifest for
   * the ASBX files and their metadata file). `false`: none.
   */
  manifest?: ManifestBuilder | false;
  /**
   * Wall-clock time of the manifest's start and end.
   *
   * @default {() => new Date()}
   */
  now?: () => Date;
}

/**
 * Starts an XDR backup and returns its handle at once.
 *
 * @param cluster The source cluster (a `Cluster`; anything with `nodes` and `info` works,
 *   without the record-count estimate).
 * @param config A resolved configuration (`resolveBackupXdrConfig`).
 * @param storage Where the `.asbx` files go.
 * @param options Cancel signal, progress, clock.
 * @returns The running job. Its `wait()` rejects with `XDR_START_TIMEOUT` when nothing
 *   arrived in time, `XDR_COMMAND_FAILED` when a node refused the DC, `XDR_LISTEN` when
 *   the port is taken, storage and encryption errors, or `CANCELLED`.
 * @throws {AerobakError} `CONFIG_INVALID` at once when several writers would share one
 *   output file.
 *
 * @example
 * ```ts ignore
 * import { Cluster } from "../aerospike/cluster.ts";
 * import { DirectoryWriter } from "../io/local_writer.ts";
 * import { resolveBackupXdrConfig, startBackupXdr } from "./mod.ts";
 * await using cluster = await Cluster.connect({ hosts: "10.0.0.1:3000" });
 * const config = resolveBackupXdrConfig({ namespace: "test", dc: "backup", localAddress: "10.0.0.5", localPort: 3010 });
 * const stats = await startBackupXdr(cluster, config, new DirectoryWriter("/backups/x")).wait();
 * console.log(stats.recordsRead, stats.filesWritten);
 * ```
 */
export function startBackupXdr(
  cluster: XdrInfoClient,
  config: Readonly<BackupXdrConfig>,
  storage: StorageWriter,
  options: BackupXdrJobOptions = {},
): BackupXdrHandle {
  if (storage.kind !== "directory" && config.parallelWrite > 1) {
    throw new AerobakError(
      "CONFIG_INVALID",
      `Invalid parallelWrite ${config.parallelWrite}: expected 1 when writing to one ${storage.kind}`,
    );
  }
  const counters = new BackupCounters();
  const sinks: AsbxFileSink[] = [];
  const openBytes = () => sinks.reduce((n, s) => n + s.openBytes, 0);
  return startCountedJob(
    ({ signal, clock }) =>
      runBackupXdr(cluster, config, storage, {
        signal,
        clock,
        counters,
        sinks,
        onListening: options.onListening,
        manifest: options.manifest,
        now: options.now ?? (() => new Date()),
      }),
    { ...options, counters, openBytes },
  );
}

interface RunContext {
  signal: AbortSignal;
  clock: Clock;
  counters: BackupCounters;
  sinks: AsbxFileSink[];
  onListening?: (hostPort: string) => void;
  manifest?: ManifestBuilder | false;
  now: () => Date;
}

async function runBackupXdr(
  cluster: XdrInfoClient,
  config: Readonly<BackupXdrConfig>,
  storage: StorageWriter,
  ctx: RunContext,
): Promise<void> {
  const { signal, counters } = ctx;
  const encryptionKey = await loadJobEncryptionKey(config.encryption, {
    secretAgent: config.secretAgent,
  });
  const tls = config.tls === undefined ? undefined : {
    cert: await readPem(config.tls.certFile),
    key: await readPem(config.tls.keyFile),
  };
  const manifest = ctx.manifest === false ? undefined : ctx.manifest ?? new ManifestBuilder({
    kind: "xdr",
    namespace: config.namespace,
    settings: xdrManifestSettings(config),
    startTime: ctx.now(),
  });
  if (cluster instanceof Cluster) {
    const info = { retry: DEFAULT_RETRY_POLICY, signal, clock: ctx.clock };
    counters.estimatedRecords = await namespaceRecordCount(cluster, config.namespace, info);
    manifest?.setCluster(await clusterIdentity(cluster, info));
  }
  signal.throwIfAborted();

  const encoder = new AsbxEncoder(config.namespace);
  for (let i = 0; i < config.parallelWrite; i++) {
    ctx.sinks.push(
      new AsbxFileSink({
        storage,
        encoder,
        compression: config.compression,
        encryptionKey,
        onOpen: () => counters.filesWritten++,
        onClose: (_name, bytes, entry) => {
          counters.closedBytes += bytes;
          manifest?.addFile(entry);
        },
      }, { prefix: `${i}_`, fileLimit: config.fileLimit }),
    );
  }
  const receiver = XdrReceiver.listen({
    hostname: config.listenAddress,
    port: config.localPort,
    tls,
    maxConnections: config.maxConnections,
    readTimeoutMs: config.readTimeoutMs,
    writeTimeoutMs: config.writeTimeoutMs,
    sink: new AsbxPartitionSinks(ctx.sinks, () => counters.recordsRead++),
    queueSize: config.resultQueueSize,
    ackQueueSize: config.ackQueueSize,
  });
  const hostPort = `${config.localAddress}:${receiver.port}`;
  ctx.onListening?.(hostPort);

  // The controller's own signal: aborted when the job fails, so the DC gets removed.
  const stopControl = new AbortController();
  const onAbort = () => stopControl.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const controller = new XdrController(cluster, {
    dc: config.dc,
    hostPort,
    namespace: config.namespace,
    rewind: config.rewind,
    maxThroughput: config.maxThroughput,
    forward: config.forward,
    tlsName: config.tls?.name ?? "",
    pollIntervalMs: config.infoPollingPeriodMs,
    retryPolicy: config.infoRetryPolicy,
    clock: ctx.clock,
    signal: stopControl.signal,
  });
  const control = controller.run();
  // The run cannot fail unobserved: `control` is awaited below on every path.
  control.catch(() => {});

  const errors: unknown[] = [];
  try {
    await startedInTime(receiver, control, config, ctx.clock, signal);
    // Done once every node caught up: everything shipped was acked, so it is in a writer.
    await Promise.race([control, receiver.failure]);
  } catch (err) {
    errors.push(err);
    stopControl.abort(err);
    await control.catch(() => {});
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Every handler has finished once this resolves: nothing writes to the sinks any more.
    await receiver.close();
    for (const sink of ctx.sinks) {
      try {
        await sink.close();
      } catch (err) {
        errors.push(err);
      }
    }
  }
  if (errors.length > 0) throw joinErrors(errors);
  if (manifest && ctx.manifest === undefined) {
    await writeManifest(storage, manifest.build(ctx.now()));
  }
}

/**
 * Waits for the first message; fails with `XDR_START_TIMEOUT` when it does not come in
 * time (and returns at once when the controller finished or failed first).
 */
async function startedInTime(
  receiver: XdrReceiver,
  control: Promise<void>,
  config: Readonly<BackupXdrConfig>,
  clock: Clock,
  signal: AbortSignal,
): Promise<void> {
  const timer = new AbortController();
  const onAbort = () => timer.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const first = await Promise.race([
      receiver.firstMessage.then(() => "message" as const),
      control.then(() => "done" as const, () => "done" as const),
      clock.sleep(config.startTimeoutMs, timer.signal).then(() => "timeout" as const),
    ]);
    if (first === "timeout") {
      throw new AerobakError(
        "XDR_START_TIMEOUT",
        `XDR backup of namespace "${config.namespace}" timed out: no message from the cluster in ${config.startTimeoutMs} ms (is ${config.localAddress}:${receiver.port} reachable from the nodes?)`,
      );
    }
  } finally {
    timer.abort();
    signal.removeEventListener("abort", onAbort);
  }
}

async function readPem(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new AerobakError("TLS_CONFIG", `Cannot read ${path}: ${(cause as Error).message}`, {
      cause,
      location: { file: path },
    });
  }
}
