/// <reference lib="dom" />
/**
 * "Forgot your password?" in real Chromium, the mail through a real SMTP server (smtp-server,
 * in-process): the login page, the request, the link in the mail, the new password, and the
 * code page before any login; then the code, and the user is signed in.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { base32Decode, hotp, newTotpSecret, totpStep } from "../../src/factors/totp.js";
import { hashRecoveryCode, newRecoveryCodes } from "../../src/factors/recovery-codes.js";
import { resolveMailSettings } from "../../src/mail/settings.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { headersOf, startSmtpServer, textPartOf, type TestSmtpServer } from "../support/smtp.js";
import { launchChromium } from "./support/browser.js";
import { freePort } from "./support/processes.js";

const BOB = { username: "bob", password: "bob's forgotten password", name: "Bob Builder", email: "bob@example.com" };
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");

describe('"Forgot your password?" in Chromium', () => {
  let data: TestDataDir;
  let server: RunningServer;
  let smtp: TestSmtpServer;
  let browser: Browser;
  let base: string;
  let secret: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    smtp = await startSmtpServer();
    data = await makeDataDir({ users: [BOB] });
    server = await startServer(data, { port, publicUrl: base, title: "Example SSO" }, undefined, {
      mail: resolveMailSettings({ from: "Example SSO <sso@example.com>", smtp: { host: "127.0.0.1", port: smtp.port, starttls: false } }, {}),
    });
    secret = newTotpSecret();
    await server.store.factors.setTotp("bob", secret, newRecoveryCodes().map(hashRecoveryCode), Math.floor(Date.now() / 1000));
    browser = await launchChromium();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await smtp?.close();
    data?.cleanup();
  });

  it("from the login page to the mail, the new password, the code page and a session", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const cspViolations: string[] = [];
    context.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await Promise.all([page.waitForLoadState("load"), page.getByRole("link", { name: "Forgot your password?" }).click()]);
    await page.getByLabel("Username or email").fill("bob@example.com");
    await page.screenshot({ path: path.join(SCREENSHOTS, "forgot-desktop-light.png"), fullPage: true });
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Send me a link" }).click()]);
    await expect(page.getByRole("heading", { name: "Check your mail" }).isVisible()).resolves.toBe(true);

    const [mail] = await smtp.waitFor(1);
    expect(mail!.to).toEqual(["bob@example.com"]);
    expect(headersOf(mail!.raw).subject).toBe("Example SSO: reset your password");
    const link = /http:\/\/localhost:\d+\/invite\/[A-Za-z0-9_-]{43}/.exec(textPartOf(mail!.raw))?.[0];
    expect(link).toBeDefined();

    await page.goto(link!);
    await expect(page.getByRole("heading", { name: "Choose a new password" }).isVisible()).resolves.toBe(true);
    await page.getByLabel("New password").fill("bob's brand new password");
    await page.getByLabel("Repeat the password").fill("bob's brand new password");
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button").first().click()]);
    // The second factor before any session.
    await expect(page.getByRole("heading", { name: "Two-step verification" }).isVisible()).resolves.toBe(true);
    expect((await context.cookies(base)).find((c) => c.name === "ssoctl")).toBeUndefined();

    await page.locator('input[name="code"]').fill(hotp(base32Decode(secret)!, totpStep(Math.floor(Date.now() / 1000))));
    await Promise.all([page.waitForLoadState("load"), page.locator('form button[type="submit"]').first().click()]);
    const cookie = (await context.cookies(base)).find((c) => c.name === "ssoctl");
    expect(cookie).toBeDefined();
    expect(cspViolations).toEqual([]);
    await context.close();

    // The old password no longer signs in, the new one does.
    const second = await browser.newContext();
    const again = await second.newPage();
    await again.goto(`${base}/login`);
    await again.getByLabel("Username").fill("bob");
    await again.getByLabel("Password").fill("bob's forgotten password");
    await Promise.all([again.waitForLoadState("load"), again.getByRole("button", { name: "Sign in", exact: true }).click()]);
    await expect(again.getByRole("alert").textContent()).resolves.toContain("incorrect");
    await second.close();
  });
});
