import assert from "node:assert/strict";
import { run, sampleText } from "./_test_helpers.ts";
import { Xxh64 } from "./_xxh64.ts";

Deno.test("Xxh64.digest32() matches the checksums the zstd CLI writes, at every tail length", async () => {
  const h = new Xxh64();
  for (const n of [0, 1, 3, 4, 7, 8, 12, 31, 32, 33, 63, 64, 65, 1000, 100_003]) {
    const data = sampleText(n).subarray(0, n);
    const z = await run("zstd", ["-c", "-q", "--check"], data);
    const want = new DataView(z.buffer, z.byteOffset + z.length - 4).getUint32(0, true);
    h.reset();
    for (let i = 0; i < n; i += 13) h.update(data.subarray(i, i + 13));
    assert.equal(h.digest32(), want, `length ${n}`);
  }
});
