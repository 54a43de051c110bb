/**
 * End-to-end tests of `asrestore --verify` and `--verify-extra` on a 3-node emulator: a
 * backup by `asbackup`, the cluster then changed through the wire (updates, deletes,
 * inserts), behind the server's back (bins replaced keeping the last-update time), and
 * verified with namespace mapping and set lists.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo as fakeProcess } from "../cli/_test_io.ts";
import { Cluster } from "../lib/aerospike/cluster.ts";
import { keyFromJs } from "../lib/aerospike/digest.ts";
import { intBin } from "../lib/aerospike/particle.ts";
import { MANIFEST_FILE_NAME } from "../lib/backup/manifest.ts";
import type { Emulator } from "../lib/emulator/emulator.ts";
import { localTime, seeded, T0, tempDir } from "./_backup_e2e.ts";

/** A fake process on the emulator's clock: the manifest's start is emulator time. */
function io(emu: Emulator) {
  return fakeProcess({ now: () => new Date(emu.cluster.clock.now()) });
}

async function backup(emu: Emulator, dir: string, more: string[] = []): Promise<void> {
  const p = io(emu);
  const code = await backupMain(["-h", emu.seeds, "-n", "test", "-d", dir, "-w", "2", ...more], p);
  assert.equal(code, 0, p.err.text);
}

interface VerifyRun {
  code: number;
  report: Record<string, unknown>;
  text: string;
}

async function verify(emu: Emulator, args: string[]): Promise<VerifyRun> {
  const p = io(emu);
  const code = await restoreMain(["-h", emu.seeds, "--log-json", "--verify", ...args], p);
  const lines = p.err.text.trim().split("\n").map((l) => JSON.parse(l));
  const report = lines.find((l) => l.msg === "verify report");
  assert.ok(report, p.err.text);
  return { code, report, text: p.err.text };
}

function counts(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of ["identical", "changed", "different", "missing", "extra", "new"]) {
    if (`${c}_records` in r) out[c] = r[`${c}_records`];
  }
  return out;
}

Deno.test("asrestore --verify: an untouched namespace verifies clean; updates, deletes, inserts and silent changes are classified", async () => {
  await using emu = await seeded(300);
  await using dir = await tempDir();
  emu.advanceClock(1000);
  await backup(emu, dir.path);
  const clean = await verify(emu, ["-d", dir.path, "--verify-extra"]);
  assert.equal(clean.code, 0, clean.text);
  assert.deepEqual(counts(clean.report), {
    identical: 300,
    changed: 0,
    different: 0,
    missing: 0,
    extra: 0,
    new: 0,
  });

  // After the backup: 5 records updated through the wire, 4 deleted, 3 inserted, 2 records
  // of the time before the backup that it never saw, and 1 record whose bins change behind
  // the server's back (its last-update time kept).
  emu.advanceClock(5000);
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const alpha = emu.dump("test").filter((r) => r.set === "alpha");
  const b64 = (d: Uint8Array) => btoa(String.fromCharCode(...d));
  for (const r of alpha.slice(0, 5)) {
    assert.equal((await cluster.put({ ...r, bins: [intBin("i", 1)] }, {}, -1)).resultCode, 0);
  }
  for (const r of alpha.slice(5, 9)) {
    assert.equal(await cluster.delete("test", r.set, r.digest), 0);
  }
  for (let i = 0; i < 3; i++) {
    emu.put({ namespace: "test", set: "alpha", key: `new-${i}`, bins: { i } });
  }
  for (let i = 0; i < 2; i++) {
    emu.put({
      namespace: "test",
      set: "beta",
      key: `old-${i}`,
      bins: { i },
      lastUpdateMs: T0 - 500,
    });
  }
  const silent = alpha[9];
  const lut = emu.get("test", silent.digest)!.lastUpdateMs;
  emu.put({ ...silent, bins: [...silent.bins.slice(1), intBin("x", 7)] }, { lastUpdateMs: lut });

  const after = await verify(emu, ["-d", dir.path, "--verify-extra"]);
  assert.equal(after.code, 1, "records different and missing");
  assert.deepEqual(counts(after.report), {
    identical: 300 - 10,
    changed: 5,
    different: 1,
    missing: 4,
    extra: 2,
    new: 3,
  });
  const digests = after.report.digests as Record<string, string[]>;
  assert.deepEqual(digests.changed.sort(), alpha.slice(0, 5).map((r) => b64(r.digest)).sort());
  assert.deepEqual(digests.missing.sort(), alpha.slice(5, 9).map((r) => b64(r.digest)).sort());
  assert.deepEqual(digests.different, [b64(silent.digest)]);
  const now = emu.dump("test");
  const keyed = (k: string) =>
    now.find((r) =>
      r.key?.type === 3 && new TextDecoder().decode(r.key.value as Uint8Array) === k
    )!;
  assert.deepEqual(
    digests.extra.sort(),
    ["old-0", "old-1"].map((k) => b64(keyed(k).digest)).sort(),
  );
  assert.deepEqual(
    digests.new.sort(),
    ["new-0", "new-1", "new-2"].map((k) => b64(keyed(k).digest)).sort(),
  );
  assert.match(
    after.text,
    /"msg":"the backup does not match the cluster","different":1,"missing":4/,
  );

  // --modified-before later than the updates: they are not newer, so they differ.
  const late = await verify(emu, ["-d", dir.path, "--modified-before", localTime(T0 + 60_000)]);
  assert.equal(late.code, 1);
  assert.deepEqual(counts(late.report), {
    identical: 290,
    changed: 0,
    different: 6,
    missing: 4,
  });

  // Text report: counts and up to 10 digests per class.
  const p = io(emu);
  assert.equal(await restoreMain(["-h", emu.seeds, "-d", dir.path, "--verify"], p), 1);
  assert.match(p.err.text, /Verify report\n-------------\n/);
  assert.match(
    p.err.text,
    /Identical Records: +290\nChanged Records: +5\nDifferent Records: +1\nMissing Records: +4\n/,
  );
  assert.match(
    p.err.text,
    new RegExp(`Different Digests: +${b64(silent.digest).replace(/[+/=]/g, "\\$&")}\n`),
  );
  assert.doesNotMatch(p.err.text, /Extra Records/);
});

Deno.test("asrestore --verify with a namespace mapping and set lists checks the restored copy", async () => {
  await using emu = await seeded(240);
  await using dir = await tempDir();
  emu.advanceClock(1000);
  await backup(emu, dir.path, ["-s", "alpha,beta"]);
  emu.advanceClock(1000);
  const p = io(emu);
  assert.equal(
    await restoreMain(["-h", emu.seeds, "-d", dir.path, "-n", "test,bar"], p),
    0,
    p.err.text,
  );
  // The restored copy was written after the backup started: the time that tells changed
  // records is the end of the restore.
  const restored = ["-d", dir.path, "-n", "test,bar", "--modified-before", localTime(T0 + 60_000)];
  const mapped = await verify(emu, [...restored, "--verify-extra"]);
  assert.equal(mapped.code, 0, mapped.text);
  assert.deepEqual(counts(mapped.report), {
    identical: 160,
    changed: 0,
    different: 0,
    missing: 0,
    extra: 0,
    new: 0,
  });
  // A set list: only its records are read from the backup and looked for in the cluster.
  const one = await verify(emu, [...restored, "-s", "beta", "--verify-extra"]);
  assert.equal(one.code, 0, one.text);
  assert.equal(one.report.identical_records, 80);
  assert.equal(one.report.skipped_records, 80);
  assert.equal(one.report.extra_records, 0);

  // Records of `bar` changed behind the server's back, another key under a digest: different.
  const alpha = emu.dump("bar").filter((r) => r.set === "alpha");
  const lut = emu.get("bar", alpha[0].digest)!.lastUpdateMs;
  emu.put({ ...alpha[0], bins: alpha[0].bins.map((b) => (b.name === "i" ? intBin("i", -1) : b)) }, {
    lastUpdateMs: lut,
  });
  emu.put({ ...alpha[1], key: keyFromJs(987654) }, { lastUpdateMs: lut });
  const wrong = await verify(emu, [...restored, "-s", "alpha"]);
  assert.equal(wrong.code, 1);
  assert.equal(wrong.report.different_records, 2);
  // The source namespace was not restored into: every record is there and identical.
  assert.equal((await verify(emu, ["-d", dir.path])).report.identical_records, 160);
});

Deno.test("asrestore --verify refuses what it cannot do, one line each", async () => {
  await using emu = await seeded(20);
  await using dir = await tempDir();
  await backup(emu, dir.path);
  for (
    const [args, why] of [
      [["--verify", "--validate"], /--validate and --verify are mutually exclusive/],
      [["--modified-before", "2025-01-01"], /--modified-before is only used with --verify/],
      [["--verify-extra", "-B", "i"], /extra records with a bin list/],
    ] as const
  ) {
    const p = io(emu);
    assert.equal(await restoreMain(["-h", emu.seeds, "-d", dir.path, ...args], p), 1);
    assert.equal(p.err.text.trim().split("\n").length, 1, p.err.text);
    assert.match(p.err.text, why);
  }
  // Without a manifest the time window is unknown: said once, changed records differ.
  await Deno.remove(`${dir.path}/${MANIFEST_FILE_NAME}`);
  const p = io(emu);
  assert.equal(await restoreMain(["-h", emu.seeds, "-d", dir.path, "--verify"], p), 0, p.err.text);
  assert.match(p.err.text, /level=WARN msg="no manifest and no --modified-before/);
});
