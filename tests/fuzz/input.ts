/**
 * The layout of structured fuzz inputs: one text line saying how to read the input (which
 * CLI, which provider, how to send it), then the damaged bytes. Only the bytes are
 * mutated; the line survives, so a saved input replays the same way.
 *
 * @module
 */

const NL = 0x0a;

/**
 * Joins a header line and a body into one input.
 *
 * @param head The line (without a line feed).
 * @param body The bytes (or text).
 * @returns `head`, a line feed, then `body`.
 */
export function withHeader(head: string, body: Uint8Array | string): Uint8Array {
  const h = new TextEncoder().encode(`${head}\n`);
  const b = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const out = new Uint8Array(h.length + b.length);
  out.set(h);
  out.set(b, h.length);
  return out;
}

/**
 * Splits an input made by {@linkcode withHeader}.
 *
 * @param input The input.
 * @returns The header line (`""` when there is no line feed) and the body.
 */
export function splitHeader(input: Uint8Array): [string, Uint8Array] {
  const nl = input.indexOf(NL);
  if (nl < 0) return ["", input];
  return [new TextDecoder().decode(input.subarray(0, nl)), input.subarray(nl + 1)];
}
