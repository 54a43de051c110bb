// Starts the aerobak emulator as a child process (lib/emulator/main.ts) and reads its
// `ready <hosts>` line; the official client then connects to those hosts.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env.AEROBAK_ROOT ?? path.resolve(here, "..", "..");

/**
 * Starts an emulator child process.
 * @param {string[]} args extra flags for main.ts
 * @returns {Promise<{hosts: string, child: import('node:child_process').ChildProcess, stop: () => Promise<void>}>}
 */
export async function startEmulatorProcess(args = []) {
  const deno = process.env.DENO_BIN ?? "deno";
  const child = spawn(deno, [
    "run",
    "-A",
    path.join(root, "lib/emulator/main.ts"),
    "--port",
    "0",
    "--nodes",
    "3",
    ...args,
  ], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buffered = "";
  const hosts = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("emulator did not print its ready line within 60 s")),
      60000,
    );
    child.on(
      "exit",
      (code) => reject(new Error(`emulator exited with code ${code} before it was ready`)),
    );
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const m = /^ready (\S+)$/m.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    hosts,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
