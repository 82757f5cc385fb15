/** `/auth/forward` (Caddy forward_auth, Traefik ForwardAuth) against the real login server, without a proxy. */
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { signToken } from "../../src/token.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { ALICE, APP, BOB, BROWSER_ACCEPT, loginCookie, utf8 } from "./support.js";

const FORWARDED = { "x-forwarded-proto": "http", "x-forwarded-host": "app.example.test:8443", "x-forwarded-uri": "/docs?page=2", "x-forwarded-method": "GET" };
const ORIGINAL = `${APP}/docs?page=2`;

describe("GET /auth/forward", () => {
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

  async function authForward(headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    const response = await request(`${server.url}/auth/forward`, { headers });
    await response.body.dump();
    return { status: response.statusCode, headers: response.headers };
  }

  it("answers a valid login with 200 and the identity headers", async () => {
    const reply = await authForward({ cookie, ...FORWARDED });
    expect(reply.status).toBe(200);
    expect(reply.headers["remote-user"]).toBe("alice");
    expect(utf8(reply.headers["remote-name"])).toBe("Zoë Liddell");
    expect(reply.headers["remote-email"]).toBe("alice@example.com");
    expect(reply.headers["remote-groups"]).toBe("admins,staff");
  });

  it("sends a browser's GET without a login to the login page with a 302", async () => {
    const reply = await authForward({ accept: BROWSER_ACCEPT, ...FORWARDED });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(ORIGINAL)}`);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  it("sends a browser's HEAD without a login to the login page with a 302", async () => {
    const reply = await authForward({ accept: BROWSER_ACCEPT, ...FORWARDED, "x-forwarded-method": "HEAD" });
    expect(reply.status).toBe(302);
  });

  it("sends a browser's form POST without a login to the login page with a 303", async () => {
    const reply = await authForward({ accept: BROWSER_ACCEPT, ...FORWARDED, "x-forwarded-uri": "/comments", "x-forwarded-method": "POST" });
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(`${APP}/comments`)}`);
  });

  it.each([
    ["no Accept header", {}],
    ["Accept: application/json", { accept: "application/json" }],
    ["Accept: */*", { accept: "*/*" }],
  ])("answers a client with %s and no login with 401 and no redirect", async (_, extra: Record<string, string>) => {
    const reply = await authForward({ ...extra, ...FORWARDED });
    expect(reply.status).toBe(401);
    expect(reply.headers.location).toBeUndefined();
  });

  const malformed: Array<[string, Record<string, string | undefined>]> = [
    ["no X-Forwarded-Proto", { "x-forwarded-proto": undefined }],
    ["no X-Forwarded-Host", { "x-forwarded-host": undefined }],
    ["no X-Forwarded-Uri", { "x-forwarded-uri": undefined }],
    ["no X-Forwarded-Method", { "x-forwarded-method": undefined }],
    ["X-Forwarded-Proto: ftp", { "x-forwarded-proto": "ftp" }],
    ["X-Forwarded-Proto: javascript", { "x-forwarded-proto": "javascript" }],
    ["a host with userinfo", { "x-forwarded-host": "user@app.example.test:8443" }],
    ["a host with a path", { "x-forwarded-host": "evil.example/app.example.test:8443" }],
    ["a host with a space", { "x-forwarded-host": "app.example.test :8443" }],
    ["a URI without a leading slash", { "x-forwarded-uri": "docs" }],
    ["a protocol-relative URI", { "x-forwarded-uri": "//evil.example/" }],
    ["an absolute URI", { "x-forwarded-uri": "http://evil.example/" }],
    ["a lower-case method", { "x-forwarded-method": "get" }],
    ["a method with a space", { "x-forwarded-method": "GET POST" }],
  ];
  it.each(malformed)("answers a valid login with %s with 401, never 200", async (_, changes) => {
    const headers: Record<string, string> = { cookie, accept: BROWSER_ACCEPT };
    for (const [name, value] of Object.entries({ ...FORWARDED, ...changes })) if (value !== undefined) headers[name] = value;
    const reply = await authForward(headers);
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
    expect(reply.headers.location).toBeUndefined();
  });

  it.each(["evil.example", "app.example.test", "app.example.test:8444", "evil.app.example.test:8443"])(
    "sends a browser with a valid login for the unregistered host %s to the page that explains it",
    async (host) => {
      const reply = await authForward({ cookie, accept: BROWSER_ACCEPT, ...FORWARDED, "x-forwarded-host": host });
      expect(reply.status).toBe(302);
      expect(reply.headers["remote-user"]).toBeUndefined();
      expect(reply.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(`http://${host}/docs?page=2`)}`);
      const page = await request(reply.headers.location as string, { headers: { cookie } });
      expect(page.statusCode).toBe(400);
      expect(page.headers.location).toBeUndefined();
      expect(await page.body.text()).toContain(`ssoctl app add http://${host}`);
    },
  );

  it("answers a non-browser with a valid login for an unregistered host with 401", async () => {
    const reply = await authForward({ cookie, accept: "application/json", ...FORWARDED, "x-forwarded-host": "evil.example" });
    expect(reply.status).toBe(401);
    expect(reply.headers.location).toBeUndefined();
  });

  it("answers a look-alike host that is not a valid URL with 401 and no Location", async () => {
    const reply = await authForward({ cookie, accept: BROWSER_ACCEPT, ...FORWARDED, "x-forwarded-host": "app.example.test:8443.evil.net" });
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
    const reply = await authForward({ cookie: `ssoctl=${anonymous}`, ...FORWARDED });
    expect(reply.status).toBe(401);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });

  it("refuses a session revoked in the database at once", async () => {
    const bobCookie = await loginCookie(server, BOB);
    expect((await authForward({ cookie: bobCookie, ...FORWARDED })).status).toBe(200);
    expect(await server.store.deleteUserSessions("bob")).toBeGreaterThan(0);
    const reply = await authForward({ cookie: bobCookie, accept: BROWSER_ACCEPT, ...FORWARDED });
    expect(reply.status).toBe(302);
    expect(reply.headers["remote-user"]).toBeUndefined();
  });
});
