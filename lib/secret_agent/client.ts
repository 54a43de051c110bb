/**
 * Secret Agent client: fetches one secret per connection over TCP, TLS or a Unix socket.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { AerobakError, oneLine } from "../errors.ts";
import {
  decodeSecretResponse,
  encodeSecretRequest,
  readSecretAgentHeader,
  SECRET_AGENT_HEADER_SIZE,
  type SecretRequest,
} from "./protocol.ts";

/** Where and how to reach the Secret Agent (CLI `--sa-*` flags). */
export interface SecretAgentConfig {
  /**
   * Transport.
   * @default {"tcp"}
   */
  connectionType?: "tcp" | "unix";
  /** Host name or IP (TCP; may be `host:port` when `port` is unset), or socket path (Unix). */
  address: string;
  /** TCP port. */
  port?: number;
  /**
   * Deadline for connecting, sending and receiving, in milliseconds.
   * @default {1000}
   */
  timeoutMs?: number;
  /** CA file (PEM) to verify the agent; turns TLS on (TCP only). */
  tlsCaFile?: string;
  /**
   * Name to send as SNI and to verify the agent's certificate against.
   * @default {address}
   */
  tlsName?: string;
  /** Client certificate (PEM) for mutual TLS; turns TLS on. */
  certFile?: string;
  /** Client private key (PEM) for mutual TLS. */
  keyFile?: string;
  /**
   * Whether the agent's values are base64 and must be decoded (backup-go `--sa-is-base64`).
   * @default {false}
   */
  isBase64?: boolean;
}

/** Default deadline of the library (the CLI passes its own, 10000 ms). */
export const SECRET_AGENT_DEFAULT_TIMEOUT_MS = 1000;

function describe(config: SecretAgentConfig): string {
  if (config.connectionType === "unix") return `unix:${config.address}`;
  return config.port === undefined ? config.address : `${config.address}:${config.port}`;
}

function tcpTarget(config: SecretAgentConfig): { host: string; port: number } {
  if (config.port !== undefined) {
    if (!Number.isInteger(config.port) || config.port <= 0 || config.port > 65535) {
      throw new RangeError(
        `Cannot reach the Secret Agent on port ${config.port}: expected 1..65535`,
      );
    }
    return { host: config.address, port: config.port };
  }
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(config.address);
  if (!m) {
    throw new TypeError(`Cannot reach the Secret Agent at "${config.address}": no port given`);
  }
  return { host: m[1], port: Number(m[2]) };
}

async function openSocket(config: SecretAgentConfig): Promise<net.Socket> {
  const type = config.connectionType ?? "tcp";
  if (type === "unix") {
    if (config.tlsCaFile || config.certFile) {
      throw new TypeError(
        "Cannot use TLS with the Secret Agent over a Unix socket: TLS is for TCP only",
      );
    }
    return net.connect({ path: config.address });
  }
  if (type !== "tcp") {
    throw new TypeError(
      `Cannot use Secret Agent connection type "${String(type)}": expected tcp or unix`,
    );
  }
  const { host, port } = tcpTarget(config);
  if (!config.tlsCaFile && !config.certFile) return net.connect({ host, port });
  if (config.certFile && !config.keyFile) {
    throw new TypeError("Cannot use a Secret Agent client certificate without keyFile");
  }
  const read = async (path: string, what: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      throw new AerobakError(
        "SECRET_AGENT_TLS",
        `Cannot read the Secret Agent ${what} ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  };
  // SNI carries host names only (RFC 6066): for an IP the certificate is checked against
  // its IP addresses, as Go's crypto/tls does.
  const name = config.tlsName ?? host;
  const byIp = net.isIP(name) !== 0;
  return tls.connect({
    host,
    port,
    ...(byIp ? {} : { servername: name }),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
    ca: config.tlsCaFile ? await read(config.tlsCaFile, "CA file") : undefined,
    cert: config.certFile ? await read(config.certFile, "certificate") : undefined,
    key: config.keyFile ? await read(config.keyFile, "key file") : undefined,
  });
}

/**
 * Asks the Secret Agent for one secret.
 *
 * @example
 * ```ts
 * import { fetchSecret } from "./client.ts";
 * const pw = await fetchSecret({ address: "127.0.0.1", port: 3005 }, { resource: "vault", key: "pw" });
 * ```
 *
 * @param config Transport, address, TLS, deadline and base64 option.
 * @param request Resource and key.
 * @returns The secret value (base64-decoded to text when `isBase64`).
 * @throws {AerobakError} `SECRET_AGENT_CONNECT` (cannot connect, TLS failure),
 *   `SECRET_AGENT_TIMEOUT` (deadline passed), `SECRET_AGENT_PROTOCOL` (bad answer),
 *   `SECRET_AGENT_ERROR` (the agent reported an error); each names the agent's address.
 */
export async function fetchSecret(
  config: SecretAgentConfig,
  request: SecretRequest,
): Promise<string> {
  const where = describe(config);
  const timeoutMs = config.timeoutMs ?? SECRET_AGENT_DEFAULT_TIMEOUT_MS;
  const what = request.resource ? `${request.resource}:${request.key}` : request.key;
  const socket = await openSocket(config);
  const body = await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let have = 0;
    let need = -1;
    const fail = (code: string, message: string, cause?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new AerobakError(
          code,
          `Cannot get secret ${what} from the Secret Agent at ${where}: ${message}`,
          { cause },
        ),
      );
    };
    const timer = setTimeout(
      () => fail("SECRET_AGENT_TIMEOUT", `no complete answer within ${timeoutMs} ms`),
      timeoutMs,
    );
    const joined = () => {
      const all = new Uint8Array(have);
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      return all;
    };
    socket.on("error", (err: Error) => fail("SECRET_AGENT_CONNECT", err.message, err));
    socket.on(
      "close",
      () => fail("SECRET_AGENT_PROTOCOL", `connection closed after ${have} bytes of the answer`),
    );
    socket.on("data", (b: Uint8Array) => {
      chunks.push(b);
      have += b.length;
      if (need < 0 && have >= SECRET_AGENT_HEADER_SIZE) {
        try {
          need = SECRET_AGENT_HEADER_SIZE + readSecretAgentHeader(joined());
        } catch (err) {
          return fail("SECRET_AGENT_PROTOCOL", (err as Error).message, err);
        }
      }
      if (need >= 0 && have >= need) {
        clearTimeout(timer);
        socket.removeAllListeners("close");
        socket.destroy();
        resolve(joined().subarray(SECRET_AGENT_HEADER_SIZE, need));
      }
    });
    const send = () => socket.write(encodeSecretRequest(request));
    if (socket instanceof tls.TLSSocket) socket.once("secureConnect", send);
    else socket.once("connect", send);
  });
  let response;
  try {
    response = decodeSecretResponse(body);
  } catch (err) {
    throw new AerobakError(
      "SECRET_AGENT_PROTOCOL",
      // JSON.parse quotes the text it choked on.
      `Cannot get secret ${what} from the Secret Agent at ${where}: ${
        oneLine((err as Error).message)
      }`,
      { cause: err },
    );
  }
  if (response.error) {
    throw new AerobakError(
      "SECRET_AGENT_ERROR",
      `Cannot get secret ${what} from the Secret Agent at ${where}: the agent answered "${response.error}"`,
    );
  }
  const value = response.value ?? "";
  if (!config.isBase64) return value;
  const s = value.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new AerobakError(
      "SECRET_AGENT_PROTOCOL",
      `Cannot get secret ${what} from the Secret Agent at ${where}: the value is not base64 (isBase64 is set)`,
    );
  }
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
