/**
 * ASBX restore (backup-go `Restore` with `EncoderTypeASBX`): replays the stored XDR
 * messages, each to the master node of its record's partition. Each message is sent as
 * XDR shipped it (ops, LUTs, generation, TTL), only its info bits patched for the write
 * policy (`patchReplayPayload`), like backup-go's `PutPayload`: the server decides.
 *
 * Order matters (a record's versions are stored oldest first, a delete after its writes),
 * so the files of one writer prefix are replayed by one worker, in ascending file number,
 * records in file order. Prefixes map to workers as in backup-go: prefix `p` goes to worker
 * `p`, prefixes beyond the last worker all go to the last one. Each worker sends its
 * messages `batchSize` at a time (those of one node back to back on one connection, each a
 * write of its own) with up to `maxAsyncBatches` such groups in flight, a record's
 * messages one at a time in file order.
 *
 * @module
 */

import type { Cluster } from "../aerospike/cluster.ts";
import { Info2 } from "../aerospike/message.ts";
import { PayloadRows } from "../aerospike/payload_rows.ts";
import type { WritePolicy } from "../aerospike/policy.ts";
import { PROTO_HEADER_SIZE } from "../aerospike/proto.ts";
import { ResultCode, resultCodeName, retryCause } from "../aerospike/result_code.ts";
import { AerobakError } from "../errors.ts";
import { type AsbxDecoder, decodeAsbx } from "../format/asbx/decoder.ts";
import { ASBX_RECORD_HEADER_SIZE, type AsbxToken } from "../format/asbx/encoder.ts";
import { groupAsbxFiles, parseAsbxFileName } from "../format/asbx/file_name.ts";
import { loadJobEncryptionKey } from "../io/encryption_key.ts";
import { openReadChain, type ReadChain } from "../io/file_chain.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";
import type { Clock } from "../pipeline/clock.ts";
import { fixedFanout } from "../pipeline/fanout.ts";
import { startCountedJob } from "../pipeline/_counted_job.ts";
import {
  Pipe,
  type PipeReader,
  type PipeWriter,
  type Processor,
  type ReadyIterator,
  withReady,
} from "../pipeline/pipe.ts";
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
import type { FileReadResult } from "../restore/manifest_check.ts";
import { fileReadResult } from "../restore/_file_readers.ts";
import type { RestoreTracker, TrackedToken, WriteAcks } from "../restore/state.ts";
import { checkReplayPayload, patchReplayPayload } from "./replay.ts";

/** What the replay needs from a cluster; `Cluster` satisfies it. */
export type AsbxRestoreCluster = Pick<Cluster, "putPayloads">;

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
    const pipe = await buildPipe(cluster, config, reader, {
      signal,
      clock,
      counters,
      open,
      onFileRead: options.onFileRead,
      resume: options.resume,
    });
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
  onFileRead?: (result: FileReadResult) => void;
  resume?: RestoreTracker;
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
  // Last: tokens are registered in file order (nothing drops ASBX tokens).
  if (ctx.resume) processors.push(ctx.resume.registrar());
  if (config.recordsPerSecond > 0 && !config.validateOnly) {
    const limiter = new TokenBucket(config.recordsPerSecond, {
      clock: ctx.clock,
      signal: ctx.signal,
      stats: ctx.counters.throttle.records,
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
      groupSize: config.disableBatchWrites ? 1 : config.batchSize,
      window: config.maxAsyncBatches,
      acks: ctx.resume,
    })
  );
  const bandwidth = config.bandwidth > 0 && !config.validateOnly
    ? new LeakyBucket(config.bandwidth, {
      clock: ctx.clock,
      signal: ctx.signal,
      stats: ctx.counters.throttle.bandwidth,
    })
    : undefined;
  return new Pipe({ readers, processors, writers }, {
    fanout: fixedFanout(),
    bandwidth,
    signal: ctx.signal,
  });
}

/** A file being decoded. */
interface OpenFile {
  decoder: AsbxDecoder;
  /** Its path, for errors. */
  path: string;
  /** Records up to this offset were replayed by an earlier run. */
  skipTo: number;
  /** Slot in the resume tracker; -1 when untracked. */
  slot: number;
  records: number;
}

/**
 * One worker's reader: its files in turn, each decrypted, decompressed and decoded. The
 * records a decoder already holds are handed to the pipe without a promise each.
 */
function readFiles(
  files: readonly StorageEntry[],
  storage: StorageReader,
  config: Readonly<RestoreConfig>,
  encryptionKey: Uint8Array | undefined,
  ctx: RunContext,
): ReadyIterator<AsbxToken> & AsyncIterable<AsbxToken> {
  // The file being decoded, while the generator waits at its `yield`.
  let current: OpenFile | undefined;
  /** Counts and tags a record; `false` for one an earlier run replayed. */
  const accept = (token: AsbxToken, f: OpenFile): boolean => {
    const end = f.decoder.offset;
    if (end <= f.skipTo) return false;
    // Checked where the file is known: the error names file and byte, and --validate
    // catches what a replay would refuse.
    checkReplayPayload(token, f.path, end - ASBX_RECORD_HEADER_SIZE - token.payload.length);
    f.records++;
    if (f.slot >= 0) {
      const t = token as TrackedToken;
      t.file = f.slot;
      t.end = end;
    }
    return true;
  };
  const tokens = async function* (): AsyncGenerator<AsbxToken> {
    for (const entry of files) {
      const { fileNumber } = parseAsbxFileName(entry.name);
      const start = ctx.resume ? ctx.resume.startFile(entry.name) : { slot: -1, skipTo: 0 };
      if (start === null) continue; // replayed by an earlier run
      const chain = openReadChain(await storage.open(entry), {
        compression: config.compression,
        encryptionKey,
        file: entry.path,
        checkHeader: "asbx",
        sha256: ctx.onFileRead !== undefined,
      });
      ctx.open.add(chain);
      const decoder = decodeAsbx(chain.readable, { file: entry.path, fileNumber });
      const f: OpenFile = {
        decoder,
        path: entry.path,
        skipTo: start.skipTo,
        slot: start.slot,
        records: 0,
      };
      try {
        for await (const token of decoder) {
          if (!accept(token, f)) continue;
          current = f;
          yield token;
        }
        ctx.counters.filesRead++;
      } finally {
        current = undefined;
        ctx.open.delete(chain);
        ctx.counters.closedBytes += chain.bytesRead();
      }
      ctx.onFileRead?.(fileReadResult(entry, chain, { records: f.records, sindexes: 0, udfs: 0 }));
      if (start.slot >= 0) ctx.resume!.fileRead(start.slot);
    }
  };
  return withReady(tokens(), () => {
    const f = current;
    if (f === undefined) return undefined;
    for (let t = f.decoder.nextReady(); t !== undefined; t = f.decoder.nextReady()) {
      if (accept(t, f)) return t;
    }
    return undefined;
  });
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
  /** Messages sent together (the restore's `batchSize`, 1 with `disableBatchWrites`). */
  groupSize: number;
  /** Groups in flight at once (the restore's `maxAsyncBatches`). */
  window: number;
  /** Told which messages the cluster acknowledged (a resumable restore's tracker). */
  acks?: WriteAcks;
}

/** Messages sent together, and the digest keys of their records. */
interface Group {
  rows: PayloadRows;
  keys: number[];
  /** File slot and end offset of each tracked message (a resumable restore's). */
  marks: number[];
}

/**
 * Replays one worker's tokens `groupSize` at a time with up to `window` groups in flight,
 * retrying the messages whose result is retriable.
 *
 * A write is latency-bound (one round trip each), so waiting for each before sending the
 * next leaves the link and the server idle; a group's messages for one node go out back
 * to back on one connection, in one socket write ({@linkcode Cluster.putPayloads}), each
 * still a write of its own. Each token is copied into its group as it arrives: what waits
 * for an answer is `window × groupSize` messages' bytes.
 *
 * Order matters only within a record: a group holds at most one message of a record, and
 * a message waits while another of its record is in a group not yet finished (retries
 * included), so a record's versions and its delete land in file order; messages of other
 * records overlap. Records are told apart by a 30-bit hash of their digest: a small
 * integer key costs no allocation, and two records whose hashes collide only wait for each
 * other, which keeps the order.
 */
class ReplayWriter implements PipeWriter<AsbxToken> {
  readonly #ctx: ReplayContext;
  /** The group being filled. */
  #group: Group | undefined;
  /** Row buffers of finished groups, for the next ones. */
  readonly #free: PayloadRows[] = [];
  /** Digest keys of the messages in the group being filled and in the groups in flight. */
  readonly #keys = new Set<number>();
  #inFlight = 0;
  /** Wakes the one call (`write` or `close`) waiting for a group to finish. */
  #wake: (() => void) | undefined;
  #failed = false;
  #error: unknown;
  /** Whether `write` has thrown `#error` (the pipe holds it then). */
  #reported = false;

  constructor(ctx: ReplayContext) {
    this.#ctx = ctx;
  }

  /**
   * Adds a token to the group being filled, once no message of its record is waiting or
   * in flight; sends the group once full.
   *
   * @param token The stored message.
   * @returns The payload size, or a promise of it while the token or the group waits.
   * @throws {AerobakError} The first failure of a group sent earlier; `ASBX_PAYLOAD` for a
   *   message that is not the token's record's, `RESTORE_WRITE_FAILED` for one that is not
   *   a write.
   */
  write(token: AsbxToken): number | Promise<number> {
    if (this.#failed) return this.#throw();
    const key = digestKey(token.digest);
    if (this.#keys.has(key)) return this.#afterRecord(token, key);
    return this.#add(token, key);
  }

  /**
   * Sends the group being filled and waits for every group in flight.
   *
   * @throws {AerobakError} `RESTORE_WRITE_FAILED` for a failure `write` has not reported
   *   (a cancelled job reports its cancel reason instead).
   */
  async close(): Promise<void> {
    if (!this.#failed && !this.#ctx.signal.aborted && this.#group !== undefined) {
      await this.#slot();
      if (!this.#failed) this.#send();
    }
    while (this.#inFlight > 0) await this.#settled();
    if (this.#failed && !this.#reported && !this.#ctx.signal.aborted) this.#throw();
  }

  #add(token: AsbxToken, key: number): number | Promise<number> {
    const ctx = this.#ctx;
    const info = checkReplayPayload(token);
    // Once, before the first attempt: retries send the same bytes.
    patchReplayPayload(token.payload, ctx.policy);
    const group = this.#group ??= {
      rows: this.#free.pop() ?? new PayloadRows(ctx.policy, ctx.groupSize),
      keys: [],
      marks: [],
    };
    try {
      group.rows.add(token.namespace, token.digest, token.payload);
    } catch (e) {
      throw failed(token, info.set, 0, e);
    }
    group.keys.push(key);
    this.#keys.add(key);
    const t = token as TrackedToken;
    if (ctx.acks !== undefined && t.file !== undefined) group.marks.push(t.file, t.end!);
    const n = token.payload.length;
    if (group.rows.length < ctx.groupSize) return n;
    this.#send();
    return this.#inFlight < ctx.window ? n : this.#slot().then(() => n);
  }

  /** Adds a token once the message of its record before it has been written. */
  async #afterRecord(token: AsbxToken, key: number): Promise<number> {
    // That message may be in the group being filled: send it.
    if (this.#group?.keys.includes(key)) {
      await this.#slot();
      if (!this.#failed) this.#send();
    }
    while (!this.#failed && this.#keys.has(key)) await this.#settled();
    if (this.#failed) this.#throw();
    // Cancelled while waiting: send nothing more (the pipe reports the reason).
    this.#ctx.signal.throwIfAborted();
    return await this.#add(token, key);
  }

  #throw(): never {
    this.#reported = true;
    throw this.#error;
  }

  /** Resolves once any group in flight has finished. */
  #settled(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }

  /** Waits for room for one more group in flight. */
  async #slot(): Promise<void> {
    while (this.#inFlight >= this.#ctx.window) await this.#settled();
    if (this.#failed) this.#throw();
  }

  /** Starts writing the group being filled; its failure is kept for the next call. */
  #send(): void {
    const group = this.#group!;
    this.#group = undefined;
    this.#inFlight++;
    const acks = this.#ctx.acks;
    // Held and sealed at once: the tracker's group being filled is shared by every worker.
    let ticket: number | undefined;
    if (acks !== undefined) {
      const mark = { file: 0, end: 0 };
      for (let i = 0; i < group.marks.length; i += 2) {
        mark.file = group.marks[i];
        mark.end = group.marks[i + 1];
        acks.hold(mark);
      }
      ticket = acks.seal();
    }
    this.#replay(group.rows).then(() => acks?.release(ticket!), (e) => {
      if (!this.#failed) {
        this.#failed = true;
        this.#error = e;
      }
    }).finally(() => {
      for (const key of group.keys) this.#keys.delete(key);
      group.rows.clear();
      this.#free.push(group.rows);
      this.#inFlight--;
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }

  /** Sends a group until each message is applied, refused for good, or out of attempts. */
  async #replay(rows: PayloadRows): Promise<void> {
    const ctx = this.#ctx;
    const attempts = retryAttempts(ctx.retry);
    const classify = { ignoreRecordError: ctx.ignoreRecordError, batch: false };
    for (let k = 0;; k++) {
      const codes = await ctx.cluster.putPayloads(rows);
      // Allocated only when some message needs another attempt.
      let again: boolean[] | undefined;
      let first = -1;
      for (let i = 0; i < rows.length; i++) {
        const code = codes[i];
        let outcome;
        if (code < 0) {
          // No answer: sent again, to the next replica. A message sent and never answered
          // may have been applied.
          if (code === ResultCode.NETWORK_ERROR) ctx.counters.errorsInDoubt++;
          outcome = "retry" as const;
        } else if (code === ResultCode.KEY_NOT_FOUND && isDelete(rows.payload(i))) {
          // A delete of a record that is already gone did what it was meant to do. Deletes
          // have no counter of their own in the restore stats: like backup-go, whose
          // payload writer counts every accepted payload as inserted, they count as inserted.
          outcome = "inserted" as const;
        } else {
          outcome = classifyWriteResult(code, classify);
        }
        if (outcome === "fail") throw rowFailed(rows, i, code);
        if (outcome === "retry") {
          again ??= new Array(rows.length).fill(false);
          again[i] = true;
          if (first < 0) first = i;
        } else {
          count(ctx.counters, outcome);
        }
      }
      if (again === undefined) return;
      if (k + 1 >= attempts) throw rowFailed(rows, first, codes[first]);
      for (let i = 0; i < rows.length; i++) {
        if (again[i]) ctx.counters.countRetry(retryCause(codes[i]));
      }
      await ctx.clock.sleep(retryDelayMs(ctx.retry, k), ctx.signal);
      rows.retain(again);
    }
  }
}

/** Whether a stored message is a delete (info2 DELETE). */
function isDelete(payload: Uint8Array): boolean {
  return (payload[PROTO_HEADER_SIZE + 2] & Info2.DELETE) !== 0;
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

/** The failure of row `i` of a group: no answer (a negative code) or a refusal. */
function rowFailed(rows: PayloadRows, i: number, code: number): AerobakError {
  const token = { namespace: rows.namespace(i), digest: rows.digest(i), payload: rows.payload(i) };
  const set = checkReplayPayload(token).set;
  if (code >= 0) return failed(token, set, code);
  return failed(
    token,
    set,
    0,
    new Error(`no answer (${code} ${resultCodeName(code)}: network error, timeout or node down)`),
  );
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
