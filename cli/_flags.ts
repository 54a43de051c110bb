/**
 * A small POSIX flag parser in the style of spf13/pflag, which the backup-go CLIs use:
 * `--name value`, `--name=value`, `-x value`, `-xvalue`, `-x=value`, clustered boolean
 * shorthands (`-rC`), `--` to end the flags. Booleans take no separate value but accept
 * `--name=true|false`. The last occurrence of a flag wins.
 *
 * @module
 */

/** The value types a flag can have. */
export type FlagType = "bool" | "string" | "int" | "uint" | "float";

/** A parsed flag value. */
export type FlagValue = boolean | string | number;

/** One flag of a CLI. */
export interface FlagSpec {
  /** Long name without `--`. */
  long: string;
  /** One-letter shorthand without `-`. */
  short?: string;
  /** Value type. */
  type: FlagType;
  /** Value when the flag is not given. */
  default: FlagValue;
  /** `--help` group title, such as `"Backup Flags"`. */
  group: string;
  /** Help text (may span lines). */
  help: string;
  /** Name of the value in `--help` (pflag prints the type: `string`, `int`, …). */
  valueName?: string;
  /**
   * Dotted key of the flag in the YAML config file, such as `"backup.namespace"`; absent when
   * the file has no key for it.
   */
  yaml?: string;
  /** The YAML value is a list, joined with commas into the flag's string. */
  yamlList?: boolean;
}

/** Parsed flags: every flag's value (defaults filled in) and which were given. */
export interface ParsedFlags {
  /** Value of every flag, by long name. */
  values: Map<string, FlagValue>;
  /** Long names of the flags given on the command line (or in the config file). */
  given: Set<string>;
  /** Whether the values come from a `--config` file rather than the command line. */
  fromConfigFile?: boolean;
}

/** A command-line mistake: printed as one line, exit code 1. */
export class FlagError extends Error {
  /**
   * Creates the error.
   *
   * @param message One line naming the flag and what was expected.
   */
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/**
 * Parses command-line arguments against flag specs.
 *
 * @param specs The flags the command knows.
 * @param args The arguments (without the program name).
 * @returns Every flag's value and which were given.
 * @throws {FlagError} for an unknown flag, a missing or malformed value, or a positional
 * argument.
 */
export function parseFlags(specs: readonly FlagSpec[], args: readonly string[]): ParsedFlags {
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const parsed = defaultFlags(specs);
  const set = (spec: FlagSpec, raw: string, shown: string) => {
    parsed.values.set(spec.long, convertFlagValue(spec, raw, shown));
    parsed.given.add(spec.long);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (i + 1 < args.length) throw new FlagError(`unexpected argument "${args[i + 1]}"`);
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) {
        throw new FlagError(name === "" ? `unknown flag: "${arg}"` : `unknown flag: --${name}`);
      }
      if (eq >= 0) set(spec, arg.slice(eq + 1), `--${name}`);
      else if (spec.type === "bool") set(spec, "true", `--${name}`);
      else if (i + 1 < args.length) set(spec, args[++i], `--${name}`);
      else throw new FlagError(`flag needs an argument: --${name} (${typeText(spec)})`);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of shorthands: booleans until one that takes a value, which takes the
      // rest of the cluster (`-w4`, `-w=4`) or the next argument.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const spec = byShort.get(letter);
        if (!spec) throw new FlagError(`unknown shorthand flag: '${letter}' in ${arg}`);
        const rest = arg.slice(j + 1);
        if (spec.type === "bool") {
          if (rest.startsWith("=")) {
            set(spec, rest.slice(1), `-${letter}`);
            break;
          }
          set(spec, "true", `-${letter}`);
          continue;
        }
        if (rest !== "") set(spec, rest.startsWith("=") ? rest.slice(1) : rest, `-${letter}`);
        else if (i + 1 < args.length) set(spec, args[++i], `-${letter}`);
        else {
          throw new FlagError(
            `flag needs an argument: '${letter}' in -${letter} (${typeText(spec)})`,
          );
        }
        break;
      }
      continue;
    }
    throw new FlagError(`unexpected argument "${arg}": this command takes only flags`);
  }
  return parsed;
}

/**
 * Returns every flag at its default value, none given.
 *
 * @param specs The flags.
 * @returns The defaults.
 */
export function defaultFlags(specs: readonly FlagSpec[]): ParsedFlags {
  return { values: new Map(specs.map((s) => [s.long, s.default])), given: new Set() };
}

/**
 * Converts a flag's text to its type.
 *
 * @param spec The flag.
 * @param raw The text given.
 * @param shown How the flag was written, for the message (such as `--parallel` or `-w`).
 * @returns The value.
 * @throws {FlagError} naming the flag, the value and the expected type.
 */
export function convertFlagValue(spec: FlagSpec, raw: string, shown = `--${spec.long}`): FlagValue {
  const bad = () =>
    new FlagError(`invalid value "${raw}" for ${shown}: expected ${typeText(spec)}`);
  switch (spec.type) {
    case "bool":
      if (/^(true|1|t|T|TRUE|True)$/.test(raw)) return true;
      if (/^(false|0|f|F|FALSE|False)$/.test(raw)) return false;
      throw bad();
    case "string":
      return raw;
    case "int":
    case "uint": {
      const re = spec.type === "int" ? /^[+-]?\d+$/ : /^\+?\d+$/;
      if (!re.test(raw)) throw bad();
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw bad();
      return n;
    }
    case "float": {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) throw bad();
      return Number(raw);
    }
  }
}

/**
 * Describes what a flag expects, for messages.
 *
 * @param spec The flag.
 * @returns Such as `"an integer"` or `"true or false"`.
 */
export function typeText(spec: FlagSpec): string {
  switch (spec.type) {
    case "bool":
      return "true or false";
    case "int":
      return "an integer";
    case "uint":
      return "a non-negative integer";
    case "float":
      return "a number";
    case "string":
      return spec.valueName ? `a ${spec.valueName}` : "a string";
  }
}

/** Options of {@linkcode formatHelp}. */
export interface HelpOptions {
  /** Usage line, such as `"asbackup [flags]"`. */
  usage: string;
  /** One-paragraph description printed above the flags. */
  description: string;
}

/**
 * Formats `--help`: the usage line, then the flags grouped in the order of the specs.
 *
 * @param specs The flags.
 * @param options Usage and description.
 * @returns The help text, ending with a newline.
 */
export function formatHelp(specs: readonly FlagSpec[], options: HelpOptions): string {
  const groups = new Map<string, FlagSpec[]>();
  for (const s of specs) {
    const list = groups.get(s.group) ?? [];
    list.push(s);
    groups.set(s.group, list);
  }
  const heads = specs.map(headOf);
  const width = Math.min(44, Math.max(...heads.map((h) => h.length))) + 3;
  const lines = [options.description, "", "Usage:", `  ${options.usage}`, ""];
  for (const [group, list] of groups) {
    lines.push(`${group}:`);
    for (const s of list) {
      const head = headOf(s);
      const text = s.help.split("\n");
      const def = defaultText(s);
      if (def) text[text.length - 1] += ` (default ${def})`;
      const pad = head.length >= width ? `\n${" ".repeat(width)}` : " ".repeat(width - head.length);
      lines.push(head + pad + text[0]);
      for (const more of text.slice(1)) lines.push(" ".repeat(width) + more);
    }
    lines.push("");
  }
  return lines.join("\n");
}

function headOf(s: FlagSpec): string {
  const short = s.short ? `-${s.short}, ` : "    ";
  const value = s.type === "bool" ? "" : ` ${s.valueName ?? s.type}`;
  return `  ${short}--${s.long}${value}`;
}

function defaultText(s: FlagSpec): string {
  if (s.type === "bool") return s.default === true ? "true" : "";
  if (s.type === "string") return s.default === "" ? "" : `"${s.default}"`;
  return s.default === 0 ? "" : String(s.default);
}
