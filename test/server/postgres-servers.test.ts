/** Two login servers on one PostgreSQL database: one sign-in, one set of keys, one revocation, one throttle. */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rotateKey } from "../../src/keyring.js";
import { DatabaseSigningKeys } from "../../src/signing-keys.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { cookieHeader, fetchPage, openLoginForm, postForm } from "../support/server.js";

const PUBLIC = "http://login.test";
const APP = "http://app.test";
const ALICE = { username: "alice", password: "correct horse battery" };
const BOB = { username: "bob", password: "bob's long password" };


let cluster: TestPostgres;
let url: string;
let a: PostgresServer;
let b: PostgresServer;
/** The CLI's connection: no LISTEN, like `ssoctl session revoke`. */
let cli: PostgresStore;

beforeAll(async () => {
  cluster = await startTestPostgres();
  url = await cluster.createDatabase();
  await initPostgresDatabase(url, { users: [ALICE, BOB], apps: [APP] });
  const config = { publicUrl: PUBLIC, throttle: { user: { limit: 3, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 1000, windowSeconds: 600, lockSeconds: 600 } } };
  a = await startPostgresServer(url, config);
  b = await startPostgresServer(url, config);
  cli = await openPostgresStore(url);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await cli?.close();
  cluster?.destroy();
});

/** The form from one server, posted to the other: the CSRF token verifies on every server. */
async function signInAcross(from: PostgresServer, to: PostgresServer, user: { username: string; password: string }): Promise<{ status: number; token: string | undefined }> {
  const form = await openLoginForm(from, { rd: `${APP}/` });
  const reply = await postForm(to, "/login", { rd: `${APP}/`, csrf: form.csrf, username: user.username, password: user.password }, { cookie: cookieHeader(form.cookies), origin: PUBLIC });
  const setCookie = reply.headers["set-cookie"];
  const line = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ""]).find((l) => l.startsWith("ssoctl="));
  return { status: reply.status, token: line?.slice("ssoctl=".length).split(";")[0] };
}

async function forwardAuth(server: PostgresServer, token: string): Promise<number> {
  const reply = await fetchPage(`${server.url}/auth/request`, {
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP}/page`, "x-original-method": "GET" },
  });
  return reply.status;
}

const soon = { timeout: 5000, interval: 10 };

describe("two login servers on one PostgreSQL database", () => {
  it("signs in with the form of one server posted to the other, and both recognise the login", async () => {
    const { status, token } = await signInAcross(a, b, ALICE);
    expect(status).toBe(303);
    expect(token).toBeDefined();
    expect(await forwardAuth(a, token!)).toBe(200);
    expect(await forwardAuth(b, token!)).toBe(200);
  });

  it("refuses a session revoked from the CLI on both servers, though both had it cached", async () => {
    const { token } = await signInAcross(b, a, ALICE);
    for (const server of [a, b]) {
      expect(await forwardAuth(server, token!)).toBe(200);
      expect(await forwardAuth(server, token!)).toBe(200);
    }
    const sid = JSON.parse(Buffer.from(token!.split(".")[1]!, "base64url").toString()).sid as string;
    expect(await cli.deleteSession(sid)).toBe(true);
    await expect.poll(() => forwardAuth(a, token!), soon).toBe(401);
    await expect.poll(() => forwardAuth(b, token!), soon).toBe(401);
  });

  it("refuses a user disabled from the CLI on both servers", async () => {
    const { token } = await signInAcross(a, a, BOB);
    expect(await forwardAuth(b, token!)).toBe(200);
    await cli.setDisabled("bob", true);
    await expect.poll(() => forwardAuth(a, token!), soon).toBe(401);
    await expect.poll(() => forwardAuth(b, token!), soon).toBe(401);
    await cli.setDisabled("bob", false);
  });

  it("logs out through one server and is refused by the other", async () => {
    const { token } = await signInAcross(a, b, ALICE);
    expect(await forwardAuth(a, token!)).toBe(200);
    const form = await openLoginForm(b);
    await postForm(b, "/logout", { csrf: form.csrf }, { cookie: cookieHeader({ ...form.cookies, ssoctl: token }), origin: PUBLIC });
    await expect.poll(() => forwardAuth(a, token!), soon).toBe(401);
  });

  it("signs with the rotated key on every server, and keeps older logins valid during the grace", async () => {
    const before = await signInAcross(a, a, ALICE);
    const keys = new DatabaseSigningKeys(cli);
    await rotateKey(keys, cli, 3600, Math.floor(Date.now() / 1000));
    const current = await keys.current();
    await expect.poll(() => b.login.context.keyring.current, soon).toBe(current);
    await expect.poll(() => a.login.context.keyring.current, soon).toBe(current);
    const after = await signInAcross(b, a, ALICE);
    expect(after.status).toBe(303);
    expect(await forwardAuth(b, after.token!)).toBe(200);
    expect(await forwardAuth(b, before.token!)).toBe(200);
  });

  it("counts failed sign-ins on both servers together", async () => {
    const wrong = { username: "alice", password: "not the password at all" };
    await signInAcross(a, a, wrong);
    await signInAcross(b, b, wrong);
    await signInAcross(a, a, wrong);
    expect((await cli.getThrottle("user", "alice"))?.failures).toBe(3);
    const locked = await signInAcross(b, b, ALICE);
    expect(locked.status).not.toBe(303);
    expect(locked.token).toBeUndefined();
    await cli.clearThrottle("user", "alice");
  });

  it("writes every server's audit rows to the database", async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rows = (await client.query<{ event: string }>("SELECT event FROM audit WHERE event = 'login.success'")).rows;
    await client.end();
    expect(rows.length).toBeGreaterThanOrEqual(5);
  });
});
