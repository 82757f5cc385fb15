/**
 * The CAS endpoints (DESIGN §15), thin over the pure modules beside them: /cas/login, /cas/logout,
 * /cas/validate (CAS 1), /cas/serviceValidate (CAS 2) and /cas/p3/serviceValidate (CAS 3).
 * Sign-in, sessions, logout and the redirect-target check are the login server's own.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerContext } from "../../server/context.js";
import { HttpError } from "../../server/http-error.js";
import { passAccessGate } from "../../server/journey.js";
import { endSessionAndLeave, sendSignInForm } from "../../server/login-routes.js";
import { requestUrl } from "../../server/request.js";
import { freshSignInMark, reauthentication } from "../../sign-in/index.js";
import type { App } from "../../store/store.js";
import { FRESH_PARAM, logoutRedirect, parseLoginParams, parseValidateParams } from "./params.js";
import { SERVICE_TICKET_TTL_SECONDS, isServiceTicketShape, judgeTicket, newServiceTicketId, withTicket } from "./ticket.js";
import { renderCas1, renderServiceFailure, renderServiceSuccess, userAttributes, type CasFailure, type CasIdentity } from "./xml.js";

/** The registered app a service belongs to; a 400 page (never a ticket, never a redirect) for anything else. */
async function registeredService(ctx: ServerContext, service: string): Promise<{ app: App; url: URL }> {
  const check = await ctx.checkTarget(service);
  const app = check.ok ? ctx.appByOrigin(check.origin) : null;
  if (check.ok && app !== null) return { app, url: new URL(check.url) };
  const registrable = !check.ok && check.origin !== null && check.reason === "the application is not registered";
  throw new HttpError(400, {
    heading: "This application is not registered",
    message: registrable
      ? `This login server only signs you in to applications its administrator has registered, and ${check.origin} is not one of them. An administrator can register it with:`
      : `This login server cannot sign you in to this service: ${check.ok ? "the login server itself is not a CAS service" : check.reason}.`,
    details: registrable ? `ssoctl app add ${check.origin}` : null,
  });
}

function badRequest(problem: string): HttpError {
  return new HttpError(400, { heading: "Bad request", message: `This sign-in request is not valid: ${problem}.` });
}

/** /cas/login again, carrying the service, `renew`, and the mark that the sign-in form was shown. */
function casLoginUrl(ctx: ServerContext, service: string, options: { renew: boolean; now: number }): string {
  const params = new URLSearchParams({ service });
  if (options.renew) params.set("renew", "true");
  params.set(FRESH_PARAM, freshSignInMark(ctx.keyring.current, service, options.now));
  return ctx.url("/cas/login") + "?" + params.toString();
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { Location: location, "Cache-Control": "no-store", "Content-Length": "0" });
  res.end();
}

/** GET /cas/login?service=S[&renew=true][&gateway=true] */
export async function casLogin(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const parsed = parseLoginParams(requestUrl(req).searchParams);
  if (!parsed.ok) throw badRequest(parsed.problem);
  const { service, renew, gateway, fresh } = parsed.value;
  if (service === null) {
    redirect(res, ctx.url("/login"));
    return;
  }
  const { app, url } = await registeredService(ctx, service);
  const now = ctx.now();
  const login = await ctx.sessions.resolve(ctx.tokenOf(req), now);
  // A session made after the form was shown for this service was made by that form: a fresh sign-in.
  const freshness = reauthentication({ signedInAt: login?.claims.issuedAt ?? null, target: service, mark: fresh, force: renew }, ctx.keyring.secrets, now);
  const fromForm = freshness.next === "go" && freshness.fresh;
  if (renew && freshness.next === "sign_in_again") {
    // renew outranks gateway (CAS 3 §2.1.1): every factor is asked again, whatever the session;
    // the sign-in replaces the session, so the old one's tickets end with it.
    await sendSignInForm(ctx, req, res, casLoginUrl(ctx, service, { renew, now }));
    return;
  }
  if (login !== null) {
    // The one access decision (src/access), asked and answered as the SSO bounce does: a refusal gets
    // the 403 page (switch user), a missing second factor the step-up; either way, no ticket.
    if (!(await passAccessGate(ctx, req, res, { login, url: service, via: "/cas/login" }))) return;
    const id = newServiceTicketId();
    await ctx.store.createCasTicket({
      id,
      sessionId: login.claims.sessionId,
      username: login.user.username,
      service,
      fromSso: !fromForm,
      createdAt: now,
      expiresAt: now + SERVICE_TICKET_TTL_SECONDS,
    });
    await ctx.audit.record("cas.ticket", { username: login.user.username, session: login.claims.sessionId, app: app.origin, from_sso: !fromForm }, now);
    redirect(res, withTicket(url.href, id));
    return;
  }
  // Nobody signed in: an app nobody may use says so at once; any other asks for a sign-in (even
  // bypass: a ticket names a user), then the decision above is asked for the user who signed in.
  if (ctx.decideAccess(null, "GET", service).verdict === "deny") {
    await ctx.audit.record("access.denied", { app: app.origin, path: url.pathname.slice(0, 200), via: "/cas/login", verdict: "deny" }, now);
    throw new HttpError(403, { heading: "Closed", message: `${app.name} does not let anyone sign in.` });
  }
  if (gateway) {
    redirect(res, url.href);
    return;
  }
  await sendSignInForm(ctx, req, res, casLoginUrl(ctx, service, { renew, now }));
}

/** GET /cas/logout[?service=S | ?url=S]: the normal logout (single logout included), then S only if allowed. */
export async function casLogout(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = logoutRedirect(requestUrl(req).searchParams);
  // A fragment is harmless on a redirect, but a service never has one: treat it like any odd address.
  await endSessionAndLeave(ctx, req, res, target === null || target.includes("#") ? undefined : target);
}

type Validation = { ok: true; identity: CasIdentity } | { ok: false; failure: CasFailure };

async function validateTicket(ctx: ServerContext, req: IncomingMessage): Promise<Validation> {
  const parsed = parseValidateParams(requestUrl(req).searchParams);
  if (!parsed.ok) return parsed;
  const { service, ticket, renew } = parsed.value;
  if (!isServiceTicketShape(ticket)) {
    return { ok: false, failure: { code: "INVALID_TICKET_SPEC", message: "The ticket is not a service ticket issued by this server" } };
  }
  const now = ctx.now();
  const consumed = await ctx.store.consumeCasTicket(ticket);
  const failure = judgeTicket(consumed, { id: ticket, service, renew }, now);
  if (failure !== null) return { ok: false, failure };
  // The sign-in may have ended, or the user been disabled or removed, since the ticket was issued.
  const session = await ctx.store.getSession(consumed!.sessionId, now);
  const user = session === null ? null : await ctx.store.getUser(consumed!.username);
  if (session === null || user === null || user.disabled) {
    return { ok: false, failure: { code: "INVALID_TICKET", message: `Ticket ${ticket} belongs to a sign-in that has ended` } };
  }
  // The access gate again at validation: the rules (or the user's groups) may have changed since the ticket.
  await ctx.checkTarget(service);
  const access = ctx.decideAccess({ user, claims: { amr: session.amr ?? ["pwd"] } }, "GET", service);
  if (access.verdict !== "allow") {
    await ctx.audit.record("access.denied", { username: user.username, app: new URL(service).origin, reason: access.reason, via: "/cas/validate" }, now);
    return { ok: false, failure: { code: "INVALID_TICKET", message: `Ticket ${ticket} is for an application ${user.username} may no longer use` } };
  }
  return { ok: true, identity: { username: user.username, attributes: userAttributes(user) } };
}

async function validate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, flavour: "cas1" | "xml"): Promise<void> {
  let result: Validation;
  try {
    result = await validateTicket(ctx, req);
  } catch (error) {
    if (error instanceof HttpError) {
      result = { ok: false, failure: { code: "INVALID_REQUEST", message: "The request address is not valid" } };
    } else {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), event: "error", what: "CAS validation failed", error: (error as Error)?.message }) + "\n");
      result = { ok: false, failure: { code: "INTERNAL_ERROR", message: "The login server could not check the ticket; try again" } };
    }
  }
  const now = ctx.now();
  await ctx.audit.record(
    "cas.validate",
    result.ok ? { username: result.identity.username, outcome: "success" } : { outcome: result.failure.code },
    now,
  );
  const body =
    flavour === "cas1"
      ? renderCas1(result.ok ? result.identity.username : null)
      : result.ok
        ? renderServiceSuccess(result.identity)
        : renderServiceFailure(result.failure);
  res.writeHead(200, {
    "Content-Type": flavour === "cas1" ? "text/plain; charset=utf-8" : "application/xml; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": String(Buffer.byteLength(body)),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** GET /cas/validate (CAS 1): `yes\nuser\n` or `no\n\n`. */
export async function casValidate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await validate(ctx, req, res, "cas1");
}

/** GET /cas/serviceValidate (CAS 2) and /cas/p3/serviceValidate (CAS 3): the XML answer, with attributes. */
export async function casServiceValidate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await validate(ctx, req, res, "xml");
}
