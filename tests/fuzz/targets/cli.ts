/**
 * Fuzz targets of what a user types: command-line values and YAML config files of both
 * CLIs, read as `asbackup`/`asrestore` read them before any job starts (flags or
 * `--config`, `--help`/`--version`, logging, Secret Agent and cloud flags, the backup or
 * restore plan and configuration, the client policy). Every refusal must be one line
 * naming a flag, a config key or the config file.
 *
 * @module
 */

import { BACKUP_FLAGS } from "../../../cli/_backup_flags.ts";
import { backupPlanFromFlags } from "../../../cli/_backup_options.ts";
import { type CliSpec, errorText, startCli } from "../../../cli/_cli.ts";
import { clientPolicyFromFlags } from "../../../cli/_common_options.ts";
import { FlagError } from "../../../cli/_flags.ts";
import { RESTORE_FLAGS } from "../../../cli/_restore_flags.ts";
import { restorePlanFromFlags } from "../../../cli/_restore_options.ts";
import { fakeIo } from "../../../cli/_test_io.ts";
import { resolveClientPolicy } from "../../../lib/aerospike/policy.ts";
import { AerobakError, oneLine } from "../../../lib/errors.ts";
import { resolveBackupConfig } from "../../../lib/backup/config.ts";
import { resolveRestoreConfig } from "../../../lib/restore/config.ts";
import { ContractViolation, type FuzzTarget, ownError, STATELESS } from "../engine.ts";
import { splitHeader, withHeader } from "../input.ts";
import { mutateBytes, mutateText } from "../mutate.ts";
import type { Random } from "../random.ts";
import { CliFailure, ENGINE_MESSAGES } from "./cli_run.ts";

const SPECS: Record<string, CliSpec> = {
  asbackup: { name: "asbackup", description: "", flags: BACKUP_FLAGS },
  asrestore: { name: "asrestore", description: "", flags: RESTORE_FLAGS },
};

/** The config file's name in the fake process. */
const CONFIG = "fuzz.yaml";
/** Files the fake process has: the config, a key, a password file. */
const KEY_PEM = await Deno.readTextFile(
  new URL("../../../testdata/c-asbackup-4.5.8/sample-key.pem", import.meta.url),
);

/**
 * Reads flags (or a config) as the CLI does, up to the point where it would connect.
 *
 * @throws {CliFailure} What `startCli` printed when it stopped with exit code 1.
 * @throws The error the CLI would print as its one `invalid ... configuration` line.
 */
async function readAsCli(cli: string, args: string[], config = ""): Promise<void> {
  const io = fakeIo({
    files: { [CONFIG]: config, "/keys/key.pem": KEY_PEM, "/secrets/pw": "secret\n" },
    env: { AEROBAK_PW: "pw", AEROBAK_KEY: KEY_PEM },
  });
  const spec = SPECS[cli];
  const ctx = await startCli(spec, args, io);
  if (typeof ctx === "number") {
    if (ctx === 0) return;
    const lines = io.err.text.split("\n").filter((l) => l.startsWith("Error: "));
    if (ctx !== 1 || lines.length !== 1) {
      throw new ContractViolation(`exit code ${ctx}, output: ${io.err.text.slice(0, 300)}`);
    }
    throw new CliFailure(lines[0].slice("Error: ".length), io.err.text);
  }
  try {
    if (cli === "asbackup") {
      const plan = backupPlanFromFlags(ctx.flags, ctx.secretAgent, ctx.now(), ctx.cloud);
      if (plan.mode !== "removeArtifacts") resolveBackupConfig(plan.config);
    } else {
      const plan = restorePlanFromFlags(ctx.flags, ctx.secretAgent, 2, ctx.cloud);
      resolveRestoreConfig(plan.config);
    }
    resolveClientPolicy(await clientPolicyFromFlags(ctx.flags, ctx.sources, ctx.secretAgent));
  } catch (err) {
    // What the CLI prints: one line through errorText. Errors that are not the tools' own
    // are left as they are, for the judge to refuse.
    if (!(err instanceof FlagError || err instanceof AerobakError || isPlainCheck(err))) throw err;
    throw new CliFailure(errorText(err), "");
  }
}

/** A `TypeError` or `RangeError` a check throws on purpose, not one the engine raised. */
function isPlainCheck(err: unknown): boolean {
  return (err instanceof TypeError || err instanceof RangeError) &&
    !ENGINE_MESSAGES.test(err.message);
}

/** A flag (`--name`, `-x`), a config key (`backup.parallel`) or the config file. */
const NAMES_A_SETTING =
  /(^|[\s"'(:,])--?[A-Za-z][\w-]*|\b(app|cluster|backup|restore|compression|encryption|secret-agent|aws|gcp|azure|local)\.[a-z]/;

/** Flag names as the library's configuration spells them (`records-per-second` → `recordsPerSecond`). */
const SETTING_WORDS = new Set(
  [...BACKUP_FLAGS, ...RESTORE_FLAGS].flatMap((f) => [
    f.long,
    f.long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
  ]),
);

/**
 * Checks a refusal: one of the tools' errors naming a flag (as `--name`, `-x`, or as the
 * library's setting), a config key, the config file, or the argument it refuses.
 */
function judgeSetting(err: Error, args: readonly string[] = []): string | null {
  const wrong = ownError(err, [FlagError, CliFailure, TypeError, RangeError]);
  if (wrong) return wrong;
  const m = err.message;
  if (ENGINE_MESSAGES.test(m)) return "an internal error reached the user";
  if (m.includes(CONFIG) || NAMES_A_SETTING.test(m)) return null;
  if (m.split(/[^A-Za-z0-9-]+/).some((w) => SETTING_WORDS.has(w))) return null;
  // The library's configuration checks name a setting as the library spells it
  // (`Invalid parallelRead -1`, `Invalid retryPolicy.multiplier Infinity`).
  if (/^Invalid [\w.]+[ :].*\[CONFIG_INVALID\]$/.test(m)) return null;
  // Error lines show control characters escaped.
  const shown = oneLine;
  // The argument itself, or the flag of a `--name=value` one.
  const named = (a: string) =>
    m.includes(`"${shown(a)}"`) || (a.trim() !== "" && m.includes(shown(a))) ||
    (/^--?[^=]+=/.test(a) && m.includes(shown(a.slice(0, a.indexOf("=")))));
  if (args.some(named)) return null;
  return "names no flag, config key, config file or argument";
}

// ---- command-line values ----

const BACKUP_ARGS = [
  ["-h", "127.0.0.1:3000", "-n", "test", "-d", "/tmp/aerobak-fuzz-never", "-w", "4"],
  [
    "--host",
    "127.0.0.1:3000,127.0.0.2:3100",
    "--namespace",
    "test",
    "--output-file",
    "/tmp/aerobak-fuzz-never.asb",
    "--set",
    "a,b",
    "--bin-list",
    "x,y",
    "--compress",
    "ZSTD",
    "--compression-level",
    "5",
    "--encrypt",
    "AES256",
    "--encryption-key-file",
    "/keys/key.pem",
    "--file-limit",
    "100",
    "--records-per-second",
    "1000",
    "--parallel",
    "3",
  ],
  [
    "-h",
    "127.0.0.1:3000",
    "-n",
    "test",
    "-d",
    "/tmp/aerobak-fuzz-never",
    "--modified-after",
    "2024-01-02_03:04:05",
    "--partition-list",
    "0-100,200",
    "--max-records",
    "5000",
    "--socket-timeout",
    "1000",
    "--total-timeout",
    "5000",
    "--password",
    "file:/secrets/pw",
    "--user",
    "admin",
    "--filter-exp",
    "kwGTUQOjYWJj",
    "--prefer-racks",
    "1,2",
  ],
  [
    "-h",
    "127.0.0.1:3000",
    "-n",
    "test",
    "-d",
    "/tmp/aerobak-fuzz-never",
    "--s3-bucket-name",
    "bucket",
    "--s3-region",
    "eu-west-1",
    "--s3-endpoint-override",
    "http://127.0.0.1:1",
    "--s3-access-key-id",
    "id",
    "--s3-secret-access-key",
    "secret",
    "--s3-chunk-size",
    "5",
  ],
];

const RESTORE_ARGS = [
  ["-h", "127.0.0.1:3000", "-n", "test,bar", "-d", "/tmp/aerobak-fuzz-never", "--validate"],
  [
    "--host",
    "127.0.0.1:3000",
    "-i",
    "/tmp/aerobak-fuzz-never.asb",
    "--batch-size",
    "64",
    "--max-async-batches",
    "8",
    "--extra-ttl",
    "100",
    "-z",
    "zstd",
    "--encrypt",
    "aes128",
    "--encryption-key-env",
    "AEROBAK_KEY",
    "--mode",
    "asb",
    "--bandwidth",
    "10",
    "--retry-base-interval",
    "100",
    "--retry-multiplier",
    "1.5",
    "--retry-max-attempts",
    "3",
  ],
  [
    "-h",
    "127.0.0.1:3000",
    "--directory-list",
    "/a,/b",
    "--parent-directory",
    "/p",
    "--unique",
    "--no-generation",
    "--set-list",
    "s1",
    "--sa-address",
    "127.0.0.1",
    "--sa-port",
    "1",
    "--sa-timeout",
    "100",
    "--tls-enable",
    "--tls-name",
    "t",
  ],
];

/** Values that break parsers: empty, signs, huge, lists, the password forms. */
const ODD_VALUES = [
  "",
  "-1",
  "0",
  "1e9",
  "99999999999999999999",
  "0x10",
  "abc",
  "a,,b",
  ",",
  " ",
  "secrets:res:key",
  "env:AEROBAK_NOPE",
  "file:/nope",
  "127.0.0.1:99999",
  "[::1]:3000",
  "2024-13-45_25:61:61",
  "NaN",
  "true",
];

const encodeArgs = (cli: string, args: string[]) =>
  new TextEncoder().encode([cli, ...args].join("\0"));

function decodeArgs(input: Uint8Array): [string, string[]] {
  const [cli, ...args] = new TextDecoder().decode(input).split("\0");
  return [SPECS[cli] ? cli : "asrestore", args];
}

function mutateArgs(seed: Uint8Array, r: Random): Uint8Array {
  const [cli, args] = decodeArgs(seed);
  const out = args.slice();
  const edits = r.small(3);
  for (let e = 0; e < edits; e++) {
    const i = r.int(out.length + 1);
    switch (r.int(6)) {
      case 0: // damage a value or a name (never the host: no DNS lookups)
        if (i < out.length && !/^127\.0\.0\.\d+:3\d{3}/.test(out[i])) {
          out[i] = mutateText(out[i], r);
        }
        break;
      case 1: // an odd value
        if (i < out.length && out[i - 1] !== "-h") out[i] = r.pick(ODD_VALUES);
        break;
      case 2: // lose an argument
        out.splice(i, 1);
        break;
      case 3: // a flag given twice
        if (i + 1 < out.length) out.splice(i, 0, out[i], out[i + 1]);
        break;
      case 4: { // another flag of the CLI, with an odd value
        const spec = r.pick(SPECS[cli].flags);
        const name = spec.short && r.chance(0.3) ? `-${spec.short}` : `--${spec.long}`;
        const value = spec.type === "bool" && r.chance(0.7) ? [] : [r.pick(ODD_VALUES)];
        if (!/^(host|sa-address|.*endpoint.*)$/.test(spec.long)) out.splice(i, 0, name, ...value);
        break;
      }
      default: // `--name=value` form
        if (i + 1 < out.length && out[i].startsWith("--")) {
          out.splice(i, 2, `${out[i]}=${out[i + 1]}`);
        }
    }
  }
  return encodeArgs(cli, out);
}

/** Command-line values of both CLIs. */
export const flagsTarget: FuzzTarget<null> = {
  name: "flags",
  about: "command lines of asbackup and asrestore, read up to the cluster connection",
  ciIterations: 2000,
  timeoutMs: 10_000,
  ...STATELESS,
  seeds: () =>
    Promise.resolve([
      ...BACKUP_ARGS.map((a) => encodeArgs("asbackup", a)),
      ...RESTORE_ARGS.map((a) => encodeArgs("asrestore", a)),
    ]),
  mutate: mutateArgs,
  async run(input) {
    const [cli, args] = decodeArgs(input);
    await readAsCli(cli, args);
  },
  judge: (err, input) => judgeSetting(err, decodeArgs(input)[1]),
};

// ---- YAML config files ----

const BACKUP_YAML = `app:
  verbose: true
  log-level: debug
  log-json: true
cluster:
  seeds:
    - host: 127.0.0.1
      port: 3000
    - host: 127.0.0.2
      tls-name: tls2
      port: 4333
  user: admin
  password: "file:/secrets/pw"
  client-timeout: 5000
backup:
  namespace: test
  directory: /tmp/aerobak-fuzz-never
  set-list: [a, b]
  bin-list: [x]
  parallel: 8
  file-limit: 100
  records-per-second: 5000
  partition-list: [0-100, 200]
  modified-after: "2024-01-02_03:04:05"
  info-retry-multiplier: 1.5
  no-udfs: true
compression:
  compress: ZSTD
  level: 5
encryption:
  encrypt: AES128
  key-file: /keys/key.pem
local:
  disk:
    buffer-size: 8
`;

const RESTORE_YAML = `app:
  log-json: false
cluster:
  seeds:
    - host: 127.0.0.1
      port: 3000
restore:
  namespace: test,bar
  directory: /tmp/aerobak-fuzz-never
  parallel: 4
  batch-size: 64
  max-async-batches: 8
  extra-ttl: 100
  retry-base-interval: 100
  retry-multiplier: 1.5
  retry-max-attempts: 3
  validate: true
  apply-metadata-last: true
compression:
  compress: ZSTD
encryption:
  encrypt: AES256
  key-env: AEROBAK_KEY
aws:
  s3:
    bucket-name: bucket
    region: eu-west-1
    endpoint-override: http://127.0.0.1:1
    access-key-id: id
    secret-access-key: secret
    tier: Bulk
`;

function splitConfig(input: Uint8Array): [string, string] {
  const [cli, body] = splitHeader(input);
  return [SPECS[cli] ? cli : "asrestore", new TextDecoder().decode(body)];
}

/** YAML config files of both CLIs. */
export const configTarget: FuzzTarget<null> = {
  name: "config",
  about: "YAML --config files of asbackup and asrestore, read up to the cluster connection",
  ciIterations: 2000,
  timeoutMs: 10_000,
  ...STATELESS,
  seeds: () =>
    Promise.resolve([
      withHeader("asbackup", BACKUP_YAML),
      withHeader("asrestore", RESTORE_YAML),
    ]),
  mutate(seed, r, seeds) {
    const [cli, text] = splitConfig(seed);
    return withHeader(cli, mutateBytes(new TextEncoder().encode(text), r, seeds));
  },
  async run(input) {
    const [cli, text] = splitConfig(input);
    await readAsCli(cli, ["--config", CONFIG], text);
  },
  judge: (err) => judgeSetting(err),
};
