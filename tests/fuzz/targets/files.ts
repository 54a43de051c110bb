/**
 * Fuzz targets of backup files as a restore reads them: the bytes go through the same read
 * chain (decrypt → decompress → header check) into the ASB or ASBX decoder, in chunks of
 * random sizes. Samples are the C asbackup 4.5.8's files (plain, compact, single, split,
 * zstd, AES-256, zstd + AES-128), the asb-format.md examples (both dialects) and files of
 * aerobak's own writer big and compressible enough that one read expands past the zstd
 * decoder's buffer.
 *
 * @module
 */

import { ByteWriter } from "../../../lib/aerospike/byte_writer.ts";
import { computeDigest } from "../../../lib/aerospike/digest.ts";
import type { AerospikeRecord } from "../../../lib/aerospike/record.ts";
import { AerobakError } from "../../../lib/errors.ts";
import { decodeAsb } from "../../../lib/format/asb/decoder.ts";
import { AsbEncoder } from "../../../lib/format/asb/encoder.ts";
import { decodeAsbx } from "../../../lib/format/asbx/decoder.ts";
import { AsbxEncoder } from "../../../lib/format/asbx/encoder.ts";
import { type CompressionPolicy, createCompressStream } from "../../../lib/io/compression.ts";
import { createEncryptStream } from "../../../lib/io/encryption.ts";
import { loadEncryptionKey } from "../../../lib/io/encryption_key.ts";
import { openReadChain } from "../../../lib/io/file_chain.ts";
import type { BackupFormat } from "../../../lib/io/header_check.ts";
import { encodeXdrDelete, encodeXdrWrite, xdrPayload } from "../../../lib/xdr/message.ts";
import { checkReplayPayload, patchReplayPayload } from "../../../lib/xdr/replay.ts";
import { everyTypeBins } from "../../_restore_helpers.ts";
import { type FuzzTarget, namesSource } from "../engine.ts";
import type { Random } from "../random.ts";

const TESTDATA = new URL("../../../testdata/", import.meta.url).pathname;
/** The C asbackup 4.5.8 samples. */
export const C_SAMPLES = `${TESTDATA}c-asbackup-4.5.8/`;
/** The RSA key the encrypted C samples were written with. */
export const SAMPLE_KEY = `${C_SAMPLES}sample-key.pem`;

const read = (path: string) => Deno.readFile(path);

/** Streams `bytes` in chunks whose sizes `r` draws: whole, 64 KiB, 16 KiB or small. */
export function chunkedBy(bytes: Uint8Array, r: Random): ReadableStream<Uint8Array> {
  const mode = r.int(4);
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const n = mode === 0
        ? bytes.length
        : mode === 1
        ? 65536
        : mode === 2
        ? 16384
        : 1 + r.int(r.chance(0.5) ? 64 : 4096);
      c.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/** Records of every particle and key type, then many small compressible ones. */
function sampleRecords(n: number): AerospikeRecord[] {
  const out: AerospikeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const key = i % 3 === 0 ? i : `key-${i}`;
    const set = i % 2 === 0 ? "fuzz" : "";
    out.push({
      namespace: "test",
      set,
      key: typeof key === "number"
        ? { type: 1, value: BigInt(key) }
        : { type: 3, value: new TextEncoder().encode(key) },
      digest: computeDigest(
        set,
        typeof key === "number"
          ? { type: 1, value: BigInt(key) }
          : { type: 3, value: new TextEncoder().encode(key) },
      ),
      generation: 1 + (i % 7),
      voidTime: i % 4 === 0 ? 0 : 500_000_000 + i,
      bins: i < 24 ? everyTypeBins(i) : [
        { name: "n", type: 1, value: BigInt(i) },
        { name: "s", type: 3, value: new TextEncoder().encode(`value ${i % 50} `.repeat(12)) },
      ],
    });
  }
  return out;
}

/** An ASB file of aerobak's writer: `records` records of {@linkcode sampleRecords}. */
function writtenAsb(records: number, compact = false): Uint8Array {
  const enc = new AsbEncoder({ compact });
  const w = new ByteWriter();
  w.bytes(enc.header("test", { firstFile: true }));
  for (const r of sampleRecords(records)) enc.encodeRecord(w, r);
  return w.subarray().slice();
}

/** An ASB file with escapes, floats, msgpack and compact values (the old fuzz test's seed). */
function escapesAsb(): Uint8Array {
  const enc = new AsbEncoder({ compact: true });
  const w = new ByteWriter();
  w.bytes(enc.header("te st", { firstFile: true, version: "3.2" }));
  enc.encodeSIndex(w, {
    namespace: "test",
    set: "",
    name: "e",
    indexType: "list",
    bin: "",
    binType: "string",
    expression: "kwGTUQOjYWJj",
  });
  enc.encodeRecord(w, {
    namespace: "test",
    set: "s",
    digest: new Uint8Array(20),
    key: { type: 2, value: 0.5 },
    generation: 1,
    voidTime: 5,
    bins: [
      { name: "a b", type: 2, value: -1.5e-7 },
      { name: "i", type: 1, value: -9n },
      { name: "m", type: 19, value: new Uint8Array([0x81, 1, 2]) },
      { name: "z", type: 17, value: false },
    ],
  });
  return w.subarray().slice();
}

/** An ASBX file of XDR writes and deletes of every particle type. */
function writtenAsbx(): Uint8Array {
  const enc = new AsbxEncoder("test");
  const w = new ByteWriter();
  w.bytes(enc.nextFile("0_").header);
  const records = sampleRecords(40);
  for (const [i, r] of records.entries()) {
    const msg = i % 9 === 8 ? encodeXdrDelete(r, { generation: 3 }) : encodeXdrWrite(r);
    const payload = xdrPayload(msg.subarray(8));
    enc.encodeToken(w, { namespace: "test", digest: r.digest, payload });
  }
  return w.subarray().slice();
}

async function transform(
  bytes: Uint8Array,
  stage: TransformStream<Uint8Array, Uint8Array>,
): Promise<Uint8Array> {
  return new Uint8Array(
    await new Response(ReadableStream.from([bytes]).pipeThrough(stage)).arrayBuffer(),
  );
}

/** What a file target needs to know about its input kind. */
interface FileKind {
  name: string;
  about: string;
  ciIterations: number;
  format: BackupFormat;
  compression: CompressionPolicy;
  encryption?: "AES128" | "AES256";
  seeds(key: Uint8Array | undefined): Promise<Uint8Array[]>;
}

interface FileEnv {
  key: Uint8Array | undefined;
}

/** The file name errors must name. */
const FILE = "fuzz/0_test_1.asbx";

function fileTarget(kind: FileKind): FuzzTarget<FileEnv> {
  const file = kind.format === "asbx" ? FILE : `fuzz/${kind.name}_00000.asb`;
  return {
    name: kind.name,
    about: kind.about,
    ciIterations: kind.ciIterations,
    timeoutMs: 10_000,
    async open() {
      const key = kind.encryption
        ? await loadEncryptionKey({ mode: kind.encryption, keyFile: SAMPLE_KEY })
        : undefined;
      return { key };
    },
    async close() {},
    seeds: (env) => kind.seeds(env.key),
    async run(input, env, r) {
      const chain = openReadChain(chunkedBy(input, r), {
        compression: kind.compression,
        encryptionKey: env.key,
        file,
        checkHeader: kind.format,
      });
      if (kind.format === "asb") {
        for await (const _ of decodeAsb(chain.readable, { file })) { /* every token */ }
        return;
      }
      for await (const token of decodeAsbx(chain.readable, { file, fileNumber: 1 })) {
        checkReplayPayload(token, file);
        patchReplayPayload(token.payload, {
          generationPolicy: "expectGenGreater",
          recordExistsAction: "replace",
        });
      }
    },
    judge(err, input) {
      const wrong = namesSource(err, [file]);
      if (wrong) return wrong;
      const loc = (err as AerobakError).location;
      if (loc?.file !== undefined && loc.file !== file) return `location names ${loc.file}`;
      if (err instanceof AerobakError && err.code === "ASB_SYNTAX") {
        if (!(loc!.line! >= 1 && loc!.column! >= 1 && loc!.offset! >= 0)) {
          return `ASB_SYNTAX without line, column and offset: ${JSON.stringify(loc)}`;
        }
      }
      if (err instanceof AerobakError && /^(ZSTD|ENCRYPTION)_/.test(err.code)) {
        if (loc?.offset === undefined) return "no byte offset in the location";
        if (loc.offset > input.length) return `offset ${loc.offset} past the end`;
      }
      return null;
    },
  };
}

/** The C samples of one option set. */
function cSamples(dir: string): Promise<Uint8Array[]> {
  return Promise.all([read(`${C_SAMPLES}${dir}/test_00000.asb`)]);
}

/** Plain ASB written by aerobak, then compressed and/or encrypted as `kind` says. */
async function written(
  records: number,
  zstd: boolean,
  key: Uint8Array | undefined,
): Promise<Uint8Array> {
  let bytes = writtenAsb(records);
  if (zstd) bytes = await transform(bytes, createCompressStream({ mode: "ZSTD", level: 3 }));
  if (key) {
    const counter = new Uint8Array(16).fill(7);
    bytes = await transform(bytes, createEncryptStream(key, { counter }));
  }
  return bytes;
}

/** ASB files: the decoder of both dialects, escapes, huge lengths and counts. */
export const asbTarget: FuzzTarget<FileEnv> = fileTarget({
  name: "asb",
  about: "ASB files (C and backup-go dialects, compact, escapes) through decodeAsb",
  ciIterations: 3000,
  format: "asb",
  compression: { mode: "NONE" },
  seeds: async () => [
    await read(`${C_SAMPLES}plain/test_00000.asb`),
    await read(`${C_SAMPLES}compact/test_00000.asb`),
    await read(`${C_SAMPLES}single.asb`),
    await read(`${C_SAMPLES}split/test_00001.asb`),
    await read(`${TESTDATA}asb-examples/0_test_2.asb`),
    await read(`${TESTDATA}asb-examples/metadata_test_1.asb`),
    await read(`${TESTDATA}asb-examples/test_00000.asb`),
    escapesAsb(),
    writtenAsb(30, true),
  ],
});

/** ASBX files: header, record framing and the XDR payloads a replay checks and patches. */
export const asbxTarget: FuzzTarget<FileEnv> = fileTarget({
  name: "asbx",
  about: "ASBX files of XDR writes and deletes through decodeAsbx and the replay checks",
  ciIterations: 3000,
  format: "asbx",
  compression: { mode: "NONE" },
  seeds: () => Promise.resolve([writtenAsbx()]),
});

/** zstd frames: the C sample (with its trailing empty frame) and a big, compressible file. */
export const zstdTarget: FuzzTarget<FileEnv> = fileTarget({
  name: "zstd",
  about: "zstd-compressed ASB files through the read chain",
  ciIterations: 600,
  format: "asb",
  compression: { mode: "ZSTD" },
  seeds: async () => [...await cSamples("zstd"), await written(2000, true, undefined)],
});

/** AES-256-CTR streams of plain ASB. */
export const aes256Target: FuzzTarget<FileEnv> = fileTarget({
  name: "aes256",
  about: "AES-256-CTR encrypted ASB files through the read chain",
  ciIterations: 1000,
  format: "asb",
  compression: { mode: "NONE" },
  encryption: "AES256",
  seeds: async (key) => [...await cSamples("aes256"), await written(200, false, key)],
});

/** AES-128-CTR streams of zstd frames. */
export const zstdAes128Target: FuzzTarget<FileEnv> = fileTarget({
  name: "zstd-aes128",
  about: "zstd-compressed, AES-128-CTR encrypted ASB files through the read chain",
  ciIterations: 600,
  format: "asb",
  compression: { mode: "ZSTD" },
  encryption: "AES128",
  seeds: async (key) => [...await cSamples("zstd-aes128"), await written(2000, true, key)],
});
