import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { AerobakError } from "../errors.ts";
import { bytesToHex, hexToBytes, loadCapture } from "./_captures.ts";
import { decodeExpression, encodeExpression, Exp, type ExpNode, ExpType } from "./expression.ts";
import { decodeScanRequest } from "./requests.ts";

const hex = (e: ExpNode) => bytesToHex(encodeExpression(e));

Deno.test("encodeExpression() matches the example bytes of §5", () => {
  assert.equal(
    hex(Exp.ge(Exp.lastUpdate(), Exp.int(1700000000000000000n))),
    "93049142d317979cfe362a0000",
  );
  assert.equal(
    hex(Exp.lt(Exp.lastUpdate(), Exp.int(1800000000000000000n))),
    "93059142d318fae27693b40000",
  );
  assert.equal(hex(Exp.eq(Exp.ttl(), Exp.int(-1))), "93019145ff");
  assert.equal(hex(Exp.ne(Exp.setName(), Exp.str("<ERO~MRT"))), "93029146a9033c45524f7e4d5254");
  assert.equal(
    hex(Exp.and(Exp.eq(Exp.ttl(), Exp.int(-1)), Exp.ne(Exp.setName(), Exp.str("<ERO~MRT")))),
    "931093019145ff93029146a9033c45524f7e4d5254",
  );
});

Deno.test("decodeExpression() accepts the C tool's cf integers from the captures", () => {
  const scan =
    decodeScanRequest(loadCapture("c-asbackup-filters.jsonl")[24].bytes.subarray(8)).scan;
  assert.deepEqual(
    decodeExpression(scan.filterExpression!),
    Exp.ge(Exp.lastUpdate(), Exp.int(1767225600000000000n)),
  );
  const nottl = decodeScanRequest(
    loadCapture("c-asbackup-nottl-records-per-second.jsonl")[22].bytes.subarray(8),
  ).scan;
  assert.deepEqual(decodeExpression(nottl.filterExpression!), Exp.eq(Exp.ttl(), Exp.int(-1)));
  // The Node client's last-update filter: [3, [66], 0] (GT 0).
  const node =
    decodeScanRequest(loadCapture("official-node-client.jsonl")[69].bytes.subarray(8)).scan;
  assert.deepEqual(decodeExpression(node.filterExpression!), Exp.gt(Exp.lastUpdate(), Exp.int(0)));
});

Deno.test("decodeExpression() round-trips every supported node", () => {
  const exprs: ExpNode[] = [
    Exp.or(
      Exp.eq(Exp.setName(), Exp.str("s1")),
      Exp.eq(Exp.setName(), Exp.str("s2")),
      Exp.not(Exp.keyExists()),
    ),
    Exp.and(
      Exp.ge(Exp.voidTime(), Exp.int(-(2n ** 63n))),
      Exp.le(Exp.recordSize(), Exp.int(65536)),
      Exp.eq(Exp.digestModulo(3), Exp.int(1)),
      Exp.gt(Exp.intBin("a"), Exp.int(5)),
      Exp.eq(Exp.strBin("s"), Exp.str("x")),
      Exp.lt(Exp.floatBin("f"), Exp.float(1.5)),
      Exp.eq(Exp.binType("b"), Exp.int(3)),
      Exp.eq(Exp.key(ExpType.INT), Exp.int(7)),
      Exp.eq(Exp.bin("b", ExpType.BOOL), Exp.bool(true)),
      Exp.eq(Exp.bin("bl", ExpType.BLOB), Exp.blob(new Uint8Array([1, 2]))),
      Exp.ne(Exp.sinceUpdate(), Exp.int(0)),
      Exp.eq(Exp.isTombstone(), Exp.bool(false)),
    ),
  ];
  for (const e of exprs) assert.deepEqual(decodeExpression(encodeExpression(e)), e);
  // Bin names are raw msgpack strings (no particle byte).
  assert.equal(hex(Exp.intBin("a")), "935102a161");
});

Deno.test("Exp.fromBase64() is encoded verbatim, also inside AND", () => {
  const user = Buffer.from(hexToBytes("93019145ff")).toString("base64");
  const e = Exp.and(Exp.fromBase64(user), Exp.ne(Exp.setName(), Exp.str("<ERO~MRT")));
  assert.equal(hex(e), "931093019145ff93029146a9033c45524f7e4d5254");
  assert.deepEqual(
    decodeExpression(encodeExpression(e)),
    Exp.and(Exp.eq(Exp.ttl(), Exp.int(-1)), Exp.ne(Exp.setName(), Exp.str("<ERO~MRT"))),
  );
});

Deno.test("decodeExpression() rejects unsupported opcodes and malformed bytes", () => {
  const code = (c: string) => (e: unknown) => e instanceof AerobakError && e.code === c;
  assert.throws(() => decodeExpression(hexToBytes("927f00")), code("EXPRESSION_UNSUPPORTED"));
  assert.throws(() => decodeExpression(hexToBytes("9201")), code("EXPRESSION_UNSUPPORTED"));
  assert.throws(() => decodeExpression(hexToBytes("93019145")), code("MSGPACK_INVALID"));
  assert.throws(() => decodeExpression(hexToBytes("93019145ff00")), code("EXPRESSION_UNSUPPORTED"));
});
