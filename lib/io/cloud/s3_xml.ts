/**
 * A small, tolerant XML reader for the documents S3 answers with (ListObjectsV2 pages,
 * errors, upload ids): elements, text, entities and CDATA; declarations, comments,
 * processing instructions and attributes are skipped, namespace prefixes dropped.
 *
 * @module
 */

/** One element: its local name, child elements and the text directly inside it. */
export interface XmlElement {
  /** Local name (prefix dropped). */
  name: string;
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
 * import { parseXml, xmlText } from "./s3_xml.ts";
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
      const el: XmlElement = { name: localName(body.slice(0, nameEnd)), children: [], text: "" };
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
 * @param el The parent.
 * @param name Local name.
 * @returns The child, if any.
 */
export function xmlChild(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/**
 * The child elements with a name.
 *
 * @param el The parent.
 * @param name Local name.
 * @returns The children, in order.
 */
export function xmlChildren(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/**
 * The text of the first child element with a name.
 *
 * @param el The parent.
 * @param name Local name.
 * @returns Its text, or `undefined` without such a child.
 */
export function xmlText(el: XmlElement, name: string): string | undefined {
  return xmlChild(el, name)?.text;
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
