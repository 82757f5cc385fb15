/// <reference lib="dom" />
/**
 * The second factor in real Chromium on http://localhost (WebAuthn refuses IP addresses):
 * enrol an authenticator app with a code computed here, sign out, sign in with password + code;
 * register a passkey with a CDP virtual authenticator, sign out, sign in with the passkey alone.
 * Screenshots of every new page, desktop and phone, light and dark.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { issueInvitation } from "../../src/factors/invitations.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { launchChromium } from "./support/browser.js";
import { freePort } from "./support/processes.js";
import { startNginx, type RunningProxy } from "./support/nginx.js";
import { startUpstream, type Echo, type RunningUpstream } from "./support/upstream.js";

const BOB = { username: "bob", password: "bob's long password", name: "Bob Builder", groups: ["staff", "ops"] };
const CAROL = { username: "carol", password: "carol's long password", name: "Carol" };
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");

describe("second factor and passkeys in Chromium", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    data = await makeDataDir({ users: [BOB, CAROL] });
    server = await startServer(data, { port, publicUrl: base, title: "Example SSO" });
    browser = await launchChromium();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    data?.cleanup();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const cspViolations: string[] = [];
    context.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    return { context, page: await context.newPage(), cspViolations };
  }

  /** Desktop light, desktop dark, phone dark. */
  async function shoot(page: Page, name: string): Promise<void> {
    const size = page.viewportSize()!;
    await page.emulateMedia({ colorScheme: "light" });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-desktop-light.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-desktop-dark.png`), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-phone-dark.png`), fullPage: true });
    await page.setViewportSize(size);
    await page.emulateMedia({ colorScheme: "light" });
  }

  async function passwordStep(page: Page, user: { username: string; password: string }): Promise<void> {
    await page.goto(`${base}/login`);
    await page.getByLabel("Username").fill(user.username);
    await page.getByLabel("Password").fill(user.password);
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
  }

  async function loginToken(context: BrowserContext): Promise<Record<string, unknown> | null> {
    const cookie = (await context.cookies(base)).find((c) => c.name === "ssoctl");
    return cookie === undefined ? null : decodeJwt(cookie.value);
  }

  it("enrols an authenticator app on the account page, then signs in with password and code", async () => {
    const { context, page, cspViolations } = await newPage();
    try {
      await passwordStep(page, BOB);
      await page.goto(`${base}/account`);
      await expect(page.getByRole("heading", { name: "Your account" }).isVisible()).resolves.toBe(true);
      await expect(page.getByText("staff, ops").isVisible()).resolves.toBe(true);
      await shoot(page, "account");
      await page.getByRole("button", { name: "Set up an authenticator app" }).click();
      await page.waitForLoadState("load");
      await expect(page.getByRole("img", { name: /QR code/ }).isVisible()).resolves.toBe(true);
      await shoot(page, "totp-enrol");
      const secret = (await page.locator("#totp-secret").innerText()).replace(/\s/g, "");
      const key = base32Decode(secret)!;
      const enrolStep = totpStep(Math.floor(Date.now() / 1000));
      await page.getByLabel("Code from the app").fill(hotp(key, enrolStep));
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Confirm" }).click()]);
      await expect(page.getByRole("heading", { name: "Your recovery codes" }).isVisible()).resolves.toBe(true);
      expect(await page.locator(".codes li").count()).toBe(10);
      await shoot(page, "recovery-codes");
      expect((await loginToken(context))?.amr).toEqual(["pwd", "otp"]);

      // Sign out, then the password alone is not a login.
      await page.goto(`${base}/account`);
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Sign out" }).last().click()]);
      expect(await loginToken(context)).toBeNull();
      await passwordStep(page, BOB);
      await expect(page.getByRole("heading", { name: "Two-step verification" }).isVisible()).resolves.toBe(true);
      expect(await loginToken(context)).toBeNull();
      await shoot(page, "code");
      // The enrolment code's step is used up: the next step's code (inside the window) signs in.
      await page.getByLabel("Code from your authenticator app").fill(hotp(key, enrolStep));
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Verify" }).click()]);
      await expect(page.getByText("already used").isVisible()).resolves.toBe(true);
      await shoot(page, "code-error");
      await page.getByLabel("Code from your authenticator app").fill(hotp(key, enrolStep + 1));
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Verify" }).click()]);
      await expect(page.getByRole("heading", { name: "You’re signed in" }).isVisible()).resolves.toBe(true);
      expect((await loginToken(context))?.amr).toEqual(["pwd", "otp"]);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("registers a passkey with a virtual authenticator, then signs in with the passkey alone", async () => {
    const { context, page, cspViolations } = await newPage();
    try {
      const cdp = await context.newCDPSession(page);
      await cdp.send("WebAuthn.enable", { enableUI: false });
      const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await passwordStep(page, CAROL);
      await page.goto(`${base}/account`);
      await page.getByRole("button", { name: "Add a passkey" }).click();
      await page.waitForLoadState("load");
      await expect(page.getByRole("heading", { name: "Add a passkey" }).isVisible()).resolves.toBe(true);
      await shoot(page, "passkey-add");
      await page.getByLabel("Name for this passkey").fill("Test laptop");
      await Promise.all([page.waitForURL(`${base}/account?done=passkey_added`), page.getByRole("button", { name: "Create passkey" }).click()]);
      await expect(page.getByText("Test laptop").first().isVisible()).resolves.toBe(true);
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]!.isResidentCredential).toBe(true);
      expect(await server.store.factors.getSetting("webauthn_rp_id")).toBe("localhost");
      await shoot(page, "account-passkey");

      // Rename it.
      await page.getByLabel("New name for Test laptop").fill("Work laptop");
      await Promise.all([page.waitForURL(`${base}/account?done=passkey_renamed`), page.getByRole("button", { name: "Rename" }).click()]);
      await expect(page.getByText("Work laptop").first().isVisible()).resolves.toBe(true);

      // Sign out; sign in with the passkey alone.
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Sign out" }).last().click()]);
      expect(await loginToken(context)).toBeNull();
      await page.goto(`${base}/login`);
      await shoot(page, "login-with-passkey");
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Sign in with a passkey" }).click()]);
      await shoot(page, "passkey-sign-in");
      await Promise.all([page.waitForURL(`${base}/login`), page.getByRole("button", { name: "Use a passkey" }).click()]);
      await expect(page.getByRole("heading", { name: "You’re signed in" }).isVisible()).resolves.toBe(true);
      const token = await loginToken(context);
      expect(token?.sub).toBe("carol");
      expect(token?.amr).toEqual(["hwk"]);
      const [stored] = await server.store.factors.listPasskeys("carol");
      expect(stored?.lastUsedAt).not.toBeNull();

      // Removed: the same passkey no longer signs in.
      await page.goto(`${base}/account`);
      await Promise.all([page.waitForURL(`${base}/account?done=passkey_removed`), page.getByRole("button", { name: "Remove" }).click()]);
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Sign out" }).last().click()]);
      await page.goto(`${base}/login`);
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Sign in with a passkey" }).click()]);
      await Promise.all([page.waitForURL(`${base}/login/passkey/finish`), page.getByRole("button", { name: "Use a passkey" }).click()]);
      await expect(page.getByText("not registered here").isVisible()).resolves.toBe(true);
      await shoot(page, "passkey-unknown");
      expect(await loginToken(context)).toBeNull();
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("an invitation link sets the password and offers a second factor; used again, it says so", async () => {
    const { context, page, cspViolations } = await newPage();
    try {
      const user = await server.store.createUser({ username: "dave", name: "Dave", email: "", groups: [], passwordHash: "" }, Math.floor(Date.now() / 1000));
      const { path: invitePath } = await issueInvitation(server.store, user, 3600, Math.floor(Date.now() / 1000));
      await page.goto(`${base}${invitePath}`);
      await expect(page.getByRole("heading", { name: "Choose your password" }).isVisible()).resolves.toBe(true);
      await shoot(page, "invite");
      await page.getByLabel("New password").fill("dave's own password");
      await page.getByLabel("Repeat the password").fill("dave's own password");
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Set password and sign in" }).click()]);
      await expect(page.getByRole("heading", { name: "Your password is set" }).isVisible()).resolves.toBe(true);
      expect((await loginToken(context))?.sub).toBe("dave");
      await shoot(page, "invite-done");
      await page.goto(`${base}${invitePath}`);
      await expect(page.getByRole("heading", { name: "This link no longer works" }).isVisible()).resolves.toBe(true);
      await shoot(page, "invite-used");
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  describe("a two_factor app behind nginx", () => {
    let upstream: RunningUpstream;
    let nginx: RunningProxy;
    let app: string;

    beforeAll(async () => {
      const port = await freePort();
      app = `http://localhost:${port}`;
      upstream = await startUpstream();
      nginx = await startNginx({ loginUrl: server.url, upstreamUrl: upstream.url, port });
      await server.store.addApp({ name: "Admin console", origin: app, policy: "two_factor" }, Math.floor(Date.now() / 1000));
      await server.store.createUser({ username: "erin", name: "Erin", email: "", groups: [], passwordHash: (await server.store.getUser("bob"))!.passwordHash }, Math.floor(Date.now() / 1000));
    });
    afterAll(async () => {
      await nginx?.stop();
      await upstream?.close();
    });

    it("refuses a password-only session and lets it in after the code", async () => {
      const { context, page, cspViolations } = await newPage();
      try {
        // Signed in with the password alone (no app enrolled yet).
        await passwordStep(page, { username: "erin", password: BOB.password });
        expect((await loginToken(context))?.amr).toEqual(["pwd"]);
        const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        await server.store.factors.setTotp("erin", secret, [], Math.floor(Date.now() / 1000));
        // The app sends the browser to the login server, which asks for the second factor.
        await page.goto(`${app}/reports`);
        expect(new URL(page.url()).pathname).toBe("/login");
        await expect(page.getByText("asks for a second factor").isVisible()).resolves.toBe(true);
        await shoot(page, "step-up");
        const code = hotp(base32Decode(secret)!, totpStep(Math.floor(Date.now() / 1000)));
        await page.getByLabel("Code from your authenticator app").fill(code);
        await Promise.all([page.waitForURL(`${app}/reports`), page.getByRole("button", { name: "Verify" }).click()]);
        const echo = JSON.parse((await page.locator("body").innerText()).trim()) as Echo;
        expect(echo.remote["remote-user"]).toBe("erin");
        expect((await loginToken(context))?.amr).toEqual(["pwd", "otp"]);
        expect(cspViolations).toEqual([]);
      } finally {
        await context.close();
      }
    });
  });
});
