/** The URIs SAML 2.0 names things by: namespaces, bindings, NameID formats, statuses, contexts. */

export const NS = {
  protocol: "urn:oasis:names:tc:SAML:2.0:protocol",
  assertion: "urn:oasis:names:tc:SAML:2.0:assertion",
  metadata: "urn:oasis:names:tc:SAML:2.0:metadata",
  dsig: "http://www.w3.org/2000/09/xmldsig#",
  xsi: "http://www.w3.org/2001/XMLSchema-instance",
  xs: "http://www.w3.org/2001/XMLSchema",
} as const;

export const BINDING = {
  redirect: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
  post: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
  soap: "urn:oasis:names:tc:SAML:2.0:bindings:SOAP",
} as const;

export const NAMEID_FORMAT = {
  persistent: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
  emailAddress: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
  unspecified: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
  transient: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
} as const;

/** The NameID formats ssoctl issues; `transient` is answered as persistent (see nameid.ts). */
export const ISSUED_NAMEID_FORMATS = [NAMEID_FORMAT.persistent, NAMEID_FORMAT.emailAddress, NAMEID_FORMAT.unspecified] as const;

export const STATUS = {
  success: "urn:oasis:names:tc:SAML:2.0:status:Success",
  requester: "urn:oasis:names:tc:SAML:2.0:status:Requester",
  responder: "urn:oasis:names:tc:SAML:2.0:status:Responder",
  noPassive: "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
  invalidNameIdPolicy: "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
  requestDenied: "urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
  authnFailed: "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
} as const;

export const AUTHN_CONTEXT = {
  /** A password over TLS: the first factor alone. */
  password: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
  /** More than one factor (password and TOTP, or a passkey). */
  multiFactor: "https://refeds.org/profile/mfa",
} as const;

export const SIGNATURE_ALGORITHM = {
  rsaSha256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  rsaSha512: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
} as const;

export const DIGEST_ALGORITHM = {
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  sha512: "http://www.w3.org/2001/04/xmlenc#sha512",
} as const;

export const TRANSFORM = {
  enveloped: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
  exclusiveC14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
} as const;

/** Attribute names as ssoctl releases them (an SP's registration may rename them). */
export const ATTRIBUTE_NAME_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
