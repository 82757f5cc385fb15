/**
 * GET/POST /invite/<token>: the invited (or reset) user sets a password, checked against the policy,
 * then passes the journey like any sign-in: a user who still has a second factor (a reset that kept
 * it) proves it before any session exists; one without is signed in and offered one. The same page
 * serves "Forgot your password?" links (purpose `reset`). A used, expired or forged link gets a clear
 * page; forged ones count toward the address's throttling, since they are guesses.
 */
import { passkeysUnavailable } from "../factors/passkeys.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { invitationTokenOf } from "../factors/invitations.js";
import { tokenDigest } from "../factors/pending.js";
import { passwordProblem } from "../password-policy.js";
import { addressKey, lockedFor } from "../throttle.js";
import { QueueFullError } from "../work-queue.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./http-error.js";
import { checkedForm, csrfFor, withCsrfCookie } from "./form-guard.js";
import { finishFactor } from "./journey.js";
import { ENROLMENT_ALLOWANCE_SECONDS, enrolmentAllowanceKey } from "../sign-in/index.js";
import { requestUrl } from "./request.js";
import type { InvitationPurpose } from "../store/factors.js";
import { sendNotice } from "../mail/notices.js";

interface InviteView {
  status: number;
  state: "form" | "done";
  username: string;
  purpose: InvitationPurpose;
  error?: string | null;
  headers?: Record<string, string | string[]>;
}

async function renderInvite(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, action: string, view: InviteView): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const headers = withCsrfCookie({ ...view.headers }, csrf);
  const heading = view.purpose === "reset" ? "Choose a new password" : "Choose your password";
  await ctx.sendPage(res, view.status, "invite", view.state === "form" ? heading : "Your password is set", {
    state: view.state,
    username: view.username,
    purpose: view.purpose,
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
async function invitationOf(ctx: ServerContext, req: IncomingMessage): Promise<{ token: string; username: string; purpose: InvitationPurpose }> {
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const lock = lockedFor(await ctx.store.getThrottle("addr", addressKey(clientAddr, ctx.config.throttle.ipv6Prefix)), now);
  if (lock > 0) {
    throw new HttpError(429, { heading: "Too many attempts", message: "Too many wrong links from this address. Try again later.", headers: { "Retry-After": String(lock) } });
  }
  const token = invitationTokenOf(requestUrl(req).pathname);
  const invitation = token === null ? null : await ctx.store.factors.getInvitation(tokenDigest(token), now);
  if (token === null || invitation === null) {
    await ctx.store.recordFailure("addr", addressKey(clientAddr, ctx.config.throttle.ipv6Prefix), ctx.config.throttle.addr, now);
    await ctx.audit.record("invitation.refused", { addr: clientAddr }, now);
    throw unusable();
  }
  return { token, username: invitation.username, purpose: invitation.purpose };
}

/** GET /invite/<token> */
export async function getInvite(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { token, username, purpose } = await invitationOf(ctx, req);
  await renderInvite(ctx, req, res, ctx.url(`/invite/${token}`), { status: 200, state: "form", username, purpose });
}

/** POST /invite/<token>: the new password twice. */
export async function postInvite(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, ["password", "repeat"], "form");
  const { token, username, purpose } = await invitationOf(ctx, req);
  const action = ctx.url(`/invite/${token}`);
  const password = fields.password ?? "";
  const fail = (status: number, error: string, headers?: Record<string, string>): Promise<void> =>
    renderInvite(ctx, req, res, action, { status, state: "form", username, purpose, error, ...(headers ? { headers } : {}) });
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
  const clientAddr = ctx.clientAddress(req);
  await ctx.audit.record(purpose === "reset" ? "user.password_reset" : "user.invitation_accepted", { username: accepted, addr: clientAddr }, now);
  const user = await ctx.store.getUser(accepted);
  if (user === null) throw unusable();
  if (purpose === "reset") {
    // A reset may follow a stolen password: whoever held a session with the old one loses it.
    const ended = await ctx.store.deleteUserSessions(accepted);
    await ctx.audit.record("session.revoked", { username: accepted, sessions: ended, reason: "password_reset" }, now);
    sendNotice(ctx.notifier, user, "password_changed", { addr: clientAddr, userAgent: req.headers["user-agent"], now });
  } else {
    // The admin's link is their allowance to enrol a second factor on the account page, under strict
    // enrolment too; a "Forgot your password?" link proves only the mailbox, and is no such allowance.
    await ctx.store.factors.setSetting(enrolmentAllowanceKey(accepted), String(now + ENROLMENT_ALLOWANCE_SECONDS));
  }
  // The link proves the mailbox (or the admin's trust), not the second factor: the journey still asks for it before any session.
  await finishFactor(ctx, req, res, {
    user,
    done: ["pwd"],
    passwordHash: hash,
    target: null,
    via: purpose === "reset" ? "reset" : "invitation",
    signedIn: (headers) => renderInvite(ctx, req, res, action, { status: 200, state: "done", username: accepted, purpose, headers }),
  });
}
