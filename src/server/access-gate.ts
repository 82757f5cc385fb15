/**
 * Access rules (issue 11) at the login server: the SSO bounce and the sign-in ask the one
 * decision (src/access) before sending a browser to an app; a refusal is audited and answered
 * with the 403 page, which names the app and the user and offers "sign in as someone else".
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ActiveLogin } from "../sessions.js";
import type { AccessVerdict, ServerContext } from "./context.js";
import { startStepUp } from "./factor-routes.js";

export interface GateRequest {
  login: ActiveLogin;
  /** The checked target URL. */
  url: string;
  /** Extra headers for the refusal (the new session's cookie after a sign-in). */
  headers?: Record<string, string | string[]> | undefined;
  via: string;
}

/**
 * True when the browser may go on to the target; otherwise the refusal was sent. The bounce is
 * always a GET of the target, so the decision is asked for GET.
 */
export async function passAccessGate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, request: GateRequest): Promise<boolean> {
  const access = ctx.decideAccess(request.login, "GET", request.url);
  if (access.verdict === "allow") return true;
  await recordDenial(ctx, req, { access, username: request.login.user.username, method: "GET", url: request.url, via: request.via });
  if (access.verdict === "second_factor") {
    // Issue 12: the code page, or enrolment right there for a user with no second factor; then on to the target.
    await startStepUp(ctx, req, res, { login: request.login, url: request.url, headers: request.headers });
    return false;
  }
  await sendForbidden(ctx, res, {
    kind: access.verdict === "deny" ? "deny" : "forbidden",
    username: request.login.user.username,
    appName: appLabel(access, request.url),
    url: request.url,
    headers: request.headers,
  });
  return false;
}

export function appLabel(access: AccessVerdict, url: string): string {
  return access.app?.name ?? new URL(url).origin;
}

/** `/logout?rd=<the login page for the same target>`: ends this login, then asks for another. */
export function switchUserHref(ctx: ServerContext, url: string): string {
  return `${ctx.url("/logout")}?rd=${encodeURIComponent(`${ctx.url("/login")}?rd=${encodeURIComponent(url)}`)}`;
}

export async function sendForbidden(
  ctx: ServerContext,
  res: ServerResponse,
  page: { kind: "forbidden" | "deny" | "second_factor"; username: string; appName: string; url: string; headers?: Record<string, string | string[]> | undefined },
): Promise<void> {
  await ctx.sendPage(
    res,
    403,
    "forbidden",
    page.kind === "deny" ? "Closed" : "Access denied",
    { kind: page.kind, username: page.username, appName: page.appName, switchHref: page.kind === "deny" ? null : switchUserHref(ctx, page.url) },
    page.headers ?? {},
  );
}

/** `access.denied` in the audit trail: the app, the path (never the query), the user, the reason. */
export async function recordDenial(
  ctx: ServerContext,
  req: IncomingMessage,
  denial: { access: AccessVerdict; username: string | null; method: string; url: string; via: string },
): Promise<void> {
  const url = new URL(denial.url);
  await ctx.audit.record(
    "access.denied",
    {
      username: denial.username ?? undefined,
      app: url.origin,
      path: url.pathname,
      method: denial.method,
      reason: denial.access.reason,
      rule: denial.access.ruleId,
      via: denial.via,
      addr: ctx.clientAddress(req),
    },
    ctx.now(),
  );
}
