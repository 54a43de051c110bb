import assert from "node:assert/strict";
import { openRestoreSource, restorePlanFromFlags } from "./_restore_options.ts";
import { RESTORE_FLAGS } from "./_restore_flags.ts";
import { FlagError, parseFlags } from "./_flags.ts";
import { MIB } from "./_backup_options.ts";
import { resolveRestoreConfig } from "../lib/restore/config.ts";
import { MemoryObjectStore } from "../lib/io/_memory_object_store.ts";

function plan(...args: string[]) {
  return restorePlanFromFlags(parseFlags(RESTORE_FLAGS, args), undefined, 6);
}

function flagError(message: RegExp) {
  return (e: unknown) => e instanceof FlagError && message.test(e.message);
}

Deno.test("restorePlanFromFlags() maps the restore CLI's defaults", () => {
  const p = plan("-d", "/b");
  assert.deepEqual(p.source, { kind: "directory", path: "/b" });
  const c = p.config;
  assert.equal(c.parallel, 6);
  assert.equal(c.namespace, undefined);
  assert.equal(c.batchSize, 128);
  assert.equal(c.maxAsyncBatches, 32);
  assert.deepEqual(c.writePolicy, {
    recordExistsAction: "update",
    generationPolicy: "expectGenGreater",
    sendKey: true,
    totalTimeoutMs: 10000,
    socketTimeoutMs: 10000,
  });
  assert.deepEqual(c.retryPolicy, { baseTimeoutMs: 150, multiplier: 2, maxRetries: 6 });
  assert.equal(resolveRestoreConfig(c).parallel, 6);
});

Deno.test("restorePlanFromFlags() maps the write policy flags", () => {
  assert.equal(plan("-d", "/b", "-u").config.writePolicy?.recordExistsAction, "createOnly");
  assert.equal(plan("-d", "/b", "-r").config.writePolicy?.recordExistsAction, "replace");
  assert.equal(plan("-d", "/b", "-g").config.writePolicy?.generationPolicy, "none");
  assert.throws(() => plan("-d", "/b", "-u", "-r"), flagError(/--unique and --replace/));
});

Deno.test("restorePlanFromFlags() maps namespaces as source[,destination]", () => {
  assert.deepEqual(plan("-d", "/b", "-n", "a").config.namespace, { source: "a", destination: "a" });
  assert.deepEqual(plan("-d", "/b", "-n", "a,b").config.namespace, {
    source: "a",
    destination: "b",
  });
  assert.throws(() => plan("-d", "/b", "-n", "a,b,c"), flagError(/"a,b,c" for --namespace/));
  assert.throws(() => plan("-d", "/b", "-n", "a,"), flagError(/"a," for --namespace/));
});

Deno.test("restorePlanFromFlags() maps the other options", () => {
  const c = plan(
    "-i",
    "-",
    "-w",
    "3",
    "-L",
    "100",
    "-N",
    "1",
    "-s",
    "x,y",
    "-B",
    "b",
    "--extra-ttl",
    "60",
    "--batch-size",
    "10",
    "--max-async-batches",
    "4",
    "--warm-up",
    "7",
    "--ignore-record-error",
    "--disable-batch-writes",
    "--validate",
    "--apply-metadata-last",
    "--retry-max-attempts",
    "5",
  ).config;
  assert.equal(c.parallel, 3);
  assert.equal(c.recordsPerSecond, 100);
  assert.equal(c.bandwidth, MIB);
  assert.deepEqual(c.setList, ["x", "y"]);
  assert.deepEqual(c.binList, ["b"]);
  assert.equal(c.extraTtl, 60);
  assert.equal(c.batchSize, 10);
  assert.equal(c.maxAsyncBatches, 4);
  assert.equal(c.warmUp, 7);
  assert.equal(c.ignoreRecordError, true);
  assert.equal(c.disableBatchWrites, true);
  assert.equal(c.validateOnly, true);
  assert.equal(c.applyMetadataLast, true);
  assert.equal(c.retryPolicy?.maxRetries, 5);
});

Deno.test("restorePlanFromFlags() needs exactly one source", () => {
  assert.throws(
    () => plan(),
    flagError(/exactly one of --directory, --input-file or --directory-list/),
  );
  assert.throws(() => plan("-d", "/a", "-i", "f"), flagError(/exactly one/));
  assert.throws(
    () => plan("-d", "/a", "--parent-directory", "/p"),
    flagError(/--parent-directory requires --directory-list/),
  );
  assert.deepEqual(plan("-i", "f.asb").source, { kind: "file", path: "f.asb" });
  assert.deepEqual(plan("-i", "-").source, { kind: "stdin" });
  assert.deepEqual(plan("--directory-list", "a,b", "--parent-directory", "/p").source, {
    kind: "directoryList",
    paths: ["a", "b"],
    parentDirectory: "/p",
  });
});

Deno.test("openRestoreSource() builds the storage readers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.asb`, "x");
    await Deno.writeTextFile(`${dir}/b.txt`, "x");
    const names = async (src: Parameters<typeof openRestoreSource>[0]) =>
      (await Array.fromAsync(openRestoreSource(src).list())).map((e) => e.name);
    assert.deepEqual(await names({ kind: "directory", path: dir }), ["a.asb"]);
    assert.deepEqual(await names({ kind: "directoryList", paths: ["."], parentDirectory: dir }), [
      "a.asb",
    ]);
    assert.equal(openRestoreSource({ kind: "file", path: `${dir}/b.txt` }).kind, "files");
    assert.equal(openRestoreSource({ kind: "stdin" }).kind, "stdin");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restorePlanFromFlags() with cloud storage reads prefixes and keys of the bucket", async () => {
  const store = new MemoryObjectStore();
  await store.put("root/a/x_test_1.asb", new TextEncoder().encode("Version 3.1\n"));
  const cloud = {
    store,
    writerOptions: { partSize: MIB, uploadConcurrency: 1 },
    readRetry: {},
    prepareRestore: () => Promise.resolve(),
  };
  const cloudPlan = (...args: string[]) =>
    restorePlanFromFlags(parseFlags(RESTORE_FLAGS, args), undefined, 6, cloud);
  const list = cloudPlan("--directory-list", "a,/b", "--parent-directory", "root/").source;
  assert.ok(list.kind === "cloud");
  assert.deepEqual(list.objects, { directories: ["root/a", "root/b"] });
  const names = [];
  for await (const e of openRestoreSource(list).list()) names.push(e.path);
  assert.deepEqual(names, ["mem://bucket/root/a/x_test_1.asb"]);
  const file = cloudPlan("-i", "root/a/x_test_1.asb").source;
  assert.ok(file.kind === "cloud");
  assert.deepEqual(file.objects, { files: ["root/a/x_test_1.asb"] });
  assert.throws(() => cloudPlan("-i", "-"), flagError(/standard input/));
});
