/**
 * Framing of Secret Agent messages: `u32be magic 0x51DEC1CC`, `u32be JSON length`, JSON.
 *
 * @module
 */

/** Magic number that starts every Secret Agent message ("sidekick" in hexspeak). */
export const SECRET_AGENT_MAGIC = 0x51dec1cc;
/** Size of the message header. */
export const SECRET_AGENT_HEADER_SIZE = 8;
/** Largest message body accepted, checked before allocating. */
export const SECRET_AGENT_MAX_MESSAGE = 1 << 20;

/** A request for one secret (`{"Resource":..,"SecretKey":..}`). */
export interface SecretRequest {
  /** Resource (secret manager entry) holding the key; `""` when the agent needs none. */
  resource: string;
  /** Key of the secret inside the resource. */
  key: string;
}

/** The agent's answer (`{"SecretValue":..,"Error":..}`). */
export interface SecretResponse {
  /** The secret, as the agent stores it. */
  value?: string;
  /** A non-empty message when the agent failed. */
  error?: string;
}

/**
 * Frames a JSON body with the Secret Agent header.
 *
 * @param body Any JSON-serialisable value.
 * @returns Header and body.
 * @throws {RangeError} When the body exceeds {@linkcode SECRET_AGENT_MAX_MESSAGE}.
 */
export function encodeSecretAgentMessage(body: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(body));
  if (json.length > SECRET_AGENT_MAX_MESSAGE) {
    throw new RangeError(
      `Cannot send a Secret Agent message of ${json.length} bytes: limit is ${SECRET_AGENT_MAX_MESSAGE}`,
    );
  }
  const out = new Uint8Array(SECRET_AGENT_HEADER_SIZE + json.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SECRET_AGENT_MAGIC);
  dv.setUint32(4, json.length);
  out.set(json, SECRET_AGENT_HEADER_SIZE);
  return out;
}

/**
 * Encodes a request as backup-go does (both fields always present).
 *
 * @param request Resource and key.
 * @returns The framed request.
 */
export function encodeSecretRequest(request: SecretRequest): Uint8Array {
  return encodeSecretAgentMessage({ Resource: request.resource, SecretKey: request.key });
}

/**
 * Reads the body length from a message header.
 *
 * @param header At least 8 bytes.
 * @returns The body length.
 * @throws {RangeError} For a wrong magic number or a body above the limit; the message
 *   names the value found.
 */
export function readSecretAgentHeader(header: Uint8Array): number {
  const dv = new DataView(header.buffer, header.byteOffset, SECRET_AGENT_HEADER_SIZE);
  const magic = dv.getUint32(0);
  if (magic !== SECRET_AGENT_MAGIC) {
    throw new RangeError(
      `invalid magic number 0x${magic.toString(16).padStart(8, "0")}, expected 0x51dec1cc`,
    );
  }
  const size = dv.getUint32(4);
  if (size > SECRET_AGENT_MAX_MESSAGE) {
    throw new RangeError(
      `message body of ${size} bytes exceeds the limit of ${SECRET_AGENT_MAX_MESSAGE}`,
    );
  }
  return size;
}

/**
 * Parses a response body.
 *
 * @param body JSON bytes.
 * @returns Value and/or error.
 * @throws {SyntaxError} When the body is not a JSON object with string fields.
 */
export function decodeSecretResponse(body: Uint8Array): SecretResponse {
  const v = JSON.parse(new TextDecoder().decode(body)) as unknown;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new SyntaxError("response is not a JSON object");
  }
  const o = v as Record<string, unknown>;
  const out: SecretResponse = {};
  for (const [field, name] of [["SecretValue", "value"], ["Error", "error"]] as const) {
    const x = o[field];
    if (x === undefined || x === null) continue;
    if (typeof x !== "string") throw new SyntaxError(`response field ${field} is not a string`);
    out[name] = x;
  }
  return out;
}

/**
 * Parses a request body (for agents and test servers).
 *
 * @param body JSON bytes.
 * @returns Resource (`""` when absent) and key.
 * @throws {SyntaxError} When the body is not a request.
 */
export function decodeSecretRequest(body: Uint8Array): SecretRequest {
  const v = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown> | null;
  const key = v?.SecretKey;
  const resource = v?.Resource ?? "";
  if (typeof key !== "string" || typeof resource !== "string") {
    throw new SyntaxError("request needs string fields SecretKey and Resource");
  }
  return { resource, key };
}
