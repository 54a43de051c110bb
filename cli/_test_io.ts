/**
 * Test helper: a fake process for running a CLI's `main(args, io)` in-process, keeping
 * what it prints.
 *
 * @module
 */

import type { CliIo } from "./_cli.ts";
import type { TextSink } from "./_report.ts";

/** A text sink that keeps what was written. */
export interface CapturedSink extends TextSink {
  /** Everything written so far. */
  text: string;
}

/**
 * Creates a sink that keeps what is written to it.
 *
 * @returns The sink, empty.
 */
export function captureSink(): CapturedSink {
  return {
    text: "",
    write(t: string) {
      this.text += t;
    },
  };
}

/** A fake process that records what a CLI prints. */
export interface FakeIo extends CliIo {
  /** Everything written to stdout. */
  out: CapturedSink;
  /** Everything written to stderr. */
  err: CapturedSink;
}

/** Options of {@linkcode fakeIo}. */
export interface FakeIoOptions {
  /**
   * Environment variables.
   *
   * @default {{}}
   */
  env?: Record<string, string>;
  /**
   * The only files `readTextFile` finds, by path; others fail with "No such file".
   *
   * @default the real file system
   */
  files?: Record<string, string>;
  /**
   * The CLI's clock.
   *
   * @default the system clock
   */
  now?: () => Date;
}

/**
 * Creates a fake process.
 *
 * @param options Environment, files and clock.
 * @returns The fake, with empty captured output.
 */
export function fakeIo(options: FakeIoOptions = {}): FakeIo {
  const { env = {}, files, now } = options;
  const out = captureSink();
  const err = captureSink();
  const io: FakeIo = {
    out,
    err,
    stdout: out,
    stderr: err,
    env: {
      get: (k) => env[k],
      toObject: () => ({ ...env }),
    },
  };
  if (files !== undefined) {
    io.readTextFile = (p: string) =>
      p in files ? Promise.resolve(files[p]) : Promise.reject(new Error("No such file"));
  }
  if (now !== undefined) io.now = now;
  return io;
}
