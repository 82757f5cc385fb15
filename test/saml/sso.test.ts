/** The SAML IdP over HTTP, against the real login server and a real SQLite file: sign-in, SSO, the checks on every request. */
import { X509Certificate } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { DOMParser } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addSp } from "../../src/protocols/saml/sp.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";
import { ASSERTION, PROTOCOL, authnRequest, makeSp, newId, postedForm, redirectQuery, samlInstant, signRoot, type TestSp } from "./support.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice <&> Liddell", email: "alice@example.com", groups: ["staff", "r&d"] };
const BOB = { username: "bob", password: "correct horse battery", email: "" };
const APP = "http://app.test:9000";
const OTHER_APP = "http://crm.test:9001";
const PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

describe("SAML IdP", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now = Math.floor(Date.now() / 1000);
  let sp: TestSp;
  let signingSp: TestSp;
  let other: TestSp;
  let idpCert: string;
  let aliceCookie: string;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB], apps: [APP, OTHER_APP] });
    server = await startServer(data, {}, () => now);
    sp = makeSp(APP, { extraAcs: `${APP}/acs-seven` });
    signingSp = makeSp(`${APP}/signing`, { signs: true, wantAssertionsSigned: true });
    other = makeSp(OTHER_APP, { nameIdFormats: [PERSISTENT, EMAIL] });
    for (const [origin, registered] of [[APP, sp], [APP, signingSp], [OTHER_APP, other]] as const) {
      await addSp(server.store, { app: origin, metadataXml: registered.metadata, idpInitiated: false }, now);
    }
    const metadata = await fetchPage(`${server.url}/saml/metadata`);
    const body = /<ds:X509Certificate>([^<]+)</.exec(metadata.body)![1]!;
    idpCert = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
    aliceCookie = await signInCookie(ALICE);
  });
  afterAll(async () => {
    await server?.close();
    data?.cleanup();
  });

  const sso = (): string => `${server.url}/saml/sso`;

  async function signInCookie(user: { username: string; password: string }): Promise<string> {
    const form = await fetchPage(`${server.url}/login`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const jar = cookiesOf(form.headers);
    const reply = await postForm(server, "/login", { csrf, username: user.username, password: user.password }, { cookie: cookieHeader(jar) });
    return cookieHeader({ ...jar, ssoctl: cookiesOf(reply.headers).ssoctl });
  }

  /** The AuthnRequest sent, then its /saml/continue followed with `cookie`: the final reply. */
  async function send(query: string, cookie?: string): Promise<Reply> {
    const first = await fetchPage(`${sso()}?${query}`);
    return follow(first, cookie);
  }

  async function follow(first: Reply, cookie?: string): Promise<Reply> {
    if (first.status !== 303) return first;
    const location = first.headers.location as string;
    expect(location.startsWith(`${server.url}/saml/continue?r=`)).toBe(true);
    return fetchPage(location, { headers: cookie === undefined ? {} : { cookie } });
  }

  function responseOf(reply: Reply): { action: string; xml: string; doc: Document; relayState: string | undefined } {
    const form = postedForm(reply.body);
    expect(form, reply.body.slice(0, 500)).not.toBeNull();
    const xml = Buffer.from(form!.fields.SAMLResponse!, "base64").toString("utf8");
    return { action: form!.action, xml, doc: new DOMParser().parseFromString(xml, "text/xml"), relayState: form!.fields.RelayState };
  }

  function first(doc: Document, ns: string, name: string): Element {
    return doc.getElementsByTagNameNS(ns, name)[0] as Element;
  }

  function verifies(xml: string, xpath: string): boolean {
    const doc = new DOMParser().parseFromString(xml, "text/xml");
    const signature = (SignedXml as unknown as { prototype: SignedXml }) && new SignedXml({ publicCert: idpCert, getCertFromKeyInfo: () => null });
    const node = (doc as unknown as { documentElement: Element }).documentElement;
    const target = xpath === "Response" ? node : first(doc, ASSERTION, "Assertion");
    const sig = Array.from({ length: target.childNodes.length }, (_, i) => target.childNodes[i]!).find((n) => (n as Element).localName === "Signature");
    if (sig === undefined) return false;
    signature.loadSignature(sig as Element);
    return signature.checkSignature(xml);
  }

  async function expectRefused(reply: Reply, text: RegExp): Promise<void> {
    expect(reply.status, reply.body.slice(0, 300)).toBe(400);
    expect(reply.body).toMatch(text);
    expect(reply.body).not.toContain('<form method="post"');
  }

  it("publishes its metadata: entity ID, a signing certificate, SSO and SLO in both bindings", async () => {
    const metadata = await fetchPage(`${server.url}/saml/metadata`);
    expect(metadata.status).toBe(200);
    expect(metadata.body).toContain(`entityID="${server.url}/saml/metadata"`);
    expect(metadata.body).toContain(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${server.url}/saml/sso"/>`);
    expect(metadata.body).toContain(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${server.url}/saml/sso"/>`);
    expect(metadata.body).toContain(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${server.url}/saml/slo"/>`);
    expect(new X509Certificate(idpCert).publicKey.asymmetricKeyType).toBe("rsa");
  });

  it("shows a visitor the sign-in form, then posts a signed assertion to the registered ACS", async () => {
    const id = newId();
    const initial = await fetchPage(`${sso()}?${redirectQuery(authnRequest(sp, sso(), { id, now }), { relayState: "/wiki/Page?x=1" })}`);
    const form = await follow(initial);
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="password"');
    // The form names the SP's app, as it does for CAS and OIDC.
    expect(form.body).toContain("app.test:9000");
    const rd = /name="rd" value="([^"]+)"/.exec(form.body)![1]!.replace(/&amp;/g, "&");
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const jar = cookiesOf(form.headers);
    const signedIn = await postForm(server, "/login", { rd, csrf, username: "alice", password: ALICE.password }, { cookie: cookieHeader(jar) });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.location).toBe(rd);
    const reply = await fetchPage(rd, { headers: { cookie: cookieHeader({ ssoctl: cookiesOf(signedIn.headers).ssoctl }) } });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-security-policy"]).toContain(`form-action ${APP}`);
    const { action, xml, doc, relayState } = responseOf(reply);
    expect(action).toBe(sp.acs);
    expect(relayState).toBe("/wiki/Page?x=1");
    expect(verifies(xml, "Response")).toBe(true);
    expect(verifies(xml.replace("alice@example.com", "mallory@example.com"), "Response")).toBe(false);
    const root = doc.documentElement!;
    expect(root.getAttribute("InResponseTo")).toBe(id);
    expect(root.getAttribute("Destination")).toBe(sp.acs);
    expect(first(doc, PROTOCOL, "StatusCode").getAttribute("Value")).toBe("urn:oasis:names:tc:SAML:2.0:status:Success");
    expect(first(doc, ASSERTION, "Audience").textContent).toBe(sp.entityId);
    const confirmation = first(doc, ASSERTION, "SubjectConfirmationData");
    expect(confirmation.getAttribute("Recipient")).toBe(sp.acs);
    expect(confirmation.getAttribute("InResponseTo")).toBe(id);
    expect(Date.parse(confirmation.getAttribute("NotOnOrAfter")!) / 1000).toBe(now + 300);
    const conditions = first(doc, ASSERTION, "Conditions");
    expect(Date.parse(conditions.getAttribute("NotBefore")!) / 1000).toBeLessThanOrEqual(now);
    expect(first(doc, ASSERTION, "AuthnContextClassRef").textContent).toBe("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport");
    const attributes = Object.fromEntries(
      Array.from(doc.getElementsByTagNameNS(ASSERTION, "Attribute")).map((a) => [a.getAttribute("Name"), Array.from(a.getElementsByTagNameNS(ASSERTION, "AttributeValue")).map((v) => v.textContent)]),
    );
    expect(attributes).toEqual({ uid: ["alice"], mail: ["alice@example.com"], displayName: ["Alice <&> Liddell"], groups: ["staff", "r&d"] });
    expect(first(doc, ASSERTION, "NameID").getAttribute("Format")).toBe(PERSISTENT);
  });

  it("answers a signed-in user at once; the persistent NameID is the same each time at one SP and different at another", async () => {
    const nameIds: string[] = [];
    for (const target of [sp, sp, other]) {
      const reply = await send(redirectQuery(authnRequest(target, sso(), { now })), aliceCookie);
      const { doc, action } = responseOf(reply);
      expect(action).toBe(target.acs);
      nameIds.push(first(doc, ASSERTION, "NameID").textContent!);
    }
    expect(nameIds[0]).toBe(nameIds[1]);
    expect(nameIds[2]).not.toBe(nameIds[0]);
    expect(nameIds[0]).not.toContain("alice");
  });

  it("gives the NameID format asked for, when the SP's metadata lists it", async () => {
    const email = responseOf(await send(redirectQuery(authnRequest(other, sso(), { now, format: EMAIL })), aliceCookie));
    expect(first(email.doc, ASSERTION, "NameID").textContent).toBe("alice@example.com");
    const chosen = responseOf(await send(redirectQuery(authnRequest(other, sso(), { now, format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" })), aliceCookie));
    expect(first(chosen.doc, ASSERTION, "NameID").getAttribute("Format")).toBe(PERSISTENT);
    const unlisted = responseOf(await send(redirectQuery(authnRequest(other, sso(), { now, format: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" })), aliceCookie));
    expect(first(unlisted.doc, PROTOCOL, "StatusCode").getAttribute("Value")).toBe("urn:oasis:names:tc:SAML:2.0:status:Requester");
    expect(unlisted.xml).toContain("urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy");
    expect(verifies(unlisted.xml, "Response")).toBe(true);
  });

  it("sends a response to the ACS index the request names, and to no address outside the metadata", async () => {
    const byIndex = responseOf(await send(redirectQuery(authnRequest(sp, sso(), { now, acsIndex: 7 })), aliceCookie));
    expect(byIndex.action).toBe(`${APP}/acs-seven`);
    await expectRefused(await send(redirectQuery(authnRequest(sp, sso(), { now, acsUrl: "https://evil.test/acs" })), aliceCookie), /not in the SP(&#39;|')s registered metadata/);
    await expectRefused(await send(redirectQuery(authnRequest(sp, sso(), { now, acsIndex: 3 })), aliceCookie), /AssertionConsumerServiceIndex that is not in/);
  });

  it("answers IsPassive with NoPassive for a visitor, and with an assertion for a signed-in user", async () => {
    const visitor = responseOf(await send(redirectQuery(authnRequest(sp, sso(), { now, isPassive: true }))));
    expect(visitor.xml).toContain("urn:oasis:names:tc:SAML:2.0:status:NoPassive");
    expect(visitor.action).toBe(sp.acs);
    const member = responseOf(await send(redirectQuery(authnRequest(sp, sso(), { now, isPassive: true })), aliceCookie));
    expect(member.xml).toContain("urn:oasis:names:tc:SAML:2.0:status:Success");
  });

  it("asks a signed-in user for the password again on ForceAuthn, then answers from that fresh sign-in", async () => {
    now += 5;
    const form = await send(redirectQuery(authnRequest(sp, sso(), { now, forceAuthn: true })), aliceCookie);
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="password"');
    const rd = /name="rd" value="([^"]+)"/.exec(form.body)![1]!.replace(/&amp;/g, "&");
    // The same URL with the old session is still the form: only a sign-in made after it counts.
    expect((await fetchPage(rd, { headers: { cookie: aliceCookie } })).body).toContain('name="password"');
    now += 1;
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const signedIn = await postForm(server, "/login", { rd, csrf, username: "alice", password: ALICE.password }, { cookie: aliceCookie });
    const reply = await fetchPage(rd, { headers: { cookie: cookieHeader({ ssoctl: cookiesOf(signedIn.headers).ssoctl }) } });
    expect(signedIn.status, signedIn.body.replace(/[\s\S]*<h1[^>]*>|<\/h1>[\s\S]*/g, "")).toBe(303);
    const { doc } = responseOf(reply);
    expect(Date.parse(first(doc, ASSERTION, "AuthnStatement").getAttribute("AuthnInstant")!) / 1000).toBe(now);
    // The fresh sign-in replaced the browser's session: the old cookie has ended, the new one is the browser's now.
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: aliceCookie } })).status).toBe(303);
    aliceCookie = cookieHeader({ ssoctl: cookiesOf(signedIn.headers).ssoctl });
  });

  it("refuses an unsigned request from an SP whose metadata says it signs, and accepts a signed one in either binding", async () => {
    await expectRefused(await send(redirectQuery(authnRequest(signingSp, sso(), { now }))), /not signed/);
    const redirect = responseOf(await send(redirectQuery(authnRequest(signingSp, sso(), { now }), { signWith: signingSp.privateKey, relayState: "r" }), aliceCookie));
    expect(redirect.action).toBe(signingSp.acs);
    expect(verifies(redirect.xml, "Assertion")).toBe(true);
    expect(verifies(redirect.xml, "Response")).toBe(true);
    const posted = await postForm(server, "/saml/sso", { SAMLRequest: Buffer.from(signRoot(authnRequest(signingSp, sso(), { now }), signingSp)).toString("base64") }, { origin: null });
    expect(responseOf(await follow(posted, aliceCookie)).action).toBe(signingSp.acs);
  });

  it("refuses a redirect signature made with another key or over other parameters", async () => {
    const wrongKey = redirectQuery(authnRequest(signingSp, sso(), { now }), { signWith: sp.privateKey });
    await expectRefused(await send(wrongKey), /does not verify/);
    const good = redirectQuery(authnRequest(signingSp, sso(), { now }), { signWith: signingSp.privateKey, relayState: "a" });
    await expectRefused(await send(good.replace("RelayState=a", "RelayState=b")), /does not verify/);
  });

  describe("signature wrapping on a POSTed AuthnRequest", () => {
    function post(xml: string): Promise<Reply> {
      return postForm(server, "/saml/sso", { SAMLRequest: Buffer.from(xml).toString("base64") }, { origin: null });
    }
    const evilAcs = "https://evil.test/acs";

    it.each([
      [
        "a signed request moved inside an unsigned one with the attacker's ACS",
        (signed: string, id: string) => authnRequest(signingSp, sso(), { now, id: newId(), acsUrl: evilAcs }).replace("</samlp:AuthnRequest>", `<samlp:Extensions>${signed}</samlp:Extensions></samlp:AuthnRequest>`).replace(/ID="[^"]+"/, `ID="${id}"`),
        /not signed|more than one|exactly one signature/,
      ],
      [
        "the signature of a signed request put into a forged one",
        (signed: string) => authnRequest(signingSp, sso(), { now, acsUrl: evilAcs }).replace("</saml:Issuer>", `</saml:Issuer>${/<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0]}`),
        /does not cover|does not verify/,
      ],
      [
        "a forged copy with the same ID beside the signed request",
        (signed: string, id: string) => signed.replace("</samlp:AuthnRequest>", `<samlp:Extensions>${authnRequest(signingSp, sso(), { now, id, acsUrl: evilAcs })}</samlp:Extensions></samlp:AuthnRequest>`),
        /used by more than one|not well-formed|does not verify/,
      ],
      [
        "the ACS changed after signing",
        (signed: string) => signed.replace(`AssertionConsumerServiceURL="${signingSp.acs}"`, `AssertionConsumerServiceURL="${evilAcs}"`),
        /does not verify/,
      ],
      [
        "two signatures",
        (signed: string) => signed.replace("</saml:Issuer>", `</saml:Issuer>${/<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0]}`),
        /exactly one signature/,
      ],
    ])("refuses %s", async (_name, forge, reason) => {
      const id = newId();
      const signed = signRoot(authnRequest(signingSp, sso(), { now, id }), signingSp);
      const reply = await post(forge(signed, id));
      await expectRefused(reply, reason);
    });
  });

  describe("hostile requests", () => {
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, "a"));
    it.each<[string, () => string, RegExp]>([
      ["an unknown SP", () => redirectQuery(authnRequest({ ...makeSp("http://unknown.test") }, sso(), { now })), /is not registered/],
      ["no SAMLRequest", () => "RelayState=x", /there is no SAMLRequest/],
      ["a SAMLRequest that is not base64", () => "SAMLRequest=%%%%", /not properly encoded|not base64/],
      ["a SAMLRequest that is not DEFLATEd", () => `SAMLRequest=${encodeURIComponent(Buffer.from("<x/>").toString("base64"))}`, /DEFLATE/],
      ["an inflate bomb", () => `SAMLRequest=${encodeURIComponent(bomb.toString("base64"))}`, /inflates to more than 64 KiB|too large/],
      ["malformed XML", () => redirectQuery("<samlp:AuthnRequest"), /not well-formed/],
      ["a DTD with entities", () => redirectQuery(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>${authnRequest(sp, sso(), { now })}`), /document type declaration/],
      ["a request issued an hour ago", () => redirectQuery(authnRequest(sp, sso(), { now: now - 3600 })), /too old/],
      ["a request from the future", () => redirectQuery(authnRequest(sp, sso(), { now: now + 3600 })), /in the future/],
      ["a request for another IdP", () => redirectQuery(authnRequest(sp, sso(), { now, destination: "https://other-idp.test/sso" })), /Destination/],
      ["an unsupported NameID format at no ACS yet", () => redirectQuery(authnRequest(sp, sso(), { now, acsUrl: "https://evil.test/acs", format: "urn:x:weird" })), /not in the SP/],
      ["a LogoutRequest at the sign-in address", () => redirectQuery(authnRequest(sp, sso(), { now }).replace(/AuthnRequest/g, "LogoutRequest")), /not an AuthnRequest/],
      ["a SAMLResponse at the sign-in address", () => redirectQuery("<x/>", { kind: "SAMLResponse" }), /SAMLResponse was sent/],
      ["SAMLRequest twice", () => `${redirectQuery(authnRequest(sp, sso(), { now }))}&${redirectQuery(authnRequest(sp, sso(), { now }))}`, /more than once/],
      ["a request without an ID", () => redirectQuery(authnRequest(sp, sso(), { now }).replace(/ ID="[^"]+"/, "")), /no valid ID/],
      ["a request without a Version", () => redirectQuery(authnRequest(sp, sso(), { now }).replace('Version="2.0"', 'Version="1.1"')), /not SAML 2.0/],
    ])("refuses %s with an error page, audited", async (_name, query, reason) => {
      const before = server.auditLines.filter((l) => l.includes('"saml.refused"')).length;
      const reply = await fetchPage(`${sso()}?${query()}`);
      await expectRefused(reply, reason);
      expect(server.auditLines.filter((l) => l.includes('"saml.refused"')).length).toBe(before + 1);
    });

    it("refuses a request ID answered already (a replay)", async () => {
      const query = redirectQuery(authnRequest(sp, sso(), { now, id: newId() }));
      expect((await fetchPage(`${sso()}?${query}`)).status).toBe(303);
      await expectRefused(await fetchPage(`${sso()}?${query}`), /answered already/);
    });

    it("refuses an oversized POST and an unsigned POST in a form with two messages", async () => {
      const big = await postForm(server, "/saml/sso", { SAMLRequest: "A".repeat(40_000) }, { origin: null });
      expect(big.status).toBe(413);
      const two = await postForm(server, "/saml/sso", `SAMLRequest=${"QQ=="}&SAMLRequest=QQ==`, { origin: null });
      await expectRefused(two, /more than one SAML message/);
    });

    it("says an expired or unknown continuation has expired", async () => {
      const reply = await fetchPage(`${server.url}/saml/continue?r=AAAAAAAAAAAAAAAAAAAAAA`);
      expect(reply.status).toBe(400);
      expect(reply.body).toContain("This sign-in has expired");
    });
  });

  it("applies the app's access rules: a user outside the allowed group gets the 403 page, not an assertion", async () => {
    await server.store.updateApp(OTHER_APP, { allowGroups: ["staff"] });
    const bobCookie = await signInCookie(BOB);
    const refused = await send(redirectQuery(authnRequest(other, sso(), { now })), bobCookie);
    expect(refused.status).toBe(403);
    expect(refused.body).not.toContain("SAMLResponse");
    expect(responseOf(await send(redirectQuery(authnRequest(other, sso(), { now })), aliceCookie)).action).toBe(other.acs);
    await server.store.updateApp(OTHER_APP, { allowGroups: [] });
  });

  it("starts a sign-in at the login server only for an SP registered to allow it", async () => {
    await expectRefused(await fetchPage(`${server.url}/saml/start?sp=${encodeURIComponent(sp.entityId)}`, { headers: { cookie: aliceCookie } }), /not registered for sign-ins started at the login server/);
    await addSp(server.store, { app: APP, metadataXml: sp.metadata, idpInitiated: true }, now, { replace: true });
    const started = await fetchPage(`${server.url}/saml/start?sp=${encodeURIComponent(sp.entityId)}&RelayState=%2Fhome`);
    const { doc, action, relayState } = responseOf(await follow(started, aliceCookie));
    expect(action).toBe(sp.acs);
    expect(relayState).toBe("/home");
    expect(doc.documentElement!.hasAttribute("InResponseTo")).toBe(false);
    expect(first(doc, ASSERTION, "SubjectConfirmationData").hasAttribute("InResponseTo")).toBe(false);
  });

  it("ends the session on an SP's signed LogoutRequest and answers at its logout endpoint", async () => {
    const cookie = await signInCookie(ALICE);
    const assertion = responseOf(await send(redirectQuery(authnRequest(signingSp, sso(), { now }), { signWith: signingSp.privateKey }), cookie));
    const nameId = first(assertion.doc, ASSERTION, "NameID").textContent!;
    const requestId = newId();
    const logout =
      `<samlp:LogoutRequest xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="${requestId}" Version="2.0" IssueInstant="${samlInstant(now)}" Destination="${server.url}/saml/slo">` +
      `<saml:Issuer>${signingSp.entityId}</saml:Issuer><saml:NameID>${nameId}</saml:NameID></samlp:LogoutRequest>`;
    await expectRefused(await fetchPage(`${server.url}/saml/slo?${redirectQuery(logout)}`, { headers: { cookie } }), /not signed/);
    const reply = await fetchPage(`${server.url}/saml/slo?${redirectQuery(logout, { signWith: signingSp.privateKey, relayState: "bye" })}`, { headers: { cookie } });
    expect(reply.status).toBe(303);
    const location = new URL(reply.headers.location as string);
    expect(location.origin + location.pathname).toBe(signingSp.slo);
    expect(location.searchParams.get("RelayState")).toBe("bye");
    expect(location.searchParams.get("SigAlg")).toBe("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
    const { inflateRawSync } = await import("node:zlib");
    const answer = inflateRawSync(Buffer.from(location.searchParams.get("SAMLResponse")!, "base64")).toString();
    expect(answer).toContain(`InResponseTo="${requestId}"`);
    expect(answer).toContain("urn:oasis:names:tc:SAML:2.0:status:Success");
    // The session is over: the same cookie is a visitor now.
    const after = await send(redirectQuery(authnRequest(sp, sso(), { now })), cookie);
    expect(after.body).toContain('name="password"');
  });
});
