/**
 * Forward auth: `/auth/request` for nginx `auth_request`, `/auth/forward` for
 * Caddy `forward_auth` and Traefik `ForwardAuth`. Fails closed: anything not a
 * valid login for a registered app's URL is never a 200. Never hashes a password.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { identityHeaders } from "../identity-headers.js";
import type { ActiveLogin } from "../sessions.js";
import type { AccessVerdict, ServerContext } from "./context.js";
import { appLabel, recordDenial, sendForbidden } from "./forbidden-page.js";
import type { ForwardAuthResult } from "../ops/metrics.js";
import { strictest } from "../access/decide.js";
import { methodsOfRequest } from "../access/method.js";

const METHOD = /^[A-Z]{1,16}$/;

/**
 * A cached login is the same object until the store changes, so its headers are built once.
 * `Content-Length: 0`, not chunked: nginx reads no body of an auth subrequest, so it keeps the
 * connection to this server (`keepalive` in its upstream) only for an answer that has none.
 */
const headersOfLogin = new WeakMap<ActiveLogin, Record<string, string>>();

function identityHeadersOf(login: ActiveLogin): Record<string, string> {
  let headers = headersOfLogin.get(login);
  if (headers === undefined) {
    headers = { ...identityHeaders(login.user), "Cache-Control": "no-store", "Content-Length": "0" };
    headersOfLogin.set(login, headers);
  }
  return headers;
}

/** A bypass answer to nobody signed in: no identity headers (the proxy forwards none). */
const NO_IDENTITY: Record<string, string> = { "Cache-Control": "no-store" };

function single(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (typeof value !== "string" || value === "" || value.length > 8192) return null;
  return value;
}

/**
 * The request's method and any a method-override header asks the app to use instead
 * (`POST` + `X-HTTP-Method-Override: DELETE`): proxies pass the client's headers to forward auth,
 * and an app that honours the header acts on that method, so each is judged.
 */
function methodsOf(req: IncomingMessage, method: string): string[] {
  if (req.headers["x-http-method-override"] === undefined && req.headers["x-http-method"] === undefined && req.headers["x-method-override"] === undefined) return [method];
  return methodsOfRequest(method, req.headers);
}

/** The strictest decision over the request's method and its overrides (the login server's own origin is never a target). */
function decideEveryMethod(ctx: ServerContext, req: IncomingMessage, login: ActiveLogin | null, method: string, target: string): AccessVerdict {
  return strictest(methodsOf(req, method).map((each) => ctx.decideProxied(login, each, target)));
}

function deny(res: ServerResponse, status: 401 | 403, reason: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...headers });
  res.end(`${reason}\n`);
}

/** One decision counted for /metrics (a property increment; no labels built here). */
function count(ctx: ServerContext, endpoint: string, result: ForwardAuthResult): void {
  ctx.metrics?.forwardAuth(endpoint === "/auth/request" ? "request" : "forward", result);
}

function logDenial(ctx: ServerContext, req: IncomingMessage, endpoint: string, reason: string): void {
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), event: "forward_auth.refused", endpoint, reason, peer: req.socket.remoteAddress }) + "\n",
  );
}

/** The login for this request, or null; a failing check is a refusal, logged, never an error. */
async function loginOf(ctx: ServerContext, req: IncomingMessage, endpoint: string, now: number, stamp: number): Promise<ActiveLogin | null> {
  try {
    return await ctx.sessions.resolve(ctx.tokenOf(req), now, stamp);
  } catch (error) {
    logDenial(ctx, req, endpoint, `check failed: ${(error as Error).message}`);
    return null;
  }
}

type Original = { ok: true; url: string } | { ok: false; unregistered: string | null };

/**
 * The original URL if it is well formed and belongs to a registered app (or this
 * server); otherwise, when it is a well-formed URL of an app nobody registered, that URL.
 */
async function checkOriginal(ctx: ServerContext, text: string | null, stamp: number): Promise<Original> {
  if (text === null) return { ok: false, unregistered: null };
  const check = await ctx.checkTarget(text, stamp);
  if (check.ok) return { ok: true, url: check.url };
  return { ok: false, unregistered: check.origin === null ? null : text };
}

/**
 * The login page for a target. For an unregistered app it answers the 400 page that
 * names `ssoctl app add`: better than nginx's 302 with an empty Location (a redirect loop).
 */
function loginLocation(ctx: ServerContext, target: string): string {
  return `${ctx.url("/login")}?rd=${encodeURIComponent(target)}`;
}

/** The answer for a failure nobody expected: still a refusal, never a 5xx (nginx makes those a 500). */
function failClosed(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, endpoint: string, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  logDenial(ctx, req, endpoint, `check failed: ${(error as Error)?.message ?? String(error)}`);
  count(ctx, endpoint, "error");
  deny(res, 401, "sign-in required");
}

/**
 * The 200 without a promise: when the target's check and the login are already known at this
 * stamp (nothing written since they were read). Anything else takes the full path.
 */
function allowKnown(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, target: string, method: string, stamp: number, now: number): boolean {
  const check = ctx.knownTarget(target, stamp);
  if (check === undefined || !check.ok) return false;
  const token = ctx.tokenOf(req);
  let login: ActiveLogin | null = null;
  if (token !== null) {
    const cached = ctx.sessions.cachedLogin(token, now, stamp);
    if (cached === undefined) return false;
    login = cached;
  }
  // Access rules: remembered per (login, method, target) until anything changes; refusals take the full path.
  for (const each of methodsOf(req, method)) {
    const access = ctx.knownAccess(login, each, target, check.origin, stamp);
    if (access === undefined || access.verdict !== "allow") return false;
  }
  res.writeHead(200, login === null ? NO_IDENTITY : identityHeadersOf(login));
  res.end();
  return true;
}

/**
 * The answer for a refusal by the access rules (forbidden, deny): audited, then a 403 that says
 * no more than needed — plain text, or for a browser behind /auth/forward the 403 page (Caddy and
 * Traefik pass the auth answer to the browser).
 */
async function refuse(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  refusal: { access: AccessVerdict; login: ActiveLogin | null; method: string; url: string; endpoint: string; page: boolean },
): Promise<void> {
  const { access, login } = refusal;
  count(ctx, refusal.endpoint, "forbidden");
  await recordDenial(ctx, req, { access, username: login?.user.username ?? null, method: refusal.method, url: refusal.url, via: refusal.endpoint });
  if (refusal.page && (login !== null || access.verdict === "deny")) {
    return sendForbidden(ctx, res, {
      kind: access.verdict === "deny" ? "deny" : "forbidden",
      username: login?.user.username ?? "",
      appName: appLabel(access, refusal.url),
      url: refusal.url,
    });
  }
  deny(res, 403, access.verdict === "deny" ? "closed" : "access denied");
}

/**
 * What both endpoints do around their own answer: refuse untrusted peers; later in this
 * event-loop turn, with the store's change counter read once for the batch, answer a known
 * login at once or run `answer`; any failure is a logged 401.
 */
function forwardAuth(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  endpoint: string,
  target: string | null,
  method: string | null,
  answer: (stamp: number, now: number) => Promise<void>,
): void {
  if (!ctx.proxies.isTrusted(req.socket.remoteAddress)) {
    logDenial(ctx, req, endpoint, "peer is not a trusted proxy");
    count(ctx, endpoint, "untrusted_proxy");
    return deny(res, 403, "forward auth is only answered to trusted proxies (--trusted-proxy)");
  }
  ctx.withFreshStamp((stamp, now) => {
    try {
      if (typeof stamp !== "number") throw stamp;
      if (target !== null && method !== null && allowKnown(ctx, req, res, target, method, stamp, now)) return count(ctx, endpoint, "allowed");
      answer(stamp, now).catch((error: unknown) => failClosed(ctx, req, res, endpoint, error));
    } catch (error) {
      failClosed(ctx, req, res, endpoint, error);
    }
  });
}

export function authRequest(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  const method = single(req, "x-original-method");
  const methodOk = method !== null && METHOD.test(method);
  const target = single(req, "x-original-url");
  forwardAuth(ctx, req, res, "/auth/request", methodOk ? target : null, methodOk ? method : null, (stamp, now) =>
    answerRequest(ctx, req, res, methodOk ? method : null, target, stamp, now),
  );
}

async function answerRequest(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, method: string | null, target: string | null, stamp: number, now: number): Promise<void> {
  const methodOk = method !== null;
  const original = await checkOriginal(ctx, target, stamp);
  if (!methodOk || !original.ok) {
    const unregistered = methodOk && !original.ok ? original.unregistered : null;
    if (unregistered !== null) {
      logDenial(ctx, req, "/auth/request", "X-Original-URL is not a registered app's");
      count(ctx, "/auth/request", "unregistered_app");
      return deny(res, 401, "the application is not registered", { Location: loginLocation(ctx, unregistered) });
    }
    logDenial(ctx, req, "/auth/request", "missing or malformed X-Original-URL / X-Original-Method");
    count(ctx, "/auth/request", "malformed");
    return deny(res, 401, "missing or invalid X-Original-URL / X-Original-Method");
  }
  const login = await loginOf(ctx, req, "/auth/request", now, stamp);
  const access = decideEveryMethod(ctx, req, login, method!, target!);
  if (access.verdict === "allow") {
    res.writeHead(200, login === null ? NO_IDENTITY : identityHeadersOf(login));
    res.end();
    return count(ctx, "/auth/request", "allowed");
  }
  if (access.verdict === "forbidden" || access.verdict === "deny") {
    return refuse(ctx, req, res, { access, login, method: method!, url: original.url, endpoint: "/auth/request", page: false });
  }
  // login, second_factor: the login page (which asks for the second factor when that is what is missing).
  count(ctx, "/auth/request", "sign_in_required");
  // The everyday refusal (a visitor not signed in) has no body: nginx discards it unread, and
  // keeps its connection to this server only for an answer without one.
  res.writeHead(401, { "Cache-Control": "no-store", "Content-Length": "0", Location: loginLocation(ctx, original.url) });
  res.end();
}

export function authForward(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  const proto = single(req, "x-forwarded-proto");
  const host = single(req, "x-forwarded-host");
  const uri = single(req, "x-forwarded-uri");
  const method = single(req, "x-forwarded-method");
  const wellFormed =
    (proto === "http" || proto === "https") &&
    host !== null &&
    /^[A-Za-z0-9.:[\]-]+$/.test(host) &&
    uri !== null &&
    uri.startsWith("/") &&
    !uri.startsWith("//") &&
    method !== null &&
    METHOD.test(method);
  const target = wellFormed ? `${proto}://${host}${uri}` : null;
  forwardAuth(ctx, req, res, "/auth/forward", target, method, (stamp, now) => answerForward(ctx, req, res, method, target, stamp, now));
}

async function answerForward(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, method: string | null, target: string | null, stamp: number, now: number): Promise<void> {
  const original: Original = target !== null ? await checkOriginal(ctx, target, stamp) : { ok: false, unregistered: null };
  const wantsHtml = (req.headers.accept ?? "").includes("text/html");
  const status = method === "GET" || method === "HEAD" ? 302 : 303;
  if (!original.ok) {
    if (original.unregistered !== null) {
      logDenial(ctx, req, "/auth/forward", "X-Forwarded-Proto / -Host / -Uri is not a registered app's");
      count(ctx, "/auth/forward", "unregistered_app");
      if (!wantsHtml) return deny(res, 401, "the application is not registered");
      res.writeHead(status, { Location: loginLocation(ctx, original.unregistered), "Cache-Control": "no-store" });
      res.end();
      return;
    }
    logDenial(ctx, req, "/auth/forward", "missing or malformed X-Forwarded-Proto / -Host / -Uri / -Method");
    count(ctx, "/auth/forward", "malformed");
    return deny(res, 401, "missing or invalid X-Forwarded-Proto / X-Forwarded-Host / X-Forwarded-Uri / X-Forwarded-Method");
  }
  const login = await loginOf(ctx, req, "/auth/forward", now, stamp);
  const access = decideEveryMethod(ctx, req, login, method!, target!);
  if (access.verdict === "allow") {
    res.writeHead(200, login === null ? NO_IDENTITY : identityHeadersOf(login));
    res.end();
    return count(ctx, "/auth/forward", "allowed");
  }
  if (access.verdict === "forbidden" || access.verdict === "deny") {
    return refuse(ctx, req, res, { access, login, method: method!, url: original.url, endpoint: "/auth/forward", page: wantsHtml });
  }
  // login, second_factor: the login page (which asks for the second factor when that is what is missing).
  count(ctx, "/auth/forward", "sign_in_required");
  if (!wantsHtml) return deny(res, 401, "sign-in required");
  res.writeHead(status, { Location: loginLocation(ctx, original.url), "Cache-Control": "no-store" });
  res.end();
}
