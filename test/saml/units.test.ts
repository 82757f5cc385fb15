/** The pure SAML modules: the certificate writer, SP metadata, ACS and NameID choice, and doctor's check of registered SPs. */
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chooseAcs, chooseNameIdFormat } from "../../src/protocols/saml/authn-request.js";
import { certificateBody, selfSignedCertificate } from "../../src/protocols/saml/certificate.js";
import { parseSpMetadata } from "../../src/protocols/saml/metadata.js";
import { nameIdValue } from "../../src/protocols/saml/response.js";
import { checkSamlSps } from "../../src/ops/doctor.js";
import { makeSp, POST } from "./support.js";

const NOW = 1_800_000_000;
const KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }) as string;

describe("the self-signed certificate", () => {
  it("is one that OpenSSL reads, signed by its own key, valid for the time asked", () => {
    for (let i = 0; i < 50; i++) {
      const cert = new X509Certificate(selfSignedCertificate(KEY, { commonName: "sso.example.com", notBefore: NOW, validSeconds: 3600 }));
      expect(cert.verify(cert.publicKey)).toBe(true);
      expect(cert.subject).toBe("CN=sso.example.com");
      expect(Date.parse(cert.validFrom) / 1000).toBe(NOW);
      expect(Date.parse(cert.validTo) / 1000).toBe(NOW + 3600);
    }
  });

  it("writes dates from 2050 on as GeneralizedTime", () => {
    const cert = new X509Certificate(selfSignedCertificate(KEY, { commonName: "x", notBefore: NOW, validSeconds: 60 * 365 * 86400 }));
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(2086);
  });
});

describe("SP metadata", () => {
  const sp = makeSp("https://wiki.example.com", { signs: true, wantAssertionsSigned: true, extraAcs: "https://wiki.example.com/acs2" });

  it("reads the entity ID, ACS URLs with their indexes, SLO, signing certificate and flags", () => {
    const metadata = parseSpMetadata(sp.metadata);
    expect(metadata.entityId).toBe(sp.entityId);
    expect(metadata.acs.map((a) => [a.index, a.location, a.isDefault])).toEqual([
      [0, sp.acs, true],
      [7, "https://wiki.example.com/acs2", false],
    ]);
    expect(metadata.singleLogout[0]!.location).toBe(sp.slo);
    expect(metadata.signsRequests).toBe(true);
    expect(metadata.wantsAssertionsSigned).toBe(true);
    expect(metadata.signingCertificates).toHaveLength(1);
  });

  it.each([
    ["an IdP's metadata", (m: string) => m.replace(/SPSSODescriptor/g, "IDPSSODescriptor"), /no SPSSODescriptor/],
    ["no HTTP-POST ACS", (m: string) => m.replaceAll(POST, "urn:oasis:names:tc:SAML:2.0:bindings:PAOS"), /no AssertionConsumerService with the HTTP-POST/],
    ["an ACS with a fragment", (m: string) => m.replace(`${sp.acs}"`, `${sp.acs}#x"`), /must not have a fragment/],
    ["an ACS that is not http(s)", (m: string) => m.replace(`${sp.acs}"`, `javascript:alert(1)"`), /not an http\(s\) URL/],
    ["two ACS with one index", (m: string) => m.replace('index="7"', 'index="0"'), /same index/],
    ["signed requests without a certificate", (m: string) => m.replace(/<md:KeyDescriptor[\s\S]*<\/md:KeyDescriptor>/, ""), /no signing certificate/],
    ["a DTD", (m: string) => `<!DOCTYPE x [<!ENTITY a "b">]>${m}`, /document type declaration/],
    ["a list of entities", (m: string) => `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${m}</md:EntitiesDescriptor>`, /not one EntityDescriptor/],
  ])("refuses %s", (_name, change, message) => {
    expect(() => parseSpMetadata(change(sp.metadata))).toThrow(message);
  });
});

describe("choosing the ACS and the NameID format", () => {
  const metadata = parseSpMetadata(makeSp("https://wiki.example.com", { extraAcs: "https://wiki.example.com/acs2", nameIdFormats: ["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"] }).metadata);

  it.each([
    ["nothing named: the default", { acsUrl: null, acsIndex: null }, "https://wiki.example.com/acs"],
    ["a registered URL", { acsUrl: "https://wiki.example.com/acs2", acsIndex: null }, "https://wiki.example.com/acs2"],
    ["a registered index", { acsUrl: null, acsIndex: 7 }, "https://wiki.example.com/acs2"],
    ["an unregistered URL", { acsUrl: "https://wiki.example.com/acs3", acsIndex: null }, /not in the SP's registered metadata/],
    ["a URL differing only in case", { acsUrl: "https://wiki.example.com/ACS", acsIndex: null }, /not in the SP's registered metadata/],
    ["an unregistered index", { acsUrl: null, acsIndex: 2 }, /not in the SP's registered metadata/],
    ["both", { acsUrl: "https://wiki.example.com/acs", acsIndex: 0 }, /both/],
  ])("%s", (_name, request, expected) => {
    const chosen = chooseAcs(metadata, { ...request, protocolBinding: null });
    if (typeof expected === "string") expect(typeof chosen === "string" ? chosen : chosen.location).toBe(expected);
    else expect(chosen).toMatch(expected);
  });

  it("refuses a response binding other than HTTP-POST", () => {
    expect(chooseAcs(metadata, { acsUrl: null, acsIndex: null, protocolBinding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" })).toMatch(/other than HTTP-POST/);
  });

  it("gives the SP's listed format when none is asked, and refuses one it does not list", () => {
    expect(chooseNameIdFormat(metadata, null)).toEqual({ ok: true, format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" });
    expect(chooseNameIdFormat(metadata, "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")).toMatchObject({ ok: false, status: "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy" });
    expect(chooseNameIdFormat(metadata, "urn:example:made-up")).toMatchObject({ ok: false });
  });

  it("makes persistent NameIDs that differ per SP key and per account, and no e-mail NameID without an address", () => {
    const alice = { username: "alice", name: "", email: "", groups: [], createdAt: NOW };
    const persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    expect(nameIdValue(persistent, alice, "k1")).toBe(nameIdValue(persistent, alice, "k1"));
    expect(nameIdValue(persistent, alice, "k1")).not.toBe(nameIdValue(persistent, alice, "k2"));
    expect(nameIdValue(persistent, alice, "k1")).not.toBe(nameIdValue(persistent, { ...alice, createdAt: NOW + 1 }, "k1"));
    expect(nameIdValue("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", alice, "k1")).toBeNull();
  });
});

describe("doctor's check of the registered SPs", () => {
  it("passes https ACS URLs and valid certificates, and fails http ones, expired certificates and broken metadata", () => {
    const good = makeSp("https://wiki.example.com");
    const http = makeSp("http://wiki.example.com");
    const local = makeSp("http://127.0.0.1:8080");
    const expiredCert = selfSignedCertificate(KEY, { commonName: "old", notBefore: NOW - 7200, validSeconds: 3600 });
    const expired = { ...good, metadata: good.metadata.replace(/<ds:X509Certificate>[^<]+/, `<ds:X509Certificate>${certificateBody(expiredCert)}`) };
    const checks = checkSamlSps(
      [
        { entityId: "good", metadata: good.metadata },
        { entityId: "http", metadata: http.metadata },
        { entityId: "local", metadata: local.metadata },
        { entityId: "expired", metadata: expired.metadata },
        { entityId: "broken", metadata: "<md:EntityDescriptor" },
      ],
      NOW,
    );
    expect(checks.map((c) => [c.check, c.status])).toEqual([
      ["SAML SP good", "pass"],
      ["SAML SP http", "fail"],
      ["SAML SP local", "pass"],
      ["SAML SP expired", "fail"],
      ["SAML SP broken", "fail"],
    ]);
    expect(checks[1]!.detail).toContain("is not on https");
    expect(checks[3]!.detail).toContain("expired on");
  });
});
