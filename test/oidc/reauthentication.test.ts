/**
 * OIDC Core §3.1.2.1: `prompt=login` and `max_age` ask for a new sign-in with every factor the
 * user has, whatever ssoctl session the browser holds, and `auth_time` is that sign-in; with
 * prompt=none the answer is `login_required`. The relying party is passport-openidconnect, which
 * checks `auth_time` against `max_age` itself ("Too much time has elapsed since last authentication").
 *
 * The server's clock starts two minutes behind, so the first sign-in is "two minutes ago" when
 * the clock is put right; the TOTP codes of the two sign-ins are then of different steps.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { base32Decode, hotp, newTotpSecret, totpStep } from "../../src/factors/totp.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { Browser, registerClient } from "./support.js";
import { PassportRp, discover, type Discovery } from "./independent-clients.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const CAROL = { username: "carol", password: "carol's long password" };
const CALLBACK = "http://rp.example.test/callback";

let data: TestDataDir;
let server: RunningServer;
let meta: Discovery;
let client: { clientId: string; secret: string };
let offset = -120;
const clock = (): number => Math.floor(Date.now() / 1000) + offset;
const totpSecret = newTotpSecret();
const carol = { ...CAROL, code: (): string => hotp(base32Decode(totpSecret)!, totpStep(clock())) };

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE, CAROL] });
  server = await startServer(data, {}, clock);
  await server.store.factors.setTotp("carol", totpSecret, [], clock());
  const registered = await registerClient(server.store, { name: "wiki", redirectUris: [CALLBACK] });
  client = { clientId: registered.clientId, secret: registered.secret! };
  meta = await discover(server.url);
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

beforeEach(() => {
  offset = -120;
});

/** A browser signed in at ssoctl (and at the wiki) two minutes ago; the clock is right afterwards. */
async function signedInEarlier(user: { username: string; password: string; code?: () => string }): Promise<{ browser: Browser; firstAuthTime: number }> {
  const browser = new Browser();
  const rp = new PassportRp(meta, client, CALLBACK, { loadUserInfo: false });
  const flow = await browser.navigate(await rp.start(), { stopAt: CALLBACK, credentials: user, server: server.url });
  const outcome = await rp.finish(flow.arrivedAt!);
  if (outcome.kind !== "success") throw new Error(JSON.stringify(outcome));
  offset = 0;
  return { browser, firstAuthTime: Number(outcome.claims.auth_time) };
}

describe("re-authentication for OpenID Connect clients", () => {
  it("max_age: a session older than it asks for the password again, and auth_time is the new sign-in", async () => {
    const { browser, firstAuthTime } = await signedInEarlier(ALICE);
    const rp = new PassportRp(meta, client, CALLBACK, { maxAge: 60, loadUserInfo: false });
    const before = clock();
    const flow = await browser.navigate(await rp.start(), { stopAt: CALLBACK, credentials: ALICE, server: server.url });
    expect(flow.pages).toBe(1); // the sign-in form, though the browser holds a session
    const outcome = await rp.finish(flow.arrivedAt!);
    expect(outcome.kind).toBe("success");
    if (outcome.kind !== "success") return;
    expect(Number(outcome.claims.auth_time)).toBeGreaterThanOrEqual(before);
    expect(Number(outcome.claims.auth_time)).toBeGreaterThan(firstAuthTime);
  });

  it("max_age the session still meets: no page, the same auth_time", async () => {
    const { browser, firstAuthTime } = await signedInEarlier(ALICE);
    const rp = new PassportRp(meta, client, CALLBACK, { maxAge: 3600, loadUserInfo: false });
    const flow = await browser.navigate(await rp.start(), { stopAt: CALLBACK, server: server.url });
    expect(flow.pages).toBe(0);
    const outcome = await rp.finish(flow.arrivedAt!);
    expect(outcome).toMatchObject({ kind: "success", claims: { auth_time: firstAuthTime } });
  });

  it("prompt=login: the password and the code again for a user with TOTP, with a new auth_time", async () => {
    const { browser, firstAuthTime } = await signedInEarlier(carol);
    const rp = new PassportRp(meta, client, CALLBACK, { loadUserInfo: false });
    const flow = await browser.navigate(await rp.start({ prompt: "login" }), { stopAt: CALLBACK, credentials: carol, server: server.url });
    expect(flow.pages).toBe(2); // the sign-in form and the code page
    const outcome = await rp.finish(flow.arrivedAt!);
    expect(outcome.kind).toBe("success");
    if (outcome.kind !== "success") return;
    expect(Number(outcome.claims.auth_time)).toBeGreaterThan(firstAuthTime);
    expect(outcome.claims.amr).toEqual(expect.arrayContaining(["pwd", "otp"]));
  });

  it("prompt=login: a visit that does not sign in gets no code", async () => {
    const { browser } = await signedInEarlier(ALICE);
    const rp = new PassportRp(meta, client, CALLBACK, { loadUserInfo: false });
    const flow = await browser.navigate(await rp.start({ prompt: "login" }), { stopAt: CALLBACK, server: server.url });
    expect(flow.arrivedAt).toBeNull();
    expect(flow.final.body).toContain('name="password"');
    // Coming back to the interaction with a mark of its own making changes nothing.
    const here = flow.final.url.split("?")[0]!;
    const forged = await browser.navigate(`${here}?ssoctl_fresh=${clock() - 3600}.${"0".repeat(32)}`, { stopAt: CALLBACK, server: server.url });
    expect(forged.arrivedAt).toBeNull();
    expect(forged.final.body).toContain('name="password"');
  });

  it("prompt=none with a max_age the session is past: login_required at the client", async () => {
    const { browser } = await signedInEarlier(ALICE);
    const rp = new PassportRp(meta, client, CALLBACK, { maxAge: 60, loadUserInfo: false });
    const flow = await browser.navigate(await rp.start({ prompt: "none" }), { stopAt: CALLBACK, server: server.url });
    expect(flow.pages).toBe(0);
    expect(new URL(flow.arrivedAt!).searchParams.get("error")).toBe("login_required");
  });
});
