/** `/auth/request` (nginx auth_request) against the real login server, without a proxy. */
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { signToken } from "../../src/token.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { ALICE, APP, BOB, loginCookie, utf8 } from "./support.js";

describe("GET /auth/request", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let cookie: string;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB], apps: [APP] });
    server = await startServer(data);
    cookie = await loginCookie(server);
  });
  afterAll(async () => {
    await server?.close();
    data?.cleanup();
  });

  async function authRequest(headers: Record<string, string | string[]>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const response = await request(`${server.url}/auth/request`, { headers });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  }

  it("answers a valid login with 200 and the identity headers", async () => {
    const reply = await authRequest({ cookie, "x-original-url": `${APP}/docs?page=2`, "x-original-method": "GET" });
    expect(reply.status).toBe(200);
    expect(reply.headers["remote-user"]).toBe("alice");
    expect(utf8(reply.headers["remote-name"])).toBe("Zoë Liddell");
    expect(reply.headers["remote-email"]).toBe("alice@example.com");
    expect(reply.headers["remote-groups"]).toBe("admins,staff");
    expect(reply.headers["cache-control"]).toBe("no-store");
  });

  it("frames the 200 with Content-Length: 0, so nginx can keep the connection for the next check", async () => {
    // nginx reads no body of an auth subrequest: a chunked answer makes it close the connection.
    const reply = await authRequest({ cookie, "x-original-url": `${APP}/docs`, "x-original-method": "GET" });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-length"]).toBe("0");
    expect(reply.headers["transfer-encoding"]).toBeUndefined();
    expect(reply.headers.connection).toBe("keep-alive");
  });

  it("answers every method of the original request, e.g. a POST", async () => {
    const reply = await authRequest({ cookie, "x-original-url": `${APP}/comments`, "x-original-method": "POST" });
    expect(reply.status).toBe(200);
    expect(reply.headers["remote-user"]).toBe("alice");
  });

  it("answers no login with 401 and Location: the login page with rd = the original URL", async () => {
    const original = `${APP}/docs/a%20b?page=2&sort=name`;
    const reply = await authRequest({ "x-original-url": original, "x-original-method": "GET" });
    expect(reply.status).toBe(401);
    expect(reply.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(original)}`);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  it("answers no login with an empty 401 (Content-Length: 0), so nginx can keep the connection", async () => {
    const reply = await authRequest({ "x-original-url": `${APP}/docs`, "x-original-method": "GET" });
    expect(reply.status).toBe(401);
    expect(reply.headers["content-length"]).toBe("0");
    expect(reply.headers["transfer-encoding"]).toBeUndefined();
    expect(reply.headers["cache-control"]).toBe("no-store");
    expect(reply.body).toBe("");
  });

  it("answers a cookie that is not a token with 401", async () => {
    const reply = await authRequest({ cookie: "ssoctl=not-a-token", "x-original-url": `${APP}/`, "x-original-method": "GET" });
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  it("answers a token signed with another key with 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await signToken(
      { username: "alice", sessionId: "x".repeat(22), issuedAt: now, expiresAt: now + 600, issuer: server.url, anonymous: false },
      "A".repeat(43),
    );
    const reply = await authRequest({ cookie: `ssoctl=${forged}`, "x-original-url": `${APP}/`, "x-original-method": "GET" });
    expect(reply.status).toBe(401);
  });

  it("answers 401 to a token signed with the key whose user does not own its session, or from another issuer", async () => {
    const claims = decodeJwt((await loginCookie(server, ALICE)).slice("ssoctl=".length));
    const base = { sessionId: claims.sid as string, issuedAt: claims.iat!, expiresAt: claims.exp!, anonymous: false };
    const control = await signToken({ ...base, username: "alice", issuer: server.url }, data.secret);
    expect((await authRequest({ cookie: `ssoctl=${control}`, "x-original-url": `${APP}/`, "x-original-method": "GET" })).status).toBe(200);
    for (const token of [
      await signToken({ ...base, username: "bob", issuer: server.url }, data.secret),
      await signToken({ ...base, username: "alice", issuer: "https://other.example" }, data.secret),
    ]) {
      const reply = await authRequest({ cookie: `ssoctl=${token}`, "x-original-url": `${APP}/`, "x-original-method": "GET" });
      expect(reply.status).toBe(401);
      expect(reply.headers["remote-user"]).toBeUndefined();
    }
  });

  const malformed: Array<[string, Record<string, string | string[]>]> = [
    ["no X-Original-URL", { "x-original-method": "GET" }],
    ["no X-Original-Method", { "x-original-url": `${APP}/` }],
    ["neither header", {}],
    ["an empty X-Original-URL", { "x-original-url": "", "x-original-method": "GET" }],
    ["a relative X-Original-URL", { "x-original-url": "/docs", "x-original-method": "GET" }],
    ["a protocol-relative X-Original-URL", { "x-original-url": "//app.example.test:8443/", "x-original-method": "GET" }],
    ["a javascript: X-Original-URL", { "x-original-url": "javascript:alert(1)", "x-original-method": "GET" }],
    ["an X-Original-URL with userinfo", { "x-original-url": "http://user@app.example.test:8443/", "x-original-method": "GET" }],
    ["an X-Original-URL with a backslash", { "x-original-url": "http://app.example.test:8443\\@evil.example/", "x-original-method": "GET" }],
    ["an X-Original-URL with a space", { "x-original-url": `${APP}/a b`, "x-original-method": "GET" }],
    ["two X-Original-URL headers", { "x-original-url": [`${APP}/`, `${APP}/other`], "x-original-method": "GET" }],
    ["a lower-case X-Original-Method", { "x-original-url": `${APP}/`, "x-original-method": "get" }],
    ["an X-Original-Method with a space", { "x-original-url": `${APP}/`, "x-original-method": "GET POST" }],
    ["an over-long X-Original-Method", { "x-original-url": `${APP}/`, "x-original-method": "G".repeat(17) }],
    ["an over-long X-Original-URL", { "x-original-url": `${APP}/${"a".repeat(9000)}`, "x-original-method": "GET" }],
  ];
  it.each(malformed)("answers a valid login with %s with 401, never 200", async (_, headers) => {
    const reply = await authRequest({ cookie, ...headers });
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  const unregistered = ["http://evil.example/", "http://app.example.test/", "https://app.example.test:8443/", "http://evil.app.example.test:8443/x?y=1"];
  it.each(unregistered)("answers a valid login for the unregistered %s with 401 and a Location that explains it", async (url) => {
    const reply = await authRequest({ cookie, "x-original-url": url, "x-original-method": "GET" });
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
    // nginx turns the 401 into a 302 to this: the login page's 400 that names the fix, never a redirect onwards.
    expect(reply.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(url)}`);
    const page = await request(reply.headers.location as string, { headers: { cookie } });
    expect(page.statusCode).toBe(400);
    expect(page.headers.location).toBeUndefined();
    expect(await page.body.text()).toContain(`ssoctl app add ${new URL(url).origin}`);
  });

  it("answers a look-alike host that is not a valid URL with 401 and no Location", async () => {
    const reply = await authRequest({ cookie, "x-original-url": "http://app.example.test:8443.evil.net/", "x-original-method": "GET" });
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
    expect(reply.headers.location).toBeUndefined();
  });

  it("does not count an anonymous token as a login, even one made for this app naming a live session", async () => {
    const now = Math.floor(Date.now() / 1000);
    const sessionId = decodeJwt((await loginCookie(server, ALICE)).slice("ssoctl=".length)).sid as string;
    const anonymous = await signToken(
      { username: "alice", sessionId, issuedAt: now, expiresAt: now + 600, issuer: server.url, anonymous: true, audience: APP },
      data.secret,
    );
    const reply = await authRequest({ cookie: `ssoctl=${anonymous}`, "x-original-url": `${APP}/`, "x-original-method": "GET" });
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  it("refuses a session revoked in the database at once", async () => {
    const bobCookie = await loginCookie(server, BOB);
    const headers = { cookie: bobCookie, "x-original-url": `${APP}/`, "x-original-method": "GET" };
    expect((await authRequest(headers)).status).toBe(200);
    // The CLI's connection, as `ssoctl session revoke --user bob` uses it.
    expect(await server.store.deleteUserSessions("bob")).toBeGreaterThan(0);
    const reply = await authRequest(headers);
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  it("refuses a disabled user's session at once", async () => {
    const bobCookie = await loginCookie(server, BOB);
    const headers = { cookie: bobCookie, "x-original-url": `${APP}/`, "x-original-method": "GET" };
    expect((await authRequest(headers)).status).toBe(200);
    await server.store.setDisabled("bob", true);
    try {
      expect((await authRequest(headers)).status).toBe(401);
    } finally {
      await server.store.setDisabled("bob", false);
    }
  });

  it("refuses a session ended by logout", async () => {
    const bobCookie = await loginCookie(server, BOB);
    const headers = { cookie: bobCookie, "x-original-url": `${APP}/`, "x-original-method": "GET" };
    expect((await authRequest(headers)).status).toBe(200);
    const out = await request(`${server.url}/logout`, { headers: { cookie: bobCookie } });
    await out.body.dump();
    expect((await authRequest(headers)).status).toBe(401);
  });
});
