/** GET/POST /login and GET/POST /logout: the sign-in form, handed to the journey once the password is checked. */
import { passkeysUnavailable } from "../factors/passkeys.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { clearCookieHeader } from "../cookie.js";
import { casServiceOrigin } from "../protocols/cas/params.js";
import { checkedForm, csrfFor, forbidden, withCsrfCookie } from "./form-guard.js";
import { crossSiteReason } from "./csrf.js";
import { readForm, requestUrl, singleParams } from "./request.js";
import type { ServerContext } from "./context.js";
import { finishFactor, passAccessGate, sendSignedIn } from "./journey.js";
import { resolveTarget, TARGET_FIELDS, type Target } from "./target.js";

const GENERIC_FAILURE = "The username or password is incorrect.";

async function renderLogin(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { status: number; target: Target | null; username: string; error: string | null; headers?: Record<string, string> },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  // A form on its way back to /cas/login names the service's app, when registered.
  const casOrigin = view.target === null ? null : casServiceOrigin(view.target.url, ctx.url("/cas/login"));
  const origin = casOrigin !== null && ctx.appName(casOrigin) !== null ? casOrigin : view.target?.origin;
  let appName = origin === undefined ? null : ctx.appName(origin) ?? (origin === ctx.config.publicOrigin ? null : origin);
  let appOrigin = origin ?? null;
  // A form on its way back to an OpenID Connect interaction names the client.
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
    forgotHref: ctx.passwordResets === null ? null : ctx.url("/login/forgot"),
  }, withCsrfCookie({ ...view.headers }, csrf));
}

export async function getLogin(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = singleParams(requestUrl(req).searchParams, TARGET_FIELDS);
  const target = await resolveTarget(ctx, fields);
  const active = await ctx.sessions.resolve(ctx.tokenOf(req), ctx.now());
  if (active !== null) {
    // The bounce goes only where this user may go.
    if (target !== null && !(await passAccessGate(ctx, req, res, { login: active, url: target.url, via: "/login" }))) return;
    await sendSignedIn(ctx, req, res, { username: active.user.username, target, fromPost: false });
    return;
  }
  await renderLogin(ctx, req, res, { status: 200, target, username: "", error: null });
}

export async function postLogin(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, [...TARGET_FIELDS, "username", "password"], "sign-in");
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
  // Counted for /metrics by result, never by name.
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
    case "ok":
      await finishFactor(ctx, req, res, { user: result.user, done: ["pwd"], passwordHash: result.passwordHash, target, via: "/login" });
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

/**
 * The sign-in form on its own, whatever the session, leading back to `rd` (an allowed target)
 * afterwards: a re-authentication (CAS `renew`, OIDC `prompt=login`/`max_age`, SAML `ForceAuthn`).
 * The sign-in it leads to replaces the browser's session.
 */
export async function sendSignInForm(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, rd: string, options: { status?: number; notice?: string } = {}): Promise<void> {
  const target = await resolveTarget(ctx, { rd });
  await renderLogin(ctx, req, res, { status: options.status ?? 200, target, username: "", error: options.notice ?? null });
}
