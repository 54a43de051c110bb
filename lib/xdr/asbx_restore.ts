/**
 * ASBX restore (backup-go `Restore` with `EncoderTypeASBX`): replays the stored XDR
 * messages, each to the master node of its record's partition. Each message is sent as
 * XDR shipped it (ops, LUTs, generation, TTL), only its info bits patched for the write
 * policy (`patchReplayPayload`), like backup-go's `PutPayload`: the server decides.
 *
 * Order matters (a record's versions are stored oldest first, a delete after its writes),
 * so the files of one writer prefix are replayed by one worker, in ascending file number,
 * records in file order. Prefixes map to workers as in backup-go: prefix `p` goes to worker
 * `p`, prefixes beyond the last worker all go to the last one.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import { ResultCode, resultCodeName } from "../aerospike/result_code.ts";
import { AerobakError } from "../errors.ts";
import { decodeAsbx } from "../format/asbx/decoder.ts";
import type { AsbxToken } from "../format/asbx/encoder.ts";
import { groupAsbxFiles, parseAsbxFileName } from "../format/asbx/file_name.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import { openReadChain, type ReadChain } from "../io/file_chain.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";
import type { Clock } from "../pipeline/clock.ts";
import { fixedFanout } from "../pipeline/fanout.ts";
import { startCountedJob } from "../pipeline/_counted_job.ts";
import { Pipe, type PipeReader, type PipeWriter, type Processor } from "../pipeline/pipe.ts";
import { LeakyBucket, TokenBucket } from "../pipeline/rate_limiter.ts";
import { retryAttempts, retryDelayMs, type RetryPolicy } from "../policy.ts";
import type { RestoreConfig } from "../restore/config.ts";
import { recordRef } from "../restore/processors.ts";
import {
  bytesReadFrom,
  checkRestoreInput,
  type RestoreHandle,
  type RestoreJobOptions,
} from "../restore/restore.ts";
import { RestoreCounters } from "../restore/stats.ts";
import { classifyWriteResult } from "../restore/write_result.ts";
import { checkReplayPayload, patchReplayPayload } from "./replay.ts";

/** What the replay needs from a cluster; `Cluster` satisfies it. */
export type AsbxRestoreCluster = Pick<Cluster, "putPayload">;

/**
 * Starts an ASBX restore (or, with `validateOnly`, a check of every file) and returns its
 * handle at once.
 *
 * @param cluster The destination cluster, or `null` for a validate-only run.
 * @param config A resolved configuration with `encoderType: "ASBX"`.
 * @param reader Where the `.asbx` files are.
 * @param options Cancel signal, progress, clock.
 * @returns The running job. Its `wait()` rejects with `ASBX_FILE_NAME`, the decoder's
 *   `ASBX_*` codes (naming file and offset), `RESTORE_WRITE_FAILED` (naming the record),
 *   storage and encryption errors, or `CANCELLED`.
 *
 * @example
 * ```ts ignore
 * import { Cluster } from "../aerospike/cluster.ts";
 * import { DirectoryReader } from "../io/local_reader.ts";
 * import { resolveRestoreConfig } from "../restore/config.ts";
 * import { startAsbxRestore } from "./asbx_restore.ts";
 * await using cluster = await Cluster.connect({ hosts: "127.0.0.1:3000" });
 * const config = resolveRestoreConfig({ encoderType: "ASBX", parallel: 4 });
 * const reader = new DirectoryReader("/backups/x", { extension: ".asbx" });
 * console.log((await startAsbxRestore(cluster, config, reader).wait()).recordsInserted);
 * ```
 */
export function startAsbxRestore(
  cluster: AsbxRestoreCluster | null,
  config: Readonly<RestoreConfig>,
  reader: StorageReader,
  options: RestoreJobOptions = {},
): RestoreHandle {
  const counters = new RestoreCounters();
  const open = new Set<ReadChain>();
  const openBytes = () => bytesReadFrom(open);
  return startCountedJob(async ({ signal, clock, onPipe }) => {
    const pipe = await buildPipe(cluster, config, reader, { signal, clock, counters, open });
    if (pipe === undefined) return;
    onPipe(pipe);
    await pipe.run();
  }, { ...options, counters, openBytes });
}

interface RunContext {
  signal: AbortSignal;
  clock: Clock;
  counters: RestoreCounters;
  open: Set<ReadChain>;
}

async function buildPipe(
  cluster: AsbxRestoreCluster | null,
  config: Readonly<RestoreConfig>,
  storage: StorageReader,
  ctx: RunContext,
): Promise<Pipe<AsbxToken> | undefined> {
  checkRestoreInput(cluster, config, "ASBX");
  const encryptionKey = await loadJobEncryptionKey(config.encryption, {
    secretAgent: config.secretAgent,
  });
  const entries: StorageEntry[] = [];
  for await (const e of storage.list()) entries.push(e);
  if (entries.length === 0) return undefined;

  // Writer prefix p → worker min(p, parallel - 1), each worker's files in replay order.
  const workers: StorageEntry[][] = [];
  for (const [prefix, files] of groupAsbxFiles(entries, (e) => e.name)) {
    const w = Math.min(prefix, config.parallel - 1);
    (workers[w] ??= []).push(...files);
  }
  const lists = workers.filter((l) => l !== undefined);
  const readers: PipeReader<AsbxToken>[] = lists.map((files) => () =>
    readFiles(files, storage, config, encryptionKey, ctx)
  );
  const processors: Processor<AsbxToken>[] = [{
    process: (t) => {
      ctx.counters.recordsRead++;
      return t;
    },
  }];
  if (config.recordsPerSecond > 0 && !config.validateOnly) {
    const limiter = new TokenBucket(config.recordsPerSecond, {
      clock: ctx.clock,
      signal: ctx.signal,
    });
    processors.push({
      process: (t) => {
        const wait = limiter.take();
        return wait ? wait.then(() => t) : t;
      },
    });
  }
  const writers: PipeWriter<AsbxToken>[] = lists.map(() =>
    config.validateOnly ? { write: () => 0, close: () => Promise.resolve() } : new ReplayWriter({
      cluster: cluster!,
      policy: config.writePolicy,
      retry: config.retryPolicy,
      ignoreRecordError: config.ignoreRecordError,
      counters: ctx.counters,
      clock: ctx.clock,
      signal: ctx.signal,
    })
  );
  const bandwidth = config.bandwidth > 0 && !config.validateOnly
    ? new LeakyBucket(config.bandwidth, { clock: ctx.clock, signal: ctx.signal })
    : undefined;
  return new Pipe({ readers, processors, writers }, {
    fanout: fixedFanout(),
    bandwidth,
    signal: ctx.signal,
  });
}

async function* readFiles(
  files: readonly StorageEntry[],
  storage: StorageReader,
  config: Readonly<RestoreConfig>,
  encryptionKey: Uint8Array | undefined,
  ctx: RunContext,
): AsyncGenerator<AsbxToken> {
  for (const entry of files) {
    const { fileNumber } = parseAsbxFileName(entry.name);
    const chain = openReadChain(await storage.open(entry), {
      compression: config.compression,
      encryptionKey,
      file: entry.path,
      checkHeader: "asbx",
    });
    ctx.open.add(chain);
    try {
      yield* decodeAsbx(chain.readable, { file: entry.path, fileNumber });
    } finally {
      ctx.open.delete(chain);
      ctx.counters.closedBytes += chain.bytesRead();
    }
  }
}

/** What a {@linkcode ReplayWriter} needs. */
interface ReplayContext {
  cluster: AsbxRestoreCluster;
  policy: Readonly<WritePolicy>;
  retry: Readonly<RetryPolicy>;
  ignoreRecordError: boolean;
  counters: RestoreCounters;
  clock: Clock;
  signal: AbortSignal;
}

/** Replays tokens one at a time, in order, retrying retriable failures. */
class ReplayWriter implements PipeWriter<AsbxToken> {
  readonly #ctx: ReplayContext;

  constructor(ctx: ReplayContext) {
    this.#ctx = ctx;
  }

  async write(token: AsbxToken): Promise<number> {
    const ctx = this.#ctx;
    const { set, isDelete } = checkReplayPayload(token);
    // Once, before the first attempt: the token owns its payload, and retries send the
    // same bytes.
    patchReplayPayload(token.payload, ctx.policy);
    const attempts = retryAttempts(ctx.retry);
    for (let k = 0;; k++) {
      let code = 0;
      let error: unknown;
      try {
        code =
          (await ctx.cluster.putPayload(token.namespace, token.digest, token.payload, ctx.policy))
            .resultCode;
      } catch (e) {
        if (e instanceof AerobakError && e.inDoubt) ctx.counters.errorsInDoubt++;
        // Transport failures are retried; a malformed payload never.
        if (e instanceof AerobakError && e.code === "PAYLOAD_INVALID") {
          throw failed(token, set, 0, e);
        }
        error = e;
      }
      if (error === undefined) {
        // A delete of a record that is already gone (2) did what it was meant to do.
        // Deletes have no counter of their own in the restore stats: like backup-go,
        // whose payload writer counts every accepted payload as inserted, they count as
        // inserted.
        const outcome = isDelete && code === ResultCode.KEY_NOT_FOUND
          ? "inserted"
          : classifyWriteResult(code, { ignoreRecordError: ctx.ignoreRecordError, batch: false });
        if (outcome === "fail") throw failed(token, set, code);
        if (outcome !== "retry") {
          count(ctx.counters, outcome);
          return token.payload.length;
        }
      }
      if (k + 1 >= attempts) throw failed(token, set, code, error);
      ctx.counters.retries++;
      await ctx.clock.sleep(retryDelayMs(ctx.retry, k), ctx.signal);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function count(c: RestoreCounters, outcome: "inserted" | "fresher" | "existed" | "ignored"): void {
  if (outcome === "inserted") c.recordsInserted++;
  else if (outcome === "fresher") c.recordsFresher++;
  else if (outcome === "existed") c.recordsExisted++;
  else c.recordsIgnored++;
}

function failed(token: AsbxToken, set: string, code: number, cause?: unknown): AerobakError {
  const { namespace, digest } = token;
  const ref = recordRef({ namespace, set, digest, generation: 0, voidTime: 0, bins: [] });
  const what = code === 0 && cause instanceof Error
    ? cause.message
    : `server returned ${code} ${resultCodeName(code)}`;
  return new AerobakError(
    "RESTORE_WRITE_FAILED",
    `Cannot restore record ${ref.digest} of ${token.namespace}/${set}: ${what}`,
    { cause, record: ref, resultCode: code === 0 ? undefined : code },
  );
}
