/** What every route handler shares: config, store, sessions, pages and the allowed targets. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCookie, type CookieOptions } from "../cookie.js";
import { checkTarget, type TargetCheck } from "../redirect-target.js";
import type { AuditLog } from "../audit.js";
import type { Keyring } from "../keyring.js";
import type { LoginSessions } from "../sessions.js";
import type { SignIn } from "../sign-in.js";
import type { App, Store } from "../store/store.js";
import type { ServerConfig } from "./config.js";
import { pageHeaders, sendHtml, type PageName, type Pages } from "./pages.js";
import type { TrustedProxies } from "./trusted-proxy.js";
import type { ServerMetrics } from "../ops/metrics.js";

/** Run with the store's change counter (or the error reading it) and the clock, read once for a batch. */
export type StampTask = (stamp: number | Error, now: number) => void;

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
  /** Operations (issue 15): the counters behind /metrics; null where no server runs (unit tests). */
  metrics: ServerMetrics | null = null;

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
    const apps = await this.store.listApps();
    this.apps = apps;
    this.allowed = new Set([this.config.publicOrigin, ...apps.map((a) => a.origin)]);
    this.headers = pageHeaders(apps.map((a) => a.origin));
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

