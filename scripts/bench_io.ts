/**
 * Throughput of the backup file stages on one core: zstd compress/decompress and AES-CTR
 * encrypt/decrypt, in MB/s of plain (uncompressed, unencrypted) bytes.
 *
 * Run: `deno run -A scripts/bench_io.ts [MiB]`.
 *
 * @module
 */

import { sampleText } from "../lib/io/_test_helpers.ts";
import { createCompressStream, createDecompressStream } from "../lib/io/compression.ts";
import { createDecryptStream, createEncryptStream } from "../lib/io/encryption.ts";

/** One measured stage. */
export interface IoBenchResult {
  /** Stage name, e.g. `"zstd-3 compress"`. */
  stage: string;
  /** Plain bytes processed per second, in MB/s (10^6 bytes). */
  mbPerSecond: number;
  /** Output size divided by input size. */
  ratio: number;
}

async function measure(
  input: Uint8Array,
  chunk: number,
  stage: TransformStream<Uint8Array, Uint8Array>,
  plainBytes: number,
) {
  const t0 = performance.now();
  const parts: Uint8Array[] = [];
  let out = 0;
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < input.length; i += chunk) c.enqueue(input.subarray(i, i + chunk));
      c.close();
    },
  });
  for await (const p of src.pipeThrough(stage)) {
    parts.push(p);
    out += p.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const joined = new Uint8Array(out);
  let o = 0;
  for (const p of parts) {
    joined.set(p, o);
    o += p.length;
  }
  return { seconds, output: joined, mbPerSecond: plainBytes / 1e6 / seconds };
}

/**
 * Measures each stage over `mib` MiB of ASB-like text in 64 KiB chunks.
 *
 * @param options `mib`: data size (default 64); `levels`: zstd levels (default [1, 3]).
 * @returns One result per stage.
 */
export async function benchIo(
  options: { mib?: number; levels?: number[] } = {},
): Promise<IoBenchResult[]> {
  const data = sampleText((options.mib ?? 64) * 1024 * 1024);
  const chunk = 64 * 1024;
  const results: IoBenchResult[] = [];
  for (const level of options.levels ?? [1, 3]) {
    const c = await measure(
      data,
      chunk,
      createCompressStream({ mode: "ZSTD", level }),
      data.length,
    );
    results.push({
      stage: `zstd-${level} compress`,
      mbPerSecond: c.mbPerSecond,
      ratio: c.output.length / data.length,
    });
    const d = await measure(c.output, chunk, createDecompressStream({ mode: "ZSTD" }), data.length);
    results.push({
      stage: `zstd-${level} decompress`,
      mbPerSecond: d.mbPerSecond,
      ratio: d.output.length / c.output.length,
    });
  }
  for (const bits of [128, 256]) {
    const key = crypto.getRandomValues(new Uint8Array(bits / 8));
    const e = await measure(data, chunk, createEncryptStream(key), data.length);
    results.push({
      stage: `aes${bits} encrypt`,
      mbPerSecond: e.mbPerSecond,
      ratio: e.output.length / data.length,
    });
    const d = await measure(e.output, chunk, createDecryptStream(key), data.length);
    results.push({
      stage: `aes${bits} decrypt`,
      mbPerSecond: d.mbPerSecond,
      ratio: d.output.length / e.output.length,
    });
  }
  return results;
}

if (import.meta.main) {
  const mib = Number(Deno.args[0] ?? 64);
  for (const r of await benchIo({ mib })) {
    console.log(
      `${r.stage.padEnd(20)} ${r.mbPerSecond.toFixed(0).padStart(6)} MB/s  ratio ${
        r.ratio.toFixed(3)
      }`,
    );
  }
}
