import assert from "node:assert/strict";
import { main as backupMain } from "./asbackup.ts";
import { main as restoreMain } from "./asrestore.ts";
import { fakeIo } from "./_test_io.ts";
import { startEmulator } from "../lib/emulator/mod.ts";

Deno.test("asbackup and asrestore round-trip a namespace through a directory", async () => {
  await using source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < 50; i++) {
    source.put({
      namespace: "test",
      set: i % 2 ? "odd" : "even",
      key: i,
      bins: { n: i, s: `v${i}` },
    });
  }
  const dir = await Deno.makeTempDir();
  try {
    const io = fakeIo();
    const code = await backupMain(["-h", source.seeds, "-n", "test", "-d", dir, "-w", "2"], io);
    assert.equal(code, 0, io.err.text);
    assert.match(io.err.text, /Backup report/);
    assert.match(io.err.text, /Records Read: +50\n/);
    const files = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assert.ok(files.some((f) => f.endsWith(".asb")), files.join(","));

    const validate = fakeIo();
    assert.equal(await restoreMain(["-d", dir, "--validate"], validate), 0, validate.err.text);
    assert.match(validate.err.text, /Validation report/);
    assert.match(validate.err.text, /Records Read: +50\n/);

    await using target = await startEmulator({ nodes: 1 });
    const rio = fakeIo();
    const rcode = await restoreMain(["-h", target.seeds, "-d", dir, "--log-json"], rio);
    assert.equal(rcode, 0, rio.err.text);
    const report = JSON.parse(rio.err.text.trim().split("\n").at(-1)!);
    assert.equal(report.msg, "restore report");
    assert.equal(report.inserted_records, 50);
    assert.equal(target.count("test"), 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asbackup refuses a non-empty directory without -r and exits 1", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  emu.put({ namespace: "test", key: 1, bins: { a: 1 } });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/old.asb`, "x");
    const io = fakeIo();
    assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir], io), 1);
    assert.match(io.err.text, /level=ERROR msg="backup failed" error=.*STORAGE_NOT_EMPTY/);
    const io2 = fakeIo();
    assert.equal(
      await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir, "-r"], io2),
      0,
      io2.err.text,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asbackup reports a bad configuration without connecting", async () => {
  const io = fakeIo();
  // No cluster listens on port 1: the config error must come first.
  assert.equal(
    await backupMain(["-h", "127.0.0.1:1", "-n", "test", "-d", "/tmp/x", "-w", "0"], io),
    1,
  );
  assert.match(io.err.text, /invalid backup configuration.*parallelRead 0/);
});

Deno.test("asrestore reports a connection failure with exit code 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const io = fakeIo();
    const code = await restoreMain(["-h", "127.0.0.1:1", "-d", dir, "--client-timeout", "500"], io);
    assert.equal(code, 1);
    assert.match(io.err.text, /level=ERROR msg="restore failed"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("asbackup writes one compressed file and asrestore maps it to another namespace", async () => {
  await using emu = await startEmulator({ nodes: 1, namespaces: ["test", "bar"] });
  for (let i = 0; i < 20; i++) emu.put({ namespace: "test", set: "s", key: i, bins: { n: i } });
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/all.asb`;
    const io = fakeIo();
    assert.equal(
      await backupMain([
        "-h",
        emu.seeds,
        "-n",
        "test",
        "-o",
        file,
        "-z",
        "ZSTD",
        "-s",
        "s",
        "-w",
        "4",
      ], io),
      0,
      io.err.text,
    );
    const rio = fakeIo();
    assert.equal(
      await restoreMain(["-h", emu.seeds, "-i", file, "-z", "zstd", "-n", "test,bar"], rio),
      0,
      rio.err.text,
    );
    assert.match(rio.err.text, /Inserted Records: +20\n/);
    assert.equal(emu.count("bar"), 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
