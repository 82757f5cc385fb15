/**
 * Two `ssoctl serve` on one PostgreSQL database behind real nginx (round robin), with
 * Chromium: a sign-in through one server is recognised by the other, a CLI revocation
 * reaches both, a killed server is carried by the other without losing a session, and
 * a PostgreSQL outage fails closed and heals without restarting anything.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { request } from "undici";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase } from "../support/postgres-server.js";
import { runCli } from "../support/server.js";
import { launchChromium } from "./support/browser.js";
import { startLoadBalancer, startLoginServerProcess } from "./support/load-balancer.js";
import type { RunningProxy } from "./support/nginx.js";
import { freePort, type RunningProgram } from "./support/processes.js";
import { startUpstream, type Echo, type RunningUpstream } from "./support/upstream.js";

const ALICE = { username: "alice", password: "correct horse battery" };

let cluster: TestPostgres;
let databaseUrl: string;
let servers: (RunningProgram & { port: number })[] = [];
let upstream: RunningUpstream;
let nginx: RunningProxy;
let browser: Browser;
let loginUrl: string;
let app: string;

beforeAll(async () => {
  cluster = await startTestPostgres();
  databaseUrl = await cluster.createDatabase();
  const [loginPort, appPort] = [await freePort(), await freePort()];
  loginUrl = `http://127.0.0.1:${loginPort}`;
  app = `http://127.0.0.1:${appPort}`;
  await initPostgresDatabase(databaseUrl, { users: [ALICE], apps: [app] });
  servers = [
    await startLoginServerProcess({ databaseUrl, publicUrl: loginUrl }),
    await startLoginServerProcess({ databaseUrl, publicUrl: loginUrl }),
  ];
  upstream = await startUpstream();
  nginx = await startLoadBalancer({ loginPort, appPort, servers: servers.map((s) => `127.0.0.1:${s.port}`), upstreamUrl: upstream.url });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await nginx?.stop();
  await upstream?.close();
  for (const server of servers) await server.stop();
  cluster?.destroy();
});

/** Everything the programs said, for a failing test's message. */
function logs(): string {
  return [...servers.map((s, i) => `--- ssoctl serve #${i + 1}\n${s.output()}`), `--- nginx\n${nginx.output()}`, `--- postgres\n${cluster.log()}`].join("\n");
}

/** Signs in with Chromium through the load balancer, starting at the app; the login cookie. */
async function signInWithChromium(): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${app}/reports`);
    await page.waitForURL((url) => url.origin === loginUrl && url.pathname === "/login");
    await page.getByLabel("Username").fill(ALICE.username);
    await page.getByLabel("Password").fill(ALICE.password);
    await Promise.all([page.waitForURL(`${app}/reports`), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
    const echo = JSON.parse((await page.locator("body").textContent()) ?? "{}") as Echo;
    expect(echo.remote["remote-user"], logs()).toBe("alice");
    const cookie = (await context.cookies()).find((c) => c.name === "ssoctl");
    expect(cookie, logs()).toBeDefined();
    return cookie!.value;
  } finally {
    await context.close();
  }
}

/** Forward auth straight at one server, bypassing nginx. */
async function authAt(server: { port: number }, token: string): Promise<number> {
  const response = await request(`http://127.0.0.1:${server.port}/auth/request`, {
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${app}/reports`, "x-original-method": "GET" },
  });
  await response.body.dump();
  return response.statusCode;
}

/** The app through nginx. */
async function appStatus(token: string): Promise<number> {
  const response = await request(`${app}/reports`, { headers: { cookie: `ssoctl=${token}` } });
  await response.body.dump();
  return response.statusCode;
}

async function status(url: string): Promise<number> {
  const response = await request(url);
  await response.body.dump();
  return response.statusCode;
}

const soon = { timeout: 10_000, interval: 20 };

describe("two login servers on PostgreSQL behind nginx", () => {
  it("signs in through the load balancer in Chromium, and each server recognises the login", async () => {
    const token = await signInWithChromium();
    expect(await authAt(servers[0]!, token), logs()).toBe(200);
    expect(await authAt(servers[1]!, token), logs()).toBe(200);
  });

  it("refuses a session revoked from the CLI on both servers", async () => {
    const token = await signInWithChromium();
    for (const server of servers) expect(await authAt(server, token)).toBe(200);
    const revoke = await runCli(["session", "revoke", "--user", "alice"], { env: { SSOCTL_DATABASE_URL: databaseUrl } });
    expect(revoke.stderr).toBe("");
    expect(revoke.code).toBe(0);
    for (const server of servers) await expect.poll(() => authAt(server, token), soon).toBe(401);
    expect(await appStatus(token)).toBe(302);
  });

  it("carries on with one server when the other is killed under load, and keeps every session", async () => {
    const token = await signInWithChromium();
    const statuses: number[] = [];
    let running = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (running) statuses.push(await appStatus(token));
      }),
    );
    await expect.poll(() => statuses.length, soon).toBeGreaterThan(50);
    servers[0]!.process.kill("SIGKILL");
    const atKill = statuses.length;
    await expect.poll(() => statuses.length, soon).toBeGreaterThan(atKill + 200);
    running = false;
    await load;
    expect(statuses.filter((s) => s !== 200), logs()).toEqual([]);
    expect(await authAt(servers[1]!, token)).toBe(200);
    // A new sign-in works with one server left.
    expect(await appStatus(await signInWithChromium())).toBe(200);
  });

  it("fails closed while PostgreSQL is down and serves again when it is back, without a restart", async () => {
    const token = await signInWithChromium();
    const survivor = servers[1]!;
    const pid = survivor.process.pid;
    cluster.stop();
    await expect.poll(() => appStatus(token), soon).toBe(302);
    expect(await status(`${loginUrl}/login`)).toBe(503);
    expect(await status(`http://127.0.0.1:${survivor.port}/healthz`)).toBe(503);
    cluster.start();
    await expect.poll(() => appStatus(token), soon).toBe(200);
    expect(await status(`${loginUrl}/login`)).toBe(200);
    expect(await status(`http://127.0.0.1:${survivor.port}/healthz`)).toBe(200);
    expect(survivor.process.pid).toBe(pid);
    expect(survivor.process.exitCode).toBeNull();
  });
});
