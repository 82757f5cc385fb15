/**
 * Search filters (RFC 4511 §4.5.1): decoded from a request and matched against an entry. Attribute
 * names ignore case; values compare as the attributes ssoctl serves are defined (case-ignoring
 * strings; DNs in their normal form), so `(UID=Alice)` finds alice as slapd would.
 */
import { BerError, BerReader, decodeString, type Element } from "./ber.js";
import { normalizeDnText, normalizeValue } from "./dn.js";

export type Filter =
  | { kind: "and" | "or"; filters: Filter[] }
  | { kind: "not"; filter: Filter }
  | { kind: "equal" | "greater" | "less" | "approx"; attribute: string; value: string }
  | { kind: "substrings"; attribute: string; initial: string | null; any: string[]; final: string | null }
  | { kind: "present"; attribute: string }
  /** Extensible matching is not offered: it matches nothing. */
  | { kind: "unsupported" };

/** Filters nested deeper than this are refused: no client needs it, and it bounds the work per entry. */
export const MAX_FILTER_DEPTH = 16;
/** Items in one and/or, and substrings parts: bounds the work a single filter can ask for. */
export const MAX_FILTER_ITEMS = 256;

export function decodeFilter(element: Element, depth = 0): Filter {
  if (depth > MAX_FILTER_DEPTH) throw new BerError(`filter nested more than ${MAX_FILTER_DEPTH} levels deep`);
  const reader = (): BerReader => new BerReader(element.value);
  switch (element.tag) {
    case 0xa0:
    case 0xa1: {
      const r = reader();
      const filters: Filter[] = [];
      while (r.hasMore()) {
        if (filters.length >= MAX_FILTER_ITEMS) throw new BerError("too many filter items");
        filters.push(decodeFilter(r.read(), depth + 1));
      }
      return { kind: element.tag === 0xa0 ? "and" : "or", filters };
    }
    case 0xa2: {
      const r = reader();
      const filter = decodeFilter(r.read(), depth + 1);
      r.end();
      return { kind: "not", filter };
    }
    case 0xa3:
    case 0xa5:
    case 0xa6:
    case 0xa8: {
      const r = reader();
      const attribute = attributeName(r.string());
      const value = r.string();
      r.end();
      const kind = element.tag === 0xa3 ? "equal" : element.tag === 0xa5 ? "greater" : element.tag === 0xa6 ? "less" : "approx";
      return { kind, attribute, value };
    }
    case 0xa4: {
      const r = reader();
      const attribute = attributeName(r.string());
      const parts = r.sequence();
      let initial: string | null = null;
      let final: string | null = null;
      const any: string[] = [];
      let count = 0;
      while (parts.hasMore()) {
        if ((count += 1) > MAX_FILTER_ITEMS) throw new BerError("too many substrings");
        const part = parts.read();
        const text = decodeString(part.value);
        if (part.tag === 0x80 && initial === null && any.length === 0 && final === null) initial = text;
        else if (part.tag === 0x81 && final === null) any.push(text);
        else if (part.tag === 0x82 && final === null) final = text;
        else throw new BerError("substrings out of order");
      }
      r.end();
      if (count === 0) throw new BerError("substrings filter with no parts");
      return { kind: "substrings", attribute, initial, any, final };
    }
    case 0x87:
      return { kind: "present", attribute: attributeName(decodeString(element.value)) };
    case 0xa9:
      return { kind: "unsupported" };
    default:
      throw new BerError(`unknown filter tag 0x${element.tag.toString(16)}`);
  }
}

function attributeName(text: string): string {
  // An attribute description may carry options (`cn;lang-en`); ssoctl serves none, so they are dropped.
  const name = text.split(";")[0]!.toLowerCase();
  if (!/^([a-z][a-z0-9-]*|[0-9]+(\.[0-9]+)*)$/.test(name)) throw new BerError(`"${text}" is not an attribute description`);
  return name;
}

/** What a filter is matched against: lower-case attribute names to their values. */
export interface Matchable {
  get(attribute: string): readonly string[] | undefined;
}

/** Attributes whose values are DNs, compared in their normal form. */
const DN_ATTRIBUTES = new Set(["member", "uniquemember", "memberof"]);

export function compareForm(attribute: string, value: string): string {
  if (DN_ATTRIBUTES.has(attribute)) return normalizeDnText(value) ?? normalizeValue(value);
  return normalizeValue(value);
}

export function matchesFilter(filter: Filter, entry: Matchable): boolean {
  switch (filter.kind) {
    case "and":
      return filter.filters.every((f) => matchesFilter(f, entry));
    case "or":
      return filter.filters.some((f) => matchesFilter(f, entry));
    case "not":
      return !matchesFilter(filter.filter, entry);
    case "present":
      return filter.attribute === "objectclass" || (entry.get(filter.attribute)?.length ?? 0) > 0;
    case "unsupported":
      return false;
    case "equal":
    case "approx": {
      const wanted = compareForm(filter.attribute, filter.value);
      return (entry.get(filter.attribute) ?? []).some((v) => compareForm(filter.attribute, v) === wanted);
    }
    case "greater":
    case "less": {
      const wanted = compareForm(filter.attribute, filter.value);
      return (entry.get(filter.attribute) ?? []).some((v) => {
        const order = ordering(compareForm(filter.attribute, v), wanted);
        return filter.kind === "greater" ? order >= 0 : order <= 0;
      });
    }
    case "substrings":
      return (entry.get(filter.attribute) ?? []).some((v) => matchesSubstrings(filter, normalizeValue(v)));
  }
}

/** Numbers by value, everything else by code point (as integerOrderingMatch and caseIgnoreOrderingMatch). */
function ordering(a: string, b: string): number {
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) return Math.sign(Number(a) - Number(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

function matchesSubstrings(filter: Extract<Filter, { kind: "substrings" }>, value: string): boolean {
  let at = 0;
  let end = value.length;
  if (filter.initial !== null) {
    const initial = normalizeValue(filter.initial);
    if (!value.startsWith(initial)) return false;
    at = initial.length;
  }
  if (filter.final !== null) {
    const final = normalizeValue(filter.final);
    if (!value.endsWith(final) || value.length - final.length < at) return false;
    end = value.length - final.length;
  }
  for (const part of filter.any) {
    const piece = normalizeValue(part);
    const found = value.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** The value of `(attribute=value)` when the filter requires it (alone or in an and): lets a search use an index. */
export function requiredEquality(filter: Filter, attribute: string): string | null {
  if (filter.kind === "equal" && filter.attribute === attribute) return filter.value;
  if (filter.kind === "and") {
    for (const f of filter.filters) {
      const value = requiredEquality(f, attribute);
      if (value !== null) return value;
    }
  }
  return null;
}

