/**
 * Shared pieces of the fidelity tests: replaying the wire captures of a real Aerospike
 * 8.1.2 server against the emulator over raw sockets, the normalisation rules for what
 * must differ between two servers, and a recording TCP proxy that keeps every message a
 * client sends, so our tools can be compared with the reference tools.
 *
 * @module
 */

import { bytesToHex, type CaptureMessage, loadCapture } from "../lib/aerospike/_captures.ts";
import { partitionId } from "../lib/aerospike/digest.ts";
import { parseInfoResponse } from "../lib/aerospike/info.ts";
import { Info1, Info3, MSG_HEADER_SIZE } from "../lib/aerospike/message.ts";
import { PROTO_HEADER_SIZE, ProtoType, writeProtoHeader } from "../lib/aerospike/proto.ts";
import { FrameReader } from "../lib/aerospike/frame_reader.ts";
import { TcpTransport } from "../lib/aerospike/_transport.ts";
import { AerobakError } from "../lib/errors.ts";

/** Longest wait for one reply proto from the emulator. */
const READ_DEADLINE_MS = 5000;

/** One AS_MSG inside a proto: its bytes and header fields the comparison needs. */
export interface AsMsg {
  /** The AS_MSG bytes (header, fields, ops). */
  bytes: Uint8Array;
  /** info1. */
  info1: number;
  /** info3. */
  info3: number;
  /** Partition id of its digest field, -1 when it has none. */
  pid: number;
  /** Its digest (empty when none). */
  digest: Uint8Array;
}

/**
 * Splits the body of a type-3 proto into its AS_MSGs.
 *
 * @param proto The whole message, proto header included.
 * @returns The AS_MSGs in order.
 */
export function splitMessages(proto: Uint8Array): AsMsg[] {
  const body = proto.subarray(PROTO_HEADER_SIZE);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: AsMsg[] = [];
  let off = 0;
  while (off < body.length) {
    const start = off;
    const nFields = view.getUint16(off + 18);
    const nOps = view.getUint16(off + 20);
    const batch = (body[off + 1] & Info1.BATCH) !== 0;
    off += MSG_HEADER_SIZE;
    let digest: Uint8Array = new Uint8Array();
    for (let i = 0; i < nFields; i++) {
      const size = view.getUint32(off);
      if (body[off + 4] === 4) digest = body.subarray(off + 5, off + 25);
      off += 4 + size;
    }
    // A batch request's ops live inside its batch field; its header's n_ops is 0.
    if (!batch) { for (let i = 0; i < nOps; i++) off += 4 + view.getUint32(off); }
    out.push({
      bytes: body.subarray(start, off),
      info1: body[start + 1],
      info3: body[start + 3],
      pid: digest.length === 20 ? partitionId(digest) : -1,
      digest,
    });
  }
  return out;
}

/** Reads whole protos from a socket (the client's frame reader), each read bounded. */
export class ProtoReader {
  readonly #frames: FrameReader;

  /**
   * @param conn The socket (reads go through this reader from now on).
   */
  constructor(conn: Deno.Conn) {
    this.#frames = new FrameReader(new TcpTransport(conn), {
      fail: (code, message, cause) => new AerobakError(code, `Replay: ${message}`, { cause }),
    });
  }

  /**
   * Reads the next whole proto.
   *
   * @param what What is awaited (for the error).
   * @returns The whole message, proto header included (the reader checked the header:
   *   version 2 and a size within the limit, so re-framing gives the bytes received).
   * @throws {Error} When the socket closes or nothing arrives in time.
   */
  async read(what: string): Promise<Uint8Array> {
    let frame;
    try {
      frame = await this.#frames.read({ socketTimeoutMs: READ_DEADLINE_MS, deadline: 0 });
    } catch (err) {
      throw new Error(`${(err as Error).message} while waiting for ${what}`);
    }
    const out = new Uint8Array(PROTO_HEADER_SIZE + frame.body.length);
    writeProtoHeader(out, 0, frame.type, frame.body.length);
    out.set(frame.body, PROTO_HEADER_SIZE);
    return out;
  }
}

/** One request of a captured connection with the server's answers to it. */
export interface Exchange {
  /** Connection number in the capture. */
  conn: number;
  /** Index of the request among the capture's messages (for messages naming it). */
  line: number;
  /** The request as the client sent it. */
  request: CaptureMessage;
  /** The captured server answers, in order. */
  replies: CaptureMessage[];
}

/**
 * Groups a capture into requests and answers, per connection, in order.
 *
 * @param messages The capture's messages.
 * @returns Connection number → its exchanges.
 */
export function exchanges(messages: readonly CaptureMessage[]): Map<number, Exchange[]> {
  const out = new Map<number, Exchange[]>();
  messages.forEach((m, line) => {
    let list = out.get(m.conn);
    if (list === undefined) out.set(m.conn, list = []);
    if (m.dir === "c2s") list.push({ conn: m.conn, line: line + 1, request: m, replies: [] });
    else if (list.length > 0) list[list.length - 1].replies.push(m);
  });
  return out;
}

/** Whether a reply proto ends a multi-proto answer (its last AS_MSG has info3 LAST). */
function endsWithLast(proto: Uint8Array): boolean {
  const msgs = splitMessages(proto);
  return msgs.length > 0 && (msgs[msgs.length - 1].info3 & Info3.LAST) !== 0;
}

/**
 * Sends one captured request to a node and reads its answer: as many protos as the
 * server sent, or, for scans and batches (the server's answer ends with a LAST
 * message), every proto up to the LAST one.
 *
 * @param conn Socket to the emulator.
 * @param reader Reader over it.
 * @param ex The exchange.
 * @returns The emulator's answer protos.
 */
export async function replayExchange(
  conn: Deno.Conn,
  reader: ProtoReader,
  ex: Exchange,
): Promise<Uint8Array[]> {
  await conn.write(ex.request.bytes);
  const what = `answer to line ${ex.line} (conn ${ex.conn})`;
  const out: Uint8Array[] = [];
  const last = ex.replies[ex.replies.length - 1];
  if (last === undefined) return out;
  if (last.type === ProtoType.MESSAGE && endsWithLast(last.bytes)) {
    while (true) {
      const p = await reader.read(what);
      out.push(p);
      if (p[1] === ProtoType.MESSAGE && endsWithLast(p)) return out;
    }
  }
  for (let i = 0; i < ex.replies.length; i++) out.push(await reader.read(what));
  return out;
}

/** A normalisation of an info answer: command name → rewrite of the value. */
export type InfoRule = (value: string, command: string) => string;

/**
 * Keeps, of a `k=v;k=v` answer, only the pairs whose keys are in `keys`, in the order of
 * the answer.
 *
 * @param value The answer.
 * @param keys Keys to keep.
 * @returns The filtered answer.
 */
export function keepPairs(value: string, keys: ReadonlySet<string>): string {
  return value.split(";").filter((p) => keys.has(p.slice(0, p.indexOf("=")))).join(";");
}

/**
 * Renders an info message as `command<TAB>value` lines after applying rules to values.
 *
 * @param proto The whole message.
 * @param rules Rules by command name (the part before `:` or `/`).
 * @returns Text to compare.
 */
export function normaliseInfo(proto: Uint8Array, rules: Record<string, InfoRule>): string {
  const answers = parseInfoResponse(proto.subarray(PROTO_HEADER_SIZE));
  const lines: string[] = [];
  for (const [cmd, value] of answers) {
    const name = cmd.split(/[:/]/)[0];
    const rule = rules[name];
    lines.push(`${cmd}\t${rule === undefined ? value : rule(value, cmd)}`);
  }
  return lines.join("\n");
}

/**
 * Hex of bytes, split in 64-digit lines so assertion diffs point at the differing bytes.
 *
 * @param b Bytes.
 * @returns Hex lines.
 */
export function hexLines(b: Uint8Array): string {
  return bytesToHex(b).replace(/(.{64})/g, "$1\n");
}

/** One message a client sent through {@linkcode RecordingProxy}. */
export interface RecordedMessage {
  /** Connection number, in order of opening. */
  conn: number;
  /** The whole message. */
  bytes: Uint8Array;
}

/**
 * A TCP proxy in front of one emulator node that records every whole proto message the
 * clients send (the same view of the wire the captures were made with).
 */
export class RecordingProxy implements AsyncDisposable {
  /** Messages clients sent, in arrival order. */
  readonly sent: RecordedMessage[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #tasks = new Set<Promise<void>>();
  readonly #conns = new Set<Deno.Conn>();
  #next = 1;

  /**
   * Listens on a free loopback port and forwards to `target`.
   *
   * @param target The emulator node.
   */
  constructor(target: { host: string; port: number }) {
    this.#target = { hostname: target.host, port: target.port };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#track(this.#accept());
  }

  /** `host:port` of the proxy. */
  get seed(): string {
    return `127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /**
   * Messages of one proto type.
   *
   * @param type Proto type (1 info, 3 AS_MSG).
   * @returns The recorded messages of that type, in order.
   */
  ofType(type: number): RecordedMessage[] {
    return this.sent.filter((m) => m.bytes[1] === type);
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  async #accept(): Promise<void> {
    while (true) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      const conn = this.#next++;
      let server: Deno.Conn;
      try {
        server = await Deno.connect(this.#target);
      } catch {
        client.close();
        continue;
      }
      this.#conns.add(client);
      this.#conns.add(server);
      this.#track(this.#pump(client, server, conn));
      this.#track(this.#pump(server, client, 0));
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, conn: number): Promise<void> {
    let pending = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    try {
      while (true) {
        const n = await from.read(chunk);
        if (n === null) break;
        await writeAll(to, chunk.subarray(0, n));
        if (conn === 0) continue;
        const next = new Uint8Array(pending.length + n);
        next.set(pending);
        next.set(chunk.subarray(0, n), pending.length);
        pending = next;
        while (pending.length >= PROTO_HEADER_SIZE) {
          const v = new DataView(pending.buffer, pending.byteOffset, 8);
          const size = Number(v.getBigUint64(0) & 0xffffffffffffn);
          if (pending.length < PROTO_HEADER_SIZE + size) break;
          this.sent.push({ conn, bytes: pending.slice(0, PROTO_HEADER_SIZE + size) });
          pending = pending.subarray(PROTO_HEADER_SIZE + size);
        }
      }
    } catch {
      // One side went away.
    }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch {
        // Already closed.
      }
      this.#conns.delete(c);
    }
  }

  /** Stops listening and closes every forwarded connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.allSettled([...this.#tasks]);
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

/**
 * Info request text of a captured or recorded message (type 1), else `undefined`.
 *
 * @param bytes The whole message.
 * @returns The commands, one per line.
 */
export function infoText(bytes: Uint8Array): string | undefined {
  if (bytes[1] !== ProtoType.INFO) return undefined;
  return new TextDecoder().decode(bytes.subarray(PROTO_HEADER_SIZE));
}

export { loadCapture };

/** One row of a batch request, as sent. */
export interface RawBatchRow {
  /** Batch index. */
  index: number;
  /** Digest (hex). */
  digest: string;
  /** The row's bytes after its index and digest: type byte, header, fields, ops. */
  bytes: Uint8Array;
}

/**
 * Splits the BATCH_INDEX field of a batch request into its rows' bytes (REPEAT rows keep
 * their one type byte), to compare row layouts byte for byte.
 *
 * @param proto The whole request.
 * @returns The batch flags and rows.
 */
export function batchRows(proto: Uint8Array): { flags: number; rows: RawBatchRow[] } {
  const [m] = splitMessages(proto);
  const msg = m.bytes;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  let off = MSG_HEADER_SIZE;
  let data: Uint8Array | undefined;
  for (let i = 0; i < view.getUint16(18); i++) {
    const size = view.getUint32(off);
    if (msg[off + 4] === 41) data = msg.subarray(off + 5, off + 4 + size);
    off += 4 + size;
  }
  if (data === undefined) throw new Error("Not a batch request");
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = dv.getUint32(0);
  const rows: RawBatchRow[] = [];
  off = 5;
  for (let i = 0; i < count; i++) {
    const index = dv.getUint32(off);
    const digest = bytesToHex(data.subarray(off + 4, off + 24));
    const start = off + 24;
    const type = data[start];
    off = start + 1;
    if (type !== 1) {
      off += 1; // info1
      if (type & 0x02) off += 2; // info2, info3
      if (type & 0x10) off += 1; // info4
      if (type & 0x04) off += 2; // generation
      if (type & 0x08) off += 4; // ttl
      const nFields = dv.getUint16(off);
      const nOps = dv.getUint16(off + 2);
      off += 4;
      for (let k = 0; k < nFields; k++) off += 4 + dv.getUint32(off);
      for (let k = 0; k < nOps; k++) off += 4 + dv.getUint32(off);
    }
    rows.push({ index, digest, bytes: data.subarray(start, off) });
  }
  return { flags: data[4], rows };
}
