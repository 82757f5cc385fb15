/** Cookie parsing and `Set-Cookie` building, shared by the login server and the guards. */

export interface CookieOptions {
  name: string;
  domain?: string | undefined;
  secure: boolean;
}

/** Reads one cookie from a `Cookie` header. Never throws; malformed pairs are skipped. */
export function readCookie(header: string | string[] | undefined, name: string): string | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join("; ") : header;
  if (text.length > 16384) return null;
  // Walks the `;`-separated pairs in place instead of splitting the whole header: only the
  // pair whose name matches is copied out. Same answer as splitting on ";" and trimming.
  let eq = -1;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf(";", start);
    if (end === -1) end = text.length;
    // The first "=" at or after `start`; reused while ahead, so the walk stays linear.
    if (eq < start) eq = text.indexOf("=", start);
    if (eq === -1) return null;
    if (eq < end && text.slice(start, eq).trim() === name) {
      let value = text.slice(eq + 1, end).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
      return value;
    }
    start = end + 1;
  }
  return null;
}

/** A `Set-Cookie` value that sets the cookie for `maxAgeSeconds`. */
export function setCookieHeader(options: CookieOptions, value: string, maxAgeSeconds: number): string {
  return [`${options.name}=${value}`, ...attributes(options), `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`].join("; ");
}

/** A `Set-Cookie` value that clears the cookie: same name, domain and path, `Max-Age=0`. */
export function clearCookieHeader(options: CookieOptions): string {
  return [`${options.name}=`, ...attributes(options), "Max-Age=0"].join("; ");
}

function attributes(options: CookieOptions): string[] {
  const parts = ["Path=/", "HttpOnly", "SameSite=Lax"];
  if (options.secure) parts.push("Secure");
  if (options.domain !== undefined && options.domain !== "") parts.push(`Domain=${options.domain}`);
  return parts;
}

/** Cookie names are HTTP tokens; checked where options are read, never per request. */
export function isValidCookieName(name: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(name);
}

export function isValidCookieDomain(domain: string): boolean {
  return /^\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(domain);
}
