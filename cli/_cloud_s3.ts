/**
 * Maps the `--s3-*` flags of asbackup and asrestore to an {@linkcode S3Store}, the writer's
 * part size and concurrency, and the reader's retry policy, with the checks of backup-go's
 * CLI (aerospike-backup-cli `models.AwsS3.Validate`, the AWS SDK's storage class, tier and
 * part size rules) plus a refusal of a key id without its secret (backup-go ignores it).
 *
 * @module
 */

import {
  S3_RESTORE_TIERS,
  S3_STORAGE_CLASSES,
  type S3RestoreTier,
  type S3StorageClass,
  S3Store,
  type S3StoreOptions,
} from "../lib/io/cloud/s3.ts";
import type { RequestRetryPolicy } from "../lib/io/object_store.ts";
import { bool, choice, numAtLeast, readRetryFromFlags, str } from "./_common_options.ts";
import { FlagError, type ParsedFlags } from "./_flags.ts";

/** S3's smallest part (but the last), in MiB; the AWS SDK's uploader refuses less. */
const MIN_PART_MIB = 5;

/** The AWS SDK uploader's concurrency when `--s3-upload-concurrency` is 0. */
const DEFAULT_UPLOAD_CONCURRENCY = 5;

/** The AWS SDK's attempts when `--s3-retry-max-attempts` is 0. */
const DEFAULT_MAX_ATTEMPTS = 3;

/** A flag with fixed values (any case), in canonical spelling; `undefined` when empty. */
function optionalChoice<T extends string>(
  flags: ParsedFlags,
  name: string,
  allowed: readonly T[],
): T | undefined {
  return str(flags, name) === "" ? undefined : choice(flags, name, allowed);
}

/**
 * The S3 store options the flags describe (what {@linkcode s3StoreFromFlags} builds).
 *
 * @param flags Parsed flags (`secrets:` references already resolved).
 * @param restore Whether for asrestore (tier and poll flags) or asbackup (storage class,
 *   checksum).
 * @param env Environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
 *   `AWS_PROFILE`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_SHARED_CREDENTIALS_FILE`,
 *   `AWS_CONFIG_FILE`, `HOME`.
 * @param readTextFile Reads `~/.aws/credentials` and `~/.aws/config` (on the first request).
 * @returns The options.
 * @throws {FlagError} for a missing bucket, an endpoint that is not an http(s) URL, a key id
 *   without its secret (or the reverse), an unknown storage class or tier, or a number out
 *   of range.
 */
export function s3OptionsFromFlags(
  flags: ParsedFlags,
  restore: boolean,
  env: Record<string, string>,
  readTextFile: (path: string) => Promise<string>,
): S3StoreOptions {
  const bucket = str(flags, "s3-bucket-name");
  if (bucket === "") throw new FlagError("--s3-bucket-name is required for S3");
  const endpoint = str(flags, "s3-endpoint-override");
  if (endpoint !== "" && (!/^https?:\/\/[^/]/i.test(endpoint) || !URL.canParse(endpoint))) {
    throw new FlagError(
      `invalid value "${endpoint}" for --s3-endpoint-override: expected an http(s) URL`,
    );
  }
  const keyId = str(flags, "s3-access-key-id");
  const secret = str(flags, "s3-secret-access-key");
  if ((keyId === "") !== (secret === "")) {
    throw new FlagError(
      keyId === ""
        ? "--s3-secret-access-key also needs --s3-access-key-id"
        : "--s3-access-key-id also needs --s3-secret-access-key",
    );
  }
  const attempts = numAtLeast(flags, "s3-retry-max-attempts", 0);
  const options: S3StoreOptions = {
    bucket,
    env,
    readTextFile,
    maxConnsPerHost: numAtLeast(flags, "s3-max-conns-per-host", 0),
    requestTimeoutMs: numAtLeast(flags, "s3-request-timeout", 0),
    retry: {
      maxAttempts: attempts === 0 ? DEFAULT_MAX_ATTEMPTS : attempts,
      initialBackoffMs: 1000,
      multiplier: 2,
      maxBackoffMs: numAtLeast(flags, "s3-retry-max-backoff", 0),
    },
  };
  if (str(flags, "s3-region") !== "") options.region = str(flags, "s3-region");
  if (str(flags, "s3-profile") !== "") options.profile = str(flags, "s3-profile");
  if (keyId !== "") {
    options.accessKeyId = keyId;
    options.secretAccessKey = secret;
  }
  if (endpoint !== "") options.endpoint = endpoint;
  if (restore) {
    const tier: S3RestoreTier | undefined = optionalChoice(flags, "s3-tier", S3_RESTORE_TIERS);
    if (tier !== undefined) options.restoreTier = tier;
    options.restorePollMs = numAtLeast(flags, "s3-restore-poll-duration", 1);
  } else {
    const storageClass: S3StorageClass | undefined = optionalChoice(
      flags,
      "s3-storage-class",
      S3_STORAGE_CLASSES,
    );
    if (storageClass !== undefined) options.storageClass = storageClass;
    options.calculateChecksum = bool(flags, "s3-calculate-checksum");
    // Checked here too, so a bad part size fails before any request is sent.
    s3WriterOptions(flags);
  }
  return options;
}

/**
 * Builds the S3 store from the flags (see {@linkcode s3OptionsFromFlags}). Credentials and
 * region are looked up on the first request, in the AWS SDK's order: the key flags, the
 * `--s3-profile` profile, the `AWS_*` environment, then the `AWS_PROFILE` (or `default`)
 * profile of the shared files.
 *
 * @param flags Parsed flags.
 * @param restore Whether for asrestore.
 * @param env Environment.
 * @param readTextFile Reads the AWS shared files.
 * @returns The store.
 * @throws {FlagError} as {@linkcode s3OptionsFromFlags}.
 */
export function s3StoreFromFlags(
  flags: ParsedFlags,
  restore: boolean,
  env: Record<string, string>,
  readTextFile: (path: string) => Promise<string>,
): S3Store {
  return new S3Store(s3OptionsFromFlags(flags, restore, env, readTextFile));
}

/**
 * The part size and upload concurrency of asbackup's S3 writer.
 *
 * @param flags Parsed asbackup flags.
 * @returns `partSize` in bytes (`--s3-chunk-size` MiB, 0 = 5 MiB) and `uploadConcurrency`
 *   (`--s3-upload-concurrency`, 0 = the AWS SDK uploader's 5).
 * @throws {FlagError} for a chunk size from 1 to 4 MiB (S3 refuses parts under 5 MiB) or a
 *   negative number.
 */
export function s3WriterOptions(
  flags: ParsedFlags,
): { partSize: number; uploadConcurrency: number } {
  const mib = numAtLeast(flags, "s3-chunk-size", 0);
  if (mib !== 0 && mib < MIN_PART_MIB) {
    throw new FlagError(
      `invalid value "${mib}" for --s3-chunk-size: S3 parts must be at least ${MIN_PART_MIB} MiB`,
    );
  }
  const concurrency = numAtLeast(flags, "s3-upload-concurrency", 0);
  return {
    partSize: (mib === 0 ? MIN_PART_MIB : mib) * 1024 * 1024,
    uploadConcurrency: concurrency === 0 ? DEFAULT_UPLOAD_CONCURRENCY : concurrency,
  };
}

/**
 * How asrestore resumes a broken S3 download (`--s3-retry-read-backoff`,
 * `--s3-retry-read-multiplier`, `--s3-retry-read-max-attempts`).
 *
 * @param flags Parsed asrestore flags.
 * @returns The policy; attempts are counted as backup-go's `RequestRetryPolicy` counts them (the
 *   flag's value, at least one).
 * @throws {FlagError} for a negative backoff or a multiplier below 1.
 */
export function s3ReadRetry(flags: ParsedFlags): RequestRetryPolicy {
  return readRetryFromFlags(flags, "s3-");
}
