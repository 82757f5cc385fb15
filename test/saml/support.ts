/**
 * A test service provider: its key, metadata, AuthnRequests and LogoutRequests in either binding,
 * and reading what the IdP answers. The messages are written here by hand (not by ssoctl's own
 * modules), so a mistake in ssoctl's reading is not mirrored by the test.
 */
import { generateKeyPairSync, createSign, randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { SignedXml } from "xml-crypto";
import { selfSignedCertificate, certificateBody } from "../../src/protocols/saml/certificate.js";

export const PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol";
export const ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion";
export const POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
export const REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
export const RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

export interface TestSp {
  entityId: string;
  acs: string;
  slo: string;
  privateKey: string;
  certificate: string;
  metadata: string;
}

export function makeSp(origin: string, options: { signs?: boolean; wantAssertionsSigned?: boolean; nameIdFormats?: string[]; extraAcs?: string } = {}): TestSp {
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  const certificate = selfSignedCertificate(privateKey, { commonName: "test sp", notBefore: Math.floor(Date.now() / 1000) - 3600, validSeconds: 86400 * 365 });
  const entityId = `${origin}/sp`;
  const acs = `${origin}/acs`;
  const slo = `${origin}/slo`;
  const metadata =
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}">` +
    `<md:SPSSODescriptor protocolSupportEnumeration="${PROTOCOL}" AuthnRequestsSigned="${options.signs === true}" WantAssertionsSigned="${options.wantAssertionsSigned === true}">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(certificate)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:SingleLogoutService Binding="${REDIRECT}" Location="${slo}"/>` +
    (options.nameIdFormats ?? []).map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`).join("") +
    `<md:AssertionConsumerService Binding="${POST}" Location="${acs}" index="0" isDefault="true"/>` +
    (options.extraAcs === undefined ? "" : `<md:AssertionConsumerService Binding="${POST}" Location="${options.extraAcs}" index="7"/>`) +
    `</md:SPSSODescriptor></md:EntityDescriptor>`;
  return { entityId, acs, slo, privateKey, certificate, metadata };
}

export function samlInstant(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function newId(): string {
  return "_" + randomBytes(16).toString("hex");
}

export function authnRequest(
  sp: TestSp,
  idpSso: string,
  options: { id?: string; now: number; acsUrl?: string | null; acsIndex?: number; forceAuthn?: boolean; isPassive?: boolean; format?: string; destination?: string; issuer?: string } = { now: 0 },
): string {
  const acs = options.acsUrl === null ? "" : options.acsIndex !== undefined ? ` AssertionConsumerServiceIndex="${options.acsIndex}"` : ` AssertionConsumerServiceURL="${options.acsUrl ?? sp.acs}"`;
  return (
    `<samlp:AuthnRequest xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="${options.id ?? newId()}" Version="2.0" IssueInstant="${samlInstant(options.now)}"` +
    ` Destination="${options.destination ?? idpSso}"${acs} ProtocolBinding="${POST}"` +
    (options.forceAuthn ? ` ForceAuthn="true"` : "") +
    (options.isPassive ? ` IsPassive="true"` : "") +
    `><saml:Issuer>${options.issuer ?? sp.entityId}</saml:Issuer>` +
    (options.format === undefined ? "" : `<samlp:NameIDPolicy Format="${options.format}" AllowCreate="true"/>`) +
    `</samlp:AuthnRequest>`
  );
}

/** The HTTP-Redirect query for a message, signed with `signWith` when given. */
export function redirectQuery(xml: string, options: { relayState?: string; signWith?: string; kind?: "SAMLRequest" | "SAMLResponse"; deflated?: Buffer } = {}): string {
  const kind = options.kind ?? "SAMLRequest";
  let query = `${kind}=${encodeURIComponent((options.deflated ?? deflateRawSync(Buffer.from(xml))).toString("base64"))}`;
  if (options.relayState !== undefined) query += `&RelayState=${encodeURIComponent(options.relayState)}`;
  if (options.signWith === undefined) return query;
  query += `&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
  const signature = createSign("sha256").update(query).sign(options.signWith, "base64");
  return `${query}&Signature=${encodeURIComponent(signature)}`;
}

/** An enveloped signature on the root, after its Issuer (as an SP signs for the HTTP-POST binding). */
export function signRoot(xml: string, sp: { privateKey: string; certificate: string }): string {
  const signer = new SignedXml({ privateKey: sp.privateKey, publicCert: sp.certificate, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#" });
  signer.addReference({ xpath: "/*", transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"], digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256" });
  signer.computeSignature(xml, { prefix: "ds", location: { reference: "/*/*[local-name()='Issuer']", action: "after" } });
  return signer.getSignedXml();
}

/** The self-posting form the IdP answers with: where it posts and what. */
export function postedForm(html: string): { action: string; fields: Record<string, string> } | null {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (action === undefined) return null;
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = unescape(match[2]!);
  return { action: unescape(action), fields };
}

function unescape(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}
