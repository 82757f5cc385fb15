/**
 * What CAS validation answers: the CAS 2/3 XML (`serviceResponse`) and the CAS 1 text. Pure.
 * Every value is escaped, and characters XML 1.0 cannot carry at all are replaced, so any
 * display name or group still parses.
 */

/** The failure codes of the CAS 3 specification (proxy codes included, though ssoctl issues no proxy tickets). */
export type CasFailureCode =
  | "INVALID_REQUEST"
  | "INVALID_TICKET_SPEC"
  | "UNAUTHORIZED_SERVICE_PROXY"
  | "INVALID_PROXY_CALLBACK"
  | "INVALID_TICKET"
  | "INVALID_SERVICE"
  | "INTERNAL_ERROR";

export interface CasFailure {
  code: CasFailureCode;
  message: string;
}

export interface CasIdentity {
  username: string;
  /** Attribute name → values, in order; an empty value is left out. */
  attributes: ReadonlyArray<readonly [name: string, value: string]>;
}

const NAMESPACE = "http://www.yale.edu/tp/cas";

/** Escapes text for XML content and attribute values; characters outside XML 1.0 become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

export function renderServiceSuccess(identity: CasIdentity): string {
  const attributes = identity.attributes
    .filter(([, value]) => value !== "")
    .map(([name, value]) => `      <cas:${name}>${escapeXml(value)}</cas:${name}>\n`)
    .join("");
  return (
    `<cas:serviceResponse xmlns:cas="${NAMESPACE}">\n` +
    `  <cas:authenticationSuccess>\n` +
    `    <cas:user>${escapeXml(identity.username)}</cas:user>\n` +
    `    <cas:attributes>\n${attributes}    </cas:attributes>\n` +
    `  </cas:authenticationSuccess>\n` +
    `</cas:serviceResponse>\n`
  );
}

export function renderServiceFailure(failure: CasFailure): string {
  return (
    `<cas:serviceResponse xmlns:cas="${NAMESPACE}">\n` +
    `  <cas:authenticationFailure code="${failure.code}">${escapeXml(failure.message)}</cas:authenticationFailure>\n` +
    `</cas:serviceResponse>\n`
  );
}

/** CAS 1 (`/cas/validate`): `yes` and the user on the next line, or `no` and an empty line. */
export function renderCas1(username: string | null): string {
  // A user name never holds a line break (usernames are 1–64 of A-Z a-z 0-9 . _ @ -).
  return username === null ? "no\n\n" : `yes\n${username}\n`;
}

/** The attributes ssoctl releases: `displayName`, `mail`, and one `memberOf` per group. */
export function userAttributes(user: { name: string; email: string; groups: readonly string[] }): Array<[string, string]> {
  return [["displayName", user.name], ["mail", user.email], ...user.groups.map((group): [string, string] => ["memberOf", group])];
}
