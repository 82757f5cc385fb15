/**
 * Key rotation: `ssoctl key rotate` while the server runs. The server picks the
 * new key up by itself and signs with it; tokens under the previous key verify
 * during the grace period and stop verifying when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecret } from "../../src/data-dir.js";
import { Keyring, rotateKey } from "../../src/keyring.js";
import { LoginSessions } from "../../src/sessions.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { keyId } from "../../src/token.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { authRequest, eventually, formSession, jwtHeader, jwtPayload, loginPageStatus, postLogin, runCli } from "./support.js";

const APP = "http://127.0.0.1:9";
const PAGE = `${APP}/home`;

describe("key rotation", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let offset = 0;

  beforeAll(async () => {
    data = await makeDataDir({
      users: [
        { username: "alice", password: "alice's password" },
        { username: "bob", password: "bob's password" },
      ],
      apps: [APP],
    });
    server = await startServer(data, {}, () => Math.floor(Date.now() / 1000) + offset);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("signs with the new key, verifies the previous one during its grace and not after", async () => {
    const form = await formSession(server);
    const before = (await postLogin(server, form, { username: "alice", password: "alice's password" })).token!;
    const oldKid = jwtHeader(before).kid;

    const rotate = await runCli(["key", "rotate", "--grace", "1h", "-d", data.dataDir.dir]);
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toContain(`tokens signed with ${oldKid} verify for 1h more`);
    // The running server notices the new secret.key by itself (it polls; no restart, no signal).
    await eventually("the server signs with the new key", () => server.login.context.keyring.current !== data.secret);
    const form2 = await formSession(server); // the CSRF token is bound to the signing key too
    const after = (await postLogin(server, form2, { username: "bob", password: "bob's password" })).token!;
    expect(jwtHeader(after).kid).not.toBe(oldKid);

    // During the grace: both verify, at the login server and at forward auth.
    expect(await authRequest(server, before, PAGE)).toBe(200);
    expect(await loginPageStatus(server, before, PAGE)).toBe(303);
    expect(await authRequest(server, after, PAGE)).toBe(200);
    // A form served before the rotation still posts (its CSRF token was made with the previous key).
    expect((await postLogin(server, form, { username: "bob", password: "wrong password" })).status).toBe(401);

    offset = 3600 + 5;
    await eventually("the previous key stops verifying", async () => (await authRequest(server, before, PAGE)) === 401);
    expect(await loginPageStatus(server, before, PAGE)).toBe(200);
    // Its session is still in the database: it is the key that ended, not the session.
    expect(await server.store.getSession(jwtPayload(before).sid as string, Math.floor(Date.now() / 1000) + offset)).not.toBeNull();
    expect(await authRequest(server, after, PAGE)).toBe(200);
  });
});

describe("a sign-in right after a rotation", () => {
  it("is signed with the new key once `key rotate` has returned, and every server verifies it at once", async () => {
    const data = await makeDataDir();
    const issuer = "https://login.example.com";
    const now = Math.floor(Date.now() / 1000);
    // Two login servers over one data directory (or a server and `ssoctl protect`): each loaded its keys before the
    // rotation, and neither polls here, so only a look at the key file when it matters can find the new one.
    const signingStore = openSqliteStore(data.dataDir.dbPath);
    const otherStore = openSqliteStore(data.dataDir.dbPath);
    const cliStore = openSqliteStore(data.dataDir.dbPath);
    const stores = [signingStore, otherStore, cliStore];
    try {
      const passwordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA";
      const user = await signingStore.createUser({ username: "carol", name: "", email: "", groups: [], passwordHash }, now);
      const signing = new LoginSessions(signingStore, await Keyring.load(data.dataDir, signingStore, now), { issuer, ttlSeconds: 3600 });
      const other = new LoginSessions(otherStore, await Keyring.load(data.dataDir, otherStore, now), { issuer, ttlSeconds: 3600 });

      const { kid } = await rotateKey(data.dataDir, cliStore, 3600, now);
      expect(keyId(readSecret(data.dataDir))).toBe(kid);
      const issued = await signing.issue(user, { addr: "127.0.0.1", userAgent: "", passwordHash }, now);
      expect(issued).not.toBeNull();
      expect(jwtHeader(issued!.token).kid).toBe(kid);
      expect((await signing.resolve(issued!.token, now))?.user.username).toBe("carol");
      expect((await other.resolve(issued!.token, now))?.user.username).toBe("carol");
    } finally {
      for (const store of stores) await store.close();
      data.cleanup();
    }
  });

  it("through the CLI and the running server: the token names the new key and forward auth accepts it", async () => {
    const data = await makeDataDir({ users: [{ username: "dave", password: "dave's password" }], apps: [APP] });
    const server = await startServer(data);
    try {
      const form = await formSession(server);
      const rotate = await runCli(["key", "rotate", "--grace", "1h", "-d", data.dataDir.dir]);
      expect(rotate.code).toBe(0);
      const newKid = keyId(readSecret(data.dataDir));
      const token = (await postLogin(server, form, { username: "dave", password: "dave's password" })).token!;
      expect(jwtHeader(token).kid).toBe(newKid);
      expect(await authRequest(server, token, PAGE)).toBe(200);
    } finally {
      await server.close();
      data.cleanup();
    }
  });
});
