/**
 * End-to-end fault tests of `asrestore`: nodes stopping mid-restore, injected timeouts and
 * server errors with the retry policy, and bad input files — each with the exit code, the
 * error text and the report of how far the restore got.
 */

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";
import {
  assertAccounted,
  type FakeIo,
  fakeIo,
  jsonReport,
  startCluster,
  withTempDir,
} from "./_restore_helpers.ts";

async function backupPlain(emu: Emulator, dir: string, n: number, args: string[] = []) {
  for (let i = 0; i < n; i++) emu.put({ namespace: "test", set: "p", key: i, bins: { n: i } });
  const io = fakeIo(emu);
  assert.equal(await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir, ...args], io), 0);
}

async function restore(emu: Emulator | null, args: string[], expectCode = 0): Promise<FakeIo> {
  const io = fakeIo(emu ?? undefined);
  const hosts = emu ? ["-h", emu.seeds] : [];
  const code = await restoreMain([...hosts, "--log-json", ...args], io);
  assert.equal(code, expectCode, io.err.text);
  return io;
}

function errorLine(io: FakeIo): string {
  const line = io.err.text.trim().split("\n").map((l) => JSON.parse(l)).find((l) =>
    l.level === "ERROR"
  );
  assert.ok(line, io.err.text);
  return line.error;
}

// ---------------------------------------------------------------------------------------
// Retries.

for (
  const [code, name] of [
    [9, "TIMEOUT"],
    [18, "DEVICE_OVERLOAD"],
    [14, "KEY_BUSY"],
    [11, "PARTITION_UNAVAILABLE"],
    [1, "SERVER_ERROR (unknown: retried as backup-go does)"],
  ] as const
) {
  Deno.test(`asrestore retries a write refused with ${code} ${name} (single and batch)`, async () => {
    await using source = await startCluster();
    await withTempDir(async (dir) => {
      await backupPlain(source, dir, 10, ["-w", "1"]);
      for (const mode of [["--disable-batch-writes"], []]) {
        await using target = await startCluster();
        // The 3rd and 4th writes fail: the 3rd record (single) or its batch sub-write twice.
        target.faults.failWrite(3, code);
        target.faults.failWrite(4, code);
        const r = jsonReport(
          await restore(target, [
            "-d",
            dir,
            ...mode,
            "--retry-max-attempts",
            "3",
            "--retry-base-interval",
            "20",
          ]),
        );
        assertAccounted(r);
        // Only the refused record was sent again: a re-sent record would now be older
        // than the cluster's copy (GEN_GT) and count as fresher.
        assert.equal(r.inserted_records, 10, `${mode}`);
        assert.equal(r.fresher_records, 0);
        assert.equal(target.count("test"), 10);
      }
    });
  });
}

Deno.test("asrestore waits base × multiplier^k (±10 %) between attempts and gives up after the last", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await backupPlain(source, dir, 1);
    {
      await using target = await startCluster();
      target.faults.failWrite(1, 9);
      target.faults.failWrite(2, 9);
      const t0 = performance.now();
      const args = ["-d", dir, "--retry-max-attempts", "3", "--retry-base-interval", "200"];
      jsonReport(await restore(target, [...args, "--retry-multiplier", "2"]));
      const ms = performance.now() - t0;
      // 200 + 400 ms, each −10 % at worst.
      assert.ok(ms >= 540, `two retries took only ${ms} ms`);
      assert.equal(target.count("test"), 1);
    }
    {
      await using target = await startCluster();
      for (let i = 1; i <= 3; i++) target.faults.failWrite(i, 9);
      const args = ["-d", dir, "--retry-max-attempts", "3", "--retry-base-interval", "10"];
      const io = await restore(target, args, 1);
      assert.match(errorLine(io), /server returned 9 TIMEOUT/);
      const r = jsonReport(io);
      assert.equal(r.failed_records, 1);
      assertAccounted(r);
      assert.equal(target.count("test"), 0);
    }
    {
      // --retry-max-attempts 0 means one attempt.
      await using target = await startCluster();
      target.faults.failWrite(1, 18);
      const args = ["-d", dir, "--disable-batch-writes", "--retry-max-attempts", "0"];
      const io = await restore(target, args, 1);
      assert.match(errorLine(io), /18 DEVICE_OVERLOAD/);
    }
    {
      // The defaults try again (up to 6 attempts, 150 ms apart and doubling).
      await using target = await startCluster();
      target.faults.failWrite(1, 18);
      target.faults.failWrite(2, 18);
      const r = jsonReport(await restore(target, ["-d", dir, "--disable-batch-writes"]));
      assert.equal(r.retries, 2);
      assert.equal(target.count("test"), 1);
    }
  });
});

Deno.test("asrestore does not retry a permanent record error (13 RECORD_TOO_BIG) in single mode", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await backupPlain(source, dir, 5, ["-w", "1"]);
    await using target = await startCluster();
    target.faults.failWrite(2, 13);
    const args = ["-d", dir, "--disable-batch-writes", "-w", "1", "--retry-max-attempts", "5"];
    // The fault fails one write only: had the record been retried, the restore would pass.
    const io = await restore(target, args, 1);
    assert.match(errorLine(io), /13 RECORD_TOO_BIG/);
    const r = jsonReport(io);
    assert.equal(r.failed_records, 1);
    assert.ok(Number(r.inserted_records) >= 1, "the report says how far it got");
  });
});

Deno.test("asrestore --total-timeout bounds each write; slow writes time out and are retried", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await backupPlain(source, dir, 3, ["-w", "1"]);
    await using target = await startCluster();
    target.faults.delay(400, { kinds: ["write", "batch"] });
    const base = ["-d", dir, "--retry-max-attempts", "2", "--retry-base-interval", "10"];
    const t0 = performance.now();
    const fast = ["--total-timeout", "100", "--socket-timeout", "100"];
    const single = await restore(target, [...base, ...fast, "--disable-batch-writes"], 1);
    assert.match(errorLine(single), /total timeout of 100 ms passed/);
    // --socket-timeout alone (no total limit) bounds the wait for reply bytes.
    const socketOnly = [
      "--total-timeout",
      "0",
      "--socket-timeout",
      "150",
      "--disable-batch-writes",
    ];
    const sock = await restore(target, [...base, ...socketOnly], 1);
    assert.match(errorLine(sock), /no data for 150 ms/);
    // A write that timed out may have been applied: counted in doubt.
    assert.ok(Number(jsonReport(single).in_doubt_errors) >= 1, single.err.text);
    // A batch the node does not answer in time: no answer for its records (-18).
    const batch = await restore(target, [...base, ...fast], 1);
    assert.match(errorLine(batch), /no answer \(-18 NETWORK_ERROR: network error, timeout/);
    assert.ok(performance.now() - t0 < 4000);
    const ok = jsonReport(await restore(target, [...base, "-g", "--total-timeout", "3000"]));
    assert.equal(ok.inserted_records, 3);
  });
});

Deno.test("asrestore survives a node stopped mid-restore: retries go to the new masters", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await backupPlain(source, dir, 200, ["-w", "1"]);
    await using target = await startCluster();
    const running = restore(target, [
      "-d",
      dir,
      "-L",
      "250",
      "--batch-size",
      "10",
      "--retry-max-attempts",
      "10",
      "--retry-base-interval",
      "300",
    ]);
    await new Promise((r) => setTimeout(r, 300));
    await target.stopNode(1);
    const r = jsonReport(await running);
    assertAccounted(r);
    // A batch cut off with the node may have been applied before the retry: the retry then
    // finds the record already there (GEN_GT) and counts it fresher. Nothing is lost.
    assert.equal(Number(r.inserted_records) + Number(r.fresher_records), 200);
    assert.equal(target.count("test"), 200);
  });
});

// ---------------------------------------------------------------------------------------
// Bad input.

const GOOD = "Version 3.1\n# namespace test\n# first-file\n" +
  "+ k I 1\n+ n test\n+ d t/S4OIni2mfeaD4d9pGaHqzERsg=\n+ s demo\n+ g 3\n+ t 0\n+ b 1\n- I age 42\n";

Deno.test("asrestore names file and line of a corrupt record and reports what it restored before", async () => {
  await using target = await startCluster();
  await withTempDir(async (dir) => {
    const file = `${dir}/bad.asb`;
    await Deno.writeTextFile(
      file,
      GOOD + "+ k I 2\n+ n test\n+ d !!!!!!!!!!!!!!!!!!!!!!!!!!!!\n+ g 1\n",
    );
    for (const args of [["-i", file, "-w", "1"], ["--validate", "-i", file]]) {
      const io = await restore(args[0] === "--validate" ? null : target, args, 1);
      const err = errorLine(io);
      assert.match(err, /bad\.asb:14/, err);
      assert.match(err, /ASB_SYNTAX/);
      const r = jsonReport(io, args[0] === "--validate" ? "validation report" : "restore report");
      assert.equal(r.records_read, 1);
    }
    assert.equal(target.count("test"), 1, "the record before the bad one was restored");
  });
});

Deno.test("asrestore reports a truncated file with its name and line", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/cut.asb`;
    await Deno.writeTextFile(file, GOOD.slice(0, GOOD.length - 6));
    const io = await restore(null, ["--validate", "-i", file], 1);
    assert.match(errorLine(io), /cut\.asb:\d+.*ASB_SYNTAX|cut\.asb.*line/);
  });
});

Deno.test("asrestore with the wrong encryption key or a compressed file read as plain fails clearly", async () => {
  const samples = new URL("../testdata/c-asbackup-4.5.8/", import.meta.url).pathname;
  const encrypted = ["--encrypt", "aes256", "--encryption-key-file"];
  // The right key validates the sample...
  const right = await restore(null, [
    "--validate",
    "-d",
    `${samples}aes256`,
    ...encrypted,
    `${samples}sample-key.pem`,
  ]);
  assert.equal(jsonReport(right, "validation report").records_read, 19);
  await withTempDir(async (dir) => {
    // ...another valid RSA key decrypts to garbage, caught at the file's first bytes.
    const { privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 1024,
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
      publicKeyEncoding: { type: "pkcs1", format: "pem" },
    });
    await Deno.writeTextFile(`${dir}/other.pem`, privateKey);
    const wrongKey = await restore(null, [
      "--validate",
      "-d",
      `${samples}aes256`,
      ...encrypted,
      `${dir}/other.pem`,
    ], 1);
    assert.match(errorLine(wrongKey), /aes256\/test_00000\.asb/);
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a pem key\n");
    const junkKey = await restore(null, [
      "--validate",
      "-d",
      `${samples}aes256`,
      ...encrypted,
      `${dir}/junk.pem`,
    ], 1);
    assert.match(errorLine(junkKey), /junk\.pem/);
    const plainRead = await restore(null, ["--validate", "-d", `${samples}aes256`], 1);
    assert.match(errorLine(plainRead), /aes256\/test_00000\.asb/);
    const zstdPlain = await restore(null, ["--validate", "-d", `${samples}zstd`], 1);
    assert.match(errorLine(zstdPlain), /zstd\/test_00000\.asb/);
  });
});

Deno.test("asrestore names the file and byte of damaged zstd data, plain or encrypted, and counts what it wrote", async () => {
  // A backup big and compressible enough that one read expands past the decoder's 64 KiB
  // buffer: damage found there used to escape as an uncaught exception (issue 16).
  await using source = await startEmulator({ nodes: 1 });
  for (let i = 0; i < 20_000; i++) {
    source.put({ namespace: "test", set: "p", key: i, bins: { n: i, s: `value ${i % 100}` } });
  }
  const key = new URL("../testdata/c-asbackup-4.5.8/sample-key.pem", import.meta.url).pathname;
  const crypt = ["--encrypt", "aes128", "--encryption-key-file", key];
  await withTempDir(async (dir) => {
    for (
      const [name, flags, hint] of [
        ["zstd", ["-z", "zstd"], /\(damaged file\?\)/],
        ["zstd-aes128", ["-z", "zstd", ...crypt], /\(damaged file or wrong encryption key\?\)/],
      ] as const
    ) {
      const file = `${dir}/${name}.asb`;
      const io = fakeIo(source);
      const args = ["-h", source.seeds, "-n", "test", "-o", file, ...flags];
      assert.equal(await backupMain(args, io), 0, io.err.text);
      const bytes = await Deno.readFile(file);
      const at = Math.floor(bytes.length * 0.6);
      for (let i = at; i < at + 64; i++) bytes[i] ^= 0xff;
      await Deno.writeFile(file, bytes);
      await using target = await startCluster();
      for (const validate of [true, false]) {
        const run = await restore(validate ? null : target, [
          ...(validate ? ["--validate"] : []),
          "-i",
          file,
          ...flags,
        ], 1);
        const err = errorLine(run);
        assert.match(err, new RegExp(`Cannot decompress ${file}: .* at byte \\d+ `), err);
        assert.match(err, hint);
        assert.match(err, /\[ZSTD_ERROR\]$/);
        const offset = Number(/at byte (\d+)/.exec(err)![1]);
        assert.ok(offset > 0 && offset <= at, `offset ${offset}, damage at ${at}`);
        assert.doesNotMatch(run.err.text, /\n\s+at .*:\d+:\d+/, "stack trace in the output");
        const r = jsonReport(run, validate ? "validation report" : "restore report");
        assert.ok(
          Number(r.records_read) > 0 && Number(r.records_read) < 20_000,
          `read ${r.records_read}`,
        );
        if (!validate) {
          assertAccounted(r);
          assert.equal(
            target.count("test"),
            r.inserted_records,
            "the report counts what was written",
          );
        }
      }
    }
  });
});

Deno.test("asrestore of a missing directory or file fails with its path, before connecting", async () => {
  for (
    const args of [["-d", "/nonexistent/backup"], ["-i", "/nonexistent/backup"], [
      "--directory-list",
      // The first directory exists: every one is checked.
      `${Deno.cwd()},/nonexistent/backup`,
    ]]
  ) {
    const io = await restore(null, ["-h", "127.0.0.1:1", ...args], 1);
    assert.match(errorLine(io), /\/nonexistent\/backup.*STORAGE_NOT_FOUND/);
  }
});

Deno.test("asrestore -n src,dst refuses records of another namespace, naming the file and line", async () => {
  await using target = await startCluster();
  await withTempDir(async (dir) => {
    const file = `${dir}/ns.asb`;
    await Deno.writeTextFile(
      file,
      GOOD + "+ k I 2\n+ n bar\n+ d rmpRXzfeStrMRJbi2h/qhIw6knA=\n+ g 1\n+ t 0\n+ b 1\n- I n 1\n",
    );
    const io = await restore(target, ["-i", file, "-n", "test,bar", "--disable-batch-writes"], 1);
    const err = errorLine(io);
    assert.match(err, /namespace bar/);
    assert.match(err, /ns\.asb:18/);
    const r = jsonReport(io);
    assert.equal(r.inserted_records, 1, "the report says how far it got");
  });
});

Deno.test("asrestore cancelled by a signal exits 1 and reports how far it got", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await backupPlain(source, dir, 50, ["-w", "1"]);
    await using target = await startCluster();
    const abort = new AbortController();
    const io = fakeIo(target);
    io.signal = abort.signal;
    setTimeout(() => abort.abort(new Error("interrupted by signal")), 300);
    const code = await restoreMain(["-h", target.seeds, "--log-json", "-d", dir, "-L", "20"], io);
    assert.equal(code, 1);
    assert.match(errorLine(io), /cancelled|interrupted/i);
    const r = jsonReport(io);
    assert.ok(Number(r.records_read) < 50, `read ${r.records_read}`);
    assert.ok(target.count("test") < 50);
  });
});

Deno.test("asrestore -T bounds the info commands of the restore (server version, metadata)", async () => {
  await using source = await startCluster();
  await withTempDir(async (dir) => {
    await backupPlain(source, dir, 3);
    await using target = await startCluster();
    target.faults.delay(150, { kinds: ["info"] });
    const args = ["-d", dir, "--info-max-retries", "2", "--info-retry-interval", "50"];
    const io = await restore(target, [...args, "-T", "50"], 1);
    assert.match(errorLine(io), /no data for 50 ms|timeout/i);
    assert.equal(target.count("test"), 0);
    jsonReport(await restore(target, [...args, "-T", "1000"]));
    assert.equal(target.count("test"), 3);
  });
});
