/**
 * One sign-in attempt: throttling first (no hashing when locked), then argon2
 * through a bounded queue, a dummy hash for unknown users, rehash when outdated.
 */
import { MAX_PASSWORD_BYTES, normalizePassword } from "./password-policy.js";
import { dummyHash, needsRehash } from "./passwords.js";
import { inProcessHasher, type PasswordHasher } from "./password-hasher.js";
import { lockedFor, type ThrottlePolicy } from "./throttle.js";
import { QueueFullError, type WorkQueue } from "./work-queue.js";
import { isReservedUsername } from "./username.js";
import type { Store, UserWithHash } from "./store/store.js";
import type { DirectorySource } from "./directory/source.js";
import { isDirectoryUser, syncDirectoryUser, DIRECTORY_PASSWORD } from "./directory/users.js";

export type SignInResult =
  /** `passwordHash`: the hash stored now (after any rehash); the session is created only while it still is. */
  | { kind: "ok"; user: UserWithHash; passwordHash: string }
  | { kind: "invalid"; reason: "unknown_user" | "bad_password" | "disabled" | "reserved_username" }
  | { kind: "throttled"; retryAfter: number; scope: "user" | "addr" }
  | { kind: "busy"; retryAfter: number }
  /** The user's directory did not answer: nothing was counted, nobody can tell whether the password was right. */
  | { kind: "unavailable"; directory: string };

export interface SignInAttempt {
  username: string;
  password: string;
  clientAddr: string;
}

export class SignIn {
  private verified = 0;
  /** Where users who are not local sign in (DESIGN §19); null: local users only. */
  directory: DirectorySource | null = null;

  constructor(
    private readonly store: Store,
    private readonly policy: ThrottlePolicy,
    private readonly queue: WorkQueue,
    private readonly hasher: PasswordHasher = inProcessHasher,
  ) {}

  /** How many argon2 verifications this sign-in has started: lets a test prove a refusal did no hashing. */
  get verifications(): number {
    return this.verified;
  }

  async attempt(attempt: SignInAttempt, now: number): Promise<SignInResult> {
    const userKey = attempt.username.toLowerCase();
    const locked = await this.lockOf(userKey, attempt.clientAddr, now);
    if (locked !== null) return locked;

    // No one signs in by the name anonymous visitors get, even an account made before it was
    // reserved: it is checked like an unknown user, so the answer and its timing say nothing.
    const reserved = isReservedUsername(attempt.username);
    const user = reserved ? null : await this.store.getUser(attempt.username);
    // Local users first; a name ssoctl does not know (or one that came from it) is the directory's.
    if (this.directory !== null && !reserved && (user === null || isDirectoryUser(user))) return this.attemptDirectory(this.directory, attempt, user, now);
    const tooLong = Buffer.byteLength(normalizePassword(attempt.password), "utf8") > MAX_PASSWORD_BYTES;
    let result: SignInResult;
    try {
      result = await this.queue.run(async (): Promise<SignInResult> => {
        // Checked again once a slot is free, and the failure counted before the slot is released:
        // a burst that all passed the first check while queued is not all hashed.
        const lockedNow = await this.lockOf(userKey, attempt.clientAddr, now);
        if (lockedNow !== null) return lockedNow;
        // An invited user has no password yet (""): checked against the dummy, never a match.
        const hasPassword = user !== null && user.passwordHash !== "";
        const storedHash = hasPassword ? user.passwordHash : await dummyHash();
        this.verified += 1;
        // An over-long password is still "checked" against a real hash, so its timing says nothing.
        const matches = await this.hasher.verify(storedHash, tooLong ? "" : attempt.password);
        if (user !== null && hasPassword && matches && !tooLong && !user.disabled) return { kind: "ok", user, passwordHash: user.passwordHash };
        await this.store.recordFailure("user", userKey, this.policy.user, now);
        await this.store.recordFailure("addr", attempt.clientAddr, this.policy.addr, now);
        const reason = reserved ? "reserved_username" : user === null ? "unknown_user" : matches && user.disabled ? "disabled" : "bad_password";
        return { kind: "invalid", reason };
      });
    } catch (error) {
      if (error instanceof QueueFullError) return { kind: "busy", retryAfter: 5 };
      throw error;
    }

    if (result.kind === "ok") {
      await this.store.clearThrottle("user", userKey);
      if (needsRehash(result.user.passwordHash)) {
        return { ...result, passwordHash: await this.rehash(result.user, attempt.password) };
      }
    }
    return result;
  }

  // ---- issue 12: a new password set on the account or invitation page ----
  /** Hashes a new password through the same bounded queue as sign-ins; throws QueueFullError when busy. */
  async hashNewPassword(password: string): Promise<string> {
    return this.queue.run(() => this.hasher.hash(password));
  }
  // ---- end issue 12 ----

  /** A directory user's sign-in: the same locks, counts and queue; the directory checks the password. */
  private async attemptDirectory(directory: DirectorySource, attempt: SignInAttempt, user: UserWithHash | null, now: number): Promise<SignInResult> {
    const userKey = attempt.username.toLowerCase();
    let outcome;
    try {
      outcome = await this.queue.run(async () => {
        const lockedNow = await this.lockOf(userKey, attempt.clientAddr, now);
        if (lockedNow !== null) return lockedNow;
        return directory.authenticate(attempt.username, attempt.password);
      });
    } catch (error) {
      if (error instanceof QueueFullError) return { kind: "busy", retryAfter: 5 };
      throw error;
    }
    if (outcome.kind === "throttled") return outcome;
    if (outcome.kind === "unreachable") return { kind: "unavailable", directory: directory.options.name };
    let synced: UserWithHash | null = null;
    if (outcome.kind === "ok" && (user === null || !user.disabled)) synced = await syncDirectoryUser(this.store, directory.options.name, outcome.user, now);
    if (outcome.kind !== "ok" || synced === null || synced.disabled) {
      await this.countFailure(attempt.username, attempt.clientAddr, now);
      return { kind: "invalid", reason: outcome.kind === "invalid" ? outcome.reason : user?.disabled ? "disabled" : "unknown_user" };
    }
    await this.store.clearThrottle("user", userKey);
    return { kind: "ok", user: synced, passwordHash: DIRECTORY_PASSWORD };
  }

  /**
   * Counts a failed sign-in with a secret other than the password (an LDAP app password), or one
   * refused after the password matched: the same counts as a wrong password.
   */
  async countFailure(username: string, clientAddr: string, now: number): Promise<void> {
    await this.store.recordFailure("user", username.toLowerCase(), this.policy.user, now);
    await this.store.recordFailure("addr", clientAddr, this.policy.addr, now);
  }

  /** The lock on this username or address, if any; checked before any hashing. */
  async lockOf(userKey: string, clientAddr: string, now: number): Promise<Extract<SignInResult, { kind: "throttled" }> | null> {
    const userLock = lockedFor(await this.store.getThrottle("user", userKey), now);
    if (userLock > 0) return { kind: "throttled", retryAfter: userLock, scope: "user" };
    const addrLock = lockedFor(await this.store.getThrottle("addr", clientAddr), now);
    if (addrLock > 0) return { kind: "throttled", retryAfter: addrLock, scope: "addr" };
    return null;
  }

  /** Stores a hash with today's parameters, unless the hash changed meanwhile; returns the hash stored now. */
  private async rehash(user: UserWithHash, password: string): Promise<string> {
    try {
      const fresh = await this.queue.run(() => this.hasher.hash(password));
      return (await this.store.replacePasswordHash(user.username, user.passwordHash, fresh)) ? fresh : user.passwordHash;
    } catch (error) {
      if (!(error instanceof QueueFullError)) throw error;
      // Busy: the next sign-in rehashes instead.
      return user.passwordHash;
    }
  }
}
