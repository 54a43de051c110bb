/**
 * What both CLIs do around their job: read the flags (or the `--config` file), answer
 * `--help` and `--version`, set up logging, turn errors into one line and exit code 1.
 *
 * @module
 */

import denoConfig from "../deno.json" with { type: "json" };
import { AerobakError, oneLine } from "../lib/errors.ts";
import type { SecretAgentConfig } from "../lib/secret_agent/client.ts";
import { type CloudStorage, cloudStorageFromFlags } from "./_cloud_flags.ts";
import { bool, choice, secretAgentFromFlags, str } from "./_common_options.ts";
import { parseConfigFile } from "./_config_file.ts";
import { FlagError, type FlagSpec, formatHelp, type ParsedFlags, parseFlags } from "./_flags.ts";
import type { PasswordSources } from "./_password.ts";
import { Logger, type LogLevel, type TextSink } from "./_report.ts";

/** The process around a CLI run; tests pass fakes. */
export interface CliIo {
  /** Standard output (help, version). */
  stdout: TextSink;
  /** Standard error (logs, progress, reports). */
  stderr: TextSink;
  /**
   * Environment variables (`toObject` lets cloud credentials be looked up as the providers'
   * SDKs do; without it only flags and files give them).
   */
  env: { get(name: string): string | undefined; toObject?(): Record<string, string> };
  /**
   * Reads a text file (config files, `file:` passwords).
   * @default Deno.readTextFile
   */
  readTextFile?: (path: string) => Promise<string>;
  /** Aborts the job (SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /**
   * The clock.
   * @default () => new Date()
   */
  now?: () => Date;
}

/** Exit code of success (cli-flags.md §5). */
export const EXIT_OK = 0;
/** Exit code of any failure: bad flags, connection, runtime, cancellation. */
export const EXIT_FAILURE = 1;

/** The version printed by `--version`. */
export const VERSION: string = denoConfig.version;

/** What {@linkcode startCli} hands to the command. */
export interface CliContext {
  /** The flags (from the command line or the config file). */
  flags: ParsedFlags;
  /** The logger. */
  log: Logger;
  /** The Secret Agent, when `--sa-address` is set. */
  secretAgent: SecretAgentConfig | undefined;
  /** Environment and files for password forms. */
  sources: PasswordSources;
  /** The clock ({@linkcode CliIo.now}, or the system's). */
  now: () => Date;
  /** The bucket or container of the cloud flags, when one provider's flags are set. */
  cloud: CloudStorage | undefined;
}

/** Describes a CLI for {@linkcode startCli}. */
export interface CliSpec {
  /** Program name, such as `asbackup`. */
  name: string;
  /** One-paragraph description for `--help`. */
  description: string;
  /** Its flags. */
  flags: readonly FlagSpec[];
}

/**
 * Parses flags and handles `--help`, `--version` and `--config`.
 *
 * @param spec The CLI.
 * @param args The arguments.
 * @param io The process.
 * @returns The context to run the command with, or an exit code when done already.
 */
export async function startCli(
  spec: CliSpec,
  args: readonly string[],
  io: CliIo,
): Promise<CliContext | number> {
  let flags: ParsedFlags;
  try {
    flags = parseFlags(spec.flags, args);
    if (bool(flags, "help")) {
      io.stdout.write(
        formatHelp(spec.flags, { usage: `${spec.name} [flags]`, description: spec.description }),
      );
      return EXIT_OK;
    }
    if (bool(flags, "version")) {
      io.stdout.write(`version: ${VERSION}\n`);
      return EXIT_OK;
    }
    const readTextFile = io.readTextFile ?? Deno.readTextFile;
    const configPath = str(flags, "config");
    if (configPath !== "") {
      let text: string;
      try {
        text = await readTextFile(configPath);
      } catch (err) {
        throw new FlagError(`--config: cannot read ${configPath}: ${(err as Error).message}`);
      }
      flags = parseConfigFile(text, spec.flags, configPath);
    }
    const level = choice(flags, "log-level", ["debug", "info", "warn", "error"] as const);
    const log = new Logger(io.stderr, {
      json: bool(flags, "log-json"),
      level: bool(flags, "verbose") ? level as LogLevel : "warn",
      now: io.now,
    });
    const secretAgent = secretAgentFromFlags(flags);
    const cloud = await cloudStorageFromFlags(flags, spec.name === "asrestore", {
      env: io.env.toObject?.() ?? {},
      readTextFile,
    }, secretAgent);
    return {
      flags,
      log,
      secretAgent,
      sources: { env: io.env, readTextFile },
      now: io.now ?? (() => new Date()),
      cloud,
    };
  } catch (err) {
    return failEarly(spec.name, err, io);
  }
}

/**
 * Prints an error met before logging is set up and returns the failure exit code.
 *
 * @param name Program name, for the usage hint.
 * @param err The error.
 * @param io The process.
 * @returns {@linkcode EXIT_FAILURE}.
 */
export function failEarly(name: string, err: unknown, io: CliIo): number {
  io.stderr.write(`Error: ${errorText(err)}\n`);
  if (err instanceof FlagError) io.stderr.write(`Run '${name} --help' for usage.\n`);
  return EXIT_FAILURE;
}

/**
 * The one-line text of an error, without a stack trace.
 *
 * @param err The error.
 * @returns Its message, suffixed with the code for aerobak errors; control characters a
 *   message quotes from the input (a newline in a flag value) are shown escaped, so the
 *   text stays one line.
 */
export function errorText(err: unknown): string {
  let text: string;
  if (err instanceof FlagError) text = err.message;
  else if (err instanceof AerobakError) text = `${err.message} [${err.code}]`;
  else if (err instanceof Error) text = err.message;
  else text = String(err);
  return oneLine(text);
}

/**
 * Logs a failure and returns the failure exit code.
 *
 * @param ctx The context.
 * @param what What failed, such as `backup failed`.
 * @param err The error.
 * @returns {@linkcode EXIT_FAILURE}.
 */
export function fail(ctx: CliContext, what: string, err: unknown): number {
  ctx.log.error(what, { error: errorText(err) });
  return EXIT_FAILURE;
}
