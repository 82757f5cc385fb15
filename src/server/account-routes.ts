/**
 * The account page: who you are, your sessions, your password, your authenticator
 * app and recovery codes, your passkeys. Every form is CSRF-protected and every change audited.
 * Changes answer with a 303 back to /account?done=<what>, so a reload never posts again.
 */
import { isDirectoryUser } from "../directory/users.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendNotice } from "../mail/notices.js";
import { confirmTotp, removeTotp, renewRecoveryCodes } from "../factors/enrolment.js";
import { pendingIdOf } from "../factors/pending.js";
import { checkSecondFactor, codeCheckMessage } from "../factors/second-factor.js";
import { passwordProblem } from "../password-policy.js";
import type { ActiveLogin } from "../sessions.js";
import { enrolmentAllowanceKey, factorsHeld, mayChangeCredentials, mayEnrolHere, upgradeSession } from "../sign-in/index.js";
import { browserName, signInMethodLabel } from "../session-labels.js";
import { passkeysUnavailable } from "../factors/passkeys.js";
import { QueueFullError } from "../work-queue.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./http-error.js";
import { checkedForm, csrfFor, withCsrfCookie } from "./form-guard.js";
import { clientOf, sendEnrolment } from "./journey.js";
import { sendSignInForm } from "./login-routes.js";
import { requestUrl, singleParams } from "./request.js";

/** What /account?done=… says, by key: nothing from the query reaches the page but these texts. */
const NOTICES: Record<string, string> = {
  session: "The session was ended.",
  others: "Your other sessions were ended.",
  password: "Your password was changed. Your other sessions were ended.",
  totp_removed: "The authenticator app was removed. You now sign in with your password alone.",
  passkey_added: "The passkey was added.",
  passkey_renamed: "The passkey was renamed.",
  passkey_removed: "The passkey was removed.",
};

/** The credential changes the account page lists, by audit event: what the user reads. */
const CHANGES: Record<string, (detail: Record<string, unknown>) => string> = {
  "user.password_changed": (d) => (d.by === "user" ? "Password changed" : "Password changed by an administrator"),
  "user.reset": () => "Password reset by an administrator (a link to set a new one)",
  "user.invitation_accepted": () => "Password set through an invitation or reset link",
  "user.totp_enrolled": (d) => (d.by === "admin" ? "Authenticator app set up by an administrator" : "Authenticator app set up"),
  "user.totp_removed": (d) => (d.by === "admin" ? "Authenticator app removed by an administrator" : "Authenticator app removed"),
  "user.recovery_codes_renewed": () => "New recovery codes made",
  "user.passkey_added": (d) => `Passkey added${typeof d.name === "string" ? `: ${d.name}` : ""}`,
  "user.passkey_removed": () => "Passkey removed",
  "user.factors_removed": (d) => `Removed by an administrator: ${String(d.removed ?? "")}`,
};

/** The signed-in user of a request, or null. */
async function loginOf(ctx: ServerContext, req: IncomingMessage): Promise<ActiveLogin | null> {
  return ctx.sessions.resolve(ctx.tokenOf(req), ctx.now());
}

function toLogin(ctx: ServerContext, res: ServerResponse): void {
  res.writeHead(303, { Location: `${ctx.url("/login")}?rd=${encodeURIComponent(ctx.url("/account"))}`, "Cache-Control": "no-store" });
  res.end();
}

function backToAccount(ctx: ServerContext, res: ServerResponse, done: keyof typeof NOTICES): void {
  res.writeHead(303, { Location: `${ctx.url("/account")}?done=${done}`, "Cache-Control": "no-store" });
  res.end();
}

/** A post's form once its origin and CSRF token are checked, and the login it is made under. */
async function checkedPost(
  ctx: ServerContext,
  req: IncomingMessage,
  names: readonly string[],
): Promise<{ login: ActiveLogin; fields: Record<string, string | undefined> }> {
  const fields = await checkedForm(ctx, req, names, "change");
  const login = await loginOf(ctx, req);
  if (login === null) {
    throw new HttpError(401, { heading: "Signed out", message: "Your session has ended, so nothing was changed. Sign in again to manage your account." });
  }
  return { login, fields };
}

/**
 * Adding or removing a credential needs a session with the user's strongest factor, signed in
 * within the last 10 minutes (src/sign-in/steps.ts). Otherwise nothing is changed and the user
 * re-authenticates: the sign-in form, whatever the session, with every factor they have, and
 * back to the account page with a session that may. True when the change may go ahead.
 */
export async function mayChangeCredentialsNow(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, login: ActiveLogin, change: string): Promise<boolean> {
  const now = ctx.now();
  const held = await factorsHeld(ctx.store, login.user.username);
  if (mayChangeCredentials({ amr: login.claims.amr ?? ["pwd"], signedInAt: login.claims.issuedAt }, held, now)) return true;
  await ctx.audit.record("user.reauthentication_required", { username: login.user.username, change, amr: (login.claims.amr ?? ["pwd"]).join(",") }, now);
  await sendSignInForm(ctx, req, res, ctx.url("/account"), {
    status: 401,
    notice: "Re-authenticate to continue: changing how you sign in needs a sign-in from the last 10 minutes with every factor you have. Nothing was changed.",
  });
  return false;
}

/**
 * Under strict enrolment, a user with no second factor enrols one here only with an admin's
 * allowance (an invitation or reset link just used); otherwise the page says who can. True when
 * the enrolment may go ahead.
 */
export async function mayEnrolNow(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, login: ActiveLogin, section: "totp" | "passkeys"): Promise<boolean> {
  const username = login.user.username;
  const held = await factorsHeld(ctx.store, username);
  const allowance = ctx.config.enrolment === "strict" ? await ctx.store.factors.getSetting(enrolmentAllowanceKey(username)) : null;
  if (mayEnrolHere({ held, enrolment: ctx.config.enrolment, allowedUntil: allowance === null ? null : Number(allowance) }, ctx.now())) return true;
  await ctx.audit.record("user.enrolment_refused", { username, reason: "strict_enrolment" }, ctx.now());
  await renderAccount(ctx, req, res, login, {
    status: 403,
    error: { section, message: "Your administrator sets up second factors on this server: ask them for an invitation or reset link (which lets you set one up here), or to enrol one for you. Nothing was changed." },
  });
  return false;
}

export interface AccountView {
  status?: number;
  error?: { section: string; message: string } | null;
  headers?: Record<string, string>;
}

export async function renderAccount(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, login: ActiveLogin, view: AccountView = {}): Promise<void> {
  const now = ctx.now();
  const username = login.user.username;
  const done = singleParams(requestUrl(req).searchParams, ["done"]).done;
  const sessions = (await ctx.store.listSessions({ username }, now)).filter((s) => !s.anonymous);
  const totp = await ctx.store.factors.getTotp(username);
  const recoveryLeft = totp === null ? 0 : (await ctx.store.factors.recoveryCodes(username)).length;
  const passkeys = await ctx.store.factors.listPasskeys(username);
  const changes = (await ctx.store.listAudit(200, { username }))
    .filter((e) => Object.hasOwn(CHANGES, e.event))
    .slice(0, 10)
    .map((e) => ({ when: new Date(e.at * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC", what: CHANGES[e.event]!(e.detail ?? {}) }));
  const csrf = csrfFor(ctx, req);
  const headers = withCsrfCookie({ ...view.headers }, csrf);
  await ctx.sendPage(res, view.status ?? 200, "account", "Your account", {
    wide: true,
    user: login.user,
    signedInWith: signInMethodLabel(login.claims.amr ?? ["pwd"]),
    passkeysUnavailable: passkeysUnavailable(ctx.config),
    notice: done !== undefined && Object.hasOwn(NOTICES, done) ? NOTICES[done] : null,
    error: view.error ?? null,
    csrf: csrf.token,
    sessions: sessions.map((s) => ({
      id: s.id,
      current: s.id === login.claims.sessionId,
      created: new Date(s.createdAt * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC",
      addr: s.clientAddr,
      agent: browserName(s.userAgent),
      amr: signInMethodLabel(s.amr ?? ["pwd"]),
    })),
    totp: totp !== null,
    recoveryLeft,
    passkeys: passkeys.map((p) => ({
      id: p.id,
      name: p.name,
      created: new Date(p.createdAt * 1000).toISOString().slice(0, 10),
      lastUsed: p.lastUsedAt === null ? "never" : new Date(p.lastUsedAt * 1000).toISOString().slice(0, 10),
    })),
    changes,
    url: (path: string) => ctx.url(path),
    logoutAction: ctx.url("/logout"),
  }, headers);
}

/** GET /account */
export async function getAccount(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const login = await loginOf(ctx, req);
  if (login === null) return toLogin(ctx, res);
  await renderAccount(ctx, req, res, login);
}

/** POST /account/session: end one of your sessions (id), or all the others (others=1). */
export async function postEndSession(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { login, fields } = await checkedPost(ctx, req, ["id", "others"]);
  const now = ctx.now();
  const username = login.user.username;
  const mine = await ctx.store.listSessions({ username }, now);
  if (fields.others === "1") {
    const ended = await endOtherSessions(ctx, username, login.claims.sessionId);
    await ctx.audit.record("session.revoked", { username, by: "user", count: ended, kept: login.claims.sessionId }, now);
    return backToAccount(ctx, res, "others");
  }
  const target = mine.find((s) => s.id === fields.id);
  if (target === undefined) {
    return renderAccount(ctx, req, res, login, { status: 400, error: { section: "sessions", message: "That session has already ended or is not yours." } });
  }
  await ctx.store.deleteSession(target.id);
  await ctx.audit.record("session.revoked", { username, by: "user", id: target.id, count: 1 }, now);
  if (target.id === login.claims.sessionId) {
    res.writeHead(303, { Location: ctx.url("/login"), "Cache-Control": "no-store" });
    res.end();
    return;
  }
  backToAccount(ctx, res, "session");
}

async function endOtherSessions(ctx: ServerContext, username: string, keep: string): Promise<number> {
  let ended = 0;
  for (const session of await ctx.store.listSessions({ username }, ctx.now())) {
    if (session.id !== keep && (await ctx.store.deleteSession(session.id))) ended += 1;
  }
  return ended;
}

/** POST /account/password: the current password, then the new one twice; ends the other sessions. */
export async function postPassword(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { login, fields } = await checkedPost(ctx, req, ["current", "password", "repeat"]);
  if (!(await mayChangeCredentialsNow(ctx, req, res, login, "password"))) return;
  const now = ctx.now();
  const username = login.user.username;
  const fail = (status: number, message: string, headers?: Record<string, string>): Promise<void> =>
    renderAccount(ctx, req, res, login, { status, error: { section: "password", message }, ...(headers ? { headers } : {}) });
  const next = fields.password ?? "";
  if (next !== (fields.repeat ?? "")) return fail(400, "The two new passwords differ. Nothing was changed.");
  const problem = passwordProblem(next);
  if (problem !== null) return fail(400, `The new password is not accepted: ${problem}. Nothing was changed.`);
  const check = await ctx.signIn.attempt({ username, password: fields.current ?? "", clientAddr: ctx.clientAddress(req) }, now);
  if (check.kind === "throttled") return fail(429, "Too many wrong passwords. Try again later.", { "Retry-After": String(check.retryAfter) });
  if (check.kind === "busy") return fail(503, "The server is busy. Try again in a few seconds.", { "Retry-After": String(check.retryAfter) });
  if (check.kind === "unavailable") return fail(503, "The directory is unreachable. Try again in a few minutes.", { "Retry-After": "30" });
  if (check.kind === "ok" && isDirectoryUser(check.user)) return fail(400, "Your password is kept by your organisation's directory: change it there. Nothing was changed.");
  if (check.kind !== "ok") {
    await ctx.audit.record("user.password_change_failed", { username, reason: "wrong_current_password" }, now);
    return fail(401, "The current password is not correct. Nothing was changed.");
  }
  let hash: string;
  try {
    hash = await ctx.signIn.hashNewPassword(next);
  } catch (error) {
    if (error instanceof QueueFullError) return fail(503, "The server is busy. Try again in a few seconds.", { "Retry-After": "5" });
    throw error;
  }
  if (!(await ctx.store.replacePasswordHash(username, check.passwordHash, hash))) {
    return fail(409, "The password was changed elsewhere meanwhile. Nothing was changed; try again.");
  }
  const ended = await endOtherSessions(ctx, username, login.claims.sessionId);
  await ctx.audit.record("user.password_changed", { username, by: "user", sessions: ended }, now);
  sendNotice(ctx.notifier, login.user, "password_changed", { addr: ctx.clientAddress(req), userAgent: req.headers["user-agent"], now });
  backToAccount(ctx, res, "password");
}

/** POST /account/totp/start: a new secret, held server-side until a code confirms it. */
export async function postTotpStart(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { login, fields } = await checkedPost(ctx, req, ["next"]);
  if (!(await mayChangeCredentialsNow(ctx, req, res, login, "totp"))) return;
  if (!(await mayEnrolNow(ctx, req, res, login, "totp"))) return;
  await startEnrolment(ctx, req, res, login, { next: fields.next ?? "" });
}

/** The enrolment page from the account page, unless an authenticator app is set up already. */
async function startEnrolment(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  login: ActiveLogin,
  options: { next: string; error?: string; pending?: { token: string; secret: string }; status?: number },
): Promise<void> {
  if ((await ctx.store.factors.getTotp(login.user.username)) !== null) {
    return renderAccount(ctx, req, res, login, { status: 409, error: { section: "totp", message: "An authenticator app is already set up. Remove it first to set up another." } });
  }
  await sendEnrolment(ctx, req, res, { login, ...options });
}

/** POST /account/totp/confirm: the first code; stores the secret and shows the recovery codes once. */
export async function postTotpConfirm(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { login, fields } = await checkedPost(ctx, req, ["pending", "code"]);
  if (!(await mayChangeCredentialsNow(ctx, req, res, login, "totp"))) return;
  if (!(await mayEnrolNow(ctx, req, res, login, "totp"))) return;
  const now = ctx.now();
  const username = login.user.username;
  const id = pendingIdOf(fields.pending);
  const pending = id === null ? null : await ctx.store.factors.getPending(id, "enrol", now);
  if (pending === null || pending.username?.toLowerCase() !== username.toLowerCase()) {
    return renderAccount(ctx, req, res, login, { status: 400, error: { section: "totp", message: "That setup has expired. Start again: a new QR code will be shown." } });
  }
  const secret = String(pending.data.secret);
  const next = String(pending.data.next ?? "");
  const result = await confirmTotp(ctx.store, username, secret, fields.code ?? "", now);
  if (!result.ok) {
    await ctx.audit.record("user.totp_enrol_failed", { username }, now);
    return startEnrolment(ctx, req, res, login, { next, error: result.problem, pending: { token: fields.pending!, secret }, status: 400 });
  }
  await ctx.store.factors.takePending(id!, "enrol", now);
  await ctx.audit.record("user.totp_enrolled", { username, by: "user" }, now);
  sendNotice(ctx.notifier, login.user, "second_factor_added", { addr: ctx.clientAddress(req), userAgent: req.headers["user-agent"], now });
  await upgradeAfterEnrolment(ctx, req, res, login, { recoveryCodes: result.recoveryCodes, next });
}

/**
 * After enrolling, the session this was done in counts as two factors (the code just typed proved the
 * app): a new session with amr pwd+otp replaces it, then the recovery codes page links on to `next`.
 */
async function upgradeAfterEnrolment(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  login: ActiveLogin,
  done: { recoveryCodes: string[]; next: string },
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  const upgraded = await upgradeSession(ctx, login, { factor: "otp", client: clientOf(ctx, req), token: ctx.tokenOf(req) }, ctx.now());
  if (upgraded !== null) headers["Set-Cookie"] = upgraded.setCookie;
  const check = done.next === "" ? null : await ctx.checkTarget(done.next);
  await sendRecoveryCodes(ctx, res, {
    codes: done.recoveryCodes,
    nextHref: check !== null && check.ok ? check.url : ctx.url("/account"),
    nextText: check !== null && check.ok ? `Continue to ${ctx.appName(check.origin) ?? check.origin}` : "Back to your account",
  }, headers);
}

/** The recovery codes page: with Download (a data: link) and Copy (its one script, from /static). */
async function sendRecoveryCodes(
  ctx: ServerContext,
  res: ServerResponse,
  view: { codes: string[]; nextHref: string; nextText: string },
  headers: Record<string, string | string[]> = {},
): Promise<void> {
  const policy = (await ctx.pageHeaders())["Content-Security-Policy"];
  await ctx.sendPage(res, 200, "recovery-codes", "Your recovery codes", { ...view, scripts: ["recovery-codes.js"] }, { ...headers, "Content-Security-Policy": `${policy}; script-src 'self'` });
}

/** POST /account/totp/remove and /account/recovery-codes: both need a current code (or a recovery code). */
export async function postTotpChange(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { login, fields } = await checkedPost(ctx, req, ["code"]);
  const renew = requestUrl(req).pathname.endsWith("/recovery-codes");
  if (!(await mayChangeCredentialsNow(ctx, req, res, login, renew ? "recovery_codes" : "totp"))) return;
  const now = ctx.now();
  const username = login.user.username;
  const check = await checkSecondFactor(ctx.store, ctx.config.throttle, { username, code: fields.code ?? "", clientAddr: ctx.clientAddress(req) }, now);
  if (check.kind !== "ok") {
    await ctx.audit.record(renew ? "user.recovery_codes_failed" : "user.totp_remove_failed", { username, reason: check.kind === "wrong" ? check.reason : check.kind }, now);
    const status = check.kind === "throttled" ? 429 : check.kind === "malformed" ? 400 : 401;
    return renderAccount(ctx, req, res, login, { status, error: { section: "totp", message: `${codeCheckMessage(check)} Nothing was changed.` } });
  }
  if (renew) {
    const codes = await renewRecoveryCodes(ctx.store, username);
    await ctx.audit.record("user.recovery_codes_renewed", { username, by: "user" }, now);
    await sendRecoveryCodes(ctx, res, { codes, nextHref: ctx.url("/account"), nextText: "Back to your account" });
    return;
  }
  await removeTotp(ctx.store, username);
  await ctx.audit.record("user.totp_removed", { username, by: "user" }, now);
  sendNotice(ctx.notifier, login.user, "second_factor_removed", { addr: ctx.clientAddress(req), userAgent: req.headers["user-agent"], now });
  backToAccount(ctx, res, "totp_removed");
}
