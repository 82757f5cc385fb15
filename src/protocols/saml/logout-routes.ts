/**
 * GET or POST /saml/slo: a LogoutRequest from an SP (the user signed out there) ends the login
 * server session, which tells every other SP and CAS service through the session-ended hook, then
 * answers the SP with a signed LogoutResponse at its registered endpoint. A LogoutResponse (an SP
 * answering ssoctl's request through the browser) ends at the signed-out page.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { clearCookieHeader } from "../../cookie.js";
import type { ServerContext } from "../../server/context.js";
import { redirectUrl } from "./bindings.js";
import { issuerOf, timeProblem } from "./authn-request.js";
import { logoutEndpoint, logoutResponseXml, parseLogoutRequest } from "./logout.js";
import { signElement } from "./signature.js";
import { registeredSp } from "./sp.js";
import { idpEntityId, receivedMessage, refuse, samlKeys, sendPostForm, verifiedXml } from "./routes.js";
import { SamlInputError, parseXml } from "./xml.js";

const LOGOUT_RESPONSE_XPATH = "/*[local-name()='LogoutResponse']";

export async function samlSlo(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let spId: string | null = null;
  try {
    const message = await receivedMessage(req);
    if (message === null) throw new SamlInputError("there is no SAMLRequest or SAMLResponse");
    const doc = parseXml(message.xml, message.kind === "SAMLRequest" ? "LogoutRequest" : "LogoutResponse");
    spId = issuerOf(doc);
    if (spId === null || spId === "") throw new SamlInputError("the logout message has no Issuer");
    const registered = await registeredSp(ctx.store, spId);
    if (registered === null) throw new SamlInputError(`the service provider ${spId.slice(0, 200)} is not registered`);
    const xml = verifiedXml(message, doc, registered, message.kind === "SAMLRequest" ? "LogoutRequest" : "LogoutResponse");
    const now = ctx.now();
    if (message.kind === "SAMLResponse") {
      await ctx.audit.record("saml.logout_response", { sp: registered.sp.entityId }, now);
      await ctx.sendPage(res, 200, "logout", "Signed out", { loginHref: ctx.url("/login") });
      return;
    }
    const request = parseLogoutRequest(xml);
    if (request.issuer !== registered.sp.entityId) throw new SamlInputError("the signed LogoutRequest names another Issuer");
    const stale = timeProblem(request, now);
    if (stale !== null) throw new SamlInputError(stale.replace("AuthnRequest", "LogoutRequest"));
    const endpoint = logoutEndpoint(registered.metadata.singleLogout, { response: true });
    if (endpoint === null) throw new SamlInputError("the SP's registered metadata has no SingleLogoutService to answer at");
    // The SP that asked is answered here, not told again through the hook.
    const token = ctx.tokenOf(req);
    const active = await ctx.sessions.resolve(token, now);
    if (active !== null) await ctx.store.saml.takeSamlLoginsOfSession(active.claims.sessionId, registered.sp.entityId);
    const ended = await ctx.sessions.end(token, now);
    await ctx.audit.record("saml.logout", { sp: registered.sp.entityId, username: ended?.username, session: ended?.sessionId, addr: ctx.clientAddress(req) }, now);
    const keys = await samlKeys(ctx);
    const answer = logoutResponseXml({ idpEntityId: idpEntityId(ctx), destination: endpoint.url, inResponseTo: request.id, success: true, now });
    const clear = clearCookieHeader(ctx.cookie);
    if (endpoint.binding === "redirect") {
      res.writeHead(303, { Location: redirectUrl(endpoint.url, "SAMLResponse", answer, message.relayState, keys.current.privateKey), "Set-Cookie": clear, "Cache-Control": "no-store", "Content-Length": "0" });
      res.end();
      return;
    }
    res.setHeader("Set-Cookie", clear);
    sendPostForm(res, endpoint.url, "SAMLResponse", signElement(answer, keys.current, { xpath: LOGOUT_RESPONSE_XPATH, issuerXPath: `${LOGOUT_RESPONSE_XPATH}/*[local-name()='Issuer']` }), message.relayState);
  } catch (error) {
    if (error instanceof SamlInputError) await refuse(ctx, req, error.message, spId);
    throw error;
  }
}
