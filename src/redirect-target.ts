/**
 * Where the login server may send a browser: an absolute http(s) URL whose
 * origin is a registered application's or the login server's own.
 * Pure: the caller passes the allowed origins.
 */

export const MAX_TARGET_LENGTH = 4096;

export type TargetCheck =
  | { ok: true; url: string; origin: string }
  | { ok: false; reason: string; origin: string | null };

/** WebStack's `app + path + qs`, or `rd`; null when the request names no target. */
export function targetFromParams(params: {
  app?: string | undefined;
  path?: string | undefined;
  qs?: string | undefined;
  rd?: string | undefined;
}): string | null {
  const { app, path, qs, rd } = params;
  if (app !== undefined && app !== "") {
    const query = qs === undefined || qs === "" ? "" : qs.startsWith("?") ? qs : `?${qs}`;
    return app + (path ?? "") + query;
  }
  if (rd !== undefined && rd !== "") return rd;
  return null;
}

/** Checks a redirect target against the allowed origins. Never throws. */
export function checkTarget(target: string, allowedOrigins: ReadonlySet<string>): TargetCheck {
  if (target.length > MAX_TARGET_LENGTH) return { ok: false, reason: "the address is too long", origin: null };
  // Control characters, CR/LF, spaces and backslashes are read differently by browsers and parsers.
  if (/[\x00-\x20\x7f-\x9f\\]/.test(target)) {
    return { ok: false, reason: "the address contains characters that are not allowed", origin: null };
  }
  if (!/^https?:\/\/[^/]/i.test(target)) {
    return { ok: false, reason: "the address is not an absolute http:// or https:// URL", origin: null };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, reason: "the address is not a valid URL", origin: null };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, reason: "the address contains a user name", origin: null };
  }
  // Userinfo hidden by encodings is caught above; an "@" left in the authority is still suspicious.
  const authority = target.slice(target.indexOf("//") + 2).split(/[/?#]/, 1)[0] ?? "";
  // The URL parser maps non-ASCII hosts (fullwidth letters, zero-width characters, "。") onto
  // other hosts; a registered origin is ASCII, so a host that needs mapping is not one of ours.
  if (authority.includes("@") || authority.includes("%") || /[^\x21-\x7e]/.test(authority)) {
    return { ok: false, reason: "the address has an unusual host part", origin: null };
  }
  if (!allowedOrigins.has(url.origin)) {
    return { ok: false, reason: "the application is not registered", origin: url.origin };
  }
  return { ok: true, url: url.href, origin: url.origin };
}
