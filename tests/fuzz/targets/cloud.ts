/**
 * Fuzz target of cloud store responses: S3 (XML listings and errors), Cloud Storage (JSON)
 * and Azure Blob (XML), as a restore lists a backup directory and reads a file through
 * {@linkcode ObjectStoreReader}. The real responses are captured once from the in-repo
 * test servers; then a raw HTTP server answers every request with the captured response
 * of its kind, except the kind the input damages: its body mutated, its status changed, a
 * header lost, its body cut short of the length it declares (the connection closed or
 * left hanging). Every refusal must be one error naming the bucket or container.
 *
 * An input is a JSON header line, then the body:
 * `{"provider","slot","status","headers","declared","hold"}\n<body>`.
 *
 * @module
 */

import { AzureBlobStore } from "../../../lib/io/cloud/azure.ts";
import { startAzureTestServer } from "../../../lib/io/cloud/azure_test_server.ts";
import { GcsStore } from "../../../lib/io/cloud/gcs.ts";
import { startGcsTestServer } from "../../../lib/io/cloud/gcs_test_server.ts";
import { S3Store } from "../../../lib/io/cloud/s3.ts";
import { startS3TestServer } from "../../../lib/io/cloud/s3_test_server.ts";
import { type ObjectStore, ObjectStoreReader } from "../../../lib/io/object_store.ts";
import { type FuzzTarget, namesSource } from "../engine.ts";
import { splitHeader, withHeader } from "../input.ts";
import { mutateBytes } from "../mutate.ts";
import { type FuzzServer, serveFuzz } from "./_serve.ts";

type Provider = "s3" | "gcs" | "azure";
const PROVIDERS: Provider[] = ["s3", "gcs", "azure"];

/** One HTTP response. */
interface Answer {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** The damage of one input: which request kind gets which answer. */
interface Damage {
  provider: Provider;
  /** `<METHOD> list|object|other`. */
  slot: string;
  status: number;
  headers: [string, string][];
  /** Content-Length sent, when it differs from the body's length. */
  declared?: number;
  /** Keep the connection open after a short body (the client waits for the rest). */
  hold?: boolean;
}

const REQUEST_TIMEOUT_MS = 300;
const BUCKET = "bucket";
const CONTAINER = "backups";
const ACCOUNT = "acct";
const ACCOUNT_KEY = btoa("fuzz-account-key-0123456789");

/** The kind of a request, from its method and URL. */
function slotOf(method: string, url: URL): string {
  const q = url.searchParams;
  const list = q.has("list-type") || q.get("comp") === "list" ||
    (/\/o$/.test(url.pathname) && method === "GET");
  return `${method} ${list ? "list" : q.has("comp") || q.has("restore") ? "other" : "object"}`;
}

/** The store of a provider, at `endpoint`. */
function storeOf(provider: Provider, endpoint: string): ObjectStore {
  if (provider === "s3") {
    return new S3Store({
      bucket: BUCKET,
      region: "us-east-1",
      endpoint,
      accessKeyId: "AKIDTESTEXAMPLE",
      secretAccessKey: "test/secret+KEY",
      retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 },
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
  }
  if (provider === "gcs") {
    return new GcsStore({
      bucket: BUCKET,
      endpoint,
      retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 },
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
  }
  return new AzureBlobStore({
    endpoint: `${endpoint}/${ACCOUNT}`,
    containerName: CONTAINER,
    accountName: ACCOUNT,
    accountKey: ACCOUNT_KEY,
    retryMaxAttempts: 1,
    retryDelayMs: 1,
    retryMaxDelayMs: 1,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
}

/** What a restore does with a cloud directory: list it, read every file. */
async function restoreRead(store: ObjectStore): Promise<void> {
  const reader = new ObjectStoreReader(store, { directories: ["dir"] }, {
    readRetry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 },
  });
  for await (const entry of reader.list()) {
    for await (const _ of await reader.open(entry)) { /* every byte */ }
  }
}

/** What {@linkcode capture} keeps: the answers of a clean run, and error answers. */
interface Captured {
  answers: Map<Provider, Map<string, Answer>>;
  /** Answers to reads of a missing object (XML or JSON errors), by provider. */
  errors: Map<Provider, Answer>;
}

/** Runs a restore's reads against the real test servers and keeps their answers. */
async function capture(): Promise<Captured> {
  const out = new Map<Provider, Map<string, Answer>>();
  const errors = new Map<Provider, Answer>();
  const real = globalThis.fetch;
  let into = new Map<string, Answer>();
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const req = new Request(input, init);
    const res = await real(input, init);
    const body = new Uint8Array(await res.clone().arrayBuffer());
    const headers = [...res.headers].filter(([k]) =>
      !/^(content-length|transfer-encoding|connection|date|keep-alive)$/i.test(k)
    );
    into.set(slotOf(req.method, new URL(req.url)), { status: res.status, headers, body });
    return res;
  };
  const file = (n: number) => new TextEncoder().encode(`Version 3.1\n# namespace test\n${n}\n`);
  try {
    {
      await using s3 = await startS3TestServer({ bucket: BUCKET });
      s3.objects.set("dir/a.asb", file(1));
      s3.objects.set("dir/b.asb", file(2));
      out.set("s3", into = new Map());
      await restoreRead(storeOf("s3", s3.url));
      errors.set("s3", await missing("s3", s3.url));
    }
    {
      await using gcs = await startGcsTestServer({ bucket: BUCKET });
      gcs.objects.set("dir/a.asb", file(1));
      out.set("gcs", into = new Map());
      await restoreRead(storeOf("gcs", gcs.url));
      errors.set("gcs", await missing("gcs", gcs.url));
    }
    {
      await using az = await startAzureTestServer({
        account: ACCOUNT,
        accountKey: ACCOUNT_KEY,
        container: CONTAINER,
      });
      az.putBlob("dir/a.asb", file(1));
      const endpoint = az.url.replace(new RegExp(`/${ACCOUNT}$`), "");
      out.set("azure", into = new Map());
      await restoreRead(storeOf("azure", endpoint));
      errors.set("azure", await missing("azure", endpoint));
    }
  } finally {
    globalThis.fetch = real;
  }
  return { answers: out, errors };

  /** The answer to a read of an object that is not there. */
  async function missing(provider: Provider, endpoint: string): Promise<Answer> {
    into = new Map();
    await storeOf(provider, endpoint).read("dir/missing.asb", 0).catch(() => {});
    return into.get("GET object")!;
  }
}

interface CloudEnv extends Captured {
  server: FuzzServer;
  endpoint: string;
  /** The damage of the input being run, with its body. */
  damage: { d: Damage; body: Uint8Array } | null;
}

const CRLF = new TextEncoder().encode("\r\n\r\n");

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Reads one request head (and skips its body); null when the client left. */
async function readRequest(conn: Deno.Conn): Promise<{ method: string; url: URL } | null> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(16384);
  while (indexOf(buf, CRLF) < 0) {
    const n = await conn.read(chunk);
    if (n === null) return null;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    if (buf.length > 1 << 20) return null;
  }
  const end = indexOf(buf, CRLF);
  const head = new TextDecoder().decode(buf.subarray(0, end));
  const [line, ...fields] = head.split("\r\n");
  const [method, target] = line.split(" ");
  const length = Number(
    fields.find((f) => /^content-length:/i.test(f))?.split(":")[1]?.trim() ?? 0,
  );
  let have = buf.length - end - 4;
  while (have < length) {
    const n = await conn.read(chunk);
    if (n === null) return null;
    have += n;
  }
  return { method, url: new URL(target, "http://fuzz") };
}

function respond(a: Answer, declared: number | undefined): Uint8Array {
  const lines = [`HTTP/1.1 ${a.status} Fuzz`];
  for (const [k, v] of a.headers) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${declared ?? a.body.length}`, "connection: close", "", "");
  const head = new TextEncoder().encode(lines.join("\r\n"));
  const out = new Uint8Array(head.length + a.body.length);
  out.set(head);
  out.set(a.body, head.length);
  return out;
}

/** Answers one request: the damaged answer for the input's slot, the real one otherwise. */
async function answer(env: CloudEnv, conn: Deno.Conn): Promise<void> {
  const req = await readRequest(conn);
  if (req === null || env.damage === null) return;
  const { d, body } = env.damage;
  const slot = slotOf(req.method, req.url);
  const real = env.answers.get(d.provider)?.get(slot) ??
    { status: 404, headers: [], body: new Uint8Array() };
  const hit = slot === d.slot;
  await conn.write(
    respond(
      hit ? { status: d.status, headers: d.headers, body } : real,
      hit ? d.declared : undefined,
    ),
  );
  if (hit && d.hold) await conn.read(new Uint8Array(1));
}

function split(input: Uint8Array): [Damage | null, Uint8Array] {
  const [line, body] = splitHeader(input);
  try {
    const d = JSON.parse(line) as Damage;
    return [PROVIDERS.includes(d.provider) ? d : null, body];
  } catch {
    return [null, body];
  }
}

const join = (d: Damage, body: Uint8Array) => withHeader(JSON.stringify(d), body);

const STATUSES = [200, 200, 200, 206, 301, 304, 400, 403, 404, 409, 412, 416, 429, 500, 503];

/** Responses of S3, Cloud Storage and Azure Blob. */
export const cloudTarget: FuzzTarget<CloudEnv> = {
  name: "cloud",
  about: "S3 / Cloud Storage / Azure Blob responses (listings, errors, bodies), damaged or cut",
  ciIterations: 300,
  timeoutMs: 15_000,
  async open() {
    const captured = await capture();
    const server = serveFuzz((conn) => answer(env, conn));
    const env: CloudEnv = {
      ...captured,
      server,
      endpoint: `http://127.0.0.1:${server.port}`,
      damage: null,
    };
    return env;
  },
  close: (env) => env.server.close(),
  seeds(env) {
    const out: Uint8Array[] = [];
    for (const [provider, slots] of env.answers) {
      for (const [slot, a] of slots) {
        out.push(join({ provider, slot, status: a.status, headers: a.headers }, a.body));
      }
    }
    for (const [provider, a] of env.errors) {
      out.push(
        join({ provider, slot: "GET object", status: a.status, headers: a.headers }, a.body),
      );
    }
    return Promise.resolve(out);
  },
  mutate(seed, r, seeds) {
    const [d, body] = split(seed);
    const damage: Damage = { ...d!, headers: d!.headers.slice() };
    let bytes = body;
    const what = r.int(5);
    if (what <= 1) bytes = mutateBytes(body, r, seeds);
    else if (what === 2) damage.status = r.pick(STATUSES);
    else if (what === 3 && damage.headers.length > 0) {
      damage.headers.splice(r.int(damage.headers.length), 1);
    } else {
      // Cut short of the declared length.
      bytes = body.slice(0, r.int(body.length + 1));
      damage.declared = body.length + (bytes.length === body.length ? 1 + r.int(100) : 0);
      damage.hold = r.chance(0.3);
    }
    return join(damage, bytes);
  },
  async run(input, env) {
    const [d, body] = split(input);
    if (d === null) return;
    env.damage = { d, body };
    try {
      await restoreRead(storeOf(d.provider, env.endpoint));
    } finally {
      env.damage = null;
    }
  },
  judge(err, input) {
    const [d] = split(input);
    const where = d?.provider === "azure" ? CONTAINER : BUCKET;
    return namesSource(err, [where]);
  },
};
