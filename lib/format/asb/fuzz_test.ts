import assert from "node:assert/strict";
import { ByteWriter } from "../../aerospike/byte_writer.ts";
import { AerobakError } from "../../errors.ts";
import { AsbEncoder } from "./encoder.ts";
import { AsbParser } from "./parser.ts";
import { rng } from "./_test_util.ts";

const SAMPLES = new URL("../../../testdata/c-asbackup-4.5.8/", import.meta.url);

function seeds(): Uint8Array[] {
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
  return [
    Deno.readFileSync(new URL("plain/test_00000.asb", SAMPLES)),
    Deno.readFileSync(new URL("compact/test_00000.asb", SAMPLES)),
    w.subarray().slice(),
  ];
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const int = (n: number) => Math.floor(r() * n);
  let b = src.slice();
  const edits = 1 + int(4);
  const interesting = [0x0a, 0x20, 0x5c, 0x21, 0x2b, 0x2d, 0x2a, 0x23, 0x30, 0x39, 0x3d, 0xff, 0];
  for (let e = 0; e < edits; e++) {
    const at = int(b.length + 1);
    switch (int(5)) {
      case 0: // flip a byte
        if (at < b.length) b[at] = r() < 0.5 ? int(256) : interesting[int(interesting.length)];
        break;
      case 1: { // insert bytes
        const ins = Uint8Array.from(
          { length: 1 + int(4) },
          () => interesting[int(interesting.length)],
        );
        b = new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 2: // delete a run
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1 + int(8))]);
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      default: { // make a digit string huge
        const digits = new TextEncoder().encode(String(int(2 ** 31)) + "999999");
        b = new Uint8Array([...b.subarray(0, at), ...digits, ...b.subarray(at)]);
      }
    }
  }
  return b;
}

Deno.test("AsbParser on mutated files only throws located ASB_SYNTAX errors and terminates", () => {
  const r = rng(20240601);
  const inputs = seeds();
  const deadline = Date.now() + 2000;
  let runs = 0, failures = 0;
  while (Date.now() < deadline) {
    const bytes = mutate(inputs[runs % inputs.length], r);
    const p = new AsbParser({ file: "fuzz.asb", maxValueLength: 1 << 20 });
    const chunk = runs % 3 === 0 ? 1 + Math.floor(r() * 50) : bytes.length || 1;
    let tokens = 0;
    try {
      for (let i = 0; i < bytes.length; i += chunk) {
        p.push(bytes.subarray(i, i + chunk));
        while (p.next() !== undefined) tokens++;
      }
      p.end();
      while (p.next() !== undefined) tokens++;
      assert.equal(p.done, true);
    } catch (e) {
      if (!(e instanceof AerobakError)) throw new Error(`Run ${runs}: ${e}`, { cause: e });
      assert.equal(e.code, "ASB_SYNTAX");
      const loc = e.location!;
      assert.equal(loc.file, "fuzz.asb");
      assert.ok(
        loc.line! >= 1 && loc.column! >= 1 && loc.offset! >= 0 && loc.offset! <= bytes.length,
      );
      failures++;
    }
    assert.ok(tokens < 10000);
    runs++;
  }
  assert.ok(runs > 100 && failures > 0, `${runs} runs, ${failures} failures`);
});
