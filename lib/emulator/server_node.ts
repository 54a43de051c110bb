/**
 * One emulated node: a TCP listener on its own loopback port and the request loop of each
 * connection (info, admin, AS_MSG, compressed AS_MSG), dispatching to the command modules.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { FrameReader } from "../aerospike/frame_reader.ts";
import { encodeInfoResponse, parseInfoRequest } from "../aerospike/info.ts";
import {
  dataViewOf,
  FieldType,
  forEachField,
  Info1,
  Info2,
  MSG_HEADER_SIZE,
  readMessageHeader,
} from "../aerospike/message.ts";
import { decodeRecordRequest } from "../aerospike/requests.ts";
import {
  decompressMessage,
  PROTO_HEADER_SIZE,
  ProtoType,
  readProtoHeader,
} from "../aerospike/proto.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import { TcpTransport } from "../aerospike/_transport.ts";
import { handleAdmin } from "./admin_command.ts";
import { executeBatch } from "./batch_command.ts";
import type { EmulatedCluster, NodeState } from "./cluster.ts";
import { ServerConnection } from "./connection.ts";
import { awaitWritable } from "./write_hold.ts";
import { ScanTasks } from "./scan_tasks.ts";
import { partitionId } from "../aerospike/digest.ts";
import { recordFilter } from "./expression_eval.ts";
import type { RequestKind } from "./faults.ts";
import { answerInfo } from "./info_commands.ts";
import { executeRecordCommand, type RecordCommand, replyStatus } from "./record_commands.ts";
import { replyTransport } from "./reply_mangler.ts";
import { serveScan } from "./scan_command.ts";
import { XdrEmulation } from "./xdr.ts";

/** Idle limit of a client connection (the server's proto-fd-idle-ms is off by default). */
const IDLE_TIMEOUT_MS = 24 * 3600_000;

/** A listening node. */
export class ServerNode {
  /** Node state (shared with the cluster). */
  readonly state: NodeState;
  readonly #cluster: EmulatedCluster;
  #listener?: Deno.TcpListener;
  #loop?: Promise<void>;
  readonly #connections = new Set<ServerConnection>();
  readonly #tasks = new Set<Promise<void>>();

  /**
   * @param cluster The cluster.
   * @param state The node's state.
   */
  constructor(cluster: EmulatedCluster, state: NodeState) {
    this.#cluster = cluster;
    this.state = state;
  }

  /**
   * Starts listening (membership is the cluster's business: see `EmulatedCluster`).
   *
   * @param port Port, 0 = any free port (the same port again on restart when it was 0).
   */
  start(port: number): void {
    const listener = Deno.listen({ hostname: this.state.host, port, transport: "tcp" });
    this.#listener = listener;
    this.state.port = (listener.addr as Deno.NetAddr).port;
    this.state.alive = true;
    // A new process: no scan jobs running or remembered.
    this.state.scanTasks = new ScanTasks();
    this.#loop = this.#accept(listener);
  }

  /**
   * Stops listening and closes every connection: the kernel still delivers what it holds
   * of each socket's replies, then ends it.
   */
  async stop(): Promise<void> {
    this.state.alive = false;
    const l = this.#listener;
    this.#listener = undefined;
    if (l !== undefined) {
      try {
        l.close();
      } catch {
        // Already closed.
      }
    }
    for (const c of this.#connections) c.close();
    await this.#loop;
    await Promise.allSettled([...this.#tasks]);
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      conn.setNoDelay(true);
      const task = this.#serve(conn);
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const transport = replyTransport(this.#cluster, this.state, new TcpTransport(conn));
    const c = new ServerConnection(this.#cluster, this.state, transport);
    this.#connections.add(c);
    this.state.clientConnections++;
    this.state.clientConnectionsOpened++;
    const reader = new FrameReader(transport, {
      fail: (code, message, cause) =>
        new AerobakError(code, `Emulator node ${this.state.name}: ${message}`, { cause }),
    });
    const limits = { socketTimeoutMs: IDLE_TIMEOUT_MS, deadline: 0 };
    try {
      let frame = await reader.read(limits);
      while (!c.closed) {
        // A request read whole behind this one: answer both in one write.
        const next = reader.readBuffered();
        c.pipelined = next !== undefined;
        await this.#handle(c, frame.type, frame.body);
        frame = next ?? await reader.read(limits);
      }
    } catch {
      // The client went away, sent garbage, or a fault closed the socket: drop it.
    } finally {
      c.close();
      this.#connections.delete(c);
      this.state.clientConnections--;
    }
  }

  async #delay(c: ServerConnection, kind: RequestKind): Promise<void> {
    const ms = this.#cluster.faults.delayFor(this.state.name, kind);
    if (ms <= 0) return;
    // Replies held for pipelined requests go out before this one waits.
    await c.sendHeld();
    await new Promise((r) => setTimeout(r, ms));
  }

  async #handle(c: ServerConnection, type: number, body: Uint8Array): Promise<void> {
    c.compress = false;
    switch (type) {
      case ProtoType.INFO: {
        await this.#delay(c, "info");
        const answers = new Map<string, string>();
        for (const cmd of parseInfoRequest(body)) {
          answers.set(
            cmd,
            c.authenticated
              ? answerInfo(this.#cluster, this.state, cmd)
              : "ERROR:80:not authenticated",
          );
        }
        await c.send(encodeInfoResponse(answers));
        return;
      }
      case ProtoType.ADMIN:
        await this.#delay(c, "admin");
        await handleAdmin(c, body);
        return;
      case ProtoType.MESSAGE:
        await this.#message(c, body);
        return;
      case ProtoType.COMPRESSED: {
        const inner = decompressMessage(body);
        const h = readProtoHeader(inner, 0);
        if (h.type !== ProtoType.MESSAGE) throw new Error("compressed non-message");
        await this.#message(c, inner.subarray(PROTO_HEADER_SIZE, PROTO_HEADER_SIZE + h.size));
        return;
      }
      default:
        c.close();
    }
  }

  async #message(c: ServerConnection, body: Uint8Array): Promise<void> {
    const view = dataViewOf(body);
    const header = readMessageHeader(view, 0);
    c.compress = (header.info1 & Info1.COMPRESS_RESPONSE) !== 0;
    if (!c.authenticated) {
      c.begin();
      replyStatus({ w: c.w, batchIndex: 0 }, ResultCode.NOT_AUTHENTICATED, 0, 0);
      c.end();
      await c.flush();
      return;
    }
    const filter = recordFilter(this.#cluster);
    if ((header.info1 & Info1.BATCH) !== 0) {
      await this.#delay(c, "batch");
      await executeBatch(c, body, filter);
      return;
    }
    let hasDigest = false;
    let inTransaction = false;
    forEachField(view, body, MSG_HEADER_SIZE, header.nFields, (type) => {
      if (type === FieldType.DIGEST || type === FieldType.KEY) hasDigest = true;
      else if (type === FieldType.MRT_ID) inTransaction = true;
    });
    if (!hasDigest) {
      await this.#delay(c, "scan");
      await serveScan(c, body, header, filter);
      return;
    }
    let req: RecordCommand | null = null;
    try {
      req = decodeRecordRequest(body);
    } catch {
      // Malformed: answered with PARAMETER_ERROR below.
    }
    const isWrite = (header.info2 & Info2.WRITE) !== 0;
    await this.#delay(c, isWrite ? "write" : "read");
    const ns = req === null ? undefined : this.#cluster.namespace(req.namespace);
    if (isWrite && req !== null && ns !== undefined) {
      const hold = await awaitWritable(
        c,
        [{ ns, pid: partitionId(req.digest) }],
        header.transactionTtl,
      );
      if (hold === "closed") return;
      if (hold === "timeout") {
        c.begin();
        replyStatus({ w: c.w, batchIndex: 0 }, ResultCode.TIMEOUT, 0, 0);
        c.end();
        await c.flush();
        return;
      }
    }
    c.begin();
    if (req === null) replyStatus({ w: c.w, batchIndex: 0 }, ResultCode.PARAMETER_ERROR, 0, 0);
    else if (isWrite && inTransaction && this.#mrtWritesBlocked(req.namespace)) {
      replyStatus({ w: c.w, batchIndex: 0 }, ResultCode.MRT_BLOCKED, 0, 0);
    } else {
      executeRecordCommand(this.#cluster, req, {
        w: c.w,
        batchIndex: 0,
        node: this.state.name,
      }, filter);
    }
    c.end();
    await c.flush();
  }

  /**
   * Whether this node refuses transaction writes to a namespace (`disable-mrt-writes`,
   * set while an XDR backup starts). Transaction writes it accepts are applied as plain
   * writes: the MRT id (field 5) and deadline are ignored, no provisional record version
   * or monitor record is kept, so transaction semantics are not emulated.
   */
  #mrtWritesBlocked(namespace: string): boolean {
    return XdrEmulation.of(this.#cluster)?.mrtWritesDisabled(this.state.name, namespace) ?? false;
  }
}
