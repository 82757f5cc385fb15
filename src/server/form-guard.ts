/**
 * What every form post of the login server passes before its fields are read: not cross-site,
 * and carrying the CSRF token bound to the browser's CSRF cookie (made with the form's page).
 */
import type { IncomingMessage } from "node:http";
import { readCookie } from "../cookie.js";
import { crossSiteReason, csrfToken, isCsrfTokenValid, newCsrfCookieValue } from "./csrf.js";
import { HttpError } from "./http-error.js";
import { readForm, singleParams } from "./request.js";
import type { ServerContext } from "./context.js";

export function csrfCookieName(ctx: ServerContext): string {
  return ctx.config.secure ? `__Host-${ctx.config.cookieName}_csrf` : `${ctx.config.cookieName}_csrf`;
}

/** The CSRF cookie (made when missing) and the form token bound to it. */
export function csrfFor(ctx: ServerContext, req: IncomingMessage): { token: string; setCookie: string | null } {
  const name = csrfCookieName(ctx);
  let value = readCookie(req.headers.cookie, name);
  let setCookie: string | null = null;
  if (value === null || !/^[A-Za-z0-9_-]{32}$/.test(value)) {
    value = newCsrfCookieValue();
    setCookie = [`${name}=${value}`, "Path=/", "HttpOnly", "SameSite=Lax", ...(ctx.config.secure ? ["Secure"] : [])].join("; ");
  }
  return { token: csrfToken(value, ctx.keyring.current), setCookie };
}

/** Adds the CSRF cookie, when one was made, to a page's headers (beside any Set-Cookie already there). */
export function withCsrfCookie(headers: Record<string, string | string[]>, csrf: { setCookie: string | null }): Record<string, string | string[]> {
  if (csrf.setCookie === null) return headers;
  const existing = headers["Set-Cookie"];
  return { ...headers, "Set-Cookie": existing === undefined ? csrf.setCookie : [...[existing].flat(), csrf.setCookie] };
}

/** The 403 page for a request this server will not act on. */
export function forbidden(message: string): HttpError {
  return new HttpError(403, { heading: "Request refused", message });
}

/**
 * The single-valued fields of a form post once its origin and CSRF token are checked.
 * `what`: how the page names the post ("sign-in", "change", "request").
 */
export async function checkedForm(ctx: ServerContext, req: IncomingMessage, names: readonly string[], what = "request"): Promise<Record<string, string | undefined>> {
  const crossSite = crossSiteReason(req, ctx.config.publicOrigin);
  if (crossSite !== null) throw forbidden(`This ${what} came from another site (${crossSite}) and was refused.`);
  const fields = singleParams(await readForm(req), ["csrf", ...names]);
  if (!isCsrfTokenValid(readCookie(req.headers.cookie, csrfCookieName(ctx)), fields.csrf, ctx.keyring.secrets)) {
    throw forbidden(
      what === "sign-in"
        ? "The sign-in form had expired or did not come from this server. Go back, reload the page and sign in again."
        : "The form had expired or did not come from this server. Go back, reload the page and try again.",
    );
  }
  return fields;
}
