/** The 403 page of an access refusal: names the app and the user, and offers "sign in as someone else". */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessVerdict, ServerContext } from "./context.js";

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
