/**
 * One client connection to an emulated node: frames in (with the codec's frame reader),
 * replies out through one reusable writer per connection. Replies are built as whole
 * protos back to back in the writer and sent with one socket write per flush; the write
 * is awaited, so a client that stops reading stops the scan that feeds it (backpressure).
 *
 * @module
 */

import { ByteWriter } from "../aerospike/byte_writer.ts";
import { beginProto, compressMessage, endProto, ProtoType } from "../aerospike/proto.ts";
import { type Transport, TransportTimeout } from "../aerospike/_transport.ts";
import type { EmulatedCluster, NodeState } from "./cluster.ts";

/** Longest time a reply write may block on a client that does not read, in ms. */
const WRITE_TIMEOUT_MS = 600_000;

/** Bytes of replies held for pipelined requests before they are sent anyway. */
const HOLD_LIMIT = 256 * 1024;

/** A reply write that blocked for longer than its limit: the connection is closed. */
export class SendTimeout extends Error {}

/** Server side of one client connection. */
export class ServerConnection {
  /** The cluster served. */
  readonly cluster: EmulatedCluster;
  /** The node this connection reached. */
  readonly node: NodeState;
  /** Reply buffer: complete protos waiting for {@linkcode flush}. */
  readonly w: ByteWriter = new ByteWriter(1 << 20);
  /** Whether the connection logged in (or security is off). */
  authenticated: boolean;
  /** User of the session, when logged in. */
  user?: string;
  /** Whether the current request asked for compressed replies. */
  compress = false;
  /**
   * Set while the next request has already been read whole (the client pipelines): the
   * replies built meanwhile wait in the writer and go out with the last one's, in one
   * socket write.
   */
  pipelined = false;
  readonly #transport: Transport;
  readonly #starts: number[] = [];
  /** Per finished proto: whether its request asked for a compressed reply. */
  readonly #compressed: boolean[] = [];
  #open = -1;
  readonly #closed = Promise.withResolvers<void>();

  /**
   * Wraps a transport.
   *
   * @param cluster The cluster served.
   * @param node The node reached.
   * @param transport The socket.
   */
  constructor(cluster: EmulatedCluster, node: NodeState, transport: Transport) {
    this.cluster = cluster;
    this.node = node;
    this.#transport = transport;
    this.authenticated = cluster.users.size === 0;
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#transport.closed;
  }

  /** Starts a reply proto in the writer. */
  begin(): void {
    this.#open = beginProto(this.w);
  }

  /**
   * Finishes the proto started by {@linkcode begin}.
   *
   * @param type Proto type. @default ProtoType.MESSAGE
   */
  end(type: number = ProtoType.MESSAGE): void {
    endProto(this.w, this.#open, type);
    this.#starts.push(this.#open);
    this.#compressed.push(this.compress);
    this.#open = -1;
  }

  /** Bytes of the proto being built (0 when none is open). */
  get openSize(): number {
    return this.#open < 0 ? 0 : this.w.length - this.#open;
  }

  /**
   * Sends every finished proto (compressing each into a type-4 message when the request
   * asked for it) and empties the writer.
   */
  async flush(): Promise<void> {
    if (this.#open >= 0) throw new Error("Internal error: flush() with an open proto");
    if (this.pipelined && this.w.length < HOLD_LIMIT) return;
    await this.#sendPending();
  }

  /** Sends the replies held for pipelined requests (before a request that waits). */
  async sendHeld(): Promise<void> {
    if (this.#open >= 0) throw new Error("Internal error: sendHeld() with an open proto");
    await this.#sendPending();
  }

  /** Sends every finished proto, held ones included. */
  async #sendPending(): Promise<void> {
    if (this.#starts.length === 0) return;
    const all = this.w.subarray();
    try {
      if (this.#compressed.includes(true)) {
        for (let i = 0; i < this.#starts.length; i++) {
          const end = i + 1 < this.#starts.length ? this.#starts[i + 1] : all.length;
          const proto = all.subarray(this.#starts[i], end);
          await this.#transport.write(
            this.#compressed[i] ? compressMessage(proto) : proto,
            WRITE_TIMEOUT_MS,
          );
        }
      } else {
        await this.#transport.write(all, WRITE_TIMEOUT_MS);
      }
    } finally {
      this.#starts.length = 0;
      this.#compressed.length = 0;
      this.w.reset();
    }
  }

  /**
   * Sends bytes already framed (info answers), after any pending protos.
   *
   * @param bytes Whole messages.
   */
  async send(bytes: Uint8Array): Promise<void> {
    await this.#sendPending();
    await this.#transport.write(bytes, WRITE_TIMEOUT_MS);
  }

  /**
   * Sends one whole proto built elsewhere (a scan thread's buffer), compressed when the
   * request asked for it. Like the server's blocking send, a client that reads nothing
   * for `timeoutMs` gets its connection closed.
   *
   * @param proto The proto, header included.
   * @param timeoutMs Longest block on a client that does not read (0 = the default).
   * @throws {SendTimeout} When the limit passed (the connection is closed).
   */
  async sendProto(proto: Uint8Array, timeoutMs: number): Promise<void> {
    const bytes = this.compress ? compressMessage(proto) : proto;
    try {
      await this.#sendPending();
      await this.#transport.write(bytes, timeoutMs > 0 ? timeoutMs : WRITE_TIMEOUT_MS);
    } catch (err) {
      this.close();
      throw err instanceof TransportTimeout ? new SendTimeout("client stopped reading") : err;
    }
  }

  /** Resolves when the connection is closed by {@linkcode close}. */
  get whenClosed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Closes the socket. */
  close(): void {
    this.#transport.close();
    this.#closed.resolve();
  }
}
