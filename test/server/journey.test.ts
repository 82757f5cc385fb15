/**
 * The sign-in journey's one table of cases, through the real server: (the factors the user has) ×
 * (what the target asks) × (how they came in: the form, a passkey, an invitation/reset link, CAS,
 * CAS `renew`). Each case is driven as a browser would drive it, answering whatever page the server
 * shows with the factors the user has, and checks where it ends and with which amr — and that no
 * login cookie exists before the user's last factor.
 *
 * OIDC `prompt=login` and `max_age` are ways in of the same journey (src/sign-in/fresh.ts) whose
 * rows belong beside CAS `renew` once the OIDC endpoint asks it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { tokenDigest } from "../../src/factors/pending.js";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { nextStep, type FactorsHeld } from "../../src/sign-in/index.js";
import { assertion, newSoftwarePasskey, type SoftwarePasskey } from "../support/software-passkey.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const PASSWORD = "correct horse battery";
const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const APPS = { one_factor: "http://127.0.0.1:9", two_factor: "http://127.0.0.1:10", forbidden: "http://127.0.0.1:11" } as const;
type Asks = keyof typeof APPS;
type Way = "form" | "passkey" | "link" | "cas" | "renew";
type Held = "none" | "totp" | "passkey" | "both";
type Outcome = "go" | "enrol" | "forbidden";

const HELD: Record<Held, FactorsHeld> = {
  none: { totp: false, passkey: false },
  totp: { totp: true, passkey: false },
  passkey: { totp: false, passkey: true },
  both: { totp: true, passkey: true },
};

function hidden(html: string, name: string): string {
  return (new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "").replace(/&amp;/g, "&");
}

function optionsOf(html: string): { challenge: string; rpId: string } {
  const raw = /data-options="([^"]*)"/.exec(html)![1]!.replace(/&#34;/g, '"').replace(/&quot;/g, '"').replace(/&amp;/g, "&");
  return JSON.parse(raw) as { challenge: string; rpId: string };
}

describe("the sign-in journey, every way in", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now = 30 * 57_000_000 + 10;
  const passkeys = new Map<string, SoftwarePasskey>();
  let serial = 0;

  beforeAll(async () => {
    data = await makeDataDir();
    server = await startServer(data, {}, () => now);
    await server.store.addApp({ name: "plain", origin: APPS.one_factor, policy: "one_factor" }, now);
    await server.store.addApp({ name: "admin", origin: APPS.two_factor, policy: "two_factor" }, now);
    await server.store.addApp({ name: "staff", origin: APPS.forbidden, policy: "one_factor", allowGroups: ["staff"] }, now);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  /** A new user holding `held`, so every case starts from nothing. */
  async function userWith(held: Held): Promise<string> {
    const username = `u${++serial}${held}`;
    const { hashPassword } = await import("../../src/passwords.js");
    await server.store.createUser({ username, name: "", email: "", groups: [], passwordHash: await hashPassword(PASSWORD) }, now);
    if (HELD[held].totp) await server.store.factors.setTotp(username, SECRET, [], now);
    if (HELD[held].passkey) {
      const key = newSoftwarePasskey();
      passkeys.set(username, key);
      await server.store.factors.addPasskey({ id: key.id, username, name: "test", publicKey: key.publicKey, counter: 0, transports: [], createdAt: now });
    }
    return username;
  }

  /** The browser: its cookies, and the pages it is shown. */
  class Browser {
    jar: Record<string, string> = {};
    /** Whether a login cookie was set before the user's last factor. */
    early = false;
    constructor(readonly username: string) {}

    take(reply: Reply): Reply {
      Object.assign(this.jar, cookiesOf(reply.headers));
      return reply;
    }
    async get(url: string): Promise<Reply> {
      return this.take(await fetchPage(url.startsWith("http") ? url : `${server.url}${url}`, { headers: { cookie: cookieHeader(this.jar) } }));
    }
    async post(path: string, form: Record<string, string>): Promise<Reply> {
      return this.take(await postForm(server, path, form, { cookie: cookieHeader(this.jar) }));
    }
    /** Follows the login server's own redirects; stops at an app's address. */
    async follow(reply: Reply): Promise<Reply> {
      let current = reply;
      while (current.status === 303 && String(current.headers.location).startsWith(server.url)) current = await this.get(String(current.headers.location));
      return current;
    }
    /** Answers the second-factor page with a code (TOTP) or the passkey, as the user has. */
    async secondFactor(page: Reply): Promise<Reply> {
      if (page.body.includes('name="code"') && HELD[this.held()].totp) {
        now += 30;
        const code = hotp(base32Decode(SECRET)!, totpStep(now));
        return this.follow(await this.post(page.body.includes("/login/step-up") ? "/login/step-up" : "/login/code", { csrf: hidden(page.body, "csrf"), pending: hidden(page.body, "pending"), code }));
      }
      const start = await this.post("/login/passkey/start", { csrf: hidden(page.body, "csrf"), pending: hidden(page.body, "pending"), step: hidden(page.body, "step") });
      return this.passkey(start);
    }
    async passkey(page: Reply): Promise<Reply> {
      expect(page.status).toBe(200);
      const options = optionsOf(page.body);
      const response = assertion(passkeys.get(this.username)!, { challenge: options.challenge, rpId: options.rpId, origin: server.url });
      return this.follow(await this.post("/login/passkey/finish", { csrf: hidden(page.body, "csrf"), pending: hidden(page.body, "pending"), response }));
    }
    held(): Held {
      return this.username.replace(/^u\d+/, "") as Held;
    }
    /** The login form on `page`: posted with the password, then every step the server asks for. */
    async password(page: Reply): Promise<Reply> {
      const fields: Record<string, string> = { csrf: hidden(page.body, "csrf"), username: this.username, password: PASSWORD };
      for (const name of ["rd", "app", "path", "qs"]) if (page.body.includes(`name="${name}"`)) fields[name] = hidden(page.body, name);
      const before = this.jar.ssoctl;
      return this.afterFirstFactor(await this.post("/login", fields), before);
    }
    async afterFirstFactor(reply: Reply, before: string | undefined): Promise<Reply> {
      let current = await this.follow(reply);
      if (current.status === 200 && current.body.includes("Two-step verification") && !current.body.includes("asks for a second factor")) {
        this.early ||= this.jar.ssoctl !== before;
        current = await this.secondFactor(current);
      }
      return current;
    }
    amr(): unknown {
      return this.jar.ssoctl === undefined || this.jar.ssoctl === "" ? null : decodeJwt(this.jar.ssoctl).amr;
    }
  }

  /** Where a page leaves the user: on to the app (or a CAS ticket for it), enrolment, or the 403 page. */
  function outcomeOf(reply: Reply, app: string): Outcome | string {
    if (reply.status === 303 && String(reply.headers.location).startsWith(app)) return "go";
    if (reply.status === 200 && reply.body.includes("Set up an authenticator app")) return "enrol";
    if (reply.status === 403) return "forbidden";
    return `${reply.status} ${String(reply.headers.location ?? reply.body.slice(0, 200))}`;
  }

  async function drive(way: Way, held: Held, asks: Asks): Promise<{ outcome: Outcome | string; amr: unknown; early: boolean; replaced?: boolean }> {
    const browser = new Browser(await userWith(held));
    const target = `${APPS[asks]}/page`;
    const viaLogin = `/login?rd=${encodeURIComponent(target)}`;
    let end: Reply;
    switch (way) {
      case "form":
        end = await browser.password(await browser.get(viaLogin));
        break;
      case "passkey": {
        const form = await browser.get(viaLogin);
        const start = await browser.post("/login/passkey/start", { csrf: hidden(form.body, "csrf"), rd: target });
        end = await browser.passkey(start);
        break;
      }
      case "link": {
        const token = Buffer.alloc(32, serial).toString("base64url");
        await server.store.factors.createInvitation(tokenDigest(token), browser.username, now + 3600, now);
        const page = await browser.get(`/invite/${token}`);
        const done = await browser.afterFirstFactor(await browser.post(`/invite/${token}`, { csrf: hidden(page.body, "csrf"), password: PASSWORD, repeat: PASSWORD }), undefined);
        expect(done.status).toBe(200);
        expect(done.body).toMatch(held === "none" ? /Your password is set/ : /Signed in/);
        end = await browser.follow(await browser.get(viaLogin));
        break;
      }
      case "cas":
      case "renew": {
        const service = `/cas/login?service=${encodeURIComponent(target)}`;
        if (way === "renew") {
          // Signed in already, with every factor, to another app: renew asks for all of them again.
          await browser.password(await browser.get(`/login?rd=${encodeURIComponent(`${APPS.one_factor}/`)}`));
          browser.early = false;
        }
        const before = browser.jar.ssoctl;
        const form = await browser.get(`${service}${way === "renew" ? "&renew=true" : ""}`);
        expect(form.body).toContain('name="password"');
        end = await browser.password(form);
        if (way === "renew" && before !== undefined) {
          const old = decodeJwt(before).sid as string;
          return { outcome: outcomeOf(end, APPS[asks]), amr: browser.amr(), early: browser.early, replaced: (await server.store.getSession(old, now)) === null };
        }
        break;
      }
    }
    return { outcome: outcomeOf(end, APPS[asks]), amr: browser.amr(), early: browser.early };
  }

  const AMR: Record<Held, { password: string[]; passkey: string[] }> = {
    none: { password: ["pwd"], passkey: [] },
    totp: { password: ["pwd", "otp"], passkey: [] },
    passkey: { password: ["pwd", "hwk"], passkey: ["hwk"] },
    both: { password: ["pwd", "otp"], passkey: ["hwk"] },
  };
  const EXPECTED: Record<Asks, (held: Held) => Outcome> = {
    one_factor: () => "go",
    // The default enrolment choice: a user with no second factor may enrol one right there.
    two_factor: (held) => (held === "none" ? "enrol" : "go"),
    forbidden: () => "forbidden",
  };

  const cases: Array<[Way, Held, Asks]> = [];
  for (const way of ["form", "passkey", "link", "cas", "renew"] as const) {
    for (const held of ["none", "totp", "passkey", "both"] as const) {
      if (way === "passkey" && !HELD[held].passkey) continue;
      for (const asks of ["one_factor", "two_factor", "forbidden"] as const) cases.push([way, held, asks]);
    }
  }

  it.each(cases)("%s, a user with %s second factor, a %s target", { timeout: 60_000 }, async (way, held, asks) => {
    const result = await drive(way, held, asks);
    expect(result.outcome).toBe(EXPECTED[asks](held));
    expect(result.amr).toEqual(way === "passkey" ? AMR[held].passkey : AMR[held].password);
    expect(result.early).toBe(false);
    if (way === "renew") expect(result.replaced).toBe(true);
  });

  it("counts wrong codes across right passwords: four rounds of four wrong codes are throttled, cleared only by a completed sign-in", { timeout: 120_000 }, async () => {
    const browser = new Browser(await userWith("totp"));
    const statuses: number[] = [];
    for (let round = 0; round < 4; round++) {
      const form = await browser.get("/login");
      const page = await browser.follow(await browser.post("/login", { csrf: hidden(form.body, "csrf"), username: browser.username, password: PASSWORD }));
      if (page.status !== 200 || !page.body.includes('name="code"')) {
        statuses.push(page.status);
        continue;
      }
      for (let i = 0; i < 4; i++) {
        const reply = await browser.post("/login/code", { csrf: hidden(page.body, "csrf"), pending: hidden(page.body, "pending"), code: "000000" === hotp(base32Decode(SECRET)!, totpStep(now)) ? "111111" : "000000" });
        statuses.push(reply.status);
      }
    }
    // The limit is 5 per user: the fifth wrong code locks the user, whatever passwords came between.
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect((await server.store.getThrottle("code", browser.username))?.failures).toBe(5);
    const lockedUntil = (await server.store.getThrottle("code", browser.username))!.lockedUntil;
    now = lockedUntil + 1;
    const done = await browser.password(await browser.get("/login"));
    expect(done.status).toBe(200);
    expect(browser.amr()).toEqual(["pwd", "otp"]);
    expect(await server.store.getThrottle("code", browser.username)).toBeNull();
  });

  it("a sign-in in a browser that has a session replaces it: the old one ends through the session-ended hook", async () => {
    const first = new Browser(await userWith("none"));
    await first.password(await first.get("/login"));
    const old = decodeJwt(first.jar.ssoctl!).sid as string;
    const second = new Browser(await userWith("none"));
    second.jar = { ...first.jar };
    await second.password(await second.get("/login"));
    expect(decodeJwt(second.jar.ssoctl!).sub).toBe(second.username);
    expect(await server.store.getSession(old, now)).toBeNull();
    expect(server.auditLines.some((line) => line.includes('"event":"session.replaced"') && line.includes(old))).toBe(true);
  });

  it("asks the access gate again when a CAS ticket is validated: a user taken out of the app's group gets no identity", async () => {
    const browser = new Browser(await userWith("none"));
    await server.store.updateUser(browser.username, { groups: ["staff"] });
    const service = `${APPS.forbidden}/page`;
    const end = await browser.password(await browser.get(`/cas/login?service=${encodeURIComponent(service)}`));
    expect(outcomeOf(end, APPS.forbidden)).toBe("go");
    const ticket = new URL(String(end.headers.location)).searchParams.get("ticket")!;
    await server.store.updateUser(browser.username, { groups: [] });
    const reply = await fetchPage(`${server.url}/cas/p3/serviceValidate?${new URLSearchParams({ service, ticket })}`);
    expect(reply.body).toContain('<cas:authenticationFailure code="INVALID_TICKET">');
    expect(reply.body).not.toContain("<cas:user>");
  });

  it("answers the same next steps as data", () => {
    expect(nextStep({ held: HELD.totp, done: ["pwd"], signedIn: false, verdict: null, enrolment: "open" })).toEqual({ next: "second_factor", offer: ["code"] });
    expect(nextStep({ held: HELD.both, done: ["pwd"], signedIn: false, verdict: null, enrolment: "open" })).toEqual({ next: "second_factor", offer: ["code", "passkey"] });
    expect(nextStep({ held: HELD.passkey, done: ["hwk"], signedIn: false, verdict: null, enrolment: "open" })).toEqual({ next: "session", amr: ["hwk"] });
    expect(nextStep({ held: HELD.none, done: ["pwd"], signedIn: true, verdict: "second_factor", enrolment: "strict" })).toEqual({ next: "forbidden", kind: "second_factor" });
    expect(nextStep({ held: HELD.totp, done: ["pwd"], signedIn: true, verdict: "second_factor", enrolment: "strict" })).toEqual({ next: "step_up", offer: ["code"] });
    expect(nextStep({ held: HELD.none, done: [], signedIn: false, verdict: null, enrolment: "open" })).toEqual({ next: "password" });
  });
});
