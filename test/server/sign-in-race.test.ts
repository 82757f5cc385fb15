/** A sign-in whose password was checked just before the CLI changed the account must not get a session. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import argon2 from "argon2";
import { Keyring } from "../../src/keyring.js";
import { LoginSessions } from "../../src/sessions.js";
import { SignIn } from "../../src/sign-in/index.js";
import { DEFAULT_THROTTLE } from "../../src/throttle.js";
import { WorkQueue } from "../../src/work-queue.js";
import { hashPassword } from "../../src/passwords.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.js";
import { makeDataDir, type TestDataDir } from "../support/server.js";

const NOW = Math.floor(Date.now() / 1000);

describe("a sign-in racing with account changes", () => {
  let data: TestDataDir;
  let store: SqliteStore;
  let cli: SqliteStore;
  let signIn: SignIn;
  let sessions: LoginSessions;

  beforeEach(async () => {
    data = await makeDataDir({ users: [{ username: "alice", password: "old password" }] });
    store = openSqliteStore(data.dataDir.dbPath);
    cli = openSqliteStore(data.dataDir.dbPath);
    signIn = new SignIn(store, DEFAULT_THROTTLE, new WorkQueue({ concurrency: 1, queueLimit: 4 }));
    sessions = new LoginSessions(store, await Keyring.load(data.dataDir, store, NOW), { issuer: "http://login.test", ttlSeconds: 3600 });
  });
  afterEach(async () => {
    await store.close();
    await cli.close();
    data.cleanup();
  });

  async function checkedPassword(): Promise<{ user: Parameters<LoginSessions["issue"]>[0]; passwordHash: string }> {
    const result = await signIn.attempt({ username: "alice", password: "old password", clientAddr: "127.0.0.1" }, NOW);
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") throw new Error("unreachable");
    return result;
  }

  const client = { addr: "127.0.0.1", userAgent: "test" };

  it.each([
    ["user passwd", (s: SqliteStore) => s.setPassword("alice", "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdA$bmV3aGFzaA")],
    ["user disable", (s: SqliteStore) => s.setDisabled("alice", true)],
    ["user remove", (s: SqliteStore) => s.deleteUser("alice")],
  ])("creates no session when %s lands between the check and the session", async (_name, change) => {
    const checked = await checkedPassword();
    await change(cli);
    expect(await sessions.issue(checked.user, { ...client, passwordHash: checked.passwordHash }, NOW)).toBeNull();
    expect(await cli.listSessions({}, NOW)).toEqual([]);
  });

  it("creates the session when nothing changed", async () => {
    const checked = await checkedPassword();
    const issued = await sessions.issue(checked.user, { ...client, passwordHash: checked.passwordHash }, NOW);
    expect(issued?.session.username).toBe("alice");
    expect(await cli.getSession(issued!.session.id, NOW)).not.toBeNull();
  });

  it("rehashes an outdated hash, and the session follows the new hash", async () => {
    const weak = await argon2.hash("old password", { type: argon2.argon2id, memoryCost: 8192, timeCost: 2, parallelism: 1 });
    await cli.setPassword("alice", weak);
    const checked = await checkedPassword();
    expect(checked.passwordHash).not.toBe(weak);
    expect((await cli.getUser("alice"))?.passwordHash).toBe(checked.passwordHash);
    expect(checked.passwordHash).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
    expect(await sessions.issue(checked.user, { ...client, passwordHash: checked.passwordHash }, NOW)).not.toBeNull();
  });

  it("never lets a rehash undo a password changed meanwhile", async () => {
    const weak = await argon2.hash("old password", { type: argon2.argon2id, memoryCost: 8192, timeCost: 2, parallelism: 1 });
    await cli.setPassword("alice", weak);
    const changed = await hashPassword("new password");
    // The CLI changes the password while this sign-in's rehash is under way.
    const replace = store.replacePasswordHash.bind(store);
    store.replacePasswordHash = async (username, expected, fresh) => {
      await cli.setPassword("alice", changed);
      return replace(username, expected, fresh);
    };
    const checked = await checkedPassword();
    expect((await cli.getUser("alice"))?.passwordHash).toBe(changed);
    expect(await sessions.issue(checked.user, { ...client, passwordHash: checked.passwordHash }, NOW)).toBeNull();
  });
});
