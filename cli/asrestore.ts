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
import { resolveRestoreConfig } from "../lib/restore/config.ts";
import type { RestoreHandle } from "../lib/restore/restore.ts";
import { type CliIo, EXIT_OK, fail, startCli } from "./_cli.ts";
import { clientPolicyFromFlags } from "./_common_options.ts";
import { waitWithProgress } from "./_progress.ts";
import { reportRestore } from "./_report.ts";
import { RESTORE_FLAGS } from "./_restore_flags.ts";
import { openRestoreSource, restoreFormat, restorePlanFromFlags } from "./_restore_options.ts";

const DESCRIPTION = "asrestore restores ASB backup files into an Aerospike cluster " +
  "(compatible with backup-go's abs-restore-cli and the C asrestore).";

/**
 * Runs `asrestore`.
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
  let config;
  try {
    plan = restorePlanFromFlags(ctx.flags, ctx.secretAgent, navigator.hardwareConcurrency || 1);
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }
  let encoderType;
  try {
    // `--mode auto` looks at the files; a missing directory is reported by its path here.
    encoderType = await restoreFormat(plan);
  } catch (err) {
    return fail(ctx, plan.config.validateOnly ? "validation failed" : "restore failed", err);
  }
  try {
    config = resolveRestoreConfig({ ...plan.config, encoderType });
  } catch (err) {
    return fail(ctx, "invalid restore configuration", err);
  }

  let cluster: Cluster | null = null;
  let handle: RestoreHandle | undefined;
  try {
    const reader = openRestoreSource(plan.source, {
      extension: encoderType === "ASBX" ? ".asbx" : ".asb",
    });
    // A missing directory or file is reported by its path before any cluster contact
    // (listing is cheap; the job lists again).
    await Array.fromAsync(reader.list());
    // Validation decodes the files only: no cluster is needed (backup-go does the same).
    if (!config.validateOnly) {
      const policy = await clientPolicyFromFlags(ctx.flags, ctx.sources, ctx.secretAgent);
      cluster = await Cluster.connect(policy, { signal: io.signal });
    }
    const client = new BackupClient(cluster);
    handle = client.restore(config, reader, {
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
    reportRestore(stats, stats, config.validateOnly, ctx.log, io.stderr);
    return EXIT_OK;
  } catch (err) {
    // The report says how far the job got before it failed.
    if (handle) {
      const stats = handle.stats();
      reportRestore(stats, stats, config.validateOnly, ctx.log, io.stderr);
    }
    return fail(ctx, config.validateOnly ? "validation failed" : "restore failed", err);
  } finally {
    await cluster?.close();
  }
}

if (import.meta.main) {
  const { runMain } = await import("./_main.ts");
  await runMain(main);
}
