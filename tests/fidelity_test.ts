/**
 * Fidelity against a real Aerospike 8.1.2 server, byte for byte:
 *
 * 1. Replay: every client→server message of the captures (`lib/aerospike/testdata/captures/`)
 *    is sent over a raw socket to an emulator set up like the captured server (1 node,
 *    namespaces `test` and `bar`, the same records, indexes, UDF and clock), and every
 *    answer is compared with the captured one. Only what must differ between two servers
 *    is normalised; each rule says why.
 * 2. Our tools vs the reference tools: our asbackup/asrestore run through a recording proxy
 *    and what they send is compared with what the C tools sent.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { CaptureMessage } from "../lib/aerospike/_captures.ts";
import { decodeBatchRequest } from "../lib/aerospike/requests.ts";
import { encodeInfoRequest, parseInfoResponse, sindexCreateCommand } from "../lib/aerospike/info.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../lib/aerospike/record.ts";
import { PROTO_HEADER_SIZE, ProtoType } from "../lib/aerospike/proto.ts";
import { Info1 } from "../lib/aerospike/message.ts";
import { decodeAsb } from "../lib/format/asb/decoder.ts";
import { ManualClock } from "../lib/emulator/clock.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import {
  type Exchange,
  exchanges,
  hexLines,
  type InfoRule,
  keepPairs,
  loadCapture,
  normaliseInfo,
  ProtoReader,
  replayExchange,
  splitMessages,
} from "./_fidelity.ts";

const SAMPLE = new URL("../testdata/c-asbackup-4.5.8/plain/test_00000.asb", import.meta.url);

/** Unix ms of a Citrusleaf-epoch second. */
function unixMs(clSeconds: number): number {
  return (clSeconds + CITRUSLEAF_EPOCH_SECONDS) * 1000;
}

function infoAnswers(messages: readonly CaptureMessage[]): Map<string, string>[] {
  return messages.filter((m) => m.dir === "s2c" && m.type === ProtoType.INFO).map((m) =>
    parseInfoResponse(m.bytes.subarray(PROTO_HEADER_SIZE))
  );
}

/** A `k=v` value of the first captured `namespace/<ns>` answer. */
function namespaceStat(messages: readonly CaptureMessage[], key: string): number | undefined {
  for (const answers of infoAnswers(messages)) {
    for (const [cmd, value] of answers) {
      if (!cmd.startsWith("namespace/")) continue;
      const pair = value.split(";").find((p) => p.startsWith(`${key}=`));
      if (pair !== undefined) return Number(pair.slice(key.length + 1));
    }
  }
  return undefined;
}

/**
 * The captured server's clock, in Citrusleaf seconds: the `current_time` it reported, or
 * else void time − TTL of a write that set a TTL (the server computes void time = now + TTL).
 * Running the emulator on this clock makes void times and `current_time` comparable
 * exactly instead of normalising them away.
 */
function capturedNow(messages: readonly CaptureMessage[]): number | undefined {
  const current = namespaceStat(messages, "current_time");
  if (current !== undefined) return current;
  for (const ex of [...exchanges(messages).values()].flat()) {
    const req = ex.request.bytes;
    if (req[1] !== ProtoType.MESSAGE || ex.replies.length === 0) continue;
    const body = req.subarray(PROTO_HEADER_SIZE);
    const replies = splitMessages(ex.replies[0].bytes);
    const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    if ((body[1] & Info1.BATCH) !== 0) {
      for (const row of decodeBatchRequest(body).rows) {
        const ttl = row.ttl >>> 0;
        if (ttl === 0 || ttl >= 0xfffffffe) continue;
        const reply = replies.find((r) => view(r.bytes).getUint32(14) === row.index);
        if (reply === undefined || reply.bytes[5] !== 0) continue;
        return view(reply.bytes).getUint32(10) - ttl;
      }
      continue;
    }
    const ttl = view(body).getUint32(10);
    if ((body[2] & 1) === 0 || ttl === 0 || ttl >= 0xfffffffe) continue;
    const reply = replies[0];
    if (reply.bytes[5] !== 0) continue;
    return view(reply.bytes).getUint32(10) - ttl;
  }
  return undefined;
}

/**
 * Starts an emulator configured like the captured server: one node, namespaces `test` and
 * `bar` with replication factor 1 and nsup on (`nsup-period=60`, so TTL writes are
 * accepted), `cluster-name=asbuild-local`, `batch-index-threads=2` (its `get-config`).
 */
function startLikeCaptured(nowCl: number): Promise<Emulator> {
  return startEmulator({
    nodes: 1,
    replicationFactor: 1,
    namespaces: [{ name: "test", nsupPeriod: 60 }, { name: "bar", nsupPeriod: 60 }],
    clusterName: "asbuild-local",
    batchIndexThreads: 2,
    clock: new ManualClock(unixMs(nowCl)),
  });
}

/** Sends info commands over a raw socket (seeding through the wire, as a tool would). */
async function info(emu: Emulator, commands: string[]): Promise<Map<string, string>> {
  const h = emu.hosts[0];
  const conn = await Deno.connect({ hostname: h.host, port: h.port });
  try {
    await conn.write(encodeInfoRequest(commands));
    const reply = await new ProtoReader(conn).read(commands.join(","));
    return parseInfoResponse(reply.subarray(PROTO_HEADER_SIZE));
  } finally {
    conn.close();
  }
}

/** Sends captured requests and ignores the answers (seeding with a capture's own writes). */
async function sendAll(emu: Emulator, messages: readonly CaptureMessage[]): Promise<void> {
  const h = emu.hosts[0];
  for (const list of exchanges(messages).values()) {
    const conn = await Deno.connect({ hostname: h.host, port: h.port });
    const reader = new ProtoReader(conn);
    try {
      for (const ex of list) {
        if (ex.request.type === ProtoType.MESSAGE) await replayExchange(conn, reader, ex);
      }
    } finally {
      conn.close();
    }
  }
}

/**
 * Seeds namespace `test` with the C sample backup (the same 19 records, 3 indexes and UDF
 * the captured server held), after the truncation the captured server reports.
 */
async function seedFromSample(
  emu: Emulator,
  messages: readonly CaptureMessage[],
  clock: ManualClock,
  nowCl: number,
): Promise<void> {
  const truncateLut = namespaceStat(messages, "truncate_lut") ?? 0;
  if (truncateLut !== 0) {
    // The captured server's namespace was truncated (truncate_lut, Citrusleaf-epoch ms)
    // before the records were written: do the same at that time.
    assert.ok(clock.now() <= truncateLut + CITRUSLEAF_EPOCH_SECONDS * 1000);
    clock.set(truncateLut + CITRUSLEAF_EPOCH_SECONDS * 1000);
    const answer = await info(emu, ["truncate-namespace:namespace=test"]);
    assert.equal([...answer.values()][0], "ok");
    clock.advance(1);
  }
  const file = await Deno.open(SAMPLE);
  for await (const token of decodeAsb(file.readable, { file: SAMPLE.pathname })) {
    if (token.kind === "record") emu.put(token.record);
    else if (token.kind === "sindex") {
      const cmd = sindexCreateCommand(token.sindex, [8, 1, 2]);
      assert.equal([...(await info(emu, [cmd])).values()][0], "ok", cmd);
    } else {
      const b64 = Buffer.from(token.udf.content).toString("base64");
      const cmd = `udf-put:filename=${token.udf.name};content=${b64};content-len=${b64.length};` +
        `udf-type=LUA;`;
      assert.equal([...(await info(emu, [cmd])).values()][0], "ok", cmd);
    }
  }
  clock.set(Math.max(clock.now(), unixMs(nowCl)));
}

/** The `namespace/` statistics compared (see the rule in {@linkcode INFO_RULES}). */
const COMPARED_NAMESPACE_STATS = new Set([
  "ns_cluster_size",
  "effective_replication_factor",
  "objects",
  "tombstones",
  "master_objects",
  "master_tombstones",
  "prole_objects",
  "prole_tombstones",
  "non_replica_objects",
  "dead_partitions",
  "unavailable_partitions",
  "stop_writes",
  "current_time",
  "non_expirable_objects",
  "expired_objects",
  "evicted_objects",
  "truncate_lut",
  "truncating",
  "migrate_tx_partitions_remaining",
  "migrate_rx_partitions_remaining",
  "migrate_tx_partitions_initial",
  "migrate_rx_partitions_initial",
  "allow-ttl-without-nsup",
  "default-ttl",
  "nsup-period",
  "rack-id",
  "replication-factor",
  "strong-consistency",
  "max-record-size",
  "storage-engine",
]);

/** The service configuration compared (see the rule in {@linkcode INFO_RULES}). */
const COMPARED_SERVICE_CONFIG = new Set([
  "advertise-ipv6",
  "batch-index-threads",
  "batch-max-buffers-per-queue",
  "batch-max-requests",
  "batch-max-unused-buffers",
  "cluster-name",
  "info-threads",
  "migrate-threads",
  "min-cluster-size",
  "node-id",
  "proto-fd-max",
  "query-threads-limit",
  "service-threads",
  "sindex-builder-threads",
  "transaction-max-ms",
]);

/**
 * Normalisation of info answers, by command. Everything else is compared as is.
 */
const INFO_RULES: Record<string, InfoRule> = {
  // `namespace/<ns>` has ~450 statistics; most count server internals (storage stripes,
  // index and sindex memory, histograms, nsup cycles, XDR) that depend on the build and
  // its storage engine and that no client or tool reads. The ones the emulator keeps and
  // tools read (object counts, replication, nsup/TTL configuration, truncation,
  // current_time) are compared with their values and order. data_used_bytes is left out:
  // it is the size in the server's storage format.
  namespace: (v) => keepPairs(v, COMPARED_NAMESPACE_STATS),
  // `get-config:context=service` also lists file paths, vault/secret settings and
  // allocator switches of that installation; the emulator answers the settings clients
  // and tools read, which are compared with their values and order.
  "get-config": (v, cmd) =>
    cmd === "get-config:context=service" ? keepPairs(v, COMPARED_SERVICE_CONFIG) : v,
};

/** A difference between the captured answer and the emulator's. */
interface Difference {
  line: number;
  request: string;
  expected: string;
  actual: string;
}

function describe(ex: Exchange): string {
  if (ex.request.type === ProtoType.INFO) return JSON.stringify(ex.request.text);
  return `AS_MSG ${hexLines(ex.request.bytes).slice(0, 64)}…`;
}

/** Whether a request is a scan (an AS_MSG with neither digest nor batch). */
function isScan(bytes: Uint8Array): boolean {
  if (bytes[1] !== ProtoType.MESSAGE) return false;
  const [m] = splitMessages(bytes);
  return (m.info1 & Info1.BATCH) === 0 && m.digest.length === 0;
}

function byPartitionThenDigest(a: { pid: number; digest: Uint8Array }, b: typeof a): number {
  if (a.pid !== b.pid) return a.pid - b.pid;
  for (let i = 0; i < 20; i++) if (a.digest[i] !== b.digest[i]) return a.digest[i] - b.digest[i];
  return 0;
}

/**
 * Renders a scan answer for comparison. The real server runs a partition scan on several
 * threads, each walking its share of the partitions in order and flushing its own reply
 * protos, so the grouping of records into protos and the interleaving between partitions
 * differ from run to run (the same capture scanned twice shows different groupings). Rule:
 * every proto must hold its records in partition order (as the server's do, checked
 * separately), then all record messages are compared byte for byte in (partition, digest)
 * order, and the final LAST message byte for byte.
 */
function renderScan(protos: Uint8Array[]): { text: string; ordered: boolean } {
  const records = [];
  let ordered = true;
  const tail: string[] = [];
  for (const p of protos) {
    const msgs = splitMessages(p);
    for (let i = 1; i < msgs.length; i++) {
      if (msgs[i].pid >= 0 && byPartitionThenDigest(msgs[i - 1], msgs[i]) > 0) ordered = false;
    }
    for (const m of msgs) {
      if (m.digest.length === 20) records.push(m);
      else tail.push(`proto ${p.length} bytes holding ${hexLines(m.bytes)}`);
    }
  }
  records.sort(byPartitionThenDigest);
  return {
    text: [...records.map((m) => `pid ${m.pid}: ${hexLines(m.bytes)}`), ...tail].join("\n"),
    ordered,
  };
}

/**
 * Replays every connection of a capture against the emulator and returns the differences.
 */
async function replay(emu: Emulator, messages: readonly CaptureMessage[]): Promise<Difference[]> {
  const diffs: Difference[] = [];
  const h = emu.hosts[0];
  for (const list of exchanges(messages).values()) {
    const conn = await Deno.connect({ hostname: h.host, port: h.port });
    const reader = new ProtoReader(conn);
    try {
      for (const ex of list) {
        let actual: Uint8Array[];
        try {
          actual = await replayExchange(conn, reader, ex);
        } catch (err) {
          diffs.push({
            line: ex.line,
            request: describe(ex),
            expected: ex.replies.map((r) => hexLines(r.bytes)).join("\n"),
            actual: (err as Error).message,
          });
          break;
        }
        const expected = ex.replies.map((r) => r.bytes);
        let e: string;
        let a: string;
        if (ex.request.type === ProtoType.INFO) {
          e = expected.map((p) => normaliseInfo(p, INFO_RULES)).join("\n");
          a = actual.map((p) => normaliseInfo(p, INFO_RULES)).join("\n");
        } else if (isScan(ex.request.bytes)) {
          const es = renderScan(expected);
          const as = renderScan(actual);
          assert.ok(es.ordered, `line ${ex.line}: captured scan protos not in partition order`);
          e = es.text;
          a = as.ordered ? as.text : `records out of partition order\n${as.text}`;
        } else {
          // Single-record and batch answers: whole protos, byte for byte.
          e = expected.map(hexLines).join("\n--\n");
          a = actual.map(hexLines).join("\n--\n");
        }
        if (e !== a) diffs.push({ line: ex.line, request: describe(ex), expected: e, actual: a });
      }
    } finally {
      conn.close();
    }
  }
  return diffs;
}

/** The differing lines of two renderings, with their line numbers. */
function lineDiff(expected: string, actual: string): string {
  const e = expected.split("\n");
  const a = actual.split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length) && out.length < 24; i++) {
    if (e[i] === a[i]) continue;
    out.push(`  ${i}: captured ${e[i] ?? "(none)"}`, `  ${i}: emulator ${a[i] ?? "(none)"}`);
  }
  return out.join("\n");
}

function report(diffs: Difference[]): string {
  return diffs.map((d) => `line ${d.line} ${d.request}\n${lineDiff(d.expected, d.actual)}`)
    .join("\n\n");
}

function assertNoDifferences(diffs: Difference[]): void {
  if (diffs.length > 0) assert.fail(`${diffs.length} answers differ\n${report(diffs)}`);
}

Deno.test("the emulator answers the official Node client's capture like the real server", async () => {
  const messages = loadCapture("official-node-client.jsonl");
  const now = capturedNow(messages);
  assert.ok(now !== undefined);
  await using emu = await startLikeCaptured(now);
  const diffs = await replay(emu, messages);
  assertNoDifferences(diffs);
});

for (
  const name of [
    "c-asbackup-plain.jsonl",
    "c-asbackup-filters.jsonl",
    "c-asbackup-nobins-afterdigest.jsonl",
    "c-asbackup-nottl-records-per-second.jsonl",
  ]
) {
  Deno.test(`the emulator answers ${name} like the real server`, async () => {
    const messages = loadCapture(name);
    const now = capturedNow(messages) ?? capturedNow(loadCapture("c-asbackup-plain.jsonl"))!;
    // Start before the captured server's truncation; seedFromSample moves to `now`.
    const clock = new ManualClock(unixMs(now) - 3_600_000);
    await using emu = await startEmulator({
      nodes: 1,
      replicationFactor: 1,
      namespaces: [{ name: "test", nsupPeriod: 60 }, { name: "bar", nsupPeriod: 60 }],
      clusterName: "asbuild-local",
      batchIndexThreads: 2,
      clock,
    });
    await seedFromSample(emu, messages, clock, now);
    const diffs = await replay(emu, messages);
    assertNoDifferences(diffs);
  });
}

/** Creates the three indexes the captured server had in `bar` (its `sindex-list` answer). */
async function seedBarIndexes(emu: Emulator): Promise<void> {
  const file = await Deno.open(SAMPLE);
  for await (const token of decodeAsb(file.readable, { file: SAMPLE.pathname })) {
    if (token.kind !== "sindex") continue;
    const cmd = sindexCreateCommand({ ...token.sindex, namespace: "bar" }, [8, 1, 2]);
    assert.equal([...(await info(emu, [cmd])).values()][0], "ok", cmd);
  }
}

Deno.test("the emulator answers the C asrestore default capture like the real server", async () => {
  const messages = loadCapture("c-asrestore-default.jsonl");
  await using emu = await startLikeCaptured(capturedNow(messages)!);
  await seedBarIndexes(emu);
  const diffs = await replay(emu, messages);
  assertNoDifferences(diffs);
});

for (const name of ["c-asrestore-unique.jsonl", "c-asrestore-replace-nogen.jsonl"]) {
  Deno.test(`the emulator answers ${name} (after the default restore) like the real server`, async () => {
    // These ran on the captured server right after the default restore: seed `bar` by
    // sending that restore's writes on its clock, then move to this capture's clock.
    const first = loadCapture("c-asrestore-default.jsonl");
    const messages = loadCapture(name);
    const clock = new ManualClock(unixMs(capturedNow(first)!));
    await using emu = await startEmulator({
      nodes: 1,
      replicationFactor: 1,
      namespaces: [{ name: "test", nsupPeriod: 60 }, { name: "bar", nsupPeriod: 60 }],
      clusterName: "asbuild-local",
      batchIndexThreads: 2,
      clock,
    });
    await seedBarIndexes(emu);
    await sendAll(emu, first);
    const now = capturedNow(messages);
    if (now !== undefined) clock.set(unixMs(now));
    const diffs = await replay(emu, messages);
    assertNoDifferences(diffs);
  });
}
