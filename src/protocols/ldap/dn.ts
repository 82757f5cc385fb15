/**
 * Distinguished names as RFC 4514 writes them: parsing what a client sends, a normal form to
 * compare by (attribute types and values ignore case, as every attribute ssoctl serves does), and
 * escaping a value so that a name with `,` or `+` in it stays one value.
 */

export class DnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DnError";
  }
}

export interface Rdn {
  /** Lower-case attribute type (`uid`, `ou`, `dc`). */
  type: string;
  value: string;
}

/** A DN's RDNs, most specific first; a multi-valued RDN (`cn=a+sn=b`) is kept as its first value only when single. */
export type Dn = Rdn[][];

const HEX = /^[0-9a-fA-F]{2}$/;

/** Parses an RFC 4514 string; the empty string is the root (no RDNs). Throws DnError. */
export function parseDn(text: string): Dn {
  const dn: Dn = [];
  if (text.trim() === "") return dn;
  let rdn: Rdn[] = [];
  let i = 0;
  const n = text.length;
  while (i <= n) {
    while (i < n && text[i] === " ") i += 1;
    const typeStart = i;
    while (i < n && text[i] !== "=") i += 1;
    if (i >= n) throw new DnError(`"${text}" is not a DN: an RDN has no "="`);
    const type = text.slice(typeStart, i).trim().toLowerCase();
    if (!/^([a-z][a-z0-9-]*|[0-9]+(\.[0-9]+)*)$/.test(type)) throw new DnError(`"${text}" is not a DN: bad attribute type "${type}"`);
    i += 1;
    let value = "";
    const bytes: number[] = [];
    const flush = (): void => {
      if (bytes.length > 0) {
        value += Buffer.from(bytes).toString("utf8");
        bytes.length = 0;
      }
    };
    let trailingSpaces = 0;
    while (i < n && text[i] === " ") i += 1;
    while (i < n && text[i] !== "," && text[i] !== "+" && text[i] !== ";") {
      const c = text[i]!;
      if (c === "\\") {
        const pair = text.slice(i + 1, i + 3);
        if (HEX.test(pair)) {
          bytes.push(parseInt(pair, 16));
          i += 3;
        } else if (i + 1 < n) {
          flush();
          value += text[i + 1];
          i += 2;
        } else {
          throw new DnError(`"${text}" is not a DN: it ends in a lone "\\"`);
        }
        trailingSpaces = 0;
        continue;
      }
      if (c === "\"" || c === "<" || c === ">") {
        // RFC 4514 requires these escaped; accepting them bare would make two spellings of one name.
        throw new DnError(`"${text}" is not a DN: "${c}" must be escaped`);
      }
      flush();
      value += c;
      trailingSpaces = c === " " ? trailingSpaces + 1 : 0;
      i += 1;
    }
    flush();
    if (trailingSpaces > 0) value = value.slice(0, value.length - trailingSpaces);
    rdn.push({ type, value });
    if (i >= n) {
      dn.push(rdn);
      break;
    }
    if (text[i] !== "+") {
      dn.push(rdn);
      rdn = [];
    }
    i += 1;
    if (i >= n) throw new DnError(`"${text}" is not a DN: it ends in a separator`);
  }
  return dn;
}

/** The normal form two spellings of one DN share: `uid=alice,ou=people,dc=example,dc=org`. */
export function normalizeDn(dn: Dn): string {
  return dn.map((rdn) => rdn.map((ava) => `${ava.type}=${escapeDnValue(normalizeValue(ava.value))}`).sort().join("+")).join(",");
}

/** The normal form of a DN's text, or null when it is not a DN. */
export function normalizeDnText(text: string): string | null {
  try {
    return normalizeDn(parseDn(text));
  } catch (error) {
    if (error instanceof DnError) return null;
    throw error;
  }
}

/** Values compare ignoring case and runs of spaces (caseIgnoreMatch's insignificant spaces). */
export function normalizeValue(value: string): string {
  return value.trim().replace(/ +/g, " ").toLowerCase();
}

/** Escapes one attribute value for a DN (RFC 4514 §2.4). */
export function escapeDnValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i]!;
    const code = c.charCodeAt(0);
    if (code === 0) out += "\\00";
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, "0")}`;
    else if (`,+"\\<>;=`.includes(c)) out += `\\${c}`;
    else if ((i === 0 && (c === " " || c === "#")) || (i === value.length - 1 && c === " ")) out += `\\${c}`;
    else out += c;
  }
  return out;
}

/** `type=value` with the value escaped, for building DNs. */
export function rdnText(type: string, value: string): string {
  return `${type}=${escapeDnValue(value)}`;
}
