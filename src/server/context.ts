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

export class ServerContext {
  readonly cookie: CookieOptions;
  private appsStamp = -1;
  private apps: App[] = [];
  private allowed: Set<string> = new Set();
  private headers: Record<string, string> = {};

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
  }

  now(): number {
    return this.clock();
  }

  /** Registered apps, reloaded only when the database changed (the CLI may add one at any time). */

  async loadApps(): Promise<void> {
    const apps = await this.store.listApps();
    this.apps = apps;
    this.allowed = new Set([this.config.publicOrigin, ...apps.map((a) => a.origin)]);
    this.headers = pageHeaders(apps.map((a) => a.origin));
    this.appsStamp = this.store.changeCounter();
  }

  /** `stamp`: the store's change counter when the caller already read it for this request. */
  async checkTarget(target: string, stamp = this.store.changeCounter()): Promise<TargetCheck> {
    if (stamp !== this.appsStamp) await this.loadApps();
    return checkTarget(target, this.allowed);
  }

  appName(origin: string): string | null {
    return this.apps.find((a) => a.origin === origin)?.name ?? null;
  }

  async pageHeaders(): Promise<Record<string, string>> {
    if (this.store.changeCounter() !== this.appsStamp) await this.loadApps();
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
  ): Promise<void> {
    const html = this.pages.render(page, pageTitle, locals, { basePath: new URL(this.config.publicUrl).pathname.replace(/\/+$/, "") });
    sendHtml(res, status, html, { ...(await this.pageHeaders()), ...extraHeaders });
  }
}

export { type ServerResponse };
