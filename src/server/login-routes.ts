/** GET/POST /login and GET/POST /logout: WebStack's Login protocol, with its holes closed. */
import { passkeysUnavailable } from "../factors/passkeys.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { clearCookieHeader, readCookie, setCookieHeader } from "../cookie.js";
import { targetFromParams } from "../redirect-target.js";
import { casServiceOrigin } from "../protocols/cas/params.js";
import { crossSiteReason, csrfToken, isCsrfTokenValid, newCsrfCookieValue } from "./csrf.js";
import { HttpError } from "./http-error.js";
import { readForm, requestUrl, singleParams } from "./request.js";
import type { ServerContext } from "./context.js";
import { startSecondFactor } from "./factor-routes.js";
import { passAccessGate } from "./access-gate.js";

const TARGET_FIELDS = ["app", "path", "qs", "rd"] as const;
const GENERIC_FAILURE = "The username or password is incorrect.";

export interface Target {
  url: string;
  origin: string;
  /** The fields that carried it, to put back into the form. */
  hidden: Array<{ name: string; value: string }>;
}

/** The validated target of a request, null when none was given; a 400 page for anything not allowed. */
export async function resolveTarget(ctx: ServerContext, fields: Record<string, string | undefined>): Promise<Target | null> {
  const text = targetFromParams(fields);
  if (text === null) return null;
  const check = await ctx.checkTarget(text);
  if (!check.ok) {
    const registrable = check.origin !== null && check.reason === "the application is not registered";
    throw new HttpError(400, {
      heading: registrable ? "This application is not registered" : "This address cannot be used",
      message: registrable
        ? `This login server only sends you back to applications its administrator has registered, and ${check.origin} is not one of them. An administrator can register it with:`
        : `This login server cannot send you back to the address you came from: ${check.reason}.`,
      details: registrable ? `ssoctl app add ${check.origin}` : null,
    });
  }
  const hidden =
    fields.app !== undefined && fields.app !== ""
      ? (["app", "path", "qs"] as const).filter((n) => fields[n] !== undefined).map((n) => ({ name: n, value: fields[n]! }))
      : [{ name: "rd", value: fields.rd! }];
  return { url: check.url, origin: check.origin, hidden };
}

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

async function renderLogin(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { status: number; target: Target | null; username: string; error: string | null; headers?: Record<string, string> },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const headers: Record<string, string | string[]> = { ...view.headers };
  if (csrf.setCookie !== null) headers["Set-Cookie"] = csrf.setCookie;
  // CAS (issue 14): a form on its way back to /cas/login names the service's app, when registered.
  const casOrigin = view.target === null ? null : casServiceOrigin(view.target.url, ctx.url("/cas/login"));
  const origin = casOrigin !== null && ctx.appName(casOrigin) !== null ? casOrigin : view.target?.origin;
  let appName = origin === undefined ? null : ctx.appName(origin) ?? (origin === ctx.config.publicOrigin ? null : origin);
  let appOrigin = origin ?? null;
  // OpenID Connect (issue 13): a form on its way back to an OIDC interaction names the client.
  if (view.target !== null && origin === ctx.config.publicOrigin && ctx.nameOwnTarget !== null) {
    const own = await ctx.nameOwnTarget(view.target.url);
    if (own !== null) ({ name: appName, origin: appOrigin } = own);
  }
  await ctx.sendPage(res, view.status, "login", ctx.config.title, {
    appName,
    appOrigin,
    username: view.username,
    error: view.error,
    csrf: csrf.token,
    hidden: view.target?.hidden ?? [],
    action: ctx.url("/login"),
    passkeyAction: passkeysUnavailable(ctx.config) === null ? ctx.url("/login/passkey/start") : null,
  }, headers);
}

/** After a sign-in (or when already signed in): the redirect, the link page, or the signed-in page. */
export async function sendSignedIn(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  signedIn: { username: string; target: Target | null; setCookie?: string; fromPost: boolean },
): Promise<void> {
  const headers: Record<string, string | string[]> = { "Cache-Control": "no-store" };
  if (signedIn.setCookie !== undefined) headers["Set-Cookie"] = signedIn.setCookie;
  if (signedIn.target !== null && ctx.config.redirect) {
    res.writeHead(303, { ...headers, Location: signedIn.target.url });
    res.end();
    return;
  }
  if (signedIn.target !== null) {
    await ctx.sendPage(res, 200, "success", "Signed in", {
      username: signedIn.username,
      targetUrl: signedIn.target.url,
      appName: ctx.appName(signedIn.target.origin),
    }, headers);
    return;
  }
  if (signedIn.fromPost) {
    res.writeHead(303, { ...headers, Location: ctx.url("/login") });
    res.end();
    return;
  }
  const csrf = csrfFor(ctx, req);
  if (csrf.setCookie !== null) headers["Set-Cookie"] = [...[headers["Set-Cookie"] ?? []].flat(), csrf.setCookie];
  await ctx.sendPage(res, 200, "signed-in", "Signed in", {
    username: signedIn.username,
    logoutAction: ctx.url("/logout"),
    csrf: csrf.token,
    accountHref: ctx.url("/account"), // issue 12
  }, headers);
}

export async function getLogin(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = singleParams(requestUrl(req).searchParams, TARGET_FIELDS);
  const target = await resolveTarget(ctx, fields);
  const active = await ctx.sessions.resolve(ctx.tokenOf(req), ctx.now());
  if (active !== null) {
    // Access rules (issue 11): the bounce goes only where this user may go.
    if (target !== null && !(await passAccessGate(ctx, req, res, { login: active, url: target.url, via: "/login" }))) return;
    await sendSignedIn(ctx, req, res, { username: active.user.username, target, fromPost: false });
    return;
  }
  await renderLogin(ctx, req, res, { status: 200, target, username: "", error: null });
}

export async function postLogin(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const crossSite = crossSiteReason(req, ctx.config.publicOrigin);
  if (crossSite !== null) throw forbidden(`This sign-in came from another site (${crossSite}) and was refused.`);
  const form = await readForm(req);
  const fields = singleParams(form, [...TARGET_FIELDS, "username", "password", "csrf"]);
  if (!isCsrfTokenValid(readCookie(req.headers.cookie, csrfCookieName(ctx)), fields.csrf, ctx.keyring.secrets)) {
    throw forbidden("The sign-in form had expired or did not come from this server. Go back, reload the page and sign in again.");
  }
  const target = await resolveTarget(ctx, fields);
  const username = (fields.username ?? "").trim();
  const password = fields.password ?? "";
  const clientAddr = ctx.clientAddress(req);
  const now = ctx.now();
  const app = target?.origin;

  if (username === "" || password === "" || username.length > 256) {
    ctx.metrics?.signIn("missing_fields");
    await ctx.audit.record("login.failure", { username: username.slice(0, 64), reason: "missing_fields", addr: clientAddr, app }, now);
    await renderLogin(ctx, req, res, { status: 401, target, username: username.slice(0, 64), error: GENERIC_FAILURE });
    return;
  }
  const result = await ctx.signIn.attempt({ username, password, clientAddr }, now);
  // Operations (issue 15): counted for /metrics by result, never by name.
  if (result.kind !== "ok") ctx.metrics?.signIn(result.kind === "invalid" ? result.reason : result.kind);
  switch (result.kind) {
    case "throttled": {
      await ctx.audit.record("login.failure", { username, reason: `throttled_${result.scope}`, addr: clientAddr, app }, now);
      const minutes = Math.ceil(result.retryAfter / 60);
      await renderLogin(ctx, req, res, {
        status: 429,
        target,
        username,
        error: `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        headers: { "Retry-After": String(result.retryAfter) },
      });
      return;
    }
    case "busy":
      await ctx.audit.record("login.failure", { username, reason: "busy", addr: clientAddr, app }, now);
      await renderLogin(ctx, req, res, {
        status: 503,
        target,
        username,
        error: "The login server is busy. Try again in a few seconds.",
        headers: { "Retry-After": String(result.retryAfter) },
      });
      return;
    case "unavailable":
      // Fails closed: the directory decides who its users are, and it cannot be asked.
      await ctx.audit.record("login.failure", { username, reason: "directory_unreachable", directory: result.directory, addr: clientAddr, app }, now);
      await renderLogin(ctx, req, res, {
        status: 503,
        target,
        username,
        error: "The directory is unreachable, so this account cannot sign in right now. Try again in a few minutes.",
        headers: { "Retry-After": "30" },
      });
      return;
    case "invalid":
      await ctx.audit.record("login.failure", { username, reason: result.reason, addr: clientAddr, app }, now);
      await renderLogin(ctx, req, res, { status: 401, target, username, error: GENERIC_FAILURE });
      return;
    case "ok": {
      // ---- issue 12: a user with a second factor gets the code page, not a login ----
      if (await startSecondFactor(ctx, req, res, { user: result.user, passwordHash: result.passwordHash, target })) return;
      // ---- end issue 12 ----
      const issued = await ctx.sessions.issue(
        result.user,
        { addr: clientAddr, userAgent: req.headers["user-agent"] ?? "", passwordHash: result.passwordHash },
        now,
      );
      if (issued === null) {
        ctx.metrics?.signIn("account_changed");
        await ctx.audit.record("login.failure", { username, reason: "account_changed", addr: clientAddr, app }, now);
        await renderLogin(ctx, req, res, { status: 401, target, username, error: GENERIC_FAILURE });
        return;
      }
      ctx.metrics?.signIn("ok");
      const { token, session } = issued;
      await ctx.store.recordLogin(result.user.username, now);
      await ctx.audit.record("login.success", { username: result.user.username, session: session.id, addr: clientAddr, app }, now);
      const setCookie = setCookieHeader(ctx.cookie, token, ctx.sessions.ttlSeconds);
      // Access rules (issue 11): signed in, but sent on only where this user may go.
      const login = { claims: { username: result.user.username, sessionId: session.id, issuedAt: now, expiresAt: session.expiresAt, issuer: ctx.config.publicUrl, anonymous: false, amr: ["pwd"] }, user: result.user };
      if (target !== null && !(await passAccessGate(ctx, req, res, { login, url: target.url, headers: { "Set-Cookie": setCookie }, via: "/login" }))) return;
      await sendSignedIn(ctx, req, res, {
        username: result.user.username,
        target,
        setCookie,
        fromPost: true,
      });
    }
  }
}

export async function logout(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let rd = singleParams(requestUrl(req).searchParams, ["rd"]).rd;
  if (req.method === "POST") {
    const crossSite = crossSiteReason(req, ctx.config.publicOrigin);
    if (crossSite !== null) throw forbidden(`This sign-out came from another site (${crossSite}) and was refused.`);
    const form = await readForm(req);
    rd = singleParams(form, ["rd"]).rd ?? rd;
  }
  await endSessionAndLeave(ctx, req, res, rd);
}

/**
 * The end of every logout (/logout, /cas/logout): end the session (which tells single logout),
 * clear the cookie, then `303` to `rd` when it is an allowed target, else the signed-out page.
 */
export async function endSessionAndLeave(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, rd: string | undefined): Promise<void> {
  const now = ctx.now();
  const ended = await ctx.sessions.end(ctx.tokenOf(req), now);
  if (ended !== null) {
    await ctx.audit.record("logout", { username: ended.username, session: ended.sessionId, addr: ctx.clientAddress(req) }, now);
  }
  const clear = clearCookieHeader(ctx.cookie);
  const check = rd === undefined || rd === "" ? null : await ctx.checkTarget(rd);
  if (check !== null && check.ok) {
    res.writeHead(303, { Location: check.url, "Set-Cookie": clear, "Cache-Control": "no-store" });
    res.end();
    return;
  }
  await ctx.sendPage(res, 200, "logout", "Signed out", { loginHref: ctx.url("/login") }, { "Set-Cookie": clear });
}

// ---- CAS (issue 14) ----
/** The sign-in form on its own, whatever the session, leading back to `rd` (an allowed target) afterwards. */
export async function sendLoginForm(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, rd: string): Promise<void> {
  const target = await resolveTarget(ctx, { rd });
  await renderLogin(ctx, req, res, { status: 200, target, username: "", error: null });
}
// ---- end CAS ----

export function forbidden(message: string): HttpError {
  return new HttpError(403, { heading: "Request refused", message });
}
