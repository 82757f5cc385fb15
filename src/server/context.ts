/** What every route handler shares: config, store, sessions, pages and the allowed targets. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCookie, type CookieOptions } from "../cookie.js";
import { checkTarget, type TargetCheck } from "../redirect-target.js";
import type { AuditLog } from "../audit.js";
import type { Keyring } from "../keyring.js";
import type { LoginSessions } from "../sessions.js";
import type { EnrolmentChoice, SignIn } from "../sign-in/index.js";
import type { App, Store, User } from "../store/store.js";
import { AccessTable, rawPathOf } from "../access/table.js";
import { decideAccess, OPEN_APP, type AccessDecision } from "../access/decide.js";
import type { ActiveLogin } from "../sessions.js";
import type { LoginClaims } from "../token.js";
import type { ServerConfig } from "./config.js";
import { pageHeaders, sendHtml, type PageName, type Pages } from "./pages.js";
import type { TrustedProxies } from "./trusted-proxy.js";
import type { ServerMetrics } from "../ops/metrics.js";
import type { Notifier } from "../mail/notifier.js";
import type { PasswordResets } from "../factors/password-reset.js";

/**
 * Who the access decision is asked about: a login, or the user and factors an OpenID token
 * records (a refresh grant or a userinfo call has no session).
 */
export interface AccessSubject {
  user: Pick<User, "username" | "groups">;
  claims: Pick<LoginClaims, "amr">;
}

/** Run with the store's change counter (or the error reading it) and the clock, read once for a batch. */
export type StampTask = (stamp: number | Error, now: number) => void;

/** An access decision, with the app it is about (null for the login server's own pages). */
export type AccessVerdict = AccessDecision & { app: App | null };

/** The verdict for a signed-in user on an app open to any login (the app itself is not needed by the fast path). */
const OPEN_VERDICT: AccessVerdict = { verdict: "allow", ruleId: null, policy: "one_factor", reason: null, app: null };

/** Forward auth's answer for the login server's own origin as a target: no app lives there. */
const LOGIN_SERVER_TARGET: AccessVerdict = { verdict: "deny", ruleId: null, policy: "deny", reason: "login_server_target", app: null };

/** Access decisions remembered at most (bounded memory, whatever the number of logins and URLs). */
const REMEMBERED_DECISIONS = 20_000;

/** Checked redirect targets remembered per exact text, until the apps are reloaded. */
const REMEMBERED_TARGETS = 1000;

export class ServerContext {
  readonly cookie: CookieOptions;
  /** The path part of the public URL (e.g. `/sso`), without a trailing slash. */
  private readonly basePath: string;
  private appsStamp = -1;
  private apps: App[] = [];
  private allowed: Set<string> = new Set();
  private headers: Record<string, string> = {};
  private targets = new Map<string, TargetCheck>();
  private stampTasks: StampTask[] = [];
  /** Operations: the counters behind /metrics; null where no server runs (unit tests). */
  metrics: ServerMetrics | null = null;
  /** Mail (the config's `mail` section); null when none is configured: what needs it stays off. */
  notifier: Notifier | null = null;
  /** "Forgot your password?": there only with mail. */
  passwordResets: PasswordResets | null = null;
  // Access rules
  private access = new AccessTable([], []);
  /** Decisions remembered per (session or nobody, method, target), until the apps, rules or users change. */
  private decisions = new Map<string, AccessVerdict>();
  /**
   * Names the app behind a target on the login server itself (an OpenID Connect sign-in in
   * progress, /login/oidc/<uid>), so the login page can say which app it is for.
   */
  nameOwnTarget: ((url: string) => Promise<{ name: string; origin: string } | null>) | null = null;

  constructor(
    readonly config: ServerConfig,
    readonly store: Store,
    readonly keyring: Keyring,
    readonly sessions: LoginSessions,
    readonly signIn: SignIn,
    readonly pages: Pages,
    readonly proxies: TrustedProxies,
    readonly audit: AuditLog,
    readonly clock: () => number,
  ) {
    this.cookie = { name: config.cookieName, domain: config.cookieDomain, secure: config.secure };
    this.basePath = new URL(config.publicUrl).pathname.replace(/\/+$/, "");
  }

  now(): number {
    return this.clock();
  }

  /** Registered apps, reloaded only when the database changed (the CLI may add one at any time). */
  async loadApps(): Promise<void> {
    // Read before the query: a write in between leaves the stamp behind, so the next check reloads.
    const stamp = this.store.changeCounter();
    const [apps, rules] = await Promise.all([this.store.listApps(), this.store.listRules()]);
    // OpenID clients' redirect and post-logout origins: Chromium applies form-action to the redirects after the login post.
    const clientOrigins = (await this.store.listOidcClients()).flatMap((c) => [...c.redirectUris, ...c.postLogoutUris].map((u) => new URL(u).origin));
    this.apps = apps;
    this.access = new AccessTable(apps, rules);
    this.decisions = new Map();
    this.allowed = new Set([this.config.publicOrigin, ...apps.map((a) => a.origin)]);
    this.headers = pageHeaders([...new Set([...apps.map((a) => a.origin), ...clientOrigins])]);
    this.targets = new Map();
    this.appsStamp = stamp;
  }

  /** `stamp`: the store's change counter when the caller already read it for this request. */
  async checkTarget(target: string, stamp = this.store.changeCounter()): Promise<TargetCheck> {
    if (stamp !== this.appsStamp) await this.loadApps();
    return checkTarget(target, this.allowed);
  }

  /**
   * `checkTarget` without waiting, when the apps loaded are those at `stamp`; undefined when
   * they must be reloaded first. Remembers answers per exact target text until the apps change.
   */
  knownTarget(target: string, stamp: number): TargetCheck | undefined {
    if (stamp !== this.appsStamp) return undefined;
    let check = this.targets.get(target);
    if (check === undefined) {
      check = checkTarget(target, this.allowed);
      if (this.targets.size >= REMEMBERED_TARGETS) this.targets.clear();
      this.targets.set(target, check);
    }
    return check;
  }

  /**
   * Runs `task` later in this event-loop turn (its check phase), with the store's change counter
   * read once for every task queued in the turn. The counter is read after each of these requests
   * was read from its socket, so a write committed before a request was sent is always seen: a
   * revocation by another process still applies from the next request on. Tasks must not throw.
   */
  withFreshStamp(task: StampTask): void {
    if (this.stampTasks.length === 0) setImmediate(this.runStampTasks);
    this.stampTasks.push(task);
  }

  private readonly runStampTasks = (): void => {
    const tasks = this.stampTasks;
    this.stampTasks = [];
    let stamp: number | Error;
    try {
      stamp = this.store.changeCounter();
    } catch (error) {
      stamp = error instanceof Error ? error : new Error(String(error));
    }
    const now = this.clock();
    for (const task of tasks) task(stamp, now);
  };

  // CAS
  /** The registered app of an origin, as last loaded (call `checkTarget` first to refresh them). */
  appByOrigin(origin: string): App | null {
    return this.apps.find((a) => a.origin === origin) ?? null;
  }

  // Access rules

  /**
   * Who may use `url` (the raw text of an allowed target) with `method`: the one decision
   * (src/access) on the apps and rules loaded at the current stamp, the user's groups as the
   * database has them now and the factors the token records.
   */
  decideAccess(login: AccessSubject | null, method: string, url: string): AccessVerdict {
    const parsed = new URL(url);
    if (parsed.origin === this.config.publicOrigin) {
      // The login server's own pages are no registered app: any signed-in user, as before access rules.
      const decision = decideAccess({
        user: login === null ? null : { username: login.user.username, groups: login.user.groups },
        amr: login?.claims.amr ?? [],
        app: OPEN_APP,
        method,
        path: rawPathOf(url),
      });
      return { ...decision, app: null };
    }
    return this.access.decide({
      user: login === null ? null : { username: login.user.username, groups: login.user.groups },
      amr: login?.claims.amr ?? (login === null ? [] : ["pwd"]),
      method,
      origin: parsed.origin,
      // As the proxy received it: an upstream may read it otherwise than the URL parser does.
      path: rawPathOf(url),
    });
  }

  /**
   * The access decision for a request a proxy asks about (forward auth): as `decideAccess`, except
   * that the login server's own origin is never an app behind a proxy. A proxy that builds the
   * target from the client's `Host` would otherwise let any signed-in user through by naming it.
   */
  decideProxied(login: ActiveLogin | null, method: string, url: string): AccessVerdict {
    if (new URL(url).origin === this.config.publicOrigin) return LOGIN_SERVER_TARGET;
    return this.decideAccess(login, method, url);
  }

  /**
   * `decideProxied` without waiting and remembered per (login, method, target), for the forward-auth
   * fast path; undefined when the apps and rules loaded are not those at `stamp`. Every change to
   * users, apps or rules moves the stamp, and the reload empties what was remembered.
   */
  knownAccess(login: ActiveLogin | null, method: string, target: string, origin: string, stamp: number): AccessVerdict | undefined {
    if (stamp !== this.appsStamp) return undefined;
    if (origin === this.config.publicOrigin) return LOGIN_SERVER_TARGET;
    // Most apps admit every signed-in user everywhere: no need to remember anything for them.
    if (login !== null && this.access.isOpenToAnyLogin(origin)) return OPEN_VERDICT;
    // A session id names one login; its user and groups are those read at this same stamp.
    const key = `${login === null ? "" : login.claims.sessionId} ${method} ${target}`;
    let decision = this.decisions.get(key);
    if (decision === undefined) {
      decision = this.decideAccess(login, method, target);
      if (this.decisions.size >= REMEMBERED_DECISIONS) this.decisions.clear();
      this.decisions.set(key, decision);
    }
    return decision;
  }

  /** Whether a user without a second factor may enrol one at this app's door (server-wide, or the app's own choice). */
  enrolmentFor(app: App | null): EnrolmentChoice {
    return this.config.enrolment === "strict" || app?.strictEnrolment === true ? "strict" : "open";
  }

  /**
   * The one decision for a way in that carries no URL: an LDAP bind through a service account
   * asks for the account's app, method `BIND`, path `/` (so the app's policy and audience, and a
   * rule on `/` for every method, apply).
   */
  async decideForApp(user: { username: string; groups: readonly string[] }, amr: readonly string[], origin: string): Promise<AccessVerdict> {
    if (this.store.changeCounter() !== this.appsStamp) await this.loadApps();
    return this.access.decide({ user: { username: user.username, groups: user.groups }, amr, method: "BIND", origin, path: "/" });
  }

  appName(origin: string): string | null {
    return this.apps.find((a) => a.origin === origin)?.name ?? null;
  }

  /**
   * The headers every page carries. `orLast`: when the database cannot be read, the last ones
   * known instead of failing — for the error page that says the server is unavailable.
   */
  async pageHeaders(options: { orLast?: boolean } = {}): Promise<Record<string, string>> {
    try {
      if (this.store.changeCounter() !== this.appsStamp) await this.loadApps();
    } catch (error) {
      if (!options.orLast) throw error;
    }
    return this.headers;
  }

  tokenOf(req: IncomingMessage): string | null {
    return readCookie(req.headers.cookie, this.config.cookieName);
  }

  clientAddress(req: IncomingMessage): string {
    return this.proxies.clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"]);
  }

  url(path: string): string {
    return this.config.publicUrl + path;
  }

  async sendPage(
    res: ServerResponse,
    status: number,
    page: PageName,
    pageTitle: string,
    locals: Record<string, unknown>,
    extraHeaders: Record<string, string | string[]> = {},
    options: { orLastHeaders?: boolean } = {},
  ): Promise<void> {
    const html = this.pages.render(page, pageTitle, locals, { basePath: this.basePath });
    sendHtml(res, status, html, { ...(await this.pageHeaders({ orLast: options.orLastHeaders })), ...extraHeaders });
  }
}

