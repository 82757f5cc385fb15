import express from "express";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issuerOf } from "../../src/guard/config.js";
import { loginRedirect, type GuardedRequest, type LoginRedirectOptions } from "../../src/guard/index.js";
import { keyId, verifyToken } from "../../src/token.js";
import { LOGIN_URL, cookieValue, listen, makeToken, newKey, setCookies, type Running } from "./support.js";

const APP_URL = "http://127.0.0.1:8080";
const KEY = newKey();
const OLD_KEY = newKey();

function baseOptions(extra: Partial<LoginRedirectOptions> = {}): LoginRedirectOptions {
  return {
    loginUrl: LOGIN_URL,
    appUrl: APP_URL,
    secretKey: [KEY, OLD_KEY],
    anonymousParameterName: "anonymous",
    logoutParameterName: "logout",
    cookieDomain: "127.0.0.1",
    ...extra,
  };
}

function sendUser(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ user: (req as GuardedRequest).user ?? null, url: req.url }));
}

async function startNodeApp(options: LoginRedirectOptions): Promise<Running> {
  const guard = loginRedirect(options);
  return listen((req, res) => {
    guard(req, res, (err) => {
      if (err !== undefined) {
        res.statusCode = 500;
        res.end("error");
        return;
      }
      sendUser(req, res);
    });
  });
}

async function startExpressApp(options: LoginRedirectOptions): Promise<Running> {
  const app = express();
  app.use(loginRedirect(options));
  app.use((req, res) => sendUser(req, res));
  return listen((req, res) => app(req, res));
}

async function get(url: string, cookie?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const response = await request(url, { headers: cookie === undefined ? {} : { cookie } });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe.each([
  ["node:http", startNodeApp],
  ["Express", startExpressApp],
])("loginRedirect in a %s app", (_kind, start) => {
  let app: Running;
  beforeAll(async () => {
    app = await start(baseOptions());
  });
  afterAll(async () => {
    await app.close();
  });

  it("sends a visitor without a login to the login page with app, path and qs encoded", async () => {
    const response = await get(`${app.url}/docs/a%20b?x=1&y=%26z`);
    expect(response.status).toBe(302);
    expect(response.headers["cache-control"]).toBe("no-store");
    const location = String(response.headers.location);
    expect(location).toBe(
      `${LOGIN_URL}?app=${encodeURIComponent(APP_URL)}&path=${encodeURIComponent("/docs/a%20b")}&qs=${encodeURIComponent("?x=1&y=%26z")}`,
    );
    const params = new URL(location).searchParams;
    // The login server rebuilds the target as app + path + qs.
    expect(params.get("app")! + params.get("path")! + params.get("qs")!).toBe(`${APP_URL}/docs/a%20b?x=1&y=%26z`);
  });

  it("sends an empty qs when the request has no query", async () => {
    const response = await get(`${app.url}/reports`);
    const params = new URL(String(response.headers.location)).searchParams;
    expect(params.get("path")).toBe("/reports");
    expect(params.get("qs")).toBe("");
  });

  it("lets a valid login through and sets req.user", async () => {
    const token = await makeToken(KEY, { username: "alice" });
    const response = await get(`${app.url}/private?x=1`, `other=1; ssoctl=${token}`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).user).toEqual({ name: "alice", anonymous: false });
    // Repeat requests take the cached path and still pass.
    const again = await get(`${app.url}/private`, `ssoctl=${token}`);
    expect(JSON.parse(again.text).user).toEqual({ name: "alice", anonymous: false });
  });

  it("accepts a token signed with the second key of the array (rotation)", async () => {
    const token = await makeToken(OLD_KEY, { username: "bob" });
    const response = await get(`${app.url}/`, `ssoctl=${token}`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).user).toEqual({ name: "bob", anonymous: false });
  });

  it.each([
    ["expired", async () => makeToken(KEY, { expiresIn: -60 })],
    ["signed with another key", async () => makeToken(newKey())],
    ["alg none", async () => `${base64url({ alg: "none", typ: "JWT", kid: keyId(KEY) })}.${base64url({ sub: "root", sid: "x", iat: 1, exp: 9999999999 })}.`],
    ["truncated", async () => (await makeToken(KEY)).slice(0, -5)],
    ["with a forged payload", async () => {
      const [header, , signature] = (await makeToken(KEY)).split(".");
      return `${header}.${base64url({ sub: "root", sid: "x", iat: 1, exp: 9999999999 })}.${signature}`;
    }],
    ["garbage", async () => "%%%not-a-token\u00ff"],
    ["empty", async () => ""],
    ["huge", async () => "a".repeat(6000)],
  ])("treats a %s cookie as no login: a redirect, never a 500", async (_name, makeCookie) => {
    const response = await get(`${app.url}/private`, `ssoctl=${await makeCookie()}`);
    expect(response.status).toBe(302);
    expect(String(response.headers.location)).toContain(`${LOGIN_URL}?app=`);
  });

  it("gives an anonymous token for the anonymous parameter, and the next request passes without it", async () => {
    const first = await get(`${app.url}/public?anonymous`);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.text).user).toEqual({ name: "anonymous", anonymous: true });
    const [cookie] = setCookies(first.headers);
    expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Domain=127\.0\.0\.1; Max-Age=43200$/);
    const token = cookieValue(cookie!, "ssoctl")!;
    const claims = await verifyToken(token, { secrets: [KEY] });
    expect(claims).toMatchObject({ username: "anonymous", anonymous: true, issuer: "http://127.0.0.1:8081" });
    expect(Buffer.from(claims!.sessionId, "base64url")).toHaveLength(16);

    const second = await get(`${app.url}/public`, `ssoctl=${token}`);
    expect(second.status).toBe(200);
    expect(JSON.parse(second.text).user).toEqual({ name: "anonymous", anonymous: true });
    expect(setCookies(second.headers)).toEqual([]);
  });

  it("keeps a signed-in user when the anonymous parameter is present", async () => {
    const token = await makeToken(KEY, { username: "carol" });
    const response = await get(`${app.url}/public?anonymous=1`, `ssoctl=${token}`);
    expect(JSON.parse(response.text).user).toEqual({ name: "carol", anonymous: false });
    expect(setCookies(response.headers)).toEqual([]);
  });

  it("logs a signed-in user out through the login server, leaving the cookie for it to end the session and clear", async () => {
    const token = await makeToken(KEY);
    const response = await get(`${app.url}/anything?logout=1`, `ssoctl=${token}`);
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`http://127.0.0.1:8081/logout?rd=${encodeURIComponent(`${APP_URL}/`)}`);
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(setCookies(response.headers)).toEqual([]);
  });

  it("clears an anonymous or invalid cookie itself on logout, with the same name, domain and path", async () => {
    const anonymous = setCookies((await get(`${app.url}/?anonymous=1`)).headers)[0]!.split(";")[0]!;
    for (const cookie of [anonymous, "ssoctl=garbage", undefined]) {
      const response = await get(`${app.url}/anything?logout=1`, cookie);
      expect(response.status).toBe(302);
      expect(response.headers.location).toBe(`http://127.0.0.1:8081/logout?rd=${encodeURIComponent(`${APP_URL}/`)}`);
      expect(setCookies(response.headers)).toEqual(["ssoctl=; Path=/; HttpOnly; SameSite=Lax; Domain=127.0.0.1; Max-Age=0"]);
    }
  });

  it.each([
    "/?%zz%&&==&logout=%E0%A4%A",
    "/?a=%00%0d%0a&b=\u00ff",
    `/?${"x=1&".repeat(2000)}`,
    "/%2e%2e/%2F%5C?qs=<script>",
  ])("answers a hostile query %# without a 500", async (path) => {
    const response = await get(`${app.url}${path}`);
    expect([302]).toContain(response.status);
  });

  it("answers a request-target it cannot read with 400", async () => {
    const status = await rawStatus(app.url, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(status).toBe(400);
  });
});

describe("loginRedirect options", () => {
  it("resolves logoutUrl against appUrl and honours useLogoutRedirect: false with an escaped link page", async () => {
    const app = await startNodeApp(
      baseOptions({ useLogoutRedirect: false, logoutUrl: "/bye?a=1&b=<x>", cookieDomain: undefined, cookieName: "sso_app" }),
    );
    try {
      const response = await get(`${app.url}/?logout`);
      expect(response.status).toBe(200);
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(setCookies(response.headers)).toEqual(["sso_app=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]);
      const signedIn = await get(`${app.url}/?logout`, `sso_app=${await makeToken(KEY)}`);
      expect(signedIn.status).toBe(200);
      expect(setCookies(signedIn.headers)).toEqual([]);
      expect(signedIn.text).toContain("Sign out everywhere");
      const href = `http://127.0.0.1:8081/logout?rd=${encodeURIComponent(`${APP_URL}/bye?a=1&b=%3Cx%3E`)}`;
      expect(response.text).toContain(`<a href="${href.replace(/&/g, "&amp;")}">`);
      expect(response.text).not.toContain("<x>");
    } finally {
      await app.close();
    }
  });

  it("marks cookies Secure for an https app", async () => {
    const app = await startNodeApp(baseOptions({ appUrl: "https://app.example.com" }));
    try {
      const response = await get(`${app.url}/?anonymous`);
      expect(setCookies(response.headers)[0]).toContain("; Secure");
    } finally {
      await app.close();
    }
  });

  it("uses the full path of an Express app mounted under a prefix", async () => {
    const guarded = express();
    guarded.use(loginRedirect(baseOptions()));
    guarded.use((req, res) => sendUser(req, res));
    const outer = express();
    outer.use("/sub", guarded);
    const app = await listen((req, res) => outer(req, res));
    try {
      const response = await get(`${app.url}/sub/page?x=1`);
      const params = new URL(String(response.headers.location)).searchParams;
      expect(params.get("path")).toBe("/sub/page");
      expect(params.get("qs")).toBe("?x=1");
    } finally {
      await app.close();
    }
  });

  it.each([
    ["no options", undefined, /options object/],
    ["a missing loginUrl", { loginUrl: undefined }, /loginUrl is required/],
    ["a loginUrl that does not parse", { loginUrl: "http://" }, /loginUrl "http:\/\/" is not a URL/],
    ["a relative loginUrl", { loginUrl: "/login" }, /loginUrl "\/login" is not a URL/],
    ["a loginUrl that is not http(s)", { loginUrl: "ftp://x/login" }, /not an http:\/\/ or https:\/\/ URL/],
    ["a missing appUrl", { appUrl: undefined }, /appUrl is required/],
    ["an appUrl with a path", { appUrl: "http://a.example.com/app" }, /must be an origin only/],
    ["a javascript: appUrl", { appUrl: "javascript:alert(1)" }, /appUrl/],
    ["a missing secretKey", { secretKey: undefined }, /secretKey is required/],
    ["an empty secretKey", { secretKey: "" }, /secretKey is required/],
    ["an empty key array", { secretKey: [] }, /empty array/],
    ["an empty key in the array", { secretKey: [KEY, "  "] }, /secretKey\[1\] is empty/],
    ["a short key", { secretKey: "short" }, /not a key as `ssoctl key show` prints it/],
    ["an invalid cookie name", { cookieName: "a b" }, /cookieName/],
    ["an invalid cookie domain", { cookieDomain: "exa mple.com" }, /cookieDomain/],
    ["an invalid anonymous username", { anonymousUsername: "not ok!" }, /anonymousUsername/],
    ["a non-http logoutUrl", { logoutUrl: "javascript:alert(1)" }, /logoutUrl/],
    ["a misspelt option", { anonymousParameter: "anon" }, /did you mean anonymousParameterName/],
    ["a zero TTL", { sessionTtlSeconds: 0 }, /sessionTtlSeconds/],
  ])("throws a TypeError at creation for %s", (_name, change, message) => {
    const options = change === undefined ? undefined : { ...baseOptions(), ...change };
    expect(() => loginRedirect(options as unknown as LoginRedirectOptions)).toThrow(TypeError);
    expect(() => loginRedirect(options as unknown as LoginRedirectOptions)).toThrow(message);
  });

  it("trims a key read from secret.key with its newline", async () => {
    const app = await startNodeApp(baseOptions({ secretKey: `${KEY}\n` }));
    try {
      const response = await get(`${app.url}/`, `ssoctl=${await makeToken(KEY)}`);
      expect(response.status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe("anonymous tokens", () => {
  const OTHER_APP_URL = "http://127.0.0.1:8090";

  /** The cookie the guard of `options` sets for `?anonymous`. */
  async function anonymousCookieFrom(options: LoginRedirectOptions): Promise<string> {
    const minting = await startNodeApp(options);
    try {
      return setCookies((await get(`${minting.url}/?anonymous`)).headers)[0]!.split(";")[0]!;
    } finally {
      await minting.close();
    }
  }

  it.each([
    ["another app without anonymous access", { appUrl: OTHER_APP_URL, anonymousParameterName: undefined }],
    ["another app with anonymous access", { appUrl: OTHER_APP_URL }],
    ["the same app once anonymous access is turned off", { anonymousParameterName: undefined }],
    ["the same app giving visitors another name", { anonymousUsername: "guest" }],
  ])("are not a login at %s", async (_name, change) => {
    const cookie = await anonymousCookieFrom(baseOptions());
    const app = await startNodeApp(baseOptions(change));
    try {
      const response = await get(`${app.url}/private`, cookie);
      expect(response.status).toBe(302);
      expect(String(response.headers.location)).toContain(`${LOGIN_URL}?app=`);
    } finally {
      await app.close();
    }
  });

  it("are a login at the app that made them, and a new one is made for another app's ?anonymous", async () => {
    const cookie = await anonymousCookieFrom(baseOptions());
    const same = await startNodeApp(baseOptions());
    const other = await startNodeApp(baseOptions({ appUrl: OTHER_APP_URL }));
    try {
      const here = await get(`${same.url}/private`, cookie);
      expect(JSON.parse(here.text).user).toEqual({ name: "anonymous", anonymous: true });
      const there = await get(`${other.url}/?anonymous`, cookie);
      expect(JSON.parse(there.text).user).toEqual({ name: "anonymous", anonymous: true });
      const token = cookieValue(setCookies(there.headers)[0]!, "ssoctl")!;
      expect(await verifyToken(token, { secrets: [KEY] })).toMatchObject({ anonymous: true, audience: OTHER_APP_URL });
    } finally {
      await same.close();
      await other.close();
    }
  });

  it("are never taken for a sign-in, even when they name a real user", async () => {
    const app = await startNodeApp(baseOptions());
    try {
      const token = await makeToken(KEY, { username: "alice", anonymous: true, audience: APP_URL });
      const response = await get(`${app.url}/private`, `ssoctl=${token}`);
      expect(response.status).toBe(302);
    } finally {
      await app.close();
    }
  });

  it.each(["anonymous", "Anonymous"])("refuse a sign-in token for the reserved name %s", async (username) => {
    const app = await startNodeApp(baseOptions());
    try {
      const response = await get(`${app.url}/private`, `ssoctl=${await makeToken(KEY, { username })}`);
      expect(response.status).toBe(302);
    } finally {
      await app.close();
    }
  });
});

describe("issuerOf", () => {
  it.each([
    ["http://127.0.0.1:8081/login", "http://127.0.0.1:8081"],
    ["https://login.example.com/login", "https://login.example.com"],
    ["https://LOGIN.example.com:443/login/", "https://login.example.com"],
    ["https://example.com/sso/login?theme=dark", "https://example.com/sso"],
    ["https://example.com/", "https://example.com"],
  ])("finds the login server's public URL (its iss) in %s", (loginUrl, issuer) => {
    expect(issuerOf(new URL(loginUrl))).toBe(issuer);
  });
});

function rawStatus(baseUrl: string, text: string): Promise<number> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(text));
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
  });
}
