/**
 * Demo: start a 3-node emulator, seed sample data, back up namespace `test`, restore it
 * into namespace `bar`, and check both hold the same records.
 *
 * Run with `deno task demo`.
 *
 * @module
 */

import { Cluster } from "../lib/aerospike/cluster.ts";
import { CITRUSLEAF_EPOCH_SECONDS } from "../lib/aerospike/record.ts";
import { canonicalDump, seededEmulator } from "../lib/_job_test_helpers.ts";
import { BackupClient } from "../lib/client.ts";
import { DirectoryReader } from "../lib/io/local_reader.ts";
import { DirectoryWriter } from "../lib/io/local_writer.ts";

const RECORDS = 10_000;

async function main(): Promise<number> {
  await using emu = await seededEmulator(RECORDS, 3);
  console.log(
    `Started a 3-node emulator at ${emu.seeds} with ${RECORDS} records in namespace test`,
  );
  const dir = await Deno.makeTempDir({ prefix: "aerobak-demo-" });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const client = new BackupClient(cluster);

  const backup = await client.backup(
    { namespace: "test", parallelRead: 4, parallelWrite: 4, compression: { mode: "ZSTD" } },
    new DirectoryWriter(dir),
  ).wait();
  console.log(
    `Backed up ${backup.recordsRead} records into ${backup.filesWritten} files ` +
      `(${backup.bytesWritten} bytes, ZSTD) in ${dir} in ${backup.durationMs} ms`,
  );

  const restore = await client.restore(
    { namespace: { source: "test", destination: "bar" }, compression: { mode: "ZSTD" } },
    new DirectoryReader(dir),
    { now: () => emu.nowSeconds() + CITRUSLEAF_EPOCH_SECONDS },
  ).wait();
  console.log(
    `Restored into bar: ${restore.recordsInserted} inserted, ${restore.recordsExpired} expired, ` +
      `${restore.recordsIgnored} ignored, ${restore.bytesRead} bytes read in ${restore.durationMs} ms`,
  );

  const a = canonicalDump(emu.dump("test"), "x");
  const b = canonicalDump(emu.dump("bar"), "x");
  const same = a.length === b.length && a.every((v, i) => v === b[i]);
  console.log(same ? `Verified: test and bar hold the same ${a.length} records` : "MISMATCH");
  await Deno.remove(dir, { recursive: true });
  return same ? 0 : 1;
}

Deno.exit(await main());
