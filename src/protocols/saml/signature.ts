/**
 * XML signatures through xml-crypto (RSA-SHA256, exclusive canonicalisation): signing what ssoctl
 * issues, and verifying what a service provider signs. Verification is strict about the shape
 * so that no signature-wrapping trick gets through: the document has exactly one Signature, as
 * a direct child of the root; it has exactly one Reference, to the root's ID; that ID is the only
 * one of its value in the document; the algorithms are RSA-SHA256/512 with SHA-256/512 digests
 * and only the enveloped and exclusive-c14n transforms. The key is the SP's registered
 * certificate, never one the message carries. The caller then reads the message from the XML
 * xml-crypto says it verified (`signedXml`), not from the document it was handed.
 */
import { createPublicKey, createSign, createVerify, type KeyObject } from "node:crypto";
import { SignedXml } from "xml-crypto";
import { DIGEST_ALGORITHM, NS, SIGNATURE_ALGORITHM, TRANSFORM } from "./names.js";
import { SamlInputError, allElements, attribute, children, isElement, onlyChild } from "./xml.js";

const ALLOWED_SIGNATURES: ReadonlySet<string> = new Set(Object.values(SIGNATURE_ALGORITHM));
const ALLOWED_DIGESTS: ReadonlySet<string> = new Set(Object.values(DIGEST_ALGORITHM));
const ALLOWED_TRANSFORMS: ReadonlySet<string> = new Set(Object.values(TRANSFORM));
const ID_ATTRIBUTES = ["ID", "Id", "id"] as const;

export interface SigningKey {
  /** PEM, PKCS#8. */
  privateKey: string;
  /** PEM certificate. */
  certificate: string;
}

/**
 * Signs the element at `elementXPath` (which has an ID) with an enveloped signature placed right
 * after its Issuer, as the SAML schema orders them.
 */
export function signElement(xml: string, key: SigningKey, element: { xpath: string; issuerXPath: string }): string {
  const signer = new SignedXml({
    privateKey: key.privateKey,
    publicCert: key.certificate,
    signatureAlgorithm: SIGNATURE_ALGORITHM.rsaSha256,
    canonicalizationAlgorithm: TRANSFORM.exclusiveC14n,
  });
  signer.addReference({ xpath: element.xpath, transforms: [TRANSFORM.enveloped, TRANSFORM.exclusiveC14n], digestAlgorithm: DIGEST_ALGORITHM.sha256 });
  signer.computeSignature(xml, { prefix: "ds", location: { reference: element.issuerXPath, action: "after" } });
  return signer.getSignedXml();
}

/** Whether the root element carries a Signature (the POST binding's way of signing). */
export function hasEnvelopedSignature(doc: Document): boolean {
  return children(doc.documentElement, NS.dsig, "Signature").length > 0;
}

/**
 * Verifies the enveloped signature on the root of `doc` (parsed from `xml`) with one of `certificates`;
 * returns the XML that was signed (the root, without its Signature). Throws SamlInputError otherwise.
 */
export function verifyEnvelopedSignature(xml: string, doc: Document, certificates: readonly string[], what: string): string {
  const root = doc.documentElement;
  const signatures = allElements(doc).filter((e) => isElement(e, NS.dsig, "Signature"));
  if (signatures.length !== 1 || signatures[0]!.parentNode !== root) {
    throw new SamlInputError(`the ${what} must carry exactly one signature, on its root element`);
  }
  const signature = signatures[0]!;
  const rootId = attribute(root, "ID");
  if (rootId === null || rootId === "") throw new SamlInputError(`the ${what} has no ID`);
  const sameId = allElements(doc).filter((e) => ID_ATTRIBUTES.some((name) => e.getAttribute(name) === rootId));
  if (sameId.length !== 1) throw new SamlInputError(`the ${what}'s ID is used by more than one element`);
  const signedInfo = onlyChild(signature, NS.dsig, "SignedInfo", "signature");
  if (signedInfo === null) throw new SamlInputError(`the ${what}'s signature has no SignedInfo`);
  const method = onlyChild(signedInfo, NS.dsig, "SignatureMethod", "signature");
  if (method === null || !ALLOWED_SIGNATURES.has(attribute(method, "Algorithm") ?? "")) {
    throw new SamlInputError(`the ${what} is signed with an algorithm ssoctl does not accept (RSA-SHA256 or RSA-SHA512 only)`);
  }
  const references = children(signedInfo, NS.dsig, "Reference");
  if (references.length !== 1) throw new SamlInputError(`the ${what}'s signature must have exactly one reference`);
  if (attribute(references[0]!, "URI") !== `#${rootId}`) throw new SamlInputError(`the ${what}'s signature does not cover the ${what} itself`);

  let lastError: string = "the signature does not verify";
  for (const certificate of certificates) {
    const verifier = new SignedXml({ publicCert: certificate, getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(signature);
      const loaded = verifier.getReferences();
      if (loaded.length !== 1) throw new SamlInputError(`the ${what}'s signature must have exactly one reference`);
      const reference = loaded[0]!;
      if (!ALLOWED_DIGESTS.has(reference.digestAlgorithm) || reference.transforms.some((t) => !ALLOWED_TRANSFORMS.has(t))) {
        throw new SamlInputError(`the ${what}'s signature uses a digest or transform ssoctl does not accept`);
      }
      if (verifier.checkSignature(xml)) {
        const signed = verifier.getSignedReferences();
        if (signed.length === 1) return signed[0]!;
      }
    } catch (error) {
      if (error instanceof SamlInputError) throw error;
      lastError = "the signature does not verify";
    }
  }
  throw new SamlInputError(`the ${what}'s ${lastError} with the certificate registered for this service provider`);
}

/** The RSA algorithms the HTTP-Redirect binding's `SigAlg` may name, with their hash. */
const REDIRECT_HASHES: Readonly<Record<string, string>> = {
  [SIGNATURE_ALGORITHM.rsaSha256]: "sha256",
  [SIGNATURE_ALGORITHM.rsaSha512]: "sha512",
};

/**
 * The HTTP-Redirect binding's signature: over the query parameters exactly as they were sent
 * (`SAMLRequest=…&RelayState=…&SigAlg=…`, still URL-encoded), with the SP's certificate.
 */
export function verifyRedirectSignature(signed: string, sigAlg: string, signature: string, certificates: readonly string[]): boolean {
  const hash = REDIRECT_HASHES[sigAlg];
  if (hash === undefined) throw new SamlInputError("the request is signed with an algorithm ssoctl does not accept (RSA-SHA256 or RSA-SHA512 only)");
  const bytes = Buffer.from(signature, "base64");
  for (const certificate of certificates) {
    let key: KeyObject;
    try {
      key = createPublicKey(certificate);
    } catch {
      continue;
    }
    if (createVerify(hash).update(signed).verify(key, bytes)) return true;
  }
  return false;
}

/** Signs an HTTP-Redirect query (everything up to and including `SigAlg=…`, rsa-sha256); returns the base64 signature. */
export function signRedirectQuery(signed: string, privateKey: string): string {
  return createSign("sha256").update(signed).sign(privateKey, "base64");
}
