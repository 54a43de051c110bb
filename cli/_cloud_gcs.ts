/**
 * Maps the `--gcp-*` flags of asbackup and asrestore to a {@linkcode GcsStore}, the writer's
 * chunk size, and the reader's retry policy, with backup-go's checks (aerospike-backup-cli
 * `models.GcpStorage.Validate` and `StorageCommon.Validate`).
 *
 * @module
 */

import { GCS_CHUNK_ALIGNMENT, gcsEndpointBase, GcsStore } from "../lib/io/cloud/gcs.ts";
import type { ObjectStoreWriterOptions, RequestRetryPolicy } from "../lib/io/object_store.ts";
import { bool, numAtLeast, readRetryFromFlags, str } from "./_common_options.ts";
import { FlagError, type ParsedFlags } from "./_flags.ts";

/**
 * Builds the Cloud Storage store from the flags. As in backup-go, `--gcp-endpoint-override`
 * without `--gcp-key-path` sends no credentials (emulators); with a key path the requests
 * are authenticated (backup-go refuses that combination).
 *
 * @param flags Parsed flags (`secrets:` references already resolved).
 * @param restore Whether for asrestore (no chunk size or checksum flags then).
 * @param env Environment: `GOOGLE_APPLICATION_CREDENTIALS`, `HOME`/`CLOUDSDK_CONFIG` for the
 *   gcloud ADC file, `GCE_METADATA_HOST`, `STORAGE_EMULATOR_HOST`.
 * @param readTextFile Reads the credentials file.
 * @returns The store.
 * @throws {FlagError} for a missing bucket, a bad endpoint, a negative number, a multiplier
 *   below 1, or (backup) a chunk size below 1.
 */
export function gcsStoreFromFlags(
  flags: ParsedFlags,
  restore: boolean,
  env: Record<string, string>,
  readTextFile: (path: string) => Promise<string>,
): GcsStore {
  const bucket = str(flags, "gcp-bucket-name");
  if (bucket === "") throw new FlagError("--gcp-bucket-name is required for Google Cloud Storage");
  if (bucket.includes("/")) {
    throw new FlagError(`invalid value "${bucket}" for --gcp-bucket-name: expected a bucket name`);
  }
  const endpoint = str(flags, "gcp-endpoint-override");
  if (endpoint !== "") {
    try {
      gcsEndpointBase(endpoint);
    } catch {
      throw new FlagError(
        `invalid value "${endpoint}" for --gcp-endpoint-override: expected an http or https URL`,
      );
    }
  }
  if (!restore) gcsWriterOptions(flags);
  else gcsReadRetry(flags);
  return new GcsStore({
    bucket,
    keyPath: str(flags, "gcp-key-path"),
    endpoint,
    calculateChecksum: restore ? false : bool(flags, "gcp-calculate-checksum"),
    retry: {
      maxAttempts: numAtLeast(flags, "gcp-retry-max-attempts", 0),
      initialBackoffMs: numAtLeast(flags, "gcp-retry-init-backoff", 0),
      multiplier: numAtLeast(flags, "gcp-retry-backoff-multiplier", 1),
      maxBackoffMs: numAtLeast(flags, "gcp-retry-max-backoff", 0),
    },
    maxConnsPerHost: numAtLeast(flags, "gcp-max-conns-per-host", 0),
    requestTimeoutMs: numAtLeast(flags, "gcp-request-timeout", 0),
    env,
    readTextFile,
  });
}

/**
 * The chunk size and upload concurrency of asbackup's Cloud Storage writer.
 *
 * @param flags Parsed asbackup flags.
 * @returns `partSize`: `--gcp-chunk-size` MiB (a multiple of 256 KiB, as resumable uploads
 *   need); `uploadConcurrency`: 1, since a resumable upload takes its chunks in order.
 * @throws {FlagError} for a chunk size below 1.
 */
export function gcsWriterOptions(
  flags: ParsedFlags,
): Required<Pick<ObjectStoreWriterOptions, "partSize" | "uploadConcurrency">> {
  const bytes = numAtLeast(flags, "gcp-chunk-size", 1) * 1024 * 1024;
  return {
    partSize: Math.ceil(bytes / GCS_CHUNK_ALIGNMENT) * GCS_CHUNK_ALIGNMENT,
    uploadConcurrency: 1,
  };
}

/**
 * How asrestore resumes a broken Cloud Storage download (`--gcp-retry-read-*`).
 *
 * @param flags Parsed asrestore flags.
 * @returns The policy; `maxAttempts` is the flag's value (0 = one attempt), counted as the
 *   other providers count it.
 * @throws {FlagError} for a backoff below 1 ms or a multiplier below 1 (backup-go's rules).
 */
export function gcsReadRetry(flags: ParsedFlags): RequestRetryPolicy {
  return readRetryFromFlags(flags, "gcp-", 1);
}
