/**
 * Parsing of the small JSON files aerobak keeps beside backups (manifests, state files).
 *
 * @module
 */

/**
 * Decodes UTF-8 JSON that must be an object.
 *
 * @param bytes The file's content.
 * @param bad Makes the error to throw, from what is wrong and its cause.
 * @returns The object.
 * @throws What `bad` makes: `"not JSON"` or `"expected a JSON object"`.
 */
export function parseJsonObject(
  bytes: Uint8Array,
  bad: (what: string, cause?: unknown) => Error,
): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad("not JSON", e);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("expected a JSON object");
  return v as Record<string, unknown>;
}
