/** PostgreSQL stops and starts again under a running login server: fail closed, then back without a restart. */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { fetchPage, signIn } from "../support/server.js";

const APP = "http://app.test";
const ALICE = { username: "alice", password: "correct horse battery" };


let cluster: TestPostgres;
let url: string;
let server: PostgresServer;

beforeAll(async () => {
  cluster = await startTestPostgres();
  url = await cluster.createDatabase();
  await initPostgresDatabase(url, { users: [ALICE], apps: [APP] });
  server = await startPostgresServer(url);
});

afterAll(async () => {
  await server?.close();
  cluster?.destroy();
});

async function forwardAuth(token: string): Promise<number> {
  const reply = await fetchPage(`${server.url}/auth/request`, {
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP}/page`, "x-original-method": "GET" },
  });
  return reply.status;
}

async function status(path: string): Promise<number> {
  return (await fetchPage(`${server.url}${path}`)).status;
}

const soon = { timeout: 10_000, interval: 20 };

describe("a login server when PostgreSQL goes away and comes back", () => {
  it("answers 401 to forward auth and 503 to pages and /healthz while it is down, then serves again by itself", async () => {
    const { cookie: token } = await signIn(server, ALICE, { rd: `${APP}/` });
    expect(await forwardAuth(token!)).toBe(200);
    expect(await forwardAuth(token!)).toBe(200);

    cluster.stop();
    // The login was cached: losing the notifications must drop it rather than keep answering 200.
    await expect.poll(() => forwardAuth(token!), soon).toBe(401);
    expect(await status("/healthz")).toBe(503);
    expect(await status("/login")).toBe(503);
    expect(server.store.isListening).toBe(false);
    expect(server.logs.some((line) => line.includes('"connected":false'))).toBe(true);

    cluster.start();
    await expect.poll(() => status("/healthz"), soon).toBe(200);
    await expect.poll(() => forwardAuth(token!), soon).toBe(200);
    expect(await status("/login")).toBe(200);
    await expect.poll(() => server.store.isListening, soon).toBe(true);
  });

  it("reconnects its notification connection by itself when only that connection is cut", async () => {
    await expect.poll(() => server.store.isListening, soon).toBe(true);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const cut = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'");
      expect(cut.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    await expect.poll(() => server.logs.filter((line) => line.includes('"connected":false')).length, soon).toBeGreaterThanOrEqual(2);
    await expect.poll(() => server.store.isListening, soon).toBe(true);
    expect(server.logs.some((line) => line.includes('"connected":true'))).toBe(true);
  });

  it("follows other servers' writes again once the notifications are back", async () => {
    await expect.poll(() => server.store.isListening, soon).toBe(true);
    const { cookie: token } = await signIn(server, ALICE, { rd: `${APP}/` });
    expect(await forwardAuth(token!)).toBe(200);
    const cli: PostgresStore = await openPostgresStore(url);
    try {
      await cli.deleteUserSessions("alice");
    } finally {
      await cli.close();
    }
    await expect.poll(() => forwardAuth(token!), soon).toBe(401);
  });
});
