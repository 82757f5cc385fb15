/**
 * After signing out, Back and reload in real Chromium must not show a protected page from the
 * browser's cache: behind real nginx configured with README's snippet exactly, the app's page is
 * asked for again, and nginx sends the browser to sign in. The app itself sends no cache headers
 * (as most apps do), only a Last-Modified that invites the browser to keep its copy.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { launchChromium } from "./support/browser.js";
import { hostPort, startNginx, type RunningProxy } from "./support/nginx.js";
import { freePort } from "./support/processes.js";
import { readmeNginx } from "./support/readme.js";

const ALICE = { username: "alice", password: "correct horse battery" };

describe("Back and reload after signing out, in Chromium behind nginx", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let app: Server;
  let nginx: RunningProxy;
  let browser: Browser;
  let appUrl: string;
  let appRequests = 0;

  beforeAll(async () => {
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    data = await makeDataDir({ users: [ALICE], apps: [appUrl] });
    server = await startServer(data);
    app = createServer((req, res) => {
      appRequests += 1;
      const user = String(req.headers["remote-user"] ?? "");
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Last-Modified": new Date(Date.now() - 86_400_000).toUTCString() });
      res.end(`<!doctype html><title>Secret</title><h1>Payroll of ${user}</h1><a href="${server.url}/logout">Sign out</a>`);
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const upstream = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    nginx = await startNginx({ loginUrl: server.url, upstreamUrl: upstream, port, snippet: readmeNginx({ login: hostPort(server.url), upstream: hostPort(upstream), appPort: port }) });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await new Promise((resolve) => app?.close(resolve));
    await server?.close();
    data?.cleanup();
  });

  it("shows the sign-in page, never the cached protected page", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${appUrl}/payroll`);
      await page.getByLabel("Username").fill(ALICE.username);
      await page.getByLabel("Password").fill(ALICE.password);
      await Promise.all([page.waitForURL(`${appUrl}/payroll`), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
      await expect(page.getByRole("heading", { name: "Payroll of alice" }).isVisible()).resolves.toBe(true);

      await Promise.all([page.waitForLoadState("load"), page.getByRole("link", { name: "Sign out" }).click()]);
      expect(page.url().startsWith(server.url)).toBe(true);
      const before = appRequests;

      // Back: the protected page again, which must be asked for (and refused), not taken from the cache.
      await page.goBack({ waitUntil: "load" });
      expect(new URL(page.url()).pathname).toBe("/login");
      expect(await page.content()).not.toContain("Payroll of alice");
      await expect(page.getByLabel("Password").isVisible()).resolves.toBe(true);

      // Back once more, and reload: the sign-in page each time.
      await page.goBack({ waitUntil: "load" });
      await page.reload({ waitUntil: "load" });
      expect(await page.content()).not.toContain("Payroll of alice");
      // Nothing reached the app: nginx refused each request before it.
      expect(appRequests).toBe(before);
    } finally {
      await context.close();
    }
  });
});
