/**
 * "Forgot your password?": a link by mail to the account's address, valid 30 minutes, single use,
 * stored hashed (an invitation with purpose `reset`, the machinery of `ssoctl user reset`), replaced
 * by a newer one and ended by any sign-in. The password stays as it is until the link is used, so
 * asking for a reset never locks anyone out.
 *
 * Nothing the requester sees depends on the account: the request is counted against the client
 * address, queued, and answered at once with the same page; finding the account, its throttle,
 * the link and the mail happen afterwards, off the request. Per account at most a few mails an
 * hour leave, whoever asks, from however many addresses.
 */
import { describeBrowser } from "../mail/browser.js";
import type { Notifier } from "../mail/notifier.js";
import type { AuditLog } from "../audit.js";
import { lockedFor } from "../throttle.js";
import { isReservedUsername } from "../username.js";
import { QueueFullError, WorkQueue } from "../work-queue.js";
import type { Store, ThrottleRule, ThrottleScope, User } from "../store/store.js";
import { issueInvitation } from "./invitations.js";

export const RESET_LINK_TTL = 30 * 60;

export interface ResetThrottle {
  /** Mails per account: counted when one is sent. */
  account: ThrottleRule;
  /** Requests per client address: counted for every request, whatever it names. */
  addr: ThrottleRule;
}

export const DEFAULT_RESET_THROTTLE: ResetThrottle = {
  account: { limit: 3, windowSeconds: 3600, lockSeconds: 3600 },
  addr: { limit: 10, windowSeconds: 3600, lockSeconds: 3600 },
};

/** Throttle scopes of their own: sign-in throttling never reads them, so a flood locks no one out. */
export const RESET_ACCOUNT_SCOPE: ThrottleScope = "mail_user";
export const RESET_ADDR_SCOPE: ThrottleScope = "mail_addr";

/** Users one request may reach at most (an address shared by several accounts). */
const MAX_ACCOUNTS_PER_REQUEST = 3;

export interface ResetRequest {
  /** A username, or an email address. */
  identifier: string;
  clientAddr: string;
  userAgent: string;
}

export class PasswordResets {
  /** One request looked up at a time; past the bound a request is dropped (logged): the answer was given already. */
  private readonly queue = new WorkQueue({ concurrency: 1, queueLimit: 100 });
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      store: Store;
      notifier: Notifier;
      audit: AuditLog;
      /** The link's absolute URL for a path. */
      url: (path: string) => string;
      throttle?: ResetThrottle;
      log?: (line: string) => void;
    },
  ) {}

  private get throttle(): ResetThrottle {
    return this.deps.throttle ?? DEFAULT_RESET_THROTTLE;
  }

  /** Seconds this address must wait before asking again, 0 when it may. */
  async addrLockedFor(clientAddr: string, now: number): Promise<number> {
    return lockedFor(await this.deps.store.getThrottle(RESET_ADDR_SCOPE, clientAddr), now);
  }

  /** Counts the request against its address and queues the rest; returns at once, never throws for the account. */
  async request(request: ResetRequest, now: number): Promise<void> {
    await this.deps.store.recordFailure(RESET_ADDR_SCOPE, request.clientAddr, this.throttle.addr, now);
    const work = this.queue
      .run(() => this.handle(request, now))
      .catch((error: unknown) => {
        const what = error instanceof QueueFullError ? "too many reset requests are waiting; this one was dropped" : (error as Error)?.message ?? String(error);
        (this.deps.log ?? ((line) => process.stderr.write(line)))(JSON.stringify({ time: new Date().toISOString(), event: "password_reset.error", addr: request.clientAddr, error: what }) + "\n");
      });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Resolves when every queued request has been handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async handle(request: ResetRequest, now: number): Promise<void> {
    const { store, audit } = this.deps;
    const users = await this.accountsOf(request.identifier);
    if (users.length === 0) {
      await audit.record("password_reset.no_account", { addr: request.clientAddr }, now);
      return;
    }
    for (const user of users) {
      if (user.disabled || user.email === "") {
        await audit.record("password_reset.refused", { username: user.username, addr: request.clientAddr, reason: user.disabled ? "disabled" : "no_email" }, now);
        continue;
      }
      const key = user.username.toLowerCase();
      if (lockedFor(await store.getThrottle(RESET_ACCOUNT_SCOPE, key), now) > 0) {
        await audit.record("password_reset.throttled", { username: user.username, addr: request.clientAddr }, now);
        continue;
      }
      await store.recordFailure(RESET_ACCOUNT_SCOPE, key, this.throttle.account, now);
      const issued = await issueInvitation(store, user, RESET_LINK_TTL, now, "reset");
      const queued = this.deps.notifier.send("password-reset", { address: user.email, name: user.name, username: user.username }, {
        username: user.username,
        link: this.deps.url(issued.path),
        expiresIn: "30 minutes",
        when: new Date(now * 1000).toUTCString(),
        addr: request.clientAddr,
        browser: describeBrowser(request.userAgent),
      });
      await audit.record("password_reset.mailed", { username: user.username, addr: request.clientAddr, queued, expiresAt: issued.expiresAt }, now);
    }
  }

  /** The account named by username, else those whose email it is (ignoring case). */
  private async accountsOf(identifier: string): Promise<User[]> {
    const text = identifier.trim();
    if (text === "" || isReservedUsername(text)) return [];
    const byName = await this.deps.store.getUser(text);
    if (byName !== null) return [byName];
    if (!text.includes("@")) return [];
    const lower = text.toLowerCase();
    const matches: User[] = [];
    for await (const user of this.deps.store.iterateUsers()) {
      if (user.email.toLowerCase() === lower) matches.push(user);
      if (matches.length >= MAX_ACCOUNTS_PER_REQUEST) break;
    }
    return matches;
  }
}
