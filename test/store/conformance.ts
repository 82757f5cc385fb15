/**
 * The conformance suite every Store implementation must pass (lucia's `testAdapter` idea):
 * `testStore("sqlite", makeStore)` in that store's test file.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, type CasTicket, type ImportedUser, type NewUser, type Session, type Store, type ThrottleRule, type User } from "../../src/store/store.js";

export interface StoreFixture {
  store: Store;
  cleanup(): Promise<void>;
  /** Another connection to the same database, as a second process (CLI beside the server) would have. */
  connectAgain?: () => Promise<Store>;
}

const NOW = 1_700_000_000;
const HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

function newUser(username: string, extra: Partial<NewUser> = {}): NewUser {
  return { username, name: "", email: "", groups: [], passwordHash: HASH, ...extra };
}

function session(id: string, username: string, extra: Partial<Session> = {}): Session {
  return {
    id,
    username,
    anonymous: false,
    createdAt: NOW,
    expiresAt: NOW + 3600,
    clientAddr: "192.0.2.1",
    userAgent: "test",
    ...extra,
  };
}

async function collect(items: Iterable<User> | AsyncIterable<User>): Promise<User[]> {
  const out: User[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export function testStore(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe("users", () => {
      it("creates a user and reads it back with its hash", async () => {
        const created = await store.createUser(
          newUser("Alice", { name: "Alice Smith", email: "alice@example.com", groups: ["admins", "dev"] }),
          NOW,
        );
        expect(created).toEqual({
          username: "Alice",
          name: "Alice Smith",
          email: "alice@example.com",
          groups: ["admins", "dev"],
          disabled: false,
          createdAt: NOW,
          lastLoginAt: null,
        });
        expect(await store.getUser("Alice")).toEqual({ ...created, passwordHash: HASH });
      });

      it("finds a user whatever the case of the name", async () => {
        await store.createUser(newUser("Alice"), NOW);
        expect((await store.getUser("alice"))?.username).toBe("Alice");
        expect((await store.getUser("ALICE"))?.username).toBe("Alice");
      });

      it("returns null for an unknown user", async () => {
        expect(await store.getUser("nobody")).toBeNull();
      });

      it("refuses a second user whose name differs only in case, with a ConflictError", async () => {
        await store.createUser(newUser("alice"), NOW);
        await expect(store.createUser(newUser("ALICE"), NOW)).rejects.toBeInstanceOf(ConflictError);
        await expect(store.createUser(newUser("alice"), NOW)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.listUsers()).toHaveLength(1);
      });

      it("lists and iterates users in case-insensitive name order", async () => {
        for (const username of ["carol", "Bob", "alice", "Dave"]) await store.createUser(newUser(username), NOW);
        const listed = (await store.listUsers()).map((u) => u.username);
        expect(listed).toEqual(["alice", "Bob", "carol", "Dave"]);
        expect((await collect(store.iterateUsers())).map((u) => u.username)).toEqual(listed);
      });

      it("iterates nothing when there are no users", async () => {
        expect(await collect(store.iterateUsers())).toEqual([]);
        expect(await store.listUsers()).toEqual([]);
      });

      it("keeps an empty group list empty", async () => {
        await store.createUser(newUser("alice", { groups: [] }), NOW);
        expect((await store.getUser("alice"))?.groups).toEqual([]);
      });

      it("changes a password, whatever the case of the name", async () => {
        await store.createUser(newUser("alice"), NOW);
        expect(await store.setPassword("ALICE", "$argon2id$new")).toBe(true);
        expect((await store.getUser("alice"))?.passwordHash).toBe("$argon2id$new");
      });

      it("disables and enables a user", async () => {
        await store.createUser(newUser("alice"), NOW);
        expect(await store.setDisabled("alice", true)).toBe(true);
        expect((await store.getUser("alice"))?.disabled).toBe(true);
        expect(await store.setDisabled("Alice", false)).toBe(true);
        expect((await store.getUser("alice"))?.disabled).toBe(false);
      });

      it("records the last login", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.recordLogin("alice", NOW + 5);
        expect((await store.getUser("alice"))?.lastLoginAt).toBe(NOW + 5);
      });

      it("returns false from setPassword, setDisabled and deleteUser for an unknown user", async () => {
        expect(await store.setPassword("nobody", HASH)).toBe(false);
        expect(await store.setDisabled("nobody", true)).toBe(false);
        expect(await store.deleteUser("nobody")).toBe(false);
      });

      it("deletes a user and ends their sessions, leaving others'", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.createUser(newUser("bob"), NOW);
        await store.createSession(session("s-alice-1", "alice"));
        await store.createSession(session("s-alice-2", "alice"));
        await store.createSession(session("s-bob", "bob"));
        expect(await store.deleteUser("ALICE")).toBe(true);
        expect(await store.getUser("alice")).toBeNull();
        expect(await store.getSession("s-alice-1", NOW)).toBeNull();
        expect(await store.getSession("s-alice-2", NOW)).toBeNull();
        expect(await store.getSession("s-bob", NOW)).not.toBeNull();
      });

      it("lets a deleted name be used again", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.deleteUser("alice");
        await expect(store.createUser(newUser("Alice"), NOW)).resolves.toMatchObject({ username: "Alice" });
      });
    });

    // ---- operations (issue 15): user import ----
    describe("importing users", () => {
      const APR1 = "$apr1$jM0bGAFA$1aHjVhftjX3HcQRiFTJNM1";
      const imported = (username: string, extra: Partial<ImportedUser> = {}): ImportedUser => ({ ...newUser(username), passwordHash: APR1, disabled: false, ...extra });

      it("adds new users with their profile, foreign hash and disabled flag; keeps existing ones unless told to replace", async () => {
        await store.createUser(newUser("Alice", { name: "Alice Native" }), NOW);
        await store.createSession(session("alice-s", "Alice"));
        const before = store.changeCounter();
        const outcome = await store.importUsers(
          [imported("alice", { name: "Alice Imported" }), imported("carol", { name: "Carol", email: "carol@example.com", groups: ["dev", "ops"], disabled: true })],
          { replace: false, dryRun: false },
          NOW + 5,
        );
        expect(outcome).toEqual({ created: ["carol"], replaced: [], kept: ["Alice"] });
        expect(store.changeCounter()).not.toBe(before);
        expect(await store.getUser("carol")).toEqual({
          username: "carol", name: "Carol", email: "carol@example.com", groups: ["dev", "ops"], disabled: true, createdAt: NOW + 5, lastLoginAt: null, passwordHash: APR1,
        });
        expect((await store.getUser("alice"))?.name).toBe("Alice Native");
        expect(await store.getSession("alice-s", NOW)).not.toBeNull();

        const replaced = await store.importUsers([imported("ALICE", { name: "Alice Imported" })], { replace: true, dryRun: false }, NOW + 6);
        expect(replaced).toEqual({ created: [], replaced: ["Alice"], kept: [] });
        expect(await store.getUser("alice")).toMatchObject({ username: "Alice", name: "Alice Imported", passwordHash: APR1, createdAt: NOW });
        // A replaced user's password changed: their sessions end.
        expect(await store.getSession("alice-s", NOW)).toBeNull();
      });

      it("a dry run reports the same outcome and writes nothing", async () => {
        await store.createUser(newUser("alice"), NOW);
        const before = store.changeCounter();
        const outcome = await store.importUsers([imported("alice"), imported("dave")], { replace: true, dryRun: true }, NOW);
        expect(outcome).toEqual({ created: ["dave"], replaced: ["alice"], kept: [] });
        expect(await store.getUser("dave")).toBeNull();
        expect((await store.getUser("alice"))?.passwordHash).toBe(HASH);
        expect(store.changeCounter()).toBe(before);
      });

      it("is all or nothing: a row the database refuses at the end writes none of the batch", async () => {
        const broken = imported("zed", { passwordHash: null as unknown as string });
        await expect(store.importUsers([imported("erin"), imported("frank"), broken], { replace: false, dryRun: false }, NOW)).rejects.toThrow();
        expect(await collect(store.iterateUsers())).toEqual([]);
        // The store is usable afterwards (the transaction was rolled back, not left open).
        expect(await store.importUsers([imported("erin")], { replace: false, dryRun: false }, NOW)).toEqual({ created: ["erin"], replaced: [], kept: [] });
      });

      it("a later user whose name differs only in case from one earlier in the batch is reported as kept, not written twice", async () => {
        const outcome = await store.importUsers([imported("frank"), imported("FRANK", { name: "second" })], { replace: false, dryRun: false }, NOW);
        expect(outcome).toEqual({ created: ["frank"], replaced: [], kept: ["frank"] });
        expect((await store.getUser("frank"))?.name).toBe("");
      });
    });

    describe("live counts (for /metrics)", () => {
      it("counts live sessions and the usernames and addresses locked now", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.createSession(session("live", "alice"));
        await store.createSession(session("anon", "anonymous", { anonymous: true }));
        await store.createSession(session("old", "alice", { expiresAt: NOW - 1 }));
        const rule = { limit: 2, windowSeconds: 600, lockSeconds: 60 };
        for (let i = 0; i < 2; i++) await store.recordFailure("user", "alice", rule, NOW);
        await store.recordFailure("user", "bob", rule, NOW);
        for (let i = 0; i < 2; i++) await store.recordFailure("addr", "192.0.2.1", rule, NOW);
        for (let i = 0; i < 2; i++) await store.recordFailure("addr", "192.0.2.2", rule, NOW);
        expect(await store.liveCounts(NOW)).toEqual({ sessions: 2, lockedUsers: 1, lockedAddrs: 2 });
        expect(await store.liveCounts(NOW + 3600)).toEqual({ sessions: 0, lockedUsers: 0, lockedAddrs: 0 });
      });
    });
    // ---- /operations ----

    describe("LDAP service accounts and app passwords", () => {
      it("adds a service account for an app by name or origin, finds it ignoring case, and removes it", async () => {
        await store.addApp({ name: "Wiki", origin: "https://wiki.example.com" }, NOW);
        const added = await store.ldap.addLdapAccount({ name: "wiki-svc", app: "wiki", secretHash: "a".repeat(64) }, NOW);
        expect(added).toEqual({ name: "wiki-svc", appOrigin: "https://wiki.example.com", appName: "Wiki", createdAt: NOW, lastUsedAt: null });
        expect(await store.ldap.addLdapAccount({ name: "other", app: "https://nope.example.com", secretHash: "b".repeat(64) }, NOW)).toBeNull();
        await expect(store.ldap.addLdapAccount({ name: "WIKI-SVC", app: "https://wiki.example.com", secretHash: "c".repeat(64) }, NOW)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.ldap.getLdapAccount("Wiki-Svc")).toMatchObject({ name: "wiki-svc", secretHash: "a".repeat(64) });
        await store.ldap.useLdapAccount("wiki-svc", NOW + 5);
        expect((await store.ldap.listLdapAccounts())[0]!.lastUsedAt).toBe(NOW + 5);
        expect(await store.ldap.removeLdapAccount("wiki-svc")).toMatchObject({ name: "wiki-svc" });
        expect(await store.ldap.removeLdapAccount("wiki-svc")).toBeNull();
        expect(await store.ldap.listLdapAccounts()).toEqual([]);
      });

      it("removes an app's service accounts with the app", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        await store.ldap.addLdapAccount({ name: "wiki", app: "wiki", secretHash: "a".repeat(64) }, NOW);
        await store.removeApp("wiki");
        expect(await store.ldap.getLdapAccount("wiki")).toBeNull();
      });

      it("keeps a user's app passwords by label, finds one by hash for that user only, and removes it", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.createUser(newUser("bob"), NOW);
        const added = await store.ldap.addAppPassword({ username: "ALICE", label: "jellyfin", secretHash: "d".repeat(64) }, NOW);
        expect(added).toMatchObject({ username: "alice", label: "jellyfin", createdAt: NOW, lastUsedAt: null });
        expect(await store.ldap.addAppPassword({ username: "nobody", label: "x", secretHash: "e".repeat(64) }, NOW)).toBeNull();
        await expect(store.ldap.addAppPassword({ username: "alice", label: "JELLYFIN", secretHash: "f".repeat(64) }, NOW)).rejects.toBeInstanceOf(ConflictError);
        await store.ldap.addAppPassword({ username: "alice", label: "mail", secretHash: "0".repeat(64) }, NOW);
        expect((await store.ldap.listAppPasswords("alice")).map((p) => p.label)).toEqual(["jellyfin", "mail"]);
        expect(await store.ldap.findAppPassword("alice", "d".repeat(64))).toMatchObject({ label: "jellyfin" });
        expect(await store.ldap.findAppPassword("bob", "d".repeat(64))).toBeNull();
        await store.ldap.useAppPassword(added!.id, NOW + 9);
        expect((await store.ldap.listAppPasswords("alice"))[0]!.lastUsedAt).toBe(NOW + 9);
        expect(await store.ldap.removeAppPassword("alice", "Jellyfin")).toMatchObject({ label: "jellyfin" });
        expect(await store.ldap.findAppPassword("alice", "d".repeat(64))).toBeNull();
        expect(await store.ldap.removeAppPassword("alice", "jellyfin")).toBeNull();
      });

      it("records which directory a user came from, refreshes it, and forgets it with the user", async () => {
        await store.createUser(newUser("dana"), NOW);
        expect(await store.ldap.markDirectoryUser({ username: "nobody", directory: "ad", dn: "cn=x" }, NOW)).toBe(false);
        expect(await store.ldap.markDirectoryUser({ username: "DANA", directory: "ad", dn: "cn=Dana,ou=ad" }, NOW)).toBe(true);
        expect(await store.ldap.markDirectoryUser({ username: "dana", directory: "ad", dn: "cn=Dana A,ou=ad" }, NOW + 3)).toBe(true);
        expect(await store.ldap.listDirectoryUsers()).toEqual([{ username: "dana", directory: "ad", dn: "cn=Dana A,ou=ad", checkedAt: NOW + 3 }]);
        expect(await store.ldap.getDirectoryUser("Dana")).toMatchObject({ dn: "cn=Dana A,ou=ad" });
        await store.deleteUser("dana");
        expect(await store.ldap.listDirectoryUsers()).toEqual([]);
      });

      it("removes a user's app passwords with the user", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.ldap.addAppPassword({ username: "alice", label: "jellyfin", secretHash: "d".repeat(64) }, NOW);
        await store.deleteUser("alice");
        await store.createUser(newUser("alice"), NOW);
        expect(await store.ldap.listAppPasswords("alice")).toEqual([]);
      });
    });

    describe("apps", () => {
      it("adds and lists apps ordered by name", async () => {
        const added = await store.addApp({ name: "Wiki", origin: "https://wiki.example.com" }, NOW);
        const open = { policy: "one_factor", allowGroups: [], allowUsers: [] };
        expect(added).toEqual({ name: "Wiki", origin: "https://wiki.example.com", createdAt: NOW, ...open });
        await store.addApp({ name: "grafana", origin: "https://grafana.example.com:8443" }, NOW + 1);
        expect(await store.listApps()).toEqual([
          { name: "grafana", origin: "https://grafana.example.com:8443", createdAt: NOW + 1, ...open },
          { name: "Wiki", origin: "https://wiki.example.com", createdAt: NOW, ...open },
        ]);
      });

      it("refuses a duplicate origin or name with a ConflictError", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        await expect(store.addApp({ name: "other", origin: "https://wiki.example.com" }, NOW)).rejects.toBeInstanceOf(ConflictError);
        await expect(store.addApp({ name: "wiki", origin: "https://other.example.com" }, NOW)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.listApps()).toHaveLength(1);
      });

      it("removes an app by origin", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        expect(await store.removeApp("https://wiki.example.com")).toMatchObject({ name: "wiki" });
        expect(await store.listApps()).toEqual([]);
      });

      it("removes an app by name", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        await store.addApp({ name: "grafana", origin: "https://grafana.example.com" }, NOW);
        expect(await store.removeApp("wiki")).toMatchObject({ origin: "https://wiki.example.com" });
        expect((await store.listApps()).map((a) => a.name)).toEqual(["grafana"]);
      });

      it("returns null when removing an app that is not registered", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        expect(await store.removeApp("https://nope.example.com")).toBeNull();
        expect(await store.removeApp("nope")).toBeNull();
        expect(await store.listApps()).toHaveLength(1);
      });
    });

    // ---- access rules (issue 11) ----
    describe("access: users' profiles, apps' policies, path rules", () => {
      const rule = { path: "/admin", methods: [], policy: null, groups: ["admins"], users: [] };

      it("changes only the given fields of a user, whatever the case of the name", async () => {
        await store.createUser(newUser("alice", { name: "Alice", email: "a@example.com", groups: ["dev"] }), NOW);
        expect(await store.updateUser("ALICE", { groups: ["staff", "admins"] })).toBe(true);
        expect(await store.getUser("alice")).toMatchObject({ name: "Alice", email: "a@example.com", groups: ["staff", "admins"] });
        expect(await store.updateUser("alice", { name: "Alice Smith", email: "", groups: [] })).toBe(true);
        expect(await store.getUser("alice")).toMatchObject({ name: "Alice Smith", email: "", groups: [] });
        expect(await store.updateUser("nobody", { name: "x" })).toBe(false);
      });

      it("adds an app with a policy and an audience, and changes them by name or origin", async () => {
        const added = await store.addApp({ name: "grafana", origin: "https://g.example.com", policy: "two_factor", allowGroups: ["staff"] }, NOW);
        expect(added).toMatchObject({ policy: "two_factor", allowGroups: ["staff"], allowUsers: [] });
        expect(await store.updateApp("GRAFANA", { allowUsers: ["bob"], policy: "deny" })).toMatchObject({
          name: "grafana",
          policy: "deny",
          allowGroups: ["staff"],
          allowUsers: ["bob"],
        });
        expect(await store.updateApp("https://g.example.com", { name: "metrics", allowGroups: [], allowUsers: [] })).toMatchObject({
          name: "metrics",
          policy: "deny",
          allowGroups: [],
          allowUsers: [],
        });
        expect((await store.listApps())[0]).toMatchObject({ name: "metrics", policy: "deny", allowGroups: [], allowUsers: [] });
        expect(await store.updateApp("nope", { policy: "bypass" })).toBeNull();
      });

      it("refuses renaming an app to a taken name with a ConflictError, unchanged", async () => {
        await store.addApp({ name: "a", origin: "https://a.example.com" }, NOW);
        await store.addApp({ name: "b", origin: "https://b.example.com" }, NOW);
        await expect(store.updateApp("a", { name: "B", policy: "deny" })).rejects.toBeInstanceOf(ConflictError);
        expect((await store.listApps()).map((a) => [a.name, a.policy])).toEqual([["a", "one_factor"], ["b", "one_factor"]]);
      });

      it("adds, lists and removes rules; each names its app", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        await store.addApp({ name: "grafana", origin: "https://g.example.com" }, NOW);
        const first = await store.addRule("wiki", rule, NOW);
        expect(first).toEqual({ id: first!.id, app: "wiki", origin: "https://wiki.example.com", createdAt: NOW, ...rule });
        const second = await store.addRule("https://g.example.com", { path: "/api", methods: ["POST", "PUT"], policy: "two_factor", groups: [], users: ["bob", "carol"] }, NOW);
        expect(second).toMatchObject({ app: "grafana", methods: ["POST", "PUT"], policy: "two_factor", users: ["bob", "carol"] });
        expect(second!.id).not.toBe(first!.id);
        expect((await store.listRules()).map((r) => r.app)).toEqual(["grafana", "wiki"]);
        expect((await store.listRules("WIKI")).map((r) => r.id)).toEqual([first!.id]);
        expect(await store.listRules("nope")).toEqual([]);
        expect(await store.removeRule(first!.id)).toMatchObject({ id: first!.id, app: "wiki", path: "/admin" });
        expect(await store.removeRule(first!.id)).toBeNull();
        expect((await store.listRules()).map((r) => r.id)).toEqual([second!.id]);
      });

      it("adds no rule to an app that is not registered", async () => {
        expect(await store.addRule("nope", rule, NOW)).toBeNull();
        expect(await store.listRules()).toEqual([]);
      });

      it("removes an app's rules with the app", async () => {
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        await store.addRule("wiki", rule, NOW);
        await store.removeApp("wiki");
        expect(await store.listRules()).toEqual([]);
      });

      it("moves the change counter on every access write, here and from another connection", async (context) => {
        await store.createUser(newUser("alice"), NOW);
        await store.addApp({ name: "wiki", origin: "https://wiki.example.com" }, NOW);
        let before = store.changeCounter();
        await store.updateUser("alice", { groups: ["x"] });
        expect(store.changeCounter()).not.toBe(before);
        before = store.changeCounter();
        await store.updateApp("wiki", { policy: "deny" });
        expect(store.changeCounter()).not.toBe(before);
        before = store.changeCounter();
        const added = await store.addRule("wiki", rule, NOW);
        expect(store.changeCounter()).not.toBe(before);
        if (fixture.connectAgain === undefined) context.skip();
        const other = await fixture.connectAgain!();
        try {
          before = store.changeCounter();
          await other.removeRule(added!.id);
          await expect.poll(() => store.changeCounter(), { timeout: 5000, interval: 5 }).not.toBe(before);
          before = store.changeCounter();
          await other.addRule("wiki", rule, NOW);
          await expect.poll(() => store.changeCounter(), { timeout: 5000, interval: 5 }).not.toBe(before);
          before = store.changeCounter();
          await other.updateApp("wiki", { allowGroups: ["g"] });
          await expect.poll(() => store.changeCounter(), { timeout: 5000, interval: 5 }).not.toBe(before);
        } finally {
          await other.close();
        }
      });
    });
    // ---- end access rules ----

    describe("sessions", () => {
      beforeEach(async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.createUser(newUser("bob"), NOW);
      });

      it("creates a session and reads it back", async () => {
        const s = session("s1", "alice", { clientAddr: "2001:db8::1", userAgent: "Firefox" });
        await store.createSession(s);
        expect(await store.getSession("s1", NOW + 1)).toEqual(s);
      });

      it("creates a user's session only while the user exists, is enabled and still has the checked hash", async () => {
        expect(await store.createSession(session("s-ok", "alice"), { passwordHash: HASH })).toBe(true);
        expect(await store.createSession(session("s-stale", "alice"), { passwordHash: "$argon2id$other" })).toBe(false);
        expect(await store.createSession(session("s-ghost", "nobody"))).toBe(false);
        await store.setDisabled("bob", true);
        expect(await store.createSession(session("s-off", "bob"), { passwordHash: HASH })).toBe(false);
        for (const id of ["s-stale", "s-ghost", "s-off"]) expect(await store.getSession(id, NOW)).toBeNull();
        expect(await store.getSession("s-ok", NOW)).not.toBeNull();
      });

      it("replaces a password hash only if it is unchanged", async () => {
        expect(await store.replacePasswordHash("alice", HASH, "$argon2id$new")).toBe(true);
        expect(await store.replacePasswordHash("alice", HASH, "$argon2id$newer")).toBe(false);
        expect((await store.getUser("alice"))?.passwordHash).toBe("$argon2id$new");
      });

      it("stores an anonymous session", async () => {
        const s = session("anon1", "anonymous", { anonymous: true });
        await store.createSession(s);
        expect(await store.getSession("anon1", NOW)).toEqual(s);
      });

      it("treats an expired session as absent, from the second it expires", async () => {
        await store.createSession(session("s1", "alice", { expiresAt: NOW + 10 }));
        expect(await store.getSession("s1", NOW + 9)).not.toBeNull();
        expect(await store.getSession("s1", NOW + 10)).toBeNull();
        expect(await store.getSession("s1", NOW + 11)).toBeNull();
      });

      it("returns null for an unknown session id", async () => {
        expect(await store.getSession("nope", NOW)).toBeNull();
      });

      it("lists live sessions, optionally for one user (any case)", async () => {
        await store.createSession(session("a1", "alice", { createdAt: NOW }));
        await store.createSession(session("b1", "bob", { createdAt: NOW + 1 }));
        await store.createSession(session("a2", "alice", { createdAt: NOW + 2 }));
        await store.createSession(session("old", "alice", { createdAt: NOW - 100, expiresAt: NOW - 1 }));
        expect((await store.listSessions({}, NOW)).map((s) => s.id)).toEqual(["a1", "b1", "a2"]);
        expect((await store.listSessions({ username: "ALICE" }, NOW)).map((s) => s.id)).toEqual(["a1", "a2"]);
        expect(await store.listSessions({ username: "nobody" }, NOW)).toEqual([]);
      });

      it("deletes one session", async () => {
        await store.createSession(session("s1", "alice"));
        await store.createSession(session("s2", "alice"));
        expect(await store.deleteSession("s1")).toBe(true);
        expect(await store.deleteSession("s1")).toBe(false);
        expect(await store.getSession("s1", NOW)).toBeNull();
        expect(await store.getSession("s2", NOW)).not.toBeNull();
      });

      it("deletes all of one user's sessions and says how many", async () => {
        await store.createSession(session("a1", "alice"));
        await store.createSession(session("a2", "alice"));
        await store.createSession(session("b1", "bob"));
        expect(await store.deleteUserSessions("Alice")).toBe(2);
        expect(await store.deleteUserSessions("alice")).toBe(0);
        expect((await store.listSessions({}, NOW)).map((s) => s.id)).toEqual(["b1"]);
      });

      it("deletes every session and says how many", async () => {
        await store.createSession(session("a1", "alice"));
        await store.createSession(session("b1", "bob"));
        await store.createSession(session("anon", "anonymous", { anonymous: true }));
        expect(await store.deleteAllSessions()).toBe(3);
        expect(await store.listSessions({}, NOW)).toEqual([]);
        expect(await store.deleteAllSessions()).toBe(0);
      });
    });

    describe("throttling", () => {
      const rule: ThrottleRule = { limit: 3, windowSeconds: 600, lockSeconds: 300 };

      it("counts failures within the window without locking below the limit", async () => {
        expect(await store.recordFailure("user", "alice", rule, NOW)).toEqual({ failures: 1, windowStart: NOW, lockedUntil: 0 });
        expect(await store.recordFailure("user", "alice", rule, NOW + 10)).toEqual({ failures: 2, windowStart: NOW, lockedUntil: 0 });
        expect(await store.getThrottle("user", "alice")).toEqual({ failures: 2, windowStart: NOW, lockedUntil: 0 });
      });

      it("locks the key when the count reaches the limit", async () => {
        await store.recordFailure("user", "alice", rule, NOW);
        await store.recordFailure("user", "alice", rule, NOW + 1);
        const third = await store.recordFailure("user", "alice", rule, NOW + 2);
        expect(third).toEqual({ failures: 3, windowStart: NOW, lockedUntil: NOW + 2 + 300 });
        expect((await store.getThrottle("user", "alice"))?.lockedUntil).toBe(NOW + 302);
      });

      it("starts a new window once the old one has passed", async () => {
        await store.recordFailure("user", "alice", rule, NOW);
        await store.recordFailure("user", "alice", rule, NOW + 1);
        expect(await store.recordFailure("user", "alice", rule, NOW + 600)).toEqual({
          failures: 1,
          windowStart: NOW + 600,
          lockedUntil: 0,
        });
      });

      it("keeps scopes and keys apart", async () => {
        await store.recordFailure("user", "alice", rule, NOW);
        await store.recordFailure("user", "alice", rule, NOW);
        expect((await store.recordFailure("addr", "alice", rule, NOW)).failures).toBe(1);
        expect((await store.recordFailure("user", "bob", rule, NOW)).failures).toBe(1);
        expect(await store.getThrottle("addr", "192.0.2.9")).toBeNull();
      });

      it("clears a key's throttling, and says whether there was any", async () => {
        for (let i = 0; i < 3; i++) await store.recordFailure("user", "alice", rule, NOW);
        expect(await store.clearThrottle("user", "alice")).toBe(true);
        expect(await store.getThrottle("user", "alice")).toBeNull();
        expect(await store.clearThrottle("user", "alice")).toBe(false);
        expect((await store.recordFailure("user", "alice", rule, NOW)).failures).toBe(1);
      });
    });

    describe("retired keys", () => {
      it("lists only keys still in their grace, newest first", async () => {
        await store.addRetiredKey({ kid: "k1", secret: "s1", retiredAt: NOW - 100, expiresAt: NOW + 100 });
        await store.addRetiredKey({ kid: "k2", secret: "s2", retiredAt: NOW - 50, expiresAt: NOW + 50 });
        await store.addRetiredKey({ kid: "k0", secret: "s0", retiredAt: NOW - 200, expiresAt: NOW });
        expect(await store.liveRetiredKeys(NOW)).toEqual([
          { kid: "k2", secret: "s2", retiredAt: NOW - 50, expiresAt: NOW + 50 },
          { kid: "k1", secret: "s1", retiredAt: NOW - 100, expiresAt: NOW + 100 },
        ]);
        expect((await store.liveRetiredKeys(NOW + 60)).map((k) => k.kid)).toEqual(["k1"]);
        expect(await store.liveRetiredKeys(NOW + 100)).toEqual([]);
      });
    });

    describe("audit", () => {
      it("records events and lists the newest first, up to the limit", async () => {
        await store.audit({ at: NOW, event: "user.added", username: "alice" });
        await store.audit({ at: NOW + 1, event: "app.added", detail: { origin: "https://x.example", nested: { n: 1 } } });
        await store.audit({ at: NOW + 2, event: "logout", username: "bob", detail: {} });
        const events = await store.listAudit(2);
        expect(events).toEqual([
          { at: NOW + 2, event: "logout", username: "bob", detail: {} },
          { at: NOW + 1, event: "app.added", username: undefined, detail: { origin: "https://x.example", nested: { n: 1 } } },
        ]);
        expect(await store.listAudit(10)).toHaveLength(3);
      });
    });

    describe("atomically: several writes as one", () => {
      it("commits every write made through the view together", async () => {
        await store.atomically(async (tx) => {
          await tx.createUser(newUser("alice"), NOW);
          await tx.addApp({ name: "wiki", origin: "https://wiki.example" }, NOW);
          await tx.addRule("wiki", { path: "/admin", methods: [], policy: "two_factor", groups: [], users: [] }, NOW);
          await tx.factors.createInvitation("h".repeat(64), "alice", NOW + 60, NOW);
          await tx.audit({ at: NOW, event: "user.added", username: "alice" });
        });
        expect((await store.getUser("alice"))?.username).toBe("alice");
        expect((await store.listRules("wiki")).map((r) => r.path)).toEqual(["/admin"]);
        expect(await store.listAudit(10)).toHaveLength(1);
      });

      it("writes nothing when the work throws, including what the methods' own transactions did", async () => {
        await store.createUser(newUser("bob"), NOW);
        await expect(
          store.atomically(async (tx) => {
            await tx.createUser(newUser("alice"), NOW);
            await tx.addApp({ name: "wiki", origin: "https://wiki.example" }, NOW);
            await tx.addRule("wiki", { path: "/admin", methods: [], policy: null, groups: [], users: [] }, NOW);
            await tx.deleteUser("bob");
            await tx.audit({ at: NOW, event: "user.added", username: "alice" });
            // A conflict inside a method's own transaction, then the work gives up.
            await expect(tx.createUser(newUser("ALICE"), NOW)).rejects.toBeInstanceOf(ConflictError);
            throw new Error("changed my mind");
          }),
        ).rejects.toThrow("changed my mind");
        expect(await store.getUser("alice")).toBeNull();
        expect((await store.getUser("bob"))?.username).toBe("bob");
        expect(await store.listApps()).toEqual([]);
        expect(await store.listAudit(10)).toEqual([]);
      });
    });

    // ---- CAS (issue 14) ----
    describe("CAS tickets", () => {
      function ticket(id: string, sessionId: string, extra: Partial<CasTicket> = {}): CasTicket {
        return { id, sessionId, username: "alice", service: "https://app.example/cas?x=1", fromSso: false, createdAt: NOW, expiresAt: NOW + 60, ...extra };
      }
      const T1 = "ST-" + "a".repeat(40);
      const T2 = "ST-" + "b".repeat(40);

      beforeEach(async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.createSession(session("s1", "alice"));
      });

      it("consumes a ticket once: the second attempt finds nothing", async () => {
        await store.createCasTicket(ticket(T1, "s1", { fromSso: true }));
        expect(await store.consumeCasTicket(T1)).toEqual(ticket(T1, "s1", { fromSso: true }));
        expect(await store.consumeCasTicket(T1)).toBeNull();
        expect(await store.consumeCasTicket(T2)).toBeNull();
      });

      it("lets only one of two simultaneous validations have the ticket", async () => {
        await store.createCasTicket(ticket(T1, "s1"));
        const results = await Promise.all([store.consumeCasTicket(T1), store.consumeCasTicket(T1)]);
        expect(results.filter((r) => r !== null)).toHaveLength(1);
      });

      it("takes every ticket of a session, used or not, once", async () => {
        await store.createSession(session("s2", "alice"));
        await store.createCasTicket(ticket(T1, "s1", { service: "https://a.example/" }));
        await store.createCasTicket(ticket(T2, "s1", { service: "https://b.example/" }));
        await store.createCasTicket(ticket("ST-" + "c".repeat(40), "s2"));
        await store.consumeCasTicket(T1);
        const taken = await store.takeCasTicketsOfSession("s1");
        expect(taken.map((t) => t.service).sort()).toEqual(["https://a.example/", "https://b.example/"]);
        expect(await store.takeCasTicketsOfSession("s1")).toEqual([]);
        expect(await store.takeCasTicketsOfSession("s2")).toHaveLength(1);
      });

      it("takes the tickets of ended sessions (revoked or expired), once, leaving live sessions' tickets", async () => {
        await store.createSession(session("revoked", "alice"));
        await store.createSession(session("expiring", "alice", { expiresAt: NOW + 10 }));
        await store.createCasTicket(ticket(T1, "s1"));
        await store.createCasTicket(ticket(T2, "revoked"));
        await store.createCasTicket(ticket("ST-" + "c".repeat(40), "expiring"));
        await store.deleteSession("revoked");
        expect((await store.takeCasTicketsOfEndedSessions(NOW)).map((t) => t.id)).toEqual([T2]);
        expect(await store.takeCasTicketsOfEndedSessions(NOW)).toEqual([]);
        expect((await store.takeCasTicketsOfEndedSessions(NOW + 10)).map((t) => t.id)).toEqual(["ST-" + "c".repeat(40)]);
        expect((await store.takeCasTicketsOfSession("s1")).map((t) => t.id)).toEqual([T1]);
      });

      it("prunes unused expired tickets, leaving used ones for single logout", async () => {
        await store.createCasTicket(ticket(T1, "s1"));
        await store.createCasTicket(ticket(T2, "s1"));
        await store.consumeCasTicket(T1);
        await store.prune(NOW + 61, 600);
        expect((await store.takeCasTicketsOfSession("s1")).map((t) => t.id)).toEqual([T1]);
      });
    });
    // ---- end CAS ----

    describe("prune", () => {
      it("deletes expired sessions, stale throttling and retired keys past their grace, and keeps the rest", async () => {
        await store.createUser(newUser("alice"), NOW);
        await store.createSession(session("dead", "alice", { expiresAt: NOW - 1 }));
        await store.createSession(session("live", "alice", { expiresAt: NOW + 100 }));
        const rule: ThrottleRule = { limit: 1, windowSeconds: 60, lockSeconds: 60 };
        await store.recordFailure("user", "stale", { ...rule, limit: 99 }, NOW - 10_000);
        await store.recordFailure("user", "locked", rule, NOW - 10);
        await store.recordFailure("user", "recent", { ...rule, limit: 99 }, NOW - 10);
        await store.addRetiredKey({ kid: "gone", secret: "g", retiredAt: NOW - 100, expiresAt: NOW - 1 });
        await store.addRetiredKey({ kid: "kept", secret: "k", retiredAt: NOW - 100, expiresAt: NOW + 100 });

        await store.prune(NOW, 600);

        expect(await store.listSessions({}, NOW - 1000)).toEqual([expect.objectContaining({ id: "live" })]);
        expect(await store.getThrottle("user", "stale")).toBeNull();
        expect(await store.getThrottle("user", "locked")).not.toBeNull();
        expect(await store.getThrottle("user", "recent")).not.toBeNull();
        expect((await store.liveRetiredKeys(NOW - 1000)).map((k) => k.kid)).toEqual(["kept"]);
      });
    });

    describe("change counter and health", () => {
      it("changes after a write on this connection", async () => {
        const before = store.changeCounter();
        await store.createUser(newUser("alice"), NOW);
        expect(store.changeCounter()).not.toBe(before);
      });

      it("stays the same for writes no cache depends on: new sessions, throttling, last login, audit", async () => {
        await store.createUser(newUser("alice"), NOW);
        const before = store.changeCounter();
        await store.createSession(session("s-new", "alice"));
        await store.recordFailure("user", "alice", { limit: 5, windowSeconds: 60, lockSeconds: 60 }, NOW);
        await store.clearThrottle("user", "alice");
        await store.recordLogin("alice", NOW);
        await store.audit({ at: NOW, event: "login.success", username: "alice" });
        expect(store.changeCounter()).toBe(before);
        await store.deleteSession("s-new");
        expect(store.changeCounter()).not.toBe(before);
      });

      it("stays the same when nothing is written", async () => {
        const before = store.changeCounter();
        await store.listUsers();
        await store.getSession("x", NOW);
        expect(store.changeCounter()).toBe(before);
      });

      it("changes after a write from another connection to the same database", async (context) => {
        if (fixture.connectAgain === undefined) context.skip();
        const other = await fixture.connectAgain!();
        try {
          const before = store.changeCounter();
          await other.addRetiredKey({ kid: "k", secret: "s", retiredAt: NOW, expiresAt: NOW + 60 });
          // SQLite sees it at once; a server on PostgreSQL when the notification arrives.
          await expect.poll(() => store.changeCounter(), { timeout: 5000, interval: 5 }).not.toBe(before);
          expect((await store.liveRetiredKeys(NOW)).map((k) => k.kid)).toEqual(["k"]);
        } finally {
          await other.close();
        }
      });

      it("changes after another connection ends a session or disables a user", async (context) => {
        if (fixture.connectAgain === undefined) context.skip();
        const other = await fixture.connectAgain!();
        try {
          await other.createUser(newUser("alice"), NOW);
          await other.createSession(session("s1", "alice"));
          let before = store.changeCounter();
          await other.deleteSession("s1");
          await expect.poll(() => store.changeCounter(), { timeout: 5000, interval: 5 }).not.toBe(before);
          before = store.changeCounter();
          await other.setDisabled("alice", true);
          await expect.poll(() => store.changeCounter(), { timeout: 5000, interval: 5 }).not.toBe(before);
        } finally {
          await other.close();
        }
      });

      it("answers ping", async () => {
        expect(await store.ping()).toBe(true);
      });
    });

    describe("OpenID Connect clients, subjects and records", () => {
      const CLIENT = {
        clientId: "grafana-0011223344556677",
        name: "Grafana",
        secretHash: "ab".repeat(32),
        redirectUris: ["https://grafana.example.com/cb"],
        postLogoutUris: ["https://grafana.example.com/"],
        appOrigin: null,
        idTokenAlg: "RS256" as const,
      };

      it("adds, lists, finds and removes clients; names are unique ignoring case", async () => {
        expect(await store.addOidcClient(CLIENT, NOW)).toEqual({ ...CLIENT, createdAt: NOW });
        await expect(store.addOidcClient({ ...CLIENT, clientId: "other", name: "GRAFANA" }, NOW)).rejects.toBeInstanceOf(ConflictError);
        await store.addOidcClient({ ...CLIENT, clientId: "app-1", name: "app", secretHash: null, idTokenAlg: "ES256" }, NOW);
        expect((await store.listOidcClients()).map((c) => c.name)).toEqual(["app", "Grafana"]);
        expect(await store.getOidcClient(CLIENT.clientId)).toEqual({ ...CLIENT, createdAt: NOW });
        expect(await store.getOidcClient("nobody")).toBeNull();
        expect((await store.removeOidcClient("grafana"))?.clientId).toBe(CLIENT.clientId);
        expect((await store.removeOidcClient("app-1"))?.name).toBe("app");
        expect(await store.removeOidcClient("grafana")).toBeNull();
        expect(await store.listOidcClients()).toEqual([]);
      });

      it("a client change moves the change counter (the login page's form-action depends on clients)", async () => {
        const before = store.changeCounter();
        await store.addOidcClient(CLIENT, NOW);
        expect(store.changeCounter()).not.toBe(before);
      });

      it("gives a user one subject, keeps it, and a user added again under the same name gets a new one", async () => {
        await store.createUser(newUser("alice"), NOW);
        expect(await store.oidcSubject("nobody", "s-0")).toBeNull();
        expect(await store.oidcSubject("alice", "s-1")).toBe("s-1");
        expect(await store.oidcSubject("ALICE", "s-2")).toBe("s-1");
        expect(await store.usernameForSubject("s-1")).toBe("alice");
        await store.deleteUser("alice");
        expect(await store.usernameForSubject("s-1")).toBeNull();
        await store.createUser(newUser("alice"), NOW);
        expect(await store.oidcSubject("alice", "s-3")).toBe("s-3");
        expect(await store.usernameForSubject("s-1")).toBeNull();
      });

      it("keeps the provider's records: find, by uid, consume, expiry, grant and account deletion", async () => {
        await store.putOidcRecord("AuthorizationCode", "c1", '{"a":1}', { grantId: "g1", accountId: "sub1" }, NOW + 60);
        await store.putOidcRecord("Session", "s1", '{"uid":"u1"}', { uid: "u1", accountId: "sub1" }, NOW + 3600);
        await store.putOidcRecord("AccessToken", "t1", '{"t":1}', { grantId: "g1" }, NOW + 60);
        await store.putOidcRecord("Grant", "g2", '{"g":2}', { accountId: "sub2" }, null);
        expect(await store.findOidcRecord("AuthorizationCode", "c1", NOW)).toEqual({ payload: '{"a":1}', consumedAt: null });
        expect(await store.findOidcRecord("AuthorizationCode", "c1", NOW + 60)).toBeNull();
        expect(await store.findOidcRecord("AccessToken", "c1", NOW)).toBeNull();
        expect(await store.findOidcRecordBy("Session", "uid", "u1", NOW)).toEqual({ payload: '{"uid":"u1"}', consumedAt: null });
        expect(await store.consumeOidcRecord("AuthorizationCode", "c1", NOW + 5)).toBe(true);
        expect(await store.consumeOidcRecord("AuthorizationCode", "c1", NOW + 9)).toBe(false);
        expect(await store.consumeOidcRecord("AuthorizationCode", "nope", NOW + 9)).toBe(false);
        expect((await store.findOidcRecord("AuthorizationCode", "c1", NOW))?.consumedAt).toBe(NOW + 5);
        await store.putOidcRecord("Session", "s1", '{"uid":"u1","x":2}', { uid: "u1", accountId: "sub1" }, NOW + 3600);
        expect((await store.findOidcRecord("Session", "s1", NOW))?.payload).toBe('{"uid":"u1","x":2}');
        await store.deleteOidcGrant("g1");
        expect(await store.findOidcRecord("AccessToken", "t1", NOW)).toBeNull();
        expect(await store.findOidcRecord("AuthorizationCode", "c1", NOW)).toBeNull();
        expect(await store.deleteOidcAccount("sub1")).toBe(1);
        expect(await store.findOidcRecord("Grant", "g2", NOW + 10_000_000)).not.toBeNull();
        await store.deleteOidcRecord("Grant", "g2");
        expect(await store.findOidcRecord("Grant", "g2", NOW)).toBeNull();
      });

      it("consumes a record once when asked concurrently", async () => {
        await store.putOidcRecord("RefreshToken", "r1", "{}", { grantId: "g1" }, NOW + 60);
        const outcomes = await Promise.all(Array.from({ length: 6 }, () => store.consumeOidcRecord("RefreshToken", "r1", NOW)));
        expect(outcomes.filter(Boolean)).toHaveLength(1);
      });

      it("deletes a user's records, or every account's, and keeps interactions", async () => {
        await store.createUser(newUser("carol"), NOW);
        await store.createUser(newUser("dave"), NOW);
        const carol = (await store.oidcSubject("CAROL", "sub-carol"))!;
        const dave = (await store.oidcSubject("dave", "sub-dave"))!;
        await store.putOidcRecord("Grant", "gc", "{}", { accountId: carol }, null);
        await store.putOidcRecord("RefreshToken", "rc", "{}", { grantId: "gc", accountId: carol }, NOW + 60);
        await store.putOidcRecord("RefreshToken", "rd", "{}", { grantId: "gd", accountId: dave }, NOW + 60);
        await store.putOidcRecord("Interaction", "i1", "{}", { uid: "i1" }, NOW + 60);
        expect(await store.deleteUserOidcRecords("Carol")).toBe(2);
        expect(await store.findOidcRecord("RefreshToken", "rc", NOW)).toBeNull();
        expect(await store.findOidcRecord("RefreshToken", "rd", NOW)).not.toBeNull();
        expect(await store.deleteUserOidcRecords("nobody")).toBe(0);
        expect(await store.deleteAllOidcAccountRecords()).toBe(1);
        expect(await store.findOidcRecord("RefreshToken", "rd", NOW)).toBeNull();
        expect(await store.findOidcRecord("Interaction", "i1", NOW)).not.toBeNull();
      });

      it("prune deletes expired records", async () => {
        await store.putOidcRecord("AccessToken", "old", "{}", {}, NOW - 1);
        await store.putOidcRecord("AccessToken", "live", "{}", {}, NOW + 60);
        await store.prune(NOW, 600);
        expect(await store.findOidcRecord("AccessToken", "old", 0)).toBeNull();
        expect(await store.findOidcRecord("AccessToken", "live", NOW)).not.toBeNull();
      });
    });
  });
}
