/**
 * CSRF protection for the login form: a random cookie, and a form token that is
 * an HMAC of it under the signing key, compared in constant time. A cross-site
 * post (Sec-Fetch-Site, Origin) is refused before the token is looked at.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export function newCsrfCookieValue(): string {
  return randomBytes(24).toString("base64url");
}

export function csrfToken(cookieValue: string, secret: string): string {
  return createHmac("sha256", secret).update("ssoctl-csrf\0").update(cookieValue).digest("base64url");
}

/** True when `formToken` is the token of `cookieValue` under one of the secrets. */
export function isCsrfTokenValid(cookieValue: string | null, formToken: string | undefined, secrets: readonly string[]): boolean {
  if (cookieValue === null || cookieValue === "" || formToken === undefined || formToken.length > 128) return false;
  const given = Buffer.from(formToken);
  let valid = false;
  for (const secret of secrets) {
    const expected = Buffer.from(csrfToken(cookieValue, secret));
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}

/** Why a post looks cross-site, or null when it does not. */
export function crossSiteReason(req: IncomingMessage, publicOrigin: string): string | null {
  if (req.headers["sec-fetch-site"] === "cross-site") return "Sec-Fetch-Site: cross-site";
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== publicOrigin) return `Origin ${origin.slice(0, 100)}`;
  return null;
}
