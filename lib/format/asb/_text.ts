/**
 * ASCII helpers of the ASB text format: decimal integers written straight into buffers,
 * float text in the Go and C styles, and the escaping of names.
 *
 * @module
 */

/**
 * Number of decimal digits of a non-negative safe integer.
 *
 * @param n Integer 0..2^53-1.
 * @returns Digit count, at least 1.
 */
export function decimalLength(n: number): number {
  // Comparisons first: this runs several times per encoded record.
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  if (n < 1000000) return 6;
  if (n < 10000000) return 7;
  if (n < 100000000) return 8;
  if (n < 1000000000) return 9;
  if (n < 10000000000) return 10;
  let len = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

/**
 * Writes a non-negative safe integer in decimal.
 *
 * @param buf Destination.
 * @param offset Where to start.
 * @param n Integer 0..2^53-1.
 * @returns The offset after the last digit.
 */
export function writeUint(buf: Uint8Array, offset: number, n: number): number {
  if (n < 10) {
    buf[offset] = 48 + n;
    return offset + 1;
  }
  const end = offset + decimalLength(n);
  let p = end;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    buf[--p] = 48 + (n - q * 10);
    n = q;
  }
  buf[--p] = 48 + n;
  return end;
}

/**
 * Writes an ASCII string (every char code < 128) byte by byte.
 *
 * @param buf Destination.
 * @param offset Where to start.
 * @param s ASCII text.
 * @returns The offset after the text.
 */
export function writeAscii(buf: Uint8Array, offset: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[offset + i] = s.charCodeAt(i);
  return offset + s.length;
}

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000];

/**
 * The scale `k` (0..6) of a float that is a short decimal: `|v| × 10^k` is an integer
 * below 10^15 and divides back to `|v|` exactly; -1 for any other value (zero, NaN and
 * infinities included).
 *
 * For such a value the decimal text of that integer with the point moved `k` places is
 * exactly what {@linkcode formatFloatShortest} returns: it reads back to `v` (the quotient
 * of two exact doubles is correctly rounded, as parsing is), and below 10^15 one ulp is
 * under a fifth of 10^-k, so no other decimal with at most `k` places lies in `v`'s
 * rounding interval. {@linkcode writeShortDecimal} writes it with no string in between,
 * which matters on hot paths: `String(v)` results go through V8's number-string cache
 * and survive into the old generation.
 *
 * @param v The value.
 * @returns The scale, or -1.
 */
export function decimalScale(v: number): number {
  const a = v < 0 ? -v : v;
  if (a === 0) return -1;
  for (let k = 0; k <= 6; k++) {
    const m = a * POW10[k];
    if (!(m < 1e15)) return -1;
    if (Math.floor(m) === m && m / POW10[k] === a) return k;
  }
  return -1;
}

/**
 * Length of the text {@linkcode writeShortDecimal} writes.
 *
 * @param v The value.
 * @param k Its scale from {@linkcode decimalScale} (not -1).
 * @returns Number of bytes.
 */
export function shortDecimalLength(v: number, k: number): number {
  let m = (v < 0 ? -v : v) * POW10[k];
  while (k > 0 && m % 10 === 0) {
    m /= 10;
    k--;
  }
  const int = Math.floor(m / POW10[k]);
  return (v < 0 ? 1 : 0) + decimalLength(int) + (k > 0 ? 1 + k : 0);
}

/**
 * Writes the text of {@linkcode formatFloatShortest} for a value with a scale.
 *
 * @param buf Destination.
 * @param offset Where to start.
 * @param v The value.
 * @param k Its scale from {@linkcode decimalScale} (not -1).
 * @returns The offset after the text.
 */
export function writeShortDecimal(buf: Uint8Array, offset: number, v: number, k: number): number {
  let m = (v < 0 ? -v : v) * POW10[k];
  while (k > 0 && m % 10 === 0) {
    m /= 10;
    k--;
  }
  let p = offset;
  if (v < 0) buf[p++] = 0x2d;
  const int = Math.floor(m / POW10[k]);
  p = writeUint(buf, p, int);
  if (k > 0) {
    buf[p] = 0x2e;
    // The fraction, zero-padded to k digits, written from the last digit back.
    let frac = m - int * POW10[k];
    for (let i = k; i > 0; i--) {
      const q = Math.floor(frac / 10);
      buf[p + i] = 48 + (frac - q * 10);
      frac = q;
    }
    p += 1 + k;
  }
  return p;
}

/**
 * Float text in the default (Go-compatible) style: the shortest text that reads back to the
 * same double, exponent in lowercase, `nan`/`inf`/`-inf` for non-finite values, `-0` kept.
 * Both the C and the Go readers accept every output.
 *
 * @param v The value.
 * @returns ASCII text.
 */
export function formatFloatShortest(v: number): string {
  if (v !== v) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  return String(v);
}

/**
 * Float text without exponent, shortest digits (Go `strconv.FormatFloat(v, 'f', -1, 64)`,
 * what backup-go writes for `+ k D` keys).
 *
 * @param v The value.
 * @returns ASCII text.
 */
export function formatFloatFixed(v: number): string {
  if (v !== v || v === Infinity || v === -Infinity || v === 0) return formatFloatShortest(v);
  const abs = Math.abs(v);
  if (abs >= 1e-6 && abs < 1e21) return String(v);
  const e = abs.toExponential();
  const at = e.indexOf("e");
  const digits = e.slice(0, at).replace(".", "");
  const exp = Number(e.slice(at + 1));
  const sign = v < 0 ? "-" : "";
  if (exp >= 0) return sign + digits + "0".repeat(exp + 1 - digits.length);
  return sign + "0." + "0".repeat(-exp - 1) + digits;
}

/**
 * Float text of C `printf("%.17g")`, what the C asbackup writes.
 *
 * @param v The value.
 * @returns ASCII text.
 */
export function formatFloatC(v: number): string {
  if (v !== v) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  let e = v.toExponential(16);
  // JS rounds exact ties up, printf rounds them to even: settle near-ties exactly.
  const wide = v.toExponential(20);
  const tail = wide.slice(wide.indexOf("e") - 4, wide.indexOf("e"));
  if (tail === "5000" || tail === "4999") e = exactExponential17(v);
  const at = e.indexOf("e");
  const exp = Number(e.slice(at + 1));
  const neg = e.charCodeAt(0) === 45;
  const mantissa = e.slice(neg ? 1 : 0, at);
  if (exp < -4 || exp >= 17) {
    const abs = exp < 0 ? -exp : exp;
    return (neg ? "-" : "") + stripZeros(mantissa) + (exp < 0 ? "e-" : "e+") +
      (abs < 10 ? "0" : "") +
      abs;
  }
  const digits = mantissa.charAt(0) + mantissa.slice(2);
  const fixed = exp >= 0
    ? digits.slice(0, exp + 1) + "." + digits.slice(exp + 1)
    : "0." + "0".repeat(-exp - 1) + digits;
  return (neg ? "-" : "") + stripZeros(fixed);
}

/** `v.toExponential(16)` with printf's round-half-even, from the exact binary value. */
function exactExponential17(v: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(v));
  const hi = view.getUint32(0), lo = view.getUint32(4);
  const biased = hi >>> 20;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2 = biased - 1075;
  if (biased === 0) e2 = -1074;
  else m |= 1n << 52n;
  // Exact decimal: digits × 10^-scale.
  let digits: string, scale: number;
  if (e2 >= 0) {
    digits = String(m << BigInt(e2));
    scale = 0;
  } else {
    digits = String(m * 5n ** BigInt(-e2));
    scale = -e2;
  }
  let exp = digits.length - 1 - scale;
  let kept = BigInt(digits.slice(0, 17).padEnd(17, "0"));
  const rest = digits.slice(17);
  if (rest.length > 0) {
    const first = rest.charCodeAt(0) - 48;
    const more = /[1-9]/.test(rest.slice(1));
    if (first > 5 || (first === 5 && (more || (kept & 1n) === 1n))) kept++;
  }
  let text = String(kept);
  if (text.length > 17) {
    text = text.slice(0, 17);
    exp++;
  }
  return (v < 0 ? "-" : "") + text[0] + "." + text.slice(1) + (exp < 0 ? "e" : "e+") + exp;
}

function stripZeros(s: string): string {
  if (s.indexOf(".") < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

const FLOAT_RE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const SPECIAL_RE = /^([+-]?)(nan|inf|infinity)$/i;

/**
 * Parses float text written by either tool (`%.17g`, Go `'g'`/`'f'`, `nan`, `inf`, `-inf`,
 * `NaN`, `+Inf`, any case).
 *
 * @param s The text.
 * @returns The value, or `undefined` when the text is not a float.
 */
export function parseFloatText(s: string): number | undefined {
  if (FLOAT_RE.test(s)) return Number(s);
  const m = SPECIAL_RE.exec(s);
  if (m === null) return undefined;
  if (m[2].toLowerCase() === "nan") return NaN;
  return m[1] === "-" ? -Infinity : Infinity;
}

const utf8 = new TextEncoder();

/**
 * The UTF-8 bytes of a name with `\`, space and LF escaped by a backslash (ASB §2).
 *
 * @param s The name.
 * @returns The escaped bytes.
 */
export function escapeName(s: string): Uint8Array {
  const raw = utf8.encode(s);
  let extra = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === 0x5c || b === 0x20 || b === 0x0a) extra++;
  }
  if (extra === 0) return raw;
  const out = new Uint8Array(raw.length + extra);
  let p = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === 0x5c || b === 0x20 || b === 0x0a) out[p++] = 0x5c;
    out[p++] = b;
  }
  return out;
}
