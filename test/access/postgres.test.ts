/** Access rules with two login servers on one PostgreSQL database: a change through the CLI's connection reaches both. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { cookieHeader, fetchPage, openLoginForm, postForm } from "../support/server.js";

const PUBLIC = "http://login.test";
const APP = "http://app.test";
const BOB = { username: "bob", password: "bob's long password" };

let cluster: TestPostgres;
let a: PostgresServer;
let b: PostgresServer;
let cli: PostgresStore;
let token: string;

beforeAll(async () => {
  cluster = await startTestPostgres();
  const url = await cluster.createDatabase();
  await initPostgresDatabase(url, { users: [BOB], apps: [APP] });
  a = await startPostgresServer(url, { publicUrl: PUBLIC });
  b = await startPostgresServer(url, { publicUrl: PUBLIC });
  cli = await openPostgresStore(url);
  const form = await openLoginForm(a, { rd: `${APP}/` });
  const reply = await postForm(a, "/login", { rd: `${APP}/`, csrf: form.csrf, ...BOB }, { cookie: cookieHeader(form.cookies), origin: PUBLIC });
  const setCookie = reply.headers["set-cookie"];
  token = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ""]).find((l) => l.startsWith("ssoctl="))!.slice("ssoctl=".length).split(";")[0]!;
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await cli?.close();
  cluster?.destroy();
});

async function status(server: PostgresServer, path: string): Promise<number> {
  const reply = await fetchPage(`${server.url}/auth/request`, { headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP}${path}`, "x-original-method": "GET" } });
  return reply.status;
}

const soon = { timeout: 5000, interval: 10 };

describe("access rules on PostgreSQL", () => {
  it("a rule, a group and an app's audience set through another connection apply on both servers", async () => {
    expect(await status(a, "/admin")).toBe(200);
    expect(await status(b, "/admin")).toBe(200);
    const rule = await cli.addRule(APP, { path: "/admin", methods: [], policy: null, groups: ["admins"], users: [] }, 1);
    await expect.poll(() => status(a, "/admin"), soon).toBe(403);
    await expect.poll(() => status(b, "/admin"), soon).toBe(403);
    await cli.updateUser("bob", { groups: ["admins"] });
    await expect.poll(() => status(a, "/admin/x"), soon).toBe(200);
    await expect.poll(() => status(b, "/admin/x"), soon).toBe(200);
    await cli.removeRule(rule!.id);
    await cli.updateApp(APP, { allowGroups: ["staff"] });
    await expect.poll(() => status(a, "/"), soon).toBe(403);
    await expect.poll(() => status(b, "/"), soon).toBe(403);
  });
});
