/**
 * The sign-in journey's HTTP face: every sign-in route (the login form, passkeys, invitation and
 * reset links, CAS) hands what it verified to `finishFactor`, and every bounce to a target passes
 * `passAccessGate`; both ask the journey (src/sign-in) for the next step and render it here — the
 * code page, the step-up page, enrolment, the 403 page, or on to the target. Sessions are issued
 * and upgraded only by the journey's session functions.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { renderSVG } from "uqr";
import { newPendingToken, PENDING_TTL_SECONDS } from "../factors/pending.js";
import { groupedSecret, newTotpSecret, otpauthUri } from "../factors/totp.js";
import { factorsHeld, nextStep, startSession, type Factor, type SecondFactorOffer } from "../sign-in/index.js";
import type { ActiveLogin } from "../sessions.js";
import type { User } from "../store/store.js";
import type { ServerContext } from "./context.js";
import { csrfFor, withCsrfCookie } from "./form-guard.js";
import { appLabel, recordDenial, sendForbidden } from "./forbidden-page.js";
import { loginHref, targetFields, type Target } from "./target.js";

type Headers = Record<string, string | string[]>;

/** The client as sessions and the audit trail record it. */
export function clientOf(ctx: ServerContext, req: IncomingMessage): { addr: string; userAgent: string } {
  return { addr: ctx.clientAddress(req), userAgent: req.headers["user-agent"] ?? "" };
}

/** The record of a sign-in whose first factor is done, waiting for the second. */
export interface PendingSignIn {
  /** The hash the password was checked against (or set to, by a link); the session is held to it. */
  passwordHash?: string;
  /** The target fields of the sign-in, checked again when the session is made. */
  target: Record<string, string>;
  /** What the first step proved. */
  done: Factor[];
  via: string;
}

/**
 * A first factor is verified (the password, a link that set one, a passkey): the journey's next
 * step — the second-factor page for a user who has one, else the session and on to the target.
 */
export async function finishFactor(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  signIn: {
    user: User;
    done: Factor[];
    passwordHash?: string | undefined;
    target: Target | null;
    via: string;
    detail?: Record<string, unknown>;
    headers?: Headers;
    /** The page once the session is made, instead of the gate and the target (an invitation's "done" page). */
    signedIn?: (headers: Headers) => Promise<void>;
  },
): Promise<void> {
  const held = await factorsHeld(ctx.store, signIn.user.username);
  const step = nextStep({ held, done: signIn.done, signedIn: false, verdict: null, enrolment: "open" });
  if (step.next === "second_factor") {
    const { token, id } = newPendingToken();
    const now = ctx.now();
    const data: PendingSignIn = { target: targetFields(signIn.target), done: signIn.done, via: signIn.via, ...(signIn.passwordHash !== undefined ? { passwordHash: signIn.passwordHash } : {}) };
    await ctx.store.factors.putPending({ id, kind: "login", username: signIn.user.username, data: { ...data }, expiresAt: now + PENDING_TTL_SECONDS });
    await ctx.audit.record("login.password_ok", { username: signIn.user.username, addr: ctx.clientAddress(req), next: step.offer.join(","), via: signIn.via }, now);
    await renderCode(ctx, req, res, { status: 200, username: signIn.user.username, pending: token, target: signIn.target, offer: step.offer, error: null, headers: signIn.headers });
    return;
  }
  if (step.next !== "session") throw new Error(`the journey answered ${step.next} to a first factor`);
  await openSession(ctx, req, res, { ...signIn, amr: step.amr });
}

/** Every factor is done: the session (replacing the browser's), then the gate for the target. */
export async function openSession(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  signIn: {
    user: User;
    amr: Factor[];
    passwordHash?: string | undefined;
    target: Target | null;
    via: string;
    detail?: Record<string, unknown> | undefined;
    headers?: Headers | undefined;
    signedIn?: ((headers: Headers) => Promise<void>) | undefined;
  },
): Promise<void> {
  const now = ctx.now();
  const outcome = await startSession(
    ctx,
    { user: signIn.user, amr: signIn.amr, passwordHash: signIn.passwordHash, client: clientOf(ctx, req), replacing: ctx.tokenOf(req), via: signIn.via, app: signIn.target?.origin, detail: signIn.detail },
    now,
  );
  if (!outcome.ok) {
    await expiredSignIn(ctx, res);
    return;
  }
  const headers: Headers = { ...signIn.headers, "Set-Cookie": outcome.setCookie };
  if (signIn.signedIn !== undefined) return signIn.signedIn(headers);
  if (signIn.target !== null && !(await passAccessGate(ctx, req, res, { login: outcome.login, url: signIn.target.url, headers, via: signIn.via }))) return;
  await sendSignedIn(ctx, req, res, { username: signIn.user.username, target: signIn.target, headers, fromPost: true });
}

export interface GateRequest {
  login: ActiveLogin;
  /** The checked target URL. */
  url: string;
  /** Extra headers for the refusal (the new session's cookie after a sign-in). */
  headers?: Headers | undefined;
  via: string;
}

/**
 * The access gate for a signed-in browser on its way to a target: true when it may go on;
 * otherwise the journey's next step (step-up, enrolment, or the 403 page) was sent. The bounce
 * is always a GET of the target, so the decision is asked for GET.
 */
export async function passAccessGate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, request: GateRequest): Promise<boolean> {
  const access = ctx.decideAccess(request.login, "GET", request.url);
  if (access.verdict === "allow") return true;
  const username = request.login.user.username;
  await recordDenial(ctx, req, { access, username, method: "GET", url: request.url, via: request.via });
  const held = await factorsHeld(ctx.store, username);
  const step = nextStep({ held, done: request.login.claims.amr ?? ["pwd"], signedIn: true, verdict: access.verdict, enrolment: ctx.enrolmentFor(access.app) });
  switch (step.next) {
    case "step_up":
      await startStepUp(ctx, req, res, { login: request.login, url: request.url, offer: step.offer, headers: request.headers });
      return false;
    case "enrol":
      await sendEnrolment(ctx, req, res, { login: request.login, next: request.url, headers: request.headers });
      return false;
    case "forbidden":
      await sendForbidden(ctx, res, { kind: step.kind, username, appName: appLabel(access, request.url), url: request.url, headers: request.headers });
      return false;
    default:
      // `go`, or `password` for a verdict that wants a login (none here: the browser is signed in).
      await sendForbidden(ctx, res, { kind: "forbidden", username, appName: appLabel(access, request.url), url: request.url, headers: request.headers });
      return false;
  }
}

/** After a sign-in (or when already signed in): the redirect, the link page, or the signed-in page. */
export async function sendSignedIn(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  signedIn: { username: string; target: Target | null; headers?: Headers; fromPost: boolean },
): Promise<void> {
  const headers: Headers = { ...signedIn.headers, "Cache-Control": "no-store" };
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
  await ctx.sendPage(res, 200, "signed-in", "Signed in", {
    username: signedIn.username,
    logoutAction: ctx.url("/logout"),
    csrf: csrf.token,
    accountHref: ctx.url("/account"),
  }, withCsrfCookie(headers, csrf));
}

/** The second-factor page of a sign-in: the code field when the user has TOTP, the passkey button when they have one. */
export async function renderCode(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { status: number; username: string; pending: string; target: Target | null; offer: SecondFactorOffer[]; error: string | null; headers?: Headers | undefined },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  await ctx.sendPage(res, view.status, "code", "Two-step verification", {
    username: view.username,
    appName: view.target === null ? null : ctx.appName(view.target.origin),
    error: view.error,
    csrf: csrf.token,
    pending: view.pending,
    action: ctx.url("/login/code"),
    code: view.offer.includes("code"),
    passkeyAction: view.offer.includes("passkey") ? ctx.url("/login/passkey/start") : null,
    restartHref: loginHref(ctx, view.target),
  }, withCsrfCookie({ ...view.headers }, csrf));
}

export interface StepUpRequest {
  login: ActiveLogin;
  /** The checked target URL. */
  url: string;
  offer: SecondFactorOffer[];
  /** Extra headers for the page (the new session's cookie right after a password sign-in). */
  headers?: Headers | undefined;
}

/** The second-factor step for a login made with one factor, bound to its session; on to the target afterwards. */
export async function startStepUp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, request: StepUpRequest): Promise<void> {
  const username = request.login.user.username;
  const { token, id } = newPendingToken();
  const now = ctx.now();
  await ctx.store.factors.putPending({ id, kind: "step-up", username, data: { session: request.login.claims.sessionId, url: request.url }, expiresAt: now + PENDING_TTL_SECONDS });
  await renderStepUp(ctx, req, res, { status: 200, username, pending: token, url: request.url, offer: request.offer, error: null, headers: request.headers });
}

export async function renderStepUp(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { status: number; username: string; pending: string; url: string; offer: SecondFactorOffer[]; error: string | null; headers?: Headers | undefined },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const origin = new URL(view.url).origin;
  await ctx.sendPage(res, view.status, "code", "Two-step verification", {
    username: view.username,
    appName: ctx.appName(origin) ?? origin,
    stepUp: true,
    error: view.error,
    csrf: csrf.token,
    pending: view.pending,
    action: ctx.url("/login/step-up"),
    code: view.offer.includes("code"),
    passkeyAction: view.offer.includes("passkey") ? ctx.url("/login/passkey/start") : null,
    restartHref: ctx.url("/account"),
  }, withCsrfCookie({ ...view.headers }, csrf));
}

/**
 * The enrolment page: QR code, the secret as text, the code field. `next`: where to go afterwards
 * (a checked target, or "" for the account page). The secret waits server-side until a code confirms it.
 */
export async function sendEnrolment(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  request: { login: ActiveLogin; next: string; error?: string; pending?: { token: string; secret: string }; status?: number; headers?: Headers | undefined },
): Promise<void> {
  const username = request.login.user.username;
  let pending = request.pending;
  if (pending === undefined) {
    const secret = newTotpSecret();
    const { token, id } = newPendingToken();
    await ctx.store.factors.putPending({ id, kind: "enrol", username, data: { secret, next: request.next }, expiresAt: ctx.now() + 2 * PENDING_TTL_SECONDS });
    pending = { token, secret };
  }
  const uri = otpauthUri({ issuer: ctx.config.title, account: username, secret: pending.secret });
  const qr = renderSVG(uri, { border: 2 }).replace("<svg ", '<svg class="qr" role="img" aria-label="QR code to scan with your authenticator app" ');
  const csrf = csrfFor(ctx, req);
  await ctx.sendPage(res, request.status ?? 200, "totp-enrol", "Set up an authenticator app", {
    qr,
    secret: groupedSecret(pending.secret),
    uri,
    pending: pending.token,
    csrf: csrf.token,
    error: request.error ?? null,
    stepUp: request.next !== "",
    action: ctx.url("/account/totp/confirm"),
    cancelHref: ctx.url("/account"),
  }, withCsrfCookie({ ...request.headers }, csrf));
}

/** A half-done sign-in that can no longer be finished: too late, used already, or the account changed. */
export async function expiredSignIn(ctx: ServerContext, res: ServerResponse): Promise<void> {
  await ctx.sendPage(res, 400, "error", "Sign-in expired", {
    heading: "This sign-in has expired",
    message: "The second step has to be completed within a few minutes of entering your password, once. Sign in again.",
    details: null,
    status: 400,
    linkHref: ctx.url("/login"),
    linkText: "Sign in again",
  });
}
