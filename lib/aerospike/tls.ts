/**
 * TLS to Aerospike nodes: CA file or directory, client certificate and key (encrypted keys
 * too), the node's TLS name for verification and SNI while dialling its IP, and the allowed
 * protocol versions in Apache `SSLProtocol` syntax.
 *
 * `node:tls` is used rather than `Deno.connectTls` because only it can dial one address
 * while verifying another name and present a client certificate at the same time.
 *
 * @module
 */

import * as nodeTls from "node:tls";
import { createPrivateKey } from "node:crypto";
import { isIP } from "node:net";
import type { Buffer } from "node:buffer";
import { AerobakError } from "../errors.ts";
import { type Transport, TransportTimeout } from "./_transport.ts";

/** TLS settings of a {@linkcode ClientPolicy}. */
export interface TlsPolicy {
  /** Whether to use TLS at all. */
  enabled: boolean;
  /**
   * Default TLS name for seeds that give none.
   *
   * @default {the seed's host}
   */
  name?: string;
  /** CA certificate(s), PEM: a file path, `b64:<base64>` or `env-b64:<VAR>`. */
  caFile?: string;
  /** Directory whose `*.pem`/`*.crt` files are CA certificates. */
  caPath?: string;
  /** Client certificate chain, PEM (path, `b64:` or `env-b64:`); needed for PKI auth. */
  certFile?: string;
  /** Client private key, PEM (path, `b64:` or `env-b64:`). */
  keyFile?: string;
  /** Password of an encrypted client key. */
  keyPassword?: string;
  /**
   * Allowed versions, Apache syntax such as `"+TLSv1.2 +TLSv1.3"`.
   *
   * @default {TLSv1.2 and TLSv1.3}
   */
  protocols?: string;
}

/** Loaded TLS material, ready for {@linkcode connectTls}. */
export interface TlsContext {
  /** CA certificates (PEM); empty = the runtime's roots. */
  ca: string[];
  /** Client certificate chain (PEM). */
  cert?: string;
  /** Client key, unencrypted PEM. */
  key?: string;
  /** Lowest allowed version. */
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** Highest allowed version. */
  maxVersion: "TLSv1.2" | "TLSv1.3";
  /** Default TLS name. */
  name?: string;
}

const VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;

function tlsConfigError(message: string, cause?: unknown): AerobakError {
  return new AerobakError("TLS_CONFIG", message, { cause });
}

/**
 * Parses an Apache `SSLProtocol` list (`all`, `+X`, `-X`, `X`; X in TLSv1, TLSv1.1,
 * TLSv1.2, TLSv1.3) into a version range this runtime can honour (TLS 1.2 and 1.3 only).
 *
 * @param text The list, e.g. `"+TLSv1.2"` or `"all -TLSv1 -TLSv1.1"`.
 * @returns The lowest and highest allowed version.
 * @throws {AerobakError} `TLS_CONFIG` for an unknown token, a gap in the range, or a range
 *   without TLS 1.2 or 1.3.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlsProtocols } from "./tls.ts";
 * assert.deepEqual(parseTlsProtocols("+TLSv1.2"), { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
 * ```
 */
export function parseTlsProtocols(
  text: string,
): { minVersion: "TLSv1.2" | "TLSv1.3"; maxVersion: "TLSv1.2" | "TLSv1.3" } {
  const on = new Set<string>();
  for (const raw of text.split(/[\s,]+/).filter((t) => t !== "")) {
    const sign = raw[0] === "+" || raw[0] === "-" ? raw[0] : "";
    const token = sign === "" ? raw : raw.slice(1);
    const names = token.toLowerCase() === "all"
      ? [...VERSIONS]
      : VERSIONS.filter((v) => v.toLowerCase() === token.toLowerCase());
    if (names.length === 0) {
      throw tlsConfigError(
        `Unknown TLS protocol "${raw}" in "${text}": expected TLSv1.2 or TLSv1.3`,
      );
    }
    for (const n of names) sign === "-" ? on.delete(n) : on.add(n);
  }
  // rustls, under node:tls in Deno, speaks only TLS 1.2 and 1.3.
  const usable = (["TLSv1.2", "TLSv1.3"] as const).filter((v) => on.has(v));
  if (usable.length === 0) {
    throw tlsConfigError(`TLS protocols "${text}" allow neither TLSv1.2 nor TLSv1.3`);
  }
  return { minVersion: usable[0], maxVersion: usable[usable.length - 1] };
}

async function readPem(what: string, ref: string): Promise<string> {
  try {
    if (ref.startsWith("b64:")) return atobText(ref.slice(4));
    if (ref.startsWith("env-b64:")) {
      const name = ref.slice(8);
      const value = Deno.env.get(name);
      if (value === undefined) throw new Error(`environment variable ${name} is not set`);
      return atobText(value);
    }
    return await Deno.readTextFile(ref);
  } catch (err) {
    const shown = ref.startsWith("b64:") ? "b64:…" : ref;
    throw tlsConfigError(`Cannot read TLS ${what} "${shown}": ${(err as Error).message}`, err);
  }
}

function atobText(b64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(b64.trim()), (c) => c.charCodeAt(0)));
}

/**
 * Loads the files a TLS policy names.
 *
 * @param policy The TLS settings (`enabled` must be true).
 * @returns The loaded context.
 * @throws {AerobakError} `TLS_CONFIG` naming the file that cannot be read or the key that
 *   cannot be decrypted.
 */
export async function loadTlsContext(policy: TlsPolicy): Promise<TlsContext> {
  const ca: string[] = [];
  if (policy.caFile) ca.push(await readPem("CA file", policy.caFile));
  if (policy.caPath) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(policy.caPath));
    } catch (err) {
      throw tlsConfigError(`Cannot read TLS CA directory "${policy.caPath}"`, err);
    }
    const names = entries.filter((e) => e.isFile && /\.(pem|crt|cer)$/i.test(e.name))
      .map((e) => e.name).sort();
    for (const name of names) ca.push(await readPem("CA file", `${policy.caPath}/${name}`));
  }
  const cert = policy.certFile ? await readPem("certificate", policy.certFile) : undefined;
  let key = policy.keyFile ? await readPem("key", policy.keyFile) : undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw tlsConfigError("A TLS client certificate needs a key and a key needs a certificate");
  }
  if (key !== undefined && (policy.keyPassword || /ENCRYPTED/.test(key))) {
    try {
      key = createPrivateKey({ key, passphrase: policy.keyPassword ?? "" })
        .export({ type: "pkcs8", format: "pem" }) as string;
    } catch (err) {
      throw tlsConfigError(
        `Cannot decrypt TLS key "${policy.keyFile}": wrong or missing key password`,
        err,
      );
    }
  }
  const range = policy.protocols === undefined
    ? { minVersion: "TLSv1.2" as const, maxVersion: "TLSv1.3" as const }
    : parseTlsProtocols(policy.protocols);
  return { ca, cert, key, ...range, name: policy.name };
}

/** Bytes queued from the socket before it is paused: bounds memory per connection. */
const HIGH_WATER = 1 << 20;

/** A {@linkcode Transport} over a `node:tls` socket, read by pulling. */
class TlsTransport implements Transport {
  #socket: nodeTls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #offset = 0;
  #queued = 0;
  #ended = false;
  #error: Error | null = null;
  #closed = false;
  #wake: (() => void) | null = null;

  constructor(socket: nodeTls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#queued += chunk.byteLength;
      if (this.#queued >= HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error = err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async read(p: Uint8Array, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#head === this.#chunks.length) {
      if (this.#error !== null) {
        this.close();
        throw this.#error;
      }
      if (this.#closed && !this.#ended) throw new Error("Transport closed");
      if (this.#ended) {
        this.close();
        return null;
      }
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let timedOut = left <= 0;
      if (!timedOut) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer = setTimeout(() => {
            timedOut = true;
            resolve();
          }, left);
        });
        clearTimeout(timer);
        this.#wake = null;
      }
      if (timedOut) {
        this.close();
        throw new TransportTimeout(timeoutMs);
      }
    }
    let n = 0;
    while (n < p.length && this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head];
      const take = Math.min(p.length - n, chunk.length - this.#offset);
      p.set(chunk.subarray(this.#offset, this.#offset + take), n);
      n += take;
      this.#offset += take;
      if (this.#offset === chunk.length) {
        this.#head++;
        this.#offset = 0;
      }
    }
    this.#queued -= n;
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    }
    if (this.#queued < HIGH_WATER && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  async write(p: Uint8Array, timeoutMs: number): Promise<void> {
    if (this.#closed) throw new Error("Transport closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          this.close();
          reject(new TransportTimeout(timeoutMs));
        }, timeoutMs);
        this.#socket.write(p, (err?: Error | null) => err ? reject(err) : resolve());
      });
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#notify();
  }
}

/**
 * Opens a TLS transport: dials `hostname:port`, verifies the certificate against
 * `tlsName` (also sent as SNI) and presents the client certificate when the context has one.
 *
 * @param hostname Address to dial.
 * @param port Port.
 * @param tlsName Name the server certificate must carry.
 * @param ctx Loaded TLS material.
 * @param timeoutMs Limit for connect plus handshake.
 * @returns The transport.
 * @throws {TransportTimeout} When the limit passes; TLS errors as the runtime reports them.
 */
export function connectTls(
  hostname: string,
  port: number,
  tlsName: string,
  ctx: TlsContext,
  timeoutMs: number,
): Promise<Transport> {
  return new Promise<Transport>((resolve, reject) => {
    const socket = nodeTls.connect({
      host: hostname,
      port,
      // SNI cannot carry an IP address (the runtime refuses one); without SNI the
      // certificate is still checked against the address, as the Go and C clients do.
      servername: isIP(tlsName) === 0 ? tlsName : undefined,
      ca: ctx.ca.length > 0 ? ctx.ca : undefined,
      cert: ctx.cert,
      key: ctx.key,
      minVersion: ctx.minVersion,
      maxVersion: ctx.maxVersion,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TransportTimeout(timeoutMs));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.setNoDelay(true);
      resolve(new TlsTransport(socket));
    });
  });
}
