/** The account page: sessions, password, authenticator app; CSRF on every form, every change audited. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Smith", groups: ["dev", "ops"] };

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

describe("the account page", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now: number;

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE] });
    now = 30 * 57_000_000 + 10;
    server = await startServer(data, { sessionTtlSeconds: 3600 }, () => now);
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
  });

  /** A signed-in browser: its cookies (login + CSRF) and the page's CSRF token. */
  async function browser(password = ALICE.password): Promise<{ cookie: string; csrf: string; page: Reply; jar: Record<string, string> }> {
    const signed = await signIn(server, { username: "alice", password });
    expect(signed.cookie).toBeDefined();
    const jar: Record<string, string> = { ssoctl: signed.cookie! };
    const page = await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader(jar) } });
    Object.assign(jar, cookiesOf(page.headers));
    return { cookie: cookieHeader(jar), csrf: hiddenField(page.body, "csrf"), page, jar };
  }

  it("sends a visitor who is not signed in to the login page, and back", async () => {
    const reply = await fetchPage(`${server.url}/account`);
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(`${server.url}/account`)}`);
  });

  it("shows who you are, your groups and your sessions, this one marked", async () => {
    const other = await browser();
    const me = await browser();
    expect(me.page.status).toBe(200);
    expect(me.page.body).toContain("Alice Smith");
    expect(me.page.body).toContain("dev, ops");
    expect(me.page.body.match(/this session/g)).toHaveLength(1);
    expect(me.page.body.match(/class="item"/g)!.length).toBeGreaterThanOrEqual(2);
    expect(other.page.status).toBe(200);
  });

  it("names each session's browser and how it signed in, never the raw User-Agent or amr codes", async () => {
    const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    await server.store.createSession({ id: "s-chrome", username: "alice", anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "192.0.2.1", userAgent: chrome, amr: ["pwd", "otp"] });
    await server.store.createSession({ id: "s-iphone", username: "alice", anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "192.0.2.2", userAgent: iphone, amr: ["hwk"] });
    const me = await browser();
    const items = me.page.body.match(/<li class="item">[\s\S]*?<\/li>/g)!.map((item) => item.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim());
    expect(items).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Chrome on Linux Since .* · 192\.0\.2\.1 · password \+ code End$/),
        expect.stringMatching(/^Safari on iOS Since .* · 192\.0\.2\.2 · passkey End$/),
        expect.stringMatching(/this session .* · password Sign out$/),
      ]),
    );
    expect(me.page.body).not.toContain("AppleWebKit");
    expect(me.page.body).not.toMatch(/\bpwd\b|\bhwk\b|\botp\b/);
    expect(me.page.body).toMatch(/<dt>Signed in with<\/dt><dd>password<\/dd>/);
  });

  it("escapes what it shows: a hostile name, groups, browser and passkey name", async () => {
    const { hashPassword } = await import("../../src/passwords.js");
    await server.store.createUser({ username: "mallory", name: "<script>alert(1)</script>", email: "", groups: ["g<i>"], passwordHash: await hashPassword("mallory's password") }, now);
    const signed = await signIn(server, { username: "mallory", password: "mallory's password" });
    await server.store.factors.addPasskey({ id: "k1", username: "mallory", name: '"><img src=x onerror=alert(1)>', publicKey: "pk", counter: 0, transports: [], createdAt: now });
    const page = await fetchPage(`${server.url}/account`, { headers: { cookie: `ssoctl=${signed.cookie}`, "user-agent": "<svg onload=alert(1)>" } });
    expect(page.status).toBe(200);
    expect(page.body).not.toContain("<script>alert");
    expect(page.body).not.toContain("<img src=x");
    expect(page.body).not.toContain("g<i>");
    expect(page.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("ends another session, then all others, keeping this one", async () => {
    const first = await browser();
    const second = await browser();
    const third = await browser();
    const firstId = decodeJwt(first.jar.ssoctl!).sid as string;
    const ended = await postForm(server, "/account/session", { csrf: third.csrf, id: firstId }, { cookie: third.cookie });
    expect(ended.status).toBe(303);
    expect(ended.headers.location).toBe(`${server.url}/account?done=session`);
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: first.cookie } })).status).toBe(303);
    const others = await postForm(server, "/account/session", { csrf: third.csrf, others: "1" }, { cookie: third.cookie });
    expect(others.status).toBe(303);
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: second.cookie } })).status).toBe(303);
    const mine = await fetchPage(`${server.url}/account?done=others`, { headers: { cookie: third.cookie } });
    expect(mine.status).toBe(200);
    expect(mine.body).toContain("Your other sessions were ended.");
    expect(server.auditLines.filter((l) => l.includes('"session.revoked"'))).toHaveLength(2);
  });

  it("refuses to end a session that is not yours, changing nothing", async () => {
    const me = await browser();
    const reply = await postForm(server, "/account/session", { csrf: me.csrf, id: "someone-elses" }, { cookie: me.cookie });
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("already ended or is not yours");
  });

  it("changes the password only with the current one and an acceptable new one; other sessions end", async () => {
    const other = await browser();
    const me = await browser();
    const post = (form: Record<string, string>): Promise<Reply> => postForm(server, "/account/password", { csrf: me.csrf, ...form }, { cookie: me.cookie });
    const wrong = await post({ current: "not it at all", password: "a brand new password", repeat: "a brand new password" });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain("The current password is not correct");
    expect((await post({ current: ALICE.password, password: "a brand new password", repeat: "another one entirely" })).status).toBe(400);
    const short = await post({ current: ALICE.password, password: "short", repeat: "short" });
    expect(short.status).toBe(400);
    expect(short.body).toContain("at least 8 characters");
    const changed = await post({ current: ALICE.password, password: "a brand new password", repeat: "a brand new password" });
    expect(changed.status).toBe(303);
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: me.cookie } })).status).toBe(200);
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: other.cookie } })).status).toBe(303);
    expect((await signIn(server, { username: "alice", password: ALICE.password })).status).toBe(401);
    expect((await signIn(server, { username: "alice", password: "a brand new password" })).status).toBe(303);
    expect(server.auditLines.some((l) => l.includes('"user.password_changed"'))).toBe(true);
  });

  it("enrols an authenticator app: QR and secret, a wrong code stores nothing, the right one shows 10 recovery codes once", async () => {
    const me = await browser();
    const start = await postForm(server, "/account/totp/start", { csrf: me.csrf }, { cookie: me.cookie });
    expect(start.status).toBe(200);
    expect(start.body).toMatch(/<svg class="qr" role="img" aria-label="[^"]+"/);
    // On a phone the code cannot be scanned with the phone itself: a link opens the authenticator app.
    const link = /<a href="(otpauth:\/\/totp\/[^"]+)">Open it in your authenticator app<\/a>/.exec(start.body)?.[1]?.replace(/&amp;/g, "&");
    expect(new URL(link!).searchParams.get("secret")).toBe(/id="totp-secret">([A-Z2-7 ]+)</.exec(start.body)![1]!.replace(/ /g, ""));
    const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(start.body)![1]!.replace(/ /g, "");
    const pending = hiddenField(start.body, "pending");
    const code = (step: number): string => hotp(base32Decode(secret)!, step);
    const wrong = await postForm(server, "/account/totp/confirm", { csrf: me.csrf, pending, code: code(totpStep(now)) === "000000" ? "111111" : "000000" }, { cookie: me.cookie });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain("does not match");
    expect(await server.store.factors.getTotp("alice")).toBeNull();
    const right = await postForm(server, "/account/totp/confirm", { csrf: me.csrf, pending, code: code(totpStep(now)) }, { cookie: me.cookie });
    expect(right.status).toBe(200);
    expect(right.body.match(/<li>[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}<\/li>/g)).toHaveLength(10);
    // The same codes to download (a text file) and to copy (the page's one script, from /static).
    const shown = right.body.match(/<li>([a-z2-7-]{19})<\/li>/g)!.map((li) => li.slice(4, -5));
    const download = /<a class="button button-secondary" id="download-codes" download="recovery-codes.txt" href="data:text\/plain;charset=utf-8,([^"]+)">Download<\/a>/.exec(right.body)![1]!;
    expect(decodeURIComponent(download)).toBe(shown.join("\n") + "\n");
    expect(/id="copy-codes" data-codes="([^"]+)"/.exec(right.body)![1]!.replace(/&#10;/g, "\n")).toBe(shown.join("\n"));
    expect(right.headers["content-security-policy"]).toMatch(/script-src 'self'$/);
    expect(right.body).toMatch(/<script src="\/static\/recovery-codes.js" defer><\/script>/);
    const script = await fetchPage(`${server.url}/static/recovery-codes.js`);
    expect(script.status).toBe(200);
    expect(script.body).toContain("navigator.clipboard");
    expect((await server.store.factors.getTotp("alice"))?.secret).toBe(secret);
    // The code just typed proved the app: this browser's session now counts as two factors.
    const upgraded = cookiesOf(right.headers).ssoctl!;
    expect(decodeJwt(upgraded).amr).toEqual(["pwd", "otp"]);
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: me.cookie } })).status).toBe(303);
    // The setup cannot be confirmed twice.
    const again = await postForm(server, "/account/totp/confirm", { csrf: me.csrf, pending, code: code(totpStep(now) + 1) }, { cookie: cookieHeader({ ...me.jar, ssoctl: upgraded }) });
    expect(again.status).toBe(400);
    expect(again.body).toContain("That setup has expired");
    expect(server.auditLines.some((l) => l.includes('"user.totp_enrolled"'))).toBe(true);
  });

  it("removes the app and renews recovery codes only with a current code; wrong codes count", async () => {
    const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    await server.store.factors.setTotp("alice", secret, ["x"], now);
    // Signing in now takes the code step.
    const form = await openLoginForm(server);
    const cookie = cookieHeader(form.cookies);
    const step1 = await postForm(server, "/login", { csrf: form.csrf, username: "alice", password: ALICE.password }, { cookie });
    const code = (step: number): string => hotp(base32Decode(secret)!, step);
    const signed = await postForm(server, "/login/code", { csrf: hiddenField(step1.body, "csrf"), pending: hiddenField(step1.body, "pending"), code: code(totpStep(now)) }, { cookie });
    const jar = { ...form.cookies, ssoctl: cookiesOf(signed.headers).ssoctl! };
    const page = await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader(jar) } });
    const csrf = hiddenField(page.body, "csrf");
    expect(page.body).toContain("Remove the authenticator app");
    const wrong = await postForm(server, "/account/totp/remove", { csrf, code: code(totpStep(now)) }, { cookie: cookieHeader(jar) });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain("already used");
    expect((await server.store.getThrottle("code", "alice"))?.failures).toBe(1);
    const renewed = await postForm(server, "/account/recovery-codes", { csrf, code: code(totpStep(now) + 1) }, { cookie: cookieHeader(jar) });
    expect(renewed.status).toBe(200);
    expect(renewed.body.match(/<li>[a-z2-7-]{19}<\/li>/g)).toHaveLength(10);
    now += 60;
    const removed = await postForm(server, "/account/totp/remove", { csrf, code: code(totpStep(now)) }, { cookie: cookieHeader(jar) });
    expect(removed.status).toBe(303);
    expect(await server.store.factors.getTotp("alice")).toBeNull();
  });

  it("refuses every form without its CSRF token or from another site, and when signed out", async () => {
    const me = await browser();
    for (const path of ["/account/session", "/account/password", "/account/totp/start", "/account/totp/confirm", "/account/totp/remove", "/account/recovery-codes"]) {
      expect((await postForm(server, path, { csrf: "forged", others: "1" }, { cookie: me.cookie })).status, path).toBe(403);
      expect((await postForm(server, path, { csrf: me.csrf, others: "1" }, { cookie: me.cookie, origin: "https://evil.example" })).status, path).toBe(403);
    }
    const signedOut = await postForm(server, "/account/session", { csrf: me.csrf, others: "1" }, { cookie: cookieHeader({ ...me.jar, ssoctl: undefined }) });
    expect(signedOut.status).toBe(401);
  });
});
