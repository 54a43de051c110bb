/**
 * ASBX restore (backup-go `Restore` with `EncoderTypeASBX`): replays the stored XDR
 * messages, each to the master node of its record's partition. Each message is sent as
 * XDR shipped it (ops, LUTs, generation, TTL), only its info bits patched for the write
 * policy (`patchReplayPayload`), like backup-go's `PutPayload`: the server decides.
 *
 * Order matters (a record's versions are stored oldest first, a delete after its writes),
 * so the files of one writer prefix are replayed by one worker, in ascending file number,
 * records in file order. Prefixes map to workers as in backup-go: prefix `p` goes to worker
 * `p`, prefixes beyond the last worker all go to the last one. Each worker keeps up to
 * `maxAsyncBatches` messages in flight, a record's messages one at a time in file order.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import { ResultCode, resultCodeName } from "../aerospike/result_code.ts";
import { AerobakError } from "../errors.ts";
import { decodeAsbx } from "../format/asbx/decoder.ts";
import { ASBX_RECORD_HEADER_SIZE, type AsbxToken } from "../format/asbx/encoder.ts";
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
      window: config.maxAsyncBatches,
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
      const decoder = decodeAsbx(chain.readable, { file: entry.path, fileNumber });
      for await (const token of decoder) {
        // Checked where the file is known: the error names file and byte, and --validate
        // catches what a replay would refuse.
        const at = decoder.offset - ASBX_RECORD_HEADER_SIZE - token.payload.length;
        checkReplayPayload(token, entry.path, at);
        yield token;
      }
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
  /** Messages in flight at once (the restore's `maxAsyncBatches`). */
  window: number;
}

/**
 * Replays one worker's tokens with up to `window` messages in flight, retrying retriable
 * failures.
 *
 * A write is latency-bound (one round trip each), so waiting for each before sending the
 * next leaves the link and the server idle. Order matters only within a record: a message
 * waits while another of its digest is in flight (retries included), so a record's
 * versions and its delete land in file order; messages of other records overlap. The pipe
 * hands tokens over one at a time, so at most one message waits here, and in flight are
 * at most `window` owned payloads.
 *
 * Records are told apart by a 30-bit hash of their digest: a small integer key costs no
 * allocation, and two records whose hashes collide only wait for each other, which keeps
 * the order.
 */
class ReplayWriter implements PipeWriter<AsbxToken> {
  readonly #ctx: ReplayContext;
  /** Digest hashes of the messages in flight. */
  readonly #inFlight = new Set<number>();
  /** Wakes the one call (`write` or `close`) waiting for a message to finish. */
  #wake: (() => void) | undefined;
  #failed = false;
  #error: unknown;
  /** Whether `write` has thrown `#error` (the pipe holds it then). */
  #reported = false;

  constructor(ctx: ReplayContext) {
    this.#ctx = ctx;
  }

  /**
   * Starts replaying a token once its record has no message in flight and the window has
   * room.
   *
   * @param token The stored message.
   * @returns The payload size, or a promise of it while the token waits.
   * @throws {AerobakError} The first failure of a message sent earlier, `ASBX_PAYLOAD` for a
   *   message that is not the token's record's.
   */
  write(token: AsbxToken): number | Promise<number> {
    if (this.#failed) return this.#throw();
    const key = digestKey(token.digest);
    if (this.#inFlight.size < this.#ctx.window && !this.#inFlight.has(key)) {
      this.#start(token, key);
      return token.payload.length;
    }
    return this.#waitThenStart(token, key);
  }

  /**
   * Waits for every message in flight.
   *
   * @throws {AerobakError} `RESTORE_WRITE_FAILED` for a failure `write` has not reported
   *   (a cancelled job reports its cancel reason instead).
   */
  async close(): Promise<void> {
    while (this.#inFlight.size > 0) await this.#settled();
    if (this.#failed && !this.#reported && !this.#ctx.signal.aborted) this.#throw();
  }

  async #waitThenStart(token: AsbxToken, key: number): Promise<number> {
    while (this.#inFlight.size >= this.#ctx.window || this.#inFlight.has(key)) {
      await this.#settled();
    }
    if (this.#failed) this.#throw();
    // Cancelled while waiting: send nothing more (the pipe reports the reason).
    this.#ctx.signal.throwIfAborted();
    this.#start(token, key);
    return token.payload.length;
  }

  #throw(): never {
    this.#reported = true;
    throw this.#error;
  }

  /** Resolves once any message in flight has finished. */
  #settled(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }

  /** Checks and patches a token, then sends it without waiting for the answer. */
  #start(token: AsbxToken, key: number): void {
    const info = checkReplayPayload(token);
    // Once, before the first attempt: the token owns its payload, and retries send the
    // same bytes.
    patchReplayPayload(token.payload, this.#ctx.policy);
    this.#inFlight.add(key);
    // Never rejects: a failure is kept for the next `write` or `close`.
    this.#run(token, info.set, info.isDelete, key);
  }

  async #run(token: AsbxToken, set: string, isDelete: boolean, key: number): Promise<void> {
    try {
      await this.#replay(token, set, isDelete);
    } catch (e) {
      if (!this.#failed) {
        this.#failed = true;
        this.#error = e;
      }
    } finally {
      this.#inFlight.delete(key);
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    }
  }

  /** Sends one message until it is applied, refused for good, or out of attempts. */
  async #replay(token: AsbxToken, set: string, isDelete: boolean): Promise<void> {
    const ctx = this.#ctx;
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
          return;
        }
      }
      if (k + 1 >= attempts) throw failed(token, set, code, error);
      ctx.counters.retries++;
      await ctx.clock.sleep(retryDelayMs(ctx.retry, k), ctx.signal);
    }
  }
}

/** A 30-bit hash of a digest: a small integer, so a key that needs no allocation. */
function digestKey(digest: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < digest.length; i++) h = (Math.imul(h, 31) + digest[i]) | 0;
  return h & 0x3fffffff;
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
