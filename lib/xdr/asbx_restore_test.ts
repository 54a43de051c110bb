import assert from "node:assert/strict";
import { ByteWriter } from "../aerospike/byte_writer.ts";
import { Cluster } from "../aerospike/cluster.ts";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { intBin, stringBin } from "../aerospike/particle.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import { EmulatedCluster } from "../emulator/cluster.ts";
import { startEmulator } from "../emulator/emulator.ts";
import { XdrEmulation } from "../emulator/xdr.ts";
import { AsbxEncoder } from "../format/asbx/encoder.ts";
import { DirectoryReader } from "../io/local_reader.ts";
import { DirectoryWriter } from "../io/local_writer.ts";
import { ManualClock } from "../pipeline/clock.ts";
import { resolveRestoreConfig } from "../restore/config.ts";
import { DirectInfo } from "./_test_util.ts";
import { startAsbxRestore } from "./asbx_restore.ts";
import { startBackupXdr } from "./backup_xdr.ts";
import { resolveBackupXdrConfig } from "./config.ts";
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
    ["1_", [token(encodeXdrDelete(b).slice(), b)]],
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
  const clock = new ManualClock();
  const backup = startBackupXdr(
    new DirectInfo(source),
    resolveBackupXdrConfig({
      namespace: "test",
      dc: "bk",
      localPort: 0,
      listenAddress: "127.0.0.1",
      parallelWrite: 4,
    }),
    new DirectoryWriter(dir),
    { clock },
  );
  for (let i = 0; i < 4000 && backup.status === "running"; i++) {
    await clock.advance(500);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal((await backup.wait()).recordsRead, 400);
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
