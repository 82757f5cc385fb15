/**
 * Which headers cross the proxy. Hop-by-hop headers (RFC 9110 §7.6.1) stop at
 * the proxy both ways; identity and forwarding headers from the client are
 * dropped and set by the proxy, because the upstream trusts them.
 */
import type { IncomingHttpHeaders } from "node:http";
import { headerValue, identityHeaders, type IdentityProfile } from "../identity-headers.js";
import { METHOD_OVERRIDE_HEADERS } from "../access/method.js";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

/**
 * Set by the proxy alone; a client's copy never reaches the upstream. Compared
 * after `_` → `-`: CGI and WSGI turn `Remote_User` and `Remote-User` alike into
 * `HTTP_REMOTE_USER`, and some frameworks read headers that way.
 */
const PROXY_OWNED = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
  // The upstream is addressed by its own host; the app URL's host is in X-Forwarded-Host.
  "host",
  // Node already answered `100 Continue`; undici refuses the header.
  "expect",
]);

/**
 * Dropped outright: an upstream that honours a method-override header would act on a method
 * the access rules did not judge (`POST` + `X-HTTP-Method-Override: DELETE`).
 */
const DROPPED = new Set(METHOD_OVERRIDE_HEADERS);

/** Every `Remote-*` name is the proxy's: the identity headers, and any an app might add later (`Remote-Admin`). */
const PROXY_OWNED_PREFIX = "remote-";

export interface Identity {
  username: string;
  anonymous: boolean;
  /** Name, email and groups, when the proxy has the data directory to look them up. */
  profile?: IdentityProfile | undefined;
}

export interface ForwardedFor {
  clientAddress: string | undefined;
  proto: string;
  host: string;
}

/**
 * The request headers for the upstream, as a flat `[name, value, …]` list that
 * keeps repeated headers. The login cookie is removed from `Cookie`: the token
 * is a credential for every app on the cookie domain, and the upstream learns
 * who is signed in from `Remote-User`.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], options: { identity: Identity | null; forwarded: ForwardedFor; cookieName: string }): string[] {
  const named = connectionNamed(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, named) || isProxyOwned(lower)) continue;
    let value = rawHeaders[i + 1]!;
    if (lower === "cookie") {
      value = withoutCookie(value, options.cookieName);
      if (value === "") continue;
    }
    out.push(name, value);
  }
  // null: nobody signed in, let through by a `bypass` policy (access rules): no identity at all.
  if (options.identity === null) {
    // nothing to add
  } else if (options.identity.profile !== undefined) {
    for (const [name, value] of Object.entries(identityHeaders(options.identity.profile))) out.push(name.toLowerCase(), value);
  } else {
    out.push("remote-user", headerValue(options.identity.username));
  }
  if (options.identity?.anonymous) out.push("remote-anonymous", "1");
  if (options.forwarded.clientAddress !== undefined) out.push("x-forwarded-for", options.forwarded.clientAddress);
  out.push("x-forwarded-proto", options.forwarded.proto, "x-forwarded-host", options.forwarded.host);
  return out;
}

/** The upstream's response headers minus hop-by-hop ones, plus any cookie the guard sets. */
export function clientResponseHeaders(headers: IncomingHttpHeaders, setCookie: string | undefined): Record<string, string | string[]> {
  const named = connectionNamedFromValue(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHopByHop(name, named)) continue;
    out[name] = value;
  }
  if (setCookie !== undefined) {
    const existing = out["set-cookie"];
    out["set-cookie"] = existing === undefined ? [setCookie] : [...(Array.isArray(existing) ? existing : [existing]), setCookie];
  }
  return out;
}

function isProxyOwned(lowerName: string): boolean {
  const name = lowerName.includes("_") ? lowerName.replace(/_/g, "-") : lowerName;
  return PROXY_OWNED.has(name) || name.startsWith(PROXY_OWNED_PREFIX) || DROPPED.has(name);
}

function isHopByHop(lowerName: string, connectionNamed: ReadonlySet<string> | null): boolean {
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith("proxy-") || (connectionNamed !== null && connectionNamed.has(lowerName));
}

function connectionNamed(rawHeaders: readonly string[]): Set<string> | null {
  let named: Set<string> | null = null;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== "connection") continue;
    named = addTokens(named, rawHeaders[i + 1]!);
  }
  return named;
}

function connectionNamedFromValue(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  let named: Set<string> | null = null;
  for (const item of Array.isArray(value) ? value : [value]) named = addTokens(named, item);
  return named;
}

function addTokens(set: Set<string> | null, value: string): Set<string> {
  const result = set ?? new Set<string>();
  for (const token of value.split(",")) {
    const name = token.trim().toLowerCase();
    if (name !== "") result.add(name);
  }
  return result;
}

function withoutCookie(header: string, name: string): string {
  if (!header.includes(name)) return header;
  return header
    .split(";")
    .filter((pair) => {
      const eq = pair.indexOf("=");
      return (eq === -1 ? pair : pair.slice(0, eq)).trim() !== name;
    })
    .map((pair) => pair.trim())
    .filter((pair) => pair !== "")
    .join("; ");
}
