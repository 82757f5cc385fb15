/**
 * The SAML endpoints (DESIGN §20), thin over the pure modules beside them: /saml/metadata,
 * /saml/sso (AuthnRequests, HTTP-Redirect and HTTP-POST), /saml/continue (where a checked request
 * waits for the sign-in), /saml/start (IdP-initiated, for SPs registered to allow it) and
 * /saml/slo. Sign-in, sessions, the access decision and logout are the login server's own.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { newPendingToken, pendingIdOf } from "../../factors/pending.js";
import { passAccessGate } from "../../server/access-gate.js";
import type { ServerContext } from "../../server/context.js";
import { HttpError } from "../../server/http-error.js";
import { sendLoginForm } from "../../server/login-routes.js";
import { readForm, requestUrl, singleParams } from "../../server/request.js";
import type { ActiveLogin } from "../../sessions.js";
import type { App } from "../../store/store.js";
import { freshSignInMark, freshSignInSince } from "../cas/fresh-sign-in.js";
import { FRESH_PARAM } from "../cas/params.js";
import { CLOCK_SKEW_SECONDS, REQUEST_LIFETIME_SECONDS, chooseAcs, chooseNameIdFormat, issuerOf, parseAuthnRequest, timeProblem } from "./authn-request.js";
import { MAX_RELAY_STATE_BYTES, POST_FORM_SCRIPT, postFormHtml, readPost, readRedirect, type ReceivedMessage } from "./bindings.js";
import { CERTIFICATE_NAME, ensureSamlKeys, publishedCertificates, type SamlKeySet } from "./keys.js";
import { renderIdpMetadata } from "./metadata.js";
import { STATUS } from "./names.js";
import { errorResponse, nameIdValue, newSamlId, releasedAttributes, successResponse } from "./response.js";
import { hasEnvelopedSignature, verifyEnvelopedSignature, verifyRedirectSignature } from "./signature.js";
import { registeredSp, type RegisteredSp } from "./sp.js";
import { SamlInputError, parseXml } from "./xml.js";

const PENDING_KIND = "saml_authn";
/** A sign-in form may stay open this long before the request it answers is forgotten. */
const PENDING_TTL_SECONDS = 30 * 60;

/** A request checked and waiting for the sign-in: everything the response needs, nothing from the browser. */
interface PendingAuthn {
  sp: string;
  requestId: string | null;
  acs: string;
  relayState: string | null;
  forceAuthn: boolean;
  isPassive: boolean;
  nameIdFormat: string;
}

export function idpEntityId(ctx: ServerContext): string {
  return ctx.url("/saml/metadata");
}

export async function samlKeys(ctx: ServerContext): Promise<SamlKeySet> {
  return ensureSamlKeys(ctx.store.factors, CERTIFICATE_NAME, ctx.now());
}

/** Audits a refused SAML message and answers with the error page (never a POST to anywhere). */
export async function refuse(ctx: ServerContext, req: IncomingMessage, reason: string, sp: string | null): Promise<never> {
  await ctx.audit.record("saml.refused", { sp: sp?.slice(0, 200), reason: reason.slice(0, 300), addr: ctx.clientAddress(req) }, ctx.now());
  throw new HttpError(400, {
    heading: "This sign-in request was refused",
    message: `The application sent a SAML message this login server does not accept: ${reason}. Go back to the application and try again; if it keeps happening, tell its administrator.`,
  });
}

/** GET /saml/metadata */
export async function samlMetadata(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const keys = await samlKeys(ctx);
  const body = renderIdpMetadata({
    entityId: idpEntityId(ctx),
    ssoUrl: ctx.url("/saml/sso"),
    sloUrl: ctx.url("/saml/slo"),
    certificates: publishedCertificates(keys, ctx.now()),
  });
  res.writeHead(200, {
    "Content-Type": "application/samlmetadata+xml; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": String(Buffer.byteLength(body)),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** The SAML message of a GET (HTTP-Redirect) or POST (HTTP-POST) request. */
export async function receivedMessage(req: IncomingMessage): Promise<ReceivedMessage | null> {
  if (req.method === "POST") return readPost(await readForm(req));
  const raw = req.url ?? "";
  const query = raw.indexOf("?");
  return readRedirect(query === -1 ? "" : raw.slice(query + 1));
}

/**
 * The XML to read the message from, once its signature is checked: where the SP's metadata says
 * it signs, a message without a valid signature is refused; a signature is checked whenever present.
 */
export function verifiedXml(message: ReceivedMessage, doc: Document, registered: RegisteredSp, what: string): string {
  const certificates = registered.metadata.signingCertificates;
  if (message.binding === "redirect") {
    if (message.redirectSignature !== null) {
      const { signed, sigAlg, signature } = message.redirectSignature;
      if (certificates.length === 0) throw new SamlInputError(`the ${what} is signed, but the SP's metadata has no signing certificate`);
      if (!verifyRedirectSignature(signed, sigAlg, signature, certificates)) throw new SamlInputError(`the ${what}'s signature does not verify with the certificate registered for this service provider`);
      return message.xml;
    }
    if (registered.metadata.signsRequests) throw new SamlInputError(`the ${what} is not signed, and this SP's metadata says it signs its requests`);
    return message.xml;
  }
  if (hasEnvelopedSignature(doc)) {
    if (certificates.length === 0) throw new SamlInputError(`the ${what} is signed, but the SP's metadata has no signing certificate`);
    return verifyEnvelopedSignature(message.xml, doc, certificates, what);
  }
  if (registered.metadata.signsRequests) throw new SamlInputError(`the ${what} is not signed, and this SP's metadata says it signs its requests`);
  return message.xml;
}

/** The app an SP belongs to, as loaded now; an error page when it was removed since. */
async function appOf(ctx: ServerContext, req: IncomingMessage, registered: RegisteredSp): Promise<App> {
  await ctx.checkTarget(registered.sp.appOrigin + "/");
  const app = ctx.appByOrigin(registered.sp.appOrigin);
  if (app === null) return refuse(ctx, req, `the app ${registered.sp.appOrigin} this SP belongs to is no longer registered`, registered.sp.entityId);
  return app;
}

/** The URL the access decision is asked about: the ACS when it is on the app's origin, else the app's root. */
function accessUrl(app: App, acs: string): string {
  return new URL(acs).origin === app.origin ? acs : app.origin + "/";
}

/** GET or POST /saml/sso: an AuthnRequest, checked completely before anything is shown or sent. */
export async function samlSso(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let spId: string | null = null;
  try {
    const message = await receivedMessage(req);
    if (message === null) throw new SamlInputError("there is no SAMLRequest");
    if (message.kind !== "SAMLRequest") throw new SamlInputError("a SAMLResponse was sent to the sign-in address");
    const doc = parseXml(message.xml, "AuthnRequest");
    spId = issuerOf(doc);
    if (spId === null || spId === "") throw new SamlInputError("the AuthnRequest has no Issuer");
    const registered = await registeredSp(ctx.store, spId);
    if (registered === null) throw new SamlInputError(`the service provider ${spId.slice(0, 200)} is not registered (an administrator can register it with \`ssoctl saml add APP --metadata FILE\`)`);
    const request = parseAuthnRequest(verifiedXml(message, doc, registered, "AuthnRequest"));
    if (request.issuer !== registered.sp.entityId) throw new SamlInputError("the signed AuthnRequest names another Issuer");
    const now = ctx.now();
    const stale = timeProblem(request, now);
    if (stale !== null) throw new SamlInputError(stale);
    if (request.destination !== null && request.destination !== ctx.url("/saml/sso")) throw new SamlInputError("the AuthnRequest's Destination is not this login server");
    const acs = chooseAcs(registered.metadata, request);
    if (typeof acs === "string") throw new SamlInputError(acs);
    if (message.relayState !== null && Buffer.byteLength(message.relayState) > MAX_RELAY_STATE_BYTES) throw new SamlInputError("the RelayState is too long");
    await appOf(ctx, req, registered);
    if (!(await ctx.store.saml.rememberSamlRequest(registered.sp.entityId, request.id, request.issueInstant + REQUEST_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS, now))) {
      throw new SamlInputError("this AuthnRequest was answered already (a replay)");
    }
    const format = chooseNameIdFormat(registered.metadata, request.nameIdFormat);
    if (!format.ok) {
      await sendErrorStatus(ctx, req, res, { sp: registered.sp.entityId, acs: acs.location, inResponseTo: request.id, relayState: message.relayState }, { code: format.status, message: format.message });
      return;
    }
    await waitForSignIn(ctx, res, {
      sp: registered.sp.entityId,
      requestId: request.id,
      acs: acs.location,
      relayState: message.relayState,
      forceAuthn: request.forceAuthn,
      isPassive: request.isPassive,
      nameIdFormat: format.format,
    });
  } catch (error) {
    if (error instanceof SamlInputError) await refuse(ctx, req, error.message, spId);
    throw error;
  }
}

/** GET /saml/start?sp=ENTITY-ID[&RelayState=…]: a sign-in started here, for SPs registered with --idp-initiated. */
export async function samlStart(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const params = singleParams(requestUrl(req).searchParams, ["sp", "RelayState"]);
  const spId = params.sp ?? "";
  let registered: RegisteredSp | null;
  try {
    registered = spId === "" ? null : await registeredSp(ctx.store, spId);
  } catch (error) {
    if (error instanceof SamlInputError) return refuse(ctx, req, `the SP's registered metadata is not usable: ${error.message}`, spId);
    throw error;
  }
  if (registered === null) return refuse(ctx, req, `the service provider ${spId.slice(0, 200) || "(none given)"} is not registered`, spId);
  if (!registered.sp.idpInitiated) return refuse(ctx, req, "this service provider is not registered for sign-ins started at the login server (ssoctl saml add --idp-initiated)", spId);
  const relayState = params.RelayState ?? null;
  if (relayState !== null && Buffer.byteLength(relayState) > MAX_RELAY_STATE_BYTES) return refuse(ctx, req, "the RelayState is too long", spId);
  await appOf(ctx, req, registered);
  const acs = chooseAcs(registered.metadata, { acsUrl: null, acsIndex: null, protocolBinding: null });
  const format = chooseNameIdFormat(registered.metadata, null);
  if (typeof acs === "string" || !format.ok) return refuse(ctx, req, "the SP's registered metadata has no usable ACS or NameID format", spId);
  await waitForSignIn(ctx, res, { sp: spId, requestId: null, acs: acs.location, relayState, forceAuthn: false, isPassive: false, nameIdFormat: format.format });
}

async function waitForSignIn(ctx: ServerContext, res: ServerResponse, pending: PendingAuthn): Promise<void> {
  const { token, id } = newPendingToken();
  await ctx.store.factors.putPending({ id, kind: PENDING_KIND, username: null, data: { ...pending }, expiresAt: ctx.now() + PENDING_TTL_SECONDS });
  res.writeHead(303, { Location: `${ctx.url("/saml/continue")}?r=${token}`, "Cache-Control": "no-store", "Content-Length": "0" });
  res.end();
}

function continueUrl(ctx: ServerContext, token: string, now: number): string {
  return `${ctx.url("/saml/continue")}?r=${token}&${FRESH_PARAM}=${freshSignInMark(ctx.keyring.current, samlMarkService(token), now)}`;
}

/** The fresh sign-in mark is bound to the waiting request, as CAS binds it to the service. */
function samlMarkService(token: string): string {
  return "saml:" + createHash("sha256").update(token).digest("hex");
}

function expired(): HttpError {
  return new HttpError(400, {
    heading: "This sign-in has expired",
    message: "This sign-in request has expired or was answered already. Go back to the application and sign in again.",
  });
}

/** GET /saml/continue?r=…: the sign-in (or the existing session), the access decision, then the response. */
export async function samlContinue(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const params = singleParams(requestUrl(req).searchParams, ["r", FRESH_PARAM]);
  const id = pendingIdOf(params.r);
  const now = ctx.now();
  const record = id === null ? null : await ctx.store.factors.getPending(id, PENDING_KIND, now);
  if (record === null) throw expired();
  const token = params.r!;
  const pending = record.data as unknown as PendingAuthn;
  let registered: RegisteredSp | null;
  try {
    registered = await registeredSp(ctx.store, pending.sp);
  } catch (error) {
    if (error instanceof SamlInputError) return refuse(ctx, req, `the SP's registered metadata is not usable: ${error.message}`, pending.sp);
    throw error;
  }
  if (registered === null) return refuse(ctx, req, "the service provider was removed while you were signing in", pending.sp);
  const app = await appOf(ctx, req, registered);
  const target = accessUrl(app, pending.acs);
  const login = await ctx.sessions.resolve(ctx.tokenOf(req), now);
  const since = freshSignInSince(params[FRESH_PARAM] ?? null, samlMarkService(token), ctx.keyring.secrets, now);
  const fresh = login !== null && since !== null && login.claims.issuedAt >= since;
  const answer = { sp: pending.sp, acs: pending.acs, inResponseTo: pending.requestId, relayState: pending.relayState };
  if (pending.isPassive && (login === null || (pending.forceAuthn && !fresh) || ctx.decideAccess(login, "GET", target).verdict !== "allow")) {
    // IsPassive: no page may be shown, so anything short of an immediate answer is NoPassive.
    if ((await ctx.store.factors.takePending(id!, PENDING_KIND, now)) === null) throw expired();
    await sendErrorStatus(ctx, req, res, answer, { code: STATUS.noPassive, message: "The user is not signed in, or must sign in again or with a second factor" });
    return;
  }
  if (login === null || (pending.forceAuthn && !fresh)) {
    if (login === null && ctx.decideAccess(null, "GET", target).verdict === "deny") {
      await ctx.audit.record("access.denied", { app: app.origin, via: "/saml/sso", verdict: "deny" }, now);
      throw new HttpError(403, { heading: "Closed", message: `${app.name} does not let anyone sign in.` });
    }
    // ForceAuthn (as CAS renew): the form again, whatever the session; its mark proves the sign-in is new.
    await sendLoginForm(ctx, req, res, continueUrl(ctx, token, now));
    return;
  }
  if (!(await passAccessGate(ctx, req, res, { login, url: target, via: "/saml/sso" }))) return;
  if ((await ctx.store.factors.takePending(id!, PENDING_KIND, now)) === null) throw expired();
  await sendAssertion(ctx, req, res, registered, login, pending);
}

async function sendAssertion(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, registered: RegisteredSp, login: ActiveLogin, pending: PendingAuthn): Promise<void> {
  const now = ctx.now();
  const user = login.user;
  const nameId = nameIdValue(pending.nameIdFormat, user, registered.sp.nameIdSecret);
  const answer = { sp: pending.sp, acs: pending.acs, inResponseTo: pending.requestId, relayState: pending.relayState };
  if (nameId === null) {
    await sendErrorStatus(ctx, req, res, answer, { code: STATUS.invalidNameIdPolicy, message: "The user has no e-mail address for an emailAddress NameID" });
    return;
  }
  const keys = await samlKeys(ctx);
  const sessionIndex = newSamlId();
  const xml = successResponse(
    {
      idpEntityId: idpEntityId(ctx),
      spEntityId: registered.sp.entityId,
      acsUrl: pending.acs,
      inResponseTo: pending.requestId,
      nameId: { format: pending.nameIdFormat, value: nameId },
      sessionIndex,
      authnInstant: login.claims.issuedAt,
      sessionNotOnOrAfter: login.claims.expiresAt,
      amr: login.claims.amr ?? ["pwd"],
      attributes: releasedAttributes(user),
      signAssertion: registered.metadata.wantsAssertionsSigned,
      now,
    },
    keys.current,
  );
  await ctx.store.saml.recordSamlLogin({ sessionIndex, sessionId: login.claims.sessionId, entityId: registered.sp.entityId, nameId, nameIdFormat: pending.nameIdFormat, createdAt: now });
  await ctx.audit.record("saml.assertion", { username: user.username, session: login.claims.sessionId, sp: registered.sp.entityId, app: registered.sp.appOrigin, idp_initiated: pending.requestId === null }, now);
  sendPostForm(res, pending.acs, "SAMLResponse", xml, pending.relayState);
}

/** A signed error Response to a registered ACS (never anywhere else), audited. */
async function sendErrorStatus(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  answer: { sp: string; acs: string; inResponseTo: string | null; relayState: string | null },
  status: { code: string; message: string },
): Promise<void> {
  const now = ctx.now();
  const keys = await samlKeys(ctx);
  await ctx.audit.record("saml.error_status", { sp: answer.sp, status: status.code, addr: ctx.clientAddress(req) }, now);
  const xml = errorResponse({ idpEntityId: idpEntityId(ctx), acsUrl: answer.acs, inResponseTo: answer.inResponseTo, now }, status, keys.current);
  sendPostForm(res, answer.acs, "SAMLResponse", xml, answer.relayState);
}

const SCRIPT_HASH = `'sha256-${createHash("sha256").update(POST_FORM_SCRIPT).digest("base64")}'`;

/** The HTTP-POST binding's self-posting page; its policy allows that one script and a post to that one origin. */
export function sendPostForm(res: ServerResponse, action: string, kind: "SAMLRequest" | "SAMLResponse", xml: string, relayState: string | null): void {
  const html = postFormHtml(action, kind, xml, relayState);
  res.writeHead(200, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": `default-src 'none'; script-src ${SCRIPT_HASH}; form-action ${new URL(action).origin}; frame-ancestors 'none'; base-uri 'none'`,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Length": String(Buffer.byteLength(html)),
  });
  res.end(html);
}

/** The app a sign-in form on its way back to /saml/continue is for, so the login page can name it; null for other targets. */
export async function nameSamlTarget(ctx: ServerContext, url: string): Promise<{ name: string; origin: string } | null> {
  const prefix = ctx.url("/saml/continue") + "?";
  if (!url.startsWith(prefix)) return null;
  const id = pendingIdOf(new URLSearchParams(url.slice(prefix.length)).get("r") ?? undefined);
  const record = id === null ? null : await ctx.store.factors.getPending(id, PENDING_KIND, ctx.now());
  if (record === null) return null;
  const sp = await ctx.store.saml.getSamlSp((record.data as unknown as PendingAuthn).sp);
  const app = sp === null ? null : ctx.appByOrigin(sp.appOrigin);
  return app === null ? null : { name: app.name, origin: app.origin };
}
