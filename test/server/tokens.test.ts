/** Tokens GET /login must not honour (the login form instead of single sign-on), and key rotation with grace. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { generateSecret } from "../../src/data-dir.js";
import { rotateKey } from "../../src/keyring.js";
import { keyId, signToken } from "../../src/token.js";
import { cookieHeader, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };
const BOB = { username: "bob", password: "bob's long password" };
const CAROL = { username: "carol", password: "carol's long password" };

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A controllable clock: real time plus an offset the test moves. */
function movableClock(): { clock: () => number; advance(seconds: number): void } {
  let offset = 0;
  return { clock: () => Math.floor(Date.now() / 1000) + offset, advance: (seconds) => (offset += seconds) };
}

describe("tokens the login server refuses", () => {
  let data: TestDataDir;
  let server: RunningServer;
  const time = movableClock();
  let token: string;

  async function singleSignOn(cookie: string): Promise<{ status: number; location?: string; body: string }> {
    const reply = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/home`)}`, { headers: { cookie: `ssoctl=${cookie}` } });
    return { status: reply.status, location: reply.headers.location as string | undefined, body: reply.body };
  }

  function expectLoginForm(reply: { status: number; location?: string; body: string }): void {
    expect(reply.status).toBe(200);
    expect(reply.location).toBeUndefined();
    expect(reply.body).toContain('name="password" type="password"');
  }

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE, BOB, CAROL], apps: [APP] });
    server = await startServer(data, { sessionTtlSeconds: 3600 }, time.clock);
    token = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("honours the genuine token (the control case)", async () => {
    const reply = await singleSignOn(token);
    expect(reply.status).toBe(303);
    expect(reply.location).toBe(`${APP}/home`);
  });

  it("refuses the same claims signed with another key", async () => {
    const claims = decodeJwt(token);
    const forged = await signToken(
      { username: "alice", sessionId: claims.sid as string, issuedAt: claims.iat!, expiresAt: claims.exp!, issuer: server.url, anonymous: false },
      generateSecret(),
    );
    expectLoginForm(await singleSignOn(forged));
  });

  it("refuses another key even when the header claims the real kid", async () => {
    const [, payload] = token.split(".");
    const other = await signToken({ username: "alice", sessionId: "x", issuedAt: 1, expiresAt: 2, issuer: "", anonymous: false }, generateSecret());
    const header = b64({ alg: "HS256", typ: "JWT", kid: keyId(data.secret) });
    expectLoginForm(await singleSignOn(`${header}.${payload}.${other.split(".")[2]}`));
  });

  it("refuses alg: none", async () => {
    const [, payload] = token.split(".");
    expectLoginForm(await singleSignOn(`${b64({ alg: "none", typ: "JWT", kid: keyId(data.secret) })}.${payload}.`));
    expectLoginForm(await singleSignOn(`${b64({ alg: "none", typ: "JWT" })}.${payload}.`));
  });

  it("refuses a truncated token", async () => {
    expectLoginForm(await singleSignOn(token.slice(0, -10)));
    expectLoginForm(await singleSignOn(token.split(".").slice(0, 2).join(".")));
    expectLoginForm(await singleSignOn(token.slice(0, 20)));
  });

  it("refuses a token with one character changed, in the payload or the signature", async () => {
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flip = (text: string, at: number): string => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    expectLoginForm(await singleSignOn(`${header}.${flip(payload, 10)}.${signature}`));
    expectLoginForm(await singleSignOn(`${header}.${payload}.${flip(signature, 5)}`));
    expectLoginForm(await singleSignOn(`${flip(header, 3)}.${payload}.${signature}`));
  });

  it("refuses a token from another login server (another issuer)", async () => {
    const claims = decodeJwt(token);
    const foreign = await signToken(
      { username: "alice", sessionId: claims.sid as string, issuedAt: claims.iat!, expiresAt: claims.exp!, issuer: "https://other.example", anonymous: false },
      data.secret,
    );
    expectLoginForm(await singleSignOn(foreign));
  });

  it("does not treat an anonymous token as a sign-in, even one naming a real user and session", async () => {
    const claims = decodeJwt(token);
    for (const username of ["anonymous", "alice"]) {
      const anonymous = await signToken(
        { username, sessionId: claims.sid as string, issuedAt: claims.iat!, expiresAt: claims.exp!, issuer: server.url, anonymous: true, audience: APP },
        data.secret,
      );
      expectLoginForm(await singleSignOn(anonymous));
    }
  });

  it("does not end the session an anonymous token names when it is sent to /logout", async () => {
    const carol = (await signIn(server, CAROL, { rd: `${APP}/` })).cookie!;
    const claims = decodeJwt(carol);
    const anonymous = await signToken(
      { username: "anonymous", sessionId: claims.sid as string, issuedAt: claims.iat!, expiresAt: claims.exp!, issuer: server.url, anonymous: true, audience: APP },
      data.secret,
    );
    expect((await fetchPage(`${server.url}/logout`, { headers: { cookie: `ssoctl=${anonymous}` } })).status).toBe(200);
    expect((await singleSignOn(carol)).status).toBe(303);
    expect(server.auditLines.map((line) => JSON.parse(line).event)).not.toContain("logout");
  });

  it("refuses a well-signed token for an existing user whose session belongs to someone else", async () => {
    const claims = decodeJwt(token);
    const borrowed = await signToken(
      { username: "carol", sessionId: claims.sid as string, issuedAt: claims.iat!, expiresAt: claims.exp!, issuer: server.url, anonymous: false },
      data.secret,
    );
    expectLoginForm(await singleSignOn(borrowed));
  });

  it("refuses a well-signed token whose session does not exist", async () => {
    const now = time.clock();
    const orphan = await signToken({ username: "alice", sessionId: "bm90LWEtc2Vzc2lvbg", issuedAt: now, expiresAt: now + 600, issuer: server.url, anonymous: false }, data.secret);
    expectLoginForm(await singleSignOn(orphan));
  });

  it("refuses the token of a session revoked through another connection (as the CLI does)", async () => {
    const mine = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    expect((await singleSignOn(mine)).status).toBe(303);
    await server.store.deleteSession(decodeJwt(mine).sid as string);
    expectLoginForm(await singleSignOn(mine));
    expect((await singleSignOn(token)).status).toBe(303);
  });

  it("refuses every token of a user whose sessions were all revoked", async () => {
    const first = (await signIn(server, BOB, { rd: `${APP}/` })).cookie!;
    const second = (await signIn(server, BOB, { rd: `${APP}/` })).cookie!;
    expect(await server.store.deleteUserSessions("BOB")).toBe(2);
    expectLoginForm(await singleSignOn(first));
    expectLoginForm(await singleSignOn(second));
  });

  it("refuses the token of a user disabled, then of a user removed", async () => {
    const mine = (await signIn(server, CAROL, { rd: `${APP}/` })).cookie!;
    expect((await singleSignOn(mine)).status).toBe(303);
    await server.store.setDisabled("carol", true);
    expectLoginForm(await singleSignOn(mine));
    await server.store.setDisabled("carol", false);
    expect((await singleSignOn(mine)).status).toBe(303);
    await server.store.deleteUser("carol");
    expectLoginForm(await singleSignOn(mine));
  });

  it("refuses an expired token (last test here: it moves the clock past the session TTL)", async () => {
    expect((await singleSignOn(token)).status).toBe(303);
    time.advance(3600);
    expectLoginForm(await singleSignOn(token));
  });
});

describe("key rotation while the server runs", () => {
  let data: TestDataDir;
  let server: RunningServer;
  const time = movableClock();

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data, {}, time.clock);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  async function honoured(cookie: string): Promise<boolean> {
    const reply = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(`${APP}/`)}`, { headers: { cookie: `ssoctl=${cookie}` } });
    return reply.status === 303;
  }

  it("signs new logins with the new key within ~1.5 s, keeps old tokens during the grace, and refuses them after", async () => {
    const oldToken = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    const oldKid = keyId(data.secret);
    expect(decodeProtectedHeader(oldToken).kid).toBe(oldKid);
    const openedBefore = await openLoginForm(server, { rd: `${APP}/` });

    const rotated = await rotateKey(data.dataDir, server.store, 3600, time.clock());
    expect(rotated.previousKid).toBe(oldKid);
    await sleep(1500);

    const newToken = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    expect(decodeProtectedHeader(newToken).kid).toBe(rotated.kid);
    expect(await honoured(newToken)).toBe(true);
    expect(await honoured(oldToken)).toBe(true);

    // A sign-in form opened before the rotation still posts during the grace.
    const late = await postForm(server, "/login", { rd: `${APP}/`, csrf: openedBefore.csrf, ...ALICE }, { cookie: cookieHeader(openedBefore.cookies) });
    expect(late.status).toBe(303);

    time.advance(3601);
    await sleep(1500);
    expect(await honoured(oldToken)).toBe(false);
    expect(await honoured(newToken)).toBe(true);
  });
});
