/**
 * The TCP server that XDR ships records to during an XDR backup (backup-go's `TCPServer`
 * and `ConnectionHandler`).
 *
 * Each source node opens connections to it and streams AS_MSG writes and deletes; every
 * message is answered, in order, by a 30-byte ack. A message is acked only once its token
 * has been accepted by the bounded output queue, so a slow backup writer slows the acks
 * and therefore the source (XDR keeps unacked messages and resends them), and nothing that
 * was acked is dropped by the receiver.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { ByteWriter } from "../aerospike/byte_writer.ts";
import { FrameReader } from "../aerospike/frame_reader.ts";
import { PROTO_HEADER_SIZE, ProtoType } from "../aerospike/proto.ts";
import { MRT_MONITOR_SET } from "../aerospike/record.ts";
import { TcpTransport, type Transport } from "../aerospike/_transport.ts";
import type { AsbxToken } from "../format/asbx/encoder.ts";
import { Channel } from "../pipeline/channel.ts";
import {
  encodeXdrAck,
  parseXdrMessage,
  XDR_ACK_OK,
  XDR_ACK_RETRY,
  XDR_ACK_SIZE,
  xdrPayload,
} from "./message.ts";

/** TLS material of the receiver (PEM text). */
export interface XdrTlsOptions {
  /** Server certificate chain, PEM. */
  cert: string;
  /** Private key, PEM. */
  key: string;
}

/** Options of {@linkcode XdrReceiver.listen}. */
export interface XdrReceiverOptions {
  /** Address to listen on. @default "0.0.0.0" */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. @default 8080 */
  port?: number;
  /** Serve TLS with this certificate. @default plain TCP */
  tls?: XdrTlsOptions;
  /** Connections served at once; more are closed at once. @default 4096 */
  maxConnections?: number;
  /** Longest wait for the next message on a connection; then it is closed and XDR reconnects, ms. @default 1000 */
  readTimeoutMs?: number;
  /** Longest time an ack write may take, ms. @default 1000 */
  writeTimeoutMs?: number;
  /** Tokens the output queue holds before acks wait for the consumer. @default 256 */
  queueSize?: number;
  /** Acks a connection may have unsent before it stops reading. @default 256 */
  ackQueueSize?: number;
}

/** Counters of a receiver. */
export interface XdrReceiverStats {
  /** Connections accepted. */
  connectionsAccepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  connectionsRejected: number;
  /** Connections open now. */
  activeConnections: number;
  /** Messages read. */
  messagesReceived: number;
  /** Messages turned into tokens and acked. */
  messagesStored: number;
  /** Transaction-monitor (`<ERO~MRT`) messages acked and dropped. */
  messagesSkipped: number;
  /** Malformed messages answered with ack 11 (retry), after which the connection is closed. */
  messagesRejected: number;
}

/**
 * Receives XDR shipments and yields them as ASBX tokens.
 *
 * Iterate it to take the tokens; the iteration ends after {@linkcode close} once every
 * accepted token was taken. The consumer must keep iterating until then (or call
 * {@linkcode abort}), since handlers wait for room in the queue.
 *
 * @example
 * ```ts ignore
 * import { XdrReceiver } from "./receiver.ts";
 * await using rx = XdrReceiver.listen({ port: 3010 });
 * for await (const token of rx) console.log(token.digest);
 * ```
 */
export class XdrReceiver implements AsyncDisposable, AsyncIterable<AsbxToken> {
  readonly #listener: Deno.Listener;
  readonly #opts: Required<Omit<XdrReceiverOptions, "tls">>;
  readonly #channel: Channel<AsbxToken>;
  readonly #transports = new Set<Transport>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #stats: XdrReceiverStats = {
    connectionsAccepted: 0,
    connectionsRejected: 0,
    activeConnections: 0,
    messagesReceived: 0,
    messagesStored: 0,
    messagesSkipped: 0,
    messagesRejected: 0,
  };
  readonly #errors: AerobakError[] = [];
  readonly #first: PromiseWithResolvers<void> = Promise.withResolvers();
  readonly #accepting: Promise<void>;
  #closing: Promise<void> | undefined;

  private constructor(listener: Deno.Listener, opts: Required<Omit<XdrReceiverOptions, "tls">>) {
    this.#listener = listener;
    this.#opts = opts;
    this.#channel = new Channel<AsbxToken>(opts.queueSize);
    this.#accepting = this.#accept();
  }

  /**
   * Starts listening.
   *
   * @param options Address, TLS, limits and timeouts.
   * @returns The running receiver.
   * @throws {AerobakError} `XDR_LISTEN` when the address cannot be bound.
   * @throws {RangeError} For a limit that is not a positive integer.
   */
  static listen(options: XdrReceiverOptions = {}): XdrReceiver {
    const opts = {
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? 8080,
      maxConnections: positive("maxConnections", options.maxConnections ?? 4096),
      readTimeoutMs: positive("readTimeoutMs", options.readTimeoutMs ?? 1000),
      writeTimeoutMs: positive("writeTimeoutMs", options.writeTimeoutMs ?? 1000),
      queueSize: positive("queueSize", options.queueSize ?? 256),
      ackQueueSize: positive("ackQueueSize", options.ackQueueSize ?? 256),
    };
    let listener: Deno.Listener;
    try {
      listener = options.tls
        ? Deno.listenTls({
          hostname: opts.hostname,
          port: opts.port,
          cert: options.tls.cert,
          key: options.tls.key,
        })
        : Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
    } catch (cause) {
      throw new AerobakError(
        "XDR_LISTEN",
        `Cannot listen for XDR on ${opts.hostname}:${opts.port}: ${(cause as Error).message}`,
        { cause },
      );
    }
    return new XdrReceiver(listener, opts);
  }

  /** The port listened on. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Counters (a live view; copy it to keep a snapshot). */
  get stats(): Readonly<XdrReceiverStats> {
    return this.#stats;
  }

  /** Connection-level failures seen (malformed messages, failed ack writes). */
  get errors(): readonly AerobakError[] {
    return this.#errors;
  }

  /** Resolves when the first message arrives. */
  get firstMessage(): Promise<void> {
    return this.#first.promise;
  }

  /** Tokens in arrival order per connection; ends after {@linkcode close}. */
  [Symbol.asyncIterator](): AsyncIterator<AsbxToken> {
    return this.#channel[Symbol.asyncIterator]();
  }

  /**
   * Stops listening, closes every connection, and ends the iteration once the tokens
   * already accepted were taken. Messages not yet acked are resent by XDR later.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * Like {@linkcode close}, but drops queued tokens and makes the iteration throw `reason`.
   *
   * @param reason Why the receiver stops.
   */
  async abort(reason: unknown): Promise<void> {
    this.#channel.abort(reason);
    await this.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#accepting;
    for (const t of this.#transports) t.close();
    this.#channel.close();
    await Promise.allSettled([...this.#tasks]);
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // The listener was closed.
      }
      if (this.#stats.activeConnections >= this.#opts.maxConnections) {
        this.#stats.connectionsRejected++;
        try {
          conn.close();
        } catch {
          // The peer is gone already.
        }
        continue;
      }
      this.#stats.connectionsAccepted++;
      this.#stats.activeConnections++;
      const task = this.#serve(conn).finally(() => {
        this.#stats.activeConnections--;
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer = `${remote.hostname}:${remote.port}`;
    // Acks are tiny and latency-bound.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const transport = new TcpTransport(conn);
    this.#transports.add(transport);
    const acks = new AckWriter(transport, this.#opts, (err) => this.#fail(err, peer));
    const reader = new FrameReader(transport, {
      fail: (code, message, cause, retriable) =>
        new AerobakError(code, `XDR connection from ${peer}: ${message}`, {
          cause,
          retriable,
          node: { address: peer },
        }),
    });
    const limits = { socketTimeoutMs: this.#opts.readTimeoutMs, deadline: 0 };
    try {
      for (;;) {
        let frame;
        try {
          frame = await reader.read(limits);
        } catch (err) {
          // End of stream or idle timeout: XDR reconnects when it has more to ship.
          if (err instanceof AerobakError && err.code === "PROTO_INVALID") {
            await this.#reject(acks, err, peer);
          }
          return;
        }
        this.#stats.messagesReceived++;
        if (this.#stats.messagesReceived === 1) this.#first.resolve();
        if (frame.type !== ProtoType.MESSAGE) {
          await this.#reject(
            acks,
            new AerobakError("XDR_MESSAGE_INVALID", `proto type ${frame.type}, expected 3`),
            peer,
          );
          return;
        }
        let info;
        try {
          info = parseXdrMessage(frame.body);
        } catch (err) {
          await this.#reject(acks, err as AerobakError, peer);
          return;
        }
        if (info.set === MRT_MONITOR_SET) {
          this.#stats.messagesSkipped++;
        } else {
          const payload = xdrPayload(frame.body);
          const at = PROTO_HEADER_SIZE + info.digestOffset;
          const token = {
            namespace: info.namespace,
            digest: payload.subarray(at, at + 20),
            payload,
          };
          try {
            const wait = this.#channel.put(token);
            if (wait !== undefined) await wait;
          } catch {
            return; // The receiver is closing: leave the message unacked, XDR keeps it.
          }
          this.#stats.messagesStored++;
        }
        await acks.queue(XDR_ACK_OK);
      }
    } finally {
      await acks.drain();
      transport.close();
      this.#transports.delete(transport);
    }
  }

  async #reject(acks: AckWriter, err: AerobakError, peer: string): Promise<void> {
    this.#stats.messagesRejected++;
    this.#fail(err, peer);
    await acks.queue(XDR_ACK_RETRY);
  }

  #fail(err: AerobakError, peer: string): void {
    // Acks that cannot be written because the receiver closed the socket are no failure;
    // the list is bounded so a misbehaving peer cannot grow memory without limit.
    if (this.#closing === undefined && this.#errors.length < 100) {
      this.#errors.push(
        err.node ? err : new AerobakError(err.code, `XDR connection from ${peer}: ${err.message}`, {
          cause: err,
          node: { address: peer },
        }),
      );
    }
  }
}

const ACK = [encodeXdrAck(XDR_ACK_OK), encodeXdrAck(XDR_ACK_RETRY)] as const;

/**
 * Writes a connection's acks in order, concurrently with reading: acks queued while a
 * write is in flight go out together in the next write (two buffers, swapped).
 */
class AckWriter {
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #limit: number;
  readonly #onError: (err: AerobakError) => void;
  #pending = new ByteWriter(XDR_ACK_SIZE * 16);
  #spare = new ByteWriter(XDR_ACK_SIZE * 16);
  #writing: Promise<void> | undefined;
  #failed = false;

  constructor(
    transport: Transport,
    opts: { writeTimeoutMs: number; ackQueueSize: number },
    onError: (err: AerobakError) => void,
  ) {
    this.#transport = transport;
    this.#timeoutMs = opts.writeTimeoutMs;
    this.#limit = opts.ackQueueSize * XDR_ACK_SIZE;
    this.#onError = onError;
  }

  /** Queues an ack; waits only when `ackQueueSize` acks are already unsent. */
  async queue(code: number): Promise<void> {
    if (this.#failed) return;
    this.#pending.bytes(code === XDR_ACK_OK ? ACK[0] : ACK[1]);
    this.#writing ??= this.#loop();
    if (this.#pending.length >= this.#limit) await this.#writing;
  }

  /** Waits until every queued ack was written (or writing failed). */
  async drain(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #loop(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#failed) {
        const out = this.#pending;
        this.#pending = this.#spare;
        this.#spare = out;
        try {
          await this.#transport.write(out.subarray(), this.#timeoutMs);
        } catch (cause) {
          this.#failed = true;
          this.#onError(
            new AerobakError(
              "XDR_ACK_FAILED",
              `Cannot write XDR acks: ${(cause as Error).message}`,
              {
                cause,
              },
            ),
          );
          // Closing makes the read loop stop: unacked messages will be resent by XDR.
          this.#transport.close();
        } finally {
          out.reset();
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`Invalid XDR receiver option ${name}: ${v}, expected a positive integer`);
  }
  return v;
}
