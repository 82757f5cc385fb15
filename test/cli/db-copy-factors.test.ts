/** `ssoctl db copy` moves the second factors too: TOTP, recovery codes, passkeys, invitations, settings, session amr. */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { expectOk, initDataDir, PASSWORD, ssoctl } from "./helpers.js";
import * as path from "node:path";

let cluster: TestPostgres;
let dir: string;
const NOW = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  cluster = await startTestPostgres();
  dir = initDataDir();
  expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "-d", dir], { input: `${PASSWORD}\n` }));
  expectOk(ssoctl(["user", "invite", "erin", "-d", dir]));
  const store = openSqliteStore(path.join(dir, "ssoctl.db"));
  try {
    await store.factors.setTotp("alice", "SECRETSECRET", ["h1", "h2"], NOW);
    await store.factors.useTotpStep("alice", 1234);
    const [first] = await store.factors.recoveryCodes("alice");
    await store.factors.useRecoveryCode(first!.id, NOW);
    await store.factors.addPasskey({ id: "cred-1", username: "alice", name: "Laptop", publicKey: "pk", counter: 3, transports: ["internal"], createdAt: NOW });
    await store.factors.initSetting("webauthn_rp_id", "sso.example.com");
    await store.createSession({ id: "otp-session", username: "alice", anonymous: false, createdAt: NOW, expiresAt: NOW + 600, clientAddr: "", userAgent: "", amr: ["pwd", "otp"] });
  } finally {
    await store.close();
  }
});

afterAll(() => {
  cluster?.destroy();
});

describe("ssoctl db copy with second factors", () => {
  it("copies them all, and the PostgreSQL store reads them back", async () => {
    const url = await cluster.createDatabase();
    expectOk(ssoctl(["db", "copy", "-d", dir], { env: { SSOCTL_DATABASE_URL: url } }));
    const { openPostgresStore } = await import("../../src/store/postgres/store.js");
    const store = await openPostgresStore(url);
    try {
      expect(await store.factors.getTotp("alice")).toEqual({ secret: "SECRETSECRET", lastStep: 1234, createdAt: NOW });
      expect((await store.factors.recoveryCodes("alice")).map((c) => c.hash)).toEqual(["h2"]);
      expect(await store.factors.listPasskeys("alice")).toEqual([{ id: "cred-1", username: "alice", name: "Laptop", publicKey: "pk", counter: 3, transports: ["internal"], createdAt: NOW, lastUsedAt: null }]);
      expect(await store.factors.getSetting("webauthn_rp_id")).toBe("sso.example.com");
      expect((await store.getSession("otp-session", NOW))?.amr).toEqual(["pwd", "otp"]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const invitations = await client.query("SELECT u.username FROM invitations i JOIN users u ON u.id = i.user_id");
        expect(invitations.rows).toEqual([{ username: "erin" }]);
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });
});
