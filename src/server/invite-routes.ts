/**
 * GET/POST /invite/<token> (issue 12): the invited (or reset) user sets a password, checked against the
 * policy, and is signed in; then a second factor is offered. A used, expired or forged link gets a clear
 * page; forged ones count toward the address's throttling, since they are guesses.
 */
import { passkeysUnavailable } from "../factors/passkeys.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCookie, setCookieHeader } from "../cookie.js";
import { invitationTokenOf } from "../factors/invitations.js";
import { tokenDigest } from "../factors/pending.js";
import { passwordProblem } from "../password-policy.js";
import { lockedFor } from "../throttle.js";
import { QueueFullError } from "../work-queue.js";
import { crossSiteReason, isCsrfTokenValid } from "./csrf.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./http-error.js";
import { csrfCookieName, csrfFor, forbidden } from "./login-routes.js";
import { readForm, requestUrl, singleParams } from "./request.js";

interface InviteView {
  status: number;
  state: "form" | "done";
  username: string;
  error?: string | null;
  headers?: Record<string, string | string[]>;
}

async function renderInvite(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, action: string, view: InviteView): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const headers: Record<string, string | string[]> = { ...view.headers };
  if (csrf.setCookie !== null) headers["Set-Cookie"] = [...[headers["Set-Cookie"] ?? []].flat(), csrf.setCookie];
  await ctx.sendPage(res, view.status, "invite", view.state === "form" ? "Choose your password" : "Your password is set", {
    state: view.state,
    username: view.username,
    error: view.error ?? null,
    csrf: csrf.token,
    action,
    totpAction: ctx.url("/account/totp/start"),
    passkeyAction: passkeysUnavailable(ctx.config) === null ? ctx.url("/account/passkey/start") : null,
    accountHref: ctx.url("/account"),
  }, headers);
}

function unusable(): HttpError {
  return new HttpError(410, {
    heading: "This link no longer works",
    message: "Invitation links work once and expire. This one was already used, has expired, or was replaced by a newer one. Ask your administrator for a new link.",
  });
}

/** The invitation a request's path names, after the address's throttling; counts a guess that names none. */
async function invitationOf(ctx: ServerContext, req: IncomingMessage): Promise<{ token: string; username: string }> {
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const lock = lockedFor(await ctx.store.getThrottle("addr", clientAddr), now);
  if (lock > 0) {
    throw new HttpError(429, { heading: "Too many attempts", message: "Too many wrong links from this address. Try again later.", headers: { "Retry-After": String(lock) } });
  }
  const token = invitationTokenOf(requestUrl(req).pathname);
  const invitation = token === null ? null : await ctx.store.factors.getInvitation(tokenDigest(token), now);
  if (token === null || invitation === null) {
    await ctx.store.recordFailure("addr", clientAddr, ctx.config.throttle.addr, now);
    await ctx.audit.record("invitation.refused", { addr: clientAddr }, now);
    throw unusable();
  }
  return { token, username: invitation.username };
}

/** GET /invite/<token> */
export async function getInvite(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { token, username } = await invitationOf(ctx, req);
  await renderInvite(ctx, req, res, ctx.url(`/invite/${token}`), { status: 200, state: "form", username });
}

/** POST /invite/<token>: the new password twice. */
export async function postInvite(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const crossSite = crossSiteReason(req, ctx.config.publicOrigin);
  if (crossSite !== null) throw forbidden(`This form came from another site (${crossSite}) and was refused.`);
  const fields = singleParams(await readForm(req), ["csrf", "password", "repeat"]);
  if (!isCsrfTokenValid(readCookie(req.headers.cookie, csrfCookieName(ctx)), fields.csrf, ctx.keyring.secrets)) {
    throw forbidden("The form had expired or did not come from this server. Go back, reload the page and try again.");
  }
  const { token, username } = await invitationOf(ctx, req);
  const action = ctx.url(`/invite/${token}`);
  const password = fields.password ?? "";
  const fail = (status: number, error: string, headers?: Record<string, string>): Promise<void> =>
    renderInvite(ctx, req, res, action, { status, state: "form", username, error, ...(headers ? { headers } : {}) });
  if (password !== (fields.repeat ?? "")) return fail(400, "The two passwords differ.");
  const problem = passwordProblem(password);
  if (problem !== null) return fail(400, `This password is not accepted: ${problem}.`);
  let hash: string;
  try {
    hash = await ctx.signIn.hashNewPassword(password);
  } catch (error) {
    if (error instanceof QueueFullError) return fail(503, "The server is busy. Try again in a few seconds.", { "Retry-After": "5" });
    throw error;
  }
  const now = ctx.now();
  // One transaction sets the password and removes the link: of two posts, one wins.
  const accepted = await ctx.store.factors.acceptInvitation(tokenDigest(token), hash, now);
  if (accepted === null) throw unusable();
  await ctx.store.clearThrottle("user", accepted.toLowerCase());
  const clientAddr = ctx.clientAddress(req);
  await ctx.audit.record("user.invitation_accepted", { username: accepted, addr: clientAddr }, now);
  const user = await ctx.store.getUser(accepted);
  const issued = user === null ? null : await ctx.sessions.issue(user, { addr: clientAddr, userAgent: req.headers["user-agent"] ?? "", passwordHash: hash }, now);
  const headers: Record<string, string | string[]> = {};
  if (issued !== null) {
    headers["Set-Cookie"] = setCookieHeader(ctx.cookie, issued.token, ctx.sessions.ttlSeconds);
    await ctx.audit.record("login.success", { username: accepted, session: issued.session.id, addr: clientAddr, amr: "pwd", via: "invitation" }, now);
  }
  await renderInvite(ctx, req, res, action, { status: 200, state: "done", username: accepted, headers });
}
