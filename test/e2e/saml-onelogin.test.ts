/**
 * ssoctl's SAML IdP against a second, independent SP implementation — Debian's python3-onelogin-saml2
 * (lxml + xmlsec) — and every response checked by xmlsec1 as an outside verifier: sign-in through the
 * HTTP-Redirect binding, unsigned and signed AuthnRequests, the assertion's conditions and
 * attributes as onelogin validates them in strict mode, SP-initiated single logout.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificatePem, selfSignedCertificate } from "../../src/protocols/saml/certificate.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, runCli, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { freePort, requireProgram, tempDir } from "./support/processes.js";

const PYTHON = "/usr/bin/python3";
const XMLSEC1 = "/usr/bin/xmlsec1";
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "onelogin-sp.py");
const ALICE = { username: "alice", password: "correct horse", name: "Alice Liddell", email: "alice@example.com", groups: ["staff", "admins"] };

interface SpConfig {
  entityId: string;
  acs: string;
  slo: string;
  signs?: boolean;
  cert?: string;
  key?: string;
  nameIdFormat?: string;
}

describe("python3-onelogin-saml2 as the SP, xmlsec1 as the verifier", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let idp: { entityId: string; sso: string; slo: string; cert: string };
  let dir: string;
  let cookie: string;
  let plain: SpConfig;
  let signing: SpConfig;

  function sp(command: Record<string, unknown>): Record<string, any> {
    requireProgram("python3 (Debian's)", PYTHON, "python3");
    const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify({ ...command, idp }), encoding: "utf8" });
    if (run.status !== 0) throw new Error(`onelogin-sp.py failed (is python3-onelogin-saml2 installed? apt-get install python3-onelogin-saml2):\n${run.stderr}`);
    return JSON.parse(run.stdout);
  }

  function xmlsecVerifies(xml: string, node: "Response" | "Assertion"): boolean {
    requireProgram("xmlsec1", XMLSEC1, "xmlsec1");
    const file = path.join(dir, `response-${Math.random().toString(36).slice(2)}.xml`);
    fs.writeFileSync(file, xml);
    const xpath = node === "Response" ? "/*[local-name()='Response']/*[local-name()='Signature']" : "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']";
    const run = spawnSync(XMLSEC1, ["--verify", "--pubkey-cert-pem", path.join(dir, "idp.crt"), "--enabled-key-data", "key-name,rsa", "--id-attr:ID", `urn:oasis:names:tc:SAML:2.0:protocol:Response`, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", "--node-xpath", xpath, file], { encoding: "utf8" });
    if (run.status !== 0 && process.env.SAML_DEBUG) console.error(run.stderr);
    return run.status === 0;
  }

  async function signInCookie(): Promise<string> {
    const form = await fetchPage(`${server.url}/login`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const jar = cookiesOf(form.headers);
    const reply = await postForm(server, "/login", { csrf, username: ALICE.username, password: ALICE.password }, { cookie: cookieHeader(jar) });
    return cookieHeader({ ...jar, ssoctl: cookiesOf(reply.headers).ssoctl });
  }

  /** The SP's login URL followed as a signed-in browser would: the SAMLResponse posted to the ACS. */
  async function signInThrough(config: SpConfig): Promise<{ requestId: string; response: string; xml: string; action: string }> {
    const { url, requestId } = sp({ mode: "login", sp: config });
    const first = await fetchPage(url);
    expect(first.status, first.body.slice(0, 800)).toBe(303);
    const page = await fetchPage(first.headers.location as string, { headers: { cookie } });
    const response = /name="SAMLResponse" value="([^"]+)"/.exec(page.body)?.[1];
    expect(response, page.body.slice(0, 800)).toBeDefined();
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)![1]!;
    return { requestId, response: response!, xml: Buffer.from(response!, "base64").toString("utf8"), action };
  }

  beforeAll(async () => {
    dir = tempDir("onelogin");
    // The SP is no server: its URLs only name a free port, which the back-channel logout may knock on.
    const spOrigin = `http://127.0.0.1:${await freePort()}`;
    plain = { entityId: `${spOrigin}/metadata`, acs: `${spOrigin}/acs`, slo: `${spOrigin}/slo` };
    data = await makeDataDir({ users: [ALICE], apps: [spOrigin] });
    server = await startServer(data);
    const metadata = (await fetchPage(`${server.url}/saml/metadata`)).body;
    const certBody = /<ds:X509Certificate>([^<]+)</.exec(metadata)![1]!;
    const cert = certificatePem(certBody);
    fs.writeFileSync(path.join(dir, "idp.crt"), cert);
    idp = { entityId: `${server.url}/saml/metadata`, sso: `${server.url}/saml/sso`, slo: `${server.url}/saml/slo`, cert };
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    signing = { entityId: `${spOrigin}/signing/metadata`, acs: `${spOrigin}/signing/acs`, slo: `${spOrigin}/signing/slo`, signs: true, key, cert: selfSignedCertificate(key, { commonName: "onelogin test SP", notBefore: Math.floor(Date.now() / 1000) - 60, validSeconds: 86400 }) };
    const env = { ...process.env, SSOCTL_DATA_DIR: data.dataDir.dir };
    for (const config of [plain, signing]) {
      const file = path.join(dir, `${config.signs ? "signing" : "plain"}.xml`);
      fs.writeFileSync(file, sp({ mode: "metadata", sp: config }).metadata);
      const added = await runCli(["saml", "add", spOrigin, "--metadata", file], { env });
      expect(added.code, added.stderr).toBe(0);
    }
    const listed = await runCli(["saml", "list", "--json"], { env });
    expect(JSON.parse(listed.stdout).map((s: { entity_id: string }) => s.entity_id).sort()).toEqual([plain.entityId, signing.entityId].sort());
    cookie = await signInCookie();
  });
  afterAll(async () => {
    await server?.close();
    data?.cleanup();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("onelogin accepts the response in strict mode: NameID, attributes, InResponseTo, audience, recipient", async () => {
    const { requestId, response, xml, action } = await signInThrough(plain);
    expect(action).toBe(plain.acs);
    const result = sp({ mode: "acs", sp: plain, SAMLResponse: response, requestId });
    expect(result.errors, result.reason).toEqual([]);
    expect(result.authenticated).toBe(true);
    expect(result.nameIdFormat).toBe("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
    expect(result.nameId).not.toContain("alice");
    expect(result.attributes).toEqual({ uid: ["alice"], mail: ["alice@example.com"], displayName: ["Alice Liddell"], groups: ["staff", "admins"] });
    expect(xmlsecVerifies(xml, "Response")).toBe(true);
    expect(xmlsecVerifies(xml, "Assertion")).toBe(true);
    expect(xmlsecVerifies(xml.replace("Alice Liddell", "Mallory"), "Response")).toBe(false);
  });

  it("onelogin refuses the response for another request and a tampered one", async () => {
    const { response } = await signInThrough(plain);
    const wrongRequest = sp({ mode: "acs", sp: plain, SAMLResponse: response, requestId: "_someotherrequest" });
    expect(wrongRequest.authenticated).toBe(false);
    const tampered = Buffer.from(Buffer.from(response, "base64").toString("utf8").replace(">alice<", ">mallory<")).toString("base64");
    expect(sp({ mode: "acs", sp: plain, SAMLResponse: tampered }).authenticated).toBe(false);
  });

  it("accepts onelogin's signed AuthnRequests, and refuses one whose signature was tampered with", async () => {
    const { requestId, response } = await signInThrough(signing);
    const result = sp({ mode: "acs", sp: signing, SAMLResponse: response, requestId });
    expect(result.errors, result.reason).toEqual([]);
    const { url } = sp({ mode: "login", sp: signing });
    const tampered = url.replace(/RelayState=[^&]+/, "RelayState=http%3A%2F%2Fevil.test%2F");
    const reply = await fetchPage(tampered);
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("signature does not verify");
  });

  it("ends the session on onelogin's signed LogoutRequest, and onelogin accepts the signed LogoutResponse", async () => {
    const { requestId, response } = await signInThrough(signing);
    const login = sp({ mode: "acs", sp: signing, SAMLResponse: response, requestId });
    const logout = sp({ mode: "logout", sp: signing, nameId: login.nameId, sessionIndex: login.sessionIndex, nameIdFormat: login.nameIdFormat });
    const reply = await fetchPage(logout.url, { headers: { cookie } });
    expect(reply.status, reply.body.slice(0, 800)).toBe(303);
    const back = new URL(reply.headers.location as string);
    expect(back.origin + back.pathname).toBe(signing.slo);
    const query = Object.fromEntries(back.searchParams.entries());
    const result = sp({ mode: "slo", sp: signing, query, requestId: logout.requestId });
    expect(result.errors, result.reason).toEqual([]);
    // The ssoctl session is over: the next sign-in asks for the password.
    const again = await fetchPage((await fetchPage(sp({ mode: "login", sp: plain }).url)).headers.location as string, { headers: { cookie } });
    expect(again.body).toContain('name="password"');
    cookie = await signInCookie();
  });

  describe("AuthnRequests signed by xmlsec1 (HTTP-POST), and wrapped afterwards", () => {
    /** An AuthnRequest from the signing SP, signed by xmlsec1 with an enveloped RSA-SHA256, exc-c14n signature. */
    function xmlsecSigned(options: { acs?: string } = {}): { xml: string; id: string } {
      requireProgram("xmlsec1", XMLSEC1, "xmlsec1");
      const id = "_xmlsec" + Math.random().toString(36).slice(2);
      const template =
        `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0"` +
        ` IssueInstant="${new Date().toISOString().replace(/\.\d{3}Z$/, "Z")}" Destination="${idp.sso}" AssertionConsumerServiceURL="${options.acs ?? signing.acs}"` +
        ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>${signing.entityId}</saml:Issuer>` +
        `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
        `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#${id}"><ds:Transforms>` +
        `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
        `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>` +
        `<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature></samlp:AuthnRequest>`;
      const file = path.join(dir, `${id}.xml`);
      fs.writeFileSync(file, template);
      fs.writeFileSync(path.join(dir, "sp.key"), signing.key!);
      fs.writeFileSync(path.join(dir, "sp.crt"), signing.cert!);
      const run = spawnSync(XMLSEC1, ["--sign", "--privkey-pem", `${path.join(dir, "sp.key")},${path.join(dir, "sp.crt")}`, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest", file], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`xmlsec1 --sign failed:\n${run.stderr}`);
      return { xml: run.stdout, id };
    }

    function post(xml: string): Promise<import("../support/server.js").Reply> {
      return postForm(server, "/saml/sso", { SAMLRequest: Buffer.from(xml).toString("base64") }, { origin: null });
    }

    it("accepts the request xmlsec1 signed, and answers at its ACS", async () => {
      const first = await post(xmlsecSigned().xml);
      expect(first.status, first.body.slice(0, 600)).toBe(303);
      const page = await fetchPage(first.headers.location as string, { headers: { cookie } });
      expect(/<form method="post" action="([^"]+)"/.exec(page.body)?.[1]).toBe(signing.acs);
    });

    it.each([
      ["its ACS changed after signing", (xml: string) => xml.replace(`AssertionConsumerServiceURL="${signing.acs}"`, `AssertionConsumerServiceURL="${signing.acs.replace("/signing/", "/evil/")}"`), /does not verify|not in the SP/],
      [
        "wrapped in a forged request with the same ID",
        (xml: string, id: string) =>
          `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString().replace(/\.\d{3}Z$/, "Z")}"` +
          ` AssertionConsumerServiceURL="https://evil.test/acs"><saml:Issuer>${signing.entityId}</saml:Issuer><samlp:Extensions>${xml.replace(/^<\?xml[^>]*>\s*/, "")}</samlp:Extensions></samlp:AuthnRequest>`,
        /exactly one signature|more than one|not signed/,
      ],
      [
        "its signature moved into a forged request",
        (xml: string) => {
          const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(xml)![0];
          return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged" Version="2.0" IssueInstant="${new Date().toISOString().replace(/\.\d{3}Z$/, "Z")}"><saml:Issuer>${signing.entityId}</saml:Issuer>${signature}</samlp:AuthnRequest>`;
        },
        /does not cover/,
      ],
    ])("refuses it with %s", async (_name, forge, reason) => {
      const { xml, id } = xmlsecSigned();
      const reply = await post(forge(xml, id));
      expect(reply.status).toBe(400);
      expect(reply.body).toMatch(reason);
      expect(reply.body).not.toContain('<form method="post"');
    });
  });
});
