/**
 * The second step of a sign-in (issue 12): after the password, a user with TOTP enters a code
 * (or a recovery code). Until then there is no login cookie, only a short server-side record
 * named by a random token in the form.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCookie, setCookieHeader } from "../cookie.js";
import { codeCheckMessage, checkSecondFactor } from "../factors/second-factor.js";
import { newPendingToken, pendingIdOf, PENDING_TTL_SECONDS } from "../factors/pending.js";
import type { Session, User, UserWithHash } from "../store/store.js";
import { passAccessGate } from "./access-gate.js";
import { crossSiteReason, isCsrfTokenValid } from "./csrf.js";
import type { ServerContext } from "./context.js";
import { csrfCookieName, csrfFor, forbidden, resolveTarget, sendSignedIn, type Target } from "./login-routes.js";
import { readForm, singleParams } from "./request.js";
import type { ActiveLogin } from "../sessions.js";
import { startEnrolment, upgradeSession } from "./account-routes.js";

/** The record of a password checked, waiting for the second factor. */
interface PendingLogin {
  passwordHash: string;
  /** The target fields of the sign-in form, checked again when the login is made. */
  target: Record<string, string>;
}

/** Called by POST /login once the password is right: for a user with TOTP, the code page instead of a login. */
export async function startSecondFactor(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  signIn: { user: UserWithHash; passwordHash: string; target: Target | null },
): Promise<boolean> {
  if ((await ctx.store.factors.getTotp(signIn.user.username)) === null) return false;
  const { token, id } = newPendingToken();
  const target: Record<string, string> = {};
  for (const field of signIn.target?.hidden ?? []) target[field.name] = field.value;
  const data: PendingLogin = { passwordHash: signIn.passwordHash, target };
  const now = ctx.now();
  await ctx.store.factors.putPending({ id, kind: "login", username: signIn.user.username, data: { ...data }, expiresAt: now + PENDING_TTL_SECONDS });
  await ctx.audit.record("login.password_ok", { username: signIn.user.username, addr: ctx.clientAddress(req), next: "otp" }, now);
  await renderCode(ctx, req, res, { status: 200, username: signIn.user.username, pending: token, target: signIn.target, error: null });
  return true;
}

async function renderCode(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { status: number; username: string; pending: string; target: Target | null; error: string | null; headers?: Record<string, string> },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const headers: Record<string, string | string[]> = { ...view.headers };
  if (csrf.setCookie !== null) headers["Set-Cookie"] = csrf.setCookie;
  await ctx.sendPage(res, view.status, "code", "Two-step verification", {
    username: view.username,
    appName: view.target === null ? null : ctx.appName(view.target.origin),
    error: view.error,
    csrf: csrf.token,
    pending: view.pending,
    action: ctx.url("/login/code"),
    restartHref: loginHref(ctx, view.target),
  }, headers);
}

function loginHref(ctx: ServerContext, target: Target | null): string {
  const query = new URLSearchParams(target?.hidden.map((f): [string, string] => [f.name, f.value]) ?? []).toString();
  return ctx.url("/login") + (query === "" ? "" : `?${query}`);
}

/** POST /login/code */
export async function postLoginCode(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const crossSite = crossSiteReason(req, ctx.config.publicOrigin);
  if (crossSite !== null) throw forbidden(`This sign-in came from another site (${crossSite}) and was refused.`);
  const form = await readForm(req);
  const fields = singleParams(form, ["csrf", "pending", "code"]);
  if (!isCsrfTokenValid(readCookie(req.headers.cookie, csrfCookieName(ctx)), fields.csrf, ctx.keyring.secrets)) {
    throw forbidden("The sign-in form had expired or did not come from this server. Go back, reload the page and sign in again.");
  }
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const id = pendingIdOf(fields.pending);
  const pending = id === null ? null : await ctx.store.factors.getPending(id, "login", now);
  if (pending === null || pending.username === null) {
    await ctx.audit.record("login.failure", { reason: "second_factor_expired", addr: clientAddr }, now);
    await expired(ctx, res);
    return;
  }
  const data = pending.data as unknown as PendingLogin;
  const target = await resolveTarget(ctx, data.target);
  const username = pending.username;
  const code = (fields.code ?? "").slice(0, 64);
  const check = await checkSecondFactor(ctx.store, ctx.config.throttle, { username, code, clientAddr }, now);
  if (check.kind !== "ok") {
    const reason = check.kind === "wrong" ? check.reason : check.kind === "throttled" ? `throttled_${check.scope}` : "malformed_code";
    ctx.metrics?.signIn(check.kind === "throttled" ? "throttled" : "bad_code");
    await ctx.audit.record("login.failure", { username, reason, addr: clientAddr }, now);
    const status = check.kind === "throttled" ? 429 : check.kind === "malformed" ? 400 : 401;
    await renderCode(ctx, req, res, {
      status,
      username,
      pending: fields.pending!,
      target,
      error: codeCheckMessage(check),
      ...(check.kind === "throttled" ? { headers: { "Retry-After": String(check.retryAfter) } } : {}),
    });
    return;
  }
  // Single use: of two posts racing with good codes, only one takes the record.
  if ((await ctx.store.factors.takePending(id!, "login", now)) === null) {
    await expired(ctx, res);
    return;
  }
  const user = await ctx.store.getUser(username);
  const issued =
    user === null
      ? null
      : await ctx.sessions.issue(user, { addr: clientAddr, userAgent: req.headers["user-agent"] ?? "", passwordHash: data.passwordHash, amr: ["pwd", "otp"] }, now);
  if (issued === null) {
    await ctx.audit.record("login.failure", { username, reason: "account_changed", addr: clientAddr }, now);
    await expired(ctx, res);
    return;
  }
  ctx.metrics?.signIn("ok");
  await ctx.store.recordLogin(username, now);
  await ctx.audit.record("login.success", { username, session: issued.session.id, addr: clientAddr, app: target?.origin, amr: "pwd,otp", method: check.method }, now);
  const setCookie = setCookieHeader(ctx.cookie, issued.token, ctx.sessions.ttlSeconds);
  // Access rules (issue 11): signed in, but sent on only where this user may go.
  if (target !== null && !(await passAccessGate(ctx, req, res, { login: loginOf(issued, user!, ctx), url: target.url, headers: { "Set-Cookie": setCookie }, via: "/login/code" }))) return;
  await sendSignedIn(ctx, req, res, { username, target, setCookie, fromPost: true });
}

/** The login a session just issued stands for, as the access gate takes it. */
export function loginOf(issued: { session: Session }, user: User, ctx: ServerContext): ActiveLogin {
  const { session } = issued;
  return {
    claims: { username: user.username, sessionId: session.id, issuedAt: session.createdAt, expiresAt: session.expiresAt, issuer: ctx.config.publicUrl, anonymous: false, amr: session.amr ?? ["pwd"] },
    user,
  };
}

async function expired(ctx: ServerContext, res: ServerResponse): Promise<void> {
  await ctx.sendPage(res, 400, "error", "Sign-in expired", {
    heading: "This sign-in has expired",
    message: "The second step has to be completed within a few minutes of entering your password, once. Sign in again.",
    details: null,
    status: 400,
    linkHref: ctx.url("/login"),
    linkText: "Sign in again",
  });
}

// ---- step-up: a signed-in user whose target needs a second factor (issue 11's `second_factor` verdict) ----

export interface StepUpRequest {
  login: ActiveLogin;
  /** The checked target URL. */
  url: string;
  /** Extra headers for the page (the new session's cookie right after a password sign-in). */
  headers?: Record<string, string | string[]> | undefined;
}

/**
 * The second-factor step for a login made with the password alone: the code page for a user with an
 * authenticator app, else enrolment right there; either way on to the target afterwards.
 */
export async function startStepUp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, request: StepUpRequest): Promise<void> {
  const username = request.login.user.username;
  if ((await ctx.store.factors.getTotp(username)) === null) {
    await startEnrolment(ctx, req, res, request.login, { next: request.url, headers: request.headers });
    return;
  }
  const { token, id } = newPendingToken();
  const now = ctx.now();
  await ctx.store.factors.putPending({ id, kind: "step-up", username, data: { session: request.login.claims.sessionId, url: request.url }, expiresAt: now + PENDING_TTL_SECONDS });
  await renderStepUp(ctx, req, res, { status: 200, username, pending: token, url: request.url, error: null, headers: request.headers });
}

async function renderStepUp(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { status: number; username: string; pending: string; url: string; error: string | null; headers?: Record<string, string | string[]> | undefined },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const headers: Record<string, string | string[]> = { ...view.headers };
  if (csrf.setCookie !== null) headers["Set-Cookie"] = [...[headers["Set-Cookie"] ?? []].flat(), csrf.setCookie];
  const origin = new URL(view.url).origin;
  await ctx.sendPage(res, view.status, "code", "Two-step verification", {
    username: view.username,
    appName: ctx.appName(origin) ?? origin,
    stepUp: true,
    error: view.error,
    csrf: csrf.token,
    pending: view.pending,
    action: ctx.url("/login/step-up"),
    restartHref: ctx.url("/account"),
  }, headers);
}

/** POST /login/step-up: the code for a login that has the password only; the session is replaced by a pwd+otp one. */
export async function postStepUp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const crossSite = crossSiteReason(req, ctx.config.publicOrigin);
  if (crossSite !== null) throw forbidden(`This request came from another site (${crossSite}) and was refused.`);
  const fields = singleParams(await readForm(req), ["csrf", "pending", "code"]);
  if (!isCsrfTokenValid(readCookie(req.headers.cookie, csrfCookieName(ctx)), fields.csrf, ctx.keyring.secrets)) {
    throw forbidden("The form had expired or did not come from this server. Go back, reload the page and try again.");
  }
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const login = await ctx.sessions.resolve(ctx.tokenOf(req), now);
  const id = pendingIdOf(fields.pending);
  const pending = id === null ? null : await ctx.store.factors.getPending(id, "step-up", now);
  // Bound to the session it was started for: another browser's record is no use here.
  if (login === null || pending === null || pending.data.session !== login.claims.sessionId) {
    await ctx.audit.record("login.failure", { username: login?.user.username, reason: "step_up_expired", addr: clientAddr }, now);
    await expired(ctx, res);
    return;
  }
  const username = login.user.username;
  const url = String(pending.data.url);
  const check = await checkSecondFactor(ctx.store, ctx.config.throttle, { username, code: (fields.code ?? "").slice(0, 64), clientAddr }, now);
  if (check.kind !== "ok") {
    const reason = check.kind === "wrong" ? check.reason : check.kind === "throttled" ? `throttled_${check.scope}` : "malformed_code";
    await ctx.audit.record("login.failure", { username, reason, addr: clientAddr, step: "step_up" }, now);
    const status = check.kind === "throttled" ? 429 : check.kind === "malformed" ? 400 : 401;
    await renderStepUp(ctx, req, res, {
      status,
      username,
      pending: fields.pending!,
      url,
      error: codeCheckMessage(check),
      ...(check.kind === "throttled" ? { headers: { "Retry-After": String(check.retryAfter) } } : {}),
    });
    return;
  }
  if ((await ctx.store.factors.takePending(id!, "step-up", now)) === null) {
    await expired(ctx, res);
    return;
  }
  const setCookie = await upgradeSession(ctx, req, login);
  const target = await ctx.checkTarget(url);
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (setCookie !== null) headers["Set-Cookie"] = setCookie;
  res.writeHead(303, { ...headers, Location: target.ok ? target.url : ctx.url("/account") });
  res.end();
}
