/**
 * Maps `asrestore` flags to a restore configuration and a storage source, with the CLI's own
 * rules (cli-flags.md §2): exactly one source, namespace `src[,dst]`, `--parallel 0` = CPUs,
 * write policy from `--unique`/`--replace`/`--no-generation`.
 *
 * @module
 */

import { parseLocalTime } from "../lib/backup/config_time.ts";
import type { RestoreConfigInput } from "../lib/restore/config.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { DirectoryListReader, DirectoryReader, FileListReader } from "../lib/io/local_reader.ts";
import { StdinReader } from "../lib/io/std_storage.ts";
import { type ObjectSource, ObjectStoreReader } from "../lib/io/object_store.ts";
import type { StorageReader } from "../lib/io/storage.ts";
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
import { MIB } from "./_backup_options.ts";

/** Where a restore reads from. */
export type RestoreSource =
  | { kind: "directory"; path: string }
  | { kind: "directoryList"; paths: string[]; parentDirectory: string }
  | { kind: "file"; path: string }
  | { kind: "stdin" }
  | {
    kind: "cloud";
    /** The bucket or container, and its read settings. */
    cloud: CloudStorage;
    /** The directories (key prefixes) or files (keys) in it. */
    objects: ObjectSource;
  };

/** What `asrestore` was asked to do. */
export interface RestorePlan {
  /** The configuration to resolve with `resolveRestoreConfig`. */
  config: RestoreConfigInput;
  /** Where the files are. */
  source: RestoreSource;
  /** `--mode`: the file format, or `"auto"` to pick it from the files (see `restorePasses`). */
  mode: RestoreMode;
  /** `--verify`: compare with the cluster instead of restoring. */
  verify?: {
    /** `--verify-extra`: also look for records the backup lacks. */
    extra: boolean;
    /** `--modified-before`, Unix ns: records updated at or after it count as changed. */
    changedSince?: bigint;
  };
  /** `--state-file-dst` or `--continue`: a resumable restore. */
  state?: {
    /** The state file's name (in the backup directory). */
    name: string;
    /** Whether to continue from it. */
    continue: boolean;
  };
}

/** The values of `asrestore --mode`. */
export type RestoreMode = "auto" | "asb" | "asbx";

const MODES: readonly RestoreMode[] = ["auto", "asb", "asbx"];

/**
 * Maps parsed `asrestore` flags to a plan.
 *
 * @param flags The parsed flags.
 * @param secretAgent The Secret Agent, when configured.
 * @param cpus Number of CPUs, the default of `--parallel`.
 * @returns The plan.
 * @throws {FlagError} for a missing or doubled source, a malformed namespace, or
 * contradicting flags.
 */
export function restorePlanFromFlags(
  flags: ParsedFlags,
  secretAgent: SecretAgentConfig | undefined,
  cpus: number,
  cloud?: CloudStorage,
  now: Date = new Date(),
): RestorePlan {
  const directory = str(flags, "directory");
  const inputFile = str(flags, "input-file");
  const directoryList = list(flags, "directory-list");
  const sources =
    [directory !== "", inputFile !== "", directoryList.length > 0].filter(Boolean).length;
  if (sources !== 1) {
    throw new FlagError("exactly one of --directory, --input-file or --directory-list is required");
  }
  if (str(flags, "parent-directory") !== "" && directoryList.length === 0) {
    throw new FlagError("--parent-directory requires --directory-list");
  }
  if (bool(flags, "unique") && bool(flags, "replace")) {
    throw new FlagError("--unique and --replace are mutually exclusive");
  }
  const mode = str(flags, "mode") as RestoreMode;
  if (!MODES.includes(mode)) {
    throw new FlagError(`invalid value "${mode}" for --mode: expected auto, asb or asbx`);
  }
  const validate = bool(flags, "validate");
  const verify = bool(flags, "verify") || bool(flags, "verify-extra");
  const stateDst = str(flags, "state-file-dst");
  const resumeFrom = str(flags, "continue");
  if (validate && verify) throw new FlagError("--validate and --verify are mutually exclusive");
  if (str(flags, "modified-before") !== "" && !verify) {
    throw new FlagError("--modified-before is only used with --verify");
  }
  if (stateDst !== "" && resumeFrom !== "") {
    throw new FlagError("--continue and --state-file-dst are mutually exclusive");
  }
  const stateName = stateDst || resumeFrom;
  if (stateName !== "") {
    if (validate || verify) {
      throw new FlagError(
        `--${stateDst ? "state-file-dst" : "continue"} is for restores: it cannot be used with ` +
          `--${validate ? "validate" : "verify"}`,
      );
    }
    if (inputFile === "-") {
      throw new FlagError("--state-file-dst and --continue need files: not standard input");
    }
    if (stateName.includes("/") || /\.(asb|asbx)$/.test(stateName)) {
      throw new FlagError(
        `invalid state file name "${stateName}": expected a file name (no "/") that does not ` +
          "end in .asb or .asbx",
      );
    }
  }
  const config: RestoreConfigInput = {
    setList: list(flags, "set-list"),
    binList: list(flags, "bin-list"),
    parallel: num(flags, "parallel") === 0 ? cpus : num(flags, "parallel"),
    recordsPerSecond: num(flags, "records-per-second"),
    bandwidth: (num(flags, "bandwidth") || num(flags, "nice")) * MIB,
    noRecords: bool(flags, "no-records"),
    noIndexes: bool(flags, "no-indexes"),
    noUdfs: bool(flags, "no-udfs"),
    disableBatchWrites: bool(flags, "disable-batch-writes"),
    batchSize: num(flags, "batch-size"),
    maxAsyncBatches: num(flags, "max-async-batches"),
    warmUp: num(flags, "warm-up"),
    extraTtl: num(flags, "extra-ttl"),
    ignoreRecordError: bool(flags, "ignore-record-error"),
    validateOnly: validate,
    applyMetadataLast: bool(flags, "apply-metadata-last"),
    allowPartial: bool(flags, "allow-partial"),
    writePolicy: {
      recordExistsAction: bool(flags, "replace")
        ? "replace"
        : bool(flags, "unique")
        ? "createOnly"
        : "update",
      generationPolicy: bool(flags, "no-generation") ? "none" : "expectGenGreater",
      sendKey: true,
      totalTimeoutMs: num(flags, "total-timeout"),
      socketTimeoutMs: num(flags, "socket-timeout"),
    },
    retryPolicy: {
      baseTimeoutMs: num(flags, "retry-base-interval"),
      multiplier: num(flags, "retry-multiplier"),
      maxRetries: num(flags, "retry-max-attempts"),
    },
    ...infoPoliciesFromFlags(flags),
    compression: compressionFromFlags(flags),
    encryption: encryptionFromFlags(flags),
  };
  if (secretAgent !== undefined) config.secretAgent = secretAgent;
  const ns = list(flags, "namespace");
  if (ns.length > 2 || ns.some((n) => n === "")) {
    throw new FlagError(
      `invalid value "${
        str(flags, "namespace")
      }" for --namespace: expected <source>[,<destination>]`,
    );
  }
  if (ns.length > 0) config.namespace = { source: ns[0], destination: ns[1] ?? ns[0] };

  let source: RestoreSource;
  if (cloud !== undefined) {
    if (inputFile === "-") {
      throw new FlagError("--input-file -: standard input cannot be read with cloud storage");
    }
    const parent = str(flags, "parent-directory");
    const objects: ObjectSource = inputFile !== ""
      ? { files: [inputFile] }
      : directory !== ""
      ? { directories: [directory] }
      : {
        directories: directoryList.map((
          d,
        ) => (parent ? `${parent.replace(/\/+$/, "")}/${d.replace(/^\/+/, "")}` : d)),
      };
    source = { kind: "cloud", cloud, objects };
  } else if (inputFile === "-") source = { kind: "stdin" };
  else if (inputFile !== "") source = { kind: "file", path: inputFile };
  else if (directory !== "") source = { kind: "directory", path: directory };
  else {source = {
      kind: "directoryList",
      paths: directoryList,
      parentDirectory: str(flags, "parent-directory"),
    };}
  const plan: RestorePlan = { config, source, mode };
  if (verify) {
    plan.verify = { extra: bool(flags, "verify-extra") };
    if (str(flags, "modified-before") !== "") {
      plan.verify.changedSince = parseLocalTime(str(flags, "modified-before"), {
        now,
        field: "--modified-before",
      });
    }
  }
  if (stateName !== "") plan.state = { name: stateName, continue: resumeFrom !== "" };
  return plan;
}

/** The flags that cannot be combined with `asrestore --shards`. */
export const RESTORE_SHARD_CONFLICTS: readonly string[] = ["input-file", "directory-list"];

/** One restore job of an `asrestore` run: the files of one format. */
export interface RestorePass {
  /** The restore configuration's `encoderType` (ASB reads `.asb` files, ASBX `.asbx`). */
  encoderType: "ASB" | "ASBX";
  /** Restore only UDFs and secondary indexes (records are skipped). */
  metadataOnly: boolean;
}

/**
 * Plans the restore jobs of a run from `--mode` and the files (sequential, in order):
 *
 * * `asb`: the `.asb` files.
 * * `asbx`: the `.asbx` files, and the UDFs and secondary indexes of any `.asb` files
 *   beside them (the `metadata_<ns>_<n>.asb` an XDR backup writes). backup-go's ASBX
 *   restore ignores `.asb` files; an operator restoring an XDR backup wants its indexes
 *   and UDFs back, so aerobak restores them (records of `.asb` files are not restored).
 * * `auto` (backup-go's rule for a directory: `.asb` files restored as ASB, `.asbx` files
 *   as ASBX): a directory or list with `.asbx` files gets an ASBX job, and an ASB job too
 *   when it also holds `.asb` files; otherwise ASB (a C or Go scan backup, an empty
 *   directory). A single file goes by its extension; stdin is ASB.
 *
 * Metadata goes first, so indexes exist while records arrive, unless
 * `applyMetadataLast`: then the ASB job runs after the ASBX job. With `noRecords`, a
 * directory of both formats gets the ASB job only (ASBX files hold nothing else).
 *
 * @param plan The plan.
 * @returns The jobs to run, at least one.
 * @throws {AerobakError} when a directory cannot be listed.
 */
export async function restorePasses(plan: RestorePlan): Promise<RestorePass[]> {
  const { source } = plan;
  const asb: RestorePass = { encoderType: "ASB", metadataOnly: false };
  const asbx: RestorePass = { encoderType: "ASBX", metadataOnly: false };
  if (plan.mode === "asb") return [asb];
  if (source.kind === "stdin") return [plan.mode === "asbx" ? asbx : asb];
  if (source.kind === "file") {
    return [plan.mode === "asbx" || source.path.endsWith(".asbx") ? asbx : asb];
  }
  if (source.kind === "cloud" && "files" in source.objects) {
    return [plan.mode === "asbx" || source.objects.files[0].endsWith(".asbx") ? asbx : asb];
  }
  const count = async (extension: string) =>
    (await Array.fromAsync(openRestoreSource(source, { extension }).list())).length;
  const hasAsbx = plan.mode === "asbx" || await count(".asbx") > 0;
  if (!hasAsbx) return [asb];
  if (await count(".asb") === 0) return [asbx];
  const metadata: RestorePass = { encoderType: "ASB", metadataOnly: plan.mode === "asbx" };
  if (plan.config.noRecords) return [metadata];
  return plan.config.applyMetadataLast ? [asbx, metadata] : [metadata, asbx];
}

/**
 * Creates the storage reader of a source.
 *
 * @param source Where the files are.
 * @param options Names to leave out of directory listings (metadata files in a first pass),
 * and the file name extension listed (default `.asb`; `.asbx` for ASBX).
 * @returns The reader.
 */
export function openRestoreSource(
  source: RestoreSource,
  options: { skipPrefixes?: readonly string[]; extension?: string } = {},
): StorageReader {
  switch (source.kind) {
    case "directory":
      return new DirectoryReader(source.path, { extension: ".asb", ...options });
    case "directoryList":
      return new DirectoryListReader(source.paths, {
        extension: ".asb",
        ...options,
        ...(source.parentDirectory ? { parentDirectory: source.parentDirectory } : {}),
      });
    case "file":
      return new FileListReader([source.path]);
    case "stdin":
      return new StdinReader();
    case "cloud":
      return new ObjectStoreReader(source.cloud.store, source.objects, {
        extension: ".asb",
        ...options,
        readRetry: source.cloud.readRetry,
      });
  }
}
