/**
 * A backup reader worker (a Web Worker): runs its share of a backup's readers end to end on
 * a core of its own — its own cluster connection, scans, encoding, compression and
 * encryption into files of its own, whose bytes the main thread stores — and reports its
 * counters, the files it names and closes, and its end (see `reader_workers.ts`).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { Cluster } from "../aerospike/cluster.ts";
import { AsbEncoder } from "../format/asb/encoder.ts";
import { ForwardedStorageWriter } from "../io/forwarded_storage.ts";
import { directoryFromSpec } from "../io/local_writer.ts";
import { RetryCounter, type ThrottleStats } from "../pipeline/job_counters.ts";
import { LeakyBucket } from "../pipeline/rate_limiter.ts";
import { type ErrorData, errorFromData, WorkerChannel } from "../pipeline/worker_channel.ts";
import type { ReaderWorkerJob, WorkerFileClosed, WorkerProgress } from "./_reader_protocol.ts";
import { AsbFileSink, type FileRun } from "./file_writer.ts";
import { readRecords } from "./record_reader.ts";
import type { ReaderCursor } from "./state.ts";

/** How often counters go to the main thread, ms. */
const PROGRESS_MS = 100;

const stop = new AbortController();

const channel = new WorkerChannel(self, {
  start: (job) => run(job as ReaderWorkerJob),
  abort: (reason) => stop.abort(errorFromData(reason as ErrorData)),
});
self.onmessage = (e: MessageEvent) => {
  channel.receive(e.data);
};

async function run(job: ReaderWorkerJob): Promise<void> {
  const cluster = await Cluster.connectResolved(job.policy, { signal: stop.signal });
  const retries = new RetryCounter();
  const bandwidthStats: ThrottleStats = { waits: 0, waitedMs: 0 };
  let records = 0;
  const fileRun: FileRun = {
    storage: job.storage.spec !== undefined
      ? directoryFromSpec(job.storage.spec)
      : new ForwardedStorageWriter(channel, job.storage.description),
    namespace: job.namespace,
    compression: job.compression,
    encryptionKey: job.encryptionKey,
    suffix: "",
    nextFileNumber: 0,
    firstFileTaken: true,
    nameFile: (prefix) =>
      channel.call("file.name", { prefix }) as Promise<{ name: string; firstFile: boolean }>,
  };
  const cursors: (ReaderCursor | undefined)[] = job.writers.map(() => undefined);
  const sinks = job.writers.map((w, i) =>
    new AsbFileSink(fileRun, {
      prefix: w.prefix,
      encoder: new AsbEncoder({ compact: job.compact }),
      fileLimit: job.fileLimit,
      onClose: async (name, bytes, entry) => {
        const closed: WorkerFileClosed = {
          writer: w.index,
          name,
          bytes,
          entry,
          cursor: cursors[i],
        };
        await channel.call("file.closed", closed);
      },
    })
  );
  const progress = (): WorkerProgress => ({
    records,
    openBytes: sinks.reduce((n, s) => n + s.openBytes, 0),
    retries: retries.snapshot(),
    bandwidth: { ...bandwidthStats },
  });
  const ticker = setInterval(() => channel.notify("progress", progress()), PROGRESS_MS);
  const bandwidth = job.bandwidth > 0
    ? new LeakyBucket(job.bandwidth, { signal: stop.signal, stats: bandwidthStats })
    : undefined;
  const scan = { ...job.scan, onRetry: (cause: string) => retries.count(cause) };
  try {
    const runs = job.readers.map((r) =>
      readRecords(cluster, {
        namespace: job.namespace,
        sets: job.sets,
        share: r.share,
        resume: r.resume,
        scan,
        pageSize: job.pageSize,
        maxRecords: r.maxRecords,
      }, {
        sink: sinks[r.writer],
        onRecord: () => records++,
        onPage: job.pageSize > 0 ? (cursor) => cursors[r.writer] = cursor : undefined,
        bandwidth,
        signal: stop.signal,
      }).catch((e) => {
        // The first reader to fail stops the others.
        if (!stop.signal.aborted) stop.abort(e);
        throw e;
      })
    );
    const outcomes = await Promise.allSettled(runs);
    if (stop.signal.aborted) throw stop.signal.reason;
    for (const o of outcomes) if (o.status === "rejected") throw o.reason;
    for (const sink of sinks) await sink.close();
  } catch (e) {
    // Files cut short are closed as written so far; the main thread removes them.
    for (const sink of sinks) await sink.close().catch(() => {});
    throw e;
  } finally {
    clearInterval(ticker);
    channel.notify("progress", progress());
    await cluster.close();
  }
}
