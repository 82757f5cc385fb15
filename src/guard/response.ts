/** The answers a guard gives itself (redirects, small pages), described as data and written in one place. */
import type { ServerResponse } from "node:http";

export interface GuardResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

/** A small self-contained page: a title, one sentence and optionally one link. */
export function htmlPage(options: { status: number; title: string; text: string; href?: string; linkText?: string; setCookie?: string }): GuardResponse {
  const link =
    options.href === undefined ? "" : `\n<p><a href="${escapeHtml(options.href)}">${escapeHtml(options.linkText ?? options.href)}</a></p>`;
  const body =
    `<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(options.title)}</title></head>\n<body>\n<h1>${escapeHtml(options.title)}</h1>\n<p>${escapeHtml(options.text)}</p>${link}\n</body>\n</html>\n`;
  const headers: Record<string, string> = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
  };
  if (options.setCookie !== undefined) headers["set-cookie"] = options.setCookie;
  return { status: options.status, headers, body };
}

export const BAD_REQUEST: GuardResponse = htmlPage({
  status: 400,
  title: "Bad request",
  text: "The address of this request could not be read.",
});

/** Writes a guard answer; a response already started (or a gone client) is left alone. */
export function writeGuardResponse(res: ServerResponse, response: GuardResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = response.status;
  for (const name in response.headers) res.setHeader(name, response.headers[name]!);
  res.setHeader("content-length", Buffer.byteLength(response.body));
  res.end(response.body);
}

/** Adds a `Set-Cookie` without dropping any the application set already. */
export function appendSetCookie(res: ServerResponse, value: string): void {
  const existing = res.getHeader("set-cookie");
  if (existing === undefined) res.setHeader("set-cookie", value);
  else if (Array.isArray(existing)) res.setHeader("set-cookie", [...existing, value]);
  else res.setHeader("set-cookie", [String(existing), value]);
}
