/**
 * A small, tolerant XML reader for the documents S3 and Azure Blob Storage answer with
 * (list pages, errors, upload ids): elements, attributes, text, entities and CDATA;
 * declarations, comments and processing instructions are skipped, element namespace prefixes
 * dropped.
 *
 * @module
 */

/** One element: its local name, attributes, child elements and the text directly inside it. */
export interface XmlElement {
  /** Local name (prefix dropped). */
  name: string;
  /** Attribute values (entities decoded) by name as written; read them with {@linkcode xmlAttribute}. */
  attributes: Record<string, string>;
  /** Child elements in document order. */
  children: XmlElement[];
  /** Text content directly inside the element (entities decoded). */
  text: string;
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

const ESCAPES: Record<string, string> = Object.fromEntries(
  Object.entries(ENTITIES).map(([name, ch]) => [ch, `&${name};`]),
);

/** `name="value"` or `name='value'` in a start tag. */
const ATTRIBUTE = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ent: string) => {
    if (ent[0] === "#") {
      const code = ent[1] === "x" || ent[1] === "X"
        ? parseInt(ent.slice(2), 16)
        : parseInt(ent.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ent] ?? whole;
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(":");
  return colon < 0 ? qname : qname.slice(colon + 1);
}

/**
 * Parses an XML document.
 *
 * @example
 * ```ts
 * import { parseXml, xmlText } from "./xml.ts";
 * const root = parseXml("<Error><Code>NoSuchKey</Code></Error>");
 * console.assert(xmlText(root, "Code") === "NoSuchKey");
 * ```
 *
 * @param text The document.
 * @returns The root element.
 * @throws {SyntaxError} for a document without a root, an unclosed tag or a mismatched
 *   closing tag, naming the character offset.
 */
export function parseXml(text: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let pos = 0;
  while (pos < text.length) {
    const lt = text.indexOf("<", pos);
    const chunk = text.slice(pos, lt < 0 ? text.length : lt);
    if (stack.length > 0 && chunk !== "") stack[stack.length - 1].text += decodeEntities(chunk);
    if (lt < 0) break;
    if (text.startsWith("<!--", lt)) {
      pos = skipPast(text, "-->", lt);
    } else if (text.startsWith("<![CDATA[", lt)) {
      const end = text.indexOf("]]>", lt);
      if (end < 0) throw new SyntaxError(`Cannot parse XML at offset ${lt}: unclosed CDATA`);
      if (stack.length > 0) stack[stack.length - 1].text += text.slice(lt + 9, end);
      pos = end + 3;
    } else if (text[lt + 1] === "?" || text[lt + 1] === "!") {
      pos = skipPast(text, ">", lt);
    } else if (text[lt + 1] === "/") {
      const gt = text.indexOf(">", lt);
      if (gt < 0) throw new SyntaxError(`Cannot parse XML at offset ${lt}: unclosed tag`);
      const name = localName(text.slice(lt + 2, gt).trim());
      const open = stack.pop();
      if (open === undefined || open.name !== name) {
        throw new SyntaxError(
          `Cannot parse XML at offset ${lt}: closing tag "${name}" does not match "${
            open?.name ?? ""
          }"`,
        );
      }
      pos = gt + 1;
    } else {
      const gt = tagEnd(text, lt);
      const selfClosing = text[gt - 1] === "/";
      const body = text.slice(lt + 1, selfClosing ? gt - 1 : gt);
      const nameEnd = body.search(/[\s/]|$/);
      const el: XmlElement = {
        name: localName(body.slice(0, nameEnd)),
        attributes: parseAttributes(body, nameEnd),
        children: [],
        text: "",
      };
      if (stack.length > 0) stack[stack.length - 1].children.push(el);
      else if (root === undefined) root = el;
      else throw new SyntaxError(`Cannot parse XML at offset ${lt}: a second root element`);
      if (!selfClosing) stack.push(el);
      pos = gt + 1;
    }
  }
  if (stack.length > 0) {
    throw new SyntaxError(`Cannot parse XML: element "${stack[stack.length - 1].name}" not closed`);
  }
  if (root === undefined) throw new SyntaxError("Cannot parse XML: no root element");
  return root;
}

/** The attributes of a start tag's `body` (between `<` and `>`) after its name. */
function parseAttributes(body: string, from: number): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (from >= body.length) return attributes;
  for (const m of body.slice(from).matchAll(ATTRIBUTE)) {
    attributes[m[1]] = decodeEntities(m[2] ?? m[3]);
  }
  return attributes;
}

function skipPast(text: string, marker: string, from: number): number {
  const end = text.indexOf(marker, from);
  if (end < 0) throw new SyntaxError(`Cannot parse XML at offset ${from}: unterminated markup`);
  return end + marker.length;
}

/** The `>` that ends a start tag, skipping quoted attribute values. */
function tagEnd(text: string, lt: number): number {
  let quote = "";
  for (let i = lt + 1; i < text.length; i++) {
    const c = text[i];
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === ">") {
      return i;
    }
  }
  throw new SyntaxError(`Cannot parse XML at offset ${lt}: unclosed tag`);
}

/**
 * The first child element with a name.
 *
 * @param el The parent; `undefined` (a missing parent) has no children.
 * @param name Local name.
 * @returns The child, if any.
 */
export function xmlChild(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/**
 * The child elements with a name.
 *
 * @param el The parent; `undefined` (a missing parent) has no children.
 * @param name Local name.
 * @returns The children, in order.
 */
export function xmlChildren(el: XmlElement | undefined, name: string): XmlElement[] {
  return el === undefined ? [] : el.children.filter((c) => c.name === name);
}

/**
 * The text of the first child element with a name.
 *
 * @param el The parent; `undefined` (a missing parent) has no children.
 * @param name Local name.
 * @returns Its text, or `undefined` without such a child.
 */
export function xmlText(el: XmlElement | undefined, name: string): string | undefined {
  return xmlChild(el, name)?.text;
}

/**
 * The value of an attribute.
 *
 * @param el The element.
 * @param name Attribute name as written (`Encoded`, `xmlns:s3`).
 * @returns Its value (entities decoded), or `undefined` without such an attribute.
 */
export function xmlAttribute(el: XmlElement, name: string): string | undefined {
  return Object.hasOwn(el.attributes, name) ? el.attributes[name] : undefined;
}

/**
 * The code and message of an `<Error>` answer, the error document of S3 and Azure Blob
 * Storage (`<Error><Code>NoSuchKey</Code><Message>…</Message></Error>`).
 *
 * @example
 * ```ts
 * import { xmlErrorFields } from "./xml.ts";
 * const fields = xmlErrorFields("<Error><Code>BlobNotFound</Code><Message>Gone</Message></Error>");
 * console.assert(fields.code === "BlobNotFound" && fields.message === "Gone");
 * ```
 *
 * @param text The answer's body.
 * @returns The root's `Code` and `Message` texts; `""` for a missing one, and for both when
 *   the body is no such XML (a proxy's page, an empty body).
 */
export function xmlErrorFields(text: string): { code: string; message: string } {
  if (text.includes("<Error")) {
    try {
      const root = parseXml(text);
      return { code: xmlText(root, "Code") ?? "", message: xmlText(root, "Message") ?? "" };
    } catch {
      // Not well-formed: the caller names the failure by its status.
    }
  }
  return { code: "", message: "" };
}

/**
 * Escapes text for an XML element or attribute value.
 *
 * @param text The text.
 * @returns The text with `& < > " '` as entities.
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}
