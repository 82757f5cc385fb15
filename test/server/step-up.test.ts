/** A two_factor app and a password-only login: the code page (or enrolment right there), then on to the app. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, signIn, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const ADMIN_APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };
const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

describe("step-up to a two_factor app", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now: number;

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE] });
    now = 30 * 57_000_000 + 10;
    server = await startServer(data, {}, () => now);
    await server.store.addApp({ name: "admin", origin: ADMIN_APP, policy: "two_factor" }, now);
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
  });

  const code = (step: number): string => hotp(base32Decode(SECRET)!, step);

  /** A password-only login (signed in before the app was enrolled): its cookie jar. */
  async function passwordOnly(): Promise<Record<string, string>> {
    const signed = await signIn(server, ALICE);
    expect(decodeJwt(signed.cookie!).amr).toEqual(["pwd"]);
    return { ssoctl: signed.cookie! };
  }

  async function bounce(jar: Record<string, string>): Promise<Reply> {
    return fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${ADMIN_APP}/settings`)}`, { headers: { cookie: cookieHeader(jar) } });
  }

  it("asks a user with an authenticator app for a code, then sends them on with a pwd+otp login", async () => {
    const jar = await passwordOnly();
    await server.store.factors.setTotp("alice", SECRET, [], now);
    const page = await bounce(jar);
    expect(page.status).toBe(200);
    expect(page.body).toContain("asks for a second factor");
    Object.assign(jar, cookiesOf(page.headers));
    const form = { csrf: hiddenField(page.body, "csrf"), pending: hiddenField(page.body, "pending") };
    const wrong = await postForm(server, "/login/step-up", { ...form, code: code(totpStep(now)) === "000000" ? "111111" : "000000" }, { cookie: cookieHeader(jar) });
    expect(wrong.status).toBe(401);
    expect((await server.store.getThrottle("code", "alice"))?.failures).toBe(1);
    const done = await postForm(server, "/login/step-up", { ...form, code: code(totpStep(now)) }, { cookie: cookieHeader(jar) });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(`${ADMIN_APP}/settings`);
    const upgraded = cookiesOf(done.headers).ssoctl!;
    expect(decodeJwt(upgraded).amr).toEqual(["pwd", "otp"]);
    // The password-only session is gone; the new one passes forward auth to the two_factor app.
    expect((await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader({ ssoctl: jar.ssoctl }) } })).status).toBe(303);
    const auth = await fetchPage(`${server.url}/auth/request`, { headers: { cookie: `ssoctl=${upgraded}`, "x-original-url": `${ADMIN_APP}/settings`, "x-original-method": "GET" } });
    expect(auth.status).toBe(200);
    expect(auth.headers["remote-user"]).toBe("alice");
  });

  it("forward auth refuses the password-only login (401 to the login page)", async () => {
    const jar = await passwordOnly();
    const auth = await fetchPage(`${server.url}/auth/request`, { headers: { cookie: cookieHeader(jar), "x-original-url": `${ADMIN_APP}/settings`, "x-original-method": "GET" } });
    expect(auth.status).toBe(401);
    expect(String(auth.headers.location)).toContain("/login?rd=");
  });

  it("offers enrolment right there to a user with none, then goes on to the app", async () => {
    const jar = await passwordOnly();
    const page = await bounce(jar);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Set up an authenticator app");
    expect(page.body).toContain("asks for a second factor");
    Object.assign(jar, cookiesOf(page.headers));
    const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(page.body)![1]!.replace(/ /g, "");
    const confirm = await postForm(server, "/account/totp/confirm", { csrf: hiddenField(page.body, "csrf"), pending: hiddenField(page.body, "pending"), code: hotp(base32Decode(secret)!, totpStep(now)) }, { cookie: cookieHeader(jar) });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain(`href="${ADMIN_APP}/settings"`);
    expect(confirm.body).toContain("Continue to admin");
    expect(decodeJwt(cookiesOf(confirm.headers).ssoctl!).amr).toEqual(["pwd", "otp"]);
  });

  it("a step-up record is bound to the session it was made for", async () => {
    const jar = await passwordOnly();
    const other = await passwordOnly();
    await server.store.factors.setTotp("alice", SECRET, [], now);
    const page = await bounce(jar);
    const csrfJar = cookiesOf(page.headers);
    const stolen = await postForm(server, "/login/step-up", { csrf: hiddenField(page.body, "csrf"), pending: hiddenField(page.body, "pending"), code: code(totpStep(now)) }, { cookie: cookieHeader({ ...other, ...csrfJar }) });
    expect(stolen.status).toBe(400);
    expect(stolen.body).toContain("expired");
  });
});
