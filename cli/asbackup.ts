/**
 * `asbackup`: backs up an Aerospike namespace to ASB files, with the flags of backup-go's
 * `abs-backup-cli` (cli-flags.md §1).
 *
 * ```sh
 * deno run -A cli/asbackup.ts -h 127.0.0.1:3000 -n test -d /backups/test -w 8
 * ```
 *
 * @module
 */

import { Cluster } from "../lib/aerospike/cluster.ts";
import { type BackupConfig, resolveBackupConfig } from "../lib/backup/config.ts";
import { BackupClient } from "../lib/client.ts";
import { BACKUP_FLAGS } from "./_backup_flags.ts";
import { xdrMain } from "./_backup_xdr.ts";
import {
  BACKUP_SHARD_CONFLICTS,
  type BackupPlan,
  backupPlanFromFlags,
  openBackupTarget,
  openShardTarget,
  removeArtifacts,
} from "./_backup_options.ts";
import { shardFromFlags } from "./_shard_flags.ts";
import { CliMetrics } from "./_metrics.ts";
import { backupMetrics } from "../lib/metrics/job_metrics.ts";
import type { BackupHandle } from "../lib/backup/backup.ts";
import { BackupCounters } from "../lib/backup/stats.ts";
import { type CliIo, errorText, EXIT_FAILURE, EXIT_OK, fail, startCli } from "./_cli.ts";
import { clientPolicyFromFlags } from "./_common_options.ts";
import { waitWithProgress } from "./_progress.ts";
import { formatReport, reportBackup } from "./_report.ts";

const DESCRIPTION = "asbackup backs up an Aerospike namespace to ASB backup files " +
  "(compatible with backup-go's abs-backup-cli and the C asbackup).\n" +
  "`asbackup xdr [flags]` backs up through XDR into ASBX files (see `asbackup xdr --help`).";

/**
 * Runs `asbackup`.
 *
 * @param args Command-line arguments (without the program name).
 * @param io The process: output sinks, environment, signal.
 * @returns The exit code: 0 on success, 1 on any error.
 */
export async function main(args: string[], io: CliIo): Promise<number> {
  // `asbackup xdr …`: the XDR backup subcommand (ASBX files).
  if (args[0] === "xdr") return await xdrMain(args.slice(1), io);
  const ctx = await startCli(
    { name: "asbackup", description: DESCRIPTION, flags: BACKUP_FLAGS },
    args,
    io,
  );
  if (typeof ctx === "number") return ctx;
  const now = ctx.now;
  let plan;
  let config;
  let metrics: CliMetrics | undefined;
  try {
    plan = backupPlanFromFlags(ctx.flags, ctx.secretAgent, now(), ctx.cloud);
    const shard = shardFromFlags(ctx.flags, ctx.sources.env, BACKUP_SHARD_CONFLICTS);
    if (shard !== undefined) plan.config.shard = shard;
    if (plan.mode === "removeArtifacts") {
      await removeArtifacts(plan.target, shard);
      ctx.log.info("backup artifacts removed");
      return EXIT_OK;
    }
    config = resolveBackupConfig(plan.config);
    if (plan.mode === "backup") {
      metrics = await CliMetrics.start(ctx.flags, ctx.log, "asbackup", shard);
    }
  } catch (err) {
    return fail(ctx, "invalid backup configuration", err);
  }

  let cluster: Cluster | undefined;
  let handle: BackupHandle | undefined;
  // Figures before the job starts (connecting) and if it never does: none yet.
  const before = new BackupCounters().snapshot(0);
  metrics?.watch(
    backupMetrics(metrics.source(() => handle?.stats() ?? before), {
      cluster: {
        get requestsInFlight() {
          return cluster?.requestsInFlight ?? 0;
        },
      },
    }),
  );
  let ok = false;
  try {
    const policy = await clientPolicyFromFlags(ctx.flags, ctx.sources, ctx.secretAgent);
    cluster = await Cluster.connect(policy, { signal: io.signal });
    const client = new BackupClient(cluster);
    if (plan.mode === "estimate") {
      const estimate = await client.estimate(config, {
        samples: plan.estimateSamples,
        signal: io.signal,
      });
      if (ctx.log.json) {
        ctx.log.emit("info", "estimate report", { file_size_bytes: estimate.bytes });
      } else {io.stderr.write(
          formatReport("Estimate report", [["File size (bytes)", estimate.bytes]]),
        );}
      return EXIT_OK;
    }
    // The client reads a --continue state file from the target directory itself.
    handle = client.backup(config, openBackupTarget(plan.target), {
      signal: io.signal,
      now,
    });
    const stats = await waitWithProgress(handle, {
      count: (s) => ({ records: s.recordsRead, bytes: s.bytesWritten, total: s.estimatedRecords }),
      stderr: io.stderr,
      log: ctx.log,
      now,
    });
    reportBackup(stats, ctx.log, io.stderr);
    ok = true;
    return EXIT_OK;
  } catch (err) {
    const resume = await resumeHint(plan, config);
    if (resume === undefined) return fail(ctx, "backup failed", err);
    // The state file is what makes the files left behind a backup in progress.
    ctx.log.error("backup failed", { error: errorText(err), resume });
    return EXIT_FAILURE;
  } finally {
    await metrics?.finish(ok);
    await cluster?.close();
  }
}

/**
 * How to resume a failed backup, when it saved a state file (without one, the job removed
 * the files it wrote).
 */
async function resumeHint(plan: BackupPlan, config: BackupConfig): Promise<string | undefined> {
  const target = plan.target;
  if (config.stateFile === "" || (target.kind !== "directory" && target.kind !== "cloud")) {
    return undefined;
  }
  try {
    await openShardTarget(target, config.shard).readBack!(config.stateFile);
  } catch {
    return undefined;
  }
  return `run again with --continue ${config.stateFile} (and the same --directory${
    config.shard ? ` and --shards ${config.shard.count} --shard ${config.shard.index}` : ""
  })`;
}

if (import.meta.main) {
  const { runMain } = await import("./_main.ts");
  await runMain(main);
}
