/**
 * Passkeys: added, renamed and removed on the account page; "Sign in with a passkey" on the login
 * page (a discoverable credential, user verification required: both factors, amr hwk), and as the
 * second step after the password for a user who has one (bound to that user's credentials).
 * The browser part is /static/passkey.js; options go out in the page and the answer comes back in
 * an ordinary form post. Each challenge is a pending record taken once, so an answer replays never.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendNotice } from "../mail/notices.js";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { newPendingToken, pendingIdOf, PENDING_TTL_SECONDS } from "../factors/pending.js";
import { RP_ID_SETTING, rpIdOf, userHandleOf } from "../factors/passkeys.js";
import { addressKey, lockedFor } from "../throttle.js";
import type { ActiveLogin } from "../sessions.js";
import { upgradeSession, type Factor } from "../sign-in/index.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./http-error.js";
import { checkedForm, csrfFor, withCsrfCookie } from "./form-guard.js";
import { mayChangeCredentialsNow, mayEnrolNow, renderAccount } from "./account-routes.js";
import { clientOf, expiredSignIn, finishFactor, openSession, type PendingSignIn } from "./journey.js";
import { loginHref, resolveTarget, TARGET_FIELDS, targetFields, } from "./target.js";

async function requireLogin(ctx: ServerContext, req: IncomingMessage): Promise<ActiveLogin> {
  const login = await ctx.sessions.resolve(ctx.tokenOf(req), ctx.now());
  if (login === null) {
    throw new HttpError(401, { heading: "Signed out", message: "Your session has ended, so nothing was changed. Sign in again to manage your account." });
  }
  return login;
}

async function renderPasskeyPage(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  view: { mode: "register" | "login"; options: unknown; pending: string; action: string; cancelHref: string; error?: string | null; status?: number },
): Promise<void> {
  const csrf = csrfFor(ctx, req);
  // The only pages that run a script, and only /static/passkey.js: every other page keeps no script-src.
  const policy = (await ctx.pageHeaders())["Content-Security-Policy"];
  const headers = withCsrfCookie({ "Content-Security-Policy": `${policy}; script-src 'self'` }, csrf);
  await ctx.sendPage(res, view.status ?? 200, "passkey", view.mode === "register" ? "Add a passkey" : "Sign in with a passkey", {
    mode: view.mode,
    options: JSON.stringify(view.options),
    pending: view.pending,
    csrf: csrf.token,
    action: view.action,
    cancelHref: view.cancelHref,
    error: view.error ?? null,
    scripts: ["passkey.js"],
  }, headers);
}

/** A JSON answer from the browser, or null when it is not one. */
function parseResponse<T>(text: string | undefined): T | null {
  if (text === undefined || text === "" || text.length > 12_000) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string" ? (value as T) : null;
  } catch {
    return null;
  }
}


/** POST /account/passkey/start */
export async function postPasskeyStart(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await checkedForm(ctx, req, []);
  const login = await requireLogin(ctx, req);
  if (!(await mayChangeCredentialsNow(ctx, req, res, login, "passkey"))) return;
  if (!(await mayEnrolNow(ctx, req, res, login, "passkeys"))) return;
  const username = login.user.username;
  const existing = await ctx.store.factors.listPasskeys(username);
  const options = await generateRegistrationOptions({
    rpName: ctx.config.title,
    rpID: rpIdOf(ctx.config),
    userName: username,
    userDisplayName: login.user.name || username,
    userID: userHandleOf(username),
    attestationType: "none",
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
  });
  const { token, id } = newPendingToken();
  await ctx.store.factors.putPending({ id, kind: "passkey-register", username, data: { challenge: options.challenge }, expiresAt: ctx.now() + PENDING_TTL_SECONDS });
  await renderPasskeyPage(ctx, req, res, { mode: "register", options, pending: token, action: ctx.url("/account/passkey/finish"), cancelHref: ctx.url("/account") });
}

/** POST /account/passkey/finish */
export async function postPasskeyFinish(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, ["pending", "response", "name"]);
  const login = await requireLogin(ctx, req);
  if (!(await mayChangeCredentialsNow(ctx, req, res, login, "passkey"))) return;
  if (!(await mayEnrolNow(ctx, req, res, login, "passkeys"))) return;
  const now = ctx.now();
  const username = login.user.username;
  const fail = async (reason: string, message: string): Promise<void> => {
    await ctx.audit.record("user.passkey_add_failed", { username, reason }, now);
    await renderAccount(ctx, req, res, login, { status: 400, error: { section: "passkeys", message: `${message} Nothing was added.` } });
  };
  const id = pendingIdOf(fields.pending);
  // Taken whatever happens next: a challenge is answered once.
  const pending = id === null ? null : await ctx.store.factors.takePending(id, "passkey-register", now);
  if (pending === null || pending.username?.toLowerCase() !== username.toLowerCase()) {
    return fail("stale_challenge", "That request has expired or was already used. Start again with “Add a passkey”.");
  }
  const response = parseResponse<RegistrationResponseJSON>(fields.response);
  if (response === null) return fail("malformed_response", "The browser did not send a passkey.");
  const name = (fields.name ?? "").trim().slice(0, 64) || "Passkey";
  const rpId = rpIdOf(ctx.config);
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: String(pending.data.challenge),
      expectedOrigin: ctx.config.publicOrigin,
      expectedRPID: rpId,
      requireUserVerification: true,
    });
  } catch (error) {
    return fail("invalid_response", `The passkey could not be checked (${(error as Error).message.slice(0, 200)}).`);
  }
  if (!verified.verified || verified.registrationInfo === undefined) return fail("not_verified", "The passkey could not be verified.");
  const { credential } = verified.registrationInfo;
  // Stored at first use: from now on a server with another rpID refuses to start (see checkRpId).
  await ctx.store.factors.initSetting(RP_ID_SETTING, rpId);
  const added = await ctx.store.factors.addPasskey({
    id: credential.id,
    username,
    name,
    publicKey: Buffer.from(credential.publicKey).toString("base64url"),
    counter: credential.counter,
    transports: (credential.transports ?? []).map(String),
    createdAt: now,
  });
  if (!added) return fail("duplicate", "This passkey is already registered.");
  await ctx.audit.record("user.passkey_added", { username, passkey: credential.id.slice(0, 16), name }, now);
  sendNotice(ctx.notifier, login.user, "passkey_added", { addr: ctx.clientAddress(req), userAgent: req.headers["user-agent"], now, detail: `named "${name}"` });
  res.writeHead(303, { Location: `${ctx.url("/account")}?done=passkey_added`, "Cache-Control": "no-store" });
  res.end();
}

/** POST /account/passkey: op=rename (with name) or op=remove, for one of your passkeys. */
export async function postPasskeyChange(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, ["op", "id", "name"]);
  const login = await requireLogin(ctx, req);
  const now = ctx.now();
  const username = login.user.username;
  const passkeyId = (fields.id ?? "").slice(0, 1024);
  if (fields.op === "rename") {
    const name = (fields.name ?? "").trim();
    if (name === "" || name.length > 64 || /[\x00-\x1f\x7f]/.test(name)) {
      return renderAccount(ctx, req, res, login, { status: 400, error: { section: "passkeys", message: "A passkey name has 1 to 64 characters." } });
    }
    if (!(await ctx.store.factors.renamePasskey(username, passkeyId, name))) {
      return renderAccount(ctx, req, res, login, { status: 404, error: { section: "passkeys", message: "That passkey is not one of yours (it may have been removed)." } });
    }
    await ctx.audit.record("user.passkey_renamed", { username, passkey: passkeyId.slice(0, 16), name }, now);
    res.writeHead(303, { Location: `${ctx.url("/account")}?done=passkey_renamed`, "Cache-Control": "no-store" });
    res.end();
    return;
  }
  if (fields.op === "remove") {
    if (!(await mayChangeCredentialsNow(ctx, req, res, login, "passkey"))) return;
    if (!(await ctx.store.factors.removePasskey(username, passkeyId))) {
      return renderAccount(ctx, req, res, login, { status: 404, error: { section: "passkeys", message: "That passkey is not one of yours (it may have been removed)." } });
    }
    await ctx.audit.record("user.passkey_removed", { username, passkey: passkeyId.slice(0, 16) }, now);
    res.writeHead(303, { Location: `${ctx.url("/account")}?done=passkey_removed`, "Cache-Control": "no-store" });
    res.end();
    return;
  }
  throw new HttpError(400, { heading: "Bad request", message: "Choose rename or remove." });
}

/** POST /login/passkey/start: a challenge for any passkey of this site (discoverable), or for the
 * passkeys of the user whose sign-in (`pending`, `step=login`) or step-up (`step=step-up`) waits for
 * a second factor; the target and what it is bound to are kept server-side. */
export async function postPasskeyLoginStart(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, [...TARGET_FIELDS, "pending", "step"]);
  const now = ctx.now();
  let bound: { kind: "login" | "step-up"; id: string; token: string; username: string } | null = null;
  if (fields.pending !== undefined && fields.pending !== "") {
    const kind = fields.step === "step-up" ? "step-up" : "login";
    const id = pendingIdOf(fields.pending);
    const waiting = id === null ? null : await ctx.store.factors.getPending(id, kind, now);
    if (waiting === null || waiting.username === null) return expiredSignIn(ctx, res);
    bound = { kind, id: id!, token: fields.pending, username: waiting.username };
  }
  const target = bound === null ? await resolveTarget(ctx, fields) : null;
  const allowCredentials = bound === null ? [] : (await ctx.store.factors.listPasskeys(bound.username)).map((p) => ({ id: p.id, transports: p.transports as never }));
  if (bound !== null && allowCredentials.length === 0) return expiredSignIn(ctx, res);
  const options = await generateAuthenticationOptions({ rpID: rpIdOf(ctx.config), allowCredentials, userVerification: "required" });
  const { token, id } = newPendingToken();
  await ctx.store.factors.putPending({
    id,
    kind: "passkey-login",
    username: bound?.username ?? null,
    data: { challenge: options.challenge, target: targetFields(target), ...(bound === null ? {} : { bound: { kind: bound.kind, id: bound.id } }) },
    expiresAt: now + PENDING_TTL_SECONDS,
  });
  await renderPasskeyPage(ctx, req, res, { mode: "login", options, pending: token, action: ctx.url("/login/passkey/finish"), cancelHref: bound?.kind === "step-up" ? ctx.url("/account") : loginHref(ctx, target) });
}

/** POST /login/passkey/finish */
export async function postPasskeyLoginFinish(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, ["pending", "response"]);
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const refuse = async (status: number, reason: string, message: string, username?: string, headers?: Record<string, string>): Promise<void> => {
    ctx.metrics?.signIn(status === 429 ? "throttled" : "bad_passkey");
    await ctx.audit.record("login.failure", { username, reason, addr: clientAddr, method: "passkey" }, now);
    await ctx.sendPage(res, status, "error", "Passkey sign-in failed", {
      heading: "Passkey sign-in failed",
      message,
      details: null,
      status,
      linkHref: ctx.url("/login"),
      linkText: "Back to sign-in",
    }, headers ?? {});
  };
  const addrLock = lockedFor(await ctx.store.getThrottle("addr", addressKey(clientAddr, ctx.config.throttle.ipv6Prefix)), now);
  if (addrLock > 0) return refuse(429, "throttled_addr", "Too many failed sign-ins from this address. Try again later.", undefined, { "Retry-After": String(addrLock) });
  const id = pendingIdOf(fields.pending);
  const pending = id === null ? null : await ctx.store.factors.takePending(id, "passkey-login", now);
  if (pending === null) return refuse(400, "stale_challenge", "This sign-in request has expired or was already used. Start again.");
  const bound = (pending.data.bound ?? null) as { kind: "login" | "step-up"; id: string } | null;
  const target = bound === null ? await resolveTarget(ctx, pending.data.target as Record<string, string>) : null;
  const response = parseResponse<AuthenticationResponseJSON>(fields.response);
  if (response === null) return refuse(400, "malformed_response", "The browser did not send a passkey.");
  const passkey = await ctx.store.factors.getPasskey(response.id.slice(0, 1024));
  const counted = async (reason: string, message: string, username?: string): Promise<void> => {
    await ctx.store.recordFailure("addr", addressKey(clientAddr, ctx.config.throttle.ipv6Prefix), ctx.config.throttle.addr, now);
    if (bound !== null && username !== undefined) await ctx.store.recordFailure("code", username.toLowerCase(), ctx.config.throttle.user, now);
    await refuse(401, reason, message, username);
  };
  if (passkey === null) return counted("unknown_passkey", "This passkey is not registered here (it may have been removed, or its account deleted).", pending.username ?? undefined);
  // A second step accepts only the passkeys of the user whose first step it completes.
  if (pending.username !== null && passkey.username.toLowerCase() !== pending.username.toLowerCase()) {
    return counted("wrong_user_passkey", "This passkey belongs to another account.", pending.username);
  }
  const user = await ctx.store.getUser(passkey.username);
  if (user === null || user.disabled) return counted(user === null ? "unknown_user" : "disabled", "This account cannot sign in.", passkey.username);
  const userKey = user.username.toLowerCase();
  const userLock = Math.max(lockedFor(await ctx.store.getThrottle("user", userKey), now), lockedFor(await ctx.store.getThrottle("code", userKey), now));
  if (userLock > 0) return refuse(429, "throttled_user", "Too many failed sign-ins for this account. Try again later.", user.username, { "Retry-After": String(userLock) });
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: String(pending.data.challenge),
      expectedOrigin: ctx.config.publicOrigin,
      expectedRPID: rpIdOf(ctx.config),
      credential: { id: passkey.id, publicKey: Buffer.from(passkey.publicKey, "base64url"), counter: passkey.counter, transports: passkey.transports as never },
      requireUserVerification: true,
    });
  } catch (error) {
    return counted("invalid_assertion", `The passkey could not be checked (${(error as Error).message.slice(0, 200)}).`, user.username);
  }
  if (!verified.verified) return counted("invalid_assertion", "The passkey could not be verified.", user.username);
  await ctx.store.factors.usePasskey(passkey.id, verified.authenticationInfo.newCounter, now);
  if (bound === null) {
    await finishFactor(ctx, req, res, { user, done: ["hwk"], target, via: "/login/passkey" });
    return;
  }
  // Taken once: the code page's record, or the step-up's, cannot also be finished with a code.
  const waiting = await ctx.store.factors.takePending(bound.id, bound.kind, now);
  if (waiting === null || waiting.username?.toLowerCase() !== userKey) return expiredSignIn(ctx, res);
  if (bound.kind === "login") {
    const data = waiting.data as unknown as PendingSignIn;
    const amr: Factor[] = [...(data.done ?? ["pwd"]), "hwk"];
    await openSession(ctx, req, res, { user, amr, passwordHash: data.passwordHash, target: await resolveTarget(ctx, data.target), via: data.via ?? "/login", detail: { method: "passkey" } });
    return;
  }
  const login = await ctx.sessions.resolve(ctx.tokenOf(req), now);
  if (login === null || waiting.data.session !== login.claims.sessionId) return expiredSignIn(ctx, res);
  const upgraded = await upgradeSession(ctx, login, { factor: "hwk", client: clientOf(ctx, req), token: ctx.tokenOf(req) }, now);
  const back = await ctx.checkTarget(String(waiting.data.url));
  res.writeHead(303, { "Cache-Control": "no-store", ...(upgraded === null ? {} : { "Set-Cookie": upgraded.setCookie }), Location: back.ok ? back.url : ctx.url("/account") });
  res.end();
}
