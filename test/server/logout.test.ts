/** GET and POST /logout: the session ends in the database, the cookie is cleared, the browser goes back or sees a page. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { cookieHeader, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };

function setCookieLines(reply: Reply): string[] {
  const raw = reply.headers["set-cookie"];
  return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
}

function attributesOf(line: string): string[] {
  return line.split(";").map((part) => part.trim());
}

describe("signing out", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  async function liveSession(token: string): Promise<boolean> {
    return (await server.store.getSession(decodeJwt(token).sid as string, Math.floor(Date.now() / 1000))) !== null;
  }

  async function singleSignOn(token: string): Promise<number> {
    return (await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/`)}`, { headers: { cookie: `ssoctl=${token}` } })).status;
  }

  it("GET /logout?rd=<registered app> ends the session, clears the cookie and sends the browser to rd", async () => {
    const token = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    expect(await liveSession(token)).toBe(true);
    const reply = await fetchPage(`${server.url}/logout?rd=${encodeURIComponent(`${APP}/bye?x=1`)}`, { headers: { cookie: `ssoctl=${token}` } });
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(`${APP}/bye?x=1`);
    expect(setCookieLines(reply)).toEqual(["ssoctl=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]);
    expect(await liveSession(token)).toBe(false);
    expect(await singleSignOn(token)).toBe(200);
    const audit = server.auditLines.filter((l) => l.includes('"logout"')).at(-1)!;
    expect(JSON.parse(audit)).toMatchObject({ event: "logout", user: "alice" });
    expect(audit).not.toContain(token);
  });

  it.each([
    ["an unregistered rd", "https://evil.example/"],
    ["a protocol-relative rd", "//evil.example/"],
    ["a javascript: rd", "javascript:alert(1)"],
    ["no rd", ""],
  ])("with %s, ends the session and shows the signed-out page with a link to sign in, never a redirect", async (_label, rd) => {
    const token = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    const reply = await fetchPage(`${server.url}/logout${rd === "" ? "" : `?rd=${encodeURIComponent(rd)}`}`, { headers: { cookie: `ssoctl=${token}` } });
    expect(reply.status).toBe(200);
    expect(reply.headers.location).toBeUndefined();
    expect(reply.body).toContain("You have been signed out");
    expect(reply.body).toContain(`href="${server.url}/login"`);
    expect(setCookieLines(reply)).toEqual(["ssoctl=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]);
    expect(await liveSession(token)).toBe(false);
  });

  it("signs out through the signed-in page's own form (POST /logout)", async () => {
    const token = (await signIn(server, ALICE)).cookie!;
    const signedIn = await fetchPage(`${server.url}/login`, { headers: { cookie: `ssoctl=${token}` } });
    const form = /<form class="form" method="post" action="([^"]+)">\s*<input type="hidden" name="csrf" value="([^"]+)">/.exec(signedIn.body);
    expect(form).not.toBeNull();
    const [, action, csrf] = form!;
    expect(action).toBe(`${server.url}/logout`);
    const reply = await postForm(server, new URL(action!).pathname, { csrf: csrf! }, { cookie: cookieHeader({ ssoctl: token }), headers: { "sec-fetch-site": "same-origin" } });
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("You have been signed out");
    expect(setCookieLines(reply)).toEqual(["ssoctl=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]);
    expect(await liveSession(token)).toBe(false);
    expect(await singleSignOn(token)).toBe(200);
  });

  it("POST /logout with a registered rd sends the browser there", async () => {
    const token = (await signIn(server, ALICE)).cookie!;
    const reply = await postForm(server, "/logout", { rd: `${APP}/after` }, { cookie: cookieHeader({ ssoctl: token }) });
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(`${APP}/after`);
    expect(await liveSession(token)).toBe(false);
  });

  it.each([
    ["Sec-Fetch-Site: cross-site", { headers: { "sec-fetch-site": "cross-site" } }],
    ["an Origin of another site", { origin: "https://evil.example" }],
    ["Origin: null", { origin: "null" }],
  ])("refuses a POST /logout with %s (403) and keeps the session", async (_label, extra) => {
    const token = (await signIn(server, ALICE)).cookie!;
    const reply = await postForm(server, "/logout", {}, { cookie: cookieHeader({ ssoctl: token }), ...extra });
    expect(reply.status).toBe(403);
    expect(reply.headers["set-cookie"]).toBeUndefined();
    expect(await liveSession(token)).toBe(true);
    expect(await singleSignOn(token)).toBe(303);
  });

  it("answers a sign-out without a session with the signed-out page", async () => {
    const reply = await fetchPage(`${server.url}/logout`);
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("You have been signed out");
    const garbage = await fetchPage(`${server.url}/logout?rd=${encodeURIComponent(`${APP}/`)}`, { headers: { cookie: "ssoctl=not.a.token" } });
    expect(garbage.status).toBe(303);
  });

  it("shows the login form again after signing out", async () => {
    const token = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    await fetchPage(`${server.url}/logout`, { headers: { cookie: `ssoctl=${token}` } });
    const { page } = await openLoginForm(server, { rd: `${APP}/` }, { cookie: `ssoctl=${token}` });
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="password"');
  });
});

describe("signing out clears the cookie the server set", () => {
  it("with the same name, domain and path, Secure behind https, and Max-Age=0", async () => {
    const data = await makeDataDir({ users: [ALICE], apps: ["https://app.example.test"] });
    const server = await startServer(data, { publicUrl: "https://login.example.test", cookieName: "corp_sso", cookieDomain: "example.test" });
    try {
      const { csrf, cookies } = await openLoginForm(server);
      const login = await postForm(server, "/login", { csrf, ...ALICE }, { cookie: cookieHeader(cookies), origin: "https://login.example.test" });
      expect(login.status).toBe(303);
      const set = setCookieLines(login).find((l) => l.startsWith("corp_sso="))!;
      const token = set.split(";")[0]!.slice("corp_sso=".length);
      const reply = await fetchPage(`${server.url}/logout?rd=${encodeURIComponent("https://app.example.test/")}`, { headers: { cookie: `corp_sso=${token}` } });
      expect(reply.status).toBe(303);
      const cleared = setCookieLines(reply);
      expect(cleared).toHaveLength(1);
      const withoutValueAndAge = (line: string): string[] => attributesOf(line).slice(1).filter((a) => !a.startsWith("Max-Age=")).sort();
      expect(cleared[0]!.startsWith("corp_sso=;")).toBe(true);
      expect(withoutValueAndAge(cleared[0]!)).toEqual(withoutValueAndAge(set));
      expect(withoutValueAndAge(set)).toEqual(["Domain=example.test", "HttpOnly", "Path=/", "SameSite=Lax", "Secure"]);
      expect(attributesOf(cleared[0]!)).toContain("Max-Age=0");
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});
