/**
 * The XDR backup job (backup-go `HandlerBackupXDR`): the source cluster ships a namespace
 * to this process through a connector DC, and the raw messages are written as ASBX files.
 *
 * ```
 * XdrController (info: create DC, rewind, poll, block MRT, delete DC)
 * source nodes ──XDR──▶ XdrReceiver ──▶ token counter ──split by partition──▶ AsbxFileSink × W
 * ```
 *
 * All events of one partition go to the same writer, in arrival order, so each writer's
 * files hold a record's versions in the order they happened. The job ends when every node
 * caught up (lag 0 after the rewind), or fails when no message arrived within
 * `startTimeoutMs`; on every exit the DC is removed and MRT writes are unblocked.
 *
 * @module
 */

import { Cluster } from "../aerospike/cluster.ts";
import { partitionId } from "../aerospike/digest.ts";
import {
  clusterIdentity,
  ManifestBuilder,
  writeManifest,
  xdrManifestSettings,
} from "../backup/manifest.ts";
import { namespaceRecordCount } from "../backup/record_count.ts";
import { BackupCounters, type BackupStats } from "../backup/stats.ts";
import { AerobakError } from "../errors.ts";
import { AsbxEncoder, type AsbxToken } from "../format/asbx/encoder.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import type { StorageWriter } from "../io/storage.ts";
import type { Clock } from "../pipeline/clock.ts";
import { partitionFanout } from "../pipeline/fanout.ts";
import type { JobHandle } from "../pipeline/job.ts";
import { startCountedJob } from "../pipeline/_counted_job.ts";
import { Pipe } from "../pipeline/pipe.ts";
import type { ProgressReporter } from "../pipeline/progress.ts";
import { DEFAULT_RETRY_POLICY } from "../policy.ts";
import { AsbxFileSink } from "./asbx_file_sink.ts";
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
    ({ signal, clock, onPipe }) =>
      runBackupXdr(cluster, config, storage, {
        signal,
        clock,
        counters,
        sinks,
        onPipe,
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
  onPipe: (pipe: Pipe<AsbxToken>) => void;
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

  const receiver = XdrReceiver.listen({
    hostname: config.listenAddress,
    port: config.localPort,
    tls,
    maxConnections: config.maxConnections,
    readTimeoutMs: config.readTimeoutMs,
    writeTimeoutMs: config.writeTimeoutMs,
    queueSize: config.resultQueueSize,
    ackQueueSize: config.ackQueueSize,
  });
  const hostPort = `${config.localAddress}:${receiver.port}`;
  ctx.onListening?.(hostPort);

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

  // The controller's own signal: aborted when the pipe fails, so the DC gets removed.
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
  const control = controller.run().then(
    () => receiver.close(),
    async (err) => {
      await receiver.abort(err);
      throw err;
    },
  );
  // The run cannot fail unobserved: `control` is awaited below on every path.
  control.catch(() => {});

  const pipe = new Pipe<AsbxToken>({
    readers: [(readerSignal) => receive(receiver, control, config, ctx.clock, readerSignal)],
    processors: [{
      process: (t) => {
        counters.recordsRead++;
        return t;
      },
    }],
    writers: ctx.sinks,
  }, {
    fanout: partitionFanout(config.parallelWrite, (t) => partitionId(t.digest)),
    channelSize: 256,
    signal,
  });
  ctx.onPipe(pipe);
  try {
    await pipe.run();
  } catch (err) {
    stopControl.abort(err);
    await control.catch(() => {});
    await receiver.close();
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  await control;
  if (manifest && ctx.manifest === undefined) {
    await writeManifest(storage, manifest.build(ctx.now()));
  }
}

/** The pipe's reader: the receiver's tokens, failing when the first one is too late. */
async function* receive(
  receiver: XdrReceiver,
  control: Promise<void>,
  config: Readonly<BackupXdrConfig>,
  clock: Clock,
  signal: AbortSignal,
): AsyncGenerator<AsbxToken> {
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
      const err = new AerobakError(
        "XDR_START_TIMEOUT",
        `XDR backup of namespace "${config.namespace}" timed out: no message from the cluster in ${config.startTimeoutMs} ms (is ${config.localAddress}:${receiver.port} reachable from the nodes?)`,
      );
      await receiver.abort(err);
      throw err;
    }
  } finally {
    timer.abort();
    signal.removeEventListener("abort", onAbort);
  }
  yield* receiver;
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
