/**
 * Adding or removing a credential needs a session with the user's strongest factor, signed in in
 * the last 10 minutes; otherwise nothing changes and the sign-in form asks for every factor again.
 * Each change is listed on the account page. Through the real server; the admin side (`ssoctl
 * user factors`, and what passwd/reset/revoke leave in place) through the real binary.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";
import { expectError, expectOk, initDataDir, PASSWORD, ssoctl } from "../cli/helpers.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

function hidden(html: string, name: string): string {
  return (new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "").replace(/&amp;/g, "&");
}

describe("changing credentials", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now: number;

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE] });
    now = 30 * 57_000_000 + 10;
    server = await startServer(data, {}, () => now);
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
  });

  async function account(jar: Record<string, string>): Promise<Reply> {
    const page = await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader(jar) } });
    Object.assign(jar, cookiesOf(page.headers));
    return page;
  }

  it("refuses to add a passkey from a password-only session of a user who has an authenticator app, and asks for both factors again", { timeout: 120_000 }, async () => {
    // Signed in with the password before the app was enrolled (or by an attacker who has the password alone).
    const jar: Record<string, string> = { ssoctl: (await signIn(server, ALICE)).cookie! };
    await server.store.factors.setTotp("alice", SECRET, [], now);
    const page = await account(jar);
    const refused = await postForm(server, "/account/passkey/start", { csrf: hidden(page.body, "csrf") }, { cookie: cookieHeader(jar) });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain("Re-authenticate to continue");
    expect(refused.body).toContain('name="password"');
    expect(refused.body).not.toContain("data-options");
    expect(await server.store.factors.listPasskeys("alice")).toEqual([]);
    // The form leads back to the account page through the password and the code.
    Object.assign(jar, cookiesOf(refused.headers));
    const posted = await postForm(server, "/login", { csrf: hidden(refused.body, "csrf"), rd: hidden(refused.body, "rd"), username: "alice", password: ALICE.password }, { cookie: cookieHeader(jar) });
    expect(posted.status).toBe(200);
    expect(cookiesOf(posted.headers).ssoctl).toBeUndefined();
    now += 30;
    const coded = await postForm(server, "/login/code", { csrf: hidden(posted.body, "csrf"), pending: hidden(posted.body, "pending"), code: hotp(base32Decode(SECRET)!, totpStep(now)) }, { cookie: cookieHeader(jar) });
    expect(coded.status).toBe(303);
    expect(coded.headers.location).toBe(`${server.url}/account`);
    Object.assign(jar, cookiesOf(coded.headers));
    expect(decodeJwt(jar.ssoctl!).amr).toEqual(["pwd", "otp"]);
    const again = await account(jar);
    const allowed = await postForm(server, "/account/passkey/start", { csrf: hidden(again.body, "csrf") }, { cookie: cookieHeader(jar) });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toContain("data-options");
  });

  it("refuses a password change from a session older than 10 minutes, and lists each change on the account page", { timeout: 120_000 }, async () => {
    const jar: Record<string, string> = { ssoctl: (await signIn(server, ALICE)).cookie! };
    const fresh = await account(jar);
    const changed = await postForm(server, "/account/password", { csrf: hidden(fresh.body, "csrf"), current: ALICE.password, password: "a new long password 2", repeat: "a new long password 2" }, { cookie: cookieHeader(jar) });
    expect(changed.status).toBe(303);
    now += 11 * 60;
    const later = await account(jar);
    expect(later.body).toContain("Password changed");
    const refused = await postForm(server, "/account/password", { csrf: hidden(later.body, "csrf"), current: "a new long password 2", password: "a third long password", repeat: "a third long password" }, { cookie: cookieHeader(jar) });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain("Re-authenticate to continue");
    expect((await signIn(server, { username: "alice", password: "a new long password 2" })).status).toBe(303);
    expect((await server.store.listAudit(50, { username: "alice" })).some((e) => e.event === "user.reauthentication_required" && e.detail?.change === "password")).toBe(true);
  });
});

describe("strict enrolment (serve --strict-enrolment)", () => {
  it("refuses enrolment at a two_factor app's door and on the account page, until an invitation or reset link allows it", { timeout: 120_000 }, async () => {
    const data = await makeDataDir({ users: [ALICE] });
    const now = 30 * 57_000_000 + 10;
    const server = await startServer(data, { enrolment: "strict" }, () => now);
    try {
      await server.store.addApp({ name: "admin", origin: "http://127.0.0.1:10", policy: "two_factor" }, now);
      const door = await signIn(server, ALICE, { rd: "http://127.0.0.1:10/" });
      expect(door.status).toBe(403);
      expect(door.body).toContain("A second factor is needed");
      expect(door.body).not.toContain("Set up an authenticator app");
      const jar: Record<string, string> = { ssoctl: door.cookie! };
      const page = await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader(jar) } });
      Object.assign(jar, cookiesOf(page.headers));
      const refused = await postForm(server, "/account/totp/start", { csrf: hidden(page.body, "csrf") }, { cookie: cookieHeader(jar) });
      expect(refused.status).toBe(403);
      expect(refused.body).toContain("Your administrator sets up second factors");
      expect((await postForm(server, "/account/passkey/start", { csrf: hidden(page.body, "csrf") }, { cookie: cookieHeader(jar) })).status).toBe(403);
      // The admin's reset link: the user sets a password there and may then enrol.
      const { tokenDigest } = await import("../../src/factors/pending.js");
      const token = Buffer.alloc(32, 7).toString("base64url");
      await server.store.factors.createInvitation(tokenDigest(token), "alice", now + 3600, now);
      const link = await fetchPage(`${server.url}/invite/${token}`, { headers: { cookie: cookieHeader(jar) } });
      const set = await postForm(server, `/invite/${token}`, { csrf: hidden(link.body, "csrf"), password: "a brand new password", repeat: "a brand new password" }, { cookie: cookieHeader(jar) });
      expect(set.status).toBe(200);
      Object.assign(jar, cookiesOf(set.headers));
      const allowed = await postForm(server, "/account/totp/start", { csrf: hidden(set.body, "csrf") }, { cookie: cookieHeader(jar) });
      expect(allowed.status).toBe(200);
      expect(allowed.body).toContain("Set up an authenticator app");
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});

describe("ssoctl user factors, and what passwd, reset and session revoke leave in place", () => {
  it("lists the credentials, removes a passkey or the app, and the other commands name what stays", { timeout: 120_000 }, async () => {
    const dir = initDataDir();
    expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "-d", dir], { input: `${PASSWORD}\n` }));
    const { openSqliteStore } = await import("../../src/store/sqlite/store.js");
    const store = openSqliteStore(`${dir}/ssoctl.db`);
    try {
      await store.factors.setTotp("alice", SECRET, ["h1", "h2"], 1000);
      await store.factors.addPasskey({ id: "cHVibGljLWtleS0x", username: "alice", name: "laptop", publicKey: "pk", counter: 0, transports: [], createdAt: 1000 });
    } finally {
      await store.close();
    }
    const listed = ssoctl(["user", "factors", "alice", "-d", dir]);
    expectOk(listed);
    expect(listed.stdout).toContain("password            set");
    expect(listed.stdout).toMatch(/authenticator app\s+since .*2 recovery code\(s\) left/);
    expect(listed.stdout).toContain('passkey:cHVibGljLWtleS0x  "laptop"');
    const revoke = ssoctl(["session", "revoke", "--user", "alice", "-d", dir]);
    expectOk(revoke);
    expect(revoke.stdout).toContain("Left in place: the password, an authenticator app (2 recovery codes left), 1 passkey");
    const passwd = ssoctl(["user", "passwd", "alice", "--password-stdin", "-d", dir], { input: "another long password\n" });
    expectOk(passwd);
    expect(passwd.stdout).toContain("Left in place: an authenticator app (2 recovery codes left), 1 passkey");
    const removed = ssoctl(["user", "factors", "alice", "--remove", "passkey:cHVibGlj", "-d", dir]);
    expectOk(removed);
    expect(removed.stdout).toContain('Removed from alice: passkey "laptop"');
    expect(removed.stdout).toContain("passkeys            none");
    const reset = ssoctl(["user", "reset", "alice", "-d", dir]);
    expectOk(reset);
    expect(reset.stdout).toContain("Left in place: an authenticator app (2 recovery codes left)");
    expectOk(ssoctl(["user", "factors", "alice", "--remove", "totp", "-d", dir]));
    const json = ssoctl(["user", "factors", "alice", "--json", "-d", dir]);
    expect(JSON.parse(json.stdout)).toMatchObject({ username: "alice", password: false, totp: null, passkeys: [] });
    expectError(ssoctl(["user", "factors", "alice", "--remove", "everything", "-d", dir]), 1, /--remove takes totp, passkeys, all or passkey:ID/);
  });
});
