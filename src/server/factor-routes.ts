/**
 * The second step of a sign-in and of a step-up, by code: after the first factor, a user with TOTP
 * enters a code (or a recovery code). Until then there is no login cookie, only a short
 * server-side record named by a random token in the form.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { codeCheckMessage, checkSecondFactor } from "../factors/second-factor.js";
import { pendingIdOf } from "../factors/pending.js";
import { factorsHeld, nextStep, upgradeSession, type Factor } from "../sign-in/index.js";
import type { ServerContext } from "./context.js";
import { checkedForm } from "./form-guard.js";
import { clientOf, expiredSignIn, openSession, renderCode, renderStepUp, type PendingSignIn } from "./journey.js";
import { resolveTarget } from "./target.js";

/** POST /login/code */
export async function postLoginCode(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, ["pending", "code"], "sign-in");
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const id = pendingIdOf(fields.pending);
  const pending = id === null ? null : await ctx.store.factors.getPending(id, "login", now);
  if (pending === null || pending.username === null) {
    await ctx.audit.record("login.failure", { reason: "second_factor_expired", addr: clientAddr }, now);
    await expiredSignIn(ctx, res);
    return;
  }
  const data = pending.data as unknown as PendingSignIn;
  const target = await resolveTarget(ctx, data.target);
  const username = pending.username;
  const code = (fields.code ?? "").slice(0, 64);
  const check = await checkSecondFactor(ctx.store, ctx.config.throttle, { username, code, clientAddr }, now);
  if (check.kind !== "ok") {
    const reason = check.kind === "wrong" ? check.reason : check.kind === "throttled" ? `throttled_${check.scope}` : "malformed_code";
    ctx.metrics?.signIn(check.kind === "throttled" ? "throttled" : "bad_code");
    await ctx.audit.record("login.failure", { username, reason, addr: clientAddr }, now);
    const status = check.kind === "throttled" ? 429 : check.kind === "malformed" ? 400 : 401;
    const held = await factorsHeld(ctx.store, username);
    const step = nextStep({ held, done: data.done ?? ["pwd"], signedIn: false, verdict: null, enrolment: "open" });
    await renderCode(ctx, req, res, {
      status,
      username,
      pending: fields.pending!,
      target,
      offer: step.next === "second_factor" ? step.offer : ["code"],
      error: codeCheckMessage(check),
      ...(check.kind === "throttled" ? { headers: { "Retry-After": String(check.retryAfter) } } : {}),
    });
    return;
  }
  // Single use: of two posts racing with good codes, only one takes the record.
  const user = (await ctx.store.factors.takePending(id!, "login", now)) === null ? null : await ctx.store.getUser(username);
  if (user === null) {
    await ctx.audit.record("login.failure", { username, reason: "account_changed", addr: clientAddr }, now);
    await expiredSignIn(ctx, res);
    return;
  }
  const amr: Factor[] = [...(data.done ?? ["pwd"]), "otp"];
  await openSession(ctx, req, res, { user, amr, passwordHash: data.passwordHash, target, via: data.via ?? "/login", detail: { method: check.method } });
}

/** POST /login/step-up: the code for a login that has one factor; the session is replaced by one that counts both. */
export async function postStepUp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fields = await checkedForm(ctx, req, ["pending", "code"]);
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  const login = await ctx.sessions.resolve(ctx.tokenOf(req), now);
  const id = pendingIdOf(fields.pending);
  const pending = id === null ? null : await ctx.store.factors.getPending(id, "step-up", now);
  // Bound to the session it was started for: another browser's record is no use here.
  if (login === null || pending === null || pending.data.session !== login.claims.sessionId) {
    await ctx.audit.record("login.failure", { username: login?.user.username, reason: "step_up_expired", addr: clientAddr }, now);
    await expiredSignIn(ctx, res);
    return;
  }
  const username = login.user.username;
  const url = String(pending.data.url);
  const check = await checkSecondFactor(ctx.store, ctx.config.throttle, { username, code: (fields.code ?? "").slice(0, 64), clientAddr }, now);
  if (check.kind !== "ok") {
    const reason = check.kind === "wrong" ? check.reason : check.kind === "throttled" ? `throttled_${check.scope}` : "malformed_code";
    await ctx.audit.record("login.failure", { username, reason, addr: clientAddr, step: "step_up" }, now);
    const status = check.kind === "throttled" ? 429 : check.kind === "malformed" ? 400 : 401;
    const held = await factorsHeld(ctx.store, username);
    await renderStepUp(ctx, req, res, {
      status,
      username,
      pending: fields.pending!,
      url,
      offer: [...(held.totp ? (["code"] as const) : []), ...(held.passkey ? (["passkey"] as const) : [])],
      error: codeCheckMessage(check),
      ...(check.kind === "throttled" ? { headers: { "Retry-After": String(check.retryAfter) } } : {}),
    });
    return;
  }
  if ((await ctx.store.factors.takePending(id!, "step-up", now)) === null) {
    await expiredSignIn(ctx, res);
    return;
  }
  const upgraded = await upgradeSession(ctx, login, { factor: "otp", client: clientOf(ctx, req), token: ctx.tokenOf(req) }, now);
  const target = await ctx.checkTarget(url);
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (upgraded !== null) headers["Set-Cookie"] = upgraded.setCookie;
  res.writeHead(303, { ...headers, Location: target.ok ? target.url : ctx.url("/account") });
  res.end();
}
