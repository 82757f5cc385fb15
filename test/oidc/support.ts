/**
 * What an OpenID Connect test needs: a data directory with users and clients, the real server,
 * and a small browser (a cookie jar over undici that follows redirects by hand and signs in on
 * ssoctl's login page when it is shown), so a test sees every page a user would see.
 */
import { request } from "undici";
import { addClient } from "../../src/protocols/oidc/clients.js";
import type { Store } from "../../src/store/store.js";

export interface Step {
  url: string;
  status: number;
  location: string | undefined;
  body: string;
}

export class Browser {
  readonly cookies = new Map<string, string>();
  /** Every answer, in order. */
  readonly steps: Step[] = [];

  /** `rewrite` plays a proxy: maps a public URL to where the server really listens. */
  constructor(private readonly rewrite: (url: string) => string = (url) => url) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private keep(setCookie: string | string[] | undefined): void {
    for (const line of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = value === "" || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async fetch(url: string, options: { method?: "GET" | "POST"; form?: Record<string, string>; origin?: string } = {}): Promise<Step> {
    const headers: Record<string, string> = { cookie: this.cookieHeader(), accept: "text/html" };
    if (options.form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    if (options.origin !== undefined) headers.origin = options.origin;
    const response = await request(this.rewrite(url), {
      method: options.method ?? "GET",
      headers,
      body: options.form === undefined ? undefined : new URLSearchParams(options.form).toString(),
    });
    this.keep(response.headers["set-cookie"]);
    const location = response.headers.location as string | undefined;
    const step = { url, status: response.statusCode, location: location === undefined ? undefined : new URL(location, url).href, body: await response.body.text() };
    this.steps.push(step);
    return step;
  }

  /**
   * Follows redirects from `url` until one leaves for `stopAt` (returned, not followed) or a page
   * is shown. On ssoctl's sign-in form (at /login, or shown in place where a fresh sign-in is
   * asked for) it signs in with `credentials` (when given), on the code page with `code()`, and
   * goes on. `pages` counts the pages the user saw.
   */
  async navigate(
    url: string,
    options: { stopAt: string; credentials?: { username: string; password: string; code?: () => string }; server: string },
  ): Promise<{ final: Step; arrivedAt: string | null; pages: number }> {
    let next = url;
    let pages = 0;
    for (let hops = 0; hops < 20; hops++) {
      if (next.startsWith(options.stopAt)) return { final: this.steps.at(-1)!, arrivedAt: next, pages };
      let step = await this.fetch(next);
      if (step.status >= 300 && step.status < 400 && step.location !== undefined) {
        next = step.location;
        continue;
      }
      pages += 1;
      const isLogin = step.status === 200 && step.body.includes('name="password"') && /action="[^"]*\/login"/.test(step.body);
      if (!isLogin || options.credentials === undefined) return { final: step, arrivedAt: null, pages };
      const csrf = hiddenField(step.body, "csrf") ?? "";
      const rd = hiddenField(step.body, "rd") ?? new URL(step.url).searchParams.get("rd") ?? "";
      step = await this.fetch(`${options.server}/login`, {
        method: "POST",
        origin: new URL(options.server).origin,
        form: { csrf, rd, username: options.credentials.username, password: options.credentials.password },
      });
      if (step.status === 200 && step.body.includes('name="pending"') && options.credentials.code !== undefined) {
        pages += 1;
        step = await this.fetch(`${options.server}/login/code`, {
          method: "POST",
          origin: new URL(options.server).origin,
          form: { csrf: hiddenField(step.body, "csrf") ?? "", pending: hiddenField(step.body, "pending") ?? "", code: options.credentials.code() },
        });
      }
      if (step.location === undefined) return { final: step, arrivedAt: null, pages };
      next = step.location;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

/** The value of a hidden form field of a page, HTML entities decoded. */
export function hiddenField(body: string, name: string): string | null {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(body)?.[1];
  return value === undefined ? null : value.replaceAll("&amp;", "&").replaceAll("&#34;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
}

/** Registers a client straight in the store, as `ssoctl client add` does. */
export async function registerClient(
  store: Store,
  request: { name: string; redirectUris: string[]; postLogoutUris?: string[]; public?: boolean; app?: string; idTokenAlg?: string },
): Promise<{ clientId: string; secret: string | null }> {
  const { client, secret } = await addClient(
    store,
    { name: request.name, redirectUris: request.redirectUris, postLogoutUris: request.postLogoutUris ?? [], public: request.public ?? false, app: request.app, idTokenAlg: request.idTokenAlg },
    Math.floor(Date.now() / 1000),
  );
  return { clientId: client.clientId, secret };
}
