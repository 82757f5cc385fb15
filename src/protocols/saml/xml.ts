/**
 * Reading untrusted SAML XML. A document type declaration is refused before parsing, so no
 * DTD, external entity or entity expansion is ever processed; anything the parser complains
 * about is refused too (xmldom otherwise recovers and builds a tree from broken input). Size is
 * capped by the caller's decoding (bindings.ts). The lookups walk direct children only: a
 * value is read from where SAML puts it, never found by a search that an attacker's extra
 * element could answer first.
 */
import { DOMParser } from "@xmldom/xmldom";

/** A message that is not acceptable SAML; its text is safe to show and to audit. */
export class SamlInputError extends Error {
  override readonly name = "SamlInputError";
}

/** The largest SAML message read, after base64 decoding and inflating. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export function parseXml(text: string, what: string): Document {
  if (Buffer.byteLength(text, "utf8") > MAX_MESSAGE_BYTES) throw new SamlInputError(`the ${what} is larger than ${MAX_MESSAGE_BYTES / 1024} KiB`);
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new SamlInputError(`the ${what} has a document type declaration (DTDs and entities are refused)`);
  const problems: string[] = [];
  const parser = new DOMParser({
    errorHandler: {
      warning: (message: string) => problems.push(message),
      error: (message: string) => problems.push(message),
      fatalError: (message: string) => problems.push(message),
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(text, "text/xml");
  } catch {
    throw new SamlInputError(`the ${what} is not well-formed XML`);
  }
  if (problems.length > 0 || doc.documentElement === null || doc.documentElement === undefined) {
    throw new SamlInputError(`the ${what} is not well-formed XML`);
  }
  return doc;
}

export function isElement(node: Node | null | undefined, ns: string, localName: string): node is Element {
  return node !== null && node !== undefined && node.nodeType === 1 && (node as Element).namespaceURI === ns && (node as Element).localName === localName;
}

/** The direct child elements of `parent` with this name. */
export function children(parent: Element, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (isElement(node, ns, localName)) found.push(node);
  }
  return found;
}

/** The one direct child with this name, null when none; refused when repeated. */
export function onlyChild(parent: Element, ns: string, localName: string, what: string): Element | null {
  const found = children(parent, ns, localName);
  if (found.length > 1) throw new SamlInputError(`the ${what} has more than one ${localName}`);
  return found[0] ?? null;
}

/** The element's text, trimmed (SAML values are never meant to carry surrounding white space). */
export function textOf(element: Element): string {
  return (element.textContent ?? "").trim();
}

/** The value of an attribute without a namespace, null when absent. */
export function attribute(element: Element, name: string): string | null {
  return element.hasAttribute(name) ? element.getAttribute(name) : null;
}

/** Every element of the document, depth first. */
export function allElements(doc: Document): Element[] {
  const found: Element[] = [];
  const walk = (node: Node): void => {
    for (let child = node.firstChild; child !== null; child = child.nextSibling) {
      if (child.nodeType === 1) {
        found.push(child as Element);
        walk(child);
      }
    }
  };
  walk(doc);
  return found;
}

/** Parses an xs:dateTime as SAML writes it (UTC), into seconds; null when it is not one. */
export function parseInstant(text: string | null): number | null {
  if (text === null || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export function instant(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
