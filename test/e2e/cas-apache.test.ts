/**
 * Apache httpd with Debian's mod_auth_cas against ssoctl's CAS endpoints, with Chromium: for CAS 3,
 * CAS 2 and CAS 1 validation, a protected page → ssoctl's sign-in → back with REMOTE_USER and the
 * attributes; signed in → no prompt; `Require cas-attribute memberOf:staff`; ssoctl logout (and a
 * revocation from the command line) ends the Apache session through single logout (CASSSOEnabled On).
 * Apache runs README's "CAS apps" block as written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { startApacheCas, type CasFlavour, type RunningApache } from "./support/apache.js";
import { launchChromium } from "./support/browser.js";

const ALICE = { username: "alice", password: "correct horse", name: "Alice <&> Liddell", email: "alice@example.com", groups: ["staff", "admins"] };
const BOB = { username: "bob", password: "bob's password" };

describe.each([3, 2, 1] as CasFlavour[])("Apache mod_auth_cas, CAS %i validation", (flavour) => {
  let data: TestDataDir;
  let server: RunningServer;
  let apache: RunningApache;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB] });
    server = await startServer(data);
    apache = await startApacheCas({ loginServer: server.url, flavour });
    await server.store.addApp({ name: "Apache", origin: apache.origin }, Math.floor(Date.now() / 1000));
    browser = await launchChromium();
    const context = await browser.newContext();
    alice = { context, page: await context.newPage() };
  });
  afterAll(async () => {
    await browser?.close();
    await apache?.stop();
    await server?.close();
    data?.cleanup();
  });

  /** What a failing step shows: Apache's error log (mod_auth_cas at debug) and ssoctl's audit lines. */
  function logs(): string {
    return `\n--- apache error.log ---\n${apache.errorLog()}\n--- ssoctl audit ---\n${server.auditLines.join("")}`;
  }

  async function signInOnForm(page: Page, user: { username: string; password: string }): Promise<void> {
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/cas/login");
    await page.getByLabel("Username").fill(user.username);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }

  async function bodyText(page: Page): Promise<string> {
    return (await page.locator("body").innerText()).trim();
  }

  it("sends a visitor to ssoctl's sign-in and back to the page with REMOTE_USER and the attributes", async () => {
    const page = alice.page;
    await page.goto(`${apache.origin}/secure/env.sh`);
    await signInOnForm(page, ALICE);
    await page.waitForURL(`${apache.origin}/secure/env.sh`);
    const text = await bodyText(page);
    expect(text, logs()).toContain("REMOTE_USER=alice");
    expect(text).toContain("HTTP_CAS_USER=alice");
    if (flavour !== 1) {
      expect(text).toContain("HTTP_CAS_DISPLAYNAME=Alice <&> Liddell");
      expect(text).toContain("HTTP_CAS_MAIL=alice@example.com");
      expect(text).toContain("HTTP_CAS_MEMBEROF=staff,admins");
    }
  });

  it("lets a signed-in user into another protected page without a prompt", async () => {
    const page = alice.page;
    const path = flavour === 1 ? "/secure/env.sh?second=1" : "/staff/env.sh";
    const response = await page.goto(`${apache.origin}${path}`);
    await page.waitForURL(`${apache.origin}${path}`);
    expect(response?.status()).toBe(200);
    expect(await bodyText(page), logs()).toContain("REMOTE_USER=alice");
    // The only stop at ssoctl was /cas/login answering with the ticket.
    expect(server.auditLines.filter((l) => l.includes('"login.success"'))).toHaveLength(1);
  });

  // CAS 1 carries no attributes, so `Require cas-attribute` is tested with CAS 2 and 3.
  if (flavour !== 1) it("keeps a user outside memberOf:staff out of the staff pages", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${apache.origin}/staff/env.sh`);
      await signInOnForm(page, BOB);
      await page.waitForURL((url) => url.origin === apache.origin && url.pathname === "/staff/env.sh");
      const text = await bodyText(page);
      expect(text, logs()).not.toContain("REMOTE_USER=");
      const status = await page.evaluate(async () => (await fetch(location.href)).status);
      expect([401, 403]).toContain(status);
    } finally {
      await context.close();
    }
  });

  it("ends the Apache session when the user signs out of ssoctl (single logout)", async () => {
    const page = alice.page;
    await page.goto(`${server.url}/cas/logout?service=${encodeURIComponent(`${apache.origin}/nothing`)}`);
    await expect
      .poll(() => server.auditLines.filter((l) => l.includes('"cas.single_logout"') && l.includes('"sent"')).length, { timeout: 10_000 })
      // One ticket per Apache session: /secure/ and /staff/ (CAS 2/3), /secure/ alone (CAS 1).
      .toBe(flavour === 1 ? 1 : 2);
    // Apache no longer accepts its own cookie: it sends the browser to ssoctl, which asks for the password.
    await page.goto(`${apache.origin}/secure/env.sh`);
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/cas/login");
    expect(await page.getByLabel("Password").count(), logs()).toBe(1);
  });

  it("ends the Apache session when the ssoctl session is revoked from the command line (the sweep)", async () => {
    const page = alice.page;
    await signInOnForm(page, ALICE);
    await page.waitForURL(`${apache.origin}/secure/env.sh`);
    expect(await bodyText(page)).toContain("REMOTE_USER=alice");
    // What `ssoctl session revoke --user alice` does: another connection deletes the rows.
    await server.store.deleteUserSessions("alice");
    await server.login.casSingleLogout.sweep(Math.floor(Date.now() / 1000));
    await page.goto(`${apache.origin}/secure/env.sh`);
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/cas/login");
    expect(await page.getByLabel("Password").count(), logs()).toBe(1);
  });
});
