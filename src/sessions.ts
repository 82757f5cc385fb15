/**
 * Login sessions as the login server and forward auth see them: a signed token
 * whose session row must still exist, whose user must still exist and be enabled.
 */
import { randomBytes } from "node:crypto";
import { VerifiedTokenCache, signToken, type LoginClaims } from "./token.js";
import type { Keyring } from "./keyring.js";
import { isReservedUsername } from "./username.js";
import type { Session, Store, User } from "./store/store.js";

export interface ActiveLogin {
  claims: LoginClaims;
  user: User;
}

/** Why a verified token is not a login. */
export type LoginRefusal = "anonymous" | "wrong_issuer" | "reserved_username" | "no_session" | "not_session_owner" | "no_user" | "disabled";

export type LoginCheck = { ok: true; user: User; session: Session } | { ok: false; reason: LoginRefusal };

/**
 * The one check that a verified token is a live sign-in, for the login server, forward auth and
 * `ssoctl protect --data-dir` alike: not anonymous, issued by this login server, its session (`sid`)
 * live and owned by its `sub`, and that user existing, enabled and not named like anonymous visitors.
 * A token signed with the key but naming someone else's session is refused here.
 */
export async function checkLogin(store: Store, claims: LoginClaims, expected: { issuer: string; now: number }): Promise<LoginCheck> {
  if (claims.anonymous) return { ok: false, reason: "anonymous" };
  if (claims.issuer !== expected.issuer) return { ok: false, reason: "wrong_issuer" };
  if (isReservedUsername(claims.username)) return { ok: false, reason: "reserved_username" };
  const session = await store.getSession(claims.sessionId, expected.now);
  if (session === null) return { ok: false, reason: "no_session" };
  if (session.anonymous || session.username.toLowerCase() !== claims.username.toLowerCase()) return { ok: false, reason: "not_session_owner" };
  const user = await store.getUser(claims.username);
  if (user === null) return { ok: false, reason: "no_user" };
  if (user.disabled) return { ok: false, reason: "disabled" };
  return { ok: true, user, session };
}

/** Told when a session ends (single logout). Must not throw; must not make the caller wait. */
export type SessionEndedListener = (ended: { sessionId: string; username: string }, now: number) => void;

/** Resolved logins are remembered only while no connection has written to the store since they were read. */
const RESOLVED_CAPACITY = 10_000;

export class LoginSessions {
  private readonly cache = new VerifiedTokenCache();
  private readonly resolved = new Map<string, { login: ActiveLogin; sessionExpiresAt: number }>();
  private resolvedStamp = -1;
  private readonly endedListeners: SessionEndedListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
    private readonly options: { issuer: string; ttlSeconds: number },
  ) {}

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * Creates the session row and its token; null when the user was removed, disabled
   * or given a new password (`passwordHash` no longer stored) since the password was checked.
   */
  async issue(
    user: User,
    client: { addr: string; userAgent: string; passwordHash?: string | undefined; amr?: string[] | undefined },
    now: number,
  ): Promise<{ token: string; session: Session } | null> {
    const amr = client.amr ?? ["pwd"];
    const session: Session = {
      id: randomBytes(16).toString("base64url"),
      username: user.username,
      anonymous: false,
      createdAt: now,
      expiresAt: now + this.options.ttlSeconds,
      clientAddr: client.addr,
      userAgent: client.userAgent.slice(0, 256),
      amr,
    };
    // A passkey sign-in has no password to hold the session to.
    const condition = client.passwordHash === undefined ? undefined : { passwordHash: client.passwordHash };
    if (!(await this.store.createSession(session, condition))) return null;
    // Whoever signs in no longer needs a "Forgot your password?" link: one lying in a mailbox stops working.
    await this.store.factors.dropResetLinks(user.username);
    const token = await signToken(
      {
        username: user.username,
        sessionId: session.id,
        issuedAt: now,
        expiresAt: session.expiresAt,
        issuer: this.options.issuer,
        anonymous: false,
        // A cookie holds about 4 KiB: past that, the groups stay out (an in-process guard limited to groups then refuses).
        groups: user.groups.join(",").length <= 2048 ? user.groups : [],
        amr,
      },
      // Read now, not from the last poll: a sign-in after `key rotate` returned gets the new key.
      await this.keyring.signingKey(now),
    );
    return { token, session };
  }

  /** Verified claims of a token, without the database (anonymous tokens included). */
  async verify(token: string, now: number): Promise<LoginClaims | null> {
    return this.cache.verify(token, {
      secrets: this.keyring.secrets,
      issuer: this.options.issuer,
      now,
      refreshKeys: () => this.keyring.latest(now),
    });
  }

  /**
   * The login `resolve` found for this token, when nothing was written since (`stamp`, the store's
   * change counter read by the caller, is the one it was found at), its session has not expired and
   * the token still verifies from the cache. Undefined means only `resolve` can answer. Synchronous:
   * the hot path of forward auth, without a promise per request.
   */
  cachedLogin(token: string | null, now: number, stamp: number): ActiveLogin | undefined {
    if (token === null || stamp !== this.resolvedStamp) return undefined;
    const hit = this.resolved.get(token);
    if (hit === undefined || hit.sessionExpiresAt <= now) return undefined;
    // The same claims object as when resolved: the key set has not changed since.
    const claims = this.cache.peek(token, this.keyring.secrets, this.options.issuer, now);
    return claims !== undefined && claims === hit.login.claims ? hit.login : undefined;
  }

  /** A signed-in user with a live session; null for anything else (anonymous, revoked, disabled, removed). */
  /** `stamp`: the store's change counter, read by the caller before this call, when it has one. */
  async resolve(token: string | null, now: number, stamp?: number): Promise<ActiveLogin | null> {
    if (token === null || token === "") return null;
    const claims = await this.verify(token, now);
    if (claims === null || claims.anonymous) return null;
    // Any write by any connection (logout, revoke, disable, remove, passwd) changes the
    // counter and empties the cache, so revocation still takes effect at the next request.
    stamp ??= this.store.changeCounter();
    if (stamp !== this.resolvedStamp) {
      this.resolved.clear();
      this.resolvedStamp = stamp;
    }
    const hit = this.resolved.get(token);
    if (hit !== undefined && hit.sessionExpiresAt > now && hit.login.claims === claims) return hit.login;
    const check = await checkLogin(this.store, claims, { issuer: this.options.issuer, now });
    if (!check.ok) return null;
    const { user, session } = check;
    const login = { claims, user };
    // Read before the queries: a write in between leaves the stamp stale and the entry unused.
    if (stamp === this.resolvedStamp) {
      if (this.resolved.size >= RESOLVED_CAPACITY) this.resolved.delete(this.resolved.keys().next().value!);
      this.resolved.set(token, { login, sessionExpiresAt: session.expiresAt });
    }
    return login;
  }

  /** Ends the session a token names, if it verifies and is a sign-in (an anonymous token has no session here). */
  async end(token: string | null, now: number): Promise<LoginClaims | null> {
    if (token === null || token === "") return null;
    const claims = await this.verify(token, now);
    if (claims === null || claims.anonymous) return null;
    await this.store.deleteSession(claims.sessionId);
    this.sessionEnded({ sessionId: claims.sessionId, username: claims.username }, now);
    return claims;
  }

  /** Listens for ended sessions (CAS single logout listens). */
  onSessionEnded(listener: SessionEndedListener): void {
    this.endedListeners.push(listener);
  }

  /**
   * The one "session ended" hook: every way the login server ends a session calls it — `end`
   * above (/logout, /cas/logout, the guards' logout, which all come through it), and any other
   * route that deletes a session row (OIDC end_session) should call it after the delete.
   */
  sessionEnded(ended: { sessionId: string; username: string }, now: number): void {
    for (const listener of this.endedListeners) {
      try {
        listener(ended, now);
      } catch {
        // A listener's failure must not fail the logout; listeners audit their own failures.
      }
    }
  }
}
