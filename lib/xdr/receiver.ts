/**
 * The TCP server that XDR ships records to during an XDR backup (backup-go's `TCPServer`
 * and `ConnectionHandler`).
 *
 * Each source node opens connections to it and streams AS_MSG writes and deletes; every
 * message is answered, in order, by a 30-byte ack. A message is acked only once its sink
 * took it (the backup's files: encoded into a writer's buffer), so a slow writer slows the
 * acks and therefore the source (XDR keeps unacked messages and resends them), and nothing
 * that was acked is dropped by the receiver.
 *
 * A connection works a socket read at a time: the messages that read completed are handed
 * to the sink where they lie in the read buffer (no copy, no promise each), their acks go
 * out together in one write, then the sink flushes what it buffered before the connection
 * reads on. A promise is awaited only when the sink must wait (a file opens or rolls over,
 * its buffer goes to storage) or too many acks are unsent.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { ByteWriter } from "../aerospike/byte_writer.ts";
import { type Frame, FrameReader } from "../aerospike/frame_reader.ts";
import { Info1 } from "../aerospike/message.ts";
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
} from "./message.ts";

/** TLS material of the receiver (PEM text). */
export interface XdrTlsOptions {
  /** Server certificate chain, PEM. */
  cert: string;
  /** Private key, PEM. */
  key: string;
}

/**
 * Where a receiver's messages go: the backup's file writers, or (without one) a queue
 * that the receiver's iteration takes them from.
 */
export interface XdrSink {
  /**
   * Takes one message.
   *
   * @param token The message. Its `payload` and `digest` are views into the connection's
   *   read buffer, valid until the call returns or its promise settles: copy what is kept.
   * @returns `undefined` when taken at once, else a promise that resolves once taken (the
   *   connection reads nothing meanwhile, so the views stay valid).
   * @throws When the sink cannot take it: the message stays unacked and the connection is
   *   closed; the receiver fails (see {@linkcode XdrReceiver.failure}) unless it is closing.
   */
  take(token: AsbxToken): Promise<void> | undefined;
  /**
   * Called after each run of messages of one connection, before it reads on.
   *
   * @returns A promise while what the sink buffered goes to storage, else `undefined`.
   */
  runEnd(): Promise<void> | undefined;
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
  /**
   * Where the messages go. @default a queue of `queueSize` messages, taken by iterating
   * the receiver
   */
  sink?: XdrSink;
  /**
   * Messages a connection hands to the sink in one run (then its acks are written and the
   * sink flushes before it reads on); without a sink, also the messages the queue holds
   * before acks wait for the consumer. @default 256
   */
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
  /** Messages the sink took, and acked. */
  messagesStored: number;
  /** Transaction-monitor (`<ERO~MRT`) messages acked and dropped. */
  messagesSkipped: number;
  /** Malformed messages answered with ack 11 (retry), after which the connection is closed. */
  messagesRejected: number;
  /** Socket writes of acks (each carries the acks of one or more messages). */
  ackWrites: number;
}

/**
 * The sink of a receiver without one: a bounded queue of tokens that own their payloads,
 * taken by iterating the receiver.
 */
class QueueSink implements XdrSink {
  readonly channel: Channel<AsbxToken>;

  constructor(size: number) {
    this.channel = new Channel<AsbxToken>(size);
  }

  take(token: AsbxToken): Promise<void> | undefined {
    // The views are only lent: the queued token owns a copy.
    const payload = token.payload.slice();
    const at = token.digest.byteOffset - token.payload.byteOffset;
    return this.channel.put({
      namespace: token.namespace,
      digest: payload.subarray(at, at + token.digest.length),
      payload,
    });
  }

  runEnd(): undefined {
    return undefined;
  }
}

/**
 * Receives XDR shipments and hands them to its sink.
 *
 * Without a sink, iterate it to take the messages as ASBX tokens; the iteration ends
 * after {@linkcode close} once every accepted token was taken. The consumer must keep
 * iterating until then (or call {@linkcode abort}), since handlers wait for room in the
 * queue.
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
  readonly #opts: Required<Omit<XdrReceiverOptions, "tls" | "sink">>;
  readonly #sink: XdrSink;
  readonly #queue: QueueSink | undefined;
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
    ackWrites: 0,
  };
  readonly #errors: AerobakError[] = [];
  readonly #first: PromiseWithResolvers<void> = Promise.withResolvers();
  readonly #failure: PromiseWithResolvers<never> = Promise.withResolvers();
  readonly #accepting: Promise<void>;
  #failed = false;
  #closing: Promise<void> | undefined;

  private constructor(
    listener: Deno.Listener,
    opts: Required<Omit<XdrReceiverOptions, "tls" | "sink">>,
    sink: XdrSink | undefined,
  ) {
    this.#listener = listener;
    this.#opts = opts;
    if (sink === undefined) this.#queue = new QueueSink(opts.queueSize);
    this.#sink = sink ?? this.#queue!;
    // Observed by whoever awaits `failure`; never an unhandled rejection.
    this.#failure.promise.catch(() => {});
    this.#accepting = this.#accept();
  }

  /**
   * Starts listening.
   *
   * @param options Address, TLS, sink, limits and timeouts.
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
    return new XdrReceiver(listener, opts, options.sink);
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

  /**
   * Rejects with the sink's error once the sink failed to take a message (outside of
   * {@linkcode close}); the receiver then closes itself. Never resolves.
   */
  get failure(): Promise<never> {
    return this.#failure.promise;
  }

  /**
   * Tokens in arrival order per connection; ends after {@linkcode close}.
   *
   * @throws {TypeError} When the receiver was given a sink.
   */
  [Symbol.asyncIterator](): AsyncIterator<AsbxToken> {
    if (this.#queue === undefined) {
      throw new TypeError("Cannot iterate an XDR receiver that has a sink");
    }
    return this.#queue.channel[Symbol.asyncIterator]();
  }

  /**
   * Stops listening, closes every connection, and ends the iteration once the tokens
   * already accepted were taken. Messages not yet acked are resent by XDR later.
   *
   * @returns Resolves once every connection's handler has finished.
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
    this.#queue?.channel.abort(reason);
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
    this.#queue?.channel.close();
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
    const acks = new AckWriter(transport, this.#opts, this.#stats, (err) => this.#fail(err, peer));
    const reader = new FrameReader(transport, {
      fail: (code, message, cause, retriable) =>
        new AerobakError(code, `XDR connection from ${peer}: ${message}`, {
          cause,
          retriable,
          node: { address: peer },
        }),
    });
    const limits = { socketTimeoutMs: this.#opts.readTimeoutMs, deadline: 0 };
    const runSize = this.#opts.queueSize;
    try {
      for (;;) {
        let frame: Frame | undefined;
        try {
          frame = await reader.read(limits);
        } catch (err) {
          // End of stream or idle timeout: XDR reconnects when it has more to ship.
          if (err instanceof AerobakError && err.code === "PROTO_INVALID") {
            this.#reject(acks, err, peer);
          }
          return;
        }
        // The run: every message this read completed, up to `runSize`.
        for (let n = 1;; n++) {
          const taken = this.#message(frame, acks, peer);
          if (taken === false) return;
          if (taken !== true) {
            acks.send(); // what was taken so far
            if (!(await taken)) return;
          }
          if (n >= runSize) break;
          try {
            frame = reader.readBuffered();
          } catch (err) {
            this.#reject(acks, err as AerobakError, peer);
            return;
          }
          if (frame === undefined) break;
        }
        acks.send();
        const flushing = this.#sink.runEnd();
        if (flushing !== undefined && !(await this.#settled(flushing))) return;
        const backlog = acks.backlog();
        if (backlog !== undefined) await backlog;
      }
    } finally {
      acks.send();
      await acks.drain();
      transport.close();
      this.#transports.delete(transport);
    }
  }

  /**
   * Handles one message: hands it to the sink and queues its ack.
   *
   * @returns `true` when acked, `false` when the connection must close (rejected, or the
   *   sink refused it), or a promise of one of those while the sink waits.
   */
  #message(frame: Frame, acks: AckWriter, peer: string): boolean | Promise<boolean> {
    if (++this.#stats.messagesReceived === 1) this.#first.resolve();
    const body = frame.body;
    if (frame.type !== ProtoType.MESSAGE) {
      this.#reject(
        acks,
        new AerobakError("XDR_MESSAGE_INVALID", `proto type ${frame.type}, expected 3`),
        peer,
      );
      return false;
    }
    let info;
    try {
      info = parseXdrMessage(body);
    } catch (err) {
      this.#reject(acks, err as AerobakError, peer);
      return false;
    }
    if (info.set === MRT_MONITOR_SET) {
      this.#stats.messagesSkipped++;
      acks.push(XDR_ACK_OK);
      return true;
    }
    // The stored form is the message as received, proto header included (the reader
    // checked it is version 2, type 3, the body's size: the header `xdrPayload` writes),
    // with the XDR bit cleared in place.
    body[1] &= ~Info1.XDR;
    const payload = new Uint8Array(
      body.buffer,
      body.byteOffset - PROTO_HEADER_SIZE,
      body.length + PROTO_HEADER_SIZE,
    );
    const at = PROTO_HEADER_SIZE + info.digestOffset;
    const token = { namespace: info.namespace, digest: payload.subarray(at, at + 20), payload };
    let wait;
    try {
      wait = this.#sink.take(token);
    } catch (err) {
      this.#sinkFailed(err);
      return false;
    }
    if (wait === undefined) {
      this.#stored(acks);
      return true;
    }
    return this.#settled(wait).then((ok) => {
      if (ok) this.#stored(acks);
      return ok;
    });
  }

  #stored(acks: AckWriter): void {
    this.#stats.messagesStored++;
    acks.push(XDR_ACK_OK);
  }

  /** Waits for the sink: `false` (and the receiver failing) when it failed. */
  #settled(wait: Promise<void>): Promise<boolean> {
    return wait.then(() => true, (err) => {
      this.#sinkFailed(err);
      return false;
    });
  }

  /**
   * The sink refused a message: unless the receiver is closing (which makes the queue
   * refuse), the receiver fails and closes.
   */
  #sinkFailed(err: unknown): void {
    if (this.#closing !== undefined || this.#failed) return;
    this.#failed = true;
    this.#failure.reject(err);
    void this.close();
  }

  #reject(acks: AckWriter, err: AerobakError, peer: string): void {
    this.#stats.messagesRejected++;
    this.#fail(err, peer);
    acks.push(XDR_ACK_RETRY);
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
 * Writes a connection's acks in order, concurrently with reading: acks are queued without
 * waiting, and those queued while a write is in flight go out together in the next write
 * (two buffers, swapped).
 */
class AckWriter {
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #limit: number;
  readonly #stats: XdrReceiverStats;
  readonly #onError: (err: AerobakError) => void;
  #pending = new ByteWriter(XDR_ACK_SIZE * 64);
  #spare = new ByteWriter(XDR_ACK_SIZE * 64);
  #writing: Promise<void> | undefined;
  #failed = false;

  constructor(
    transport: Transport,
    opts: { writeTimeoutMs: number; ackQueueSize: number },
    stats: XdrReceiverStats,
    onError: (err: AerobakError) => void,
  ) {
    this.#transport = transport;
    this.#timeoutMs = opts.writeTimeoutMs;
    this.#limit = opts.ackQueueSize * XDR_ACK_SIZE;
    this.#stats = stats;
    this.#onError = onError;
  }

  /** Queues an ack; {@linkcode send} starts writing it. */
  push(code: number): void {
    if (!this.#failed) this.#pending.bytes(code === XDR_ACK_OK ? ACK[0] : ACK[1]);
  }

  /** Starts writing the queued acks, unless a write is in flight (which takes them next). */
  send(): void {
    if (this.#pending.length > 0 && !this.#failed) this.#writing ??= this.#loop();
  }

  /**
   * The write to wait for when `ackQueueSize` acks or more are unsent.
   *
   * @returns The write in flight, or `undefined` when the connection may read on.
   */
  backlog(): Promise<void> | undefined {
    return this.#pending.length >= this.#limit ? this.#writing : undefined;
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
          this.#stats.ackWrites++;
          await this.#transport.write(out.subarray(), this.#timeoutMs);
        } catch (cause) {
          this.#failed = true;
          this.#onError(
            new AerobakError(
              "XDR_ACK_FAILED",
              `Cannot write XDR acks: ${(cause as Error).message}`,
              { cause },
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
