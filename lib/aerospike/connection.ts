/**
 * One connection to one node: TCP or TLS, a frame reader, a reusable request buffer, time
 * limits on every read and write, and errors that name the node and the command.
 *
 * A connection that failed in any way (timeout, bad bytes, half-read reply) is closed and
 * never goes back to a pool.
 *
 * @module
 */

import { AerobakError, type NodeRef } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { type Frame, type FramePart, FrameReader, type ReadLimits } from "./frame_reader.ts";

export type { Frame, ReadLimits };
import { formatAddress, type Host } from "./host.ts";
import { connectTls, type TlsContext } from "./tls.ts";
import { connectTcp, type Transport, TransportTimeout } from "./_transport.ts";

/** Options of {@linkcode Connection.open}. */
export interface ConnectOptions {
  /** Connect (and TLS handshake) limit in ms. */
  timeoutMs: number;
  /** TLS material; plain TCP when absent. */
  tls?: TlsContext;
  /** Node name, when known, for error messages. */
  nodeName?: string;
}

/**
 * Builds read limits for a command.
 *
 * @param socketTimeoutMs Longest wait for any bytes (must be > 0).
 * @param totalTimeoutMs Limit of the whole command, 0 = none.
 * @returns Limits with an absolute deadline.
 */
export function readLimits(socketTimeoutMs: number, totalTimeoutMs: number): ReadLimits {
  // A total timeout no longer than the socket timeout is the bound that passes first, so
  // it alone governs: two limits of the same length would race, and which one the error
  // named would depend on scheduling.
  if (totalTimeoutMs > 0 && totalTimeoutMs <= socketTimeoutMs) socketTimeoutMs = totalTimeoutMs + 1;
  return {
    socketTimeoutMs,
    deadline: totalTimeoutMs > 0 ? Date.now() + totalTimeoutMs : 0,
    totalTimeoutMs: totalTimeoutMs > 0 ? totalTimeoutMs : undefined,
  };
}

/** An open connection to a node. */
export class Connection {
  #transport: Transport;
  #reader: FrameReader;
  #node: NodeRef;
  #command = "command";
  /** Request buffer reused for every command on this connection. */
  readonly writer: ByteWriter = new ByteWriter(8192);
  /** `Date.now()` of the last completed command, for idle trimming. */
  lastUsed: number = Date.now();
  /** Whether the connection has been authenticated (or needs no authentication). */
  authenticated = false;

  private constructor(transport: Transport, node: NodeRef) {
    this.#transport = transport;
    this.#node = node;
    this.#reader = new FrameReader(transport, {
      fail: (code, message, cause, retriable) => this.#fail(code, message, cause, retriable),
    });
  }

  /**
   * Connects to a host.
   *
   * @param host Host (and TLS name) to connect to.
   * @param opts Timeout, TLS and node name.
   * @returns The open connection.
   * @throws {AerobakError} `CONNECT_TIMEOUT` or `CONNECT_FAILED` (retriable), naming the address.
   */
  static async open(host: Host, opts: ConnectOptions): Promise<Connection> {
    const node: NodeRef = { address: formatAddress(host.name, host.port) };
    if (opts.nodeName !== undefined) node.name = opts.nodeName;
    let transport: Transport;
    try {
      transport = opts.tls
        ? await connectTls(
          host.name,
          host.port,
          host.tlsName ?? opts.tls.name ?? host.name,
          opts.tls,
          opts.timeoutMs,
        )
        : await connectTcp(host.name, host.port, opts.timeoutMs);
    } catch (err) {
      if (err instanceof TransportTimeout) {
        throw new AerobakError(
          "CONNECT_TIMEOUT",
          `Cannot connect to ${node.address}: timed out after ${opts.timeoutMs} ms`,
          { cause: err, node, retriable: true },
        );
      }
      throw new AerobakError(
        "CONNECT_FAILED",
        `Cannot connect to ${node.address}${opts.tls ? " (TLS)" : ""}: ${(err as Error).message}`,
        { cause: err, node, retriable: true },
      );
    }
    return new Connection(transport, node);
  }

  /**
   * Wraps an already open transport (tests, custom transports).
   *
   * @param transport The transport, owned from now on.
   * @param node The node it leads to.
   * @returns The connection.
   */
  static fromTransport(transport: Transport, node: NodeRef): Connection {
    return new Connection(transport, { ...node });
  }

  /** The node this connection leads to. */
  get node(): NodeRef {
    return this.#node;
  }

  /** Sets the node name once known (after the `node` info command). */
  set nodeName(name: string) {
    this.#node.name = name;
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#transport.closed;
  }

  /**
   * Names the command in progress, for error messages.
   *
   * @param name E.g. `"scan"`, `"put"`, `"info"`.
   */
  begin(name: string): void {
    this.#command = name;
  }

  /**
   * Sends bytes.
   *
   * @param bytes A whole request (proto header included).
   * @param limits Limits of the command (the socket timeout bounds the write).
   * @throws {AerobakError} `SOCKET_TIMEOUT`, `TOTAL_TIMEOUT`, `NETWORK_ERROR`; the connection is closed.
   */
  async write(bytes: Uint8Array, limits: ReadLimits): Promise<void> {
    if (this.closed) throw this.#fail("CONNECTION_CLOSED", "connection is closed", undefined, true);
    let ms = limits.socketTimeoutMs;
    if (limits.deadline > 0) ms = Math.min(ms, Math.max(1, limits.deadline - Date.now()));
    try {
      await this.#transport.write(bytes, ms);
    } catch (err) {
      if (err instanceof TransportTimeout) {
        throw this.#fail("SOCKET_TIMEOUT", `write blocked for ${ms} ms`, err, true);
      }
      throw this.#fail("NETWORK_ERROR", `write failed: ${(err as Error).message}`, err, true);
    }
  }

  /**
   * Reads the next frame.
   *
   * @param limits Limits of the command.
   * @returns The frame; its body is a view valid until the next read on this connection.
   * @throws {AerobakError} See {@linkcode FrameReader.read}; the connection is closed.
   */
  async read(limits: ReadLimits): Promise<Frame> {
    try {
      return await this.#reader.read(limits);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /**
   * Reads some of a frame (see {@linkcode FrameReader.readPart}).
   *
   * @param limits Limits of the command.
   * @param need Bytes wanted past those consumed.
   * @returns The part; its body is a view valid until the next read on this connection.
   * @throws {AerobakError} See {@linkcode FrameReader.read}; the connection is closed.
   */
  async readPart(limits: ReadLimits, need: number): Promise<FramePart> {
    try {
      return await this.#reader.readPart(limits, need);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /**
   * Marks bytes of the last part read as handled (see {@linkcode FrameReader.consume}).
   *
   * @param n Bytes from the part's start.
   */
  consume(n: number): void {
    this.#reader.consume(n);
  }

  /**
   * Hands out the next frame if it was already read whole (answers to pipelined
   * requests), without waiting.
   *
   * @returns The frame (a view valid until the next read), or `undefined` when
   *   {@linkcode read} must wait for more bytes.
   * @throws {AerobakError} `PROTO_INVALID` for a bad header; the connection is closed.
   */
  readBuffered(): Frame | undefined {
    try {
      return this.#reader.readBuffered();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /**
   * Sends a request and reads one reply frame of the expected type.
   *
   * @param bytes The whole request.
   * @param expectType Proto type the reply must have.
   * @param limits Limits of the command.
   * @returns The reply frame (a view valid until the next read).
   * @throws {AerobakError} `PROTO_INVALID` for a reply of another type, or as
   *   {@linkcode Connection.write} and {@linkcode Connection.read}.
   */
  async request(bytes: Uint8Array, expectType: number, limits: ReadLimits): Promise<Frame> {
    await this.write(bytes, limits);
    const frame = await this.read(limits);
    if (frame.type !== expectType) {
      this.close();
      throw this.#fail(
        "PROTO_INVALID",
        `reply has proto type ${frame.type}, expected ${expectType}`,
        undefined,
        false,
      );
    }
    return frame;
  }

  /**
   * Marks the end of a command: the connection may be reused only if no byte of another
   * reply was read ahead.
   *
   * @returns Whether the connection is clean and open.
   */
  finish(): boolean {
    this.lastUsed = Date.now();
    if (this.#reader.buffered !== 0) {
      this.close();
      return false;
    }
    this.#reader.shrink();
    return !this.closed;
  }

  /**
   * Builds an error naming this connection's node and current command, and closes the
   * connection (it can no longer be trusted).
   *
   * @param code Error code.
   * @param what What went wrong (lowercase, no final period).
   * @param opts Cause and retriability.
   * @returns The error to throw.
   */
  error(
    code: string,
    what: string,
    opts: { cause?: unknown; retriable?: boolean; resultCode?: number } = {},
  ): AerobakError {
    this.close();
    return new AerobakError(code, this.#message(what), {
      cause: opts.cause,
      node: { ...this.#node },
      retriable: opts.retriable ?? false,
      resultCode: opts.resultCode,
    });
  }

  #message(what: string): string {
    const who = this.#node.name
      ? `${this.#node.address} (node ${this.#node.name})`
      : this.#node.address;
    return `${this.#command[0].toUpperCase()}${this.#command.slice(1)} on ${who} failed: ${what}`;
  }

  #fail(code: string, message: string, cause: unknown, retriable = false): AerobakError {
    this.close();
    return new AerobakError(code, this.#message(message), {
      cause,
      node: { ...this.#node },
      retriable,
    });
  }

  /** Closes the connection. Safe to call more than once. */
  close(): void {
    this.#transport.close();
  }
}
