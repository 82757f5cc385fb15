/**
 * The Response ssoctl sends to an ACS: a signed assertion of who signed in, or an error status.
 * Pure: the caller passes the clock, the key and the random IDs' source is node:crypto.
 */
import { createHmac, randomBytes } from "node:crypto";
import { escapeXml } from "../cas/xml.js";
import { AUTHN_CONTEXT, NAMEID_FORMAT, NS, ATTRIBUTE_NAME_FORMAT, STATUS } from "./names.js";
import { signElement, type SigningKey } from "./signature.js";
import { instant } from "./xml.js";

/** How long an assertion may be presented at the ACS. */
export const ASSERTION_LIFETIME_SECONDS = 5 * 60;
/** NotBefore is set this far back, for SPs whose clocks run a little behind. */
export const NOT_BEFORE_SKEW_SECONDS = 60;

export function newSamlId(): string {
  // An xs:ID must not start with a digit.
  return "_" + randomBytes(20).toString("hex");
}

export interface Subject {
  username: string;
  name: string;
  email: string;
  groups: readonly string[];
  createdAt: number;
}

/**
 * The NameID value for a format. Persistent: an HMAC of the account (its name and creation
 * time, so a later account of the same name is someone else) under the SP's own key, so it is
 * stable for that SP, different at every other, and says nothing about the user. Null when the
 * user has no value for it (no e-mail address).
 */
export function nameIdValue(format: string, subject: Subject, spNameIdSecret: string): string | null {
  switch (format) {
    case NAMEID_FORMAT.persistent:
      return createHmac("sha256", spNameIdSecret).update(`${subject.username}\0${subject.createdAt}`).digest("base64url");
    case NAMEID_FORMAT.emailAddress:
      return subject.email === "" ? null : subject.email;
    case NAMEID_FORMAT.transient:
      return newSamlId();
    default:
      return subject.username;
  }
}

/** The attributes ssoctl releases, by their ssoctl names. */
export function releasedAttributes(subject: Subject): Array<[string, string[]]> {
  return [
    ["uid", [subject.username]],
    ["mail", subject.email === "" ? [] : [subject.email]],
    ["displayName", subject.name === "" ? [] : [subject.name]],
    ["groups", [...subject.groups]],
  ];
}

export interface AssertionInput {
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  inResponseTo: string | null;
  nameId: { format: string; value: string };
  sessionIndex: string;
  authnInstant: number;
  sessionNotOnOrAfter: number;
  /** The sign-in's methods (pwd, otp, hwk): more than a password is multi-factor. */
  amr: readonly string[];
  attributes: Array<[string, string[]]>;
  signAssertion: boolean;
  now: number;
}

export function authnContextClass(amr: readonly string[]): string {
  return amr.includes("otp") || amr.includes("hwk") || amr.length > 1 ? AUTHN_CONTEXT.multiFactor : AUTHN_CONTEXT.password;
}

function responseOpen(input: { idpEntityId: string; acsUrl: string; inResponseTo: string | null; now: number }, id: string): string {
  const inResponseTo = input.inResponseTo === null ? "" : ` InResponseTo="${escapeXml(input.inResponseTo)}"`;
  return (
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(input.now)}"` +
    ` Destination="${escapeXml(input.acsUrl)}"${inResponseTo}>` +
    `<saml:Issuer>${escapeXml(input.idpEntityId)}</saml:Issuer>`
  );
}

const RESPONSE_XPATH = "/*[local-name()='Response' and namespace-uri()='urn:oasis:names:tc:SAML:2.0:protocol']";
const ASSERTION_XPATH = `${RESPONSE_XPATH}/*[local-name()='Assertion' and namespace-uri()='urn:oasis:names:tc:SAML:2.0:assertion']`;

/** A success Response with one assertion; the Response is always signed, the assertion too when asked. */
export function successResponse(input: AssertionInput, key: SigningKey): string {
  const now = input.now;
  const assertionId = newSamlId();
  const inResponseTo = input.inResponseTo === null ? "" : ` InResponseTo="${escapeXml(input.inResponseTo)}"`;
  const nameQualifiers = input.nameId.format === NAMEID_FORMAT.persistent || input.nameId.format === NAMEID_FORMAT.transient
    ? ` NameQualifier="${escapeXml(input.idpEntityId)}" SPNameQualifier="${escapeXml(input.spEntityId)}"`
    : "";
  const attributes = input.attributes
    .filter(([, values]) => values.length > 0)
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${escapeXml(name)}" NameFormat="${ATTRIBUTE_NAME_FORMAT}">` +
        values.map((v) => `<saml:AttributeValue>${escapeXml(v)}</saml:AttributeValue>`).join("") +
        `</saml:Attribute>`,
    )
    .join("");
  const expires = instant(now + ASSERTION_LIFETIME_SECONDS);
  const assertion =
    `<saml:Assertion xmlns:saml="${NS.assertion}" ID="${assertionId}" Version="2.0" IssueInstant="${instant(now)}">` +
    `<saml:Issuer>${escapeXml(input.idpEntityId)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${escapeXml(input.nameId.format)}"${nameQualifiers}>${escapeXml(input.nameId.value)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${expires}" Recipient="${escapeXml(input.acsUrl)}"/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${instant(now - NOT_BEFORE_SKEW_SECONDS)}" NotOnOrAfter="${expires}">` +
    `<saml:AudienceRestriction><saml:Audience>${escapeXml(input.spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(input.authnInstant)}" SessionIndex="${escapeXml(input.sessionIndex)}" SessionNotOnOrAfter="${instant(input.sessionNotOnOrAfter)}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${authnContextClass(input.amr)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attributes === "" ? "" : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`) +
    `</saml:Assertion>`;
  let xml =
    responseOpen(input, newSamlId()) +
    `<samlp:Status><samlp:StatusCode Value="${STATUS.success}"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`;
  if (input.signAssertion) xml = signElement(xml, key, { xpath: ASSERTION_XPATH, issuerXPath: `${ASSERTION_XPATH}/*[local-name()='Issuer']` });
  return signElement(xml, key, { xpath: RESPONSE_XPATH, issuerXPath: `${RESPONSE_XPATH}/*[local-name()='Issuer']` });
}

/** A signed Response with an error status (NoPassive, InvalidNameIDPolicy, …), to a registered ACS only. */
export function errorResponse(
  input: { idpEntityId: string; acsUrl: string; inResponseTo: string | null; now: number },
  status: { code: string; message: string },
  key: SigningKey,
): string {
  // Top-level codes are Requester or Responder; the specific one is nested under it (SAML core §3.2.2.2).
  const top = status.code === STATUS.responder ? STATUS.responder : STATUS.requester;
  const nested = status.code === top ? "" : `<samlp:StatusCode Value="${escapeXml(status.code)}"/>`;
  const xml =
    responseOpen(input, newSamlId()) +
    `<samlp:Status><samlp:StatusCode Value="${top}">${nested}</samlp:StatusCode>` +
    `<samlp:StatusMessage>${escapeXml(status.message)}</samlp:StatusMessage></samlp:Status>` +
    `</samlp:Response>`;
  return signElement(xml, key, { xpath: RESPONSE_XPATH, issuerXPath: `${RESPONSE_XPATH}/*[local-name()='Issuer']` });
}
