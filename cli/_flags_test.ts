import assert from "node:assert/strict";
import { convertFlagValue, FlagError, type FlagSpec, formatHelp, parseFlags } from "./_flags.ts";
import { BACKUP_FLAGS } from "./_backup_flags.ts";
import { RESTORE_FLAGS } from "./_restore_flags.ts";

const SPECS: FlagSpec[] = [
  { long: "namespace", short: "n", type: "string", default: "", group: "G", help: "ns" },
  { long: "parallel", short: "w", type: "int", default: 1, group: "G", help: "p" },
  { long: "remove-files", short: "r", type: "bool", default: false, group: "G", help: "r" },
  { long: "compact", short: "C", type: "bool", default: false, group: "G", help: "c" },
  { long: "file-limit", short: "F", type: "uint", default: 250, group: "G", help: "f" },
  { long: "info-retry-multiplier", type: "float", default: 1, group: "H", help: "m" },
];

function flagError(message: RegExp) {
  return (e: unknown) => e instanceof FlagError && message.test(e.message);
}

Deno.test("parseFlags() accepts --name value, --name=value, -x value and -xvalue", () => {
  const a = parseFlags(SPECS, ["--namespace", "test", "--parallel=4", "-F", "10"]);
  assert.equal(a.values.get("namespace"), "test");
  assert.equal(a.values.get("parallel"), 4);
  assert.equal(a.values.get("file-limit"), 10);
  assert.deepEqual([...a.given].sort(), ["file-limit", "namespace", "parallel"]);
  const b = parseFlags(SPECS, ["-ntest", "-w=8"]);
  assert.equal(b.values.get("namespace"), "test");
  assert.equal(b.values.get("parallel"), 8);
});

Deno.test("parseFlags() fills defaults and lets the last occurrence win", () => {
  const p = parseFlags(SPECS, ["-w", "2", "-w", "3"]);
  assert.equal(p.values.get("parallel"), 3);
  assert.equal(p.values.get("file-limit"), 250);
  assert.equal(p.values.get("remove-files"), false);
  assert.equal(p.values.get("namespace"), "");
});

Deno.test("parseFlags() reads clustered boolean shorthands and --bool=false", () => {
  const p = parseFlags(SPECS, ["-rC", "-rw", "5"]);
  assert.equal(p.values.get("remove-files"), true);
  assert.equal(p.values.get("compact"), true);
  assert.equal(p.values.get("parallel"), 5);
  assert.equal(parseFlags(SPECS, ["--compact=false"]).values.get("compact"), false);
  // A boolean never takes the next argument as its value.
  assert.throws(
    () => parseFlags(SPECS, ["--compact", "false"]),
    flagError(/unexpected argument "false"/),
  );
});

Deno.test("parseFlags() names unknown flags and missing values", () => {
  assert.throws(() => parseFlags(SPECS, ["--bogus"]), flagError(/^unknown flag: --bogus$/));
  assert.throws(() => parseFlags(SPECS, ["--=x"]), flagError(/^unknown flag: "--=x"$/));
  assert.throws(() => parseFlags(SPECS, ["-k"]), flagError(/unknown shorthand flag: 'k' in -k/));
  assert.throws(
    () => parseFlags(SPECS, ["--namespace"]),
    flagError(/flag needs an argument: --namespace/),
  );
  assert.throws(
    () => parseFlags(SPECS, ["-w"]),
    flagError(/flag needs an argument: 'w' in -w \(an integer\)/),
  );
  assert.throws(
    () => parseFlags(SPECS, ["positional"]),
    flagError(/unexpected argument "positional"/),
  );
});

Deno.test("parseFlags() refuses malformed numbers naming the flag and the type", () => {
  assert.throws(
    () => parseFlags(SPECS, ["--parallel", "four"]),
    flagError(/^invalid value "four" for --parallel: expected an integer$/),
  );
  assert.throws(
    () => parseFlags(SPECS, ["-F", "-1"]),
    flagError(/"-1" for -F: expected a non-negative integer/),
  );
  assert.throws(() => parseFlags(SPECS, ["--parallel=1.5"]), flagError(/"1\.5"/));
  assert.throws(
    () => parseFlags(SPECS, ["--parallel=99999999999999999999"]),
    flagError(/expected an integer/),
  );
  assert.throws(
    () => parseFlags(SPECS, ["--info-retry-multiplier", "x2"]),
    flagError(/expected a number/),
  );
  assert.equal(
    parseFlags(SPECS, ["--info-retry-multiplier", "1.5"]).values.get("info-retry-multiplier"),
    1.5,
  );
  assert.equal(parseFlags(SPECS, ["--parallel", "-3"]).values.get("parallel"), -3);
});

Deno.test("parseFlags() treats -- as the end of flags", () => {
  assert.equal(parseFlags(SPECS, ["-n", "x", "--"]).values.get("namespace"), "x");
  assert.throws(() => parseFlags(SPECS, ["--", "-n"]), flagError(/unexpected argument "-n"/));
});

Deno.test("convertFlagValue() reads Go's boolean spellings", () => {
  const spec = SPECS[2];
  for (const t of ["true", "1", "t", "TRUE"]) assert.equal(convertFlagValue(spec, t), true);
  for (const f of ["false", "0", "F"]) assert.equal(convertFlagValue(spec, f), false);
  assert.throws(() => convertFlagValue(spec, "yes"), flagError(/expected true or false/));
});

Deno.test("formatHelp() groups flags and shows non-zero defaults", () => {
  const text = formatHelp(SPECS, { usage: "tool [flags]", description: "Does things." });
  assert.match(text, /^Does things\.\n\nUsage:\n {2}tool \[flags\]\n\nG:\n/);
  assert.match(text, / {2}-w, --parallel int +p \(default 1\)\n/);
  assert.match(text, / {2}-n, --namespace string +ns\n/);
  assert.match(text, /\nH:\n {6}--info-retry-multiplier float +m \(default 1\)\n/);
});

Deno.test("the flag tables have unique names and shorthands, and the spec's defaults", () => {
  for (const specs of [BACKUP_FLAGS, RESTORE_FLAGS]) {
    const longs = specs.map((s) => s.long);
    assert.equal(new Set(longs).size, longs.length);
    const shorts = specs.filter((s) => s.short).map((s) => s.short);
    assert.equal(new Set(shorts).size, shorts.length);
  }
  const b = parseFlags(BACKUP_FLAGS, []).values;
  assert.equal(b.get("parallel"), 1);
  assert.equal(b.get("file-limit"), 250);
  assert.equal(b.get("socket-timeout"), 10000);
  assert.equal(b.get("total-timeout"), 0);
  assert.equal(b.get("max-retries"), 5);
  assert.equal(b.get("host"), "127.0.0.1");
  assert.equal(b.get("port"), 3000);
  assert.equal(b.get("tls-protocols"), "+TLSv1.2");
  const r = parseFlags(RESTORE_FLAGS, []).values;
  assert.equal(r.get("parallel"), 0);
  assert.equal(r.get("total-timeout"), 10000);
  assert.equal(r.get("batch-size"), 128);
  assert.equal(r.get("max-async-batches"), 32);
  // Restore retries like the C asrestore (issue: node failures), not backup-go's one attempt.
  assert.equal(r.get("retry-max-attempts"), 6);
  // Shorthands that differ between the tools and mean different things.
  const short = (specs: readonly FlagSpec[], s: string) => specs.find((f) => f.short === s)?.long;
  assert.equal(short(BACKUP_FLAGS, "w"), "parallel");
  assert.equal(short(RESTORE_FLAGS, "w"), "parallel");
  assert.equal(short(RESTORE_FLAGS, "L"), "records-per-second");
  assert.equal(short(RESTORE_FLAGS, "r"), "replace");
  assert.equal(short(BACKUP_FLAGS, "r"), "remove-files");
  assert.equal(short(BACKUP_FLAGS, "Z"), "help");
  assert.equal(short(BACKUP_FLAGS, "h"), "host");
  assert.equal(short(RESTORE_FLAGS, "local-buffer-size"), undefined);
  assert.ok(!RESTORE_FLAGS.some((f) => f.long === "local-buffer-size"));
});
