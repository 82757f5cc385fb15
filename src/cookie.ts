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

/** Whether a browser sends a cookie set by `publicHost` for `cookieDomain` (undefined: host-only) to `host`. */
export function cookieReachesHost(host: string, publicHost: string, cookieDomain: string | undefined): boolean {
  if (cookieDomain === undefined) return host === publicHost;
  const domain = cookieDomain.replace(/^\./, "").toLowerCase();
  return host === domain || host.endsWith(`.${domain}`);
}

/** The shortest parent domain of every host (at least two labels), for a fix to suggest; null when they share none. */
export function sharedParentDomain(hosts: string[]): string | null {
  const split = hosts.map((h) => h.split(".").reverse());
  const common: string[] = [];
  for (let i = 0; ; i++) {
    const label = split[0]?.[i];
    if (label === undefined || !split.every((parts) => parts[i] === label && parts.length > i)) break;
    common.push(label);
  }
  return common.length >= 2 ? common.reverse().join(".") : null;
}

export interface CookieDomainProblem {
  reason: string;
  fix: string;
}

/**
 * Why browsers refuse a cookie that the login server at `publicHost` sets for `cookieDomain`
 * (an IP address takes no Domain attribute; a host outside the domain may not set it), and what
 * to do; null when they accept it. `serve` refuses to start with it and `doctor` reports it.
 */
export function cookieDomainProblem(publicHost: string, cookieDomain: string): CookieDomainProblem | null {
  const host = publicHost.toLowerCase();
  if (/^\[.*\]$/.test(host) || /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return { reason: `--cookie-domain ${cookieDomain} with a public URL on an IP address (${host}): browsers refuse the cookie`, fix: "use a host name in --public-url, or drop --cookie-domain" };
  }
  if (!cookieReachesHost(host, host, cookieDomain)) {
    return {
      reason: `the public URL's host ${host} is not inside --cookie-domain ${cookieDomain}: browsers refuse the login cookie`,
      fix: `--cookie-domain ${host.split(".").length > 2 ? host.split(".").slice(1).join(".") : host}, a domain the login server's host is in, or drop --cookie-domain`,
    };
  }
  return null;
}
