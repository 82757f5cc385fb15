/** Sign-ins hash in a worker process at the lowest CPU priority; the server survives the worker dying. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getPriority } from "node:os";
import bcrypt from "bcryptjs";
import { ChildProcessHasher } from "../../src/password-hasher.js";
import { hashPassword } from "../../src/passwords.js";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the password worker", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let hasher: ChildProcessHasher;
  const app = "http://127.0.0.1:9";

  beforeAll(async () => {
    data = await makeDataDir({ users: [{ username: "alice", password: "correct horse" }], apps: [app] });
    hasher = new ChildProcessHasher();
    hasher.start();
    server = await startServer(data, {}, undefined, { hasher });
  });
  afterAll(async () => {
    await server.close();
    await hasher.close();
    data.cleanup();
  });

  it("runs at the lowest CPU priority, in another process", () => {
    expect(hasher.pid).toBeDefined();
    expect(hasher.pid).not.toBe(process.pid);
    expect(getPriority(hasher.pid!)).toBe(19);
  });

  it("produces and checks the same argon2id hashes as in-process hashing", async () => {
    const made = await hasher.hash("pässwörd ﬁne");
    expect(made).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
    expect(await hasher.verify(made, "pässwörd fine")).toBe(true);
    expect(await hasher.verify(await hashPassword("another one"), "another one")).toBe(true);
    expect(await hasher.verify(made, "wrong")).toBe(false);
    expect(await hasher.verify("not a hash", "wrong")).toBe(false);
  });

  it("fails the check under way when the worker dies, then starts a new worker for the next sign-in", async () => {
    const first = hasher.pid!;
    const stored = await hashPassword("correct horse");
    const underWay = hasher.verify(stored, "correct horse");
    process.kill(first, "SIGKILL");
    await expect(underWay).rejects.toThrow(/password worker stopped/);
    await waitFor(() => !isAlive(first));
    const again = await signIn(server, { username: "alice", password: "correct horse" }, { app });
    expect(again.status).toBe(303);
    expect(hasher.pid).toBeDefined();
    expect(hasher.pid).not.toBe(first);
    expect(getPriority(hasher.pid!)).toBe(19);
  });

  it("answers a sign-in whose check fails with 503, not 500, and keeps serving", async () => {
    const broken = { hash: () => Promise.reject(new Error("gone")), verify: () => Promise.reject(new Error("gone")), close: async () => {} };
    const other = await startServer(data, {}, undefined, { hasher: broken });
    try {
      const refused = await signIn(other, { username: "alice", password: "correct horse" }, { app });
      expect(refused.status).toBe(503);
      expect(refused.cookie).toBeUndefined();
      expect((await fetch(`${other.url}/healthz`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it("starts with the first sign-in (when its form is shown), not with the server, and stops with the server that started it", async () => {
    const own = await startServer(data);
    const ownHasher = (own.login.context.signIn as unknown as { hasher: ChildProcessHasher }).hasher;
    expect(ownHasher.pid).toBeUndefined();
    expect((await signIn(own, { username: "alice", password: "correct horse" }, { app })).status).toBe(303);
    const pid = ownHasher.pid!;
    expect(isAlive(pid)).toBe(true);
    await own.close();
    await waitFor(() => !isAlive(pid));
  });

  it("stops after a while without a check, and the next check starts a new one", async () => {
    const idle = new ChildProcessHasher({ idleMs: 200 });
    try {
      const stored = await hashPassword("correct horse");
      expect(await idle.verify(stored, "correct horse")).toBe(true);
      const first = idle.pid!;
      await waitFor(() => !isAlive(first));
      expect(idle.pid).toBeUndefined();
      expect(await idle.verify(stored, "correct horse")).toBe(true);
      expect(idle.pid).not.toBe(first);
    } finally {
      await idle.close();
    }
  });

  it("answers a native sign-in's check while costly imported hashes are still being checked", async () => {
    // bcrypt at the highest accepted cost, three times: about three times the CPU of one argon2
    // check, on the worker's one thread for imported hashes, so they finish one after another.
    const imported = bcrypt.hashSync("old password", 12);
    const native = await hashPassword("correct horse");
    const order: string[] = [];
    const checks = [1, 2, 3].map((n) => hasher.verify(imported, "old password").then((ok) => order.push(`imported ${n} ${ok}`)));
    checks.push(hasher.verify(native, "correct horse").then((ok) => order.push(`native ${ok}`)));
    await Promise.all(checks);
    expect(order).toContain("native true");
    expect(order.filter((entry) => entry.startsWith("imported")).every((entry) => entry.endsWith("true"))).toBe(true);
    expect(order.at(-1)).not.toBe("native true");
  });
});
