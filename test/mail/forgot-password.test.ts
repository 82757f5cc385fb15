/** "Forgot your password?" against the real server, with the file notifier (and SMTP once). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { base32Decode, hotp, newTotpSecret, totpStep } from "../../src/factors/totp.js";
import { hashRecoveryCode, newRecoveryCodes } from "../../src/factors/recovery-codes.js";
import { resolveMailSettings } from "../../src/mail/settings.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";
import { headersOf, startSmtpServer, textPartOf } from "../support/smtp.js";

const ALICE = { username: "alice", password: "alice's old password", email: "alice@example.com", name: "Alice" };
const BOB = { username: "bob", password: "bob's old password", email: "Bob@Example.com" };
const CAROL = { username: "carol", password: "carol's old password" };
const DAVE = { username: "dave", password: "dave's old password", email: "dave@example.com", disabled: true };

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

describe('"Forgot your password?"', () => {
  let data: TestDataDir;
  let server: RunningServer;
  let mailDir: string;
  let now: number;
  let secret: string;

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE, BOB, CAROL, DAVE] });
    mailDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-forgot-"));
    now = 30 * 57_000_000 + 10;
    server = await startServer(data, {}, () => now, { mail: resolveMailSettings({ from: "SSO <sso@example.com>", file: { directory: mailDir } }, {}), mailOutbox: { retryDelaysMs: [], log: () => {} } });
    secret = newTotpSecret();
    await server.store.factors.setTotp("alice", secret, newRecoveryCodes().map(hashRecoveryCode), now);
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
    fs.rmSync(mailDir, { recursive: true, force: true });
  });

  /** Every request handled and every mail written. */
  async function settled(): Promise<void> {
    await server.login.context.passwordResets!.idle();
    await server.login.context.notifier!.outbox.idle();
  }

  function mails(): Array<{ to: string; subject: string; text: string }> {
    return fs
      .readdirSync(mailDir)
      .filter((f) => f.endsWith(".eml"))
      .sort()
      .map((f) => {
        const raw = fs.readFileSync(path.join(mailDir, f), "utf8");
        const headers = headersOf(raw);
        return { to: headers.to!, subject: headers.subject!, text: textPartOf(raw) };
      });
  }

  function linkIn(text: string): string {
    const match = /(http:\/\/127\.0\.0\.1:\d+)(\/invite\/[A-Za-z0-9_-]{43})/.exec(text);
    expect(match).not.toBeNull();
    return match![2]!;
  }

  async function ask(identifier: string, options: { addr?: string } = {}): Promise<Reply> {
    const page = await fetchPage(`${server.url}/login/forgot`);
    const cookie = cookieHeader(cookiesOf(page.headers));
    return postForm(server, "/login/forgot", { csrf: hiddenField(page.body, "csrf"), identifier }, { cookie, headers: options.addr === undefined ? {} : { "x-forwarded-for": options.addr } });
  }

  /** Opens the link and sets the password; the reply to the post, and the browser's cookies. */
  async function choose(link: string, password: string): Promise<Reply & { cookie: string }> {
    const page = await fetchPage(`${server.url}${link}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Choose a new password");
    const cookie = cookieHeader(cookiesOf(page.headers));
    return { ...(await postForm(server, link, { csrf: hiddenField(page.body, "csrf"), password, repeat: password }, { cookie })), cookie };
  }

  it("is offered on the login page", async () => {
    const { page } = await openLoginForm(server);
    expect(page.body).toContain(`href="${server.url}/login/forgot"`);
    expect(page.body).toContain("Forgot your password?");
  });

  it("answers the same page and status whether the account exists, has an email, or is disabled; mails only the real one", async () => {
    const replies = await Promise.all(["bob", "nobody", "carol", "dave", "nobody@example.com"].map((who) => ask(who)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(replies.map((r) => r.body)).size).toBe(1);
    expect(replies[0]!.body).toContain("Check your mail");
    await settled();
    const sent = mails();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.to.toLowerCase()).toBe("bob@example.com");
    expect(sent[0]!.subject).toBe("Single sign-on: reset your password");
    expect(sent[0]!.text).toContain("open this link within 30 minutes");
  });

  it("finds the account by its email address, ignoring case", async () => {
    await ask("BOB@example.COM");
    await settled();
    expect(mails().map((m) => m.to.toLowerCase())).toEqual(["bob@example.com"]);
  });

  it("leaves the password alone until the link is used, then sets it, ends old sessions, and works once", async () => {
    const before = await signIn(server, BOB);
    expect(before.status).toBe(303);
    await ask("bob");
    await settled();
    // Asking is not changing: the old password still signs in.
    expect((await signIn(server, BOB)).status).toBe(303);
    // …and that sign-in ended the link; ask again.
    await ask("bob");
    await settled();
    const link = linkIn(mails().at(-1)!.text);
    const reply = await choose(link, "bob's brand new password");
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("Your password is set");
    expect(cookiesOf(reply.headers).ssoctl).toBeDefined();
    expect((await signIn(server, BOB)).status).toBe(401);
    expect((await signIn(server, { username: "bob", password: "bob's brand new password" })).status).toBe(303);
    const oldSession = await fetchPage(`${server.url}/account`, { headers: { cookie: `ssoctl=${before.cookie}` } });
    expect(oldSession.status).not.toBe(200);
    expect((await fetchPage(`${server.url}${link}`)).status).toBe(410);
    await settled();
    const notice = mails().at(-1)!;
    expect(notice.subject).toBe("Single sign-on: Your password was changed");
    expect(notice.text).not.toMatch(/\/invite\/|\/login/);
  });

  it("asks for the second factor after the new password, before any session exists", async () => {
    await ask("alice");
    await settled();
    const reply = await choose(linkIn(mails()[0]!.text), "alice's brand new password");
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("Two-step verification");
    expect(cookiesOf(reply.headers).ssoctl).toBeUndefined();
    expect(await server.store.listSessions({ username: "alice" }, now)).toEqual([]);
    const code = await postForm(server, "/login/code", { csrf: hiddenField(reply.body, "csrf"), pending: hiddenField(reply.body, "pending"), code: hotp(base32Decode(secret)!, totpStep(now)) }, { cookie: reply.cookie });
    expect([200, 303]).toContain(code.status);
    expect(cookiesOf(code.headers).ssoctl).toBeDefined();
  });

  it("a newer link replaces the older one", async () => {
    await ask("bob");
    await settled();
    now += 60;
    await ask("bob");
    await settled();
    const [first, second] = mails();
    expect((await fetchPage(`${server.url}${linkIn(first!.text)}`)).status).toBe(410);
    expect((await fetchPage(`${server.url}${linkIn(second!.text)}`)).status).toBe(200);
  });

  it("a link expires after 30 minutes", async () => {
    await ask("bob");
    await settled();
    now += 30 * 60;
    expect((await fetchPage(`${server.url}${linkIn(mails()[0]!.text)}`)).status).toBe(410);
  });

  it("a flood from many addresses sends at most 3 mails an hour to an account, and never locks it out of signing in", async () => {
    for (let i = 0; i < 12; i++) expect((await ask("bob", { addr: `198.51.100.${i + 1}` })).status).toBe(200);
    await settled();
    expect(mails()).toHaveLength(3);
    expect((await signIn(server, BOB)).status).toBe(303);
    // An hour later the account may get mail again.
    now += 3601;
    await ask("bob", { addr: "198.51.100.200" });
    await settled();
    expect(mails()).toHaveLength(4);
  });

  it("refuses an address past 10 requests an hour with 429, whatever it names", async () => {
    for (let i = 0; i < 10; i++) expect((await ask(`nobody${i}`, { addr: "203.0.113.9" })).status).toBe(200);
    const refused = [await ask("bob", { addr: "203.0.113.9" }), await ask("nobody", { addr: "203.0.113.9" })];
    expect(refused.map((r) => r.status)).toEqual([429, 429]);
    expect(refused[0]!.headers["retry-after"]).toBeDefined();
    const withoutEcho = (body: string): string => body.replace(/name="identifier" type="text" value="[^"]*"/, "").replace(/name="csrf" value="[^"]*"/, "");
    expect(withoutEcho(refused[0]!.body)).toBe(withoutEcho(refused[1]!.body));
    // Other addresses and sign-ins are not affected.
    expect((await ask("bob", { addr: "203.0.113.10" })).status).toBe(200);
    expect((await signIn(server, BOB)).status).toBe(303);
  });

  it("refuses an empty request, a cross-site post and a missing CSRF token", async () => {
    expect((await ask("   ")).status).toBe(400);
    expect((await postForm(server, "/login/forgot", { identifier: "bob" })).status).toBe(403);
    const page = await fetchPage(`${server.url}/login/forgot`);
    const cookie = cookieHeader(cookiesOf(page.headers));
    expect((await postForm(server, "/login/forgot", { csrf: hiddenField(page.body, "csrf"), identifier: "bob" }, { cookie, origin: "https://evil.example" })).status).toBe(403);
    await settled();
    expect(mails()).toHaveLength(0);
  });

  it("counts mail in /metrics", async () => {
    await ask("bob");
    await settled();
    const metrics = await fetchPage(`${server.url}/metrics`);
    expect(metrics.body).toMatch(/ssoctl_mail_total\{result="sent"\} 1/);
    expect(metrics.body).toMatch(/ssoctl_mail_total\{result="failed"\} 0/);
  });
});

describe('"Forgot your password?" without mail', () => {
  it("is not offered, and its address answers 404", async () => {
    const data = await makeDataDir({ users: [BOB] });
    const server = await startServer(data);
    try {
      const { page } = await openLoginForm(server);
      expect(page.body).not.toContain("Forgot your password?");
      expect((await fetchPage(`${server.url}/login/forgot`)).status).toBe(404);
      expect((await fetchPage(`${server.url}/metrics`)).body).toMatch(/ssoctl_mail_total\{result="sent"\} 0/);
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});

describe('"Forgot your password?" over SMTP', () => {
  it("a mail server that refuses the message does not change the answer or fail anything", async () => {
    const smtp = await startSmtpServer();
    smtp.behave("reject");
    const data = await makeDataDir({ users: [BOB] });
    const log: string[] = [];
    const server = await startServer(data, {}, undefined, { mail: resolveMailSettings({ from: "sso@example.com", smtp: { host: "127.0.0.1", port: smtp.port, starttls: false } }, {}), mailOutbox: { retryDelaysMs: [], log: (line) => log.push(line) } });
    try {
      const page = await fetchPage(`${server.url}/login/forgot`);
      const reply = await postForm(server, "/login/forgot", { csrf: hiddenField(page.body, "csrf"), identifier: "bob" }, { cookie: cookieHeader(cookiesOf(page.headers)) });
      expect(reply.status).toBe(200);
      await server.login.context.passwordResets!.idle();
      await server.login.context.notifier!.outbox.idle();
      expect(log.join("")).toMatch(/"event":"mail.failed".*550/);
      expect(server.auditLines.join("")).toContain('"event":"mail.failed"');
      expect((await signIn(server, BOB)).status).toBe(303);
    } finally {
      await server.close();
      await smtp.close();
      data.cleanup();
    }
  });
});
