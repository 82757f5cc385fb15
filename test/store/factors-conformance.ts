/** Conformance of the second-factor store (issue 12), run on both engines beside testStore. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/store.js";
import type { StoreFixture } from "./conformance.js";

const NOW = 1_700_000_000;
const HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

export function testFactorStore(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Second-factor store conformance: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
      await store.createUser({ username: "Alice", name: "", email: "", groups: [], passwordHash: HASH }, NOW);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it("enrols TOTP with recovery codes, whatever the case of the name, and removes both", async () => {
      expect(await store.factors.getTotp("alice")).toBeNull();
      expect(await store.factors.setTotp("alice", "SECRET", ["h1", "h2"], NOW)).toBe(true);
      expect(await store.factors.getTotp("ALICE")).toEqual({ secret: "SECRET", lastStep: 0, createdAt: NOW });
      expect((await store.factors.recoveryCodes("Alice")).map((c) => c.hash)).toEqual(["h1", "h2"]);
      expect(await store.factors.setTotp("nobody", "S", [], NOW)).toBe(false);
      expect(await store.factors.removeTotp("alice")).toBe(true);
      expect(await store.factors.getTotp("alice")).toBeNull();
      expect(await store.factors.recoveryCodes("alice")).toEqual([]);
      expect(await store.factors.removeTotp("alice")).toBe(false);
    });

    it("accepts each time step once, and never an earlier one", async () => {
      await store.factors.setTotp("alice", "SECRET", [], NOW);
      expect(await store.factors.useTotpStep("alice", 100)).toBe(true);
      expect(await store.factors.useTotpStep("alice", 100)).toBe(false);
      expect(await store.factors.useTotpStep("alice", 99)).toBe(false);
      expect(await store.factors.useTotpStep("alice", 101)).toBe(true);
      expect((await store.factors.getTotp("alice"))?.lastStep).toBe(101);
      // Two racing uses of one step: exactly one wins.
      const results = await Promise.all([store.factors.useTotpStep("alice", 200), store.factors.useTotpStep("alice", 200)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("uses a recovery code once, and new codes replace the old", async () => {
      await store.factors.setTotp("alice", "SECRET", ["h1", "h2"], NOW);
      const [first] = await store.factors.recoveryCodes("alice");
      expect(await store.factors.useRecoveryCode(first!.id, NOW)).toBe(true);
      expect(await store.factors.useRecoveryCode(first!.id, NOW)).toBe(false);
      expect((await store.factors.recoveryCodes("alice")).map((c) => c.hash)).toEqual(["h2"]);
      expect(await store.factors.replaceRecoveryCodes("alice", ["h3"])).toBe(true);
      expect((await store.factors.recoveryCodes("alice")).map((c) => c.hash)).toEqual(["h3"]);
    });

    it("adds, lists, renames, uses and removes passkeys; they go with their user", async () => {
      const passkey = { id: "cred-1", username: "alice", name: "Laptop", publicKey: "pk", counter: 0, transports: ["internal", "hybrid"], createdAt: NOW };
      expect(await store.factors.addPasskey(passkey)).toBe(true);
      expect(await store.factors.addPasskey(passkey)).toBe(false);
      expect(await store.factors.addPasskey({ ...passkey, id: "cred-2", username: "nobody" })).toBe(false);
      expect(await store.factors.getPasskey("cred-1")).toEqual({ ...passkey, username: "Alice", lastUsedAt: null });
      expect(await store.factors.renamePasskey("alice", "cred-1", "Phone")).toBe(true);
      expect(await store.factors.usePasskey("cred-1", 5, NOW + 1)).toBe(true);
      expect(await store.factors.listPasskeys("ALICE")).toEqual([{ ...passkey, username: "Alice", name: "Phone", counter: 5, lastUsedAt: NOW + 1 }]);
      await store.createUser({ username: "bob", name: "", email: "", groups: [], passwordHash: HASH }, NOW);
      expect(await store.factors.removePasskey("bob", "cred-1")).toBe(false);
      expect(await store.factors.renamePasskey("bob", "cred-1", "Mine")).toBe(false);
      expect(await store.deleteUser("alice")).toBe(true);
      expect(await store.factors.getPasskey("cred-1")).toBeNull();
    });

    it("hands a pending record to one taker only, and not once expired or of another kind", async () => {
      const record = { id: "p1", kind: "login", username: "alice", data: { target: "x" }, expiresAt: NOW + 300 };
      await store.factors.putPending(record);
      expect(await store.factors.getPending("p1", "login", NOW)).toEqual(record);
      expect(await store.factors.takePending("p1", "enrol", NOW)).toBeNull();
      expect(await store.factors.takePending("p1", "login", NOW + 300)).toBeNull();
      const taken = await Promise.all([store.factors.takePending("p1", "login", NOW), store.factors.takePending("p1", "login", NOW)]);
      expect(taken.filter((r) => r !== null)).toEqual([record]);
      await store.factors.putPending({ ...record, id: "p2", expiresAt: NOW + 10 });
      await store.factors.pruneFactors(NOW + 10);
      expect(await store.factors.getPending("p2", "login", NOW)).toBeNull();
    });

    it("accepts an invitation once, sets the password, and replaces earlier links", async () => {
      expect(await store.factors.createInvitation("t1", "alice", NOW + 100, NOW)).toBe(true);
      expect(await store.factors.createInvitation("t2", "alice", NOW + 100, NOW)).toBe(true);
      expect(await store.factors.getInvitation("t1", NOW)).toBeNull();
      expect(await store.factors.getInvitation("t2", NOW)).toEqual({ username: "Alice", createdAt: NOW, expiresAt: NOW + 100, purpose: "invite" });
      expect(await store.factors.getInvitation("t2", NOW + 100)).toBeNull();
      expect(await store.factors.acceptInvitation("t2", "new-hash", NOW + 100)).toBeNull();
      const before = store.changeCounter();
      expect(await store.factors.acceptInvitation("t2", "new-hash", NOW)).toBe("Alice");
      expect(store.changeCounter()).not.toBe(before);
      expect((await store.getUser("alice"))?.passwordHash).toBe("new-hash");
      expect(await store.factors.acceptInvitation("t2", "other", NOW)).toBeNull();
      expect(await store.factors.createInvitation("t3", "nobody", NOW + 100, NOW)).toBe(false);
    });

    it("ends a user's reset links, and only those, when asked", async () => {
      expect(await store.factors.createInvitation("r1", "alice", NOW + 100, NOW, "reset")).toBe(true);
      expect((await store.factors.getInvitation("r1", NOW))?.purpose).toBe("reset");
      expect(await store.factors.dropResetLinks("ALICE")).toBe(1);
      expect(await store.factors.getInvitation("r1", NOW)).toBeNull();
      expect(await store.factors.createInvitation("i1", "alice", NOW + 100, NOW)).toBe(true);
      expect(await store.factors.dropResetLinks("alice")).toBe(0);
      expect((await store.factors.getInvitation("i1", NOW))?.purpose).toBe("invite");
      // A reset link replaces the invitation, as a newer link always does.
      expect(await store.factors.createInvitation("r2", "alice", NOW + 100, NOW, "reset")).toBe(true);
      expect(await store.factors.getInvitation("i1", NOW)).toBeNull();
    });

    it("knows the browsers a user signed in from", async () => {
      expect(await store.factors.rememberBrowser("alice", "b1", NOW)).toBe(true);
      expect(await store.factors.rememberBrowser("Alice", "b1", NOW + 5)).toBe(false);
      expect(await store.factors.rememberBrowser("alice", "b2", NOW + 5)).toBe(true);
      expect(await store.factors.rememberBrowser("nobody", "b1", NOW)).toBe(false);
    });

    it("keeps the first value of a setting", async () => {
      expect(await store.factors.getSetting("rp_id")).toBeNull();
      expect(await store.factors.initSetting("rp_id", "example.com")).toBe("example.com");
      expect(await store.factors.initSetting("rp_id", "other.example")).toBe("example.com");
      await store.factors.setSetting("rp_id", "other.example");
      expect(await store.factors.getSetting("rp_id")).toBe("other.example");
    });

    it("keeps how a session was signed in", async () => {
      const base = { username: "alice", anonymous: false, createdAt: NOW, expiresAt: NOW + 60, clientAddr: "", userAgent: "" };
      expect(await store.createSession({ ...base, id: "s-otp", amr: ["pwd", "otp"] })).toBe(true);
      expect((await store.getSession("s-otp", NOW))?.amr).toEqual(["pwd", "otp"]);
      expect(await store.createSession({ ...base, id: "s-old" })).toBe(true);
      expect((await store.getSession("s-old", NOW))?.amr).toBeUndefined();
    });
  });
}
