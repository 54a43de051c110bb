/**
 * Fuzz target of Secret Agent replies: a fake agent reads the client's request and sends
 * back a damaged real reply (header and JSON body; a value, a base64 value, an error),
 * maybe in slow pieces, maybe closing the connection early. `fetchSecret` must return a
 * value or fail with one error naming the agent and the secret, within its deadline.
 *
 * An input is `<plain|base64> <pieces> <pauseMs> <close|open>\n<reply bytes>`.
 *
 * @module
 */

import { fetchSecret } from "../../../lib/secret_agent/client.ts";
import { encodeSecretAgentMessage } from "../../../lib/secret_agent/protocol.ts";
import { type FuzzTarget, namesSource } from "../engine.ts";
import { splitHeader, withHeader } from "../input.ts";
import { mutateBytes } from "../mutate.ts";
import { type FuzzServer, serveFuzz } from "./_serve.ts";

/** The client's deadline: short, but far above a loopback round trip. */
const TIMEOUT_MS = 150;

interface AgentEnv {
  server: FuzzServer;
  /** The reply of the input being run. */
  reply: { bytes: Uint8Array; h: Header } | null;
}

interface Header {
  mode: string;
  pieces: number;
  pauseMs: number;
  close: boolean;
}

function split(input: Uint8Array): [Header, Uint8Array] {
  const [line, body] = splitHeader(input);
  const [mode = "plain", pieces = "1", pause = "0", close = "close"] = line.split(" ");
  const header = {
    mode,
    pieces: Math.min(8, Math.max(1, Number(pieces) || 1)),
    pauseMs: Math.min(2 * TIMEOUT_MS, Math.max(0, Number(pause) || 0)),
    close: close === "close",
  };
  return [header, body];
}

const join = (h: Header, body: Uint8Array) =>
  withHeader(`${h.mode} ${h.pieces} ${h.pauseMs} ${h.close ? "close" : "open"}`, body);

/** Answers one client with the reply of the input being run. */
async function answer(env: AgentEnv, conn: Deno.Conn): Promise<void> {
  await conn.read(new Uint8Array(4096)); // the request
  const reply = env.reply;
  if (reply === null) return;
  const { bytes, h } = reply;
  const size = Math.ceil(bytes.length / h.pieces);
  for (let at = 0; at < bytes.length; at += size) {
    if (h.pauseMs > 0) await new Promise((r) => setTimeout(r, h.pauseMs));
    await conn.write(bytes.subarray(at, at + size));
  }
  if (!h.close) await conn.read(new Uint8Array(1)); // until the client hangs up
}

/** Replies of the Secret Agent. */
export const secretAgentTarget: FuzzTarget<AgentEnv> = {
  name: "secret-agent",
  about: "Secret Agent replies (header, JSON value or error, base64 values), slow or cut",
  ciIterations: 400,
  timeoutMs: 10_000,
  open() {
    const env: AgentEnv = { server: serveFuzz((conn) => answer(env, conn)), reply: null };
    return Promise.resolve(env);
  },
  close: (env) => env.server.close(),
  seeds() {
    const h = (mode: string) => ({ mode, pieces: 1, pauseMs: 0, close: true });
    return Promise.resolve([
      join(h("plain"), encodeSecretAgentMessage({ SecretValue: "s3cr3t password" })),
      join(h("base64"), encodeSecretAgentMessage({ SecretValue: btoa("-----BEGIN KEY-----") })),
      join(h("plain"), encodeSecretAgentMessage({ Error: "secret vault:pw not found" })),
      join(h("plain"), encodeSecretAgentMessage({ SecretValue: "", Error: "" })),
    ]);
  },
  mutate(seed, r, seeds) {
    const [h, body] = split(seed);
    const slow = r.chance(0.15);
    return join({
      mode: h.mode,
      pieces: slow ? 2 + r.int(4) : 1,
      pauseMs: slow ? r.int(2 * TIMEOUT_MS) : 0,
      close: r.chance(0.8),
    }, mutateBytes(body, r, seeds));
  },
  async run(input, env) {
    const [h, bytes] = split(input);
    env.reply = { bytes, h };
    try {
      await fetchSecret(
        {
          address: "127.0.0.1",
          port: env.server.port,
          timeoutMs: TIMEOUT_MS,
          isBase64: h.mode === "base64",
        },
        { resource: "vault", key: "pw" },
      );
    } finally {
      env.reply = null;
    }
  },
  judge: (err, _input, env) => {
    const agent = namesSource(err, [`Secret Agent at 127.0.0.1:${env.server.port}`]);
    return agent ?? namesSource(err, ["vault:pw"]);
  },
};
