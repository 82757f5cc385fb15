/** Hostile targets and strings: escaped in every page, refused as targets with a 400 page, never a redirect. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const NAMED_APP = "https://app.example.test";
const ALICE = { username: "alice", password: "correct horse battery" };
// No spaces: a target may not contain them, and this must pass as a target to reach the page.
const SCRIPT = `"><script>alert(1)</script><img/src=x/onerror=alert(2)>'`;

/** No raw markup from the attacker, and no attribute broken out of. */
function expectInert(body: string): void {
  expect(body).not.toContain("<script");
  expect(body).not.toContain("<img");
  // With quoted attribute values emptied, the tags that remain are the real markup: no handler may appear in one.
  const markup = body.replace(/="[^"]*"/g, '=""');
  for (const tag of markup.match(/<[A-Za-z][^>]*>/g) ?? []) {
    expect(tag).not.toContain("onerror");
    expect(tag).not.toContain("alert(");
  }
  expect(markup).not.toMatch(/=""[^\s>/]/); // every quoted attribute value ends before a space, / or >
}

function expectNotRegisteredPage(reply: Reply): void {
  expect(reply.status).toBe(400);
  expect(reply.headers.location).toBeUndefined();
  expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
  // The heading says what the message says: an unregistered application, or an address that cannot be used at all.
  const heading = /<h1[^>]*>([^<]*)<\/h1>/.exec(reply.body)?.[1];
  const lead = /<p class="lead[^"]*">([^<]*)<\/p>/.exec(reply.body)?.[1] ?? "";
  expect(heading).toBe(/is not one of them/.test(lead) ? "This application is not registered" : "This address cannot be used");
}

describe("hostile input", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let session: string;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP, NAMED_APP] });
    server = await startServer(data);
    session = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  describe("is escaped in the HTML", () => {
    it.each([
      ["path", { app: APP, path: `/${SCRIPT}` }],
      ["qs", { app: APP, path: "/", qs: `?x=${SCRIPT}` }],
      ["rd", { rd: `${APP}/${SCRIPT}` }],
    ])("a hostile %s for a registered app comes back escaped in the hidden fields", async (_field, target) => {
      const { page } = await openLoginForm(server, target);
      expect(page.status).toBe(200);
      expectInert(page.body);
      expect(page.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(page.body).toContain("&#34;&gt;");
    });

    it("a hostile registered app name is escaped on the login page", async () => {
      const origin = "https://named.example.test";
      await server.store.addApp({ name: `Wiki${SCRIPT}`, origin }, Math.floor(Date.now() / 1000));
      const { page } = await openLoginForm(server, { rd: `${origin}/` });
      expect(page.status).toBe(200);
      expectInert(page.body);
      expect(page.body).toContain("<strong>Wiki&#34;&gt;&lt;script&gt;");
    });

    it.each(["javascript:alert(1)", "data:text/html,x", "//evil.example"])("?app=%s: a heading that matches its message, no word of an unregistered application", async (app) => {
      const reply = await fetchPage(`${server.url}/login?app=${encodeURIComponent(app)}&path=/`);
      expect(reply.status).toBe(400);
      expect(reply.body).toContain("This address cannot be used");
      expect(reply.body).toContain("cannot send you back to the address you came from");
      expect(reply.body).not.toContain("not registered");
    });

    it("a hostile app comes back escaped on the 400 page", async () => {
      const reply = await fetchPage(`${server.url}/login?app=${encodeURIComponent(`https://x${SCRIPT}`)}&path=/`);
      expectNotRegisteredPage(reply);
      expectInert(reply.body);
    });

    it("a hostile but well-formed unregistered origin is named escaped, with the command to register it", async () => {
      const reply = await fetchPage(`${server.url}/login?rd=${encodeURIComponent("https://a--b.example/?<script>")}`);
      expectNotRegisteredPage(reply);
      expect(reply.body).toContain("ssoctl app add https://a--b.example");
      expectInert(reply.body);
    });

    it("a hostile username is kept, escaped, after a failed sign-in", async () => {
      const { csrf, cookies } = await openLoginForm(server, { rd: `${APP}/` });
      const reply = await postForm(server, "/login", { rd: `${APP}/`, csrf, username: `x${SCRIPT}`, password: "some password" }, { cookie: cookieHeader(cookies) });
      expect(reply.status).toBe(401);
      expectInert(reply.body);
      expect(reply.body).toContain('value="x&#34;&gt;&lt;script&gt;');
    });

    it("a hostile target on the signed-in link page (no-redirect) is escaped", async () => {
      const noRedirect = await startServer(data, { redirect: false });
      try {
        const cookie = (await signIn(noRedirect, ALICE, { rd: `${APP}/` })).cookie!;
        const reply = await fetchPage(`${noRedirect.url}/login?rd=${encodeURIComponent(`${APP}/${SCRIPT}`)}`, { headers: { cookie: `ssoctl=${cookie}` } });
        expect(reply.status).toBe(200);
        expectInert(reply.body);
        expect(reply.body).toMatch(/href="http:\/\/127\.0\.0\.1:9\/[^"<>]*"/);
      } finally {
        await noRedirect.close();
      }
    });
  });

  // [label, query string of GET /login]
  const hostileTargets: Array<[string, Record<string, string>, { registrable?: string }]> = [
    ["a protocol-relative rd", { rd: "//evil.example/" }, {}],
    ["an rd on an unregistered host", { rd: "https://evil.example/" }, { registrable: "https://evil.example" }],
    ["a look-alike suffix", { rd: "https://app.example.test.evil.net/" }, { registrable: "https://app.example.test.evil.net" }],
    ["a registered host on another port", { rd: "https://app.example.test:8443/" }, { registrable: "https://app.example.test:8443" }],
    ["a registered host over http instead of https", { rd: "http://app.example.test/" }, { registrable: "http://app.example.test" }],
    ["userinfo in front of an evil host", { rd: "https://app.example.test@evil.example/" }, {}],
    ["userinfo made of the registered origin", { rd: "http://127.0.0.1:9@evil.example/" }, {}],
    ["a javascript: URL", { rd: "javascript:alert(document.cookie)" }, {}],
    ["a data: URL", { rd: "data:text/html,<script>alert(1)</script>" }, {}],
    ["CR/LF header injection", { rd: `${APP}/\r\nSet-Cookie: pwned=1` }, {}],
    ["backslashes", { rd: "https:\\\\evil.example\\" }, {}],
    ["a relative path", { rd: "/login" }, {}],
    ["a fullwidth look-alike host", { rd: "https://ａpp.example.test/" }, {}],
    ["an app that is not registered", { app: "https://evil.example", path: "/", qs: "" }, { registrable: "https://evil.example" }],
    ["an app turned into userinfo by its path", { app: APP, path: "@evil.example/" }, {}],
    ["an app made a look-alike by its path", { app: NAMED_APP, path: ".evil.net/" }, { registrable: "https://app.example.test.evil.net" }],
    ["a tab inside the scheme", { rd: "java\tscript:alert(1)" }, {}],
  ];

  describe.each(hostileTargets)("refuses %s", (_label, target, expectation) => {
    it("with the 400 page and no Location, signed out or signed in", async () => {
      const query = new URLSearchParams(target).toString();
      for (const cookie of [undefined, `ssoctl=${session}`]) {
        const reply = await fetchPage(`${server.url}/login?${query}`, { headers: cookie === undefined ? {} : { cookie } });
        expectNotRegisteredPage(reply);
        expectInert(reply.body);
        expect(reply.headers["set-cookie"]).toBeUndefined();
        if (expectation.registrable !== undefined) {
          expect(reply.body).toContain(`ssoctl app add ${expectation.registrable}`);
          expect(reply.body).toContain("is not one of them");
        }
      }
    });

    it("on the sign-in post too: 400, no Location and no session", async () => {
      const form = await openLoginForm(server);
      const before = (await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length;
      const reply = await postForm(server, "/login", { ...target, csrf: form.csrf, ...ALICE }, { cookie: cookieHeader(form.cookies) });
      expectNotRegisteredPage(reply);
      expect(String(reply.headers["set-cookie"] ?? "")).not.toMatch(/(^|,\s*)ssoctl=/);
      expect((await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length).toBe(before);
    });
  });
});
