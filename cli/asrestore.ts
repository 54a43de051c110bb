/**
 * `asrestore`: restores ASB backup files into an Aerospike cluster, with the flags of
 * backup-go's `abs-restore-cli` (cli-flags.md §2). `--validate` checks the files without a
 * cluster.
 *
 * ```sh
 * deno run -A cli/asrestore.ts -h 127.0.0.1:3000 -n test -d /backups/test
 * ```
 *
 * @module
 */

import { Cluster } from "../lib/aerospike/cluster.ts";
import { BackupClient } from "../lib/client.ts";
import { resolveRestoreConfig, type RestoreConfig } from "../lib/restore/config.ts";
import type { RestoreHandle } from "../lib/restore/restore.ts";
import type { StorageReader } from "../lib/io/storage.ts";
import { type CliIo, EXIT_OK, fail, startCli } from "./_cli.ts";
import { clientPolicyFromFlags } from "./_common_options.ts";
import { waitWithProgress } from "./_progress.ts";
import { reportRestore, sumStats } from "./_report.ts";
import { RESTORE_FLAGS } from "./_restore_flags.ts";
import {
  openRestoreSource,
  RESTORE_SHARD_CONFLICTS,
  restorePasses,
  restorePlanFromFlags,
} from "./_restore_options.ts";
import { shardFromFlags } from "./_shard_flags.ts";
import { CliMetrics } from "./_metrics.ts";
import { restoreMetrics } from "../lib/metrics/job_metrics.ts";
import { RestoreCounters, type RestoreStats } from "../lib/restore/stats.ts";
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

/**
 * Runs `asrestore`.
 *
 * A run is one restore job, or two for a directory of an XDR backup (`.asbx` record files
 * beside `metadata_*.asb` files): see `restorePasses`. The jobs run one after the other;
 * the report sums them.
 *
 * @param args Command-line arguments (without the program name).
 * @param io The process: output sinks, environment, signal.
 * @returns The exit code: 0 on success, 1 on any error.
 */
export async function main(args: string[], io: CliIo): Promise<number> {
  const ctx = await startCli(
    { name: "asrestore", description: DESCRIPTION, flags: RESTORE_FLAGS },
    args,
    io,
  );
  if (typeof ctx === "number") return ctx;
  const now = ctx.now;
  let plan;
  try {
    plan = restorePlanFromFlags(
      ctx.flags,
      ctx.secretAgent,
      navigator.hardwareConcurrency || 1,
      ctx.cloud,
    );
    const shard = shardFromFlags(ctx.flags, ctx.sources.env, RESTORE_SHARD_CONFLICTS);
    if (shard !== undefined) plan.config.shard = shard;
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }
  const failed = plan.config.validateOnly ? "validation failed" : "restore failed";
  let passes;
  try {
    // `--mode auto` looks at the files; a missing directory is reported by its path here.
    passes = await restorePasses(plan);
  } catch (err) {
    return fail(ctx, failed, err);
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
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }
  const validateOnly = jobs[0].config.validateOnly;
  let metrics: CliMetrics | undefined;
  try {
    metrics = await CliMetrics.start(ctx.flags, ctx.log, "asrestore", plan.config.shard);
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }

  let cluster: Cluster | null = null;
  let total: RestoreStats | undefined;
  let handle: RestoreHandle | undefined;
  // The run's figures: the passes done, the one running; none before the first starts.
  const before = new RestoreCounters().snapshot(0);
  const current = () => {
    if (handle === undefined) return total ?? before;
    return total === undefined ? handle.stats() : sumStats(total, handle.stats());
  };
  const inFlight = {
    get requestsInFlight() {
      return cluster?.requestsInFlight ?? 0;
    },
  };
  metrics?.watch(
    restoreMetrics(metrics.source(current), validateOnly ? {} : { cluster: inFlight }),
  );
  let ok = false;
  try {
    // A missing directory or file is reported by its path before any cluster contact
    // (listing is cheap; the job lists again).
    for (const job of jobs) await Array.fromAsync(job.reader.list());
    const source = plan.source;
    const sharded = await openShardedInput(jobs[0].reader, { shard: plan.config.shard });
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
    if (!validateOnly) {
      const policy = await clientPolicyFromFlags(ctx.flags, ctx.sources, ctx.secretAgent);
      cluster = await Cluster.connect(policy, { signal: io.signal });
    }
    const client = new BackupClient(cluster);
    for (const job of jobs) {
      handle = client.restore(job.config, job.reader, {
        signal: io.signal,
        // Void times become TTLs against the same clock the CLI reports with.
        now: () => Math.floor(now().getTime() / 1000),
      });
      const stats = await waitWithProgress(handle, {
        count: (s) => ({ records: s.recordsRead, bytes: s.bytesRead }),
        stderr: io.stderr,
        log: ctx.log,
        now,
      });
      total = total === undefined ? stats : sumStats(total, stats);
      handle = undefined;
    }
    reportRestore(total!, total!, validateOnly, ctx.log, io.stderr);
    ok = true;
    return EXIT_OK;
  } catch (err) {
    // The report says how far the run got before it failed.
    if (handle) {
      const stats = total === undefined ? handle.stats() : sumStats(total, handle.stats());
      reportRestore(stats, stats, validateOnly, ctx.log, io.stderr);
    }
    return fail(ctx, failed, err);
  } finally {
    await metrics?.finish(ok);
    await cluster?.close();
  }
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
