/// <reference lib="dom" />
/**
 * Single sign-on in real Chromium: app one behind the Node guard, app two behind
 * nginx auth_request, one login server. Also the --no-redirect link page, anonymous
 * access, and screenshots of every page (desktop and phone, light and dark).
 */
import * as fs from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { launchChromium } from "./support/browser.js";
import { startGuardedApp, type RunningApp } from "./support/guarded-app.js";
import { startNginx, type RunningProxy } from "./support/nginx.js";
import { freePort } from "./support/processes.js";
import { startUpstream, type Echo, type RunningUpstream } from "./support/upstream.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Liddell", email: "alice@example.com", groups: ["staff"] };
const WRONG_PASSWORD_MESSAGE = "The username or password is incorrect.";
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");
// Several contexts sign in with a wrong password on purpose; keep the lock out of the way.
const LENIENT_THROTTLE = { user: { limit: 100, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 100, windowSeconds: 600, lockSeconds: 600 } };

describe("single sign-on in Chromium across two apps on different ports", () => {
  let data: TestDataDir;
  let server: RunningServer;
  /** The same data directory served with --no-redirect. */
  let linkServer: RunningServer;
  let app1: RunningApp;
  let upstream: RunningUpstream;
  let nginx: RunningProxy;
  let app2: string;
  let browser: Browser;

  beforeAll(async () => {
    const [port1, port2] = [await freePort(), await freePort()];
    const app1Url = `http://127.0.0.1:${port1}`;
    app2 = `http://127.0.0.1:${port2}`;
    data = await makeDataDir({ users: [ALICE], apps: [app1Url, app2] });
    server = await startServer(data, { throttle: LENIENT_THROTTLE });
    linkServer = await startServer(data, { redirect: false, throttle: LENIENT_THROTTLE });
    app1 = await startGuardedApp(port1, {
      loginUrl: `${server.url}/login`,
      appUrl: app1Url,
      secretKey: data.secret,
      logoutParameterName: "logout",
      anonymousParameterName: "guest",
    });
    upstream = await startUpstream();
    nginx = await startNginx({ loginUrl: server.url, upstreamUrl: upstream.url, port: port2 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await upstream?.close();
    await app1?.close();
    await linkServer?.close();
    await server?.close();
    data?.cleanup();
  });

  /** A fresh browser profile that records every CSP violation (console and securitypolicyviolation events). */
  async function newContext(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    const cspViolations: string[] = [];
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
      });
    });
    context.on("console", (message) => {
      const text = message.text();
      if (/Content Security Policy|CSP violation/i.test(text)) cspViolations.push(`${message.location().url}: ${text}`);
    });
    const page = await context.newPage();
    return { context, page, cspViolations };
  }

  async function submitLogin(page: Page, username: string, password: string): Promise<number> {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/login"),
      page.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
    await page.waitForLoadState("load");
    // Referrer-Policy: no-referrer would make Chromium send Origin: null here.
    expect(await response.request().headerValue("origin")).toBe(new URL(response.url()).origin);
    return response.status();
  }

  async function echoOf(page: Page): Promise<Echo> {
    return JSON.parse((await page.locator("body").innerText()).trim()) as Echo;
  }

  it("catches the form-action trap when it is there (the CSP watcher works)", async () => {
    // A page whose form-action allows only itself, posting to itself and redirected to app one:
    // what the login page would do without the app origins in form-action.
    const trap = createServer((req, res) => {
      if (req.method === "POST") {
        res.writeHead(303, { Location: `${app1.url}/?guest=1` });
        res.end();
        return;
      }
      res.writeHead(200, { "Content-Type": "text/html", "Content-Security-Policy": "default-src 'none'; form-action 'self'" });
      res.end('<!doctype html><form method="post" action="/"><button type="submit">Go</button></form>');
    });
    await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
    const { context, page, cspViolations } = await newContext();
    try {
      await page.goto(`http://127.0.0.1:${(trap.address() as AddressInfo).port}/`);
      await page.getByRole("button", { name: "Go" }).click();
      await expect.poll(() => cspViolations.length, { timeout: 5000 }).toBeGreaterThan(0);
      expect(cspViolations.join("\n")).toMatch(/form-action/);
    } finally {
      await context.close();
      trap.closeAllConnections();
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    }
  });

  it("signs in once on app one, is let into app two without a prompt, and logs out of both", async () => {
    const { context, page, cspViolations } = await newContext();
    try {
      // App one sends the browser to the login page, which names the app.
      const original = `${app1.url}/docs/intro?page=2&q=a%20b`;
      await page.goto(original);
      expect(page.url().startsWith(`${server.url}/login?`)).toBe(true);
      const asked = new URL(page.url()).searchParams;
      expect([asked.get("app"), asked.get("path"), asked.get("qs")]).toEqual([app1.url, "/docs/intro", "?page=2&q=a%20b"]);
      await expect(page.getByRole("heading", { name: "Sign in", exact: true }).isVisible()).resolves.toBe(true);
      expect(await page.locator(".lead").innerText()).toContain(`127.0.0.1:${new URL(app1.url).port}`);

      // A wrong password: the generic message in role="alert", the username kept.
      expect(await submitLogin(page, "alice", "not the password")).toBe(401);
      const alert = page.getByRole("alert");
      expect(await alert.isVisible()).toBe(true);
      expect((await alert.innerText()).trim()).toBe(WRONG_PASSWORD_MESSAGE);
      expect(await page.getByLabel("Username").inputValue()).toBe("alice");

      // The right password: back on app one at the original path and query.
      expect(await submitLogin(page, "alice", ALICE.password)).toBe(303);
      await page.waitForURL(original);
      expect(await page.locator("#user").innerText()).toBe("alice");
      expect(await page.locator("#path").innerText()).toBe("/docs/intro?page=2&q=a%20b");

      // App two (nginx, another port) recognises the login: single sign-on.
      const response = await page.goto(`${app2}/reports?year=2024`);
      expect(response?.status()).toBe(200);
      expect(page.url()).toBe(`${app2}/reports?year=2024`);
      const echo = await echoOf(page);
      expect(echo.url).toBe("/reports?year=2024");
      expect(echo.remote["remote-user"]).toBe("alice");
      expect(echo.remote["remote-name"]).toBe("Alice Liddell");

      // Log out through app one's logout parameter: the session ends, the cookie is gone, app one asks for a login.
      await page.goto(`${app1.url}/?logout=1`);
      await page.waitForURL((url) => url.origin === server.url && url.pathname === "/login");
      expect(new URL(page.url()).searchParams.get("app")).toBe(app1.url);
      expect((await context.cookies()).find((c) => c.name === "ssoctl")).toBeUndefined();
      expect(await server.store.listSessions({ username: "alice" }, Math.floor(Date.now() / 1000))).toEqual([]);

      // App two asks for a login again.
      await page.goto(`${app2}/reports?year=2024`);
      expect(page.url()).toBe(`${server.url}/login?rd=${encodeURIComponent(`${app2}/reports?year=2024`)}`);
      expect(await page.getByLabel("Password").isVisible()).toBe(true);

      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  /** What the login server still accepts after a logout through the guard; read by the next test. */
  let afterGuardLogout: { liveSessions: number; staleCookieLandsOn: string } | undefined;

  it("logs out through the guard's logout parameter and lands on the login page", async () => {
    const { context, page, cspViolations } = await newContext();
    try {
      await page.goto(`${app2}/`);
      expect(await submitLogin(page, "alice", ALICE.password)).toBe(303);
      await page.waitForURL(`${app2}/`);
      const stale = (await context.cookies()).find((c) => c.name === "ssoctl");
      expect(stale).toBeDefined();
      await page.goto(`${app1.url}/?logout=1`);
      await page.waitForURL((url) => url.origin === server.url && url.pathname === "/login");
      expect((await context.cookies()).find((c) => c.name === "ssoctl")).toBeUndefined();
      // Replay a copy of the old cookie, as a stolen one would be.
      await context.addCookies([stale!]);
      await page.goto(`${app2}/`);
      afterGuardLogout = {
        liveSessions: (await server.store.listSessions({ username: "alice" }, Math.floor(Date.now() / 1000))).length,
        staleCookieLandsOn: page.url(),
      };
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  // The guard must not clear the cookie before the login server has read it (fixed in 0bfbb80).
  it("ends the session at the login server on a logout through the guard, so a copy of the cookie stops working", () => {
    expect(afterGuardLogout).toBeDefined();
    expect(afterGuardLogout!.liveSessions).toBe(0);
    expect(afterGuardLogout!.staleCookieLandsOn.startsWith(`${server.url}/login?rd=`)).toBe(true);
  });

  it("lets a guest into app one with the anonymous parameter, but not into app two, nor into a guarded app beside it", async () => {
    const { context, page, cspViolations } = await newContext();
    // App three: the Node guard on another port of the same host, so the browser sends it app one's
    // cookie too, with no anonymous access of its own.
    const port3 = await freePort();
    const app3 = await startGuardedApp(port3, { loginUrl: `${server.url}/login`, appUrl: `http://127.0.0.1:${port3}`, secretKey: data.secret });
    try {
      await page.goto(`${app1.url}/?guest=1`);
      expect(page.url()).toBe(`${app1.url}/?guest=1`);
      expect(await page.locator("#user").innerText()).toBe("anonymous");
      expect(await page.locator("#anonymous").innerText()).toBe(" (anonymous)");
      // The anonymous cookie carries the guest to other pages of app one.
      await page.goto(`${app1.url}/elsewhere`);
      expect(await page.locator("#user").innerText()).toBe("anonymous");
      // An anonymous token is not a login for forward auth.
      await page.goto(`${app2}/`);
      expect(page.url()).toBe(`${server.url}/login?rd=${encodeURIComponent(`${app2}/`)}`);
      // Nor at another guarded app: it names app one, the only app that accepts it.
      await page.goto(`${app3.url}/private`);
      expect(page.url().startsWith(`${server.url}/login?app=${encodeURIComponent(app3.url)}&path=%2Fprivate`)).toBe(true);
      expect(await page.locator("#user").count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
      await app3.close();
    }
  });

  it("with --no-redirect shows a page with a link to the app instead of redirecting", async () => {
    const { context, page, cspViolations } = await newContext();
    try {
      const target = `${app1.url}/welcome?from=link`;
      await page.goto(`${linkServer.url}/login?rd=${encodeURIComponent(target)}`);
      expect(await submitLogin(page, "alice", ALICE.password)).toBe(200);
      expect(page.url()).toBe(`${linkServer.url}/login`);
      expect(await page.getByRole("heading", { name: "You’re signed in" }).isVisible()).toBe(true);
      const link = page.getByRole("link", { name: /Continue/ });
      expect(await link.getAttribute("href")).toBe(target);
      await link.click();
      await page.waitForURL(target);
      expect(await page.locator("#user").innerText()).toBe("alice");
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  const layouts = [
    { device: "desktop", viewport: { width: 1280, height: 800 }, isMobile: false },
    { device: "phone", viewport: { width: 375, height: 740 }, isMobile: true },
  ] as const;
  const schemes = ["light", "dark"] as const;
  const cases = layouts.flatMap((layout) => schemes.map((scheme) => [`${layout.device}-${scheme}`, layout, scheme] as const));

  it.each(cases)("screenshots every page (%s)", async (label, layout, scheme) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const { context, page, cspViolations } = await newContext({
      viewport: layout.viewport,
      isMobile: layout.isMobile,
      hasTouch: layout.isMobile,
      deviceScaleFactor: layout.isMobile ? 2 : 1,
      colorScheme: scheme,
    });
    const shot = async (name: string): Promise<void> => {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
    };
    try {
      await page.goto(`${server.url}/login?rd=${encodeURIComponent(`${app1.url}/`)}`);
      await shot("login");
      expect(await submitLogin(page, "alice", "not the password")).toBe(401);
      await shot("login-error");

      // No target: the signed-in page, with its sign-out button, then the logout page.
      await page.goto(`${server.url}/login`);
      expect(await submitLogin(page, "alice", ALICE.password)).toBe(303);
      expect(await page.getByRole("button", { name: "Sign out" }).isVisible()).toBe(true);
      await shot("signed-in");
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForLoadState("load");
      expect(await page.getByRole("heading", { name: "You have been signed out" }).isVisible()).toBe(true);
      await shot("logout");

      await page.goto(`${linkServer.url}/login?rd=${encodeURIComponent(`${app1.url}/`)}`);
      expect(await submitLogin(page, "alice", ALICE.password)).toBe(200);
      await shot("success");

      // Nothing on a phone may need sideways scrolling.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
