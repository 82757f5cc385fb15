/** /invite/<token>: set a password once, then a second factor is offered; used, expired and forged links get a clear page. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { issueInvitation } from "../../src/factors/invitations.js";
import { cookieHeader, cookiesOf, fetchPage, makeDataDir, postForm, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

describe("invitation links", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let now: number;

  beforeEach(async () => {
    data = await makeDataDir({ users: [] });
    now = 1_800_000_000;
    server = await startServer(data, {}, () => now);
    await server.store.createUser({ username: "dave", name: "Dave", email: "", groups: [], passwordHash: "" }, now);
  });
  afterEach(async () => {
    await server.close();
    data.cleanup();
  });

  async function invite(ttl = 3600): Promise<string> {
    const user = (await server.store.getUser("dave"))!;
    return (await issueInvitation(server.store, user, ttl, now)).path;
  }

  async function open(path: string): Promise<{ status: number; body: string; cookie: string; csrf: string }> {
    const page = await fetchPage(`${server.url}${path}`);
    return { status: page.status, body: page.body, cookie: cookieHeader(cookiesOf(page.headers)), csrf: hiddenField(page.body, "csrf") };
  }

  it("a user without a password cannot sign in with any", async () => {
    expect((await signIn(server, { username: "dave", password: "" })).status).toBe(401);
    expect((await signIn(server, { username: "dave", password: "anything at all" })).status).toBe(401);
  });

  it("sets the password, signs in, offers a second factor; the link then no longer works", async () => {
    const path = await invite();
    expect(path).toMatch(/^\/invite\/[A-Za-z0-9_-]{43}$/);
    const page = await open(path);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Choose your password");
    expect(page.body).toContain('autocomplete="new-password"');
    const done = await postForm(server, path, { csrf: page.csrf, password: "dave's own password", repeat: "dave's own password" }, { cookie: page.cookie });
    expect(done.status).toBe(200);
    expect(done.body).toContain("Your password is set");
    expect(done.body).toContain("Set up an authenticator app");
    // This server is on 127.0.0.1, where browsers refuse passkeys: only the authenticator app is offered.
    expect(done.body).not.toContain("Add a passkey");
    const token = cookiesOf(done.headers).ssoctl!;
    expect(decodeJwt(token).sub).toBe("dave");
    expect((await signIn(server, { username: "dave", password: "dave's own password" })).status).toBe(303);
    const again = await open(path);
    expect(again.status).toBe(410);
    expect(again.body).toContain("This link no longer works");
    const replay = await postForm(server, path, { csrf: page.csrf, password: "someone else's pass", repeat: "someone else's pass" }, { cookie: page.cookie });
    expect(replay.status).toBe(410);
    expect((await signIn(server, { username: "dave", password: "someone else's pass" })).status).toBe(401);
    expect(server.auditLines.some((l) => l.includes('"user.invitation_accepted"'))).toBe(true);
  });

  it("checks the password policy and the repeat, keeping the link usable", async () => {
    const path = await invite();
    const page = await open(path);
    const short = await postForm(server, path, { csrf: page.csrf, password: "short", repeat: "short" }, { cookie: page.cookie });
    expect(short.status).toBe(400);
    expect(short.body).toContain("at least 8 characters");
    const differ = await postForm(server, path, { csrf: page.csrf, password: "long enough one", repeat: "long enough two" }, { cookie: page.cookie });
    expect(differ.status).toBe(400);
    expect(differ.body).toContain("differ");
    expect((await server.store.getUser("dave"))?.passwordHash).toBe("");
    expect((await open(path)).status).toBe(200);
  });

  it("an expired link gets the clear page", async () => {
    const path = await invite(60);
    now += 60;
    const page = await open(path);
    expect(page.status).toBe(410);
    expect(page.body).toContain("expired");
  });

  it("a newer link replaces the older one", async () => {
    const first = await invite();
    const second = await invite();
    expect((await open(first)).status).toBe(410);
    expect((await open(second)).status).toBe(200);
  });

  it("forged tokens get the clear page and count toward the address's throttling until it locks", async () => {
    for (const path of ["/invite/" + "A".repeat(43), "/invite/short", "/invite/%3Cscript%3E", "/invite/"]) {
      const page = await open(path);
      expect(page.status, path).toBe(410);
      expect(page.body).not.toContain("<script>");
    }
    expect((await server.store.getThrottle("addr", "127.0.0.1"))?.failures).toBe(4);
    for (let i = 4; i < 20; i += 1) await open("/invite/" + "B".repeat(43));
    const path = await invite();
    const locked = await open(path);
    expect(locked.status).toBe(429);
  });

  it("refuses a post without the CSRF token or from another site, changing nothing", async () => {
    const path = await invite();
    const page = await open(path);
    expect((await postForm(server, path, { csrf: "forged", password: "long enough pass", repeat: "long enough pass" }, { cookie: page.cookie })).status).toBe(403);
    expect((await postForm(server, path, { csrf: page.csrf, password: "long enough pass", repeat: "long enough pass" }, { cookie: page.cookie, origin: "https://evil.example" })).status).toBe(403);
    expect((await server.store.getUser("dave"))?.passwordHash).toBe("");
  });
});
