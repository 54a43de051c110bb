import assert from "node:assert/strict";
import { join } from "node:path";
import { DirectoryReader } from "../io/local_reader.ts";
import { resolveRestoreConfig } from "./config.ts";
import { startRestore } from "./restore.ts";

const HEAD = "Version 3.1\n# namespace test\n";

function record(ns: string, i: number): string {
  return `+ n ${ns}\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ s demo\n+ g ${i}\n+ t 0\n+ b 1\n- I a ${i}\n`;
}

async function validate(records: string[]) {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "x.asb");
  await Deno.writeTextFile(file, HEAD + records.join(""));
  try {
    const config = resolveRestoreConfig({
      validateOnly: true,
      namespace: { source: "test", destination: "bar" },
    });
    const stats = await startRestore(null, config, new DirectoryReader(dir)).wait();
    return { stats, file };
  } catch (e) {
    return { error: e, file };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("startRestore() reads every record of a file in a validate-only run", async () => {
  const { stats } = await validate(Array.from({ length: 500 }, (_, i) => record("test", i)));
  assert.equal(stats?.recordsRead, 500);
});

for (const at of [0, 2]) {
  // Record 0 comes through the reader's generator, record 2 through its fast path.
  Deno.test(`startRestore() names the file and line of record ${at} outside the source namespace`, async () => {
    const records = [0, 1, 2, 3].map((i) => record(i === at ? "other" : "test", i));
    const { error, file } = await validate(records);
    assert.ok(error, "the restore did not fail");
    assert.equal((error as { code: string }).code, "NAMESPACE_MISMATCH");
    // The header's 2 lines, then 7 lines per record: the bad record ends on this line.
    assert.deepEqual((error as { location: unknown }).location, { file, line: 2 + 7 * (at + 1) });
  });
}
