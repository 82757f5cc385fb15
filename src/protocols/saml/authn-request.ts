/**
 * AuthnRequests: reading one (from XML whose signature, if any, was already checked) and judging
 * it against the SP's registration: the ACS comes only from the metadata, the NameID format only
 * from what ssoctl issues and the SP lists, the time only within the bounded clock skew. Pure.
 */
import type { AssertionConsumerService, SpMetadata } from "./metadata.js";
import { BINDING, NAMEID_FORMAT, NS, STATUS } from "./names.js";
import { SamlInputError, attribute, isElement, onlyChild, parseInstant, parseXml, textOf } from "./xml.js";

/** How far the SP's clock may be from ours. */
export const CLOCK_SKEW_SECONDS = 120;
/** How long after its IssueInstant a request is still answered (and its ID remembered). */
export const REQUEST_LIFETIME_SECONDS = 10 * 60;

export interface AuthnRequest {
  id: string;
  issuer: string;
  issueInstant: number;
  destination: string | null;
  acsUrl: string | null;
  acsIndex: number | null;
  protocolBinding: string | null;
  forceAuthn: boolean;
  isPassive: boolean;
  nameIdFormat: string | null;
}

/** The Issuer of a SAML request or response document (the root's direct child), null when none. */
export function issuerOf(doc: Document): string | null {
  const issuer = onlyChild(doc.documentElement, NS.assertion, "Issuer", "message");
  return issuer === null ? null : textOf(issuer);
}

function booleanAttribute(element: Element, name: string): boolean {
  const value = attribute(element, name);
  if (value === null || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw new SamlInputError(`the AuthnRequest's ${name} is not a boolean`);
}

/** An ID as SAML has them (xs:ID: an NCName), of a sane length. */
export function isSamlId(text: string | null): text is string {
  return text !== null && text.length <= 256 && /^[A-Za-z_][A-Za-z0-9._-]*$/.test(text);
}

export function parseAuthnRequest(xml: string): AuthnRequest {
  const root = parseXml(xml, "AuthnRequest").documentElement;
  if (!isElement(root, NS.protocol, "AuthnRequest")) throw new SamlInputError("the SAMLRequest is not an AuthnRequest");
  if (attribute(root, "Version") !== "2.0") throw new SamlInputError("the AuthnRequest is not SAML 2.0");
  const id = attribute(root, "ID");
  if (!isSamlId(id)) throw new SamlInputError("the AuthnRequest has no valid ID");
  const issueInstant = parseInstant(attribute(root, "IssueInstant"));
  if (issueInstant === null) throw new SamlInputError("the AuthnRequest has no valid IssueInstant");
  const issuerElement = onlyChild(root, NS.assertion, "Issuer", "AuthnRequest");
  if (issuerElement === null || textOf(issuerElement) === "") throw new SamlInputError("the AuthnRequest has no Issuer");
  const indexText = attribute(root, "AssertionConsumerServiceIndex");
  const acsIndex = indexText === null ? null : Number(indexText);
  if (acsIndex !== null && (!Number.isInteger(acsIndex) || acsIndex < 0 || acsIndex > 65535 || !/^\d+$/.test(indexText!))) {
    throw new SamlInputError("the AuthnRequest's AssertionConsumerServiceIndex is not a number");
  }
  const policy = onlyChild(root, NS.protocol, "NameIDPolicy", "AuthnRequest");
  return {
    id,
    issuer: textOf(issuerElement),
    issueInstant,
    destination: attribute(root, "Destination"),
    acsUrl: attribute(root, "AssertionConsumerServiceURL"),
    acsIndex,
    protocolBinding: attribute(root, "ProtocolBinding"),
    forceAuthn: booleanAttribute(root, "ForceAuthn"),
    isPassive: booleanAttribute(root, "IsPassive"),
    nameIdFormat: policy === null ? null : attribute(policy, "Format"),
  };
}

/** Whether the request is fresh: issued within the skew ahead of now, and not longer ago than its lifetime. */
export function timeProblem(request: { issueInstant: number }, now: number): string | null {
  if (request.issueInstant > now + CLOCK_SKEW_SECONDS) return "the AuthnRequest was issued in the future (check the SP's clock)";
  if (request.issueInstant + REQUEST_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS < now) return "the AuthnRequest is too old (it was issued more than 10 minutes ago)";
  return null;
}

/** The ACS a response goes to: one the metadata lists with HTTP-POST, as the request names it; else why not. */
export function chooseAcs(metadata: SpMetadata, request: Pick<AuthnRequest, "acsUrl" | "acsIndex" | "protocolBinding">): AssertionConsumerService | string {
  if (request.protocolBinding !== null && request.protocolBinding !== BINDING.post) return "the AuthnRequest asks for a response binding other than HTTP-POST";
  const post = metadata.acs.filter((a) => a.binding === BINDING.post);
  if (request.acsUrl !== null && request.acsIndex !== null) return "the AuthnRequest names both an ACS URL and an ACS index";
  if (request.acsUrl !== null) {
    return post.find((a) => a.location === request.acsUrl) ?? "the AuthnRequest names an AssertionConsumerServiceURL that is not in the SP's registered metadata";
  }
  if (request.acsIndex !== null) {
    return post.find((a) => a.index === request.acsIndex) ?? "the AuthnRequest names an AssertionConsumerServiceIndex that is not in the SP's registered metadata";
  }
  return post.find((a) => a.isDefault) ?? post[0]!;
}

export type NameIdChoice = { ok: true; format: string } | { ok: false; status: string; message: string };

const ISSUABLE = new Set<string>([NAMEID_FORMAT.persistent, NAMEID_FORMAT.emailAddress, NAMEID_FORMAT.unspecified, NAMEID_FORMAT.transient]);

/**
 * The NameID format of the response: the one the request asks for (unspecified: the SP's first
 * listed one that ssoctl issues, else persistent), if ssoctl issues it and the SP's metadata lists
 * it (or lists none).
 */
export function chooseNameIdFormat(metadata: SpMetadata, requested: string | null): NameIdChoice {
  const listed = metadata.nameIdFormats.filter((f) => ISSUABLE.has(f));
  if (requested === null || requested === NAMEID_FORMAT.unspecified && listed.length > 0 && !metadata.nameIdFormats.includes(NAMEID_FORMAT.unspecified)) {
    return { ok: true, format: listed[0] ?? NAMEID_FORMAT.persistent };
  }
  if (!ISSUABLE.has(requested)) {
    return { ok: false, status: STATUS.invalidNameIdPolicy, message: `ssoctl does not issue the NameID format ${requested.slice(0, 200)}` };
  }
  if (metadata.nameIdFormats.length > 0 && !metadata.nameIdFormats.includes(requested)) {
    return { ok: false, status: STATUS.invalidNameIdPolicy, message: `the SP's registered metadata does not list the NameID format ${requested}` };
  }
  return { ok: true, format: requested };
}
