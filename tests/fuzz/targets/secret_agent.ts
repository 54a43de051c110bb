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
import { mutateBytes } from "../mutate.ts";

/** The client's deadline: short, but far above a loopback round trip. */
const TIMEOUT_MS = 150;

interface AgentEnv {
  listener: Deno.TcpListener;
  port: number;
  /** The reply of the input being run. */
  reply: { bytes: Uint8Array; pieces: number; pauseMs: number; close: boolean } | null;
  serving: Promise<void>;
  conns: Set<Deno.Conn>;
}

interface Header {
  mode: string;
  pieces: number;
  pauseMs: number;
  close: boolean;
}

function split(input: Uint8Array): [Header, Uint8Array] {
  const nl = input.indexOf(0x0a);
  const [mode = "plain", pieces = "1", pause = "0", close = "close"] = new TextDecoder()
    .decode(input.subarray(0, Math.max(0, nl))).split(" ");
  const header = {
    mode,
    pieces: Math.min(8, Math.max(1, Number(pieces) || 1)),
    pauseMs: Math.min(2 * TIMEOUT_MS, Math.max(0, Number(pause) || 0)),
    close: close === "close",
  };
  return [header, input.subarray(nl + 1)];
}

function join(h: Header, body: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(
    `${h.mode} ${h.pieces} ${h.pauseMs} ${h.close ? "close" : "open"}\n`,
  );
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

async function serve(env: AgentEnv): Promise<void> {
  for await (const conn of env.listener) {
    env.conns.add(conn);
    (async () => {
      try {
        await conn.read(new Uint8Array(4096)); // the request
        const reply = env.reply;
        if (reply === null) return;
        const size = Math.ceil(reply.bytes.length / reply.pieces);
        for (let at = 0; at < reply.bytes.length; at += size) {
          if (reply.pauseMs > 0) await new Promise((r) => setTimeout(r, reply.pauseMs));
          await conn.write(reply.bytes.subarray(at, at + size));
        }
        if (!reply.close) await conn.read(new Uint8Array(1)); // until the client hangs up
      } catch {
        // The client gave up first.
      } finally {
        env.conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    })();
  }
}

/** Replies of the Secret Agent. */
export const secretAgentTarget: FuzzTarget<AgentEnv> = {
  name: "secret-agent",
  about: "Secret Agent replies (header, JSON value or error, base64 values), slow or cut",
  ciIterations: 400,
  timeoutMs: 10_000,
  open() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const env: AgentEnv = {
      listener,
      port: (listener.addr as Deno.NetAddr).port,
      reply: null,
      serving: Promise.resolve(),
      conns: new Set(),
    };
    env.serving = serve(env);
    return Promise.resolve(env);
  },
  async close(env) {
    env.listener.close();
    for (const c of env.conns) c.close();
    await env.serving.catch(() => {});
  },
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
    env.reply = { bytes, pieces: h.pieces, pauseMs: h.pauseMs, close: h.close };
    try {
      await fetchSecret(
        {
          address: "127.0.0.1",
          port: env.port,
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
    const agent = namesSource(err, [`Secret Agent at 127.0.0.1:${env.port}`]);
    return agent ?? namesSource(err, ["vault:pw"]);
  },
};
