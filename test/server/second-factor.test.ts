/** The second step of a sign-in: TOTP and recovery codes, every step and failure row. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { base32Decode, hotp, newTotpSecret, totpStep } from "../../src/factors/totp.js";
import { hashRecoveryCode, newRecoveryCodes } from "../../src/factors/recovery-codes.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, openLoginForm, postForm, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };
const BOB = { username: "bob", password: "bob's long password" };

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

describe("sign-in with a second factor", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now: number;
  let secret: string;
  let recovery: string[];

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE, BOB], apps: [APP] });
    now = 30 * 57_000_000 + 10;
    server = await startServer(data, { sessionTtlSeconds: 3600 }, () => now);
    secret = newTotpSecret();
    recovery = newRecoveryCodes();
    await server.store.factors.setTotp("alice", secret, recovery.map(hashRecoveryCode), now);
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
  });

  function codeAt(step: number): string {
    return hotp(base32Decode(secret)!, step);
  }

  /** The password step: the reply (the code page) and what the code form needs. */
  async function password(user = ALICE): Promise<{ reply: Reply; cookie: string; csrf: string; pending: string }> {
    const form = await openLoginForm(server, { rd: `${APP}/wiki` });
    const cookie = cookieHeader(form.cookies);
    const reply = await postForm(server, "/login", { rd: `${APP}/wiki`, csrf: form.csrf, ...user }, { cookie });
    return { reply, cookie, csrf: hiddenField(reply.body, "csrf"), pending: hiddenField(reply.body, "pending") };
  }

  async function code(step: { cookie: string; csrf: string; pending: string }, value: string): Promise<Reply> {
    return postForm(server, "/login/code", { csrf: step.csrf, pending: step.pending, code: value }, { cookie: step.cookie });
  }

  it("asks for the code after the password, with no login cookie until then", async () => {
    const step = await password();
    expect(step.reply.status).toBe(200);
    expect(step.reply.body).toContain("Two-step verification");
    expect(step.reply.body).toContain('autocomplete="one-time-code"');
    expect(cookiesOf(step.reply.headers).ssoctl).toBeUndefined();
    expect(step.pending).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await server.store.listSessions({ username: "alice" }, now)).toEqual([]);
  });

  it("signs in with the current code: amr pwd+otp in the token and the session", async () => {
    const step = await password();
    const reply = await code(step, codeAt(totpStep(now)));
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(`${APP}/wiki`);
    const token = cookiesOf(reply.headers).ssoctl!;
    expect(decodeJwt(token).amr).toEqual(["pwd", "otp"]);
    const [session] = await server.store.listSessions({ username: "alice" }, now);
    expect(session?.amr).toEqual(["pwd", "otp"]);
    expect(server.auditLines.some((l) => l.includes('"login.success"') && l.includes("pwd,otp"))).toBe(true);
  });

  it("a user without a second factor signs in with the password alone, amr pwd", async () => {
    const step = await password(BOB);
    expect(step.reply.status).toBe(303);
    expect(decodeJwt(cookiesOf(step.reply.headers).ssoctl!).amr).toEqual(["pwd"]);
  });

  it("accepts the code of the step before and after, and accepts codes with spaces", async () => {
    const first = await password();
    expect((await code(first, codeAt(totpStep(now) - 1))).status).toBe(303);
    const second = await password();
    const next = codeAt(totpStep(now) + 1);
    expect((await code(second, `${next.slice(0, 3)} ${next.slice(3)}`)).status).toBe(303);
  });

  it("refuses a code used once already (replay), saying so", async () => {
    const current = codeAt(totpStep(now));
    expect((await code(await password(), current)).status).toBe(303);
    const again = await password();
    const reply = await code(again, current);
    expect(reply.status).toBe(401);
    expect(reply.body).toContain("already used");
    expect(cookiesOf(reply.headers).ssoctl).toBeUndefined();
    // The older code in the window was also before the last use: refused.
    expect((await code(again, codeAt(totpStep(now) - 1))).status).toBe(401);
  });

  it("a wrong code keeps the page and counts toward the user's throttling; then even the right one waits", async () => {
    const step = await password();
    for (let i = 0; i < 4; i += 1) {
      const reply = await code(step, "000000" === codeAt(totpStep(now)) ? "111111" : "000000");
      expect(reply.status).toBe(401);
      expect(reply.body).toContain("not correct");
      expect(hiddenField(reply.body, "pending")).toBe(step.pending);
    }
    const fifth = await code(step, "999999" === codeAt(totpStep(now)) ? "888888" : "999999");
    expect(fifth.status).toBe(401);
    const locked = await code(step, codeAt(totpStep(now)));
    expect(locked.status).toBe(429);
    expect(locked.headers["retry-after"]).toBeDefined();
    expect(cookiesOf(locked.headers).ssoctl).toBeUndefined();
    const metrics = await fetchPage(`${server.url}/metrics`);
    expect(metrics.body).toMatch(/ssoctl_sign_ins_total\{result="bad_code"\} 5\n/);
    expect(metrics.body).toMatch(/ssoctl_sign_ins_total\{result="throttled"\} 1\n/);
  });

  it("says what a code looks like when it has letters or the wrong length, without counting it", async () => {
    const step = await password();
    for (const bad of ["12345", "1234567", "12a456", ""]) {
      const reply = await code(step, bad);
      expect(reply.status).toBe(400);
      expect(reply.body).toContain("6-digit code");
    }
    expect(await server.store.getThrottle("code", "alice")).toBeNull();
    expect((await code(step, codeAt(totpStep(now)))).status).toBe(303);
  });

  it("takes a recovery code once", async () => {
    const first = await code(await password(), recovery[3]!.toUpperCase());
    expect(first.status).toBe(303);
    expect(decodeJwt(cookiesOf(first.headers).ssoctl!).amr).toEqual(["pwd", "otp"]);
    const again = await code(await password(), recovery[3]!);
    expect(again.status).toBe(401);
    expect((await server.store.factors.recoveryCodes("alice")).length).toBe(9);
  });

  it("the half-done sign-in expires in minutes", async () => {
    const step = await password();
    now += 5 * 60;
    const reply = await code(step, codeAt(totpStep(now)));
    expect(reply.status).toBe(400);
    expect(reply.body).toContain("This sign-in has expired");
    expect(cookiesOf(reply.headers).ssoctl).toBeUndefined();
  });

  it("a forged or reused pending token gets the expired page, nothing else", async () => {
    const step = await password();
    expect((await code({ ...step, pending: "A".repeat(22) }, codeAt(totpStep(now)))).status).toBe(400);
    expect((await code({ ...step, pending: "<script>" }, codeAt(totpStep(now)))).status).toBe(400);
    expect((await code(step, codeAt(totpStep(now)))).status).toBe(303);
    const reused = await code(step, codeAt(totpStep(now) + 1));
    expect(reused.status).toBe(400);
    expect(reused.body).toContain("This sign-in has expired");
  });

  it("refuses a post without the CSRF token or from another site", async () => {
    const step = await password();
    expect((await code({ ...step, csrf: "wrong" }, codeAt(totpStep(now)))).status).toBe(403);
    const crossSite = await postForm(server, "/login/code", { csrf: step.csrf, pending: step.pending, code: codeAt(totpStep(now)) }, { cookie: step.cookie, origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect((await code(step, codeAt(totpStep(now)))).status).toBe(303);
  });

  it("a wrong password never reaches the code page", async () => {
    const step = await password({ ...ALICE, password: "wrong" });
    expect(step.reply.status).toBe(401);
    expect(step.pending).toBe("");
  });
});
