/** Single logout messages: LogoutRequest and LogoutResponse, written and read. Pure. */
import { escapeXml } from "../cas/xml.js";
import { isSamlId } from "./authn-request.js";
import type { Endpoint } from "./metadata.js";
import { BINDING, NAMEID_FORMAT, NS, STATUS } from "./names.js";
import { newSamlId } from "./response.js";
import { SamlInputError, attribute, children, isElement, onlyChild, parseInstant, parseXml, textOf } from "./xml.js";

export interface LogoutRequestInput {
  idpEntityId: string;
  spEntityId: string;
  destination: string;
  nameId: { format: string; value: string };
  sessionIndex: string;
  now: number;
}

export function logoutRequestXml(input: LogoutRequestInput, id = newSamlId()): string {
  const qualifiers = input.nameId.format === NAMEID_FORMAT.persistent || input.nameId.format === NAMEID_FORMAT.transient
    ? ` NameQualifier="${escapeXml(input.idpEntityId)}" SPNameQualifier="${escapeXml(input.spEntityId)}"`
    : "";
  return (
    `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0"` +
    ` IssueInstant="${new Date(input.now * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")}" Destination="${escapeXml(input.destination)}">` +
    `<saml:Issuer>${escapeXml(input.idpEntityId)}</saml:Issuer>` +
    `<saml:NameID Format="${escapeXml(input.nameId.format)}"${qualifiers}>${escapeXml(input.nameId.value)}</saml:NameID>` +
    `<samlp:SessionIndex>${escapeXml(input.sessionIndex)}</samlp:SessionIndex>` +
    `</samlp:LogoutRequest>`
  );
}

export function logoutResponseXml(input: { idpEntityId: string; destination: string; inResponseTo: string; success: boolean; now: number }): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newSamlId()}" Version="2.0"` +
    ` IssueInstant="${new Date(input.now * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")}" Destination="${escapeXml(input.destination)}" InResponseTo="${escapeXml(input.inResponseTo)}">` +
    `<saml:Issuer>${escapeXml(input.idpEntityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${input.success ? STATUS.success : STATUS.responder}"/></samlp:Status>` +
    `</samlp:LogoutResponse>`
  );
}

export interface LogoutRequest {
  id: string;
  issuer: string;
  issueInstant: number;
  nameId: string | null;
  sessionIndexes: string[];
}

export function parseLogoutRequest(xml: string): LogoutRequest {
  const root = parseXml(xml, "LogoutRequest").documentElement;
  if (!isElement(root, NS.protocol, "LogoutRequest")) throw new SamlInputError("the SAMLRequest is not a LogoutRequest");
  if (attribute(root, "Version") !== "2.0") throw new SamlInputError("the LogoutRequest is not SAML 2.0");
  const id = attribute(root, "ID");
  if (!isSamlId(id)) throw new SamlInputError("the LogoutRequest has no valid ID");
  const issueInstant = parseInstant(attribute(root, "IssueInstant"));
  if (issueInstant === null) throw new SamlInputError("the LogoutRequest has no valid IssueInstant");
  const issuer = onlyChild(root, NS.assertion, "Issuer", "LogoutRequest");
  if (issuer === null) throw new SamlInputError("the LogoutRequest has no Issuer");
  const nameId = onlyChild(root, NS.assertion, "NameID", "LogoutRequest");
  return { id, issuer: textOf(issuer), issueInstant, nameId: nameId === null ? null : textOf(nameId), sessionIndexes: children(root, NS.protocol, "SessionIndex").map(textOf) };
}

/** Where to send a logout message: the SP's HTTP-Redirect endpoint, else its HTTP-POST one; null when it has neither. */
export function logoutEndpoint(endpoints: readonly Endpoint[], options: { response: boolean }): { binding: "redirect" | "post"; url: string } | null {
  for (const [binding, name] of [[BINDING.redirect, "redirect"], [BINDING.post, "post"]] as const) {
    const endpoint = endpoints.find((e) => e.binding === binding);
    if (endpoint !== undefined) return { binding: name, url: options.response ? endpoint.responseLocation ?? endpoint.location : endpoint.location };
  }
  return null;
}
