/**
 * Test helper: loads the wire captures of a real Aerospike 8.1.2 server
 * (`testdata/captures/`, copied from the project's shared captures).
 *
 * @module
 */

import { dataViewOf, type MessageHeader, MSG_HEADER_SIZE, readMessageHeader } from "./message.ts";
import { decodeRecordMessage } from "./record_view.ts";
import type { AerospikeRecord } from "./record.ts";

/** One captured proto message. */
export interface CaptureMessage {
  /** Connection number (order of opening). */
  conn: number;
  /** Direction. */
  dir: "c2s" | "s2c";
  /** Proto type. */
  type: number;
  /** Whole message length. */
  len: number;
  /** The whole message, proto header included. */
  bytes: Uint8Array;
  /** Info body text (type 1 only). */
  text?: string;
}

const DIR = new URL("./testdata/captures/", import.meta.url);

/**
 * Parses hex text into bytes (spaces and newlines ignored).
 *
 * @param hex Hex digits.
 * @returns The bytes.
 */
export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/[^0-9a-fA-F]/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Formats bytes as lowercase hex.
 *
 * @param b Bytes.
 * @returns Hex text.
 */
export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Parses a hex dump as printed in wire-protocol.md (`0000: 02 03 ...` lines).
 *
 * @param dump The dump text.
 * @returns The bytes.
 */
export function hexDump(dump: string): Uint8Array {
  return hexToBytes(
    dump.trim().split("\n").map((l) => l.replace(/^\s*[0-9a-fA-F]+:/, "")).join(""),
  );
}

/**
 * Loads every message of a `.jsonl` capture file.
 *
 * @param name File name, e.g. `"official-node-client.jsonl"`.
 * @returns The messages, line n at index n.
 */
export function loadCapture(name: string): CaptureMessage[] {
  const text = Deno.readTextFileSync(new URL(name, DIR));
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const o = JSON.parse(l);
    return {
      conn: o.conn,
      dir: o.dir,
      type: o.type,
      len: o.len,
      bytes: hexToBytes(o.hex),
      text: o.text,
    };
  });
}

/**
 * Loads an `info-*.json` capture: `{ "host:port": { command: answer } }`.
 *
 * @param name File name.
 * @returns The answers per node.
 */
export function loadInfoCapture(name: string): Record<string, Record<string, string>> {
  return JSON.parse(Deno.readTextFileSync(new URL(name, DIR)));
}

/** One AS_MSG of a captured server reply that holds a record. */
export interface CapturedRecordMessage {
  /** Capture file. */
  file: string;
  /** Line of the proto message in the file. */
  line: number;
  /** The AS_MSG (header included). */
  bytes: Uint8Array;
  /** Its header. */
  header: MessageHeader;
  /** The decoded record. */
  record: AerospikeRecord;
}

/**
 * Every AS_MSG of every server reply with fields (= a record) of the given captures.
 *
 * @param files Capture file names.
 * @returns The record messages, in file order.
 */
export function* capturedRecordMessages(
  files: readonly string[],
): Generator<CapturedRecordMessage> {
  for (const file of files) {
    for (const [line, m] of loadCapture(file).entries()) {
      if (m.dir !== "s2c" || m.type !== 3) continue;
      const view = dataViewOf(m.bytes);
      let off = 8;
      while (off < m.bytes.length) {
        const h = readMessageHeader(view, off);
        if (h.nFields === 0) break;
        const { record, next } = decodeRecordMessage(m.bytes, off + MSG_HEADER_SIZE, h);
        yield { file, line, bytes: m.bytes.subarray(off, next), header: h, record };
        off = next;
      }
    }
  }
}

/** One line of a node-failure capture excerpt (`testdata/captures/nodekill/`). */
export interface TimedCaptureEntry {
  /** Seconds since the capture started. */
  t: number;
  /** Connection number, when the line is about one. */
  conn?: number;
  /** The server side of the connection, `host:port`. */
  node?: string;
  /** An event (kill, restart, connection opened/closed/reset/refused), for event lines. */
  event?: string;
  /** Direction, for message lines. */
  dir?: "c2s" | "s2c";
  /** Proto type, for message lines. */
  type?: number;
  /** Whole message length. */
  len?: number;
  /** The whole message, when the excerpt kept it. */
  bytes?: Uint8Array;
  /** Info body text (type 1). */
  text?: string;
  /** What the excerpt kept of a large message instead of its bytes. */
  summary?: {
    messages?: number;
    records?: number;
    partitions?: number;
    firstPid?: number;
    lastPid?: number;
    last?: number;
    resultCodes?: Record<string, number>;
    batchRows?: number;
    transactionTtl?: number;
  };
}

/**
 * Loads a node-failure capture excerpt: the events, info messages and small messages
 * whole, large messages as a summary (see the README there).
 *
 * @param name File name, e.g. `"c-asrestore-nodekill.excerpt.jsonl"`.
 * @returns The lines in order.
 */
export function loadTimedCapture(name: string): TimedCaptureEntry[] {
  const text = Deno.readTextFileSync(new URL(`nodekill/${name}`, DIR));
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const { hex, ...rest } = JSON.parse(l);
    return hex === undefined ? rest : { ...rest, bytes: hexToBytes(hex) };
  });
}
