/**
 * SAML metadata: reading a service provider's (what `ssoctl saml add` registers, and where every
 * ACS URL comes from) and writing the IdP's own (/saml/metadata). Pure.
 */
import { X509Certificate } from "node:crypto";
import { escapeXml } from "../cas/xml.js";
import { certificateBody, certificatePem } from "./certificate.js";
import { BINDING, ISSUED_NAMEID_FORMATS, NS } from "./names.js";
import { SamlInputError, attribute, children, isElement, onlyChild, parseXml, textOf } from "./xml.js";

export interface Endpoint {
  binding: string;
  location: string;
  responseLocation: string | null;
}

export interface AssertionConsumerService extends Endpoint {
  index: number;
  isDefault: boolean;
}

export interface SpMetadata {
  entityId: string;
  /** Every ACS listed, in document order. Only HTTP-POST ones receive responses. */
  acs: AssertionConsumerService[];
  singleLogout: Endpoint[];
  /** `AuthnRequestsSigned="true"`: every AuthnRequest must then be signed. */
  signsRequests: boolean;
  /** `WantAssertionsSigned="true"`: the assertion is signed (else the whole response is). */
  wantsAssertionsSigned: boolean;
  /** PEM certificates for checking the SP's signatures (use="signing" or no use). */
  signingCertificates: string[];
  nameIdFormats: string[];
}

function flag(element: Element, name: string): boolean {
  const value = attribute(element, name);
  return value === "true" || value === "1";
}

/** An endpoint address: absolute http(s), no fragment, no credentials. */
function endpointUrl(text: string | null, what: string): string {
  if (text === null || text === "") throw new SamlInputError(`a ${what} has no Location`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SamlInputError(`the ${what} "${text.slice(0, 200)}" is not an absolute URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new SamlInputError(`the ${what} "${text.slice(0, 200)}" is not an http(s) URL`);
  if (url.hash !== "" || text.includes("#") || url.username !== "" || url.password !== "" || /[\x00-\x20\x7f"<>\\]/.test(text)) {
    throw new SamlInputError(`the ${what} "${text.slice(0, 200)}" must not have a fragment, credentials, spaces or quotes`);
  }
  return text;
}

/** Parses SP metadata (one EntityDescriptor with an SPSSODescriptor); throws SamlInputError naming the problem. */
export function parseSpMetadata(xml: string): SpMetadata {
  const doc = parseXml(xml, "metadata");
  const root = doc.documentElement;
  if (!isElement(root, NS.metadata, "EntityDescriptor")) throw new SamlInputError("the metadata is not one EntityDescriptor (md:EntitiesDescriptor lists are not accepted: register each SP on its own)");
  const entityId = attribute(root, "entityID");
  if (entityId === null || entityId === "" || entityId.length > 1024 || /[\x00-\x1f\x7f]/.test(entityId)) throw new SamlInputError("the metadata has no usable entityID");
  const sso = onlyChild(root, NS.metadata, "SPSSODescriptor", "metadata");
  if (sso === null) throw new SamlInputError("the metadata has no SPSSODescriptor (is it an IdP's metadata?)");
  if (!(attribute(sso, "protocolSupportEnumeration") ?? "").split(/\s+/).includes(NS.protocol)) {
    throw new SamlInputError("the SPSSODescriptor does not support SAML 2.0 (protocolSupportEnumeration)");
  }
  const acs = children(sso, NS.metadata, "AssertionConsumerService").map((element, position): AssertionConsumerService => {
    const indexText = attribute(element, "index");
    const index = indexText === null ? position : Number(indexText);
    if (!Number.isInteger(index) || index < 0 || index > 65535) throw new SamlInputError(`an AssertionConsumerService has an invalid index "${String(indexText).slice(0, 20)}"`);
    return {
      binding: attribute(element, "Binding") ?? "",
      location: endpointUrl(attribute(element, "Location"), "AssertionConsumerService"),
      responseLocation: null,
      index,
      isDefault: flag(element, "isDefault"),
    };
  });
  if (!acs.some((a) => a.binding === BINDING.post)) throw new SamlInputError("the metadata lists no AssertionConsumerService with the HTTP-POST binding");
  if (new Set(acs.map((a) => a.index)).size !== acs.length) throw new SamlInputError("two AssertionConsumerServices have the same index");
  const singleLogout = children(sso, NS.metadata, "SingleLogoutService").map((element): Endpoint => {
    const response = attribute(element, "ResponseLocation");
    return {
      binding: attribute(element, "Binding") ?? "",
      location: endpointUrl(attribute(element, "Location"), "SingleLogoutService"),
      responseLocation: response === null ? null : endpointUrl(response, "SingleLogoutService ResponseLocation"),
    };
  });
  const signingCertificates: string[] = [];
  for (const key of children(sso, NS.metadata, "KeyDescriptor")) {
    const use = attribute(key, "use");
    if (use !== null && use !== "signing") continue;
    const info = onlyChild(key, NS.dsig, "KeyInfo", "KeyDescriptor");
    const data = info === null ? [] : children(info, NS.dsig, "X509Data");
    for (const x509 of data) {
      for (const cert of children(x509, NS.dsig, "X509Certificate")) {
        const pem = certificatePem(textOf(cert));
        try {
          new X509Certificate(pem);
        } catch {
          throw new SamlInputError("a signing certificate in the metadata cannot be read");
        }
        signingCertificates.push(pem);
      }
    }
  }
  const signsRequests = flag(sso, "AuthnRequestsSigned");
  if (signsRequests && signingCertificates.length === 0) throw new SamlInputError("the metadata says the SP signs its requests but has no signing certificate");
  return {
    entityId,
    acs,
    singleLogout,
    signsRequests,
    wantsAssertionsSigned: flag(sso, "WantAssertionsSigned"),
    signingCertificates,
    nameIdFormats: children(sso, NS.metadata, "NameIDFormat").map(textOf),
  };
}

/** What the registration checks beyond the metadata's shape, as warnings for `saml add` and `doctor`. */
export function metadataWarnings(metadata: SpMetadata, now: number): string[] {
  const warnings: string[] = [];
  for (const acs of metadata.acs) {
    const url = new URL(acs.location);
    if (url.protocol !== "https:" && !isLoopback(url.hostname)) warnings.push(`the ACS ${acs.location} is not on https`);
  }
  for (const pem of metadata.signingCertificates) {
    const cert = new X509Certificate(pem);
    if (Date.parse(cert.validTo) / 1000 < now) warnings.push(`its signing certificate expired on ${new Date(cert.validTo).toISOString().slice(0, 10)}`);
  }
  return warnings;
}

/** Loopback ACS URLs are a developer's own machine: no network to cross in clear. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]";
}

export interface IdpMetadataOptions {
  entityId: string;
  ssoUrl: string;
  sloUrl: string;
  certificates: readonly string[];
}

/** The IdP metadata /saml/metadata serves. */
export function renderIdpMetadata(options: IdpMetadataOptions): string {
  const keys = options.certificates
    .map(
      (pem) =>
        `    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n`,
    )
    .join("");
  const endpoints = (element: string, location: string): string =>
    [BINDING.redirect, BINDING.post].map((binding) => `    <md:${element} Binding="${binding}" Location="${escapeXml(location)}"/>\n`).join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${escapeXml(options.entityId)}">\n` +
    `  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">\n` +
    keys +
    endpoints("SingleLogoutService", options.sloUrl) +
    ISSUED_NAMEID_FORMATS.map((format) => `    <md:NameIDFormat>${format}</md:NameIDFormat>\n`).join("") +
    endpoints("SingleSignOnService", options.ssoUrl) +
    `  </md:IDPSSODescriptor>\n` +
    `</md:EntityDescriptor>\n`
  );
}
