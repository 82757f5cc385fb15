/**
 * What the guard does with one request, as a value: let it through (with the
 * user, and maybe a cookie to set) or answer it. The Node middleware and the
 * `protect` proxy both call this; neither repeats a rule.
 */
import { randomBytes } from "node:crypto";
import { readCookie, setCookieHeader } from "../cookie.js";
import { signToken, type LoginClaims } from "../token.js";
import { isReservedUsername } from "../username.js";
import type { GuardConfig, GuardUser } from "./config.js";
import { BAD_REQUEST, htmlPage, type GuardResponse } from "./response.js";
import { decideAccess, type AccessDecision } from "../access/decide.js";

/** `user` null: nobody signed in, let through by a `bypass` policy (no identity to pass on). */
export type GuardDecision =
  | { action: "pass"; user: GuardUser; claims: LoginClaims; setCookie: string | undefined }
  | { action: "pass"; user: null; claims: null; setCookie: undefined }
  | { action: "respond"; response: GuardResponse };

export interface GuardRequest {
  /** The request-target as received (`/path?query`, or absolute-form). */
  target: string | undefined;
  cookieHeader: string | string[] | undefined;
  /** The request's method, for path rules naming methods. Default GET. */
  method?: string | undefined;
}

/**
 * In order (WebStack's LoginRedirectResource): the logout parameter → go through
 * the login server's logout, which ends the session and clears the cookie; a valid token → pass; the
 * anonymous parameter → pass with a new anonymous token; else → to the login page.
 * Never throws: anything unreadable is a 400 or a redirect to the login page.
 */
export async function decide(config: GuardConfig, request: GuardRequest): Promise<GuardDecision> {
  const target = originForm(request.target);
  if (target === null) return { action: "respond", response: BAD_REQUEST };
  const q = target.indexOf("?");
  const query = q === -1 ? "" : target.slice(q);

  if (config.logoutParameter !== undefined && hasParameter(query, config.logoutParameter)) {
    const token = readCookie(request.cookieHeader, config.cookie.name);
    const claims = token === null || token === "" ? null : await verifyCookie(config, token);
    const signedIn = claims !== null && !claims.anonymous;
    return { action: "respond", response: signedIn ? config.logoutHandoff : config.logoutResponse };
  }

  const path = q === -1 ? target : target.slice(0, q);
  const method = request.method ?? "GET";
  const claims = await validClaims(config, request.cookieHeader);
  if (claims !== null) {
    // Access rules: the one decision, for this user (an anonymous visitor is a user in no group).
    const access = await accessFor(config, claims, method, path);
    if (access.verdict === "allow") {
      return { action: "pass", user: { name: claims.username, anonymous: claims.anonymous }, claims, setCookie: undefined };
    }
    if (access.verdict === "deny") return { action: "respond", response: CLOSED };
    if (access.verdict === "forbidden" && !claims.anonymous) return { action: "respond", response: forbiddenPage(config, claims.username, path, query) };
    // login, second_factor (and an anonymous visitor not admitted): the login server signs in or steps up.
    return loginRedirect(config, path, query);
  }

  const nobody = await accessFor(config, null, method, path);
  if (nobody.verdict === "allow") return { action: "pass", user: null, claims: null, setCookie: undefined };
  if (nobody.verdict === "deny") return { action: "respond", response: CLOSED };

  if (config.anonymousParameter !== undefined && hasParameter(query, config.anonymousParameter)) {
    return anonymousPass(config);
  }

  return loginRedirect(config, path, query);
}

const CLOSED: GuardResponse = htmlPage({ status: 403, title: "This page is closed", text: "This application does not let anyone open this page." });

/**
 * The decision for a login (or nobody): the app from the options or the database, the user's groups
 * from the database when it is at hand, else from the token; its `amr`. Fails closed: an unregistered
 * app is `deny`, a user gone from the database counts as nobody.
 */
async function accessFor(config: GuardConfig, claims: LoginClaims | null, method: string, path: string): Promise<AccessDecision> {
  const app = await config.appAccess();
  if (app === null) return { verdict: "deny", ruleId: null, policy: "deny", reason: "policy_deny" };
  let user: { username: string; groups: readonly string[] } | null = null;
  if (claims !== null && claims.anonymous) user = { username: claims.username, groups: [] };
  else if (claims !== null) user = config.accessUser === undefined ? { username: claims.username, groups: claims.groups ?? [] } : await config.accessUser(claims.username);
  const amr = claims === null || claims.anonymous ? [] : (claims.amr ?? ["pwd"]);
  return decideAccess({ user, amr, app, method, path });
}

/** Signed in as someone this app does not admit: a 403 naming them, with a way to sign in as someone else. */
function forbiddenPage(config: GuardConfig, username: string, path: string, query: string): GuardResponse {
  let again: string;
  try {
    again = `${config.loginPrefix}${encodeURIComponent(path)}&qs=${encodeURIComponent(query)}`;
  } catch {
    return BAD_REQUEST;
  }
  return htmlPage({
    status: 403,
    title: "Access denied",
    text: `You are signed in as ${username}, who may not use ${config.appOrigin}.`,
    href: `${config.logoutBase}?rd=${encodeURIComponent(again)}`,
    linkText: "Sign in as someone else",
  });
}

function verifyCookie(config: GuardConfig, token: string): Promise<LoginClaims | null> {
  return config.cache.verify(token, { secrets: config.keys(), refreshKeys: config.refreshKeys });
}

async function validClaims(config: GuardConfig, cookieHeader: string | string[] | undefined): Promise<LoginClaims | null> {
  const token = readCookie(cookieHeader, config.cookie.name);
  if (token === null || token === "") return null;
  const claims = await verifyCookie(config, token);
  if (claims === null) return null;
  if (claims.anonymous) return isOwnAnonymousToken(config, claims) ? claims : null;
  // The login server never signs in a user by the reserved name; such a token is forged or from before.
  if (isReservedUsername(claims.username)) return null;
  if (config.checkSession === undefined) return claims;
  try {
    return (await config.checkSession(claims)) ? claims : null;
  } catch {
    // Fail closed: a session that cannot be checked is not a login.
    return null;
  }
}

/**
 * An anonymous token counts only here, where anonymous access is on, for the app that made it
 * (`aud`) and under the name this guard gives visitors: one app's `?guest` opens no other app.
 */
function isOwnAnonymousToken(config: GuardConfig, claims: LoginClaims): boolean {
  return config.anonymousParameter !== undefined && claims.audience === config.appOrigin && claims.username === config.anonymousUsername;
}

async function anonymousPass(config: GuardConfig): Promise<GuardDecision> {
  const now = Math.floor(Date.now() / 1000);
  const claims: LoginClaims = {
    username: config.anonymousUsername,
    sessionId: randomBytes(16).toString("base64url"),
    issuedAt: now,
    expiresAt: now + config.sessionTtlSeconds,
    issuer: config.issuer,
    anonymous: true,
    audience: config.appOrigin,
  };
  const secret = config.signingKey === undefined ? config.keys()[0]! : await config.signingKey();
  const token = await signToken(claims, secret);
  return {
    action: "pass",
    user: { name: claims.username, anonymous: true },
    claims,
    setCookie: setCookieHeader(config.cookie, token, config.sessionTtlSeconds),
  };
}

function loginRedirect(config: GuardConfig, path: string, query: string): GuardDecision {
  let location: string;
  try {
    location = `${config.loginPrefix}${encodeURIComponent(path)}&qs=${encodeURIComponent(query)}`;
  } catch {
    // encodeURIComponent throws only on lone surrogates: not a real request-target.
    return { action: "respond", response: BAD_REQUEST };
  }
  return {
    action: "respond",
    response: { status: 302, headers: { location, "cache-control": "no-store" }, body: "" },
  };
}

/** `/path?query` from an origin-form or absolute-form request-target; null for anything else. */
export function originForm(target: string | undefined): string | null {
  if (target === undefined || target === "") return null;
  if (target.charCodeAt(0) === 0x2f /* "/" */) return target;
  if (!/^https?:\/\//i.test(target)) return null;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return null;
  }
}

/** Whether the query (with its leading `?`) names the parameter, with or without a value. */
function hasParameter(query: string, name: string): boolean {
  if (query.length <= 1) return false;
  // Most queries never mention the name: skip parsing them.
  if (!query.includes(name) && !query.includes("%") && !query.includes("+")) return false;
  return new URLSearchParams(query).has(name);
}
