import assert from "node:assert/strict";
import { join } from "node:path";
import { collect } from "./_test_helpers.ts";
import { rejectsCode, withTempDir } from "../_test_utils.ts";
import { DirectoryListReader, DirectoryReader, FileListReader } from "./local_reader.ts";
import { DirectoryWriter, FileWriter } from "./local_writer.ts";
import { StdinReader, StdoutWriter } from "./std_storage.ts";
import type { StorageEntry, StorageReader, StorageWriter } from "./storage.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(fn, "aerobak-storage-");
}

async function writeFile(storage: StorageWriter, name: string, chunks: string[]): Promise<void> {
  const w = (await storage.open(name)).getWriter();
  for (const c of chunks) await w.write(enc(c));
  await w.close();
}

async function list(reader: StorageReader): Promise<StorageEntry[]> {
  const out: StorageEntry[] = [];
  for await (const e of reader.list()) out.push(e);
  return out;
}

Deno.test("DirectoryWriter writes buffered files that DirectoryReader lists by name", async () => {
  await withTmp(async (tmp) => {
    const dir = join(tmp, "new", "backup");
    const storage = new DirectoryWriter(dir, { bufferSize: 4 });
    await writeFile(storage, "b_test_2.asb", ["Version 3.1\n", "x", "yz", "0123456789"]);
    await writeFile(storage, "a_test_10.asb", ["A"]);
    await writeFile(storage, "notes.txt", ["ignored"]);
    await writeFile(storage, "x_test_1.asbx", ["X"]);
    assert.equal(await Deno.readTextFile(join(dir, "b_test_2.asb")), "Version 3.1\nxyz0123456789");
    assert.equal(
      ((await Deno.stat(join(dir, "a_test_10.asb"))).mode ?? 0) & 0o777,
      0o666 & ~Deno.umask(),
    );
    const entries = await list(new DirectoryReader(dir));
    assert.deepEqual(entries.map((e) => [e.name, e.size]), [["a_test_10.asb", 1], [
      "b_test_2.asb",
      25,
    ]]);
    assert.deepEqual(
      (await list(new DirectoryReader(dir, { extension: ".asbx" }))).map((e) => e.name),
      ["x_test_1.asbx"],
    );
    const reader = new DirectoryReader(dir, { skipPrefixes: ["a_"] });
    const [only] = await list(reader);
    assert.equal(
      new TextDecoder().decode(await collect(await reader.open(only))),
      "Version 3.1\nxyz0123456789",
    );
    assert.equal(storage.describe("f.asb"), join(dir, "f.asb"));
    await storage.remove("a_test_10.asb");
    await storage.remove("a_test_10.asb");
    assert.equal((await list(new DirectoryReader(dir))).length, 1);
  });
});

Deno.test("DirectoryWriter refuses a non-empty directory unless removeFiles", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(join(dir, "old.asb"), "old");
    await Deno.writeTextFile(join(dir, "keep.txt"), "keep");
    await rejectsCode(
      new DirectoryWriter(dir).open("n.asb"),
      "STORAGE_NOT_EMPTY",
      new RegExp(`${dir}.*not empty.*"keep\\.txt"`),
    );
    const storage = new DirectoryWriter(dir, { removeFiles: true });
    await storage.prepare();
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["keep.txt"]);
    await writeFile(storage, "n.asb", ["new"]);
  });
});

Deno.test("DirectoryWriter and FileWriter name the path of an unwritable target or a full disk", async () => {
  await withTmp(async (dir) => {
    const blocker = join(dir, "file");
    await Deno.writeTextFile(blocker, "x");
    await rejectsCode(
      new DirectoryWriter(join(blocker, "sub")).open("a.asb"),
      "STORAGE_WRITE",
      new RegExp(`${blocker}/sub`),
    );
    await rejectsCode(
      new FileWriter(join(blocker, "x.asb")).open(""),
      "STORAGE_WRITE",
      new RegExp(`${blocker}`),
    );
  });
  // /dev/full fails every write with ENOSPC.
  const sink = await new FileWriter("/dev/full", { bufferSize: 8 }).open("");
  const w = sink.getWriter();
  await rejectsCode(
    w.write(enc("0123456789abcdef")),
    "STORAGE_WRITE",
    /Cannot write \/dev\/full: no space left on device/,
  );
});

Deno.test("FileWriter writes one file and refuses a second open", async () => {
  await withTmp(async (dir) => {
    const path = join(dir, "deep", "single.asb");
    await Deno.mkdir(join(dir, "deep"));
    await Deno.writeTextFile(path, "previous content that is longer");
    const storage = new FileWriter(path);
    await writeFile(storage, "ignored.asb", ["Version 3.1\n"]);
    assert.equal(await Deno.readTextFile(path), "Version 3.1\n");
    await rejectsCode(storage.open("x"), "STORAGE_REOPENED", /single\.asb/);
    const entries = await list(new FileListReader([path]));
    assert.deepEqual(entries, [{ name: "single.asb", path, size: 12 }]);
  });
});

Deno.test("FileListReader and DirectoryListReader name missing inputs", async () => {
  await withTmp(async (dir) => {
    await Deno.mkdir(join(dir, "d1"));
    await Deno.mkdir(join(dir, "d2"));
    await Deno.writeTextFile(join(dir, "d1", "z.asb"), "1");
    await Deno.writeTextFile(join(dir, "d2", "a.asb"), "22");
    await Deno.writeTextFile(join(dir, "d2", "b.txt"), "333");
    const reader = new DirectoryListReader(["d1", "d2"], { parentDirectory: dir });
    assert.deepEqual((await list(reader)).map((e) => e.path), [
      join(dir, "d1", "z.asb"),
      join(dir, "d2", "a.asb"),
    ]);
    await rejectsCode(
      list(new DirectoryListReader(["d1", "nope"], { parentDirectory: dir })),
      "STORAGE_NOT_FOUND",
      new RegExp(`${dir}/nope: no such file`),
    );
    await rejectsCode(
      list(new DirectoryReader(join(dir, "d1", "z.asb"))),
      "STORAGE_NOT_FOUND",
      /z\.asb: not a directory/,
    );
    await rejectsCode(
      list(new FileListReader([join(dir, "missing.asb")])),
      "STORAGE_NOT_FOUND",
      /missing\.asb: no such file/,
    );
    await rejectsCode(
      list(new FileListReader([join(dir, "d1")])),
      "STORAGE_NOT_FOUND",
      /d1: not a regular file/,
    );
    await rejectsCode(
      new FileListReader([]).open({ name: "gone", path: join(dir, "gone.asb") }),
      "STORAGE_READ",
      /gone\.asb/,
    );
  });
});

Deno.test("StdoutWriter appends files in turn without closing the output; StdinReader reads once", async () => {
  const got: Uint8Array[] = [];
  let closed = false;
  const output = new WritableStream<Uint8Array>({
    write: (c) => void got.push(c),
    close: () => void (closed = true),
  });
  const storage = new StdoutWriter({ output, bufferSize: 3 });
  const first = await storage.open("a");
  await rejectsCode(storage.open("b"), "STORAGE_BUSY", /<stdout>/);
  const w = first.getWriter();
  await w.write(enc("ab"));
  await w.write(enc("cdef"));
  await w.close();
  await writeFile(storage, "b", ["gh"]);
  assert.equal(new TextDecoder().decode(await collect(ReadableStream.from(got))), "abcdefgh");
  assert.equal(closed, false);
  const stdin = new StdinReader({ input: ReadableStream.from([enc("in")]) });
  const [entry] = await list(stdin);
  assert.equal(entry.path, "<stdin>");
  assert.equal(new TextDecoder().decode(await collect(await stdin.open(entry))), "in");
  await rejectsCode(stdin.open(entry), "STORAGE_READ", /<stdin> twice/);
});
