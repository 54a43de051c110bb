import assert from "node:assert/strict";
import {
  decimalLength,
  decimalScale,
  escapeName,
  formatFloatC,
  formatFloatFixed,
  formatFloatShortest,
  parseFloatText,
  shortDecimalLength,
  writeShortDecimal,
  writeUint,
} from "./_text.ts";
import { base64DecodedLength, base64Length, decodeBase64Into, writeBase64 } from "./_base64.ts";
import { rng } from "./_test_util.ts";

Deno.test("formatFloatC() matches printf %.17g", () => {
  const cases: [number, string][] = [
    [0.5, "0.5"],
    [1, "1"],
    [0.1, "0.10000000000000001"],
    [3.141592653589793, "3.1415926535897931"],
    [1e21, "1e+21"],
    [1e-5, "1.0000000000000001e-05"],
    [0.0001, "0.0001"],
    [1e16, "10000000000000000"],
    [1e17, "1e+17"],
    [-2.5e-300, "-2.5e-300"],
    [5e-324, "4.9406564584124654e-324"],
    [NaN, "nan"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [-0, "-0"],
    [123456789012345680, "1.2345678901234568e+17"],
  ];
  for (const [v, s] of cases) assert.equal(formatFloatC(v), s, String(v));
});

Deno.test("formatFloatC() matches glibc printf %.17g on random doubles", () => {
  // testdata/printf_17g.json: [hex of the big-endian double, Python "%.17g" % value].
  const table: [string, string][] = JSON.parse(
    Deno.readTextFileSync(new URL("testdata/printf_17g.json", import.meta.url)),
  );
  const view = new DataView(new ArrayBuffer(8));
  for (const [hex, text] of table) {
    for (let i = 0; i < 8; i++) view.setUint8(i, parseInt(hex.slice(i * 2, i * 2 + 2), 16));
    assert.equal(formatFloatC(view.getFloat64(0)), text, hex);
  }
});

Deno.test("formatFloatShortest() and formatFloatFixed() round-trip and use lowercase e", () => {
  assert.equal(formatFloatShortest(0.1), "0.1");
  assert.equal(formatFloatShortest(1e21), "1e+21");
  assert.equal(formatFloatShortest(-0), "-0");
  assert.equal(formatFloatShortest(NaN), "nan");
  assert.equal(formatFloatFixed(1e21), "1000000000000000000000");
  assert.equal(formatFloatFixed(5e-7), "0.0000005");
  assert.equal(formatFloatFixed(-1.5e-10), "-0.00000000015");
  const r = rng(1);
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 5000; i++) {
    view.setUint32(0, Math.floor(r() * 2 ** 32));
    view.setUint32(4, Math.floor(r() * 2 ** 32));
    const v = view.getFloat64(0);
    for (const f of [formatFloatShortest, formatFloatFixed, formatFloatC]) {
      const s = f(v);
      assert.ok(!s.includes("E"), s);
      assert.ok(Object.is(parseFloatText(s), v), `${f.name}(${v}) = ${s}`);
    }
  }
});

Deno.test("parseFloatText() accepts both tools' spellings and rejects others", () => {
  assert.equal(parseFloatText("+Inf"), Infinity);
  assert.equal(parseFloatText("-infinity"), -Infinity);
  assert.ok(Number.isNaN(parseFloatText("NaN")));
  assert.equal(parseFloatText("1E5"), 1e5);
  assert.equal(parseFloatText(".5"), 0.5);
  for (const bad of ["", "1e", "0x10", "1.2.3", "inff", " 1", "1_0"]) {
    assert.equal(parseFloatText(bad), undefined, bad);
  }
});

Deno.test("writeUint() and decimalLength() agree with String()", () => {
  const buf = new Uint8Array(32);
  for (const n of [0, 9, 10, 99, 100, 65535, 4294967295, Number.MAX_SAFE_INTEGER]) {
    const end = writeUint(buf, 3, n);
    assert.equal(end - 3, decimalLength(n));
    assert.equal(new TextDecoder().decode(buf.subarray(3, end)), String(n));
  }
});

Deno.test("escapeName() escapes backslash, space and LF only", () => {
  assert.equal(new TextDecoder().decode(escapeName("a b\\c\nd\té")), "a\\ b\\\\c\\\nd\té");
  assert.equal(escapeName("plain").length, 5);
});

Deno.test("writeBase64() and decodeBase64Into() match btoa() for every length", () => {
  const r = rng(5);
  for (let n = 0; n < 100; n++) {
    const src = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const out = new Uint8Array(base64Length(n));
    assert.equal(writeBase64(out, 0, src), out.length);
    const text = new TextDecoder().decode(out);
    assert.equal(text, btoa(String.fromCharCode(...src)));
    assert.equal(base64DecodedLength(out, 0, out.length), n);
    const back = new Uint8Array(n);
    assert.equal(decodeBase64Into(out, 0, out.length, back), -1);
    assert.deepEqual(back, src);
  }
});

Deno.test("writeShortDecimal() writes what String() does for short decimals", () => {
  const next = rng(7);
  const buf = new Uint8Array(64);
  const td = new TextDecoder();
  let fast = 0;
  const check = (v: number) => {
    const k = decimalScale(v);
    if (k < 0) return;
    fast++;
    const end = writeShortDecimal(buf, 3, v, k);
    assert.equal(td.decode(buf.subarray(3, end)), String(v), `value ${v}`);
    assert.equal(end - 3, shortDecimalLength(v, k), `length of ${v}`);
  };
  for (let i = 0; i < 200_000; i++) {
    const digits = Math.floor(next() * 16);
    const places = Math.floor(next() * 7);
    const v = Math.floor(next() * 10 ** digits) / 10 ** places;
    check(next() < 0.5 ? -v : v);
    check(next() * 10 ** Math.floor(next() * 30 - 10));
    check(i / 7);
    check(i * 0.1);
  }
  for (
    const v of [0.1, 1.1, 5, -5, 1e-6, 123.456, -0.001, 999999999999999.9, 0.30000000000000004]
  ) {
    check(v);
  }
  assert.ok(fast > 200_000, `only ${fast} values took the fast path`);
  for (const v of [0, -0, NaN, Infinity, -Infinity, 1e-7, 1e15, 2 ** 60, 1 / 3]) {
    assert.equal(decimalScale(v), -1, `scale of ${v}`);
  }
});
