/** The pure CAS modules: ticket shape and judgement, parameters, XML escaping, the renew mark, the logout request. */
import { describe, expect, it } from "vitest";
import { freshSignInMark, freshSignInSince } from "../../src/sign-in/index.js";
import { casServiceOrigin, logoutRedirect, parseLoginParams, parseValidateParams } from "../../src/protocols/cas/params.js";
import { logoutRequestXml } from "../../src/protocols/cas/single-logout.js";
import { isServiceTicketShape, judgeTicket, newServiceTicketId, withTicket } from "../../src/protocols/cas/ticket.js";
import { escapeXml, renderCas1, renderServiceFailure, renderServiceSuccess, userAttributes } from "../../src/protocols/cas/xml.js";
import type { CasTicket } from "../../src/store/store.js";

const NOW = 1_700_000_000;
const ID = "ST-" + "0123456789abcdef0123".repeat(2);

describe("service tickets", () => {
  it("are ST- and 40 lower-case hex characters, different each time", () => {
    const a = newServiceTicketId();
    expect(a).toMatch(/^ST-[0-9a-f]{40}$/);
    expect(newServiceTicketId()).not.toBe(a);
  });

  it.each([
    [ID, true],
    ["ST-" + "a".repeat(39), false],
    ["ST-" + "a".repeat(41), false],
    ["PT-" + "a".repeat(40), false],
    ["ST-" + "A".repeat(40), false],
    ["ST-" + "_".repeat(40), false],
    ["", false],
  ])("shape of %j is %s", (text, ok) => {
    expect(isServiceTicketShape(text)).toBe(ok);
  });

  it("appends the ticket as the last query parameter", () => {
    expect(withTicket("http://app.example/a", ID)).toBe(`http://app.example/a?ticket=${ID}`);
    expect(withTicket("http://app.example/a?x=1", ID)).toBe(`http://app.example/a?x=1&ticket=${ID}`);
  });

  const issued: CasTicket = { id: ID, sessionId: "s", username: "alice", service: "http://app.example/a?x=1", fromSso: true, createdAt: NOW, expiresAt: NOW + 60 };
  it.each([
    ["an unknown or used ticket", null, { service: issued.service, renew: false }, NOW, "INVALID_TICKET"],
    ["an expired ticket, from the second it expires", issued, { service: issued.service, renew: false }, NOW + 60, "INVALID_TICKET"],
    ["another service string", issued, { service: "http://app.example/a?x=2", renew: false }, NOW, "INVALID_SERVICE"],
    ["the same URL spelled differently", issued, { service: "http://APP.example/a?x=1", renew: false }, NOW, "INVALID_SERVICE"],
    ["renew with a ticket from an existing session", issued, { service: issued.service, renew: true }, NOW, "INVALID_TICKET"],
  ] as const)("refuses %s", (_label, ticket, presented, now, code) => {
    expect(judgeTicket(ticket, { id: ID, ...presented }, now)?.code).toBe(code);
  });

  it("accepts the right service before expiry, and renew when the ticket came from a fresh sign-in", () => {
    expect(judgeTicket(issued, { id: ID, service: issued.service, renew: false }, NOW + 59)).toBeNull();
    expect(judgeTicket({ ...issued, fromSso: false }, { id: ID, service: issued.service, renew: true }, NOW)).toBeNull();
  });
});

describe("CAS parameters", () => {
  const q = (text: string): URLSearchParams => new URLSearchParams(text);

  it.each([
    ["service=http%3a%2f%2fa.example%2fx", { service: "http://a.example/x", renew: false, gateway: false }],
    ["service=http://a.example/&renew=true&gateway=true", { service: "http://a.example/", renew: true, gateway: true }],
    ["service=http://a.example/&renew=false&gateway=false", { service: "http://a.example/", renew: false, gateway: false }],
    ["service=http://a.example/&renew=1", { service: "http://a.example/", renew: true, gateway: false }],
    ["", { service: null, renew: false, gateway: false }],
  ])("reads login %j", (text, expected) => {
    const parsed = parseLoginParams(q(text));
    expect(parsed.ok && parsed.value).toMatchObject(expected);
  });

  it.each([
    ["service=http://a.example/&service=http://b.example/", "more than once"],
    ["service=http://a.example/&renew=true&renew=true", "more than once"],
    ["service=http://a.example/x%23frag", "fragment"],
    [`service=http://a.example/${"x".repeat(5000)}`, "too long"],
  ])("refuses login %j", (text, problem) => {
    const parsed = parseLoginParams(q(text));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toContain(problem);
  });

  it.each([
    ["ticket=" + ID, "INVALID_REQUEST"],
    ["service=http://a.example/", "INVALID_REQUEST"],
    ["service=&ticket=" + ID, "INVALID_REQUEST"],
    [`service=http://a.example/&ticket=${ID}&ticket=${ID}`, "INVALID_REQUEST"],
    [`service=http://a.example/&service=http://a.example/&ticket=${ID}`, "INVALID_REQUEST"],
    [`service=http://a.example/${"x".repeat(5000)}&ticket=${ID}`, "INVALID_REQUEST"],
  ])("answers validation %j with %s", (text, code) => {
    const parsed = parseValidateParams(q(text));
    expect(!parsed.ok && parsed.failure.code).toBe(code);
  });

  it("reads a validation request, renew included", () => {
    expect(parseValidateParams(q(`service=http://a.example/&ticket=${ID}&renew=true`))).toEqual({
      ok: true,
      value: { service: "http://a.example/", ticket: ID, renew: true },
    });
  });

  it.each([
    ["service=http://a.example/", "http://a.example/"],
    ["url=http://a.example/", "http://a.example/"],
    ["service=http://a.example/&url=http://b.example/", "http://a.example/"],
    ["", null],
    ["service=http://a.example/&service=http://b.example/", null],
  ])("takes the logout destination from %j", (text, expected) => {
    expect(logoutRedirect(q(text))).toBe(expected);
  });
});

describe("the app a CAS sign-in form names", () => {
  const cas = "http://login.example/cas/login";
  it.each([
    [`${cas}?service=${encodeURIComponent("http://app.example/x?y=1")}&ssoctl_fresh=1.a`, "http://app.example"],
    [`${cas}?service=a&service=b`, null],
    [`${cas}?service=not-a-url`, null],
    [`${cas}x?service=http://app.example/`, null],
    ["http://app.example/?service=http://other.example/", null],
  ])("%s → %s", (target, origin) => {
    expect(casServiceOrigin(target, cas)).toBe(origin);
  });
});

describe("CAS answers", () => {
  it("escapes every value, and replaces characters XML cannot carry", () => {
    expect(escapeXml(`<b>&"'\u0001x`)).toBe("&lt;b&gt;&amp;&quot;&apos;\ufffdx");
  });

  it("renders a success with displayName, mail and one memberOf per group, leaving empty ones out", () => {
    const xml = renderServiceSuccess({ username: "alice", attributes: userAttributes({ name: "A <&> B", email: "", groups: ["staff", "r&d"] }) });
    expect(xml).toBe(
      `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">\n` +
        `  <cas:authenticationSuccess>\n` +
        `    <cas:user>alice</cas:user>\n` +
        `    <cas:attributes>\n` +
        `      <cas:displayName>A &lt;&amp;&gt; B</cas:displayName>\n` +
        `      <cas:memberOf>staff</cas:memberOf>\n` +
        `      <cas:memberOf>r&amp;d</cas:memberOf>\n` +
        `    </cas:attributes>\n` +
        `  </cas:authenticationSuccess>\n` +
        `</cas:serviceResponse>\n`,
    );
  });

  it("renders a failure with its code and an escaped message", () => {
    expect(renderServiceFailure({ code: "INVALID_SERVICE", message: "not <this>" })).toContain(
      `<cas:authenticationFailure code="INVALID_SERVICE">not &lt;this&gt;</cas:authenticationFailure>`,
    );
  });

  it("answers CAS 1 with yes and the user, or no", () => {
    expect(renderCas1("alice")).toBe("yes\nalice\n");
    expect(renderCas1(null)).toBe("no\n\n");
  });

  it("names the ticket as the SessionIndex of the SAML logout request", () => {
    const xml = logoutRequestXml(ID, NOW, "LR-1");
    expect(xml).toContain(`<samlp:SessionIndex>${ID}</samlp:SessionIndex>`);
    expect(xml).toContain(`IssueInstant="2023-11-14T22:13:20.000Z"`);
    expect(xml).toMatch(/^<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/);
  });
});

describe("the fresh sign-in mark (renew)", () => {
  const service = "http://a.example/x";
  it("gives the time it was made, for this service, under a current or retired key", () => {
    const mark = freshSignInMark("k1", service, NOW);
    expect(freshSignInSince(mark, service, ["k2", "k1"], NOW + 5)).toBe(NOW);
  });

  it.each([
    ["another service", (m: string) => m, "http://a.example/y", ["k1"], NOW],
    ["another key", (m: string) => m, service, ["k2"], NOW],
    ["a changed time", (m: string) => m.replace(String(NOW), String(NOW - 100)), service, ["k1"], NOW],
    ["a mark from the future", (m: string) => m, service, ["k1"], NOW - 1],
    ["an old mark", (m: string) => m, service, ["k1"], NOW + 31 * 60],
    ["garbage", () => "x.y", service, ["k1"], NOW],
  ])("refuses %s", (_label, change, forService, secrets, now) => {
    expect(freshSignInSince(change(freshSignInMark("k1", service, NOW)), forService, secrets, now)).toBeNull();
  });
});
