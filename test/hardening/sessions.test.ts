/**
 * Ending a session from the CLI takes effect at once at the login server and
 * at forward auth, while the server keeps running; expired sessions and old
 * throttling rows are pruned by the server's own timer.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { authRequest, formSession, jwtPayload, loginPageStatus, postLogin, runCli } from "./support.js";

const APP = "http://127.0.0.1:9";
const PAGE = `${APP}/reports?id=7`;

describe("ending sessions from the CLI", () => {
  let data: TestDataDir;
  let server: RunningServer;
  const tokens: Record<string, string> = {};
  const names = ["rhea", "dion", "pavel", "sana", "bob"];

  beforeAll(async () => {
    data = await makeDataDir({ users: names.map((username) => ({ username, password: `${username}'s password` })), apps: [APP] });
    server = await startServer(data);
    const form = await formSession(server);
    for (const username of names) {
      const answer = await postLogin(server, form, { username, password: `${username}'s password` }, { target: { rd: PAGE } });
      expect(answer.status).toBe(303);
      tokens[username] = answer.token!;
    }
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  async function expectLive(username: string): Promise<void> {
    expect(await loginPageStatus(server, tokens[username]!, PAGE)).toBe(303);
    expect(await authRequest(server, tokens[username], PAGE)).toBe(200);
  }

  async function expectEnded(username: string): Promise<void> {
    // The login page is shown again instead of the single-sign-on redirect, and forward auth refuses.
    expect(await loginPageStatus(server, tokens[username]!, PAGE)).toBe(200);
    expect(await authRequest(server, tokens[username], PAGE)).toBe(401);
  }

  const cases: Array<[string, string, (dir: string) => [string[], string?]]> = [
    ["user remove", "rhea", (dir) => [["user", "remove", "rhea", "-d", dir]]],
    ["user disable", "dion", (dir) => [["user", "disable", "dion", "-d", dir]]],
    ["user passwd", "pavel", (dir) => [["user", "passwd", "pavel", "--password-stdin", "-d", dir], "a brand new password\n"]],
    ["session revoke ID", "sana", (dir) => [["session", "revoke", jwtPayload(tokens.sana!).sid as string, "-d", dir]]],
  ];

  it.each(cases)("`ssoctl %s` ends the session at the login server and at forward auth", async (_label, username, command) => {
    await expectLive(username);
    const [args, input] = command(data.dataDir.dir);
    const result = await runCli(args, { input });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    await expectEnded(username);
  });

  it("does not revive a disabled user's sessions when the user is enabled again", async () => {
    const result = await runCli(["user", "enable", "dion", "-d", data.dataDir.dir]);
    expect(result.code).toBe(0);
    await expectEnded("dion");
  });

  it("leaves other users' sessions alone", async () => {
    await expectLive("bob");
  });

  it("keeps passwords, hashes and tokens out of the audit trail", async () => {
    await postLogin(server, await formSession(server), { username: "bob", password: "bob's wrong password" });
    const trail = [...server.auditLines, ...(await server.store.listAudit(1000)).map((event) => JSON.stringify(event))].join("\n");
    expect(trail).toContain("login.success");
    expect(trail).toContain("login.failure");
    const secrets = [...names.map((n) => `${n}'s password`), "bob's wrong password", "a brand new password", ...Object.values(tokens), data.secret];
    expect(secrets.filter((secret) => trail.includes(secret) || trail.includes(JSON.stringify(secret).slice(1, -1)))).toEqual([]);
    expect(trail).not.toContain("$argon2");
    expect(trail).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });
});

describe("pruning", () => {
  afterAll(() => {
    vi.useRealTimers();
  });

  it("deletes expired sessions and stale throttling rows on the server's timer, keeping live ones and active locks", async () => {
    const data = await makeDataDir();
    const now = Math.floor(Date.now() / 1000);
    // Only setInterval is faked: the server's timers, not the sockets' timeouts.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const server = await startServer(data);
    try {
      const session = { username: "x", anonymous: true, createdAt: now - 7200, clientAddr: "", userAgent: "" };
      await server.store.createSession({ ...session, id: "expired", expiresAt: now - 60 });
      await server.store.createSession({ ...session, id: "live", expiresAt: now + 3600 });
      const rule = { limit: 1, windowSeconds: 600, lockSeconds: 600 };
      await server.store.recordFailure("addr", "192.0.2.1", rule, now - 7200); // lock ended long ago
      await server.store.recordFailure("addr", "192.0.2.2", { ...rule, lockSeconds: 86_400 }, now - 7200); // still locked
      await server.store.recordFailure("user", "fresh", { ...rule, limit: 5 }, now - 10); // counting now

      vi.advanceTimersByTime(10 * 60 * 1000);
      await vi.waitFor(async () => expect(await server.store.getSession("expired", now - 3600)).toBeNull());
      expect(await server.store.getSession("live", now)).not.toBeNull();
      expect(await server.store.getThrottle("addr", "192.0.2.1")).toBeNull();
      expect(await server.store.getThrottle("addr", "192.0.2.2")).not.toBeNull();
      expect(await server.store.getThrottle("user", "fresh")).not.toBeNull();
    } finally {
      vi.useRealTimers();
      await server.close();
      data.cleanup();
    }
  });
});
