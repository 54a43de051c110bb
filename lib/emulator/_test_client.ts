/**
 * Test helper: a raw-socket client for the emulator tests, built on the codec (requests
 * encoded with its encoders, replies decoded with its decoders).
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { FrameReader } from "../aerospike/frame_reader.ts";
import { encodeInfoRequest, parseInfoResponse } from "../aerospike/info.ts";
import {
  dataViewOf,
  forEachField,
  forEachOp,
  Info3,
  type MessageHeader,
  MSG_HEADER_SIZE,
  readMessageHeader,
  readName,
} from "../aerospike/message.ts";
import { decodeRecordMessage } from "../aerospike/record_view.ts";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { readParticle } from "../aerospike/particle.ts";
import { decompressMessage, PROTO_HEADER_SIZE, ProtoType } from "../aerospike/proto.ts";
import type { AerospikeRecord, Bin } from "../aerospike/record.ts";
import { connectTcp, type Transport } from "../aerospike/_transport.ts";

/** One AS_MSG of a reply. */
export interface ReplyMessage {
  /** Its header. */
  header: MessageHeader;
  /** The record, when the message carries namespace and digest fields. */
  record?: AerospikeRecord;
  /** Bin names of the ops of a message without record fields (read and write replies). */
  opNames: string[];
  /** Bins of a message without record fields (read replies). */
  bins: Bin[];
  /** Which proto of the reply it came in (0 = the first). */
  proto: number;
}

/** A raw connection to one emulated node. */
export class RawClient {
  readonly #t: Transport;
  readonly #r: FrameReader;
  /** Number of protos received of each type. */
  readonly protoTypes: number[] = [];

  private constructor(t: Transport) {
    this.#t = t;
    this.#r = new FrameReader(t, {
      fail: (code, message, cause) => new AerobakError(code, message, { cause }),
    });
  }

  /**
   * Connects.
   *
   * @param address `host:port`.
   * @returns The client.
   */
  static async connect(address: string): Promise<RawClient> {
    const [host, port] = address.split(":");
    return new RawClient(await connectTcp(host, Number(port), 5000));
  }

  /**
   * Sends a whole message.
   *
   * @param bytes Message with proto header.
   */
  async send(bytes: Uint8Array): Promise<void> {
    await this.#t.write(bytes, 5000);
  }

  /**
   * Reads one frame (decompressing type 4).
   *
   * @returns Type and a copy of the body.
   */
  async frame(): Promise<{ type: number; body: Uint8Array }> {
    const f = await this.#r.read({ socketTimeoutMs: 10000, deadline: 0 });
    this.protoTypes.push(f.type);
    if (f.type === ProtoType.COMPRESSED) {
      const inner = decompressMessage(f.body);
      return { type: inner[1], body: inner.slice(PROTO_HEADER_SIZE) };
    }
    return { type: f.type, body: f.body.slice() };
  }

  /**
   * Sends info commands and parses the answer.
   *
   * @param commands Commands.
   * @returns Command → value.
   */
  async info(...commands: string[]): Promise<Map<string, string>> {
    await this.send(encodeInfoRequest(commands));
    const f = await this.frame();
    return parseInfoResponse(f.body);
  }

  /**
   * Reads AS_MSG replies until a message with info3 LAST (multi-message replies), or one
   * message for a single-record reply.
   *
   * @param untilLast Whether to read until LAST. @default true
   * @returns The messages, LAST included.
   */
  async messages(untilLast = true): Promise<ReplyMessage[]> {
    const out: ReplyMessage[] = [];
    for (let proto = 0;; proto++) {
      const { body } = await this.frame();
      const view = dataViewOf(body);
      let off = 0;
      while (off < body.length) {
        const header = readMessageHeader(view, off);
        const m: ReplyMessage = { header, opNames: [], bins: [], proto };
        if (header.nFields >= 2) {
          const d = decodeRecordMessage(body, off + MSG_HEADER_SIZE, header);
          m.record = d.record;
          off = d.next;
        } else {
          off = forEachField(view, body, off + MSG_HEADER_SIZE, header.nFields, () => {});
          off = forEachOp(view, body, off, header.nOps, (op) => {
            const name = readName(body, op.nameOffset, op.nameLength);
            m.opNames.push(name);
            m.bins.push(
              readParticle(body, view, op.valueOffset, op.valueLength, op.particleType, name),
            );
          });
        }
        out.push(m);
        if (!untilLast || (header.info3 & Info3.LAST) !== 0) return out;
      }
    }
  }

  /**
   * Sends a request and returns its single reply message.
   *
   * @param bytes The request.
   * @returns The reply.
   */
  async call(bytes: Uint8Array): Promise<ReplyMessage> {
    await this.send(bytes);
    return (await this.messages(false))[0];
  }

  /** Closes the socket. */
  close(): void {
    this.#t.close();
  }
}

/**
 * Record `key` of set `demo` in namespace `test`, with its integer user key.
 *
 * @param key The user key.
 * @param bins The bins.
 * @param generation Its generation.
 * @returns The record.
 */
export function demoRecord(key: number, bins: Bin[], generation = 0): AerospikeRecord {
  return {
    namespace: "test",
    set: "demo",
    digest: computeDigest("demo", keyFromJs(key)),
    key: keyFromJs(key),
    generation,
    voidTime: 0,
    bins,
  };
}
