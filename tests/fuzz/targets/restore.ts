/**
 * Fuzz target of the whole restore job: a damaged backup file in a directory, read by
 * `asrestore` in-process, either `--validate` or a real restore into a fresh emulator. The
 * run must exit 0, or exit 1 with one error line naming the file; its report's counters
 * must add up, and a restore may not hold more records than it says it inserted.
 *
 * An input is `<kind>\n<file bytes>`: the kind picks the file name and the flags. An error
 * names the file, or the record the server refused (a damaged namespace or bin the file
 * still parses).
 *
 * @module
 */

import { main as restoreMain } from "../../../cli/asrestore.ts";
import { startEmulator } from "../../../lib/emulator/emulator.ts";
import { ContractViolation, type FuzzTarget, namesSource } from "../engine.ts";
import { splitHeader, withHeader } from "../input.ts";
import { mutateBytes } from "../mutate.ts";
import {
  aes256Target,
  asbTarget,
  asbxTarget,
  SAMPLE_KEY,
  zstdAes128Target,
  zstdTarget,
} from "./files.ts";
import { CliFailure, findLine, runCli } from "./cli_run.ts";

/** Flags and file name of each kind of file. */
const KINDS: Record<string, { file: string; flags: string[] }> = {
  asb: { file: "test_00000.asb", flags: [] },
  asbx: { file: "0_test_1.asbx", flags: [] },
  zstd: { file: "test_00000.asb", flags: ["-z", "zstd"] },
  aes256: {
    file: "test_00000.asb",
    flags: ["--encrypt", "aes256", "--encryption-key-file", SAMPLE_KEY],
  },
  "zstd-aes128": {
    file: "test_00000.asb",
    flags: ["-z", "zstd", "--encrypt", "aes128", "--encryption-key-file", SAMPLE_KEY],
  },
};

const CATEGORIES = ["inserted", "existed", "fresher", "expired", "skipped", "ignored", "failed"];

/**
 * Checks a report's counters: every record read is in one category (a failed run may have
 * dropped records it read but had not written yet), and the cluster holds no more records
 * than were inserted.
 *
 * @returns What is wrong, or null.
 */
function badCounters(
  report: Record<string, unknown> | undefined,
  failed: boolean,
  stored?: number,
): string | null {
  if (report === undefined) return null;
  const read = Number(report.records_read ?? 0);
  const sum = CATEGORIES.reduce((n, k) => n + Number(report[`${k}_records`] ?? 0), 0);
  if (report.msg === "restore report" && (failed ? sum > read : sum !== read)) {
    return `records_read ${read} but the categories add up to ${sum}: ${JSON.stringify(report)}`;
  }
  const inserted = Number(report.inserted_records ?? 0);
  if (stored !== undefined && stored > inserted) {
    return `the cluster holds ${stored} records, the report says ${inserted} were inserted`;
  }
  return null;
}

interface RestoreEnv {
  dir: string;
  n: number;
}

/** The restore job over damaged files (`--validate` and real restores). */
export const restoreTarget: FuzzTarget<RestoreEnv> = {
  name: "restore",
  about: "asrestore (--validate or into an emulator) of a directory holding a damaged file",
  ciIterations: 300,
  timeoutMs: 20_000,
  async open() {
    return { dir: await Deno.makeTempDir({ prefix: "aerobak-fuzz-restore-" }), n: 0 };
  },
  async close(env) {
    await Deno.remove(env.dir, { recursive: true });
  },
  async seeds() {
    const out: Uint8Array[] = [];
    for (
      const [kind, target] of [
        ["asb", asbTarget],
        ["asbx", asbxTarget],
        ["zstd", zstdTarget],
        ["aes256", aes256Target],
        ["zstd-aes128", zstdAes128Target],
      ] as const
    ) {
      const env = await target.open();
      for (const s of await target.seeds(env)) out.push(withHeader(kind, s));
      await target.close(env);
    }
    return out;
  },
  mutate(seed, r) {
    const [kind, bytes] = splitHeader(seed);
    return withHeader(kind, mutateBytes(bytes, r));
  },
  async run(input, env, r) {
    const [kind, bytes] = splitHeader(input);
    const spec = KINDS[kind];
    const dir = `${env.dir}/${env.n++}`;
    await Deno.mkdir(dir);
    await Deno.writeFile(`${dir}/${spec.file}`, bytes);
    const real = r.chance(0.35);
    await using emu = real ? await startEmulator({ nodes: 1 }) : null;
    const args = emu
      ? ["-h", emu.seeds, "--log-json", "-d", dir, ...spec.flags]
      : ["--validate", "--log-json", "-d", dir, ...spec.flags];
    const msg = emu ? "restore report" : "validation report";
    try {
      const { lines } = await runCli(restoreMain, args);
      const wrong = badCounters(findLine(lines, msg), false, emu?.count("test"));
      if (wrong) throw new ContractViolation(wrong);
    } catch (err) {
      if (err instanceof CliFailure) {
        const lines = err.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) =>
          JSON.parse(l)
        );
        const wrong = badCounters(findLine(lines, msg), true, emu?.count("test"));
        if (wrong) throw new ContractViolation(wrong);
      }
      throw err;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  judge(err, input) {
    // A record or an index the file holds but the server refuses is named by its digest
    // or by the info command that failed (the writers do not know the file it came from).
    const names = [
      `/${KINDS[splitHeader(input)[0]].file}`,
      "Cannot restore record ",
      "Info command ",
    ];
    return namesSource(err, names, [CliFailure]);
  },
};
