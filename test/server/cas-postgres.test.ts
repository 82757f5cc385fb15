/** CAS with two login servers on one PostgreSQL database: a ticket from one validates once on either; logout on either tells the service. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { cookieHeader, fetchPage, openLoginForm, postForm } from "../support/server.js";

const PUBLIC = "http://login.test";
const ALICE = { username: "alice", password: "correct horse battery", name: "Alice", groups: ["staff"] };


let cluster: TestPostgres;
let a: PostgresServer;
let b: PostgresServer;
let service: Server;
let serviceOrigin: string;
const logoutRequests: string[] = [];

beforeAll(async () => {
  service = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      if (req.method === "POST") logoutRequests.push(new URLSearchParams(body).get("logoutRequest") ?? "");
      res.writeHead(302, { Location: "/" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
  serviceOrigin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
  cluster = await startTestPostgres();
  const url = await cluster.createDatabase();
  await initPostgresDatabase(url, { users: [ALICE], apps: [serviceOrigin] });
  a = await startPostgresServer(url, { publicUrl: PUBLIC });
  b = await startPostgresServer(url, { publicUrl: PUBLIC });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  cluster?.destroy();
  service?.closeAllConnections();
  await new Promise((resolve) => service?.close(resolve));
});

async function signIn(server: PostgresServer): Promise<string> {
  const form = await openLoginForm(server, {});
  const reply = await postForm(server, "/login", { csrf: form.csrf, username: ALICE.username, password: ALICE.password }, { cookie: cookieHeader(form.cookies), origin: PUBLIC });
  const setCookie = reply.headers["set-cookie"];
  const line = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ""]).find((l) => l.startsWith("ssoctl="))!;
  return line.slice("ssoctl=".length).split(";")[0]!;
}

async function ticketFrom(server: PostgresServer, token: string, serviceUrl: string): Promise<string> {
  const reply = await fetchPage(`${server.url}/cas/login?service=${encodeURIComponent(serviceUrl)}`, { headers: { cookie: `ssoctl=${token}` } });
  expect(reply.status).toBe(303);
  return new URL(reply.headers.location as string).searchParams.get("ticket")!;
}

function validate(server: PostgresServer, serviceUrl: string, ticket: string): Promise<string> {
  return fetchPage(`${server.url}/cas/p3/serviceValidate?service=${encodeURIComponent(serviceUrl)}&ticket=${ticket}`).then((r) => r.body);
}

describe("CAS on PostgreSQL", () => {
  it("validates a ticket from one server on the other, once", async () => {
    const token = await signIn(a);
    const serviceUrl = `${serviceOrigin}/app`;
    const ticket = await ticketFrom(a, token, serviceUrl);
    expect(await validate(b, serviceUrl, ticket)).toContain("<cas:memberOf>staff</cas:memberOf>");
    expect(await validate(a, serviceUrl, ticket)).toContain('code="INVALID_TICKET"');
  });

  it("tells the service when the session ends on the other server", async () => {
    const token = await signIn(a);
    const ticket = await ticketFrom(a, token, `${serviceOrigin}/app`);
    const before = logoutRequests.length;
    expect((await fetchPage(`${b.url}/cas/logout`, { headers: { cookie: `ssoctl=${token}` } })).status).toBe(200);
    await expect.poll(() => logoutRequests.length - before, { timeout: 5000 }).toBe(1);
    expect(logoutRequests.at(-1)).toContain(`<samlp:SessionIndex>${ticket}</samlp:SessionIndex>`);
  });
});
