/**
 * Filter expressions (field 43): a builder, the msgpack encoder, and a decoder to an AST
 * the emulator evaluates.
 *
 * Each node is a msgpack array `[opcode, args...]`; metadata accessors are `[opcode]`;
 * literals are plain msgpack values (strings with the 0x03 particle byte). Integer
 * literals are written in the Go client's form (`d3` for large values); the decoder
 * also accepts the C tool's `cf`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import {
  MsgpackReader,
  packArrayHeader,
  packBlob,
  packBool,
  packFloat,
  packInt,
  packNil,
  packRawString,
  packString,
} from "./msgpack.ts";

/** Expression opcodes. */
export const ExpOp = {
  EQ: 1,
  NE: 2,
  GT: 3,
  GE: 4,
  LT: 5,
  LE: 6,
  REGEX: 7,
  GEO: 8,
  AND: 16,
  OR: 17,
  NOT: 18,
  DIGEST_MODULO: 64,
  LAST_UPDATE: 66,
  SINCE_UPDATE: 67,
  VOID_TIME: 68,
  TTL: 69,
  SET_NAME: 70,
  KEY_EXISTS: 71,
  IS_TOMBSTONE: 72,
  RECORD_SIZE: 74,
  KEY: 80,
  BIN: 81,
  BIN_TYPE: 82,
} as const;

/** Value types of BIN and KEY expressions. */
export const ExpType = {
  NIL: 0,
  BOOL: 1,
  INT: 2,
  STRING: 3,
  LIST: 4,
  MAP: 5,
  BLOB: 6,
  FLOAT: 7,
  GEO: 8,
  HLL: 9,
} as const;

/** Comparison operator names. */
export type CmpOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

/** Record metadata accessor names. */
export type MetaOp =
  | "lastUpdate"
  | "sinceUpdate"
  | "voidTime"
  | "ttl"
  | "setName"
  | "keyExists"
  | "isTombstone"
  | "recordSize";

/** An expression node. */
export type ExpNode =
  | { kind: "int"; value: bigint }
  | { kind: "float"; value: number }
  | { kind: "str"; value: string }
  | { kind: "bool"; value: boolean }
  | { kind: "blob"; value: Uint8Array }
  | { kind: "nil" }
  | { kind: "cmp"; op: CmpOp; left: ExpNode; right: ExpNode }
  | { kind: "and"; args: ExpNode[] }
  | { kind: "or"; args: ExpNode[] }
  | { kind: "not"; arg: ExpNode }
  | { kind: "meta"; op: MetaOp }
  | { kind: "digestModulo"; mod: bigint }
  | { kind: "key"; type: number }
  | { kind: "bin"; name: string; type: number }
  | { kind: "binType"; name: string }
  | { kind: "raw"; bytes: Uint8Array };

const CMP_CODES: Record<CmpOp, number> = { eq: 1, ne: 2, gt: 3, ge: 4, lt: 5, le: 6 };
const META_CODES: Record<MetaOp, number> = {
  lastUpdate: 66,
  sinceUpdate: 67,
  voidTime: 68,
  ttl: 69,
  setName: 70,
  keyExists: 71,
  isTombstone: 72,
  recordSize: 74,
};
const CMP_BY_CODE = new Map(Object.entries(CMP_CODES).map(([k, v]) => [v, k as CmpOp]));
const META_BY_CODE = new Map(Object.entries(META_CODES).map(([k, v]) => [v, k as MetaOp]));

function cmp(op: CmpOp, left: ExpNode, right: ExpNode): ExpNode {
  return { kind: "cmp", op, left, right };
}

/**
 * Expression builder.
 *
 * @example The backup filters
 * ```ts
 * import { encodeExpression, Exp } from "./expression.ts";
 * encodeExpression(Exp.eq(Exp.ttl(), Exp.int(-1))); // 93 01 91 45 ff
 * encodeExpression(Exp.ne(Exp.setName(), Exp.str("<ERO~MRT")));
 * ```
 */
export const Exp = {
  /** @returns An integer literal. @param v Value. */
  int: (v: bigint | number): ExpNode => ({ kind: "int", value: BigInt(v) }),
  /** @returns A float literal. @param v Value. */
  float: (v: number): ExpNode => ({ kind: "float", value: v }),
  /** @returns A string literal. @param v Value. */
  str: (v: string): ExpNode => ({ kind: "str", value: v }),
  /** @returns A boolean literal. @param v Value. */
  bool: (v: boolean): ExpNode => ({ kind: "bool", value: v }),
  /** @returns A blob literal. @param v Value. */
  blob: (v: Uint8Array): ExpNode => ({ kind: "blob", value: v }),
  /** @returns `a == b`. @param a Left. @param b Right. */
  eq: (a: ExpNode, b: ExpNode): ExpNode => cmp("eq", a, b),
  /** @returns `a != b`. @param a Left. @param b Right. */
  ne: (a: ExpNode, b: ExpNode): ExpNode => cmp("ne", a, b),
  /** @returns `a > b`. @param a Left. @param b Right. */
  gt: (a: ExpNode, b: ExpNode): ExpNode => cmp("gt", a, b),
  /** @returns `a >= b`. @param a Left. @param b Right. */
  ge: (a: ExpNode, b: ExpNode): ExpNode => cmp("ge", a, b),
  /** @returns `a < b`. @param a Left. @param b Right. */
  lt: (a: ExpNode, b: ExpNode): ExpNode => cmp("lt", a, b),
  /** @returns `a <= b`. @param a Left. @param b Right. */
  le: (a: ExpNode, b: ExpNode): ExpNode => cmp("le", a, b),
  /** @returns Logical AND. @param args Operands. */
  and: (...args: ExpNode[]): ExpNode => ({ kind: "and", args }),
  /** @returns Logical OR. @param args Operands. */
  or: (...args: ExpNode[]): ExpNode => ({ kind: "or", args }),
  /** @returns Logical NOT. @param arg Operand. */
  not: (arg: ExpNode): ExpNode => ({ kind: "not", arg }),
  /** @returns Last update time, ns since the Unix epoch. */
  lastUpdate: (): ExpNode => ({ kind: "meta", op: "lastUpdate" }),
  /** @returns Milliseconds since the last update. */
  sinceUpdate: (): ExpNode => ({ kind: "meta", op: "sinceUpdate" }),
  /** @returns Void time, ns since the Unix epoch. */
  voidTime: (): ExpNode => ({ kind: "meta", op: "voidTime" }),
  /** @returns TTL in seconds (-1 = never expires). */
  ttl: (): ExpNode => ({ kind: "meta", op: "ttl" }),
  /** @returns The record's set name. */
  setName: (): ExpNode => ({ kind: "meta", op: "setName" }),
  /** @returns Whether the user key is stored. */
  keyExists: (): ExpNode => ({ kind: "meta", op: "keyExists" }),
  /** @returns Whether the record is a tombstone. */
  isTombstone: (): ExpNode => ({ kind: "meta", op: "isTombstone" }),
  /** @returns Record size in bytes. */
  recordSize: (): ExpNode => ({ kind: "meta", op: "recordSize" }),
  /** @returns Digest modulo `mod`. @param mod Divisor. */
  digestModulo: (mod: bigint | number): ExpNode => ({ kind: "digestModulo", mod: BigInt(mod) }),
  /** @returns The user key as `type`. @param type An {@linkcode ExpType}. */
  key: (type: number): ExpNode => ({ kind: "key", type }),
  /** @returns An integer bin. @param name Bin name. */
  intBin: (name: string): ExpNode => ({ kind: "bin", name, type: ExpType.INT }),
  /** @returns A string bin. @param name Bin name. */
  strBin: (name: string): ExpNode => ({ kind: "bin", name, type: ExpType.STRING }),
  /** @returns A float bin. @param name Bin name. */
  floatBin: (name: string): ExpNode => ({ kind: "bin", name, type: ExpType.FLOAT }),
  /** @returns A bin of any {@linkcode ExpType}. @param name Bin name. @param type Type. */
  bin: (name: string, type: number): ExpNode => ({ kind: "bin", name, type }),
  /** @returns The particle type of a bin. @param name Bin name. */
  binType: (name: string): ExpNode => ({ kind: "binType", name }),
  /**
   * @returns A node that encodes to the given bytes verbatim (user `--filter-exp`).
   * @param b64 Base64 of an encoded expression.
   */
  fromBase64: (b64: string): ExpNode => {
    const b = Buffer.from(b64, "base64");
    return { kind: "raw", bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
  },
} as const;

function encodeNode(w: ByteWriter, e: ExpNode): void {
  switch (e.kind) {
    case "int":
      packInt(w, e.value);
      return;
    case "float":
      packFloat(w, e.value);
      return;
    case "str":
      packString(w, e.value);
      return;
    case "bool":
      packBool(w, e.value);
      return;
    case "blob":
      packBlob(w, e.value);
      return;
    case "nil":
      packNil(w);
      return;
    case "cmp":
      packArrayHeader(w, 3);
      packInt(w, CMP_CODES[e.op]);
      encodeNode(w, e.left);
      encodeNode(w, e.right);
      return;
    case "and":
    case "or":
      packArrayHeader(w, 1 + e.args.length);
      packInt(w, e.kind === "and" ? ExpOp.AND : ExpOp.OR);
      for (const a of e.args) encodeNode(w, a);
      return;
    case "not":
      packArrayHeader(w, 2);
      packInt(w, ExpOp.NOT);
      encodeNode(w, e.arg);
      return;
    case "meta":
      packArrayHeader(w, 1);
      packInt(w, META_CODES[e.op]);
      return;
    case "digestModulo":
      packArrayHeader(w, 2);
      packInt(w, ExpOp.DIGEST_MODULO);
      packInt(w, e.mod);
      return;
    case "key":
      packArrayHeader(w, 2);
      packInt(w, ExpOp.KEY);
      packInt(w, e.type);
      return;
    case "bin":
      packArrayHeader(w, 3);
      packInt(w, ExpOp.BIN);
      packInt(w, e.type);
      packRawString(w, e.name);
      return;
    case "binType":
      packArrayHeader(w, 2);
      packInt(w, ExpOp.BIN_TYPE);
      packRawString(w, e.name);
      return;
    case "raw":
      w.bytes(e.bytes);
      return;
  }
}

/**
 * Encodes an expression to the bytes of field 43.
 *
 * @param exp The expression.
 * @returns The msgpack bytes.
 */
export function encodeExpression(exp: ExpNode): Uint8Array {
  const w = new ByteWriter(64);
  encodeNode(w, exp);
  return w.subarray().slice();
}

function unsupported(message: string, offset: number): AerobakError {
  return new AerobakError("EXPRESSION_UNSUPPORTED", `${message} at byte offset ${offset}`, {
    location: { offset },
  });
}

function decodeNode(r: MsgpackReader, depth: number): ExpNode {
  if (depth > 64) throw unsupported("Expression nested deeper than 64", r.offset);
  const at = r.offset;
  switch (r.peekKind()) {
    case "int":
      return { kind: "int", value: BigInt.asIntN(64, r.readInt()) };
    case "float":
      return { kind: "float", value: r.readFloat() };
    case "bool":
      return { kind: "bool", value: r.readBool() };
    case "nil":
      r.readNil();
      return { kind: "nil" };
    case "str":
    case "bin": {
      const raw = r.readRawBytes();
      if (raw.length > 0 && raw[0] === 3) {
        return { kind: "str", value: new TextDecoder().decode(raw.subarray(1)) };
      }
      return { kind: "blob", value: raw.slice(raw.length > 0 ? 1 : 0) };
    }
    case "array":
      break;
    default:
      throw unsupported("Unsupported expression value", at);
  }
  const n = r.readArrayHeader();
  if (n < 1) throw unsupported("Empty expression array", at);
  const code = Number(r.readInt());
  const cmpOp = CMP_BY_CODE.get(code);
  if (cmpOp !== undefined) {
    if (n !== 3) throw unsupported(`Comparison with ${n - 1} operands`, at);
    const left = decodeNode(r, depth + 1);
    return { kind: "cmp", op: cmpOp, left, right: decodeNode(r, depth + 1) };
  }
  const meta = META_BY_CODE.get(code);
  if (meta !== undefined) {
    if (n !== 1) throw unsupported(`Metadata expression ${code} with arguments`, at);
    return { kind: "meta", op: meta };
  }
  switch (code) {
    case ExpOp.AND:
    case ExpOp.OR: {
      const args: ExpNode[] = [];
      for (let i = 1; i < n; i++) args.push(decodeNode(r, depth + 1));
      return { kind: code === ExpOp.AND ? "and" : "or", args };
    }
    case ExpOp.NOT:
      if (n !== 2) break;
      return { kind: "not", arg: decodeNode(r, depth + 1) };
    case ExpOp.DIGEST_MODULO:
      if (n !== 2) break;
      return { kind: "digestModulo", mod: r.readInt() };
    case ExpOp.KEY:
      if (n !== 2) break;
      return { kind: "key", type: Number(r.readInt()) };
    case ExpOp.BIN:
      if (n !== 3) break;
      return { kind: "bin", type: Number(r.readInt()), name: r.readRawString() };
    case ExpOp.BIN_TYPE:
      if (n !== 2) break;
      return { kind: "binType", name: r.readRawString() };
    default:
      throw unsupported(`Unsupported expression opcode ${code}`, at);
  }
  throw unsupported(`Expression opcode ${code} with ${n - 1} arguments`, at);
}

/**
 * Decodes field-43 bytes into an AST.
 *
 * @param bytes The expression bytes.
 * @returns The root node.
 * @throws {AerobakError} `EXPRESSION_UNSUPPORTED` for opcodes outside the supported set,
 * `MSGPACK_INVALID` for malformed bytes.
 */
export function decodeExpression(bytes: Uint8Array): ExpNode {
  const r = new MsgpackReader(bytes);
  const node = decodeNode(r, 0);
  if (!r.done) {
    throw unsupported(`${bytes.length - r.offset} extra bytes after the expression`, r.offset);
  }
  return node;
}
