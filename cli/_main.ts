/**
 * Runs a CLI's `main` in the real process: stdout/stderr, the environment, SIGINT/SIGTERM
 * as an abort signal, and the exit code.
 *
 * @module
 */

import type { CliIo } from "./_cli.ts";
import type { TextSink } from "./_report.ts";

function sink(file: typeof Deno.stdout | typeof Deno.stderr): TextSink {
  const encoder = new TextEncoder();
  return {
    write(text: string) {
      const bytes = encoder.encode(text);
      let off = 0;
      while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    },
    isTerminal: () => file.isTerminal(),
  };
}

/**
 * Calls `main` with the process's arguments and exits with its code. The first SIGINT or
 * SIGTERM cancels the job (which then exits with 1).
 *
 * @param main The CLI's main function.
 */
export async function runMain(
  main: (args: string[], io: CliIo) => Promise<number>,
): Promise<never> {
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error("interrupted by signal"));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  let code: number;
  try {
    code = await main(Deno.args, {
      stdout: sink(Deno.stdout),
      stderr: sink(Deno.stderr),
      env: Deno.env,
      signal: abort.signal,
    });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
  Deno.exit(code);
}
