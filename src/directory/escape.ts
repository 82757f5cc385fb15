/**
 * Putting a typed username or a found DN into an LDAP filter (RFC 4515): every character that
 * means something in a filter is escaped as `\HH`, so `*)(uid=*` is a name nobody has, not a filter.
 */

/** Escapes a value for use inside a filter's assertion. */
export function escapeFilterValue(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    // NUL, *, (, ) and \ must be escaped; non-ASCII bytes are escaped too, as OpenLDAP's own tools do.
    if (byte === 0x00 || byte === 0x2a || byte === 0x28 || byte === 0x29 || byte === 0x5c || byte >= 0x80) out += `\\${byte.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** A configured filter with `{username}` or `{dn}` replaced by the escaped value. */
export function fillFilter(template: string, values: { username?: string; dn?: string }): string {
  return template.replace(/\{(username|dn)\}/g, (_, key: "username" | "dn") => {
    const value = values[key];
    if (value === undefined) throw new TypeError(`the filter ${template} uses {${key}}, which is not known here`);
    return escapeFilterValue(value);
  });
}
