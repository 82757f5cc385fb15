/**
 * The one place a sign-in becomes a session: issued when the journey says every factor is done,
 * upgraded when a signed-in user proves a second factor (step-up, enrolment), and replacing the
 * browser's previous session through the session-ended hook, so single logout still reaches the
 * services ticketed under it. No route creates or deletes a session row for a sign-in itself.
 */
import { setCookieHeader, type CookieOptions } from "../cookie.js";
import type { AuditLog } from "../audit.js";
import type { ActiveLogin, LoginSessions } from "../sessions.js";
import type { Session, Store, User } from "../store/store.js";
import type { Factor } from "./steps.js";

/** What issuing a session needs; the login server's context has all of it. */
export interface SessionDeps {
  store: Store;
  sessions: LoginSessions;
  audit: AuditLog;
  cookie: CookieOptions;
  config: { publicUrl: string };
  metrics: { signIn(outcome: "ok" | "account_changed"): void } | null;
}

export interface NewSession {
  user: User;
  amr: Factor[];
  /** The hash the password was checked against: the session is made only while it is still stored. */
  passwordHash?: string | undefined;
  client: { addr: string; userAgent: string };
  /** The login cookie the browser sent, if any: its session (whoever's) is replaced. */
  replacing: string | null;
  /** Where the sign-in happened, for the audit trail (`/login`, `/login/passkey`, `invitation`…). */
  via: string;
  /** The target's origin, for the audit trail. */
  app?: string | undefined;
  /** Extra audit fields (`method: "recovery"`…). */
  detail?: Record<string, unknown>;
}

export type SessionOutcome =
  | { ok: true; login: ActiveLogin; session: Session; setCookie: string }
  /** The user was removed, disabled or given a new password since the sign-in began. */
  | { ok: false; reason: "account_changed" };

/** The login a session just issued stands for, as the access gate takes it. */
export function loginOfSession(session: Session, user: User, issuer: string): ActiveLogin {
  return {
    claims: { username: user.username, sessionId: session.id, issuedAt: session.createdAt, expiresAt: session.expiresAt, issuer, anonymous: false, amr: session.amr ?? ["pwd"] },
    user,
  };
}

/** Issues the session of a completed sign-in, replacing the browser's previous one. */
export async function startSession(deps: SessionDeps, request: NewSession, now: number): Promise<SessionOutcome> {
  const { user } = request;
  const issued = await deps.sessions.issue(user, { addr: request.client.addr, userAgent: request.client.userAgent, passwordHash: request.passwordHash, amr: request.amr }, now);
  if (issued === null) {
    deps.metrics?.signIn("account_changed");
    await deps.audit.record("login.failure", { username: user.username, reason: "account_changed", addr: request.client.addr, app: request.app, via: request.via }, now);
    return { ok: false, reason: "account_changed" };
  }
  await replaceSession(deps, request.replacing, issued.session.id, now);
  // A completed sign-in clears what the user's failures counted, passwords and codes alike.
  await deps.store.clearThrottle("user", user.username.toLowerCase());
  await deps.store.clearThrottle("code", user.username.toLowerCase());
  await deps.store.recordLogin(user.username, now);
  deps.metrics?.signIn("ok");
  await deps.audit.record(
    "login.success",
    { username: user.username, session: issued.session.id, addr: request.client.addr, app: request.app, amr: request.amr.join(","), via: request.via, ...request.detail },
    now,
  );
  return { ok: true, login: loginOfSession(issued.session, user, deps.config.publicUrl), session: issued.session, setCookie: setCookieHeader(deps.cookie, issued.token, deps.sessions.ttlSeconds) };
}

/**
 * A signed-in user proved `factor` (step-up, or a first code while enrolling): a session that
 * counts it replaces theirs. Null when the login already had two factors or the account changed.
 */
export async function upgradeSession(
  deps: SessionDeps,
  login: ActiveLogin,
  request: { factor: "otp" | "hwk"; client: { addr: string; userAgent: string }; token: string | null },
  now: number,
): Promise<{ login: ActiveLogin; setCookie: string } | null> {
  const amr = (login.claims.amr ?? ["pwd"]) as string[];
  if (amr.includes("otp") || amr.includes("hwk")) return null;
  const next = [...amr, request.factor];
  const issued = await deps.sessions.issue(login.user, { addr: request.client.addr, userAgent: request.client.userAgent, amr: next }, now);
  if (issued === null) return null;
  await replaceSession(deps, request.token, issued.session.id, now);
  await deps.store.clearThrottle("code", login.user.username.toLowerCase());
  await deps.audit.record("session.step_up", { username: login.user.username, session: issued.session.id, replaced: login.claims.sessionId, amr: next.join(",") }, now);
  return { login: loginOfSession(issued.session, login.user, deps.config.publicUrl), setCookie: setCookieHeader(deps.cookie, issued.token, deps.sessions.ttlSeconds) };
}

/** Ends the session `token` names (any user's), through the hook single logout listens to. */
async function replaceSession(deps: SessionDeps, token: string | null, by: string, now: number): Promise<void> {
  const ended = await deps.sessions.end(token, now);
  if (ended !== null && ended.sessionId !== by) {
    await deps.audit.record("session.replaced", { username: ended.username, session: ended.sessionId, by }, now);
  }
}
