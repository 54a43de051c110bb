/**
 * Object store servers that aerobak did not write, for the cloud tests: Azurite (Microsoft's
 * Azure Storage emulator) and s3rver (an S3 server), each started as a Node process on a
 * free loopback port from the packages `tests/cloud-peers` installs (`npm ci`, done by
 * `.ci/run` and `deno task test`), and stopped when disposed.
 *
 * A server that cannot start fails the test with what it printed: nothing is skipped.
 *
 * @module
 */

import { AZURITE_ACCOUNT, AZURITE_KEY } from "../lib/io/cloud/azure_test_server.ts";
import { ROOT } from "./_backup_e2e.ts";

/** Where the servers' npm packages are installed. */
export const PEERS_DIR = `${ROOT}tests/cloud-peers`;

/** The one key pair s3rver knows (its built-in account). */
const S3RVER_KEY = "S3RVER";

/** How long a server may take to say it listens (a slow CI machine loads Azurite in seconds). */
const START_TIMEOUT_MS = 60_000;

/** A running server process. */
export interface PeerProcess extends AsyncDisposable {
  /** What it printed on standard error so far (for failure messages). */
  stderr(): string;
}

/** A running s3rver. */
export interface S3Peer extends PeerProcess {
  /** Endpoint URL (`http://127.0.0.1:<port>`), path-style. */
  url: string;
  /** The bucket created at start. */
  bucket: string;
  /** Region to sign for (s3rver takes any). */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
}

/** A running Azurite blob service. */
export interface AzurePeer extends PeerProcess {
  /** The account's blob endpoint (`http://127.0.0.1:<port>/devstoreaccount1`). */
  url: string;
  /** Account name. */
  account: string;
  /** Account key (base64). */
  accountKey: string;
  /** A connection string for the Azure SDK. */
  connectionString: string;
}

/** The path of a package's file under `tests/cloud-peers/node_modules`, checked to exist. */
async function peerFile(path: string): Promise<string> {
  const full = `${PEERS_DIR}/node_modules/${path}`;
  try {
    await Deno.stat(full);
  } catch {
    throw new Error(
      `Cannot start a cloud test server: ${full} is missing; ` +
        "run `npm ci` in tests/cloud-peers (.ci/run and `deno task test` do)",
    );
  }
  return full;
}

/**
 * Starts `node nodeFlags… script args…` in `dir` and waits for the line that matches `ready` on its
 * standard output; returns the match and the process. `dir` is removed when it stops.
 */
async function startNode(
  what: string,
  nodeFlags: string[],
  script: string,
  args: string[],
  ready: RegExp,
  dir: string,
): Promise<{ match: RegExpExecArray; process: PeerProcess }> {
  const child = new Deno.Command("node", {
    args: [...nodeFlags, script, ...args],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(t) {
        if (errText.length < 20_000) errText += t;
      },
    }),
  ).catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let match: RegExpExecArray | null = null;
  const timer = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS);
  try {
    while (match === null) {
      const r = await lines.read();
      if (r.done) break;
      out += r.value;
      match = ready.exec(out);
    }
  } finally {
    clearTimeout(timer);
  }
  // The rest of its output is not needed, but must not fill the pipe.
  const outDone = (async () => {
    while (!(await lines.read().catch(() => ({ done: true }))).done) { /* drain */ }
  })();
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await Promise.all([errDone, outDone]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopped;
  };
  if (match === null) {
    await stop();
    throw new Error(
      `Cannot start ${what} (node ${script}): it exited or did not say it listens within ` +
        `${START_TIMEOUT_MS} ms\nstdout: ${out.trim()}\nstderr: ${errText.trim()}`,
    );
  }
  return {
    match,
    process: { stderr: () => errText, [Symbol.asyncDispose]: stop },
  };
}

/**
 * Starts s3rver on a free loopback port with one bucket, its objects in a temporary
 * directory. Virtual-host addressing is off: requests are
 * path-style, as aerobak sends them with an endpoint override.
 *
 * @param bucket The bucket to create. @default "bucket"
 * @returns The running server.
 */
export async function startS3rver(bucket = "bucket"): Promise<S3Peer> {
  const script = await peerFile("s3rver/bin/s3rver.js");
  const dir = await Deno.makeTempDir({ prefix: "aerobak-s3rver-" });
  const { match, process } = await startNode(
    "s3rver",
    // Its ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 keeps in its
    // legacy provider: without it every listing of more than one page fails with a 500.
    ["--openssl-legacy-provider"],
    script,
    [
      "--directory",
      dir,
      "--address",
      "127.0.0.1",
      "--port",
      "0",
      "--silent",
      "--no-vhost-buckets",
      "--configure-bucket",
      bucket,
    ],
    /S3rver listening on ([0-9.]+):(\d+)/,
    dir,
  );
  return {
    ...process,
    url: `http://${match[1]}:${match[2]}`,
    bucket,
    region: "us-east-1",
    accessKeyId: S3RVER_KEY,
    secretAccessKey: S3RVER_KEY,
  };
}

/**
 * Starts Azurite's blob service on a free loopback port, in memory, telemetry off, with the
 * strict API checks of a real account (no `--loose`). It starts with no container.
 *
 * @returns The running server.
 */
export async function startAzurite(): Promise<AzurePeer> {
  const script = await peerFile("azurite/dist/src/blob/main.js");
  const dir = await Deno.makeTempDir({ prefix: "aerobak-azurite-" });
  const { match, process } = await startNode(
    "Azurite",
    [],
    script,
    [
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      "0",
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--skipApiVersionCheck",
    ],
    /successfully listens on (http:\/\/[0-9.]+:\d+)/,
    dir,
  );
  const url = `${match[1]}/${AZURITE_ACCOUNT}`;
  return {
    ...process,
    url,
    account: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};` +
      `AccountKey=${AZURITE_KEY};BlobEndpoint=${url};`,
  };
}
