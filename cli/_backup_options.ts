/**
 * Maps `asbackup` flags to a backup configuration and a storage target, with the CLI's own
 * rules (cli-flags.md §1): one target, exclusive filters, `--parallel` for readers and
 * writers, sizes in MiB.
 *
 * @module
 */

import type { BackupConfigInput } from "../lib/backup/config.ts";
import { parseLocalTime } from "../lib/backup/config_time.ts";
import { parseAfterDigest, parsePartitionList } from "../lib/backup/partition_spec.ts";
import { type ShardSpec, shardWriter } from "../lib/backup/shards.ts";
import { AerobakError } from "../lib/errors.ts";
import { MANIFEST_SUFFIX } from "../lib/backup/manifest.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { DirectoryWriter, FileWriter } from "../lib/io/local_writer.ts";
import { ObjectStoreFileWriter, ObjectStoreWriter } from "../lib/io/object_store.ts";
import { StdoutWriter } from "../lib/io/std_storage.ts";
import type { StorageWriter } from "../lib/io/storage.ts";
import {
  bool,
  compressionFromFlags,
  encryptionFromFlags,
  list,
  num,
  str,
} from "./_common_options.ts";
import type { CloudStorage } from "./_cloud_flags.ts";
import { FlagError, type ParsedFlags } from "./_flags.ts";
import { infoPoliciesFromFlags } from "./_job_flags.ts";

/** Bytes in a MiB: the unit of the size flags. */
export const MIB = 1024 * 1024;

/** Where a backup goes. */
export type BackupTarget =
  | {
    kind: "directory";
    path: string;
    removeFiles: boolean;
    bufferSize: number;
    /** Continuing: the directory holds the interrupted run's files. */
    skipDirCheck?: boolean;
  }
  | { kind: "file"; path: string; removeFiles: boolean; bufferSize: number }
  | { kind: "stdout"; bufferSize: number }
  | {
    kind: "cloud";
    /** The bucket or container, and its upload settings. */
    cloud: CloudStorage;
    /** The backup directory: a key prefix in the bucket. */
    path: string;
    removeFiles: boolean;
    /** Continuing: the prefix holds the interrupted run's files. */
    skipDirCheck?: boolean;
  }
  | {
    kind: "cloudFile";
    /** The bucket or container, and its upload settings. */
    cloud: CloudStorage;
    /** The object's key. */
    path: string;
  }
  | { kind: "none" };

/** What `asbackup` was asked to do. */
export interface BackupPlan {
  /** `backup`, `estimate` (-e), or `removeArtifacts` (--remove-artifacts). */
  mode: "backup" | "estimate" | "removeArtifacts";
  /** The configuration to resolve with `resolveBackupConfig`. */
  config: BackupConfigInput;
  /** Where files go. */
  target: BackupTarget;
  /** Records sampled by an estimate. */
  estimateSamples: number;
}

/**
 * Maps parsed `asbackup` flags to a plan.
 *
 * @param flags The parsed flags.
 * @param secretAgent The Secret Agent, when configured.
 * @param now The clock for `HH:MM:SS` times.
 * @returns The plan.
 * @throws {FlagError} for a missing namespace or target, or contradicting flags.
 * @throws {AerobakError} `CONFIG_INVALID` for a malformed time, digest or partition list.
 */
export function backupPlanFromFlags(
  flags: ParsedFlags,
  secretAgent: SecretAgentConfig | undefined,
  now: Date = new Date(),
  cloud?: CloudStorage,
): BackupPlan {
  const directory = str(flags, "directory");
  const outputFile = str(flags, "output-file");
  const estimate = bool(flags, "estimate");
  const removeArtifacts = bool(flags, "remove-artifacts");
  if (str(flags, "namespace") === "" && !removeArtifacts) {
    throw new FlagError("--namespace is required");
  }
  if (removeArtifacts && directory === "" && (outputFile === "" || outputFile === "-")) {
    throw new FlagError("--remove-artifacts needs --directory or --output-file");
  }
  if (directory !== "" && outputFile !== "") {
    throw new FlagError("only one of --directory and --output-file may be set");
  }
  if (estimate) {
    if (directory !== "" || outputFile !== "") {
      throw new FlagError("--estimate cannot be used with --directory or --output-file");
    }
    const filters = [
      "filter-exp",
      "node-list",
      "modified-after",
      "modified-before",
      "no-ttl-only",
      "after-digest",
      "partition-list",
      "rack-list",
    ]
      .filter((f) => flags.given.has(f));
    if (filters.length > 0) throw new FlagError(`--estimate cannot be used with --${filters[0]}`);
  } else if (directory === "" && outputFile === "") {
    throw new FlagError("one of --directory or --output-file is required (or --estimate)");
  }
  if (outputFile !== "" && str(flags, "output-file-prefix") !== "") {
    throw new FlagError("--output-file-prefix is only used with --directory");
  }
  const exclusive = ["after-digest", "partition-list", "node-list", "rack-list"].filter((f) =>
    str(flags, f) !== ""
  );
  if (exclusive.length > 1) {
    throw new FlagError(`--${exclusive[0]} and --${exclusive[1]} are mutually exclusive`);
  }
  if (
    str(flags, "prefer-racks") !== "" &&
    (str(flags, "node-list") !== "" || str(flags, "rack-list") !== "")
  ) {
    throw new FlagError("--prefer-racks cannot be used with --node-list or --rack-list");
  }
  if (str(flags, "continue") !== "" && str(flags, "state-file-dst") !== "") {
    throw new FlagError("--continue and --state-file-dst are mutually exclusive");
  }
  if (str(flags, "continue") !== "" && (bool(flags, "remove-files") || removeArtifacts)) {
    throw new FlagError(
      "--continue resumes the backup in --directory: it cannot be used with --remove-files " +
        "or --remove-artifacts",
    );
  }
  if ((str(flags, "continue") !== "" || str(flags, "state-file-dst") !== "") && directory === "") {
    throw new FlagError(
      "--state-file-dst and --continue need --directory (the state file lives there)",
    );
  }

  const parallel = num(flags, "parallel");
  const singleFile = outputFile !== "";
  const preferRacks = racks(flags, "prefer-racks");
  const rackList = racks(flags, "rack-list");
  const nodeList = list(flags, "node-list");
  for (const f of ["bandwidth", "nice", "records-per-second", "max-records"]) {
    if (num(flags, f) < 0) {
      throw new FlagError(`invalid value ${num(flags, f)} for --${f}: expected 0 or more`);
    }
  }
  const bandwidthMiB = num(flags, "bandwidth") || num(flags, "nice");
  const config: BackupConfigInput = {
    namespace: str(flags, "namespace"),
    setList: list(flags, "set-list"),
    binList: list(flags, "bin-list"),
    nodeList,
    rackList,
    parallelRead: parallel,
    parallelWrite: singleFile ? 1 : parallel,
    readerWorkers: num(flags, "workers") < 0 ? "auto" : num(flags, "workers"),
    noRecords: bool(flags, "no-records"),
    noIndexes: bool(flags, "no-indexes"),
    noUdfs: bool(flags, "no-udfs"),
    noBins: bool(flags, "no-bins"),
    noTtlOnly: bool(flags, "no-ttl-only"),
    maxRecords: num(flags, "max-records"),
    recordsPerSecond: num(flags, "records-per-second"),
    bandwidth: bandwidthMiB * MIB,
    fileLimit: singleFile ? 0 : num(flags, "file-limit") * MIB,
    compact: bool(flags, "compact"),
    outputFilePrefix: str(flags, "output-file-prefix"),
    compression: compressionFromFlags(flags),
    encryption: encryptionFromFlags(flags),
    ...infoPoliciesFromFlags(flags),
    scanPolicy: {
      socketTimeoutMs: num(flags, "socket-timeout"),
      totalTimeoutMs: num(flags, "total-timeout"),
      maxRetries: num(flags, "max-retries"),
      sleepBetweenRetriesMs: num(flags, "sleep-between-retries"),
      // Node and rack backups read each partition from its master, as backup-go does.
      replica: preferRacks.length > 0
        ? "preferRack"
        : nodeList.length > 0 || rackList.length > 0
        ? "master"
        : "any",
      rackIds: preferRacks,
    },
  };
  if (secretAgent !== undefined) config.secretAgent = secretAgent;
  if (str(flags, "after-digest") !== "") {
    config.partitionFilters = [parseAfterDigest(str(flags, "after-digest"))];
  } else if (str(flags, "partition-list") !== "") {
    config.partitionFilters = parsePartitionList(str(flags, "partition-list"));
  }
  if (str(flags, "modified-after") !== "") {
    config.modAfter = parseLocalTime(str(flags, "modified-after"), {
      now,
      field: "--modified-after",
    });
  }
  if (str(flags, "modified-before") !== "") {
    config.modBefore = parseLocalTime(str(flags, "modified-before"), {
      now,
      field: "--modified-before",
    });
  }
  if (
    config.modAfter !== undefined && config.modBefore !== undefined &&
    config.modBefore <= config.modAfter
  ) {
    throw new FlagError(
      `--modified-before ${str(flags, "modified-before")} must be later than ` +
        `--modified-after ${str(flags, "modified-after")}`,
    );
  }
  if (str(flags, "filter-exp") !== "") config.filterExpression = str(flags, "filter-exp");
  if (str(flags, "state-file-dst") !== "") {
    config.stateFile = str(flags, "state-file-dst");
    config.pageSize = num(flags, "scan-page-size");
  }
  if (str(flags, "continue") !== "") {
    config.stateFile = str(flags, "continue");
    config.continue = true;
    config.pageSize = num(flags, "scan-page-size");
  }

  const removeFiles = bool(flags, "remove-files") || removeArtifacts;
  let target: BackupTarget = { kind: "none" };
  if (cloud !== undefined) {
    if (outputFile === "-") {
      throw new FlagError("--output-file -: standard output cannot be used with cloud storage");
    }
    if (outputFile !== "") target = { kind: "cloudFile", cloud, path: outputFile };
    else if (directory !== "") {
      target = { kind: "cloud", cloud, path: directory, removeFiles };
      if (str(flags, "continue") !== "") target.skipDirCheck = true;
    }
  } else if (outputFile === "-") {
    target = { kind: "stdout", bufferSize: num(flags, "std-buffer") * MIB };
  } else if (outputFile !== "") {
    target = {
      kind: "file",
      path: outputFile,
      removeFiles,
      bufferSize: num(flags, "local-buffer-size") * MIB,
    };
  } else if (directory !== "") {
    target = {
      kind: "directory",
      path: directory,
      removeFiles,
      bufferSize: num(flags, "local-buffer-size") * MIB,
    };
    if (str(flags, "continue") !== "") target.skipDirCheck = true;
  }
  return {
    mode: removeArtifacts ? "removeArtifacts" : estimate ? "estimate" : "backup",
    config,
    target,
    estimateSamples: num(flags, "estimate-samples"),
  };
}

/** The flags that cannot be combined with `asbackup --shards`. */
export const BACKUP_SHARD_CONFLICTS: readonly string[] = [
  "partition-list",
  "after-digest",
  "node-list",
  "rack-list",
  "output-file",
  "estimate",
];

/**
 * Creates the storage writer of a target: of the shard's subdirectory for a shard.
 *
 * @param target Where the backup goes.
 * @param shard The shard, for a sharded backup.
 * @returns The writer.
 */
export function openShardTarget(target: BackupTarget, shard?: ShardSpec): StorageWriter {
  const root = openBackupTarget(target);
  return shard === undefined ? root : shardWriter(root, shard);
}

/**
 * Creates the storage writer of a target.
 *
 * @param target Where the backup goes.
 * @returns The writer.
 */
export function openBackupTarget(target: BackupTarget): StorageWriter {
  switch (target.kind) {
    case "directory":
      return new DirectoryWriter(target.path, {
        removeFiles: target.removeFiles,
        bufferSize: target.bufferSize,
        skipDirCheck: target.skipDirCheck ?? false,
      });
    case "file":
      return new FileWriter(target.path, { bufferSize: target.bufferSize });
    case "stdout":
      return new StdoutWriter({ bufferSize: target.bufferSize });
    case "cloudFile":
      return new ObjectStoreFileWriter(target.cloud.store, target.path, target.cloud.writerOptions);
    case "cloud":
      return new ObjectStoreWriter(target.cloud.store, target.path, {
        ...target.cloud.writerOptions,
        removeFiles: target.removeFiles,
        skipDirCheck: target.skipDirCheck ?? false,
      });
    case "none":
      throw new AerobakError(
        "CONFIG_INVALID",
        "No backup target: set --directory or --output-file",
      );
  }
}

/**
 * Deletes what a previous backup left in the target (`--remove-artifacts`): its data files
 * and its manifest.
 *
 * @param target The directory or file.
 * @param shard The shard whose subdirectory is cleared, for a sharded backup.
 */
export async function removeArtifacts(target: BackupTarget, shard?: ShardSpec): Promise<void> {
  if (target.kind === "directory" || target.kind === "cloud") {
    const writer = openShardTarget({ ...target, removeFiles: true, skipDirCheck: false }, shard);
    await (writer as DirectoryWriter | ObjectStoreWriter).prepare();
  } else if (target.kind === "file" || target.kind === "cloudFile") {
    const storage = openBackupTarget(target);
    await storage.remove!("");
    await storage.remove!(MANIFEST_SUFFIX);
  }
}

function racks(flags: ParsedFlags, name: string): number[] {
  return list(flags, name).map((r) => {
    if (!/^\d+$/.test(r)) {
      throw new FlagError(`invalid rack id "${r}" in --${name}: expected a non-negative integer`);
    }
    return Number(r);
  });
}
