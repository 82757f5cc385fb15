/** `ssoctl session list/revoke` run as separate processes against a running server's data directory. Needs `tsc -p .` first. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { fetchPage, makeDataDir, runCli, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };
const BOB = { username: "bob", password: "bob's long password" };

interface ListedSession {
  id: string;
  username: string;
  anonymous: boolean;
  created: string;
  expires: string;
  clientAddr: string;
  userAgent: string;
}

describe("session commands against a running server", () => {
  let data: TestDataDir;
  let server: RunningServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB], apps: [APP] });
    server = await startServer(data);
    tokens.alice1 = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    tokens.alice2 = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    tokens.alice3 = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    tokens.bob = (await signIn(server, BOB, { rd: `${APP}/` })).cookie!;
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  async function signedIn(token: string): Promise<boolean> {
    const reply = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/`)}`, { headers: { cookie: `ssoctl=${token}` } });
    if (reply.status === 303) return true;
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('name="password"');
    return false;
  }

  function sid(token: string): string {
    return decodeJwt(token).sid as string;
  }

  it("lists the server's sessions as JSON", async () => {
    const result = await runCli(["session", "list", "--json", "-d", data.dataDir.dir]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const sessions = JSON.parse(result.stdout) as ListedSession[];
    expect(sessions.map((s) => s.id).sort()).toEqual(Object.values(tokens).map(sid).sort());
    const bob = sessions.find((s) => s.id === sid(tokens.bob!))!;
    expect(bob).toMatchObject({ username: "bob", anonymous: false, clientAddr: "127.0.0.1" });
    expect(Date.parse(bob.expires) - Date.parse(bob.created)).toBe(12 * 3600 * 1000);
  });

  it("lists one user's sessions as a table", async () => {
    const result = await runCli(["session", "list", "--user", "alice", "-d", data.dataDir.dir]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+USER\s+CREATED\s+EXPIRES\s+CLIENT/);
    expect(lines).toHaveLength(4);
    expect(result.stdout).not.toContain("bob");
  });

  it("revoke ID ends that session: the next visit asks for a sign-in again", async () => {
    expect(await signedIn(tokens.alice1!)).toBe(true);
    const result = await runCli(["session", "revoke", sid(tokens.alice1!), "-d", data.dataDir.dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Ended 1 session(s).");
    expect(await signedIn(tokens.alice1!)).toBe(false);
    expect(await signedIn(tokens.alice2!)).toBe(true);
  });

  it("revoke --user ends all of that user's sessions and no one else's", async () => {
    const result = await runCli(["session", "revoke", "--user", "ALICE", "-d", data.dataDir.dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Ended 2 session(s).");
    expect(await signedIn(tokens.alice2!)).toBe(false);
    expect(await signedIn(tokens.alice3!)).toBe(false);
    expect(await signedIn(tokens.bob!)).toBe(true);
  });

  it("revoke --all ends every session", async () => {
    tokens.alice4 = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    const result = await runCli(["session", "revoke", "--all", "-d", data.dataDir.dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Ended 2 session(s).");
    expect(await signedIn(tokens.bob!)).toBe(false);
    expect(await signedIn(tokens.alice4!)).toBe(false);
    const list = await runCli(["session", "list", "--json", "-d", data.dataDir.dir]);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it("revoke with no choice, or two, is a usage error (exit 2)", async () => {
    for (const args of [["session", "revoke"], ["session", "revoke", "abc", "--all"]]) {
      const result = await runCli([...args, "-d", data.dataDir.dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^ssoctl: /);
    }
  });

  it("keeps the server healthy while the CLI writes to the same database", async () => {
    const [health, list] = await Promise.all([fetchPage(`${server.url}/healthz`), runCli(["session", "list", "--json", "-d", data.dataDir.dir])]);
    expect(health.status).toBe(200);
    expect(list.code).toBe(0);
    const after = await signIn(server, BOB, { rd: `${APP}/` });
    expect(after.status).toBe(303);
  });
});
