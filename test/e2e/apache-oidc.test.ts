/**
 * Apache with Debian's mod_auth_openidc signs in through ssoctl, in real Chromium: the configuration
 * README's "OpenID Connect apps" section gives. Two Apache sites are two OIDC clients, so the second
 * sign-in goes through ssoctl too (and must show no page). Screenshots in test-artifacts/screenshots.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { registerClient } from "../oidc/support.js";
import { redirectUriOf, signedOutUriOf, startApache, type OidcSite } from "./support/apache-oidc.js";
import { launchChromium } from "./support/browser.js";
import { freePort, type RunningProgram } from "./support/processes.js";

const SCREENSHOTS = path.resolve("test-artifacts/screenshots");
const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Liddell", email: "alice@example.com", groups: ["staff", "dev"] };
const BOB = { username: "bob", password: "bob's good password", name: "Bob", email: "bob@example.com", groups: ["guests"] };

describe("Apache mod_auth_openidc signs in through ssoctl", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let apache: RunningProgram & { errorLog(): string };
  let browser: Browser;
  let siteA: OidcSite;
  let siteB: OidcSite;

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const [portA, portB] = [await freePort(), await freePort()];
    data = await makeDataDir({ users: [ALICE, BOB] });
    server = await startServer(data);
    const sites: OidcSite[] = [];
    for (const [name, origin, port] of [["apache-a", `http://127.0.0.1:${portA}`, portA], ["apache-b", `http://localhost:${portB}`, portB]] as const) {
      const { clientId, secret } = await registerClient(server.store, { name, redirectUris: [redirectUriOf({ origin })], postLogoutUris: [signedOutUriOf({ origin })] });
      sites.push({ origin, port, clientId, clientSecret: secret!, cookie: `${name.replace("-", "_")}_session` });
    }
    [siteA, siteB] = sites as [OidcSite, OidcSite];
    apache = await startApache({ issuer: server.url, sites });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await apache?.stop();
    await server?.close();
    data?.cleanup();
  });

  /** Goes to `url` and records every document the browser loaded on the way. */
  async function visit(page: Page, url: string): Promise<string[]> {
    const documents: string[] = [];
    const listener = (response: { url(): string; status(): number; request(): { resourceType(): string } }): void => {
      if (response.request().resourceType() === "document") documents.push(`${response.status()} ${response.url()}`);
    };
    page.on("response", listener);
    try {
      await page.goto(url);
      await page.waitForLoadState("load");
    } finally {
      page.off("response", listener);
    }
    return documents;
  }

  async function signInOnSsoctl(page: Page, user: { username: string; password: string }): Promise<void> {
    expect(page.url()).toContain(`${server.url}/login?`);
    await page.getByLabel("Username").fill(user.username);
    await page.getByLabel("Password").fill(user.password);
    await Promise.all([page.waitForURL((u) => !u.href.startsWith(`${server.url}/`)), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
  }

  it("a protected page → ssoctl's login → back with REMOTE_USER and the claims; a second site needs no page; staff only for staff; logout", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      // 1. A protected Apache page sends the browser through ssoctl's own login page.
      await visit(page, `${siteA.origin}/secure/env.sh`);
      await page.screenshot({ path: path.join(SCREENSHOTS, "oidc-apache-login.png"), fullPage: true });
      await signInOnSsoctl(page, ALICE);
      expect(page.url()).toBe(`${siteA.origin}/secure/env.sh`);
      const body = await page.locator("pre").innerText();
      expect(body).toContain("REMOTE_USER=alice");
      expect(body).toContain("OIDC_CLAIM_email=alice@example.com");
      expect(body).toContain("OIDC_CLAIM_name=Alice Liddell");
      expect(body).toMatch(/OIDC_CLAIM_groups=staff,dev/);
      expect(body).toMatch(/OIDC_CLAIM_amr=pwd/);
      await page.screenshot({ path: path.join(SCREENSHOTS, "oidc-apache-signed-in.png"), fullPage: true });

      // 2. Another site (another client) already signed in at ssoctl: no page on the way.
      const documents = await visit(page, `${siteB.origin}/secure/env.sh`);
      expect(page.url()).toBe(`${siteB.origin}/secure/env.sh`);
      expect(await page.locator("pre").innerText()).toContain("REMOTE_USER=alice");
      expect(documents.filter((d) => d.startsWith("200 ") && d.includes(server.url))).toEqual([]);

      // 3. `Require claim groups:staff` lets alice in.
      await visit(page, `${siteA.origin}/staff/env.sh`);
      expect(await page.locator("pre").innerText()).toContain("REMOTE_USER=alice");

      // 4. Logout through mod_auth_openidc: ssoctl asks once, ends its session, returns to the registered URI.
      await visit(page, `${redirectUriOf(siteA)}?logout=${encodeURIComponent(signedOutUriOf(siteA))}`);
      expect(page.url()).toContain(`${server.url}/oidc/session/end`);
      await page.screenshot({ path: path.join(SCREENSHOTS, "oidc-apache-logout.png"), fullPage: true });
      await Promise.all([page.waitForURL((u) => u.href.startsWith(signedOutUriOf(siteA))), page.getByRole("button", { name: "Sign out" }).click()]);
      const cookies = await context.cookies(server.url);
      expect(cookies.find((c) => c.name === "ssoctl")).toBeUndefined();

      // Signed out at ssoctl: the protected page asks for the password again, no silent sign-in.
      await visit(page, `${siteA.origin}/secure/env.sh`);
      expect(page.url()).toContain(`${server.url}/login?`);
      expect(await page.getByLabel("Password").count()).toBe(1);
    } catch (error) {
      process.stderr.write(`Apache error log:\n${apache.errorLog()}\n`);
      throw error;
    } finally {
      await context.close();
    }
  });

  it("`Require claim groups:staff` refuses a user outside the group", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await visit(page, `${siteA.origin}/staff/env.sh`);
      await signInOnSsoctl(page, BOB);
      await page.waitForLoadState("load");
      expect(page.url()).toBe(`${siteA.origin}/staff/env.sh`);
      expect(await page.content()).not.toContain("REMOTE_USER=bob");
      // mod_auth_openidc answers 401 for a failed claim requirement.
      const response = await page.reload();
      expect([401, 403]).toContain(response!.status());
    } catch (error) {
      process.stderr.write(`Apache error log:\n${apache.errorLog()}\n`);
      throw error;
    } finally {
      await context.close();
    }
  });
});
