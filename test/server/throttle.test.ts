/** Sign-in throttling as a user meets it: 429 with Retry-After, no hashing while locked, unlocking. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, makeDataDir, openLoginForm, postForm, runCli, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };
const BOB = { username: "bob", password: "bob's long password" };
const CAROL = { username: "carol", password: "carol's long password" };

describe("sign-in throttling", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let offset = 0;
  const clock = (): number => Math.floor(Date.now() / 1000) + offset;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB, CAROL], apps: [APP] });
    server = await startServer(
      data,
      { throttle: { user: { limit: 3, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 5, windowSeconds: 600, lockSeconds: 900 } } },
      clock,
    );
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  /** One sign-in post from the given client address (loopback is a trusted proxy, so X-Forwarded-For counts). */
  async function attempt(credentials: { username: string; password: string }, addr: string): Promise<Reply> {
    const { csrf, cookies } = await openLoginForm(server, { rd: `${APP}/` });
    return postForm(server, "/login", { rd: `${APP}/`, csrf, ...credentials }, { cookie: cookieHeader(cookies), headers: { "x-forwarded-for": addr } });
  }

  it("locks a username after the limit: 429 with Retry-After even for the right password, without hashing", async () => {
    for (let i = 0; i < 3; i += 1) {
      const reply = await attempt({ username: "alice", password: `guess number ${i}` }, `198.51.100.${i + 1}`);
      expect(reply.status).toBe(401);
    }
    const hashedBefore = server.login.context.signIn.verifications;
    for (let i = 0; i < 3; i += 1) {
      const reply = await attempt(ALICE, "198.51.100.50");
      expect(reply.status).toBe(429);
      expect(reply.headers.location).toBeUndefined();
      expect(reply.headers["set-cookie"] ?? "").not.toMatch(/ssoctl=/);
      const retryAfter = Number(reply.headers["retry-after"]);
      expect(retryAfter).toBeGreaterThan(590);
      expect(retryAfter).toBeLessThanOrEqual(600);
      expect(reply.body).toContain("Too many failed sign-ins. Try again in 10 minutes.");
      expect(reply.body).toContain('value="alice"');
    }
    // No argon2 work while locked.
    expect(server.login.context.signIn.verifications).toBe(hashedBefore);
    const reasons = server.auditLines.map((l) => JSON.parse(l) as { event: string; reason?: string; user?: string }).filter((e) => e.user === "alice");
    expect(reasons.map((e) => e.reason)).toEqual(["bad_password", "bad_password", "bad_password", "throttled_user", "throttled_user", "throttled_user"]);
  });

  it("does not lock other users out because of someone else's failures", async () => {
    const reply = await attempt(BOB, "198.51.100.60");
    expect(reply.status).toBe(303);
  });

  it("lets the user in again once `ssoctl user unlock` clears the lock", async () => {
    const result = await runCli(["user", "unlock", "alice", "-d", data.dataDir.dir]);
    expect(result.code).toBe(0);
    const reply = await attempt(ALICE, "198.51.100.61");
    expect(reply.status).toBe(303);
  });

  it("locks a client address after its limit, across usernames, and lets it in after the lock ends", async () => {
    const addr = "203.0.113.9";
    for (let i = 0; i < 5; i += 1) {
      expect((await attempt({ username: `nobody${i}`, password: "some guess here" }, addr)).status).toBe(401);
    }
    const locked = await attempt(CAROL, addr);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(890);
    expect((await attempt(CAROL, "203.0.113.10")).status).toBe(303);
    offset += 901;
    expect((await attempt(CAROL, addr)).status).toBe(303);
  });
});

describe("sign-in throttling under a burst", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data, { hashConcurrency: 4, hashQueueLimit: 32, throttle: { user: { limit: 3, windowSeconds: 600, lockSeconds: 600 } } });
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  // Sign-in re-checks the lock inside the hash queue, so a burst is bounded by the number of hashes running at
  // once: with 4 workers and a limit of 3, up to 3 + 4 - 1 guesses may be checked before the lock holds.
  it("checks at most limit + concurrency - 1 passwords for one username when the guesses arrive at once", async () => {
    const { csrf, cookies } = await openLoginForm(server, { rd: `${APP}/` });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postForm(server, "/login", { rd: `${APP}/`, csrf, username: "alice", password: `parallel guess ${i}` }, { cookie: cookieHeader(cookies), headers: { "x-forwarded-for": `192.0.2.${i + 1}` } }),
      ),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    const checked = statuses.filter((s) => s === 401).length;
    expect(checked).toBeGreaterThanOrEqual(3);
    expect(checked).toBeLessThanOrEqual(3 + 4 - 1);
    expect(statuses.filter((s) => s === 429).length).toBe(20 - checked);
  });
});
