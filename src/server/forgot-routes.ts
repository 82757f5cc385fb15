/**
 * GET/POST /login/forgot: "Forgot your password?", there only when mail is configured. The answer
 * is the same page, status and work whatever the request names (an account or none, with an email
 * or not, disabled or not): the lookup and the mail happen after the answer (src/factors/password-reset.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PasswordResets } from "../factors/password-reset.js";
import type { ServerContext } from "./context.js";
import { HttpError } from "./http-error.js";
import { checkedForm, csrfFor, withCsrfCookie } from "./form-guard.js";

interface ForgotView {
  status: number;
  state: "form" | "sent";
  identifier?: string;
  error?: string | null;
  headers?: Record<string, string>;
}

function resetsOf(ctx: ServerContext): PasswordResets {
  if (ctx.passwordResets === null) throw new HttpError(404, { heading: "Not found", message: "There is no page at this address." });
  return ctx.passwordResets;
}

async function renderForgot(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, view: ForgotView): Promise<void> {
  const csrf = csrfFor(ctx, req);
  const headers = withCsrfCookie({ ...view.headers }, csrf);
  await ctx.sendPage(res, view.status, "forgot", view.state === "form" ? "Forgot your password?" : "Check your mail", {
    state: view.state,
    identifier: view.identifier ?? "",
    error: view.error ?? null,
    csrf: csrf.token,
    action: ctx.url("/login/forgot"),
    loginHref: ctx.url("/login"),
  }, headers);
}

/** GET /login/forgot */
export async function getForgot(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  resetsOf(ctx);
  await renderForgot(ctx, req, res, { status: 200, state: "form" });
}

/** POST /login/forgot: a username or an email address. */
export async function postForgot(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const resets = resetsOf(ctx);
  const fields = await checkedForm(ctx, req, ["identifier"]);
  const identifier = (fields.identifier ?? "").trim();
  if (identifier === "" || identifier.length > 256) {
    await renderForgot(ctx, req, res, { status: 400, state: "form", identifier: identifier.slice(0, 256), error: "Give your username or your email address." });
    return;
  }
  const now = ctx.now();
  const clientAddr = ctx.clientAddress(req);
  // Per address, whatever the request names: the refusal says nothing about any account.
  const locked = await resets.addrLockedFor(clientAddr, now);
  if (locked > 0) {
    const minutes = Math.ceil(locked / 60);
    await renderForgot(ctx, req, res, {
      status: 429,
      state: "form",
      identifier,
      error: `Too many requests from this address. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
      headers: { "Retry-After": String(locked) },
    });
    return;
  }
  await resets.request({ identifier, clientAddr, userAgent: req.headers["user-agent"] ?? "" }, now);
  await renderForgot(ctx, req, res, { status: 200, state: "sent" });
}
