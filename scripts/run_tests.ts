/**
 * Runs every test suite of the project and prints one closing line
 * `N passed, N failed` built from the real results:
 *
 * 1. the Deno tests (`deno test`, JUnit report read back), the cloud ones among them
 *    starting the object store servers of `tests/cloud-peers` (Azurite, s3rver), whose npm
 *    packages are installed first when missing; then
 * 2. the conformance tests, in which the official Node client (under Node 20) talks to
 *    the emulator (`node --test`, JUnit report read back). Their npm packages are
 *    installed first when missing.
 *
 * Extra arguments are passed to `deno test` (e.g. a path to run one file).
 * Set `AEROBAK_SKIP_CONFORMANCE=1` to run only the Deno tests.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;
const reports = `${root}.tmp/test-results`;
await Deno.mkdir(reports, { recursive: true });

interface SuiteResult {
  name: string;
  passed: number;
  failed: number;
  exitCode: number;
}

/** Reads test and failure counts from a JUnit XML report. */
async function readJunit(path: string): Promise<{ tests: number; failures: number } | null> {
  let xml: string;
  try {
    xml = await Deno.readTextFile(path);
  } catch {
    return null;
  }
  let tests = 0;
  let failures = 0;
  for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    tests++;
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) failures++;
  }
  return { tests, failures };
}

/** A suite's result from its JUnit report; no report counts as one failure. */
async function suiteResult(name: string, junit: string, exitCode: number): Promise<SuiteResult> {
  const counts = await readJunit(junit);
  return {
    name,
    passed: counts ? counts.tests - counts.failures : 0,
    failed: counts ? counts.failures : 1,
    exitCode,
  };
}

/** A suite still running after this long is killed and counted as failed, never left to hang CI. */
const SUITE_TIMEOUT_MS = Number(Deno.env.get("AEROBAK_SUITE_TIMEOUT_MS") ?? 30 * 60_000);

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}): Promise<number> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    console.error(
      `run_tests: ${cmd.slice(0, 3).join(" ")} still running after ${SUITE_TIMEOUT_MS} ms: killed`,
    );
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, SUITE_TIMEOUT_MS);
  const { code } = await child.status;
  clearTimeout(watchdog);
  return timedOut ? 124 : code;
}

const results: SuiteResult[] = [];
const deno = Deno.execPath();

/** Runs `npm ci` in a folder of Node packages unless `marker` (a package) is installed. */
async function npmInstalled(dir: string, marker: string): Promise<number> {
  const installed = await Deno.stat(`${dir}/node_modules/${marker}`).then(() => true, () => false);
  return installed ? 0 : await run(["npm", "ci", "--no-audit", "--no-fund"], dir);
}

// 1. Deno tests (the cloud tests start the servers of tests/cloud-peers; a failed install
// fails them with a message naming it).
{
  await npmInstalled(`${root}tests/cloud-peers`, "azurite");
  const junit = `${reports}/deno.xml`;
  await Deno.remove(junit).catch(() => {});
  const code = await run(
    [deno, "test", "-A", "--parallel", `--junit-path=${junit}`, ...Deno.args],
    root,
  );
  results.push(await suiteResult("deno", junit, code));
}

// 2. Conformance tests with the official Node client.
const conformance = `${root}tests/conformance`;
const hasConformance = await Deno.stat(`${conformance}/package.json`).then(() => true, () => false);
if (hasConformance && Deno.env.get("AEROBAK_SKIP_CONFORMANCE") !== "1" && Deno.args.length === 0) {
  let code = await npmInstalled(conformance, "aerospike");
  const junit = `${reports}/conformance.xml`;
  await Deno.remove(junit).catch(() => {});
  if (code === 0) {
    code = await run(
      [
        "node",
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        `--test-reporter-destination=${junit}`,
      ],
      conformance,
      { DENO_BIN: deno, AEROBAK_ROOT: root },
    );
  }
  results.push(await suiteResult("conformance", junit, code));
}

let passed = 0;
let failed = 0;
for (const r of results) {
  passed += r.passed;
  // A suite that exits non-zero with no failing test still failed (e.g. a crash).
  failed += r.failed > 0 ? r.failed : r.exitCode !== 0 ? 1 : 0;
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed (exit ${r.exitCode})`);
}
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed > 0 ? 1 : 0);
