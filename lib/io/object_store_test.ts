import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { MemoryObjectStore } from "./_memory_object_store.ts";
import {
  directoryPrefix,
  ObjectStoreFileWriter,
  ObjectStoreReader,
  ObjectStoreWriter,
  resumableRead,
  withRetry,
} from "./object_store.ts";

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function writeAll(w: WritableStream<Uint8Array>, data: Uint8Array, step: number) {
  const writer = w.getWriter();
  for (let i = 0; i < data.length; i += step) await writer.write(data.slice(i, i + step));
  await writer.close();
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("directoryPrefix() turns a directory into a key prefix", () => {
  assert.equal(directoryPrefix(""), "");
  assert.equal(directoryPrefix("/"), "");
  assert.equal(directoryPrefix("."), "");
  assert.equal(directoryPrefix("a/b"), "a/b/");
  assert.equal(directoryPrefix("/a/b//"), "a/b/");
});

Deno.test("ObjectStoreWriter sends a small file with one put and a large one in parts", async () => {
  const store = new MemoryObjectStore();
  const w = new ObjectStoreWriter(store, "bk/today", { partSize: 100 });
  await writeAll(await w.open("small.asb"), bytes(60), 7);
  assert.deepEqual(store.objects.get("bk/today/small.asb"), bytes(60));
  assert.equal(store.uploads.has("bk/today/small.asb"), false);
  // Exactly two parts: the second full part is the last one, never an empty third.
  await writeAll(await w.open("even.asb"), bytes(200, 2), 50);
  assert.deepEqual(store.uploads.get("bk/today/even.asb"), [100, 100]);
  assert.deepEqual(store.objects.get("bk/today/even.asb"), bytes(200, 2));
  await writeAll(await w.open("big.asb"), bytes(1234, 3), 333);
  assert.deepEqual(store.uploads.get("bk/today/big.asb"), [...Array(12).fill(100), 34]);
  assert.deepEqual(store.objects.get("bk/today/big.asb"), bytes(1234, 3));
  assert.equal(w.describe("x.asb"), "mem://bucket/bk/today/x.asb");
});

Deno.test("ObjectStoreWriter keeps at most uploadConcurrency parts in flight", async () => {
  const store = new MemoryObjectStore({ maxConcurrentParts: 3 });
  const w = new ObjectStoreWriter(store, "", { partSize: 10, uploadConcurrency: 8 });
  await writeAll(await w.open("f.asb"), bytes(500), 500);
  assert.equal(store.maxInFlight, 3);
  assert.deepEqual(store.objects.get("f.asb"), bytes(500));
  const seq = new MemoryObjectStore({ maxConcurrentParts: 1, partAlignment: 16 });
  const w1 = new ObjectStoreWriter(seq, "", { partSize: 20, uploadConcurrency: 4 });
  await writeAll(await w1.open("g.asb"), bytes(100), 9);
  assert.equal(seq.maxInFlight, 1);
  assert.deepEqual(seq.uploads.get("g.asb"), [32, 32, 32, 4], "parts aligned to 16");
});

Deno.test("ObjectStoreWriter refuses a non-empty prefix unless told to remove its backup files", async () => {
  const store = new MemoryObjectStore();
  await store.put("bk/0_test_1.asb", bytes(3));
  await store.put("bk/notes.txt", bytes(3));
  await store.put("bk/sub/x.asb", bytes(3));
  await store.put("other/y.asb", bytes(3));
  const refused = new ObjectStoreWriter(store, "bk");
  await assert.rejects(
    () => refused.open("a.asb"),
    (e: AerobakError) =>
      e.code === "STORAGE_NOT_EMPTY" &&
      /mem:\/\/bucket\/bk\/.*0_test_1\.asb.*and 1 more/.test(e.message),
  );
  const w = new ObjectStoreWriter(store, "bk", { removeFiles: true });
  await writeAll(await w.open("a.asb"), bytes(5), 5);
  assert.deepEqual([...store.objects.keys()].sort(), [
    "bk/a.asb",
    "bk/notes.txt",
    "bk/sub/x.asb",
    "other/y.asb",
  ]);
  const cont = new ObjectStoreWriter(store, "bk", { skipDirCheck: true });
  await cont.writeAtomic("state.json", bytes(4));
  assert.deepEqual(store.objects.get("bk/state.json"), bytes(4));
  assert.deepEqual(await cont.readBack("state.json"), bytes(4));
  await cont.remove("state.json");
  await assert.rejects(
    () => cont.readBack("state.json"),
    (e: AerobakError) => e.code === "STORAGE_NOT_FOUND",
  );
  assert.equal(store.objects.has("bk/state.json"), false);
  await assert.rejects(() => cont.open("a/b.asb"), TypeError);
});

Deno.test("ObjectStoreWriter drops the upload when a part fails or the sink is aborted", async () => {
  const store = new MemoryObjectStore();
  const w = new ObjectStoreWriter(store, "", { partSize: 10 });
  const sink = (await w.open("f.asb")).getWriter();
  await sink.write(bytes(25));
  store.failRequests = 1;
  await sink.write(bytes(10)).catch(() => {});
  await assert.rejects(() => sink.close());
  assert.equal(store.objects.has("f.asb"), false);
  assert.equal(store.openUploads.size, 0);
  const aborted = (await w.open("g.asb")).getWriter();
  await aborted.write(bytes(25));
  await aborted.abort(new Error("job cancelled"));
  assert.equal(store.objects.has("g.asb"), false);
  assert.equal(store.openUploads.size, 0);
});

Deno.test("ObjectStoreReader lists a prefix's backup files by name and reads them", async () => {
  const store = new MemoryObjectStore();
  await store.put("bk/b_test_2.asb", bytes(30, 2));
  await store.put("bk/a_test_1.asb", bytes(20, 1));
  await store.put("bk/metadata_test_1.asb", bytes(5));
  await store.put("bk/x.asbx", bytes(5));
  await store.put("bk/sub/c.asb", bytes(5));
  const r = new ObjectStoreReader(store, { directories: ["/bk/"] }, {
    skipPrefixes: ["metadata_"],
  });
  assert.equal(r.kind, "directory");
  const entries = [];
  for await (const e of r.list()) entries.push(e);
  assert.deepEqual(entries.map((e) => [e.name, e.path, e.size]), [
    ["a_test_1.asb", "mem://bucket/bk/a_test_1.asb", 20],
    ["b_test_2.asb", "mem://bucket/bk/b_test_2.asb", 30],
  ]);
  assert.deepEqual(await readAll(await r.open(entries[1])), bytes(30, 2));
  const files = new ObjectStoreReader(store, { files: ["bk/x.asbx", "bk/sub/c.asb"] });
  const named = [];
  for await (const e of files.list()) named.push(e.name);
  assert.deepEqual(named, ["x.asbx", "c.asb"]);
  const missing = new ObjectStoreReader(store, { files: ["bk/nope.asb"] });
  await assert.rejects(async () => {
    for await (const _ of missing.list()) { /* drain */ }
  }, (e: AerobakError) => e.code === "STORAGE_NOT_FOUND" && /bk\/nope\.asb/.test(e.message));
});

Deno.test("resumableRead() resumes a broken download at the byte it reached", async () => {
  const store = new MemoryObjectStore();
  await store.put("f", bytes(100));
  store.breakReadsAt = 30;
  store.readBreaks = 2;
  const policy = { initialBackoffMs: 1, maxAttempts: 3 };
  assert.deepEqual(await readAll(resumableRead(store, "f", policy)), bytes(100));
  store.readBreaks = 5;
  await assert.rejects(
    () => readAll(resumableRead(store, "f", { initialBackoffMs: 1, maxAttempts: 2 })),
    (e: AerobakError) =>
      e.code === "STORAGE_READ" && /mem:\/\/bucket\/f at byte 30/.test(e.message),
  );
});

Deno.test("withRetry() retries retriable errors with growing waits, not the others", async () => {
  let calls = 0;
  const t0 = performance.now();
  const v = await withRetry(async (attempt) => {
    calls++;
    if (attempt < 3) throw new AerobakError("X", "busy", { retriable: true });
    return await Promise.resolve(attempt);
  }, { initialBackoffMs: 20, multiplier: 2 });
  assert.equal(v, 3);
  assert.equal(calls, 3);
  assert.ok(performance.now() - t0 >= 55, "waits of 20 then 40 ms");
  calls = 0;
  await assert.rejects(() =>
    withRetry(() => {
      calls++;
      return Promise.reject(new AerobakError("X", "forbidden", { retriable: false }));
    })
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(() =>
    withRetry(() => {
      calls++;
      return Promise.reject(new AerobakError("X", "busy", { retriable: true }));
    }, { maxAttempts: 4, initialBackoffMs: 1 })
  );
  assert.equal(calls, 4);
});

Deno.test("ObjectStoreFileWriter writes one object, replacing it, and opens once", async () => {
  const store = new MemoryObjectStore();
  await store.put("bk/all.asb", bytes(3));
  const w = new ObjectStoreFileWriter(store, "/bk/all.asb", { partSize: 10, uploadConcurrency: 2 });
  assert.equal(w.kind, "file");
  assert.equal(w.describe(""), "mem://bucket/bk/all.asb");
  await writeAll(await w.open("0_test_1.asb"), bytes(35, 5), 4);
  assert.deepEqual(store.objects.get("bk/all.asb"), bytes(35, 5));
  assert.deepEqual(store.uploads.get("bk/all.asb"), [10, 10, 10, 5]);
  await assert.rejects(() => w.open("x"), (e: AerobakError) => e.code === "STORAGE_REOPENED");
  // Companions (the manifest) are named by suffix, beside the object.
  await w.writeAtomic(".manifest.json", bytes(4));
  assert.deepEqual(store.objects.get("bk/all.asb.manifest.json"), bytes(4));
  assert.equal(w.describe(".manifest.json"), "mem://bucket/bk/all.asb.manifest.json");
  await w.remove(".manifest.json");
  assert.equal(store.objects.has("bk/all.asb.manifest.json"), false);
  await w.remove("");
  assert.equal(store.objects.has("bk/all.asb"), false);
});
