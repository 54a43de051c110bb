/**
 * The entry point of the job library: a {@linkcode BackupClient} starts backups, restores
 * and estimates against a connected cluster and returns a handle at once.
 *
 * @module
 */

import type { Cluster } from "./aerospike/cluster.ts";
import { type BackupHandle, type BackupJobOptions, startBackup } from "./backup/backup.ts";
import { type BackupConfigInput, resolveBackupConfig } from "./backup/config.ts";
import { type Estimate, estimateBackup, type EstimateOptions } from "./backup/estimate.ts";
import type { StorageReader, StorageWriter } from "./io/storage.ts";
import { resolveRestoreConfig, type RestoreConfigInput } from "./restore/config.ts";
import { type RestoreHandle, type RestoreJobOptions, startRestore } from "./restore/restore.ts";
import {
  type BackupXdrHandle,
  type BackupXdrJobOptions,
  startBackupXdr,
} from "./xdr/backup_xdr.ts";
import { type BackupXdrConfigInput, resolveBackupXdrConfig } from "./xdr/config.ts";
import { startAsbxRestore } from "./xdr/asbx_restore.ts";
import { startVerify, type VerifyJobOptions, type VerifyStats } from "./restore/verify.ts";
import type { JobHandle } from "./pipeline/job.ts";

/** Options of {@linkcode BackupClient}. */
export interface BackupClientOptions {
  /**
   * Identifies the client in messages.
   *
   * @default {"aerobak"}
   */
  id?: string;
}

/**
 * Starts backup and restore jobs on one cluster. Jobs may run concurrently.
 *
 * @example Back up a namespace into a directory, then restore it elsewhere
 * ```ts ignore
 * import { Cluster } from "./aerospike/cluster.ts";
 * import { DirectoryReader, DirectoryWriter } from "./io/mod.ts";
 * import { BackupClient } from "./client.ts";
 * await using cluster = await Cluster.connect({ hosts: "127.0.0.1:3000" });
 * const client = new BackupClient(cluster);
 * const backup = client.backup({ namespace: "test", parallelRead: 4, parallelWrite: 4 }, new DirectoryWriter("/tmp/bk"));
 * console.log((await backup.wait()).recordsRead);
 * const restore = client.restore({ namespace: { source: "test", destination: "bar" } }, new DirectoryReader("/tmp/bk"));
 * console.log((await restore.wait()).recordsInserted);
 * ```
 */
export class BackupClient {
  readonly #cluster: Cluster | null;
  /** The client's id. */
  readonly id: string;

  /**
   * Creates a client.
   *
   * @param cluster A connected cluster, or `null` for validate-only restores.
   * @param options The client id.
   */
  constructor(cluster: Cluster | null, options: BackupClientOptions = {}) {
    this.#cluster = cluster;
    this.id = options.id ?? "aerobak";
  }

  /**
   * Validates the configuration and starts a backup.
   *
   * @param config Backup settings; missing fields take their defaults.
   * @param writer Where the files go.
   * @param options Cancel signal, progress, clock.
   * @returns The running job's handle.
   * @throws {AerobakError} `CONFIG_INVALID` at once for a bad configuration.
   * @throws {TypeError} When the client has no cluster.
   */
  backup(
    config: BackupConfigInput,
    writer: StorageWriter,
    options: BackupJobOptions = {},
  ): BackupHandle {
    const cluster = this.#requireCluster("back up");
    return startBackup(cluster, resolveBackupConfig(config), writer, options);
  }

  /**
   * Validates the configuration and starts a restore (or a validate-only run).
   *
   * @param config Restore settings; missing fields take their defaults.
   * @param reader Where the files are.
   * @param options Cancel signal, progress, clock.
   * @returns The running job's handle.
   * @throws {AerobakError} `CONFIG_INVALID` at once for a bad configuration.
   * @throws {TypeError} When the client has no cluster and `validateOnly` is not set.
   */
  restore(
    config: RestoreConfigInput,
    reader: StorageReader,
    options: RestoreJobOptions = {},
  ): RestoreHandle {
    const resolved = resolveRestoreConfig(config);
    if (!resolved.validateOnly) this.#requireCluster("restore");
    if (resolved.encoderType === "ASBX") {
      return startAsbxRestore(this.#cluster, resolved, reader, options);
    }
    return startRestore(this.#cluster, resolved, reader, options);
  }

  /**
   * Validates the configuration and starts a verify: the backup read as a restore would
   * read it with this configuration, every record batch-read from the cluster and
   * classified identical, changed (since `changedSince`), different or missing; nothing
   * is written.
   *
   * @param config Restore settings (namespace mapping, set and bin lists, file options,
   *   batch size, parallelism, retries).
   * @param reader Where the files are.
   * @param options Time window, extra-record scan, cancel signal, progress.
   * @returns The running job's handle.
   * @throws {AerobakError} `CONFIG_INVALID` at once for a bad configuration or ASBX files.
   * @throws {TypeError} When the client has no cluster.
   */
  verify(
    config: RestoreConfigInput,
    reader: StorageReader,
    options: VerifyJobOptions = {},
  ): JobHandle<VerifyStats> {
    const cluster = this.#requireCluster("verify");
    return startVerify(cluster, resolveRestoreConfig(config), reader, options);
  }

  /**
   * Validates the configuration and starts a backup through XDR into ASBX files: the job
   * listens for the cluster's XDR connections, points a connector DC of every node at
   * itself, and stores every shipped record until the rewind has caught up.
   *
   * @param config XDR backup settings (DC name, local address and port, rewind, …).
   * @param writer Where the ASBX files go.
   * @param options Cancel signal, progress, clock.
   * @returns The running job's handle.
   * @throws {AerobakError} `CONFIG_INVALID` at once for a bad configuration.
   * @throws {TypeError} When the client has no cluster.
   */
  backupXdr(
    config: BackupXdrConfigInput,
    writer: StorageWriter,
    options: BackupXdrJobOptions = {},
  ): BackupXdrHandle {
    const cluster = this.#requireCluster("back up through XDR");
    return startBackupXdr(cluster, resolveBackupXdrConfig(config), writer, options);
  }

  /**
   * Estimates the size of a backup.
   *
   * @param config Backup settings.
   * @param options Sample size and cancel signal.
   * @returns The estimate.
   */
  estimate(config: BackupConfigInput, options: EstimateOptions = {}): Promise<Estimate> {
    const cluster = this.#requireCluster("estimate");
    return estimateBackup(cluster, resolveBackupConfig(config), options);
  }

  #requireCluster(what: string): Cluster {
    if (this.#cluster === null) {
      throw new TypeError(`Cannot ${what} without a cluster: the client was created with null`);
    }
    return this.#cluster;
  }
}
