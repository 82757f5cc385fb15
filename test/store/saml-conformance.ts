/** Conformance of the SAML store, run on both engines beside testStore. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SamlLogin, SamlSp } from "../../src/store/saml.js";
import type { Store } from "../../src/store/store.js";
import type { StoreFixture } from "./conformance.js";

const NOW = 1_700_000_000;
const HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

const SP: SamlSp = { entityId: "https://wiki.example.com/sp", appOrigin: "https://wiki.example.com", metadata: "<md/>", idpInitiated: false, nameIdSecret: "secret", createdAt: NOW };

function login(sessionIndex: string, sessionId: string, entityId = SP.entityId): SamlLogin {
  return { sessionIndex, sessionId, entityId, nameId: "n-" + sessionIndex, nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", createdAt: NOW };
}

export function testSamlStore(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`SAML store conformance: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
      await store.createUser({ username: "alice", name: "", email: "", groups: [], passwordHash: HASH }, NOW);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("registers an SP once, updates it keeping its NameID key, lists and removes it", async () => {
      expect(await store.saml.addSamlSp(SP)).toBe(true);
      expect(await store.saml.addSamlSp({ ...SP, nameIdSecret: "other" })).toBe(false);
      expect(await store.saml.updateSamlSp({ entityId: SP.entityId, appOrigin: SP.appOrigin, metadata: "<md2/>", idpInitiated: true })).toBe(true);
      expect(await store.saml.getSamlSp(SP.entityId)).toEqual({ ...SP, metadata: "<md2/>", idpInitiated: true });
      expect(await store.saml.listSamlSps()).toHaveLength(1);
      expect(await store.saml.removeSamlSp(SP.entityId)).toBe(true);
      expect(await store.saml.removeSamlSp(SP.entityId)).toBe(false);
      expect(await store.saml.getSamlSp(SP.entityId)).toBeNull();
    });

    it("remembers a request ID until it expires: a second sight is a replay", async () => {
      expect(await store.saml.rememberSamlRequest(SP.entityId, "_r1", NOW + 60, NOW)).toBe(true);
      expect(await store.saml.rememberSamlRequest(SP.entityId, "_r1", NOW + 60, NOW + 30)).toBe(false);
      expect(await store.saml.rememberSamlRequest("https://other/sp", "_r1", NOW + 60, NOW)).toBe(true);
      expect(await store.saml.rememberSamlRequest(SP.entityId, "_r1", NOW + 200, NOW + 61)).toBe(true);
    });

    it("hands a session's logins out once, and those of ended sessions to the sweep", async () => {
      await store.createSession({ id: "live", username: "alice", anonymous: false, createdAt: NOW, expiresAt: NOW + 3600, clientAddr: "192.0.2.1", userAgent: "t" });
      await store.saml.recordSamlLogin(login("_a", "live"));
      await store.saml.recordSamlLogin(login("_b", "live", "https://crm.example.com/sp"));
      await store.saml.recordSamlLogin(login("_c", "gone"));
      expect((await store.saml.takeSamlLoginsOfSession("live", "https://crm.example.com/sp")).map((l) => l.sessionIndex)).toEqual(["_b"]);
      expect(await store.saml.takeSamlLoginsOfEndedSessions(NOW)).toEqual([login("_c", "gone")]);
      expect(await store.saml.takeSamlLoginsOfEndedSessions(NOW)).toEqual([]);
      expect((await store.saml.takeSamlLoginsOfSession("live")).map((l) => l.sessionIndex)).toEqual(["_a"]);
      expect(await store.saml.takeSamlLoginsOfSession("live")).toEqual([]);
    });
  });
}
