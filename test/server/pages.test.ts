/** Health, static CSS, 404/405, and the security headers every page carries. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const OTHER_APP = "https://wiki.example.test:8443";
const ALICE = { username: "alice", password: "correct horse battery" };

function csp(reply: Reply): Map<string, string[]> {
  const header = String(reply.headers["content-security-policy"] ?? "");
  return new Map(
    header
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0] !== "")
      .map(([name, ...values]) => [name!, values]),
  );
}

function expectPageHeaders(reply: Reply, formActionOrigins: string[]): void {
  expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
  const policy = csp(reply);
  expect(policy.get("default-src")).toEqual(["'none'"]);
  expect(policy.get("style-src")).toEqual(["'self'"]);
  expect(policy.get("frame-ancestors")).toEqual(["'none'"]);
  expect(policy.get("base-uri")).toEqual(["'none'"]);
  expect(policy.has("script-src")).toBe(false);
  const formAction = policy.get("form-action") ?? [];
  expect(formAction).toContain("'self'");
  for (const origin of formActionOrigins) expect(formAction).toContain(origin);
  expect(reply.headers["x-content-type-options"]).toBe("nosniff");
  expect(reply.headers["referrer-policy"]).toBe("same-origin");
  expect(reply.headers["cache-control"]).toBe("no-store");
}

describe("pages and their headers", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let noRedirect: RunningServer;
  let token: string;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data);
    noRedirect = await startServer(data, { redirect: false });
    token = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
  });
  afterAll(async () => {
    await server.close();
    await noRedirect.close();
    data.cleanup();
  });

  it("answers /healthz with 200 {\"status\":\"ok\"}", async () => {
    const reply = await fetchPage(`${server.url}/healthz`);
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(reply.body)).toEqual({ status: "ok" });
  });

  it("sends a visit to / on to the login page", async () => {
    const reply = await fetchPage(`${server.url}/`);
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(`${server.url}/login`);
  });

  it("serves the stylesheet as text/css", async () => {
    const reply = await fetchPage(`${server.url}/static/ssoctl.css`);
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^text\/css/);
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
    expect(reply.body).toMatch(/prefers-color-scheme:\s*dark/);
  });

  it("links only its own stylesheet and loads nothing from elsewhere", async () => {
    const { page } = await openLoginForm(server);
    expect(page.body).toContain('<link rel="stylesheet" href="/static/ssoctl.css">');
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\/(?!127\.0\.0\.1)/);
    expect(page.body).not.toContain("<script");
  });

  it("answers an unknown path with the 404 page", async () => {
    const reply = await fetchPage(`${server.url}/nope?x=1`);
    expect(reply.status).toBe(404);
    expect(reply.body).toContain("Not found");
    // A way back: the sign-in page (which shows who is signed in, for a signed-in browser).
    expect(reply.body).toMatch(new RegExp(`<a class="button" href="${server.url.replace(/[.]/g, "\\.")}/login">Go to the sign-in page</a>`));
    expectPageHeaders(reply, [APP]);
    expect((await fetchPage(`${server.url}/static/../../package.json`)).status).toBe(404);
    expect((await fetchPage(`${server.url}/static/other.css`)).status).toBe(404);
  });

  it.each([
    ["PUT", "/login", "GET, HEAD, POST"],
    ["DELETE", "/login", "GET, HEAD, POST"],
    ["PUT", "/logout", "GET, POST"],
    ["POST", "/healthz", "GET, HEAD"],
    ["DELETE", "/static/ssoctl.css", "GET, HEAD"],
    ["POST", "/", "GET, HEAD"],
  ] as const)("answers %s %s with 405 and Allow: %s", async (method, pathname, allow) => {
    const reply = await fetchPage(`${server.url}${pathname}`, { method });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe(allow);
    expect(reply.body).toContain("Method not allowed");
    expectPageHeaders(reply, [APP]);
  });

  it("answers HEAD /login like GET, without a body", async () => {
    const reply = await fetchPage(`${server.url}/login`, { method: "HEAD" });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe("");
    expectPageHeaders(reply, [APP]);
  });

  it("sends the security headers on every page", async () => {
    const pages: Array<[string, Reply]> = [];
    pages.push(["login", (await openLoginForm(server, { rd: `${APP}/` })).page]);
    pages.push(["signed-in", await fetchPage(`${server.url}/login`, { headers: { cookie: `ssoctl=${token}` } })]);
    const form = await openLoginForm(server, { rd: `${APP}/` });
    pages.push(["failed sign-in", await postForm(server, "/login", { rd: `${APP}/`, csrf: form.csrf, username: "alice", password: "wrong password" }, { cookie: cookieHeader(form.cookies) })]);
    pages.push(["csrf refusal", await postForm(server, "/login", { rd: `${APP}/`, ...ALICE })]);
    pages.push(["unregistered target", await fetchPage(`${server.url}/login?rd=${encodeURIComponent("https://evil.example/")}`)]);
    pages.push(["not found", await fetchPage(`${server.url}/missing`)]);
    pages.push(["signed out", await fetchPage(`${server.url}/logout`)]);
    pages.push(["success (no-redirect)", await fetchPage(`${noRedirect.url}/login?rd=${encodeURIComponent(`${APP}/`)}`, { headers: { cookie: `ssoctl=${token}` } })]);
    expect(pages.map(([name, reply]) => [name, reply.status])).toEqual([
      ["login", 200],
      ["signed-in", 200],
      ["failed sign-in", 401],
      ["csrf refusal", 403],
      ["unregistered target", 400],
      ["not found", 404],
      ["signed out", 200],
      ["success (no-redirect)", 200],
    ]);
    for (const [, reply] of pages) expectPageHeaders(reply, [APP]);
  });

  it("adds an app registered while the server runs to form-action, and accepts it as a target", async () => {
    const before = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${OTHER_APP}/`)}`);
    expect(before.status).toBe(400);
    expect(csp(before).get("form-action")).not.toContain(OTHER_APP);
    await server.store.addApp({ name: "Team wiki", origin: OTHER_APP }, Math.floor(Date.now() / 1000));
    const after = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${OTHER_APP}/page`)}`);
    expect(after.status).toBe(200);
    expect(after.body).toContain("<strong>Team wiki</strong>");
    expectPageHeaders(after, [APP, OTHER_APP]);
    const elsewhere = await fetchPage(`${server.url}/missing`);
    expectPageHeaders(elsewhere, [APP, OTHER_APP]);
    await server.store.removeApp(OTHER_APP);
    const removed = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${OTHER_APP}/page`)}`);
    expect(removed.status).toBe(400);
    expect(csp(removed).get("form-action")).not.toContain(OTHER_APP);
  });
});

describe("an app origin that would break the header", () => {
  it("is left out of form-action rather than splitting the Content-Security-Policy", async () => {
    const data = await makeDataDir({ users: [], apps: [APP] });
    const server = await startServer(data);
    try {
      // The URL parser accepts these hosts; in a CSP header "," starts a second policy and ";" a new directive.
      for (const origin of ["https://a,b.example", "https://c;d.example"]) await server.store.addApp({ name: origin, origin }, 0);
      const reply = await fetchPage(`${server.url}/login`);
      const header = String(reply.headers["content-security-policy"]);
      expect(header).not.toContain(",");
      expect(header.split(";").map((d) => d.trim().split(/\s+/)[0])).toEqual(["default-src", "style-src", "img-src", "form-action", "frame-ancestors", "base-uri"]);
      expectPageHeaders(reply, [APP]);
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});

describe("when the database is gone", () => {
  it("answers /healthz with 503, and pages with 503 rather than 500", async () => {
    const data = await makeDataDir({ users: [], apps: [APP] });
    const server = await startServer(data);
    try {
      expect((await fetchPage(`${server.url}/healthz`)).status).toBe(200);
      await server.login.context.store.close();
      const health = await fetchPage(`${server.url}/healthz`);
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body)).toEqual({ status: "unavailable" });
      const page = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/`)}`);
      expect(page.status).toBe(503);
      expect(page.headers["retry-after"]).toBeDefined();
      // The error page is the styled one, with the same security headers as any page.
      expect(page.body).toContain("Temporarily unavailable");
      expectPageHeaders(page, [APP]);
      expect((await fetchPage(`${server.url}/static/ssoctl.css`)).status).toBe(200);
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});

describe("behind a public URL with a path prefix", () => {
  it("links the stylesheet, the form and the sign-in link under that prefix", async () => {
    const data = await makeDataDir({ users: [ALICE], apps: [APP] });
    const server = await startServer(data, { publicUrl: "http://127.0.0.1:8081/sso" });
    try {
      const { page } = await openLoginForm(server, { rd: `${APP}/` });
      expect(page.body).toContain('<link rel="stylesheet" href="/sso/static/ssoctl.css">');
      expect(page.body).toContain('action="http://127.0.0.1:8081/sso/login"');
      const signedOut = await fetchPage(`${server.url}/logout`);
      expect(signedOut.body).toContain('href="http://127.0.0.1:8081/sso/login"');
      expect(signedOut.body).toContain('href="/sso/static/ssoctl.css"');
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});
