/**
 * `asrestore`: restores ASB backup files into an Aerospike cluster, with the flags of
 * backup-go's `abs-restore-cli` (cli-flags.md §2). `--validate` checks the files without a
 * cluster (against the backup's manifest when it has one); `--verify` compares them with
 * the live cluster; `--state-file-dst` / `--continue` make a restore resumable.
 *
 * ```sh
 * deno run -A cli/asrestore.ts -h 127.0.0.1:3000 -n test -d /backups/test
 * ```
 *
 * @module
 */

import { Cluster } from "../lib/aerospike/cluster.ts";
import { parseNanos } from "../lib/backup/manifest.ts";
import { BackupClient } from "../lib/client.ts";
import { AerobakError } from "../lib/errors.ts";
import type { StorageReader } from "../lib/io/storage.ts";
import { resolveRestoreConfig, type RestoreConfig } from "../lib/restore/config.ts";
import type { FileReadResult, ManifestFinding } from "../lib/restore/manifest_check.ts";
import type { RestoreHandle } from "../lib/restore/restore.ts";
import { RestoreTracker } from "../lib/restore/state.ts";
import { RestoreCounters, type RestoreStats } from "../lib/restore/stats.ts";
import { extraScopeOf, type VerifyJobOptions } from "../lib/restore/verify.ts";
import {
  type CliContext,
  type CliIo,
  errorText,
  EXIT_FAILURE,
  EXIT_OK,
  fail,
  startCli,
} from "./_cli.ts";
import { clientPolicyFromFlags } from "./_common_options.ts";
import { waitWithProgress } from "./_progress.ts";
import { reportRestore, reportVerify, sumStats } from "./_report.ts";
import {
  backupDataFiles,
  findManifest,
  type FoundManifest,
  logFindings,
  type ManifestSet,
  requireManifestFiles,
  restoreStateStorage,
  shardManifestSet,
  singleManifestSet,
  warnFileOptions,
} from "./_restore_checks.ts";
import { RESTORE_FLAGS } from "./_restore_flags.ts";
import {
  openRestoreSource,
  RESTORE_SHARD_CONFLICTS,
  restorePasses,
  type RestorePlan,
  restorePlanFromFlags,
} from "./_restore_options.ts";
import { shardFromFlags } from "./_shard_flags.ts";
import { CliMetrics } from "./_metrics.ts";
import { restoreMetrics } from "../lib/metrics/job_metrics.ts";
import {
  openShardedInput,
  type ShardedInput,
  ShardedReader,
  shardsIncomplete,
} from "../lib/restore/shards.ts";
import type { ObjectSource } from "../lib/io/object_store.ts";
import { shardDirectoryName } from "../lib/backup/shards.ts";

const DESCRIPTION = "asrestore restores ASB backup files into an Aerospike cluster " +
  "(compatible with backup-go's abs-restore-cli and the C asrestore).";

/** One job of the run: its resolved configuration and its files. */
interface Job {
  config: Readonly<RestoreConfig>;
  reader: StorageReader;
}

/** What the run does: restore, validate the files, or verify them against the cluster. */
type Mode = "restore" | "validate" | "verify";

const FAILED: Record<Mode, string> = {
  restore: "restore failed",
  validate: "validation failed",
  verify: "verify failed",
};

/**
 * Runs `asrestore`.
 *
 * A run is one restore job, or two for a directory of an XDR backup (`.asbx` record files
 * beside `metadata_*.asb` files): see `restorePasses`. The jobs run one after the other;
 * the report sums them.
 *
 * @param args Command-line arguments (without the program name).
 * @param io The process: output sinks, environment, signal.
 * @returns The exit code: 0 on success, 1 on any error (and for `--validate` and
 *   `--verify`, when the backup does not match its manifest or the cluster).
 */
export async function main(args: string[], io: CliIo): Promise<number> {
  const ctx = await startCli(
    { name: "asrestore", description: DESCRIPTION, flags: RESTORE_FLAGS },
    args,
    io,
  );
  if (typeof ctx === "number") return ctx;
  let plan: RestorePlan;
  try {
    plan = restorePlanFromFlags(
      ctx.flags,
      ctx.secretAgent,
      navigator.hardwareConcurrency || 1,
      ctx.cloud,
      ctx.now(),
    );
    const shard = shardFromFlags(ctx.flags, ctx.sources.env, RESTORE_SHARD_CONFLICTS);
    if (shard !== undefined) plan.config.shard = shard;
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }
  const mode: Mode = plan.verify ? "verify" : plan.config.validateOnly ? "validate" : "restore";
  let passes;
  try {
    // `--mode auto` looks at the files; a missing directory is reported by its path here.
    passes = await restorePasses(plan);
  } catch (err) {
    return fail(ctx, FAILED[mode], err);
  }
  const jobs: Job[] = [];
  try {
    for (const pass of passes) {
      const input = { ...plan.config, encoderType: pass.encoderType };
      if (pass.metadataOnly) input.noRecords = true;
      // Beside an ASB job, --no-indexes and --no-udfs are its business: ASBX files hold
      // neither (alone, an ASBX restore refuses them, as backup-go's does).
      if (pass.encoderType === "ASBX" && passes.length > 1) {
        delete input.noIndexes;
        delete input.noUdfs;
      }
      const config = resolveRestoreConfig(input);
      const reader = openRestoreSource(plan.source, {
        extension: pass.encoderType === "ASBX" ? ".asbx" : ".asb",
      });
      jobs.push({ config, reader });
    }
    if (mode === "verify" && jobs.some((j) => j.config.encoderType === "ASBX")) {
      throw new AerobakError(
        "CONFIG_INVALID",
        "Cannot verify ASBX files: an XDR backup holds write messages, not records " +
          "(check them with --validate)",
      );
    }
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }
  let metrics: CliMetrics | undefined;
  try {
    metrics = await CliMetrics.start(ctx.flags, ctx.log, "asrestore", plan.config.shard);
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }
  const live: LiveRun = { cluster: null };
  // The run's figures: the passes done, the one running; none before the first starts.
  const before = new RestoreCounters().snapshot(0);
  const current = () => {
    if (live.handle === undefined) return live.total ?? before;
    return live.total === undefined
      ? live.handle.stats()
      : sumStats(live.total, live.handle.stats());
  };
  const inFlight = {
    get requestsInFlight() {
      return live.cluster?.requestsInFlight ?? 0;
    },
  };
  metrics?.watch(
    restoreMetrics(metrics.source(current), mode === "validate" ? {} : { cluster: inFlight }),
  );
  const code = await runJobs(ctx, io, plan, jobs, mode, live);
  await metrics?.finish(code === EXIT_OK);
  return code;
}

/** What a run has done so far, for its metrics. */
interface LiveRun {
  cluster: Cluster | null;
  total?: RestoreStats;
  handle?: RestoreHandle;
}

/** Checks the backup, then runs the jobs (or the verify) one after the other. */
async function runJobs(
  ctx: CliContext,
  io: CliIo,
  plan: RestorePlan,
  jobs: Job[],
  mode: Mode,
  live: LiveRun,
): Promise<number> {
  let manifest: FoundManifest | undefined;
  let checks: ManifestSet | undefined;
  let sharded: ShardedInput;
  try {
    // A missing directory or file is reported by its path before any cluster contact
    // (listing is cheap; the job lists again).
    for (const job of jobs) await Array.fromAsync(job.reader.list());
    sharded = await openShardedInput(jobs[0].reader, { shard: plan.config.shard });
    if (sharded.layout !== undefined && mode === "verify") {
      throw new AerobakError(
        "CONFIG_INVALID",
        `Cannot --verify the sharded backup in ${sharded.where} as a whole: verify each shard ` +
          "(-d <directory>/shard-<I>-of-<N>)",
      );
    }
    if (sharded.reader instanceof ShardedReader) {
      // A sharded backup: each shard's files against its own manifest.
      checks = await shardManifestSet(sharded.reader);
    } else {
      manifest = await findManifest(plan.source);
      if (manifest !== undefined) {
        warnFileOptions(manifest, {
          compression: jobs[0].config.compression.mode,
          encryption: jobs[0].config.encryption.mode,
        }, ctx.log);
        checks = singleManifestSet(manifest, await backupDataFiles(plan.source));
      } else if (mode === "validate") {
        ctx.log.warn(
          "no manifest: the files decode, but completeness could not be checked " +
            "(a backup of the Go or C tools, or one that did not finish)",
        );
      }
    }
    if (checks !== undefined && mode !== "validate") requireManifestFiles(checks, ctx.log);
  } catch (err) {
    return fail(ctx, FAILED[mode], err);
  }
  const findings: ManifestFinding[] = mode === "validate" ? [...(checks?.listing ?? [])] : [];

  let cluster: Cluster | null = null;
  let tracker: RestoreTracker | undefined;
  try {
    const source = plan.source;
    const validateOnly = mode === "validate";
    // Refused before any cluster contact (the job would refuse it too).
    if (sharded.incomplete.length > 0 && !plan.config.allowPartial && !validateOnly) {
      throw shardsIncomplete(sharded, true);
    }
    if (sharded.incomplete.length > 0 && plan.config.allowPartial && !validateOnly) {
      ctx.log.warn("restoring a partial sharded backup", {
        missing_shards: sharded.incomplete.join(","),
        shards: sharded.layout!.count,
      });
    }
    if (source.kind === "cloud") {
      // Archived objects (S3 Glacier, Azure Archive) are brought back first, all at once
      // (those of every shard restored, for a sharded backup).
      const objects = sharded.layout === undefined
        ? source.objects
        : { directories: shardDirectories(source.objects, sharded) };
      for (const job of jobs) {
        await source.cloud.prepareRestore(
          objects,
          job.config.encoderType === "ASBX" ? ".asbx" : ".asb",
        );
      }
    }
    // Validation decodes the files only: no cluster is needed (backup-go does the same).
    if (mode !== "validate") {
      const policy = await clientPolicyFromFlags(ctx.flags, ctx.sources, ctx.secretAgent);
      cluster = await Cluster.connect(policy, { signal: io.signal });
      live.cluster = cluster;
    }
    if (mode === "verify") {
      try {
        return await verify(new BackupClient(cluster), jobs[0], plan, manifest, ctx, io);
      } finally {
        await cluster?.close();
      }
    }
    if (plan.state) {
      tracker = await RestoreTracker.open(restoreStateStorage(source), plan.state.name, {
        continue: plan.state.continue,
        files: await backupDataFiles(source),
        namespace: jobs[0].config.namespace,
        now: ctx.now,
      });
      if (plan.state.continue) {
        ctx.log.info("continuing the restore", { done_files: tracker.doneFiles.length });
      }
    }
  } catch (err) {
    await cluster?.close();
    return fail(ctx, FAILED[mode], err);
  }

  const reads: FileReadResult[] = [];
  let total: RestoreStats | undefined;
  let handle: RestoreHandle | undefined;
  const client = new BackupClient(cluster);
  try {
    for (const job of jobs) {
      handle = live.handle = client.restore(job.config, job.reader, {
        signal: io.signal,
        // Void times become TTLs against the same clock the CLI reports with.
        now: () => Math.floor(ctx.now().getTime() / 1000),
        onFileRead: mode === "validate" && checks ? (r) => reads.push(r) : undefined,
        resume: tracker,
      });
      const stats = await waitWithProgress(handle, {
        count: (s) => ({ records: s.recordsRead, bytes: s.bytesRead }),
        stderr: io.stderr,
        log: ctx.log,
        now: ctx.now,
      });
      total = live.total = total === undefined ? stats : sumStats(total, stats);
      handle = live.handle = undefined;
    }
    await tracker?.finish();
    reportRestore(total!, total!, mode === "validate", ctx.log, io.stderr);
    if (mode === "validate") return validationResult(checks, findings, reads, ctx);
    return EXIT_OK;
  } catch (err) {
    // The report says how far the run got before it failed.
    if (handle) {
      const stats = total === undefined ? handle.stats() : sumStats(total, handle.stats());
      reportRestore(stats, stats, mode === "validate", ctx.log, io.stderr);
    }
    if (mode === "validate" && checks) {
      findings.push(...reads.flatMap((r) => checks!.checkRead(r)));
      logFindings(findings, ctx.log);
    }
    if (tracker && plan.state) {
      // What the cluster acknowledged is saved: the run can be continued from there.
      const saved = await tracker.close().then(() => true, () => false);
      if (saved) {
        ctx.log.error(FAILED[mode], {
          error: errorText(err),
          resume: `run again with --continue ${plan.state.name} (and the same source)`,
        });
        return EXIT_FAILURE;
      }
    }
    return fail(ctx, FAILED[mode], err);
  } finally {
    await cluster?.close();
  }
}

/** Ends a validation: the findings against the manifest(s) decide the exit code. */
function validationResult(
  checks: ManifestSet | undefined,
  listing: ManifestFinding[],
  reads: readonly FileReadResult[],
  ctx: CliContext,
): number {
  if (checks === undefined) return EXIT_OK;
  const findings = [...listing, ...reads.flatMap((r) => checks.checkRead(r))];
  logFindings(findings, ctx.log);
  const attrs = { manifest: checks.path, files: checks.files };
  if (findings.length === 0) {
    ctx.log.emit("info", "the backup matches its manifest", attrs);
    return EXIT_OK;
  }
  ctx.log.emit("error", "the backup does not match its manifest", {
    ...attrs,
    findings: findings.length,
  });
  return EXIT_FAILURE;
}

/** Runs `--verify`: the one ASB job compared with the cluster. */
async function verify(
  client: BackupClient,
  job: Job,
  plan: RestorePlan,
  found: FoundManifest | undefined,
  ctx: CliContext,
  io: CliIo,
): Promise<number> {
  const options: VerifyJobOptions = {
    signal: io.signal,
    now: () => Math.floor(ctx.now().getTime() / 1000),
  };
  const start = found ? parseNanos(found.manifest.startTime) : undefined;
  const changedSince = plan.verify?.changedSince ?? start;
  if (changedSince !== undefined) options.changedSince = changedSince;
  else {
    ctx.log.warn(
      "no manifest and no --modified-before: records changed since the backup cannot be " +
        "told apart and count as different",
    );
  }
  const extra = plan.verify?.extra ?? false;
  if (extra) {
    options.extra = extraScopeOf(found?.manifest.settings, job.config.setList);
    const ns = job.config.namespace?.destination ?? found?.manifest.namespace;
    if (ns !== undefined) options.extra.namespace = ns;
  }
  const handle = client.verify(job.config, job.reader, options);
  let stats;
  try {
    stats = await waitWithProgress(handle, {
      count: (s) => ({ records: s.recordsRead, bytes: s.bytesRead }),
      stderr: io.stderr,
      log: ctx.log,
      now: ctx.now,
    });
  } catch (err) {
    const s = handle.stats();
    reportVerify(s, s, extra, ctx.log, io.stderr);
    return fail(ctx, FAILED.verify, err);
  }
  reportVerify(stats, stats, extra, ctx.log, io.stderr);
  if (stats.recordsDifferent > 0 || stats.recordsMissing > 0) {
    ctx.log.emit("error", "the backup does not match the cluster", {
      different: stats.recordsDifferent,
      missing: stats.recordsMissing,
    });
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

/** The key prefixes of the shards a sharded cloud restore reads. */
function shardDirectories(objects: ObjectSource, sharded: ShardedInput): string[] {
  const root = "directories" in objects ? objects.directories[0] : "";
  const shards = sharded.reader instanceof ShardedReader ? sharded.reader.shards : [];
  return shards.map((index) =>
    `${root.replace(/\/+$/, "")}/${shardDirectoryName({ index, count: sharded.layout!.count })}`
  );
}

if (import.meta.main) {
  const { runMain } = await import("./_main.ts");
  await runMain(main);
}
