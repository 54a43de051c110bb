/**
 * End-to-end tests of `asrestore --validate` against the backup's manifest: backups of a
 * 3-node emulator written by `asbackup` (scan, single file, compressed and encrypted, XDR),
 * then tampered with (a file truncated, a byte of a value changed, a file deleted, an extra
 * file, a manifest swapped); each finding names the file and what was expected.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { MANIFEST_FILE_NAME, MANIFEST_SUFFIX } from "../lib/backup/manifest.ts";
import { backupArgs, fakeIo, seeded, tempDir } from "./_backup_e2e.ts";

const KEY_FILE = new URL("../lib/aerospike/testdata/tls/server.key", import.meta.url).pathname;

/** Backs up 600 records into `dir`: two writers, files of ~16 KiB. */
async function backupInto(dir: string, more: string[] = []): Promise<void> {
  await using emu = await seeded(600);
  const io = fakeIo();
  const code = await backupMain([...backupArgs(emu, dir), "-w", "2", "-F", "0", ...more], io);
  assert.equal(code, 0, io.err.text);
}

/** Runs `asrestore --validate` (JSON logs) and returns the exit code and log lines. */
async function validate(
  args: string[],
): Promise<{ code: number; lines: Record<string, unknown>[] }> {
  const io = fakeIo();
  const code = await restoreMain(["--validate", "--log-json", ...args], io);
  const lines = io.err.text.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  return { code, lines };
}

function findings(lines: Record<string, unknown>[]): { file: string; check: string }[] {
  return lines.filter((l) => l.msg === "validation finding").map((l) => ({
    file: l.file as string,
    check: l.check as string,
  }));
}

/** A copy of a backup directory to tamper with. */
async function copyOf(src: string, dst: string): Promise<string> {
  await Deno.mkdir(dst);
  for (const e of Deno.readDirSync(src)) {
    await Deno.copyFile(`${src}/${e.name}`, `${dst}/${e.name}`);
  }
  return dst;
}

function dataFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".asb")).sort();
}

Deno.test("asrestore --validate: an untouched backup matches its manifest; each tampering is found and names the file", async () => {
  await using tmp = await tempDir();
  const good = `${tmp.path}/good`;
  await backupInto(good);
  const files = dataFiles(good);
  assert.ok(files.length >= 2, files.join());
  const clean = await validate(["-d", good]);
  assert.equal(clean.code, 0, JSON.stringify(clean.lines));
  assert.deepEqual(findings(clean.lines), []);
  assert.ok(clean.lines.some((l) => l.msg === "the backup matches its manifest"));

  // A file cut short (mid-record): its size, and the decoder names it.
  const cut = await copyOf(good, `${tmp.path}/cut`);
  const victim = files.find((f) => !f.startsWith("metadata_"))!;
  const bytes = await Deno.readFile(`${cut}/${victim}`);
  await Deno.writeFile(`${cut}/${victim}`, bytes.subarray(0, bytes.length - 7));
  const truncated = await validate(["-d", cut]);
  assert.equal(truncated.code, 1);
  assert.ok(findings(truncated.lines).some((f) => f.file === victim && f.check === "size"));
  const sizeLine = truncated.lines.find((l) => l.check === "size")!;
  assert.equal(sizeLine.expected, bytes.length);
  assert.equal(sizeLine.found, bytes.length - 7);
  assert.ok(truncated.lines.some((l) => String(l.error ?? "").includes(victim)));

  // A byte changed inside a string value: still valid ASB, same size and records.
  const flipped = await copyOf(good, `${tmp.path}/flipped`);
  const text = await Deno.readTextFile(`${flipped}/${victim}`);
  const at = text.indexOf("string ");
  assert.ok(at > 0);
  await Deno.writeTextFile(
    `${flipped}/${victim}`,
    text.slice(0, at) + "strinG " + text.slice(at + 7),
  );
  const changed = await validate(["-d", flipped]);
  assert.equal(changed.code, 1);
  assert.deepEqual(findings(changed.lines), [{ file: victim, check: "checksum" }]);

  // The last record removed cleanly (its lines from `+ k`/`+ n` on): the count differs too.
  const fewer = await copyOf(good, `${tmp.path}/fewer`);
  const lines = (await Deno.readTextFile(`${fewer}/${victim}`)).split("\n");
  let cutAt = lines.findLastIndex((l) => l.startsWith("+ n "));
  if (lines[cutAt - 1].startsWith("+ k ")) cutAt--;
  await Deno.writeTextFile(`${fewer}/${victim}`, [...lines.slice(0, cutAt), ""].join("\n"));
  const dropped = await validate(["-d", fewer]);
  assert.equal(dropped.code, 1);
  assert.deepEqual(
    findings(dropped.lines).map((f) => f.check).sort(),
    ["checksum", "records", "size"],
  );

  // A file deleted.
  const gone = await copyOf(good, `${tmp.path}/gone`);
  await Deno.remove(`${gone}/${victim}`);
  const missing = await validate(["-d", gone]);
  assert.equal(missing.code, 1);
  assert.deepEqual(findings(missing.lines), [{ file: victim, check: "missing" }]);

  // An extra data file.
  const more = await copyOf(good, `${tmp.path}/more`);
  await Deno.copyFile(`${more}/${victim}`, `${more}/7_test_9.asb`);
  const extra = await validate(["-d", more]);
  assert.equal(extra.code, 1);
  assert.deepEqual(findings(extra.lines), [{ file: "7_test_9.asb", check: "extra" }]);

  // The manifest of another backup.
  const other = `${tmp.path}/other`;
  await backupInto(other, ["-q", "x_"]);
  const swapped = await copyOf(good, `${tmp.path}/swapped`);
  await Deno.copyFile(`${other}/${MANIFEST_FILE_NAME}`, `${swapped}/${MANIFEST_FILE_NAME}`);
  const wrong = await validate(["-d", swapped]);
  assert.equal(wrong.code, 1);
  const found = findings(wrong.lines);
  for (const f of dataFiles(other)) {
    assert.ok(found.some((x) => x.file === f && x.check === "missing"), f);
  }
  for (const f of files) assert.ok(found.some((x) => x.file === f && x.check === "extra"), f);
});

Deno.test("asrestore --validate checks compressed, encrypted and single-file backups by their stored bytes", async () => {
  await using tmp = await tempDir();
  const crypto = ["-z", "ZSTD", "--encrypt", "AES256", "--encryption-key-file", KEY_FILE];
  const dir = `${tmp.path}/dir`;
  await backupInto(dir, crypto);
  assert.equal((await validate(["-d", dir, ...crypto])).code, 0);
  const victim = dataFiles(dir).at(-1)!;
  const bytes = await Deno.readFile(`${dir}/${victim}`);
  bytes[bytes.length - 1] ^= 1; // the zstd checksum or data: the stored bytes differ
  await Deno.writeFile(`${dir}/${victim}`, bytes);
  const bad = await validate(["-d", dir, ...crypto]);
  assert.equal(bad.code, 1);
  assert.ok(bad.lines.some((l) => String(l.error ?? l.file ?? "").includes(victim)));

  await using emu = await seeded(100);
  const file = `${tmp.path}/all.asb`;
  const io = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-o", file], io), 0, io.err.text);
  const one = await validate(["-i", file]);
  assert.equal(one.code, 0, JSON.stringify(one.lines));
  assert.ok(one.lines.some((l) => l.msg === "the backup matches its manifest" && l.files === 1));
  await Deno.writeTextFile(file, (await Deno.readTextFile(file)).replace("string 1", "string 2"));
  const tampered = await validate(["-i", file]);
  assert.equal(tampered.code, 1);
  assert.deepEqual(findings(tampered.lines), [{ file: "all.asb", check: "checksum" }]);
});

Deno.test("asrestore --validate without a manifest decodes the files and says completeness was not checked", async () => {
  await using tmp = await tempDir();
  await backupInto(tmp.path);
  await Deno.remove(`${tmp.path}/${MANIFEST_FILE_NAME}`);
  const io = fakeIo();
  assert.equal(await restoreMain(["--validate", "-d", tmp.path], io), 0, io.err.text);
  assert.match(
    io.err.text,
    /level=WARN msg="no manifest: the files decode, but completeness could not be checked/,
  );
  assert.match(io.err.text, /Records Read: +600\n/);
});

Deno.test("asrestore names a manifest that is not JSON or lists files that are not there, one line each", async () => {
  await using emu = await seeded(60);
  await using tmp = await tempDir();
  await backupInto(tmp.path);
  const manifestPath = `${tmp.path}/${MANIFEST_FILE_NAME}`;
  const good = await Deno.readTextFile(manifestPath);

  await Deno.writeTextFile(manifestPath, '{"format": "aerobak-backup-manifest", "files": [');
  for (
    const mode of [["--validate"], ["-h", emu.seeds, "-n", "test,bar"], [
      "-h",
      emu.seeds,
      "--verify",
    ]]
  ) {
    const io = fakeIo();
    assert.equal(await restoreMain([...mode, "-d", tmp.path], io), 1);
    const lines = io.err.text.trim().split("\n");
    assert.equal(lines.length, 1, io.err.text);
    assert.match(
      lines[0],
      new RegExp(`Invalid backup manifest ${manifestPath}: not JSON .*\\[MANIFEST_INVALID\\]`),
    );
  }
  assert.equal(emu.count("bar"), 0);

  const m = JSON.parse(good);
  m.files.push({ ...m.files[0], name: "0_test_99.asb" });
  await Deno.writeTextFile(manifestPath, JSON.stringify(m));
  const restore = fakeIo();
  assert.equal(await restoreMain(["-h", emu.seeds, "-n", "test,bar", "-d", tmp.path], restore), 1);
  const lines = restore.err.text.trim().split("\n");
  assert.equal(lines.length, 1, restore.err.text);
  assert.match(
    lines[0],
    /does not match its manifest .*0_test_99\.asb is missing.*\[MANIFEST_MISMATCH\]/,
  );
  assert.equal(emu.count("bar"), 0, "nothing restored from an incomplete backup");
  const validation = await validate(["-d", tmp.path]);
  assert.equal(validation.code, 1);
  assert.deepEqual(findings(validation.lines), [{ file: "0_test_99.asb", check: "missing" }]);
});

Deno.test("asbackup -o replaces the manifest of the file it replaces", async () => {
  await using emu = await seeded(30);
  await using tmp = await tempDir();
  const file = `${tmp.path}/one.asb`;
  await Deno.writeTextFile(`${file}${MANIFEST_SUFFIX}`, "stale");
  const io = fakeIo();
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-o", file], io), 0, io.err.text);
  const m = JSON.parse(await Deno.readTextFile(`${file}${MANIFEST_SUFFIX}`));
  assert.deepEqual(m.files.map((f: { name: string }) => f.name), ["one.asb"]);
  assert.equal(m.totals.records, 30);
});
