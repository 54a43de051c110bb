/**
 * Maps `asrestore` flags to a restore configuration and a storage source, with the CLI's own
 * rules (cli-flags.md §2): exactly one source, namespace `src[,dst]`, `--parallel 0` = CPUs,
 * write policy from `--unique`/`--replace`/`--no-generation`.
 *
 * @module
 */

import type { RestoreConfigInput } from "../lib/restore/config.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { DirectoryListReader, DirectoryReader, FileListReader } from "../lib/io/local_reader.ts";
import { StdinReader } from "../lib/io/std_storage.ts";
import type { StorageReader } from "../lib/io/storage.ts";
import {
  bool,
  compressionFromFlags,
  encryptionFromFlags,
  list,
  num,
  str,
} from "./_common_options.ts";
import { FlagError, type ParsedFlags } from "./_flags.ts";
import { infoPoliciesFromFlags } from "./_job_flags.ts";
import { MIB } from "./_backup_options.ts";

/** Where a restore reads from. */
export type RestoreSource =
  | { kind: "directory"; path: string }
  | { kind: "directoryList"; paths: string[]; parentDirectory: string }
  | { kind: "file"; path: string }
  | { kind: "stdin" };

/** What `asrestore` was asked to do. */
export interface RestorePlan {
  /** The configuration to resolve with `resolveRestoreConfig`. */
  config: RestoreConfigInput;
  /** Where the files are. */
  source: RestoreSource;
  /** `--mode`: the file format, or `"auto"` to pick it from the files (see `restoreFormat`). */
  mode: RestoreMode;
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
  if (inputFile === "-") source = { kind: "stdin" };
  else if (inputFile !== "") source = { kind: "file", path: inputFile };
  else if (directory !== "") source = { kind: "directory", path: directory };
  else {source = {
      kind: "directoryList",
      paths: directoryList,
      parentDirectory: str(flags, "parent-directory"),
    };}
  return { config, source, mode };
}

/**
 * Picks the file format of a restore: the `--mode` given, or for `auto` ASBX when the source
 * holds `.asbx` files and no `.asb` files (a single file: when its name ends with `.asbx`),
 * else ASB.
 *
 * @param plan The plan.
 * @returns The restore configuration's `encoderType`.
 * @throws {AerobakError} when a directory cannot be listed.
 */
export async function restoreFormat(plan: RestorePlan): Promise<"ASB" | "ASBX"> {
  if (plan.mode !== "auto") return plan.mode === "asbx" ? "ASBX" : "ASB";
  const { source } = plan;
  if (source.kind === "stdin") return "ASB";
  if (source.kind === "file") return source.path.endsWith(".asbx") ? "ASBX" : "ASB";
  const count = async (extension: string) =>
    (await Array.fromAsync(openRestoreSource(source, { extension }).list())).length;
  return await count(".asbx") > 0 && await count(".asb") === 0 ? "ASBX" : "ASB";
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
  }
}
