/** GET and POST /login: the page, single sign-on, the cookie, the token, failures and the no-redirect mode. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { keyId, signToken } from "../../src/token.js";
import {
  cookieHeader,
  cookiesOf,
  fetchPage,
  makeDataDir,
  openLoginForm,
  postForm,
  signIn,
  startServer,
  type RunningServer,
  type TestDataDir,
} from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };
const users = [
  ALICE,
  { username: "dora", password: "disabled but right", disabled: true },
  // Added before the name was reserved (the CLI now refuses it): it must still never sign in.
  { username: "Anonymous", password: "a right password" },
];

function setCookieLines(headers: Record<string, unknown>): string[] {
  const raw = headers["set-cookie"];
  return raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [raw as string];
}

function loginCookieLine(headers: Record<string, unknown>, name = "ssoctl"): string {
  const line = setCookieLines(headers).find((l) => l.startsWith(`${name}=`));
  expect(line, `a Set-Cookie for ${name}`).toBeDefined();
  return line!;
}

function attributes(line: string): string[] {
  return line.split(";").slice(1).map((part) => part.trim());
}

function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = match[2]!;
  return fields;
}

describe("the login page and sign-in", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users, apps: [APP] });
    server = await startServer(data, { sessionTtlSeconds: 3600 });
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("shows a login page naming the registered app, with the target in hidden fields", async () => {
    const { page, csrf, cookies } = await openLoginForm(server, { app: APP, path: "/docs", qs: "?page=2" });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body).toContain("Sign in to continue to <strong>127.0.0.1:9</strong>");
    expect(hiddenFields(page.body)).toEqual({ csrf, app: APP, path: "/docs", qs: "?page=2" });
    expect(page.body).toContain(`<form class="form" method="post" action="${server.url}/login">`);
    expect(page.body).toMatch(/<label for="username">/);
    expect(page.body).toMatch(/<label for="password">/);
    expect(page.body).toMatch(/autocomplete="username"/);
    expect(page.body).toMatch(/autocomplete="current-password"/);
    expect(csrf).not.toBe("");
    expect(Object.keys(cookies)).toEqual(["ssoctl_csrf"]);
  });

  it("carries an rd target in a hidden field", async () => {
    const { page, csrf } = await openLoginForm(server, { rd: `${APP}/x?y=1` });
    expect(page.status).toBe(200);
    expect(page.body).toContain("<strong>127.0.0.1:9</strong>");
    expect(hiddenFields(page.body)).toEqual({ csrf, rd: `${APP}/x?y=1` });
  });

  it("signs in: 303 to exactly app + path + qs, with a session cookie for the whole site", async () => {
    const { csrf, cookies } = await openLoginForm(server, { app: APP, path: "/docs/a%20b", qs: "?page=2&x=%41" });
    const response = await postForm(
      server,
      "/login",
      { app: APP, path: "/docs/a%20b", qs: "?page=2&x=%41", csrf, ...ALICE },
      { cookie: cookieHeader(cookies) },
    );
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe(`${APP}/docs/a%20b?page=2&x=%41`);
    const line = loginCookieLine(response.headers);
    expect(attributes(line).sort()).toEqual(["HttpOnly", "Max-Age=3600", "Path=/", "SameSite=Lax"]);
  });

  it("issues an HS256 JWT with kid and sub/sid/iat/exp/iss that any JWT library verifies with the text of secret.key", async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await signIn(server, ALICE, { rd: `${APP}/` });
    expect(result.status).toBe(303);
    const token = result.cookie!;
    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe("HS256");
    expect(header.kid).toBe(keyId(data.secret));
    const { payload } = await jwtVerify(token, new TextEncoder().encode(data.secret), { algorithms: ["HS256"] });
    expect(payload.sub).toBe("alice");
    expect(payload.iss).toBe(server.url);
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.exp).toBe(payload.iat! + 3600);
    expect(payload.anon).toBeUndefined();
    expect(typeof payload.sid).toBe("string");
    expect(Buffer.from(payload.sid as string, "base64url")).toHaveLength(16);
    const session = await server.store.getSession(payload.sid as string, Math.floor(Date.now() / 1000));
    expect(session).toMatchObject({ username: "alice", anonymous: false, expiresAt: payload.exp });
  });

  it("writes a login.success audit line without the password, the hash or the token", async () => {
    const result = await signIn(server, ALICE, { rd: `${APP}/audited` });
    const user = await server.store.getUser("alice");
    const line = server.auditLines.filter((l) => l.includes('"login.success"')).at(-1)!;
    expect(line).toBeDefined();
    expect(JSON.parse(line)).toMatchObject({ event: "login.success", user: "alice", app: APP });
    expect(line).not.toContain(ALICE.password);
    expect(line).not.toContain(user!.passwordHash);
    expect(line).not.toContain("$argon2");
    expect(line).not.toContain(result.cookie!);
    expect(line).not.toContain(result.cookie!.split(".")[2]!);
    for (const any of server.auditLines) expect(any).not.toContain(ALICE.password);
  });

  it("sends a signed-in browser straight to the target (single sign-on)", async () => {
    const { cookie } = await signIn(server, ALICE, { rd: `${APP}/` });
    const viaApp = await fetchPage(`${server.url}/login?app=${encodeURIComponent(APP)}&path=/elsewhere&qs=${encodeURIComponent("?q=1")}`, {
      headers: { cookie: `ssoctl=${cookie}` },
    });
    expect(viaApp.status).toBe(303);
    expect(viaApp.headers.location).toBe(`${APP}/elsewhere?q=1`);
    const viaRd = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/other`)}`, { headers: { cookie: `ssoctl=${cookie}` } });
    expect(viaRd.status).toBe(303);
    expect(viaRd.headers.location).toBe(`${APP}/other`);
  });

  it("shows a signed-in page with a sign-out form when signed in without a target", async () => {
    const { cookie } = await signIn(server, ALICE, { rd: `${APP}/` });
    const page = await fetchPage(`${server.url}/login`, { headers: { cookie: `ssoctl=${cookie}` } });
    expect(page.status).toBe(200);
    expect(page.body).toContain("You are signed in as <strong class=\"user\">alice</strong>");
    expect(page.body).toContain(`<form class="form" method="post" action="${server.url}/logout">`);
    expect(page.body).toMatch(/type="submit">Sign out</);
  });

  it("sends a sign-in without a target to /login, which then shows the signed-in page", async () => {
    const result = await signIn(server, ALICE);
    expect(result.status).toBe(303);
    expect(result.location).toBe(`${server.url}/login`);
    const page = await fetchPage(result.location!, { headers: { cookie: `ssoctl=${result.cookie}` } });
    expect(page.status).toBe(200);
    expect(page.body).toContain("You’re signed in");
  });

  describe.each([
    ["a wrong password", { username: "alice", password: "wrong password!" }],
    ["an unknown user", { username: "mallory", password: "whatever it is" }],
    ["a disabled user with the right password", { username: "dora", password: "disabled but right" }],
  ])("refuses %s", (_label, credentials) => {
    it("with 401, one generic message, the username and the target kept, and no session", async () => {
      const sessionsBefore = (await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length;
      const { csrf, cookies } = await openLoginForm(server, { app: APP, path: "/p", qs: "?a=1" });
      const response = await postForm(
        server,
        "/login",
        { app: APP, path: "/p", qs: "?a=1", csrf, ...credentials },
        { cookie: cookieHeader(cookies) },
      );
      expect(response.status).toBe(401);
      expect(response.headers["set-cookie"]).toBeUndefined();
      expect(response.headers.location).toBeUndefined();
      expect(response.body).toContain('<div class="alert" id="login-error" role="alert">');
      expect(response.body).toContain("The username or password is incorrect.");
      expect(response.body).toContain(`name="username" type="text" value="${credentials.username}"`);
      expect(response.body).not.toContain(credentials.password);
      const fields = hiddenFields(response.body);
      expect(fields).toMatchObject({ app: APP, path: "/p", qs: "?a=1" });
      expect(fields.csrf).toBe(csrf);
      expect((await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length).toBe(sessionsBefore);
    });
  });

  it("says the same thing for a wrong password, an unknown user and a disabled user", async () => {
    const alerts: string[] = [];
    for (const credentials of [
      { username: "alice", password: "not her password" },
      { username: "nobody", password: "not her password" },
      { username: "dora", password: "disabled but right" },
    ]) {
      const { csrf, cookies } = await openLoginForm(server);
      const response = await postForm(server, "/login", { csrf, ...credentials }, { cookie: cookieHeader(cookies) });
      expect(response.status).toBe(401);
      alerts.push(/<div class="alert"[\s\S]*?<\/div>/.exec(response.body)![0]);
    }
    expect(new Set(alerts).size).toBe(1);
  });

  it("never signs in a user named like anonymous visitors, nor honours a session of theirs", async () => {
    const { csrf, cookies } = await openLoginForm(server, { rd: `${APP}/` });
    const response = await postForm(server, "/login", { csrf, rd: `${APP}/`, username: "anonymous", password: "a right password" }, { cookie: cookieHeader(cookies) });
    expect(response.status).toBe(401);
    expect(response.body).toContain("The username or password is incorrect.");
    expect(setCookieLines(response.headers).filter((l) => l.startsWith("ssoctl="))).toEqual([]);
    const failure = server.auditLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((f) => f.event === "login.failure" && f.user === "anonymous");
    expect(failure?.reason).toBe("reserved_username");

    const now = Math.floor(Date.now() / 1000);
    await server.store.createSession({ id: "old-anonymous-session", username: "Anonymous", anonymous: false, createdAt: now, expiresAt: now + 600, clientAddr: "", userAgent: "" });
    const token = await signToken(
      { username: "Anonymous", sessionId: "old-anonymous-session", issuedAt: now, expiresAt: now + 600, issuer: server.url, anonymous: false },
      data.secret,
    );
    const page = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/`)}`, { headers: { cookie: `ssoctl=${token}` } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('type="password"');
    const auth = await fetchPage(`${server.url}/auth/request`, { headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP}/`, "x-original-method": "GET" } });
    expect(auth.status).toBe(401);
    expect(auth.headers["remote-user"]).toBeUndefined();
  });

  it("records failures in the audit log with a reason and never the password", async () => {
    const failures = server.auditLines.filter((l) => l.includes('"login.failure"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(failures.map((f) => f.reason)).toEqual(expect.arrayContaining(["bad_password", "unknown_user", "disabled"]));
    for (const line of server.auditLines) {
      expect(line).not.toContain("wrong password!");
      expect(line).not.toContain("disabled but right");
    }
  });
});

describe("cookie flags follow the public URL and --cookie-domain", () => {
  let data: TestDataDir;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: ["https://app.example.test"] });
  });
  afterAll(() => data.cleanup());

  it("marks the cookies Secure (and the CSRF cookie __Host-) behind an https public URL", async () => {
    const server = await startServer(data, { publicUrl: "https://login.example.test" });
    try {
      const { csrf, cookies } = await openLoginForm(server, { rd: "https://app.example.test/" });
      expect(Object.keys(cookies)).toEqual(["__Host-ssoctl_csrf"]);
      const response = await postForm(
        server,
        "/login",
        { rd: "https://app.example.test/", csrf, ...ALICE },
        { cookie: cookieHeader(cookies), origin: "https://login.example.test" },
      );
      expect(response.status).toBe(303);
      expect(response.headers.location).toBe("https://app.example.test/");
      const parts = attributes(loginCookieLine(response.headers));
      expect(parts).toContain("Secure");
      expect(parts).toContain("Max-Age=43200");
      expect(parts.some((p) => p.startsWith("Domain="))).toBe(false);
      const { payload } = await jwtVerify(cookiesOf(response.headers).ssoctl!, new TextEncoder().encode(data.secret));
      expect(payload.iss).toBe("https://login.example.test");
    } finally {
      await server.close();
    }
  });

  it("adds Domain only with cookieDomain, and uses the configured cookie name", async () => {
    const server = await startServer(data, { cookieDomain: "example.test", cookieName: "sso_login" });
    try {
      const { csrf, cookies } = await openLoginForm(server, { rd: "https://app.example.test/" });
      expect(Object.keys(cookies)).toEqual(["sso_login_csrf"]);
      const response = await postForm(server, "/login", { rd: "https://app.example.test/", csrf, ...ALICE }, { cookie: cookieHeader(cookies) });
      expect(response.status).toBe(303);
      const parts = attributes(loginCookieLine(response.headers, "sso_login"));
      expect(parts).toContain("Domain=example.test");
      expect(parts).not.toContain("Secure");
      const sso = await fetchPage(`${server.url}/login?rd=${encodeURIComponent("https://app.example.test/x")}`, {
        headers: { cookie: `sso_login=${cookiesOf(response.headers).sso_login}` },
      });
      expect(sso.status).toBe(303);
    } finally {
      await server.close();
    }
  });
});

describe("with redirect: false (--no-redirect)", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data, { redirect: false });
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("answers a sign-in with a 200 page linking to the target, and sets the cookie", async () => {
    const result = await signIn(server, ALICE, { app: APP, path: "/docs", qs: "?a=1&b=2" });
    expect(result.status).toBe(200);
    expect(result.location).toBeUndefined();
    expect(result.cookie).toMatch(/^ey/);
    expect(result.body).toContain(`href="${APP}/docs?a=1&amp;b=2"`);
    expect(result.body).toContain("Continue to 127.0.0.1:9");
  });

  it("shows the same link page to a browser already signed in", async () => {
    const { cookie } = await signIn(server, ALICE, { rd: `${APP}/` });
    const page = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/next`)}`, { headers: { cookie: `ssoctl=${cookie}` } });
    expect(page.status).toBe(200);
    expect(page.headers.location).toBeUndefined();
    expect(page.body).toContain(`href="${APP}/next"`);
  });
});
