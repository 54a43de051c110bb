/**
 * Fuzz targets of the server's side of the wire: a one-node emulator serves a client
 * (connect, info commands, single-record reads and writes, a partition scan, batch writes)
 * while a {@linkcode ReplyMangler} damages replies of the target's kind: corrupts them
 * with the byte mutators, cuts them short (closing the connection or not), stretches a
 * length field, or sends them slowly in pieces. The client must succeed or fail with one
 * error naming the node or the command, within its time limits.
 *
 * An input is a JSON damage script, `{"nth", "count", "seed", "mode", "pieces",
 * "pauseMs", "close"}`: `count` replies of the kind from the `nth` on (counted from the
 * start of the run) are damaged by `mode` with the byte mutators seeded by `seed`.
 * Replies hold ports and a random cluster key, so a replay damages the same reply the
 * same way, not always the same bytes.
 *
 * @module
 */

import { ByteWriter } from "../../../lib/aerospike/byte_writer.ts";
import { Cluster } from "../../../lib/aerospike/cluster.ts";
import { computeDigest, keyFromJs } from "../../../lib/aerospike/digest.ts";
import { PartitionFilter } from "../../../lib/aerospike/partition_filter.ts";
import type { AerospikeRecord } from "../../../lib/aerospike/record.ts";
import { lowestBuild, requireNamespace } from "../../../lib/backup/_info.ts";
import { readSIndexes, readUdfs } from "../../../lib/backup/metadata.ts";
import { namespaceRecordCount } from "../../../lib/backup/record_count.ts";
import { BackupClient } from "../../../lib/client.ts";
import { type Emulator, startEmulator } from "../../../lib/emulator/emulator.ts";
import { AsbEncoder } from "../../../lib/format/asb/encoder.ts";
import { FileListReader } from "../../../lib/io/local_reader.ts";
import {
  mangleReplies,
  type ReplyDamage,
  type ReplyKind,
} from "../../../lib/emulator/reply_mangler.ts";
import { everyTypeBins } from "../../_restore_helpers.ts";
import { type FuzzTarget, namesSource } from "../engine.ts";
import { mutateBytes } from "../mutate.ts";
import { Random } from "../random.ts";

/** A damage script (see the module doc). */
interface Script {
  nth: number;
  /** Replies damaged from the `nth` on (retries meet damage too). */
  count: number;
  seed: number;
  mode: "corrupt" | "cut" | "stretch" | "slow";
  pieces: number;
  pauseMs: number;
  close: boolean;
}

/** Client time limits: short, so a damaged reply costs little, but well above loopback. */
const SOCKET_TIMEOUT_MS = 100;
const TOTAL_TIMEOUT_MS = 600;
const INFO_TIMEOUT_MS = 150;
const RETRY = { baseTimeoutMs: 1, multiplier: 1, maxRetries: 2 };

interface WireEnv {
  emu: Emulator;
  script: Script | null;
  seen: number;
  /** A directory holding `records.asb`, the batch restore's input. */
  dir: string;
}

const encode = (s: Script) => new TextEncoder().encode(JSON.stringify(s));

function decode(input: Uint8Array): Script | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(input));
    return typeof v === "object" && v !== null ? v as Script : null;
  } catch {
    return null;
  }
}

/** Applies a script to the reply it picked. */
function damage(reply: Uint8Array, s: Script, n: number): ReplyDamage {
  const r = new Random((s.seed + n) >>> 0);
  let bytes: Uint8Array;
  switch (s.mode) {
    case "cut":
      bytes = reply.slice(0, r.int(reply.length));
      break;
    case "stretch": {
      // A length field (proto size, field or op size) grown: the rest never comes.
      bytes = reply.slice();
      const view = new DataView(bytes.buffer);
      const at = r.chance(0.5) ? 4 : r.int(Math.max(1, bytes.length - 4));
      if (at + 4 <= bytes.length) view.setUint32(at, view.getUint32(at) + 1 + r.int(1 << 20));
      break;
    }
    case "slow":
      bytes = reply;
      break;
    default:
      bytes = mutateBytes(reply, r);
  }
  return {
    bytes,
    pieces: s.pieces,
    pauseMs: s.pauseMs,
    close: s.close,
  };
}

function records(n: number): AerospikeRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const key = keyFromJs(`k${i}`);
    return {
      namespace: "test",
      set: "w",
      key,
      digest: computeDigest("w", key),
      generation: 1,
      voidTime: 0,
      bins: everyTypeBins(i),
    };
  });
}

/** What a target does with the client, and how many replies of its kind that takes. */
interface WireKind {
  kind: ReplyKind;
  about: string;
  ciIterations: number;
  /** Replies of the kind one run sends at least: `nth` is drawn below this. */
  replies: number;
  /** The client's work. */
  work(cluster: Cluster, env: WireEnv): Promise<void>;
}

const INFO = { retry: RETRY, timeoutMs: INFO_TIMEOUT_MS };
const WRITE_POLICY = { socketTimeoutMs: SOCKET_TIMEOUT_MS, totalTimeoutMs: TOTAL_TIMEOUT_MS };

function wireTarget(k: WireKind): FuzzTarget<WireEnv> {
  return {
    name: `wire-${k.kind}`,
    about: k.about,
    ciIterations: k.ciIterations,
    timeoutMs: 15_000,
    async open() {
      const emu = await startEmulator({ nodes: 1 });
      const dir = await Deno.makeTempDir({ prefix: "aerobak-fuzz-wire-" });
      const enc = new AsbEncoder();
      const w = new ByteWriter();
      w.bytes(enc.header("test", { firstFile: true }));
      for (const r of records(40)) enc.encodeRecord(w, r);
      await Deno.writeFile(`${dir}/records.asb`, w.subarray());
      const env: WireEnv = { emu, script: null, seen: 0, dir };
      for (const r of records(120)) emu.put(r);
      // Metadata for the info answers to carry: an index and a UDF module.
      const now = emu.cluster.clock.now();
      emu.cluster.metadata.createSIndex({
        namespace: "test",
        set: "w",
        name: "idx_str",
        bin: "str",
        binType: "string",
        indexType: "default",
        context: "",
        expression: "",
        readyAtMs: now,
        createdAtMs: now,
      });
      emu.cluster.metadata.putUdf("fuzz.lua", btoa("function f(rec)\n  return 1\nend\n"));
      mangleReplies(emu.cluster, (reply, ctx) => {
        if (env.script === null || ctx.kind !== k.kind) return null;
        const n = env.seen++ - env.script.nth;
        return n >= 0 && n < (env.script.count ?? 1) ? damage(reply, env.script, n) : null;
      });
      return env;
    },
    async close(env) {
      mangleReplies(env.emu.cluster, null);
      await env.emu.close();
      await Deno.remove(env.dir, { recursive: true });
    },
    seeds: () =>
      Promise.resolve([
        encode({ nth: 0, count: 1, seed: 1, mode: "corrupt", pieces: 1, pauseMs: 0, close: false }),
      ]),
    mutate(_seed, r) {
      const mode = r.pick(["corrupt", "corrupt", "corrupt", "cut", "stretch", "slow"] as const);
      const slow = mode === "slow" || r.chance(0.1);
      return encode({
        nth: r.int(k.replies),
        count: r.small(3),
        seed: r.int(2 ** 31),
        mode,
        pieces: slow ? 2 + r.int(4) : 1,
        // Around the socket timeout: sometimes within it, sometimes past it.
        pauseMs: slow ? r.int(2 * SOCKET_TIMEOUT_MS) : 0,
        close: r.chance(0.5),
      });
    },
    async run(input, env) {
      const script = decode(input);
      if (script === null) return; // not a script: nothing to damage
      env.seen = 0;
      env.script = script;
      let cluster: Cluster | undefined;
      try {
        cluster = await Cluster.connect({
          hosts: env.emu.seeds,
          connectTimeoutMs: 1000,
          infoTimeoutMs: INFO_TIMEOUT_MS,
          poolWaitMs: 1000,
          tendIntervalMs: 60_000,
        });
        await k.work(cluster, env);
      } finally {
        env.script = null;
        await cluster?.close();
      }
    },
    judge(err, _input, env) {
      // Errors name the node (address or name), or the command, record or namespace that
      // failed.
      return namesSource(err, [
        env.emu.seeds,
        ...env.emu.nodeNames,
        "Info command",
        "Cannot restore record",
        "Namespace test ",
      ]);
    },
  };
}

/** Info answers: the client's connect (node, partitions, replicas, peers) and metadata. */
export const wireInfoTarget: FuzzTarget<WireEnv> = wireTarget({
  kind: "info",
  about: "info answers (connect, build, namespaces, namespace stats, udf-list and udf-get, " +
    "sindex-list) from a damaging emulator",
  ciIterations: 150,
  replies: 10,
  async work(cluster) {
    const version = await lowestBuild(cluster, INFO);
    await requireNamespace(cluster, "test", INFO);
    await namespaceRecordCount(cluster, "test", INFO);
    await readUdfs(cluster, INFO);
    await readSIndexes(cluster, "test", version, INFO);
  },
});

/** Single-record replies: reads and writes. */
export const wireRecordTarget: FuzzTarget<WireEnv> = wireTarget({
  kind: "record",
  about: "single-record replies (get, put) from a damaging emulator",
  ciIterations: 150,
  replies: 6,
  async work(cluster) {
    const rs = records(3);
    for (const r of rs) {
      await cluster.put({ ...r, namespace: "test" }, WRITE_POLICY, -1);
      await cluster.get("test", "w", r.key!, WRITE_POLICY);
    }
  },
});

/** Scan streams: every record of the namespace. */
export const wireScanTarget: FuzzTarget<WireEnv> = wireTarget({
  kind: "scan",
  about: "partition scan streams from a damaging emulator",
  ciIterations: 150,
  replies: 2,
  async work(cluster) {
    const scan = cluster.scan(PartitionFilter.all(), {
      namespace: "test",
      socketTimeoutMs: SOCKET_TIMEOUT_MS,
      totalTimeoutMs: TOTAL_TIMEOUT_MS * 2,
      maxRetries: 2,
      retryDelayMs: 1,
    });
    for await (const _ of scan) { /* every record */ }
  },
});

/** Batch replies: the batch writes of a restore. */
export const wireBatchTarget: FuzzTarget<WireEnv> = wireTarget({
  kind: "batch",
  about: "batch write replies of a restore, from a damaging emulator",
  ciIterations: 150,
  replies: 4,
  async work(cluster, env) {
    const job = new BackupClient(cluster).restore({
      batchSize: 10,
      maxAsyncBatches: 2,
      writePolicy: WRITE_POLICY,
      retryPolicy: RETRY,
      infoPolicy: { timeoutMs: INFO_TIMEOUT_MS },
      infoRetryPolicy: RETRY,
    }, new FileListReader([`${env.dir}/records.asb`]));
    await job.wait();
  },
});
