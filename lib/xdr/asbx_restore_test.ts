import assert from "node:assert/strict";
import { ByteWriter } from "../aerospike/byte_writer.ts";
import {
  FieldType,
  Info2,
  OpType,
  writeBinOp,
  writeField,
  writeMessageHeader,
  writeStringField,
  writeU64Field,
} from "../aerospike/message.ts";
import { beginProto, endProto, ProtoType } from "../aerospike/proto.ts";
import { Cluster } from "../aerospike/cluster.ts";
import type { PayloadRows } from "../aerospike/payload_rows.ts";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import { EmulatedCluster } from "../emulator/cluster.ts";
import { startEmulator } from "../emulator/emulator.ts";
import { XdrEmulation } from "../emulator/xdr.ts";
import { AsbxEncoder } from "../format/asbx/encoder.ts";
import { rng } from "../format/asb/_test_util.ts";
import { DirectoryReader } from "../io/local_reader.ts";
import { resolveRestoreConfig } from "../restore/config.ts";
import { DirectInfo, runTestBackupXdr } from "./_test_util.ts";
import { startAsbxRestore } from "./asbx_restore.ts";
import { encodeXdrDelete, encodeXdrWrite, xdrPayload } from "./message.ts";

function rec(i: number, generation: number, value: string): AerospikeRecord {
  const key = keyFromJs(`k${i}`);
  return {
    namespace: "test",
    set: "s",
    digest: computeDigest("s", key),
    key,
    generation,
    voidTime: 0,
    bins: [intBin("i", i), stringBin("v", value)],
  };
}

/** A stored token as the receiver makes it from what XDR shipped. */
function token(message: Uint8Array, record: AerospikeRecord) {
  return { namespace: "test", digest: record.digest, payload: xdrPayload(message.subarray(8)) };
}

/** Writes files by hand: `files[i]` = [writer prefix, tokens]. */
async function writeFiles(
  dir: string,
  files: [string, ReturnType<typeof token>[]][],
): Promise<string[]> {
  const enc = new AsbxEncoder("test");
  const names: string[] = [];
  for (const [prefix, tokens] of files) {
    const f = enc.nextFile(prefix);
    const w = new ByteWriter();
    w.bytes(f.header);
    for (const t of tokens) enc.encodeToken(w, t);
    await Deno.writeFile(`${dir}/${f.name}`, w.subarray());
    names.push(f.name);
  }
  return names;
}

function binsOf(r: AerospikeRecord | undefined): string {
  return JSON.stringify(
    r?.bins.map((b) => [b.name, b.value instanceof Uint8Array ? [...b.value] : String(b.value)])
      .sort((x, y) => (x[0] < y[0] ? -1 : 1)),
  );
}

Deno.test("startAsbxRestore() replays each writer's files in number order, deletes included", async () => {
  const dir = await Deno.makeTempDir();
  await using emu = await startEmulator({ nodes: 2 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const a1 = rec(1, 1, "old");
  const a2 = rec(1, 2, "new");
  const b = rec(2, 1, "gone");
  const c = rec(3, 5, "kept");
  // Writer 0: A v1 then (next file) A v2; writer 1: B then its delete, and C.
  await writeFiles(dir, [
    ["0_", [token(encodeXdrWrite(a1).slice(), a1)]],
    ["1_", [token(encodeXdrWrite(b).slice(), b), token(encodeXdrWrite(c).slice(), c)]],
    ["0_", [token(encodeXdrWrite(a2).slice(), a2)]],
    ["1_", [token(encodeXdrDelete(b, { generation: 2 }).slice(), b)]],
  ]);
  const config = resolveRestoreConfig({ encoderType: "ASBX", parallel: 2 });
  const job = startAsbxRestore(cluster, config, new DirectoryReader(dir, { extension: ".asbx" }));
  const stats = await job.wait();
  assert.equal(stats.recordsRead, 5);
  assert.equal(stats.recordsInserted, 5);
  assert.equal(binsOf(emu.get("test", a2.digest)), binsOf(a2));
  assert.equal(emu.get("test", b.digest), undefined);
  assert.equal(binsOf(emu.get("test", c.digest)), binsOf(c));
  assert.deepEqual(emu.get("test", c.digest)?.key, c.key);
  assert.ok(stats.bytesRead > 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() counts fresher records under the generation policy", async () => {
  const dir = await Deno.makeTempDir();
  await using emu = await startEmulator({ nodes: 1 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const a = rec(1, 1, "v");
  // The destination already holds a newer generation of A.
  emu.put({ ...a, generation: 9, bins: [stringBin("v", "dest")] });
  await writeFiles(dir, [["0_", [token(encodeXdrWrite(a).slice(), a)]]]);
  const reader = new DirectoryReader(dir, { extension: ".asbx" });
  const gt = await startAsbxRestore(cluster, resolveRestoreConfig({ encoderType: "ASBX" }), reader)
    .wait();
  assert.equal(gt.recordsFresher, 1);
  assert.equal(gt.recordsInserted, 0);
  assert.equal(binsOf(emu.get("test", a.digest)), binsOf({ ...a, bins: [stringBin("v", "dest")] }));
  // Without a generation check the shipped version wins.
  const none = await startAsbxRestore(
    cluster,
    resolveRestoreConfig({ encoderType: "ASBX", writePolicy: { generationPolicy: "none" } }),
    reader,
  ).wait();
  assert.equal(none.recordsInserted, 1);
  assert.equal(binsOf(emu.get("test", a.digest)), binsOf(a));
  await Deno.remove(dir, { recursive: true });
});

/**
 * A message as a real source ships it beyond what our own XDR emulation sends: a LUT field
 * (14), a WRITE op carrying its LUT (`has_lut` flag, 8 bytes after the name) and an INCR op.
 */
function richMessage(r: AerospikeRecord, generation: number, incr: bigint): Uint8Array {
  const w = new ByteWriter();
  const p = beginProto(w);
  writeMessageHeader(w, {
    info1: 0x10,
    info2: Info2.WRITE,
    info3: 0,
    info4: 0,
    resultCode: 0,
    generation,
    recordTtl: -1,
    transactionTtl: 0,
    nFields: 4,
    nOps: 2,
  });
  writeStringField(w, FieldType.NAMESPACE, r.namespace);
  writeStringField(w, FieldType.SET, r.set);
  writeField(w, FieldType.DIGEST, r.digest);
  writeU64Field(w, FieldType.LUT, 1_700_000_000_000n);
  // WRITE "v" = 1 with has_lut: size, op, particle INTEGER, flags 1, name length, name, LUT, value.
  w.u32(4 + 1 + 8 + 8);
  w.u8(OpType.WRITE);
  w.u8(1);
  w.u8(1);
  w.u8(1);
  w.utf8("v");
  w.u64(1_700_000_000_000n);
  w.i64(1n);
  writeBinOp(w, OpType.INCR, intBin("n", incr));
  endProto(w, p, ProtoType.MESSAGE);
  return w.subarray().slice();
}

Deno.test("startAsbxRestore() sends each message as shipped and lets the server apply its ops", async () => {
  const dir = await Deno.makeTempDir();
  await using emu = await startEmulator({ nodes: 2 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const a = rec(1, 3, "");
  const gone = rec(2, 1, "");
  await writeFiles(dir, [
    ["0_", [token(richMessage(a, 3, 5n), a), token(richMessage(a, 4, 2n), a)]],
    // A delete of a record the target never had: already done.
    ["1_", [token(encodeXdrDelete(gone, { generation: 2 }).slice(), gone)]],
  ]);
  const stats = await startAsbxRestore(
    cluster,
    resolveRestoreConfig({ encoderType: "ASBX", parallel: 2 }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  ).wait();
  // Deletes have no counter of their own: like backup-go, they count as inserted.
  assert.equal(stats.recordsInserted, 3);
  const got = emu.get("test", a.digest)!;
  assert.deepEqual(got.bins, [intBin("v", 1n), intBin("n", 7n)], "both INCRs applied");
  assert.equal(got.generation, 2);
  assert.equal(emu.get("test", gone.digest), undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() ignores, retries and fails refused writes like an ASB restore", async () => {
  const dir = await Deno.makeTempDir();
  await using emu = await startEmulator({ nodes: 1 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const a = rec(1, 1, "a");
  await writeFiles(dir, [["0_", [token(encodeXdrWrite(a).slice(), a)]]]);
  const reader = new DirectoryReader(dir, { extension: ".asbx" });
  const run = (ignoreRecordError: boolean) =>
    startAsbxRestore(
      cluster,
      resolveRestoreConfig({
        encoderType: "ASBX",
        ignoreRecordError,
        retryPolicy: { baseTimeoutMs: 1, multiplier: 1, maxRetries: 2 },
      }),
      reader,
    ).wait();
  // A record-specific refusal: ignored on request, else the restore fails naming it.
  emu.faults.failWrite(1, ResultCode.RECORD_TOO_BIG);
  const ignored = await run(true);
  assert.equal(ignored.recordsIgnored, 1);
  assert.equal(ignored.recordsInserted, 0);
  emu.faults.failWrite(1, ResultCode.RECORD_TOO_BIG);
  await assert.rejects(run(false), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "RESTORE_WRITE_FAILED");
    assert.equal(e.resultCode, ResultCode.RECORD_TOO_BIG);
    assert.deepEqual(e.record, {
      namespace: "test",
      set: "s",
      digest: btoa(String.fromCharCode(...a.digest)),
    });
    return true;
  });
  assert.equal(emu.get("test", a.digest), undefined);
  // A passing refusal is retried with the same bytes.
  emu.faults.failWrite(1, ResultCode.KEY_BUSY);
  const retried = await run(false);
  assert.equal(retried.retries, 1);
  assert.equal(retried.recordsInserted, 1);
  assert.equal(binsOf(emu.get("test", a.digest)), binsOf(a));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() fails naming the file and offset of a truncated record", async () => {
  const dir = await Deno.makeTempDir();
  const a = rec(1, 1, "v");
  const [name] = await writeFiles(dir, [["0_", [token(encodeXdrWrite(a).slice(), a)]]]);
  const bytes = await Deno.readFile(`${dir}/${name}`);
  await Deno.writeFile(`${dir}/${name}`, bytes.subarray(0, bytes.length - 3));
  const config = resolveRestoreConfig({ encoderType: "ASBX", validateOnly: true });
  const job = startAsbxRestore(null, config, new DirectoryReader(dir, { extension: ".asbx" }));
  await assert.rejects(job.wait(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "ASBX_TRUNCATED");
    assert.equal(e.location?.file, `${dir}/${name}`);
    assert.equal(e.location?.offset, 44 + 26);
    return true;
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() names file and byte of a payload a replay refuses, also in validation", async () => {
  const dir = await Deno.makeTempDir();
  const a = rec(1, 1, "v");
  const b = rec(2, 1, "w");
  // The second record's payload is b's message under a's digest.
  const bad = { ...token(encodeXdrWrite(b).slice(), b), digest: a.digest };
  const good = token(encodeXdrWrite(a).slice(), a);
  const [name] = await writeFiles(dir, [["0_", [good, bad]]]);
  const config = resolveRestoreConfig({ encoderType: "ASBX", validateOnly: true });
  const job = startAsbxRestore(null, config, new DirectoryReader(dir, { extension: ".asbx" }));
  await assert.rejects(job.wait(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.equal(e.code, "ASBX_PAYLOAD");
    const at = 44 + 26 + good.payload.length;
    assert.match(e.message, new RegExp(`the record at byte ${at} of ${dir}/${name}: the digest`));
    assert.deepEqual(e.location, { file: `${dir}/${name}`, offset: at });
    return true;
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() rejects a file whose header number differs from its name", async () => {
  const dir = await Deno.makeTempDir();
  const a = rec(1, 1, "v");
  const [name] = await writeFiles(dir, [["0_", [token(encodeXdrWrite(a).slice(), a)]]]);
  await Deno.rename(`${dir}/${name}`, `${dir}/0_test_7.asbx`);
  const config = resolveRestoreConfig({ encoderType: "ASBX", validateOnly: true });
  const job = startAsbxRestore(null, config, new DirectoryReader(dir, { extension: ".asbx" }));
  await assert.rejects(job.wait(), (e: unknown) => (e as AerobakError).code === "ASBX_FILE_NUMBER");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an XDR backup restores into an empty cluster record for record", async () => {
  const dir = await Deno.makeTempDir();
  // Source: 3 nodes, no sockets; XDR ships to the backup's receiver.
  const source = new EmulatedCluster({ nodes: 3 });
  const ns = source.namespace("test")!;
  for (let i = 0; i < 400; i++) {
    const r = rec(i, 1 + (i % 4), `value ${i}`);
    ns.store.put({ ...r, lutMs: 0 });
  }
  const xdr = XdrEmulation.attach(source, { window: 32 });
  const backup = await runTestBackupXdr(new DirectInfo(source), dir, {
    namespace: "test",
    dc: "bk",
    parallelWrite: 4,
  });
  assert.equal(backup.recordsRead, 400);
  await xdr.close();

  await using emu = await startEmulator({ nodes: 2 });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const stats = await startAsbxRestore(
    cluster,
    resolveRestoreConfig({ encoderType: "ASBX", parallel: 3 }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  ).wait();
  assert.equal(stats.recordsInserted, 400);
  assert.equal(emu.count("test"), 400);
  for (let i = 0; i < 400; i += 37) {
    const r = rec(i, 1, `value ${i}`);
    assert.equal(binsOf(emu.get("test", r.digest)), binsOf(r));
  }
  await Deno.remove(dir, { recursive: true });
});

const hex = (d: Uint8Array) => [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
/** The generation a message carries (AS_MSG header bytes 6..9, after the proto header). */
const generationOf = (payload: Uint8Array) =>
  new DataView(payload.buffer, payload.byteOffset).getUint32(8 + 6);

/**
 * A cluster whose writes answer after random delays (so they finish out of order), applying
 * each message when it answers. `answer` decides a message's result code per attempt.
 */
class SlowCluster {
  /** Generations applied, per digest, in the order applied. */
  readonly applied = new Map<string, number[]>();
  readonly inFlight = new Set<string>();
  maxInFlight = 0;
  groups = 0;
  maxGroups = 0;
  sent = 0;
  readonly #random = rng(7);
  readonly #attempts = new Map<string, number>();
  constructor(readonly answer: (generation: number, attempt: number) => number = () => 0) {}

  async putPayloads(rows: PayloadRows): Promise<Int32Array> {
    const codes = new Int32Array(rows.length);
    this.maxGroups = Math.max(this.maxGroups, ++this.groups);
    try {
      await Promise.all(Array.from({ length: rows.length }, async (_, i) => {
        const d = hex(rows.digest(i));
        const generation = generationOf(rows.payload(i));
        assert.ok(!this.inFlight.has(d), `two messages of ${d} in flight at once`);
        this.inFlight.add(d);
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.size);
        this.sent++;
        try {
          await new Promise((r) => setTimeout(r, Math.floor(this.#random() * 4)));
          const id = `${d}/${generation}`;
          const attempt = this.#attempts.get(id) ?? 0;
          this.#attempts.set(id, attempt + 1);
          codes[i] = this.answer(generation, attempt);
          if (codes[i] === 0) {
            const list = this.applied.get(d) ?? [];
            list.push(generation);
            this.applied.set(d, list);
          }
        } finally {
          this.inFlight.delete(d);
        }
      }));
    } finally {
      this.groups--;
    }
    return codes;
  }
}

/**
 * One writer's file of `records` records × `versions` versions each (generations
 * 1 … versions, a delete last), shuffled across records but each record's versions in order.
 */
async function interleavedFile(dir: string, records: number, versions: number) {
  const random = rng(11);
  const next = new Array(records).fill(1);
  const tokens: ReturnType<typeof token>[] = [];
  const expected = new Map<string, number[]>();
  for (let left = records * versions; left > 0; left--) {
    let i = Math.floor(random() * records);
    while (next[i] > versions) i = (i + 1) % records;
    const g = next[i]++;
    const r = rec(i, g, `v${g}`);
    const msg = g === versions ? encodeXdrDelete(r, { generation: g }) : encodeXdrWrite(r);
    tokens.push(token(msg.slice(), r));
    const list = expected.get(hex(r.digest)) ?? [];
    list.push(g);
    expected.set(hex(r.digest), list);
  }
  await writeFiles(dir, [["0_", tokens]]);
  return expected;
}

Deno.test("startAsbxRestore() overlaps writes yet applies each record's messages in file order", async () => {
  const dir = await Deno.makeTempDir();
  const expected = await interleavedFile(dir, 24, 6);
  // Every third version is refused once as busy: its retry must still hold back the record's
  // later messages.
  const cluster = new SlowCluster((g, attempt) =>
    g % 3 === 0 && attempt === 0 ? ResultCode.KEY_BUSY : 0
  );
  const config = resolveRestoreConfig({
    encoderType: "ASBX",
    batchSize: 4,
    maxAsyncBatches: 8,
    retryPolicy: { baseTimeoutMs: 1, multiplier: 1, maxRetries: 2 },
  });
  const stats = await startAsbxRestore(
    cluster,
    config,
    new DirectoryReader(dir, { extension: ".asbx" }),
  ).wait();
  assert.equal(stats.recordsRead, 24 * 6);
  assert.equal(stats.recordsInserted, 24 * 6);
  assert.equal(stats.retries, 24 * 2);
  assert.deepEqual(cluster.applied, expected);
  assert.ok(cluster.maxGroups > 1, `at most ${cluster.maxGroups} group in flight`);
  assert.ok(cluster.maxGroups <= 8, `${cluster.maxGroups} groups in flight, window 8`);
  assert.ok(cluster.maxInFlight <= 8 * 4, `${cluster.maxInFlight} writes in flight`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() stops at the first failed write after the writes in flight end", async () => {
  const dir = await Deno.makeTempDir();
  await interleavedFile(dir, 400, 5);
  // The 30th message sent (a generation-2 write) is refused for good; the rest are slow.
  let calls = 0;
  const cluster = new SlowCluster((g) => ++calls >= 30 && g === 2 ? ResultCode.RECORD_TOO_BIG : 0);
  const job = startAsbxRestore(
    cluster,
    resolveRestoreConfig({ encoderType: "ASBX", batchSize: 4, maxAsyncBatches: 16 }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  );
  await assert.rejects(job.wait(), (e: unknown) => {
    // The error itself, not joined with copies of it.
    assert.ok(e instanceof AerobakError, String(e));
    assert.equal(e.code, "RESTORE_WRITE_FAILED");
    assert.equal(e.resultCode, ResultCode.RECORD_TOO_BIG);
    return true;
  });
  assert.equal(job.status, "failed");
  assert.equal(job.errors.length, 1, "the failure is reported once");
  assert.equal(cluster.inFlight.size, 0, "writes still in flight after the job ended");
  // Nothing new is sent once the failure is seen: what was in flight, and at most one more
  // group.
  assert.ok(cluster.sent <= 30 + 17 * 4, `${cluster.sent} messages sent`);
  assert.ok(job.stats().recordsInserted < cluster.sent);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("startAsbxRestore() cancelled with writes in flight ends after they do", async () => {
  const dir = await Deno.makeTempDir();
  await interleavedFile(dir, 400, 5);
  const cluster = new SlowCluster();
  const job = startAsbxRestore(
    cluster,
    resolveRestoreConfig({ encoderType: "ASBX", maxAsyncBatches: 16 }),
    new DirectoryReader(dir, { extension: ".asbx" }),
  );
  while (cluster.sent < 40) await new Promise((r) => setTimeout(r, 1));
  await job.cancel();
  await assert.rejects(job.wait(), (e: unknown) => (e as AerobakError).code === "CANCELLED");
  assert.equal(cluster.inFlight.size, 0, "writes still in flight after the job ended");
  assert.ok(cluster.sent < 2000);
  await Deno.remove(dir, { recursive: true });
});
