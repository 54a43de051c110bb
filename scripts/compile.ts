/**
 * Cross-compiles `asbackup` and `asrestore` into standalone executables with
 * `deno compile`, one per target, into `dist/<target>/`.
 *
 * `deno compile` downloads the runtime of each target, so this needs network access to
 * Deno's release host; no test depends on it.
 *
 * Usage: `deno task compile [--target <triple>]...` (default: the common four targets).
 *
 * @module
 */

const DEFAULT_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

const TOOLS = ["asbackup", "asrestore"];

/** The Web Worker modules the tools start (`new Worker(new URL(…, import.meta.url))`). */
const WORKERS = ["lib/backup/_reader_worker.ts"];

function parseTargets(args: string[]): string[] {
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--target" && args[i + 1]) targets.push(args[++i]);
    else if (args[i].startsWith("--target=")) targets.push(args[i].slice("--target=".length));
    else {
      console.error(
        `compile: unknown argument ${JSON.stringify(args[i])}: expected --target <triple>`,
      );
      Deno.exit(2);
    }
  }
  return targets.length > 0 ? targets : DEFAULT_TARGETS;
}

const root = new URL("..", import.meta.url).pathname;
let failed = 0;
for (const target of parseTargets(Deno.args)) {
  for (const tool of TOOLS) {
    const output = `${root}dist/${target}/${tool}`;
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--allow-all",
        "--no-check",
        // A smaller young generation keeps a backup's peak RSS under 150 MB at every
        // --parallel setting, at no measurable CPU cost (scripts/bench.ts --job-v8-flags).
        "--v8-flags=--max-semi-space-size=4",
        // Module workers are loaded by URL at run time: the executable must carry them.
        ...WORKERS.flatMap((w) => ["--include", `${root}${w}`]),
        "--target",
        target,
        "--output",
        output,
        `${root}cli/${tool}.ts`,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(`compile: ${tool} for ${target} failed (exit ${code})`);
      failed++;
    } else {
      console.log(`compile: ${output}`);
    }
  }
}
Deno.exit(failed > 0 ? 1 : 0);
