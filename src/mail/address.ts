/**
 * Mail addresses and header text: what may go into a message's headers. Pure; no I/O.
 * A value with a line break would start a header of its own (header injection), so any
 * control character is refused rather than cleaned: the caller learns the value is bad.
 */

export interface Mailbox {
  /** The display name, "" when none. */
  name: string;
  /** `local@domain`. */
  address: string;
}

/** Why a header value is refused, or null when it may be used. */
export function headerTextProblem(text: string, what: string): string | null {
  if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(text)) return `${what} holds a line break or another control character`;
  if (text.length > 998) return `${what} is longer than a mail header line may be`;
  return null;
}

/**
 * Whether `text` is one plain address (`local@domain.tld`, or a bracketed IP literal): no
 * display name, no comment, no quoting, no whitespace, no control characters, a dotted domain.
 */
export function isEmailAddress(text: string): boolean {
  if (text.length > 254) return false;
  const at = text.lastIndexOf("@");
  if (at < 1 || at === text.length - 1) return false;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (local.length > 64) return false;
  // RFC 5322 dot-atom: the characters a mailbox is commonly spelled with, dots not leading, trailing or doubled.
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)) return false;
  if (/^\[[0-9.]+\]$/.test(domain) || /^\[IPv6:[0-9A-Fa-f:.]+\]$/.test(domain)) return true;
  // Internationalised domains arrive as UTF-8 letters; each label 1-63 characters, no leading or trailing hyphen.
  const labels = domain.split(".");
  if (labels.length < 2) return false;
  return labels.every((label) => /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u.test(label));
}

/**
 * Parses `Name <local@domain>` or a bare address (as `mail.from` is written).
 * Throws a TypeError saying what is wrong.
 */
export function parseMailbox(text: string, what: string): Mailbox {
  const problem = headerTextProblem(text, what);
  if (problem !== null) throw new TypeError(problem);
  const trimmed = text.trim();
  const bracketed = /^(.*?)\s*<([^<>]*)>$/.exec(trimmed);
  const name = bracketed === null ? "" : bracketed[1]!.trim().replace(/^"(.*)"$/, "$1");
  const address = bracketed === null ? trimmed : bracketed[2]!.trim();
  if (!isEmailAddress(address)) throw new TypeError(`${what} "${address.slice(0, 100)}" is not an email address`);
  if (/[<>"\\]/.test(name)) throw new TypeError(`${what}: the display name may not hold < > " or \\`);
  return { name, address };
}

/** The address part of a mailbox for logs: the domain only, so a log line names no person. */
export function addressDomain(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}
