/**
 * End to end through `asbackup`/`asrestore` main(): every compression × encryption
 * combination, every key source of `--encryption-key-file`/`--encryption-key-env`, and
 * `--file-limit` rollover of compressed, encrypted files, on a 3-node emulator.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Emulator } from "../lib/emulator/mod.ts";
import {
  asbackup,
  asrestore,
  assertOk,
  assertRestoresSame,
  assertSameRecords,
  emulator3,
  listFiles,
  pemBody,
  seedRecords,
  writeTestKeys,
} from "./_crypto_helpers.ts";
import { backupArgs } from "./_backup_e2e.ts";

const RECORDS = 300;

/** Backs up `test` of `source` with `flags`, restores it into a fresh cluster, compares. */
async function roundTrip(
  source: Emulator,
  backupFlags: string[],
  restoreFlags: string[] = backupFlags,
): Promise<{ files: { name: string; size: number }[] }> {
  const dir = await Deno.makeTempDir({ prefix: "aerobak-crypto-" });
  try {
    const backup = await asbackup(["-h", source.seeds, "-n", "test", "-d", dir, ...backupFlags]);
    assertOk(backup, `asbackup ${backupFlags.join(" ")}`);
    assert.match(backup.stderr, new RegExp(`Records Read: +${RECORDS}\\n`));
    await using target = await emulator3();
    const restore = await asrestore(["-h", target.seeds, "-d", dir, ...restoreFlags]);
    assertOk(restore, `asrestore ${restoreFlags.join(" ")}`);
    assert.match(restore.stderr, new RegExp(`Inserted Records: +${RECORDS}\\n`));
    assertSameRecords(target.dump("test"), source.dump("test"));
    return { files: (await listFiles(dir)).filter((f) => f.name.endsWith(".asb")) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("asbackup/asrestore round-trip every --compress × --encrypt combination on 3 nodes", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS, 256);
  const keys = await writeTestKeys();
  try {
    const sizes = new Map<string, number>();
    for (const compress of [[], ["-z", "ZSTD", "--compression-level", "1"], ["-z", "zstd"]]) {
      for (const encrypt of ["NONE", "AES128", "AES256"]) {
        const flags = [...compress];
        if (encrypt !== "NONE") {
          flags.push("--encrypt", encrypt, "--encryption-key-file", keys.pkcs1);
        }
        const { files } = await roundTrip(source, flags);
        const bytes = files.reduce((n, f) => n + f.size, 0);
        sizes.set(`${compress.join(" ") || "none"}/${encrypt}`, bytes);
      }
    }
    // Sanity of the stages themselves: zstd shrinks the text, AES adds exactly the
    // 16-byte counter block per file (CTR keeps the length).
    const plain = sizes.get("none/NONE")!;
    assert.ok(sizes.get("-z zstd/NONE")! < plain * 0.9, JSON.stringify([...sizes]));
    assert.equal(sizes.get("none/AES128"), plain + 16);
    assert.equal(sizes.get("none/AES256"), plain + 16);
  } finally {
    await Deno.remove(keys.dir, { recursive: true });
  }
});

Deno.test("asbackup/asrestore round-trip zstd at levels 1, 3, 19 and a negative level", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  const sizes: number[] = [];
  for (const level of ["1", "3", "19", "-5"]) {
    const { files } = await roundTrip(
      source,
      ["--compress", "ZSTD", "--compression-level", level],
      // The level does not matter on restore (backup-go accepts and ignores it).
      ["--compress", "ZSTD"],
    );
    sizes.push(files.reduce((n, f) => n + f.size, 0));
  }
  // Level 19 compresses better than level 1, and the fast negative level worse.
  assert.ok(sizes[2] < sizes[0] && sizes[3] > sizes[0], `sizes ${sizes}`);
});

Deno.test("--encryption-key-file takes PKCS#1 and PKCS#8 PEM of the same key interchangeably", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  const keys = await writeTestKeys();
  try {
    for (const mode of ["AES128", "AES256"]) {
      await roundTrip(
        source,
        ["-z", "ZSTD", "--encrypt", mode, "--encryption-key-file", keys.pkcs1],
        ["-z", "ZSTD", "--encrypt", mode, "--encryption-key-file", keys.pkcs8],
      );
      await roundTrip(
        source,
        ["--encrypt", mode, "--encryption-key-file", keys.pkcs8],
        ["--encrypt", mode, "--encryption-key-file", keys.pkcs1],
      );
    }
  } finally {
    await Deno.remove(keys.dir, { recursive: true });
  }
});

Deno.test("--encryption-key-env accepts PEM, base64 PEM, base64 DER (PKCS#1/#8) and base64 of that", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  const keys = await writeTestKeys();
  const name = `AEROBAK_TEST_KEY_${crypto.randomUUID().replaceAll("-", "")}`;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  // backup-go's forms (backup-go-design.md §8); the C tool reads only base64 PKCS#1 DER,
  // the form every other one must agree with.
  const forms: [string, string][] = [
    ["PKCS#1 PEM", keys.pkcs1Pem],
    ["PKCS#8 PEM", keys.pkcs8Pem],
    ["base64 of PKCS#1 PEM", b64(keys.pkcs1Pem)],
    ["base64 of PKCS#8 PEM", b64(keys.pkcs8Pem)],
    ["base64 PKCS#1 DER (C tool form)", pemBody(keys.pkcs1Pem)],
    ["base64 PKCS#8 DER", pemBody(keys.pkcs8Pem)],
    ["base64 of base64 PKCS#1 DER", b64(pemBody(keys.pkcs1Pem))],
  ];
  const dir = await Deno.makeTempDir({ prefix: "aerobak-crypto-" });
  try {
    // One backup with the key file; every env form must decrypt it.
    const backup = await asbackup([
      ...backupArgs(source, dir),
      "-z",
      "ZSTD",
      "--encrypt",
      "AES256",
      "--encryption-key-file",
      keys.pkcs1,
    ]);
    assertOk(backup, "asbackup");
    for (const [what, value] of forms) {
      Deno.env.set(name, value);
      await assertRestoresSame(
        source,
        dir,
        ["-z", "ZSTD", "--encrypt", "AES256", "--encryption-key-env", name],
        `asrestore with ${what}`,
      );
    }
    // And the other way: a backup keyed from the C-compatible env form restores with the file.
    Deno.env.set(name, pemBody(keys.pkcs1Pem));
    await roundTrip(
      source,
      ["--encrypt", "AES128", "--encryption-key-env", name],
      ["--encrypt", "AES128", "--encryption-key-file", keys.pkcs8],
    );
  } finally {
    Deno.env.delete(name);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(keys.dir, { recursive: true });
  }
});

Deno.test("--file-limit rolls zstd+aes256 files over within the limit plus one record; all restore", async () => {
  await using source = await emulator3();
  // ~3 MiB of random blobs (zstd cannot shrink them): at 1 MiB several files per writer.
  const blob = 8 * 1024;
  seedRecords(source, 400, blob);
  const keys = await writeTestKeys();
  const dir = await Deno.makeTempDir({ prefix: "aerobak-crypto-" });
  const crypt = ["-z", "ZSTD", "--encrypt", "AES256", "--encryption-key-file", keys.pkcs1];
  try {
    const backup = await asbackup([
      ...backupArgs(source, dir),
      "-w",
      "2",
      "--file-limit",
      "1",
      ...crypt,
    ]);
    assertOk(backup, "asbackup --file-limit 1");
    const files = (await listFiles(dir)).filter((f) => f.name.endsWith(".asb"));
    assert.ok(files.length >= 3, `expected several files, got ${JSON.stringify(files)}`);
    // One record encodes to about 4/3 × blob (base64) plus its other bins and headers.
    const oneRecord = Math.ceil(blob * 4 / 3) + 1024;
    const limit = 1024 * 1024;
    for (const f of files) {
      assert.ok(f.size <= limit + oneRecord, `${f.name} has ${f.size} bytes, limit ${limit}`);
    }
    // A writer rolls over only once its file reached the limit: all but its last file are full.
    for (const writer of new Set(files.map((f) => f.name.split("_")[0]))) {
      const own = files.filter((f) => f.name.startsWith(`${writer}_`))
        .sort((a, b) => parseInt(a.name.split("_")[2]) - parseInt(b.name.split("_")[2]));
      for (const f of own.slice(0, -1)) {
        assert.ok(f.size >= limit, `${f.name} rolled over early at ${f.size} bytes`);
      }
    }

    await using target = await emulator3();
    const restore = await asrestore(["-h", target.seeds, "-d", dir, ...crypt]);
    assertOk(restore, "asrestore");
    assert.match(restore.stderr, /Inserted Records: +400\n/);
    assertSameRecords(target.dump("test"), source.dump("test"));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(keys.dir, { recursive: true });
  }
});

Deno.test("asbackup -o - | asrestore -i - pipes a zstd+aes128 stream between real processes", async () => {
  await using source = await emulator3();
  seedRecords(source, RECORDS);
  await using target = await emulator3();
  const keys = await writeTestKeys();
  try {
    const deno = Deno.execPath();
    const cli = (name: string) => new URL(`../cli/${name}.ts`, import.meta.url).pathname;
    // The key travels in the child processes' environment (the C tool's base64 DER form).
    const env = { AEROBAK_PIPE_KEY: pemBody(keys.pkcs1Pem) };
    const crypt = ["-z", "ZSTD", "--encrypt", "AES128", "--encryption-key-env", "AEROBAK_PIPE_KEY"];
    const backup = new Deno.Command(deno, {
      args: ["run", "-A", cli("asbackup"), "-h", source.seeds, "-n", "test", "-o", "-", ...crypt],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const restore = new Deno.Command(deno, {
      args: ["run", "-A", cli("asrestore"), "-h", target.seeds, "-i", "-", ...crypt],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Count the piped bytes on the way: the stream must be encrypted (no ASB text in it).
    let head: Uint8Array | undefined;
    await backup.stdout.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          head ??= chunk.slice(0, 16);
          controller.enqueue(chunk);
        },
      }),
    ).pipeTo(restore.stdin);
    const [b, r] = await Promise.all([backup.output(), restore.output()]);
    const text = (o: Deno.CommandOutput) => new TextDecoder().decode(o.stderr);
    assert.equal(b.code, 0, text(b));
    assert.equal(r.code, 0, text(r));
    assert.ok(head && !new TextDecoder().decode(head).includes("Version"));
    assert.match(text(r), new RegExp(`Inserted Records: +${RECORDS}\\n`));
    assertSameRecords(target.dump("test"), source.dump("test"));
  } finally {
    await Deno.remove(keys.dir, { recursive: true });
  }
});
