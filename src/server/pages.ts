/**
 * The pages: EJS views compiled once at start-up (a broken `--views` template
 * fails then, not at the first request), and the headers every page carries.
 */
import ejs from "ejs";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";

export const BUILTIN_VIEWS = fileURLToPath(new URL("../../views/", import.meta.url));
export const STATIC_DIR = fileURLToPath(new URL("../../static/", import.meta.url));

export const PAGE_NAMES = [
  "layout", "login", "success", "signed-in", "logout", "error", "forbidden",
  // Second factor, account page, invitations
  "oidc-logout",
  "code", "account", "totp-enrol", "recovery-codes", "invite", "passkey",
  "forgot",
] as const;
export type PageName = Exclude<(typeof PAGE_NAMES)[number], "layout">;

type Template = (locals: Record<string, unknown>) => string;

export class Pages {
  private readonly templates = new Map<string, Template>();

  /** Throws an Error naming the template when one does not compile. */
  constructor(private readonly options: { title: string; viewsDir?: string | undefined }) {
    for (const name of PAGE_NAMES) {
      const override = options.viewsDir === undefined ? undefined : path.join(options.viewsDir, `${name}.ejs`);
      const file = override !== undefined && fs.existsSync(override) ? override : path.join(BUILTIN_VIEWS, `${name}.ejs`);
      try {
        this.templates.set(name, ejs.compile(fs.readFileSync(file, "utf8"), { filename: file, strict: false }) as Template);
      } catch (error) {
        throw new Error(`the view ${file} does not compile: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  }

  /** `basePath` is the public URL's path ("" or e.g. "/sso"): a proxy serving us under a prefix serves the CSS there too. */
  render(page: PageName, pageTitle: string, locals: Record<string, unknown>, options: { basePath?: string } = {}): string {
    const body = this.templates.get(page)!(locals);
    const cssHref = `${options.basePath ?? ""}/static/ssoctl.css`;
    return this.templates.get("layout")!({ title: this.options.title, pageTitle, body, cssHref, locale: "en", wide: locals.wide === true, scripts: Array.isArray(locals.scripts) ? locals.scripts.map((s) => `${options.basePath ?? ""}/static/${String(s)}`) : [] });
  }
}

/** Security headers on every page; `form-action` lists the app origins (Chromium applies it to the redirect after a post). */
export function pageHeaders(formActionOrigins: readonly string[]): Record<string, string> {
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": [
      "default-src 'none'",
      "style-src 'self'",
      "img-src 'self' data:",
      `form-action 'self' ${formActionOrigins.filter(isCspSafeOrigin).join(" ")}`.trimEnd(),
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
  };
}

/** The URL parser accepts hosts with "," or ";", which would split the header into other policies or directives. */
function isCspSafeOrigin(origin: string): boolean {
  return /^https?:\/\/[A-Za-z0-9.\-]+(:\d+)?$/.test(origin) || /^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(origin);
}

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]>): void {
  res.writeHead(status, { ...headers, "Content-Length": String(Buffer.byteLength(html)) });
  res.end(html);
}
