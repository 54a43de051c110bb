/**
 * AWS S3, Google Cloud Storage and Azure Blob flags (cli-flags.md §1, §2), and the object
 * store they select ({@linkcode cloudStorageFromFlags}): with one provider's flags set, the
 * backup directory (or input files) are keys in that bucket or container.
 *
 * @module
 */

import type { ObjectSource, ObjectStore, RequestRetryPolicy } from "../lib/io/object_store.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { azureReadRetry, azureStoreFromFlags, azureWriterOptions } from "./_cloud_azure.ts";
import { gcsReadRetry, gcsStoreFromFlags, gcsWriterOptions } from "./_cloud_gcs.ts";
import { s3ReadRetry, s3StoreFromFlags, s3WriterOptions } from "./_cloud_s3.ts";
import { str } from "./_common_options.ts";
import {
  FlagError,
  type FlagSpec,
  type FlagType,
  type FlagValue,
  type ParsedFlags,
} from "./_flags.ts";
import { resolveSecretFlag } from "./_password.ts";

type Row = [long: string, type: FlagType, def: FlagValue, help: string];

/** Connection limit and time limit of one provider's requests (same for all three). */
function connectionRows(prefix: string): Row[] {
  return [
    [`${prefix}max-conns-per-host`, "int", 0, "Max connections per host (0 = unlimited)."],
    [`${prefix}request-timeout`, "int", 600000, "Timeout in milliseconds for one request."],
  ];
}

/** How a restore resumes a broken read from one provider (same for all three). */
function readRetryRows(prefix: string): Row[] {
  return [
    [`${prefix}retry-read-backoff`, "int", 1000, "Backoff in milliseconds before resuming a read."],
    [`${prefix}retry-read-multiplier`, "float", 2, "Multiplier of the read retry backoff."],
    [`${prefix}retry-read-max-attempts`, "uint", 3, "Maximum read retries."],
  ];
}

const S3_COMMON: Row[] = [
  ["s3-bucket-name", "string", "", "Existing S3 bucket name."],
  ["s3-region", "string", "", "The S3 region that the bucket(s) exist in."],
  ["s3-profile", "string", "", "The S3 profile to use for credentials."],
  [
    "s3-access-key-id",
    "string",
    "",
    "S3 access key id. If not set, profile auth info will be used.",
  ],
  [
    "s3-secret-access-key",
    "string",
    "",
    "S3 secret access key. If not set, profile auth info will be used.",
  ],
  ["s3-endpoint-override", "string", "", "An alternate url endpoint to send S3 API calls to."],
];
/** Retries, connections and time limit of S3 requests, the last flags of both tools. */
const S3_REQUEST: Row[] = [
  ["s3-retry-max-attempts", "int", 10, "Maximum number of attempts of a failed request."],
  [
    "s3-retry-max-backoff",
    "int",
    90000,
    "Max backoff duration in milliseconds between retried attempts.",
  ],
  ...connectionRows("s3-"),
];
const S3_BACKUP: Row[] = [
  ["s3-storage-class", "string", "", "Apply storage class to backup files."],
  ["s3-chunk-size", "int", 5, "Chunk size in MiB for uploading files."],
  ["s3-upload-concurrency", "int", 0, "Files are uploaded in parts, in parallel."],
  ["s3-calculate-checksum", "bool", false, "Calculate checksum for each uploaded object."],
  ...S3_REQUEST,
];
const S3_RESTORE: Row[] = [
  [
    "s3-tier",
    "string",
    "",
    "If set, restore objects from the archive tier first: Standard, Bulk, Expedited.",
  ],
  [
    "s3-restore-poll-duration",
    "int",
    60000,
    "Interval in milliseconds to poll archived-object restores.",
  ],
  ...readRetryRows("s3-"),
  ...S3_REQUEST,
];
const GCP_COMMON: Row[] = [
  ["gcp-key-path", "string", "", "Path to file containing service account JSON key."],
  ["gcp-bucket-name", "string", "", "Name of the Google cloud storage bucket."],
  ["gcp-endpoint-override", "string", "", "An alternate url endpoint to send GCP API calls to."],
];
/** Retries, connections and time limit of GCS requests, the last flags of both tools. */
const GCP_REQUEST: Row[] = [
  ["gcp-retry-max-attempts", "int", 10, "Max retries of a failed request."],
  ["gcp-retry-max-backoff", "int", 90000, "Max backoff in milliseconds between retries."],
  ["gcp-retry-init-backoff", "int", 60000, "Initial backoff in milliseconds between retries."],
  ["gcp-retry-backoff-multiplier", "float", 2, "Multiplier of the retry backoff."],
  ...connectionRows("gcp-"),
];
const GCP_BACKUP: Row[] = [
  ["gcp-chunk-size", "int", 5, "Chunk size in MiB for uploading files."],
  ["gcp-calculate-checksum", "bool", false, "Calculate checksum for each uploaded object."],
  ...GCP_REQUEST,
];
const GCP_RESTORE: Row[] = [...readRetryRows("gcp-"), ...GCP_REQUEST];
const AZURE_COMMON: Row[] = [
  ["azure-account-name", "string", "", "Azure account name for account name, key authorization."],
  ["azure-account-key", "string", "", "Azure account key for account name, key authorization."],
  ["azure-tenant-id", "string", "", "Azure tenant ID for Azure Active Directory authorization."],
  ["azure-client-id", "string", "", "Azure client ID for Azure Active Directory authorization."],
  [
    "azure-client-secret",
    "string",
    "",
    "Azure client secret for Azure Active Directory authorization.",
  ],
  ["azure-endpoint", "string", "", "Azure endpoint."],
  ["azure-container-name", "string", "", "Azure container Name."],
];
/** Retries, connections and time limit of Azure requests, the last flags of both tools. */
const AZURE_REQUEST: Row[] = [
  ["azure-retry-max-attempts", "int", 10, "Max retries of a failed request."],
  ["azure-retry-max-delay", "int", 90000, "Max delay in milliseconds between retries."],
  ["azure-retry-delay", "int", 60000, "Delay in milliseconds before a retry."],
  ...connectionRows("azure-"),
];
const AZURE_BACKUP: Row[] = [
  ["azure-access-tier", "string", "", "Azure access tier for backup files: Cold, Cool, Hot."],
  ["azure-block-size", "int", 5, "Block size in MiB for uploading files."],
  ["azure-upload-concurrency", "int", 1, "Files are uploaded in blocks, in parallel."],
  ["azure-calculate-checksum", "bool", false, "Calculate checksum for each uploaded object."],
  ...AZURE_REQUEST,
];
const AZURE_RESTORE: Row[] = [
  ["azure-access-tier", "string", "", "Tier to rehydrate archived blobs to: Cold, Cool, Hot."],
  ["azure-rehydrate-poll-duration", "int", 60000, "Interval in milliseconds to poll rehydration."],
  ...readRetryRows("azure-"),
  ...AZURE_REQUEST,
];

function specs(rows: Row[], group: string, prefix: string, yamlRoot: string): FlagSpec[] {
  return rows.map(([long, type, def, help]) => ({
    long,
    type,
    default: def,
    group,
    help,
    yaml: `${yamlRoot}.${long.slice(prefix.length)}`,
  }));
}

/**
 * The cloud storage flags of one CLI.
 *
 * @param restore Whether for asrestore.
 * @returns The flags, grouped as `--help` prints them.
 */
export function cloudFlags(restore: boolean): FlagSpec[] {
  const aws = "AWS Storage Flags";
  const gcp = "GCP Storage Flags";
  const azure = "Azure Storage Flags";
  const s3 = [...S3_COMMON, ...(restore ? S3_RESTORE : S3_BACKUP)];
  const gs = [...GCP_COMMON, ...(restore ? GCP_RESTORE : GCP_BACKUP)];
  const az = [...AZURE_COMMON, ...(restore ? AZURE_RESTORE : AZURE_BACKUP)];
  return [
    ...specs(s3, aws, "s3-", "aws.s3"),
    ...specs(gs, gcp, "gcp-", "gcp.storage"),
    ...specs(az, azure, "azure-", "azure.blob"),
  ];
}

/**
 * Names the cloud flags that were set.
 *
 * @param flags The parsed flags.
 * @returns The long names of the cloud flags given, in order.
 */
export function cloudFlagsGiven(flags: ParsedFlags): string[] {
  return [...flags.given].filter((f) => /^(s3|gcp|azure)-/.test(f));
}

/** The cloud storage a run uses, from one provider's flags. */
export interface CloudStorage {
  /** The bucket or container. */
  store: ObjectStore;
  /** Part size and parallel parts of uploads (`--*-chunk-size`, `--*-upload-concurrency`). */
  writerOptions: { partSize: number; uploadConcurrency: number };
  /** How a broken download resumes (`--*-retry-read-*`). */
  readRetry: RequestRetryPolicy;
  /**
   * Brings archived files back before a restore reads them (S3 Glacier with `--s3-tier`,
   * Azure Archive with `--azure-access-tier`), all at once as backup-go does; a no-op for
   * other stores.
   */
  prepareRestore(source: ObjectSource, extension: string): Promise<void>;
}

/** What building a store from flags needs from the process. */
export interface CloudSources {
  /** Environment variables (credentials, regions, profiles). */
  env: Record<string, string>;
  /** Reads credential and key files. */
  readTextFile: (path: string) => Promise<string>;
}

/**
 * Builds the object store selected by the cloud flags, resolving `secrets:` references in
 * them first.
 *
 * @param flags The parsed flags.
 * @param restore Whether for asrestore.
 * @param sources Environment and file reader.
 * @param secretAgent The Secret Agent for `secrets:` values.
 * @returns The storage, or `undefined` when no cloud flag is set.
 * @throws {FlagError} When flags of two providers are set, or a provider's flags are invalid.
 */
export async function cloudStorageFromFlags(
  flags: ParsedFlags,
  restore: boolean,
  sources: CloudSources,
  secretAgent: SecretAgentConfig | undefined,
): Promise<CloudStorage | undefined> {
  const given = cloudFlagsGiven(flags);
  if (given.length === 0) return undefined;
  const providers = [...new Set(given.map((f) => f.slice(0, f.indexOf("-"))))];
  if (providers.length > 1) {
    throw new FlagError(
      `--${given.find((f) => f.startsWith(providers[1]))} and --${
        given.find((f) => f.startsWith(providers[0]))
      }: only one cloud provider may be configured`,
    );
  }
  const resolved: ParsedFlags = { ...flags, values: new Map(flags.values) };
  for (const f of given) {
    const v = flags.values.get(f);
    if (typeof v === "string") resolved.values.set(f, await resolveSecretFlag(f, v, secretAgent));
  }
  const { env, readTextFile } = sources;
  switch (providers[0]) {
    case "s3": {
      const store = s3StoreFromFlags(resolved, restore, env, readTextFile);
      return {
        store,
        writerOptions: restore ? NO_UPLOADS : s3WriterOptions(resolved),
        readRetry: restore ? s3ReadRetry(resolved) : {},
        prepareRestore: async (source, extension) => {
          await store.prepareRestore(source, extension);
        },
      };
    }
    case "gcp": {
      return {
        store: gcsStoreFromFlags(resolved, restore, env, readTextFile),
        writerOptions: restore ? NO_UPLOADS : gcsWriterOptions(resolved),
        readRetry: restore ? gcsReadRetry(resolved) : {},
        prepareRestore: () => Promise.resolve(),
      };
    }
    default: {
      const store = azureStoreFromFlags(resolved, restore, env, readTextFile);
      const rehydrate = restore && str(resolved, "azure-access-tier") !== "";
      return {
        store,
        writerOptions: restore ? NO_UPLOADS : azureWriterOptions(resolved),
        readRetry: restore ? azureReadRetry(resolved) : {},
        prepareRestore: async (source, extension) => {
          if (rehydrate) await store.rehydrate(source, { extension });
        },
      };
    }
  }
}

/** Writer options of a restore run (it uploads nothing). */
const NO_UPLOADS = { partSize: 5 * 1024 * 1024, uploadConcurrency: 1 };
