/**
 * Damaged replies, for fuzzing the client's side of the wire: once a test installs a
 * {@linkcode ReplyMangler} on a cluster, every reply its nodes send (info answers, single
 * record replies, scan streams, batch replies) passes through it first, and it may send
 * other bytes instead (corrupted, cut short, stretched), pause before or between pieces of
 * them, or close the connection after them, as a broken proxy, NIC or middlebox would.
 *
 * The damage sits in the node's transport, under the command modules, which stay unaware
 * of it: a node wraps a client connection's transport with {@linkcode replyTransport}
 * when it accepts it, which changes nothing unless a mangler was installed first.
 *
 * @module
 */

import {
  dataViewOf,
  FieldType,
  forEachField,
  Info1,
  readMessageHeader,
} from "../aerospike/message.ts";
import {
  decompressMessage,
  PROTO_HEADER_SIZE,
  ProtoType,
  readProtoHeader,
} from "../aerospike/proto.ts";
import type { Transport } from "../aerospike/_transport.ts";
import type { EmulatedCluster, NodeState } from "./cluster.ts";

/** What a reply answers: the kind of the request read last on its connection. */
export type ReplyKind = "info" | "admin" | "record" | "scan" | "batch";

/** What a mangler knows about a reply. */
export interface ReplyContext {
  /** The kind of request it answers. */
  kind: ReplyKind;
  /** Name of the node sending it. */
  node: string;
  /** How many replies of this kind the cluster sent before (0 for the first). */
  index: number;
}

/** What to send instead of a reply. */
export interface ReplyDamage {
  /** The bytes to send (the reply itself, altered, shortened or lengthened). */
  bytes: Uint8Array;
  /**
   * Send them in this many pieces, with {@linkcode ReplyDamage.pauseMs} before each.
   * @default {1}
   */
  pieces?: number;
  /**
   * Pause before each piece, in ms (a reply stretched in time).
   * @default {0}
   */
  pauseMs?: number;
  /**
   * Close the connection once the bytes are sent.
   * @default {false}
   */
  close?: boolean;
}

/**
 * Sees every reply before it is sent.
 *
 * @param reply One socket write of the node: whole proto messages.
 * @param ctx What it answers.
 * @returns The damage to do, or `null` to send the reply as it is.
 */
export type ReplyMangler = (reply: Uint8Array, ctx: ReplyContext) => ReplyDamage | null;

interface Installed {
  mangler: ReplyMangler | null;
  counts: Map<ReplyKind, number>;
}

const installed = new WeakMap<EmulatedCluster, Installed>();

/**
 * Installs (or, with `null`, removes) the mangler of a cluster's replies. Connections
 * accepted before the first install are left alone: install it before clients connect.
 *
 * @param cluster The emulated cluster.
 * @param mangler The mangler, or `null` to send replies unchanged again.
 */
export function mangleReplies(cluster: EmulatedCluster, mangler: ReplyMangler | null): void {
  const state = installed.get(cluster);
  if (state) state.mangler = mangler;
  else if (mangler) installed.set(cluster, { mangler, counts: new Map() });
}

/**
 * The transport a node serves a client connection over: `transport` itself, or, once a
 * mangler is installed on the cluster, a wrapper that shows it every reply.
 *
 * @param cluster The cluster.
 * @param node The node accepting the connection.
 * @param transport The accepted socket.
 * @returns The transport to read requests from and write replies to.
 */
export function replyTransport(
  cluster: EmulatedCluster,
  node: NodeState,
  transport: Transport,
): Transport {
  const state = installed.get(cluster);
  return state ? new ManglingTransport(transport, state, node.name) : transport;
}

/** Reads requests through, tracking their kind; writes replies through the mangler. */
class ManglingTransport implements Transport {
  readonly #inner: Transport;
  readonly #state: Installed;
  readonly #node: string;
  readonly #requests = new RequestTracker();

  constructor(inner: Transport, state: Installed, node: string) {
    this.#inner = inner;
    this.#state = state;
    this.#node = node;
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  async read(p: Uint8Array, timeoutMs: number): Promise<number | null> {
    const n = await this.#inner.read(p, timeoutMs);
    if (n !== null) this.#requests.feed(p.subarray(0, n));
    return n;
  }

  async write(p: Uint8Array, timeoutMs: number): Promise<void> {
    const mangler = this.#state.mangler;
    if (mangler === null) return await this.#inner.write(p, timeoutMs);
    const kind = this.#requests.kind;
    const index = this.#state.counts.get(kind) ?? 0;
    this.#state.counts.set(kind, index + 1);
    const damage = mangler(p, { kind, node: this.#node, index });
    if (damage === null) return await this.#inner.write(p, timeoutMs);
    const bytes = damage.bytes;
    const pieces = Math.max(1, Math.min(damage.pieces ?? 1, bytes.length));
    const size = Math.ceil(bytes.length / pieces);
    for (let k = 0; k < pieces; k++) {
      const pause = damage.pauseMs ?? 0;
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      if (this.#inner.closed) return;
      const piece = bytes.subarray(k * size, (k + 1) * size);
      if (piece.length > 0) await this.#inner.write(piece, timeoutMs);
    }
    if (damage.close) this.#inner.close();
  }

  close(): void {
    this.#inner.close();
  }
}

/** Follows the request frames of a connection to know what the next reply answers. */
class RequestTracker {
  /** Kind of the last complete request. */
  kind: ReplyKind = "record";
  #head = new Uint8Array(PROTO_HEADER_SIZE);
  #headLen = 0;
  #body: Uint8Array | null = null;
  #bodyLen = 0;

  feed(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.#body === null) {
        const take = Math.min(PROTO_HEADER_SIZE - this.#headLen, bytes.length - i);
        this.#head.set(bytes.subarray(i, i + take), this.#headLen);
        this.#headLen += take;
        i += take;
        if (this.#headLen < PROTO_HEADER_SIZE) return;
        let size: number;
        try {
          size = readProtoHeader(this.#head, 0).size;
        } catch {
          return; // The node drops a connection that sends garbage.
        }
        this.#body = new Uint8Array(size);
        this.#bodyLen = 0;
      }
      const take = Math.min(this.#body.length - this.#bodyLen, bytes.length - i);
      this.#body.set(bytes.subarray(i, i + take), this.#bodyLen);
      this.#bodyLen += take;
      i += take;
      if (this.#bodyLen === this.#body.length) {
        this.kind = classify(this.#head[1], this.#body);
        this.#body = null;
        this.#headLen = 0;
      }
    }
  }
}

function classify(type: number, body: Uint8Array): ReplyKind {
  try {
    if (type === ProtoType.INFO) return "info";
    if (type === ProtoType.ADMIN) return "admin";
    if (type === ProtoType.COMPRESSED) {
      const inner = decompressMessage(body);
      return classify(readProtoHeader(inner, 0).type, inner.subarray(PROTO_HEADER_SIZE));
    }
    const view = dataViewOf(body);
    const header = readMessageHeader(view, 0);
    if ((header.info1 & Info1.BATCH) !== 0) return "batch";
    let keyed = false;
    forEachField(view, body, 22, header.nFields, (t) => {
      if (t === FieldType.DIGEST || t === FieldType.KEY) keyed = true;
    });
    return keyed ? "record" : "scan";
  } catch {
    return "record";
  }
}
