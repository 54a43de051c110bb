/**
 * Running a CLI in-process for the fuzz targets, and the contract of its output: exit
 * code 0, or exit code 1 with exactly one error line, no stack trace and no message of
 * the JavaScript engine (an internal bug dressed as an error line).
 *
 * @module
 */

import type { CliIo } from "../../../cli/_cli.ts";
import { fakeIo, type FakeIoOptions } from "../../../cli/_test_io.ts";
import { ContractViolation } from "../engine.ts";

/** What the JavaScript engine says when the code, not the input, is wrong. */
export const ENGINE_MESSAGES: RegExp =
  /Cannot read properties of|is not a function|is not iterable|is not defined|Cannot access '|Maximum call stack|Invalid array length|Array buffer allocation failed|out of memory|Invalid typed array length|Offset is outside the bounds/;

/** A CLI run that exited 1: its one error line is the message. */
export class CliFailure extends Error {
  /** Everything the run wrote to stderr. */
  readonly stderr: string;
  /** The error code the line ends with (`[ASB_SYNTAX]`), or `FLAGS` for a flag error. */
  readonly code: string;

  /**
   * @param line The error line's text.
   * @param stderr Everything the run wrote to stderr.
   */
  constructor(line: string, stderr: string) {
    super(line);
    this.name = "CliFailure";
    this.stderr = stderr;
    this.code = /\[([A-Z0-9_]+)\]$/.exec(line)?.[1] ?? "FLAGS";
  }
}

/** What {@linkcode runCli} returns for a run that exited 0. */
export interface CliSuccess {
  /** Parsed JSON lines of stderr (`--log-json`); plain lines are left out. */
  lines: Record<string, unknown>[];
  /** Everything written to stderr. */
  stderr: string;
}

function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A partial or plain line: not a log record.
    }
  }
  return out;
}

/**
 * Runs `main(args, io)` and applies the output contract.
 *
 * @param main The CLI's main.
 * @param args Its arguments.
 * @param options Files, environment and clock of the fake process.
 * @returns The parsed log lines of a successful run.
 * @throws {CliFailure} For exit code 1 with one clean error line.
 * @throws {ContractViolation} For any other exit code, several or no error lines, a stack
 *   trace, or an engine message.
 */
export async function runCli(
  main: (args: string[], io: CliIo) => Promise<number>,
  args: string[],
  options: FakeIoOptions = {},
): Promise<CliSuccess> {
  const io = fakeIo(options);
  const code = await main(args, io);
  const stderr = io.err.text;
  if (/\n\s+at \S.*:\d+:\d+/.test(stderr)) {
    throw new ContractViolation(`stack trace in the output: ${stderr.slice(0, 400)}`);
  }
  const lines = jsonLines(stderr);
  if (code === 0) return { lines, stderr };
  if (code !== 1) throw new ContractViolation(`exit code ${code}: ${stderr.slice(0, 300)}`);
  const errors = [
    ...lines.filter((l) => l.level === "ERROR").map((l) => `${l.msg}: ${l.error}`),
    ...stderr.split("\n").filter((l) => l.startsWith("Error: ")),
  ];
  if (errors.length !== 1) {
    throw new ContractViolation(`${errors.length} error lines: ${stderr.slice(0, 400)}`);
  }
  if (ENGINE_MESSAGES.test(errors[0])) {
    throw new ContractViolation(`an internal error reached the user: ${errors[0]}`);
  }
  throw new CliFailure(errors[0], stderr);
}

/**
 * The last JSON log line with a message, such as the restore report.
 *
 * @param lines Parsed lines.
 * @param msg The message.
 * @returns The line, if any.
 */
export function findLine(
  lines: readonly Record<string, unknown>[],
  msg: string,
): Record<string, unknown> | undefined {
  return lines.findLast((l) => l.msg === msg);
}
