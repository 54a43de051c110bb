import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { ByteWriter } from "./byte_writer.ts";
import { bytesToHex, hexDump, loadCapture } from "./_captures.ts";
import { computeDigest, keyFromJs } from "./digest.ts";
import { dataViewOf, Info3, MSG_HEADER_SIZE, readMessageHeader } from "./message.ts";
import { decodeRecordMessage } from "./record_view.ts";
import { intBin, stringBin } from "./particle.ts";
import type { AerospikeRecord } from "./record.ts";
import {
  AdminCommand,
  AdminField,
  decodeAdminMessage,
  decodeBatchRequest,
  decodeLoginReply,
  decodeRecordRequest,
  decodeScanRequest,
  encodeAdminMessage,
  encodeAuthenticateRequest,
  encodeBatchReadRequest,
  encodeBatchWriteRequest,
  encodeDeleteRequest,
  encodeLoginRequest,
  encodePutRequest,
  encodeReadRequest,
  encodeReply,
  encodeScanRequest,
  hashPassword,
  type ScanRequest,
  writeBits,
} from "./requests.ts";

const SCAN_EXAMPLE = `
0000: 02 03 00 00 00 00 00 47 16 01 00 04 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 05 00 00 00 00
0020: 00 05 00 74 65 73 74 00 00 00 05 01 64 65 6d 6f
0030: 00 00 00 05 09 00 00 27 10 00 00 00 09 07 11 22
0040: 33 44 55 66 77 88 00 00 00 05 0b 00 00 01 00`;

const PUT_EXAMPLE = `
0000: 02 03 00 00 00 00 00 6b 16 00 09 00 00 00 00 00
0010: 00 03 00 00 00 64 00 00 03 e8 00 04 00 02 00 00
0020: 00 05 00 74 65 73 74 00 00 00 05 01 64 65 6d 6f
0030: 00 00 00 15 04 b7 f4 b8 38 89 e2 da 67 de 68 3e
0040: 1d f6 91 9a 1e ac c4 46 c8 00 00 00 0a 02 01 00
0050: 00 00 00 00 00 00 01 00 00 00 0d 02 01 00 01 61
0060: 00 00 00 00 00 00 00 05 00 00 00 07 02 03 00 01
0070: 73 68 69`;

const BATCH_EXAMPLE = `
0000: 02 03 00 00 00 00 00 b2 16 08 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 03 e8 00 01 00 00 00 00
0020: 00 98 29 00 00 00 02 05 00 00 00 00 b7 f4 b8 38
0030: 89 e2 da 67 de 68 3e 1d f6 91 9a 1e ac c4 46 c8
0040: 0e 00 89 00 00 03 00 00 00 64 00 02 00 01 00 00
0050: 00 05 00 74 65 73 74 00 00 00 05 01 64 65 6d 6f
0060: 00 00 00 0d 02 01 00 01 61 00 00 00 00 00 00 00
0070: 05 00 00 00 01 ae 6a 51 5f 37 de 4a da cc 44 96
0080: e2 da 1f ea 84 8c 3a 92 70 0e 00 89 00 00 01 ff
0090: ff ff ff 00 02 00 01 00 00 00 05 00 74 65 73 74
00a0: 00 00 00 05 01 64 65 6d 6f 00 00 00 0d 02 01 00
00b0: 01 61 00 00 00 00 00 00 00 06`;

function rec(
  key: number,
  gen: number,
  bins: AerospikeRecord["bins"],
  withKey = false,
): AerospikeRecord {
  const k = keyFromJs(key);
  const r: AerospikeRecord = {
    namespace: "test",
    set: "demo",
    digest: computeDigest("demo", k),
    generation: gen,
    voidTime: 0,
    bins,
  };
  if (withKey) r.key = k;
  return r;
}

Deno.test("encodeScanRequest() matches the worked example of §6.1", () => {
  const bytes = encodeScanRequest({
    namespace: "test",
    set: "demo",
    partitions: [0, 1],
    socketTimeoutMs: 10000,
    taskId: 0x1122334455667788n,
    recordTtl: 0,
  });
  assert.equal(bytesToHex(bytes), bytesToHex(hexDump(SCAN_EXAMPLE)));
});

/** The scan requests C asbackup sent, decoded then re-encoded with their task ids. */
Deno.test("encodeScanRequest() re-encodes every captured C and Node scan byte for byte", () => {
  const files = [
    "c-asbackup-plain.jsonl",
    "c-asbackup-filters.jsonl",
    "c-asbackup-nobins-afterdigest.jsonl",
    "c-asbackup-nottl-records-per-second.jsonl",
    "official-node-client.jsonl",
  ];
  let n = 0;
  const w = new ByteWriter(64);
  for (const file of files) {
    for (const [line, m] of loadCapture(file).entries()) {
      if (m.dir !== "c2s" || m.type !== 3 || (m.bytes[9] & 1) === 0 || m.bytes[11] !== 4) continue;
      const { scan } = decodeScanRequest(m.bytes.subarray(8));
      assert.ok(scan.taskId !== 0n);
      assert.equal(bytesToHex(encodeScanRequest(scan, w)), bytesToHex(m.bytes), `${file} #${line}`);
      n++;
    }
  }
  assert.ok(n >= 9, `${n} scans`);
});

Deno.test("decodeScanRequest() reads the C asbackup filter scan", () => {
  const m = loadCapture("c-asbackup-filters.jsonl")[24].bytes;
  const { scan } = decodeScanRequest(m.subarray(8));
  const expected: Partial<ScanRequest> = {
    namespace: "test",
    set: "cap",
    socketTimeoutMs: 10000,
    binNames: ["v", "neg"],
  };
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(scan[k as keyof ScanRequest], v, k);
  }
  assert.equal(bytesToHex(scan.filterExpression!), "93049142cf18867251edfa0000");
  assert.equal(scan.partitions!.length, 1024);
  const nb =
    decodeScanRequest(loadCapture("c-asbackup-nobins-afterdigest.jsonl")[22].bytes.subarray(8))
      .scan;
  assert.equal(nb.noBins, true);
  assert.equal(bytesToHex(nb.digests![0]), "dd42b3bb20b998ca72c0fc689b0143639f7ab2b6");
});

Deno.test("encodeScanRequest() writes MAX_RECORDS and rejects short digests", () => {
  const bytes = encodeScanRequest({ namespace: "t", taskId: 1n, maxRecords: 10, partitions: [5] });
  const { scan } = decodeScanRequest(bytes.subarray(8));
  assert.equal(scan.maxRecords, 10n);
  assert.deepEqual(scan.partitions, [5]);
  assert.throws(
    () => encodeScanRequest({ namespace: "t", taskId: 1n, digests: [new Uint8Array(3)] }),
    RangeError,
  );
});

Deno.test("encodePutRequest() matches the worked example of §7", () => {
  const r = rec(1, 3, [intBin("a", 5n), stringBin("s", "hi")], true);
  const bytes = encodePutRequest({
    record: r,
    ttl: 100,
    policy: { generationPolicy: "expectGenGreater", totalTimeoutMs: 1000 },
  });
  assert.equal(bytesToHex(bytes), bytesToHex(hexDump(PUT_EXAMPLE)));
  const d = decodeRecordRequest(bytes.subarray(8));
  assert.equal(d.namespace, "test");
  assert.equal(d.set, "demo");
  assert.deepEqual(d.key, r.key);
  assert.deepEqual(d.ops.map((o) => o.bin), r.bins);
  assert.equal(d.header.generation, 3);
});

Deno.test("encodePutRequest() re-encodes the single writes of C asrestore --replace --no-generation", () => {
  let n = 0;
  for (const [line, m] of loadCapture("c-asrestore-replace-nogen.jsonl").entries()) {
    if (m.dir !== "c2s" || m.type !== 3) continue;
    const d = decodeRecordRequest(m.bytes.subarray(8));
    const record: AerospikeRecord = {
      namespace: d.namespace,
      set: d.set,
      digest: d.digest,
      generation: 0,
      voidTime: 0,
      bins: d.ops.map((o) => o.bin),
    };
    if (d.key) record.key = d.key;
    const ttl = d.header.recordTtl | 0;
    const bytes = encodePutRequest({
      record,
      ttl,
      policy: { recordExistsAction: "replace", totalTimeoutMs: 10000 },
    });
    assert.equal(bytesToHex(bytes), bytesToHex(m.bytes), `#${line}`);
    n++;
  }
  assert.ok(n >= 19, `${n} puts`);
});

Deno.test("writeBits() maps the policies of §7", () => {
  assert.deepEqual(writeBits({}), { info2: 1, info3: 0, useGeneration: false });
  assert.deepEqual(
    writeBits({ recordExistsAction: "createOnly", generationPolicy: "expectGenGreater" }),
    {
      info2: 0x29,
      info3: 0,
      useGeneration: true,
    },
  );
  assert.equal(writeBits({ recordExistsAction: "updateOnly" }).info3, 0x08);
  assert.equal(writeBits({ recordExistsAction: "replaceOnly" }).info3, 0x20);
  assert.equal(writeBits({ generationPolicy: "expectGenEqual", durableDelete: true }).info2, 0x15);
  // @ts-expect-error: unknown value
  assert.throws(() => writeBits({ recordExistsAction: "upsert" }), TypeError);
});

Deno.test("encodeBatchWriteRequest() matches the worked example of §8", () => {
  const bytes = encodeBatchWriteRequest({
    records: [rec(1, 3, [intBin("a", 5n)]), rec(2, 1, [intBin("a", 6n)])],
    ttls: [100, -1],
    policy: { generationPolicy: "expectGenGreater", totalTimeoutMs: 1000 },
    flags: 0x05,
  });
  assert.equal(bytesToHex(bytes), bytesToHex(hexDump(BATCH_EXAMPLE)));
});

for (
  const [file, policy] of [
    ["c-asrestore-default.jsonl", { generationPolicy: "expectGenGreater" }],
    ["c-asrestore-unique.jsonl", {
      generationPolicy: "expectGenGreater",
      recordExistsAction: "createOnly",
    }],
  ] as const
) {
  Deno.test(`encodeBatchWriteRequest() re-encodes the C asrestore batches of ${file}`, () => {
    let n = 0;
    for (const [line, m] of loadCapture(file).entries()) {
      if (m.dir !== "c2s" || m.type !== 3) continue;
      const b = decodeBatchRequest(m.bytes.subarray(8));
      const records = b.rows.map((r): AerospikeRecord => {
        const out: AerospikeRecord = {
          namespace: r.namespace,
          set: r.set,
          digest: r.digest,
          generation: r.generation,
          voidTime: 0,
          bins: r.ops.map((o) => o.bin),
        };
        if (r.key) out.key = r.key;
        return out;
      });
      const bytes = encodeBatchWriteRequest({
        records,
        ttls: b.rows.map((r) => r.ttl | 0),
        indexes: b.rows.map((r) => r.index),
        policy: { ...policy, totalTimeoutMs: b.header.transactionTtl },
        flags: b.flags,
      });
      assert.equal(bytesToHex(bytes), bytesToHex(m.bytes), `${file} #${line}`);
      n++;
    }
    assert.ok(n >= 1);
  });
}

Deno.test("encodeBatchWriteRequest() re-encodes the Node client batch write", () => {
  const m = loadCapture("official-node-client.jsonl")[52].bytes;
  const b = decodeBatchRequest(m.subarray(8));
  assert.equal(b.flags, 0x0d);
  assert.equal(b.rows.length, 5);
  const bytes = encodeBatchWriteRequest({
    records: b.rows.map((r) => ({
      namespace: r.namespace,
      set: r.set,
      digest: r.digest,
      generation: 0,
      voidTime: 0,
      bins: r.ops.map((o) => o.bin),
    })),
    ttls: b.rows.map(() => 0),
    policy: { totalTimeoutMs: 1000 },
  });
  assert.equal(bytesToHex(bytes), bytesToHex(m));
});

Deno.test("encodeBatchReadRequest() re-encodes the Node client batch read with REPEAT rows", () => {
  const m = loadCapture("official-node-client.jsonl")[55].bytes;
  const b = decodeBatchRequest(m.subarray(8));
  assert.deepEqual(b.rows.map((r) => r.index), [0, 1, 2]);
  assert.ok(b.rows.every((r) => r.namespace === "test" && r.set === "cap" && r.info1 === 3));
  const bytes = encodeBatchReadRequest({ keys: b.rows, totalTimeoutMs: 1000 });
  assert.equal(bytesToHex(bytes), bytesToHex(m));
});

Deno.test("decodeBatchRequest() rejects truncated rows", () => {
  const m = loadCapture("official-node-client.jsonl")[52].bytes;
  const body = m.slice(8);
  body[30] = 6; // low byte of n_records: claim 6 records in a batch of 5
  assert.throws(
    () => decodeBatchRequest(body),
    (e) => e instanceof AerobakError && e.code === "MESSAGE_INVALID",
  );
});

Deno.test("encodeReadRequest() and encodeDeleteRequest() match the Node client", () => {
  const L = loadCapture("official-node-client.jsonl");
  const get = decodeRecordRequest(L[40].bytes.subarray(8));
  assert.deepEqual(encodeReadRequest({ ...get, totalTimeoutMs: 1000 }), L[40].bytes);
  const sel = decodeRecordRequest(L[44].bytes.subarray(8));
  assert.deepEqual(
    encodeReadRequest({ ...sel, binNames: sel.ops.map((o) => o.bin.name), totalTimeoutMs: 1000 }),
    L[44].bytes,
  );
  const del = decodeRecordRequest(L[81].bytes.subarray(8));
  assert.deepEqual(encodeDeleteRequest({ ...del, totalTimeoutMs: 1000 }), L[81].bytes);
});

Deno.test("encodeReply() produces the server's LAST and write answers", () => {
  const L = loadCapture("official-node-client.jsonl");
  assert.deepEqual(encodeReply({ info3: Info3.LAST }), L[63].bytes);
  assert.deepEqual(encodeReply({ resultCode: 5, generation: 2 }), L[49].bytes);
  const h = readMessageHeader(dataViewOf(L[13].bytes), 8);
  assert.deepEqual(encodeReply({ generation: h.generation, recordTtl: h.recordTtl }), L[13].bytes);
});

Deno.test("batch replies carry the batch index in transaction_ttl", () => {
  const m = loadCapture("official-node-client.jsonl")[56].bytes;
  const view = dataViewOf(m);
  let off = 8;
  const seen: [number, number][] = [];
  while (off < m.length) {
    const h = readMessageHeader(view, off);
    seen.push([h.transactionTtl, h.resultCode]);
    off += MSG_HEADER_SIZE;
    if (h.nFields > 0) off = decodeRecordMessage(m, off, h).next;
    else {
      for (let i = 0; i < h.nOps; i++) off += 4 + view.getUint32(off);
    }
  }
  assert.deepEqual(seen, [[0, 0], [1, 0], [2, 2]]);
});

Deno.test("hashPassword() matches the bcrypt vectors of §11", () => {
  assert.equal(
    hashPassword("admin"),
    "$2a$10$7EqJtq98hPqEX7fNZaFWoO1mVO/4MLpGzsqojz6E9Gef6iXDjXdDa",
  );
  assert.equal(
    hashPassword("password"),
    "$2a$10$7EqJtq98hPqEX7fNZaFWoOqUH6KN8IKy3Yk5Kz..RHGKNAUCoP/LG",
  );
});

Deno.test("encodeLoginRequest() writes the fields of each auth mode", () => {
  const credential = "$2a$10$7EqJtq98hPqEX7fNZaFWoO1mVO/4MLpGzsqojz6E9Gef6iXDjXdDa";
  const internal = encodeLoginRequest({ user: "admin", credential });
  assert.equal(
    bytesToHex(internal.subarray(0, 8 + 16 + 10)),
    "020200000000005b" + "0000140200000000000000000000000000000006" + "0061646d696e",
  );
  const m = decodeAdminMessage(internal.subarray(8));
  assert.equal(m.command, AdminCommand.LOGIN);
  assert.equal(new TextDecoder().decode(m.fields.get(AdminField.CREDENTIAL)), credential);
  const ext = decodeAdminMessage(
    encodeLoginRequest({ user: "u", password: "p", credential, mode: "EXTERNAL" }).subarray(8),
  );
  assert.deepEqual([...ext.fields.keys()], [0, 3, 4]);
  assert.equal(decodeAdminMessage(encodeLoginRequest({ mode: "PKI" }).subarray(8)).fields.size, 0);
  assert.throws(() => encodeLoginRequest({ user: "u" }), TypeError);
  const auth = decodeAdminMessage(
    encodeAuthenticateRequest("u", new Uint8Array([1, 2])).subarray(8),
  );
  assert.equal(auth.command, AdminCommand.AUTHENTICATE);
  assert.deepEqual(auth.fields.get(AdminField.SESSION_TOKEN), new Uint8Array([1, 2]));
});

Deno.test("decodeLoginReply() reads the token, TTL and result code", () => {
  const reply = encodeAdminMessage(0, [
    [AdminField.SESSION_TOKEN, new Uint8Array([9, 9, 9])],
    [AdminField.SESSION_TTL, new Uint8Array([0, 0, 0x0e, 0x10])],
  ]);
  assert.deepEqual(decodeLoginReply(reply.subarray(8)), {
    resultCode: 0,
    sessionToken: new Uint8Array([9, 9, 9]),
    sessionTtl: 3600,
  });
  assert.equal(decodeLoginReply(encodeAdminMessage(0, [], 52).subarray(8)).resultCode, 52);
  assert.throws(() => decodeAdminMessage(new Uint8Array(5)), AerobakError);
});

Deno.test("decodeRecordRequest() returns the filter expression of a single-record command", () => {
  // A get with a FILTER_EXP field (LAST_UPDATE >= 1): as the Go client sends filtered reads.
  const exp = new Uint8Array([0x93, 0x04, 0x91, 0x42, 0x01]);
  const w = new ByteWriter();
  w.u8(22);
  for (const b of [0x03, 0, 0, 0, 0]) w.u8(b);
  w.u32(0);
  w.u32(0);
  w.u32(1000);
  w.u16(4);
  w.u16(0);
  for (
    const [type, data] of [
      [0, new TextEncoder().encode("test")],
      [1, new TextEncoder().encode("demo")],
      [4, computeDigest("demo", keyFromJs(1))],
      [43, exp],
    ] as const
  ) {
    w.u32(data.length + 1);
    w.u8(type);
    w.bytes(data);
  }
  const d = decodeRecordRequest(w.subarray());
  assert.deepEqual(d.filterExpression, exp);
  assert.equal(d.set, "demo");
  const plain = decodeRecordRequest(
    loadCapture("official-node-client.jsonl")[40].bytes.subarray(8),
  );
  assert.equal(plain.filterExpression, undefined);
});
