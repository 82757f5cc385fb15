/**
 * One sign-in attempt: throttling first (no hashing when locked), then argon2
 * through a bounded queue, a dummy hash for unknown users, rehash when outdated.
 */
import { MAX_PASSWORD_BYTES, normalizePassword } from "./password-policy.js";
import { dummyHash, hashPassword, needsRehash, verifyPassword } from "./passwords.js";
import { lockedFor, type ThrottlePolicy } from "./throttle.js";
import { QueueFullError, type WorkQueue } from "./work-queue.js";
import type { Store, UserWithHash } from "./store/store.js";

export type SignInResult =
  | { kind: "ok"; user: UserWithHash }
  | { kind: "invalid"; reason: "unknown_user" | "bad_password" | "disabled" }
  | { kind: "throttled"; retryAfter: number; scope: "user" | "addr" }
  | { kind: "busy"; retryAfter: number };

export interface SignInAttempt {
  username: string;
  password: string;
  clientAddr: string;
}

export class SignIn {
  constructor(
    private readonly store: Store,
    private readonly policy: ThrottlePolicy,
    private readonly queue: WorkQueue,
  ) {}

  async attempt(attempt: SignInAttempt, now: number): Promise<SignInResult> {
    const userKey = attempt.username.toLowerCase();
    const userLock = lockedFor(await this.store.getThrottle("user", userKey), now);
    if (userLock > 0) return { kind: "throttled", retryAfter: userLock, scope: "user" };
    const addrLock = lockedFor(await this.store.getThrottle("addr", attempt.clientAddr), now);
    if (addrLock > 0) return { kind: "throttled", retryAfter: addrLock, scope: "addr" };

    const user = await this.store.getUser(attempt.username);
    const tooLong = Buffer.byteLength(normalizePassword(attempt.password), "utf8") > MAX_PASSWORD_BYTES;
    let matches: boolean;
    try {
      const storedHash = user?.passwordHash ?? (await dummyHash());
      // An over-long password is still "checked" against a real hash, so its timing says nothing.
      matches = await this.queue.run(() => verifyPassword(storedHash, tooLong ? "" : attempt.password));
    } catch (error) {
      if (error instanceof QueueFullError) return { kind: "busy", retryAfter: 5 };
      throw error;
    }

    if (user !== null && matches && !tooLong && !user.disabled) {
      await this.store.clearThrottle("user", userKey);
      if (needsRehash(user.passwordHash)) await this.rehash(user.username, attempt.password);
      return { kind: "ok", user };
    }
    await this.store.recordFailure("user", userKey, this.policy.user, now);
    await this.store.recordFailure("addr", attempt.clientAddr, this.policy.addr, now);
    const reason = user === null ? "unknown_user" : matches && user.disabled ? "disabled" : "bad_password";
    return { kind: "invalid", reason };
  }

  private async rehash(username: string, password: string): Promise<void> {
    try {
      const fresh = await this.queue.run(() => hashPassword(password));
      await this.store.setPassword(username, fresh);
    } catch (error) {
      if (!(error instanceof QueueFullError)) throw error;
      // Busy: the next sign-in rehashes instead.
    }
  }
}
