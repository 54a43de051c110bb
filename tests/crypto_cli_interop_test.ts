/**
 * Interchangeability of compressed and encrypted backups with the reference tools:
 * `asrestore` reads what the C asbackup 4.5.8 wrote (zstd, aes256, zstd+aes128), and what
 * our `asbackup` writes decrypts with the `openssl` command line and decompresses with the
 * `zstd` command line.
 */

import assert from "node:assert/strict";
import type { AerospikeRecord } from "../lib/aerospike/record.ts";
import { decodeAsb } from "../lib/format/asb/decoder.ts";
import { runCommand } from "../lib/io/_test_helpers.ts";
import {
  asbackup,
  asrestore,
  assertOk,
  assertSameRecords,
  C_SAMPLES,
  emulator3,
  listFiles,
  SAMPLE_KEY,
  seedRecords,
} from "./_crypto_helpers.ts";

/** Runs a command; `null` when the program is not installed. */
async function tool(
  cmd: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: Uint8Array; stderr: string } | null> {
  try {
    return await runCommand(cmd, args, stdin);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

async function must(cmd: string, args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const r = await tool(cmd, args, stdin);
  assert.ok(r !== null, `${cmd} is not installed`);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const MISSING = (await Promise.all(
  [["openssl", "version"], ["zstd", "--version"]].map(async ([cmd, arg]) =>
    (await tool(cmd, [arg])) === null ? cmd : ""
  ),
)).filter((c) => c !== "");
if (MISSING.length > 0) {
  console.warn(
    `crypto_cli_interop_test: skipping the openssl/zstd check: ${MISSING.join(" and ")} ` +
      "not installed (CI installs both)",
  );
}

/** Records without a TTL (a sample record expires at a fixed time, so it may be gone). */
function lasting(records: AerospikeRecord[]): AerospikeRecord[] {
  return records.filter((r) => r.voidTime === 0);
}

Deno.test("asrestore restores the C asbackup zstd, aes256 and zstd-aes128 samples like the plain one", async () => {
  const restoreSample = async (sample: string, flags: string[]) => {
    const emu = await emulator3();
    const run = await asrestore(["-h", emu.seeds, "-d", `${C_SAMPLES}${sample}`, ...flags]);
    assertOk(run, `asrestore of sample ${sample}`);
    // 19 records: 18 without a TTL, one that may have expired by now.
    const inserted = Number(/Inserted Records: +(\d+)/.exec(run.stderr)?.[1]);
    const expired = Number(/Expired Records: +(\d+)/.exec(run.stderr)?.[1]);
    assert.equal(inserted + expired, 19, run.stderr);
    assert.match(run.stderr, /sIndex Read: +3\n/);
    assert.match(run.stderr, /UDFs Read: +1\n/);
    return emu;
  };
  await using plain = await restoreSample("plain", []);
  const expected = lasting(plain.dump("test"));
  assert.equal(expected.length, 18);
  const key = ["--encryption-key-file", SAMPLE_KEY];
  for (
    const [sample, flags] of [
      ["zstd", ["-z", "ZSTD"]],
      ["aes256", ["--encrypt", "AES256", ...key]],
      ["zstd-aes128", ["--compress", "zstd", "--encrypt", "aes128", ...key]],
    ] as const
  ) {
    await using emu = await restoreSample(sample, [...flags]);
    assertSameRecords(lasting(emu.dump("test")), expected);
    const defs = (e: typeof emu) => e.sindexes.map(({ createdAtMs: _, readyAtMs: __, ...d }) => d);
    assert.deepEqual(defs(emu), defs(plain), `sindexes of ${sample}`);
    assert.deepEqual(emu.udfs, plain.udfs, `UDFs of ${sample}`);
  }
});

Deno.test({
  name:
    "asbackup --compress zstd --encrypt aes256 output decrypts with openssl and decompresses with zstd",
  ignore: MISSING.length > 0,
  async fn() {
    await using source = await emulator3();
    seedRecords(source, 200);
    const dir = await Deno.makeTempDir({ prefix: "aerobak-interop-" });
    try {
      const run = await asbackup([
        "-h",
        source.seeds,
        "-n",
        "test",
        "-o",
        `${dir}/all.asb`,
        "--compress",
        "zstd",
        "--encrypt",
        "aes256",
        "--encryption-key-file",
        SAMPLE_KEY,
      ]);
      assertOk(run, "asbackup");
      assert.deepEqual((await listFiles(dir)).map((f) => f.name), [
        "all.asb",
        "all.asb.manifest.json",
      ]);
      const file = await Deno.readFile(`${dir}/all.asb`);

      // The AES key, by the command line alone: SHA-256 of the key's PKCS#1 DER.
      const der = await must("openssl", [
        "rsa",
        "-in",
        SAMPLE_KEY,
        "-outform",
        "DER",
        "-traditional",
      ]);
      const keyHex = new TextDecoder().decode(
        await must("openssl", ["dgst", "-sha256", "-hex", "-r"], der),
      ).split(" ")[0];
      assert.match(keyHex, /^[0-9a-f]{64}$/);

      // First block: AES-ECB of the initial counter C0; the data is AES-CTR from C0 + 1.
      const c0 = await must(
        "openssl",
        ["enc", "-d", "-aes-256-ecb", "-K", keyHex, "-nopad"],
        file.subarray(0, 16),
      );
      assert.equal(c0.length, 16);
      let iv = BigInt(`0x${Array.from(c0, (b) => b.toString(16).padStart(2, "0")).join("")}`);
      iv = (iv + 1n) & ((1n << 128n) - 1n);
      const zst = await must(
        "openssl",
        ["enc", "-d", "-aes-256-ctr", "-K", keyHex, "-iv", iv.toString(16).padStart(32, "0")],
        file.subarray(16),
      );
      const text = await must("zstd", ["-d", "-c", "-q"], zst);
      assert.equal(new TextDecoder().decode(text.subarray(0, 12)), "Version 3.1\n");

      // Our decoder accepts the text the reference tools produced, with every record.
      const records: AerospikeRecord[] = [];
      for await (const token of decodeAsb(ReadableStream.from([text]), { file: "openssl+zstd" })) {
        if (token.kind === "record") records.push(token.record);
      }
      assertSameRecords(records, source.dump("test"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
