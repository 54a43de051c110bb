/**
 * Maps the `--azure-*` flags of asbackup and asrestore to an {@linkcode AzureBlobStore}, the
 * writer's block size and concurrency, and the reader's retry policy, with backup-go's checks
 * (aerospike-backup-cli `models.AzureBlob.Validate`) plus a refusal of half-given credentials.
 *
 * @module
 */

import { AzureBlobStore, parseAzureAccessTier } from "../lib/io/cloud/azure.ts";
import type { ObjectStoreWriterOptions, RequestRetryPolicy } from "../lib/io/object_store.ts";
import { bool, numAtLeast, readRetryFromFlags, str } from "./_common_options.ts";
import { FlagError, type ParsedFlags } from "./_flags.ts";

/** Azure's limit on one block, in MiB. */
const MAX_BLOCK_MIB = 4000;

/** Both or neither of a credential's parts. */
function wholeCredential(flags: ParsedFlags, names: readonly string[]): void {
  const given = names.filter((n) => str(flags, n) !== "");
  if (given.length > 0 && given.length < names.length) {
    const missing = names.filter((n) => !given.includes(n));
    throw new FlagError(`--${given.join(" and --")} also needs --${missing.join(" and --")}`);
  }
}

/**
 * Builds the Azure Blob store from the flags.
 *
 * @param flags Parsed flags (`secrets:` references already resolved).
 * @param restore Whether for asrestore (`--azure-access-tier` is then the rehydrate tier).
 * @param env Environment (`AZURE_AUTHORITY_HOST` for client secret tokens).
 * @param _readTextFile Unused: backup-go reads no Azure credential file.
 * @returns The store.
 * @throws {FlagError} for a missing container or endpoint, a bad tier, a negative number,
 *   or a credential given in part.
 */
export function azureStoreFromFlags(
  flags: ParsedFlags,
  restore: boolean,
  env: Record<string, string>,
  _readTextFile: (path: string) => Promise<string>,
): AzureBlobStore {
  const container = str(flags, "azure-container-name");
  if (container === "") throw new FlagError("--azure-container-name is required for Azure");
  const endpoint = str(flags, "azure-endpoint");
  if (endpoint === "") {
    throw new FlagError(
      "--azure-endpoint is required for Azure (such as https://<account>.blob.core.windows.net)",
    );
  }
  if (!/^https?:\/\/[^/]/i.test(endpoint) || !URL.canParse(endpoint)) {
    throw new FlagError(
      `invalid value "${endpoint}" for --azure-endpoint: expected an http(s) URL`,
    );
  }
  wholeCredential(flags, ["azure-account-name", "azure-account-key"]);
  wholeCredential(flags, ["azure-tenant-id", "azure-client-id", "azure-client-secret"]);
  let tier: string | undefined;
  if (str(flags, "azure-access-tier") !== "") {
    try {
      tier = parseAzureAccessTier(str(flags, "azure-access-tier"));
    } catch (err) {
      throw new FlagError(
        `invalid value "${str(flags, "azure-access-tier")}" for --azure-access-tier: ${
          (err as Error).message.replace(/^[^:]*: /, "")
        }`,
      );
    }
  }
  return new AzureBlobStore({
    endpoint,
    containerName: container,
    accountName: str(flags, "azure-account-name"),
    accountKey: str(flags, "azure-account-key"),
    tenantId: str(flags, "azure-tenant-id"),
    clientId: str(flags, "azure-client-id"),
    clientSecret: str(flags, "azure-client-secret"),
    env,
    accessTier: restore ? undefined : tier,
    rehydrateTier: restore ? tier : undefined,
    rehydratePollMs: restore ? numAtLeast(flags, "azure-rehydrate-poll-duration", 1) : undefined,
    calculateChecksum: restore ? false : bool(flags, "azure-calculate-checksum"),
    // Let --azure-upload-concurrency above the default cap through instead of capping it.
    maxConcurrentParts: restore
      ? undefined
      : Math.max(16, azureWriterOptions(flags).uploadConcurrency),
    retryMaxAttempts: numAtLeast(flags, "azure-retry-max-attempts", 0),
    retryDelayMs: numAtLeast(flags, "azure-retry-delay", 0),
    retryMaxDelayMs: numAtLeast(flags, "azure-retry-max-delay", 0),
    maxConnsPerHost: numAtLeast(flags, "azure-max-conns-per-host", 0),
    requestTimeoutMs: numAtLeast(flags, "azure-request-timeout", 0),
  });
}

/**
 * The block size and upload concurrency of asbackup's Azure writer.
 *
 * @param flags Parsed asbackup flags.
 * @returns `partSize` in bytes (`--azure-block-size` MiB, 0 = 5 MiB as in backup-go) and
 *   `uploadConcurrency` (`--azure-upload-concurrency`).
 * @throws {FlagError} for a negative or too large block size or a concurrency below 1.
 */
export function azureWriterOptions(
  flags: ParsedFlags,
): Required<Pick<ObjectStoreWriterOptions, "partSize" | "uploadConcurrency">> {
  const mib = numAtLeast(flags, "azure-block-size", 0, "MiB");
  if (mib > MAX_BLOCK_MIB) {
    throw new FlagError(
      `invalid value "${mib}" for --azure-block-size: Azure blocks hold at most ${MAX_BLOCK_MIB} MiB`,
    );
  }
  return {
    partSize: (mib === 0 ? 5 : mib) * 1024 * 1024,
    uploadConcurrency: numAtLeast(flags, "azure-upload-concurrency", 1),
  };
}

/**
 * How asrestore resumes a broken Azure download (`--azure-retry-read-*`).
 *
 * @param flags Parsed asrestore flags.
 * @returns The policy; `maxAttempts` is the flag's value (0 = one attempt), as backup-go's
 *   `RequestRetryPolicy` counts it.
 * @throws {FlagError} for a negative backoff or a multiplier below 1.
 */
export function azureReadRetry(flags: ParsedFlags): RequestRetryPolicy {
  return readRetryFromFlags(flags, "azure-");
}
