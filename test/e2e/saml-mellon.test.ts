/**
 * Apache httpd with Debian's mod_auth_mellon (two sites, two SPs) against ssoctl's SAML IdP, with
 * Chromium: a protected page → ssoctl's sign-in → back with the attributes; the second SP without
 * a prompt; `MellonCond groups staff`; single logout from ssoctl ends both Mellon sessions.
 * Apache runs README's "SAML apps" block as written. The SPs are registered with the real CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { request } from "undici";
import { makeDataDir, runCli, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { startApacheMellon, type RunningMellon } from "./support/apache-mellon.js";
import { launchChromium } from "./support/browser.js";

const ALICE = { username: "alice", password: "correct horse", name: "Alice Liddell", email: "alice@example.com", groups: ["staff", "admins"] };
const BOB = { username: "bob", password: "bob's password", name: "Bob", email: "bob@example.com", groups: [] };

describe("Apache mod_auth_mellon", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let wiki: RunningMellon;
  let crm: RunningMellon;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB] });
    server = await startServer(data);
    const idp = await request(`${server.url}/saml/metadata`);
    const idpMetadata = await idp.body.text();
    wiki = await startApacheMellon({ idpMetadata });
    crm = await startApacheMellon({ idpMetadata });
    for (const site of [wiki, crm]) {
      const env = { ...process.env, SSOCTL_DATA_DIR: data.dataDir.dir };
      const added = await runCli(["app", "add", site.origin], { env });
      expect(added.code, added.stderr).toBe(0);
      const sp = await runCli(["saml", "add", site.origin, "--metadata", site.metadataFile], { env });
      expect(sp.code, sp.stderr).toBe(0);
      expect(sp.stdout).toContain(`Added SAML SP ${site.entityId}`);
    }
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await wiki?.stop();
    await crm?.stop();
    await server?.close();
    data?.cleanup();
  });

  function logs(): string {
    return `\n--- wiki error.log ---\n${wiki.errorLog().slice(-4000)}\n--- crm error.log ---\n${crm.errorLog().slice(-3000)}\n--- ssoctl audit ---\n${server.auditLines.join("")}`;
  }

  async function bodyText(): Promise<string> {
    return (await page.locator("body").innerText()).trim();
  }

  it("sends a visitor to ssoctl's sign-in and back to the page with the attributes", async () => {
    await page.goto(`${wiki.origin}/secure/env.sh`);
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/saml/continue");
    await page.getByLabel("Username").fill(ALICE.username);
    await page.getByLabel("Password").fill(ALICE.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${wiki.origin}/secure/env.sh`);
    const text = await bodyText();
    expect(text, logs()).toContain("REMOTE_USER=alice");
    expect(text).toContain("MELLON_mail=alice@example.com");
    expect(text).toContain("MELLON_displayName=Alice Liddell");
    expect(text).toMatch(/MELLON_groups(_0)?=staff/);
  });

  it("signs the user into a second SP without a prompt", async () => {
    const logins = server.auditLines.filter((l) => l.includes('"login.success"')).length;
    await page.goto(`${crm.origin}/secure/env.sh`);
    await page.waitForURL(`${crm.origin}/secure/env.sh`);
    expect(await bodyText(), logs()).toContain("REMOTE_USER=alice");
    expect(server.auditLines.filter((l) => l.includes('"login.success"'))).toHaveLength(logins);
    expect(server.auditLines.filter((l) => l.includes('"saml.assertion"'))).toHaveLength(2);
  });

  it("admits a member of the group MellonCond names, and refuses someone else", async () => {
    const staff = await page.goto(`${wiki.origin}/staff/env.sh`);
    expect(staff?.status(), logs()).toBe(200);
    expect(await bodyText()).toContain("REMOTE_USER=alice");

    const other = await browser.newContext();
    const bobPage = await other.newPage();
    await bobPage.goto(`${crm.origin}/staff/env.sh`);
    await bobPage.waitForURL((url) => url.origin === server.url && url.pathname === "/saml/continue");
    await bobPage.getByLabel("Username").fill(BOB.username);
    await bobPage.getByLabel("Password").fill(BOB.password);
    const [answer] = await Promise.all([
      bobPage.waitForResponse((r) => r.url().startsWith(`${crm.origin}/staff/`)),
      bobPage.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
    expect(answer.status(), logs()).toBe(403);
    await other.close();
  });

  it("ends both Mellon sessions when the user signs out of ssoctl", async () => {
    const aliceSession = (JSON.parse(server.auditLines.find((l) => l.includes('"login.success"') && l.includes('"alice"'))!) as { session: string }).session;
    await page.goto(`${server.url}/logout`);
    const sent = (): Array<{ sp: string; session: string }> => server.auditLines.filter((l) => l.includes('"saml.single_logout"') && l.includes('"sent"')).map((l) => JSON.parse(l));
    // One LogoutRequest per assertion issued in the session (Mellon made a session for each).
    const assertions = server.auditLines.filter((l) => l.includes('"saml.assertion"') && l.includes(aliceSession)).length;
    await expect.poll(() => sent().filter((e) => e.session === aliceSession).length, { timeout: 10_000 }).toBe(assertions);
    expect(new Set(sent().map((e) => e.sp))).toEqual(new Set([wiki.entityId, crm.entityId]));
    // Only the session that ended: bob, still signed in, is told nothing.
    expect(sent().filter((e) => e.session !== aliceSession), logs()).toEqual([]);
    for (const site of [wiki, crm]) {
      await page.goto(`${site.origin}/secure/env.sh`);
      await page.waitForURL((url) => url.origin === server.url, { timeout: 10_000 });
      expect(new URL(page.url()).pathname, logs()).toBe("/saml/continue");
    }
  });

  it("signs out of ssoctl too when the user signs out at Mellon (/mellon/logout through /saml/slo)", async () => {
    await page.goto(`${wiki.origin}/secure/env.sh`);
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/saml/continue");
    await page.getByLabel("Username").fill(ALICE.username);
    await page.getByLabel("Password").fill(ALICE.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${wiki.origin}/secure/env.sh`);
    await page.goto(`${wiki.origin}/mellon/logout?ReturnTo=${encodeURIComponent(`${wiki.origin}/nothing`)}`);
    await page.waitForURL(`${wiki.origin}/nothing`);
    expect(server.auditLines.filter((l) => l.includes('"saml.logout"')), logs()).toHaveLength(1);
    // ssoctl's session is over too: the other SP asks for the password again.
    await page.goto(`${crm.origin}/secure/env.sh`);
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/saml/continue");
    expect(await page.getByLabel("Password").count()).toBe(1);
  });
});
