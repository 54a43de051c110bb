import assert from "node:assert/strict";
import { DirectoryWriter, FileWriter } from "./local_writer.ts";

Deno.test("DirectoryWriter skipDirCheck accepts a non-empty directory and removes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/0_test_1.asb`, "old");
    const refused = new DirectoryWriter(dir);
    await assert.rejects(refused.open("0_test_2.asb"), { code: "STORAGE_NOT_EMPTY" });
    const storage = new DirectoryWriter(dir, { skipDirCheck: true, removeFiles: true });
    const w = (await storage.open("0_test_1(1).asb")).getWriter();
    await w.write(new TextEncoder().encode("new"));
    await w.close();
    assert.equal(await Deno.readTextFile(`${dir}/0_test_1.asb`), "old");
    assert.equal(await Deno.readTextFile(`${dir}/0_test_1(1).asb`), "new");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DirectoryWriter.writeAtomic() replaces a file through a renamed temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const storage = new DirectoryWriter(`${dir}/sub`);
    await storage.writeAtomic("backup.state", new TextEncoder().encode("one"));
    await storage.writeAtomic("backup.state", new TextEncoder().encode("two"));
    assert.equal(await Deno.readTextFile(`${dir}/sub/backup.state`), "two");
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["backup.state"]);
    // Like open(), it checks the directory first: a foreign non-empty one is refused.
    await Deno.writeTextFile(`${dir}/other.asb`, "x");
    await assert.rejects(
      new DirectoryWriter(dir).writeAtomic("s", new Uint8Array(1)),
      { code: "STORAGE_NOT_EMPTY" },
    );
    await assert.rejects(storage.writeAtomic("a/b", new Uint8Array(1)), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileWriter.remove() removes a regular file but never a device", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.asb`, "x");
    await new FileWriter(`${dir}/a.asb`).remove("");
    assert.throws(() => Deno.statSync(`${dir}/a.asb`), Deno.errors.NotFound);
    await new FileWriter(`${dir}/missing.asb`).remove("");
    await new FileWriter("/dev/null").remove("");
    assert.ok(Deno.statSync("/dev/null").isCharDevice);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
