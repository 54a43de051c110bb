/**
 * A small Secret Agent for tests: answers the Secret Agent protocol over TCP, TLS (with
 * optional client-certificate checks) or a Unix socket, from an in-memory table.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import {
  decodeSecretRequest,
  encodeSecretAgentMessage,
  readSecretAgentHeader,
  SECRET_AGENT_HEADER_SIZE,
  type SecretRequest,
} from "./protocol.ts";

/** How the test agent answers; the non-default modes exercise client error paths. */
export type TestAgentBehaviour =
  /** Answer from the table. */
  | "normal"
  /** Read the request and never answer (client deadline). */
  | "silent"
  /** Answer with a wrong magic number. */
  | "bad-magic"
  /** Close the connection after half a header. */
  | "truncated";

/** Options of {@linkcode SecretAgentTestServer.start}. */
export interface SecretAgentTestServerOptions {
  /**
   * Transport: plain TCP, TLS over TCP, or a Unix socket.
   * @default {"tcp"}
   */
  transport?: "tcp" | "tls" | "unix";
  /** Secrets by resource, then key. Resource `""` serves requests without a resource. */
  secrets: Record<string, Record<string, string>>;
  /**
   * Whether to send values base64-encoded (an agent configured for binary secrets).
   * @default {false}
   */
  base64?: boolean;
  /** Server certificate and key (PEM files) for `"tls"`; `caFile` + `requireClientCert` for mutual TLS. */
  tls?: { certFile: string; keyFile: string; caFile?: string; requireClientCert?: boolean };
  /**
   * Socket path for `"unix"`.
   * @default {a new path in a temporary directory}
   */
  path?: string;
  /**
   * Answer mode.
   * @default {"normal"}
   */
  behaviour?: TestAgentBehaviour;
}

/**
 * The test Secret Agent.
 *
 * @example
 * ```ts
 * import { SecretAgentTestServer } from "./test_server.ts";
 * import { resolveSecret } from "./resolve.ts";
 * await using agent = await SecretAgentTestServer.start({ secrets: { vault: { pw: "s3cret" } } });
 * console.log(await resolveSecret("secrets:vault:pw", agent.config())); // s3cret
 * ```
 */
export class SecretAgentTestServer implements AsyncDisposable {
  #server: net.Server;
  #options: SecretAgentTestServerOptions;
  #sockets = new Set<net.Socket>();
  #tmpDir?: string;
  /** Requests received so far, in order. */
  readonly requests: SecretRequest[] = [];
  /** Host (TCP/TLS) or socket path (Unix) the agent listens on. */
  readonly address: string;
  /** TCP port, 0 for Unix sockets. */
  readonly port: number;

  private constructor(
    server: net.Server,
    options: SecretAgentTestServerOptions,
    address: string,
    port: number,
    tmpDir?: string,
  ) {
    this.#server = server;
    this.#options = options;
    this.address = address;
    this.port = port;
    this.#tmpDir = tmpDir;
  }

  /**
   * Starts an agent on 127.0.0.1 (random port) or a Unix socket.
   *
   * @param options Transport, secrets and behaviour.
   * @returns The listening agent; close it with `close()` or `await using`.
   */
  static async start(options: SecretAgentTestServerOptions): Promise<SecretAgentTestServer> {
    const transport = options.transport ?? "tcp";
    // Connections can only arrive after listen(), when the instance exists.
    const holder: { agent?: SecretAgentTestServer } = {};
    const onConn = (socket: net.Socket) => {
      if (holder.agent) holder.agent.#serve(socket);
      else socket.destroy();
    };
    let server: net.Server;
    if (transport === "tls") {
      if (!options.tls) {
        throw new TypeError("Cannot start a TLS test agent without tls.certFile and tls.keyFile");
      }
      server = tls.createServer({
        cert: await Deno.readTextFile(options.tls.certFile),
        key: await Deno.readTextFile(options.tls.keyFile),
        ca: options.tls.caFile ? await Deno.readTextFile(options.tls.caFile) : undefined,
        requestCert: options.tls.requireClientCert ?? false,
        rejectUnauthorized: options.tls.requireClientCert ?? false,
      }, onConn);
      // Handshake failures are the client's concern in these tests.
      server.on("tlsClientError", () => {});
    } else {
      server = net.createServer(onConn);
    }
    let tmpDir: string | undefined;
    let address = "127.0.0.1";
    let port = 0;
    if (transport === "unix") {
      if (options.path) {
        address = options.path;
      } else {
        tmpDir = await Deno.makeTempDir({ prefix: "aerobak-sa-" });
        address = `${tmpDir}/agent.sock`;
      }
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(address, () => resolve());
      });
    } else {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      port = (server.address() as net.AddressInfo).port;
    }
    holder.agent = new SecretAgentTestServer(server, options, address, port, tmpDir);
    return holder.agent;
  }

  /**
   * A client configuration that reaches this agent (without TLS files; add them for TLS).
   *
   * @returns Address, port and connection type.
   */
  config(): { connectionType: "tcp" | "unix"; address: string; port?: number } {
    return this.port === 0
      ? { connectionType: "unix", address: this.address }
      : { connectionType: "tcp", address: this.address, port: this.port };
  }

  #serve(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buf = new Uint8Array(0);
    socket.on("data", (b: Uint8Array) => {
      const next = new Uint8Array(buf.length + b.length);
      next.set(buf);
      next.set(b, buf.length);
      buf = next;
      if (buf.length < SECRET_AGENT_HEADER_SIZE) return;
      let size: number;
      try {
        size = readSecretAgentHeader(buf);
      } catch {
        socket.destroy();
        return;
      }
      if (buf.length < SECRET_AGENT_HEADER_SIZE + size) return;
      let request: SecretRequest;
      try {
        request = decodeSecretRequest(
          buf.subarray(SECRET_AGENT_HEADER_SIZE, SECRET_AGENT_HEADER_SIZE + size),
        );
      } catch (err) {
        socket.end(encodeSecretAgentMessage({ Error: `bad request: ${(err as Error).message}` }));
        return;
      }
      this.requests.push(request);
      this.#answer(socket, request);
    });
  }

  #answer(socket: net.Socket, request: SecretRequest): void {
    switch (this.#options.behaviour ?? "normal") {
      case "silent":
        return;
      case "bad-magic": {
        const msg = encodeSecretAgentMessage({ SecretValue: "x" });
        msg[0] ^= 0xff;
        socket.end(msg);
        return;
      }
      case "truncated":
        socket.end(encodeSecretAgentMessage({ SecretValue: "x" }).subarray(0, 4));
        return;
    }
    const value = this.#options.secrets[request.resource]?.[request.key];
    if (value === undefined) {
      socket.end(
        encodeSecretAgentMessage({
          Error: `secret "${request.key}" not found in resource "${request.resource}"`,
        }),
      );
      return;
    }
    const sent = this.#options.base64
      ? btoa(String.fromCharCode(...new TextEncoder().encode(value)))
      : value;
    socket.end(encodeSecretAgentMessage({ SecretValue: sent }));
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#tmpDir) await Deno.remove(this.#tmpDir, { recursive: true }).catch(() => {});
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
