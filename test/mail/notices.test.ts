/** Security notices from the account page: what happened, when, from where; never a link that signs in. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { resolveMailSettings } from "../../src/mail/settings.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";
import { headersOf, htmlPartOf, textPartOf } from "../support/smtp.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Smith", email: "alice@example.com" };
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

describe("security notices", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let mailDir: string;
  let now: number;

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE, { username: "bob", password: "bob's long password" }] });
    mailDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-notices-"));
    now = 30 * 57_000_000 + 10;
    server = await startServer(data, { sessionTtlSeconds: 3600 }, () => now, { mail: resolveMailSettings({ from: "sso@example.com", file: { directory: mailDir } }, {}), mailOutbox: { retryDelaysMs: [], log: () => {} } });
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
    fs.rmSync(mailDir, { recursive: true, force: true });
  });

  async function mails(): Promise<Array<{ to: string; subject: string; text: string; html: string }>> {
    await server.login.context.notifier!.outbox.idle();
    return fs
      .readdirSync(mailDir)
      .sort()
      .map((f) => fs.readFileSync(path.join(mailDir, f), "utf8"))
      .map((raw) => ({ to: headersOf(raw).to!, subject: headersOf(raw).subject!, text: textPartOf(raw), html: htmlPartOf(raw) }));
  }

  async function browser(user = ALICE): Promise<{ cookie: string; csrf: string; jar: Record<string, string> }> {
    const signed = await signIn(server, user);
    const jar: Record<string, string> = { ssoctl: signed.cookie! };
    const page = await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader(jar) } });
    Object.assign(jar, cookiesOf(page.headers));
    return { cookie: cookieHeader(jar), csrf: hiddenField(page.body, "csrf"), jar };
  }

  function expectNoSignInLink(mail: { text: string; html: string }): void {
    expect(mail.text).not.toMatch(/\/invite\/|\/login\b|token=/);
    // The only link is none at all: the server's address appears as text.
    expect(mail.html).not.toMatch(/<a\s/);
  }

  it("tells the account when its password was changed on the account page: what, when, from where", async () => {
    const me = await browser();
    const reply = await postForm(server, "/account/password", { csrf: me.csrf, current: ALICE.password, password: "a brand new password", repeat: "a brand new password" }, { cookie: me.cookie, headers: { "user-agent": FIREFOX, "x-forwarded-for": "192.0.2.44" } });
    expect(reply.status).toBe(303);
    const [notice] = await mails();
    expect(notice!.to).toBe("Alice Smith <alice@example.com>");
    expect(notice!.subject).toBe("Single sign-on: Your password was changed");
    expect(notice!.text).toContain("When: Sat, 09 Mar 2024 16:00:10 GMT");
    expect(notice!.text).toContain("From: 192.0.2.44 (Firefox on Linux)");
    expect(notice!.text).toContain("If it was not you:");
    expectNoSignInLink(notice!);
  });

  it("tells the account when an authenticator app is added, and when it is removed", async () => {
    const me = await browser();
    const start = await postForm(server, "/account/totp/start", { csrf: me.csrf }, { cookie: me.cookie });
    const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(start.body)![1]!.replace(/ /g, "");
    const code = (step: number): string => hotp(base32Decode(secret)!, step);
    const confirmed = await postForm(server, "/account/totp/confirm", { csrf: me.csrf, pending: hiddenField(start.body, "pending"), code: code(totpStep(now)) }, { cookie: me.cookie });
    expect(confirmed.status).toBe(200);
    const jar = { ...me.jar, ssoctl: cookiesOf(confirmed.headers).ssoctl! };
    now += 30;
    const removed: Reply = await postForm(server, "/account/totp/remove", { csrf: me.csrf, code: code(totpStep(now)) }, { cookie: cookieHeader(jar) });
    expect(removed.status).toBe(303);
    const sent = await mails();
    expect(sent.map((m) => m.subject)).toEqual(["Single sign-on: A second factor was added", "Single sign-on: Your second factor was removed"]);
    for (const mail of sent) expectNoSignInLink(mail);
  });

  it("sends nothing to an account without an email address, and the change still happens", async () => {
    const me = await browser({ username: "bob", password: "bob's long password" } as typeof ALICE);
    const reply = await postForm(server, "/account/password", { csrf: me.csrf, current: "bob's long password", password: "bob's new password!", repeat: "bob's new password!" }, { cookie: me.cookie });
    expect(reply.status).toBe(303);
    expect(await mails()).toEqual([]);
    expect((await signIn(server, { username: "bob", password: "bob's new password!" })).status).toBe(303);
  });
});
