import assert from "node:assert/strict";
import { AerobakError } from "../../errors.ts";
import { AsbParser, type AsbToken } from "./parser.ts";
import { decodeAll } from "./_test_util.ts";

const te = new TextEncoder();
const HEAD = "Version 3.1\n# namespace test\n";
const REC = "+ n test\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ s demo\n+ g 1\n+ t 0\n+ b 2\n" +
  "- I a 1\n- S b 3 x\ny\n";

/** Location of the first occurrence of `marker` in `text` (+ `delta` bytes). */
function at(text: string, marker: string, delta = 0) {
  const offset = text.indexOf(marker) + delta;
  assert.ok(offset >= delta, `marker ${marker}`);
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { file: "bad.asb", line, column, offset };
}

async function expectError(
  text: string | Uint8Array,
  loc: { file: string; line: number; column: number; offset: number },
  message: RegExp,
): Promise<void> {
  const bytes = typeof text === "string" ? te.encode(text) : text;
  for (const sizes of [undefined, [1], [5, 3]]) {
    await assert.rejects(decodeAll(bytes, sizes, "bad.asb"), (e: unknown) => {
      assert.ok(e instanceof AerobakError, String(e));
      assert.equal(e.code, "ASB_SYNTAX");
      assert.deepEqual(e.location, loc, e.message);
      assert.match(e.message, message);
      assert.match(e.message, /bad\.asb:\d+:\d+ \(byte offset \d+\)/);
      return true;
    });
  }
}

Deno.test("decodeAsb() accepts the base text used by the error cases", async () => {
  const { tokens } = await decodeAll(te.encode(HEAD + REC + REC));
  assert.equal(tokens.length, 2);
});

Deno.test("decodeAsb() reports a truncated file at its end", async () => {
  const text = HEAD + REC + REC.slice(0, -3);
  await expectError(
    text,
    at(text + "@", "@"),
    /Unexpected end of file.*expected 3 bytes of string value/,
  );
  const text2 = HEAD + REC + "+ n test\n+ d AAAA";
  await expectError(text2, at(text2 + "@", "@"), /end of file.*28-character base64 digest/);
  const text3 = HEAD + "+ n test\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ g 1\n+ t 0\n+ b 2\n- I a 1\n";
  await expectError(text3, at(text3 + "@", "@"), /end of file.*bin line/);
});

Deno.test("decodeAsb() rejects an empty file and a file that is not ASB", async () => {
  await expectError("", { file: "bad.asb", line: 1, column: 1, offset: 0 }, /end of file/);
  await expectError(
    new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0]),
    { file: "bad.asb", line: 1, column: 1, offset: 0 },
    /Unexpected start of file.*compressed or encrypted/,
  );
});

Deno.test("decodeAsb() rejects a wrong version", async () => {
  for (const v of ["4.1", "3.3", "2.0", "3,1"]) {
    const text = `Version ${v}\n` + REC;
    await expectError(
      text,
      { file: "bad.asb", line: 1, column: 9, offset: 8 },
      new RegExp(`Unsupported ASB version '${v}'`),
    );
  }
});

Deno.test("decodeAsb() rejects an unknown bin type letter, LDT bins and unknown key types", async () => {
  const text = HEAD + REC.replace("- I a 1", "- Q a 1");
  await expectError(
    text,
    at(text, "Q a 1"),
    /Unknown bin type 'Q'.*expected one of N Z I D S X G B/,
  );
  const ldt = HEAD + REC.replace("- I a 1", "- U a 1");
  await expectError(ldt, at(ldt, "U a 1"), /LDT/);
  const key = HEAD + "+ k Q 1\n" + REC;
  await expectError(key, at(key, "Q 1"), /Unknown key type 'Q'/);
});

Deno.test("decodeAsb() rejects a bin count that does not match the bin lines", async () => {
  const more = HEAD + REC.replace("+ b 2", "+ b 3") + REC;
  await expectError(
    more,
    at(more, "+ n test", REC.length),
    /where bin 3 of 3 starts.*'\+ b' count/,
  );
  const fewer = HEAD + REC.replace("+ b 2", "+ b 1") + REC;
  await expectError(fewer, at(fewer, "- S b"), /bin line after the last bin.*count too small/);
});

Deno.test("decodeAsb() rejects tokens over 1000 bytes and accepts 1000", async () => {
  const ok = HEAD + REC.replace("- I a 1", `- I ${"n".repeat(999)}\\  1`);
  const { tokens } = await decodeAll(te.encode(ok));
  const rec = tokens[0] as Extract<AsbToken, { kind: "record" }>;
  assert.equal(rec.record.bins[0].name, "n".repeat(999) + " ");
  const long = HEAD + REC.replace("- I a 1", `- I ${"n".repeat(1001)} 1`);
  await expectError(long, at(long, "nnn"), /Token of the bin name too long.*at most 1000 bytes/);
  const ns = HEAD + REC.replace("+ n test", `+ n ${"s".repeat(2000)}`);
  await expectError(ns, at(ns, "sss"), /namespace too long/);
});

Deno.test("decodeAsb() rejects bad base64 at the bad character", async () => {
  const text = HEAD + REC.replace("- I a 1", "- B a 8 AAEC/w#=");
  await expectError(text, at(text, "w#=", 1), /Invalid base64 character '#' in bytes value/);
  const len = HEAD + REC.replace("- I a 1", "- B a 7 AAEC/w=");
  await expectError(len, at(len, " AAEC"), /Invalid base64 length 7/);
  const digest = HEAD + REC.replace("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  await expectError(digest, at(digest, "AAAA"), /Invalid digest/);
  const digest2 = HEAD +
    REC.replace("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAAAA.A=");
  await expectError(digest2, at(digest2, ".A="), /Invalid base64 character '\.' in digest/);
});

Deno.test("decodeAsb() rejects a length past the end, and a huge length before buffering", async () => {
  const text = HEAD + REC.replace("- S b 3 x\ny\n", "- S b 99 xyz\n");
  await expectError(text, at(text + "@", "@"), /end of file.*99 bytes of string value/);
  // A length above the cap fails at once, without waiting for (or buffering) the value.
  const p = new AsbParser({ file: "bad.asb", maxValueLength: 1000 });
  const huge = HEAD + REC.replace("- S b 3", "- S b 999999999999");
  p.push(te.encode(huge));
  assert.throws(() => p.next(), (e: unknown) => {
    assert.ok(e instanceof AerobakError);
    assert.deepEqual(e.location, at(huge, "999999999999"));
    assert.match(e.message, /Length 999999999999 of the string value exceeds the limit/);
    return true;
  });
  const digits = HEAD + REC.replace("- S b 3", "- S b 99999999999999999999");
  await expectError(digits, at(digits, "9999"), /Number too long/);
});

Deno.test("decodeAsb() rejects record lines out of order", async () => {
  const swapped = HEAD +
    REC.replace(
      "+ n test\n+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
      "+ d AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+ n test\n",
    );
  await expectError(
    swapped,
    at(swapped, "+ d"),
    /Unexpected record line '\+ d'.*expected '\+ k' or '\+ n'/,
  );
  // A control character where the letter goes is shown escaped: the message stays one line.
  const control = HEAD + REC.replace("+ s demo\n", "+ \n demo\n");
  await expectError(control, at(control, "+ \n"), /^Unexpected record line '\+ \\x0a'[^\n]*$/);
  const setLate = HEAD + REC.replace("+ s demo\n+ g 1\n", "+ g 1\n+ s demo\n");
  await expectError(setLate, at(setLate, "+ s"), /'\+ s'.*expected '\+ t'/);
  const keyLate = HEAD + REC.replace("+ d", "+ k I 1\n+ d");
  await expectError(keyLate, at(keyLate, "+ k"), /'\+ k'.*expected '\+ d'/);
  const meta = HEAD + REC + "# namespace x\n";
  await expectError(meta, at(meta, "# namespace x"), /metadata line after the first entity/);
  const unknownMeta = HEAD + "# foo\n" + REC;
  await expectError(unknownMeta, at(unknownMeta, "# foo"), /Unknown metadata line/);
  const global = HEAD + "* x y\n";
  await expectError(global, at(global, "* x"), /Unknown global line/);
  const junk = HEAD + "hello\n";
  await expectError(junk, at(junk, "hello"), /Unexpected byte 'h' at the start of a line/);
});

Deno.test("decodeAsb() rejects out-of-range numbers", async () => {
  const big = HEAD + REC.replace("- I a 1", "- I a 9223372036854775808");
  await expectError(big, at(big, "9223"), /out of range.*int64/);
  const gen = HEAD + REC.replace("+ g 1", "+ g 65536");
  await expectError(gen, at(gen, "65536", 4), /Generation 65536 out of range/);
  const flt = HEAD + REC.replace("- I a 1", "- D a 1.5E3x");
  await expectError(flt, at(flt, "1.5E3x"), /Invalid float '1.5E3x'/);
  const bool = HEAD + REC.replace("- I a 1", "- Z a X");
  await expectError(bool, at(bool, "X\n"), /Invalid bool 'X'/);
});

Deno.test("decodeAsb() counts LFs inside values and escaped names in error lines", async () => {
  const text = HEAD + REC.replace("- S b 3 x\ny\n", "- S b\\\nc 3 x\ny\n") + "- I c 1\n";
  await expectError(text, at(text, "- I c 1"), /bin line after the last bin/);
});

Deno.test("decodeAsb() reads 3.0 files without escaping and 3.2 expression indexes", async () => {
  const legacy = "Version 3.0\n" + REC.replace("- I a 1", "- I a\\b 1");
  const { header, tokens } = await decodeAll(te.encode(legacy));
  assert.equal(header.version, "3.0");
  assert.equal((tokens[0] as Extract<AsbToken, { kind: "record" }>).record.bins[0].name, "a\\b");
  const v32 = "Version 3.2\n# namespace test\n# first-file\n" +
    "* e test demo idx_exp N 1  N kwGTUQOjYWJj\n* e test  idx_ctx K 1  S kiKiA2E= kwGTUQOjYWJj\n";
  const out = await decodeAll(te.encode(v32));
  assert.deepEqual(out.header, { version: "3.2", namespace: "test", firstFile: true });
  assert.deepEqual(out.tokens, [
    {
      kind: "sindex",
      sindex: {
        namespace: "test",
        set: "demo",
        name: "idx_exp",
        indexType: "default",
        bin: "",
        binType: "numeric",
        expression: "kwGTUQOjYWJj",
      },
    },
    {
      kind: "sindex",
      sindex: {
        namespace: "test",
        set: "",
        name: "idx_ctx",
        indexType: "mapkeys",
        bin: "",
        binType: "string",
        context: "kiKiA2E=",
        expression: "kwGTUQOjYWJj",
      },
    },
  ]);
});

Deno.test("decodeAsb() reads every key form and '!' markers either tool writes", async () => {
  const text = HEAD +
    ["I -5", "D 0.25", "D nan", "S 3 a b", "S! 2 \n\n", "X 4 YWI=", "B 4 AQI=", "B! 2 \x01\x02"]
      .map((k) => `+ k ${k}\n` + REC).join("");
  const { tokens } = await decodeAll(te.encode(text));
  const keys = tokens.map((t) => (t as Extract<AsbToken, { kind: "record" }>).record.key);
  assert.deepEqual(keys, [
    { type: 1, value: -5n },
    { type: 2, value: 0.25 },
    { type: 2, value: NaN },
    { type: 3, value: te.encode("a b") },
    { type: 3, value: te.encode("\n\n") },
    { type: 3, value: te.encode("ab") },
    { type: 4, value: new Uint8Array([1, 2]) },
    { type: 4, value: new Uint8Array([1, 2]) },
  ]);
});

Deno.test("decodeAsb() maps C language blob letters to particles 7..12 and Go float text", async () => {
  const bins = ["J", "C", "P", "R", "H", "E"].map((l, i) => `- ${l} b${i} 4 AQI=\n`).join("") +
    "- D f1 +Inf\n- D f2 NaN\n- D f3 -inf\n- D f4 1e+21\n- D f5 1E-7\n- D f6 -0\n";
  const text = HEAD + REC.replace("+ b 2\n- I a 1\n- S b 3 x\ny\n", `+ b 12\n${bins}`);
  const { tokens } = await decodeAll(te.encode(text));
  const got = (tokens[0] as Extract<AsbToken, { kind: "record" }>).record.bins.map((
    b,
  ) => [b.type, b.value]);
  const two = new Uint8Array([1, 2]);
  assert.deepEqual(got, [
    [7, two],
    [8, two],
    [9, two],
    [10, two],
    [11, two],
    [12, two],
    [2, Infinity],
    [2, NaN],
    [2, -Infinity],
    [2, 1e21],
    [2, 1e-7],
    [2, -0],
  ]);
});
