/// <reference lib="dom" />
/**
 * Access rules through real proxies and a real browser: nginx (with README's `error_page 403`
 * snippet) and Caddy show the 403 to the browser; in Chromium a user without access sees the
 * 403 page and switches to a user who has it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import type { Browser } from "playwright-core";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { launchChromium } from "./support/browser.js";
import { startCaddy } from "./support/caddy.js";
import { hostPort, startNginx, type NginxSnippet } from "./support/nginx.js";
import { freePort, type RunningProgram } from "./support/processes.js";
import { startUpstream, type RunningUpstream } from "./support/upstream.js";

const PASSWORD = "a long password";
const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../README.md");

/** README's 403 snippet for nginx (section "Who may use which app"), with the test's login server. */
function readme403(login: string): { errorPage: string; location: string } {
  const text = fs.readFileSync(README, "utf8");
  const section = text.slice(text.indexOf("\n## Who may use which app"));
  const block = section.split("\n```nginx\n")[1]!.split("\n```")[0]!.replaceAll("127.0.0.1:8081", login);
  const errorPage = block.split("\n").find((line) => line.startsWith("error_page 403"))!;
  const location = block.slice(block.indexOf("location @ssoctl_forbidden"));
  return { errorPage, location };
}

/** The built-in nginx locations (INTEGRATIONS.md) with README's 403 lines added. */
function nginxWith403(login: string, upstream: string): NginxSnippet {
  const { errorPage, location } = readme403(login);
  return {
    http: "",
    server: `
        set $ssoctl_app $scheme://$http_host;
        location = /_ssoctl {
            internal;
            proxy_pass http://${login}/auth/request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
        }
        location / {
            auth_request /_ssoctl;
            auth_request_set $ssoctl_user $upstream_http_remote_user;
            auth_request_set $ssoctl_redirect $upstream_http_location;
            error_page 401 =302 $ssoctl_redirect;
            ${errorPage}
            proxy_set_header Remote-User $ssoctl_user;
            proxy_pass http://${upstream};
        }
        ${location}`,
  };
}

describe("access rules behind real proxies and in Chromium", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let upstream: RunningUpstream;
  let nginx: RunningProgram & { config: string };
  let caddy: RunningProgram & { config: string };
  let nginxApp: string;
  let caddyApp: string;
  let browser: Browser;

  beforeAll(async () => {
    const [nginxPort, caddyPort] = [await freePort(), await freePort()];
    nginxApp = `http://127.0.0.1:${nginxPort}`;
    caddyApp = `http://127.0.0.1:${caddyPort}`;
    data = await makeDataDir({
      users: [
        { username: "alice", password: PASSWORD, groups: ["staff"] },
        { username: "bob", password: PASSWORD },
      ],
    });
    server = await startServer(data);
    await server.store.addApp({ name: "Reports", origin: nginxApp, allowGroups: ["staff"] }, 1);
    await server.store.addApp({ name: "Metrics", origin: caddyApp, allowGroups: ["staff"] }, 1);
    await server.store.addRule("Reports", { path: "/status", methods: [], policy: "bypass", groups: [], users: [] }, 1);
    upstream = await startUpstream();
    nginx = await startNginx({ loginUrl: server.url, upstreamUrl: upstream.url, port: nginxPort, snippet: nginxWith403(hostPort(server.url), hostPort(upstream.url)) });
    caddy = await startCaddy({ loginUrl: server.url, upstreamUrl: upstream.url, port: caddyPort });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await caddy?.stop();
    await upstream?.close();
    await server?.close();
    data?.cleanup();
  });

  async function cookieOf(username: string, app: string): Promise<string> {
    const result = await signIn(server, { username, password: PASSWORD }, { rd: `${app}/` });
    return `ssoctl=${result.cookie}`;
  }

  it("nginx: a user without access is sent to the login server's 403 page; the app never sees the request", async () => {
    const before = upstream.received.length;
    const response = await request(`${nginxApp}/reports/2024`, { headers: { cookie: await cookieOf("bob", nginxApp) } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(`${server.url}/login?rd=${nginxApp}/reports/2024`);
    const page = await request(response.headers.location as string, { headers: { cookie: await cookieOf("bob", nginxApp) } });
    expect(page.statusCode).toBe(403);
    expect(await page.body.text()).toContain("who may not use <strong>Reports</strong>");
    expect(upstream.received.length).toBe(before);
  });

  it("nginx: a bypass path opens without a login, and the allowed user gets in", async () => {
    const open = await request(`${nginxApp}/status`);
    await open.body.dump();
    expect(open.statusCode).toBe(200);
    const alice = await request(`${nginxApp}/reports`, { headers: { cookie: await cookieOf("alice", nginxApp) } });
    await alice.body.dump();
    expect(alice.statusCode).toBe(200);
  });

  it("Caddy: the browser gets /auth/forward's 403 page itself", async () => {
    const before = upstream.received.length;
    const response = await request(`${caddyApp}/`, {
      headers: { cookie: await cookieOf("bob", caddyApp), accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    expect(response.statusCode).toBe(403);
    const body = await response.body.text();
    expect(body).toContain("who may not use <strong>Metrics</strong>");
    expect(body).toContain("Sign in as someone else");
    expect(upstream.received.length).toBe(before);
  });

  it("Chromium: bob sees the 403 page naming the app and himself, signs in as alice instead and reaches the app", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${nginxApp}/reports?year=2024`);
      await page.waitForURL((url) => url.origin === server.url && url.pathname === "/login");
      await page.getByLabel("Username").fill("bob");
      await page.getByLabel("Password").fill(PASSWORD);
      const [response] = await Promise.all([page.waitForResponse((r) => r.url() === `${server.url}/login` && r.request().method() === "POST"), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
      expect(response.status()).toBe(403);
      await expect.poll(() => page.locator("h1").textContent()).toBe("You cannot use this application");
      expect(await page.locator(".lead").textContent()).toBe("You are signed in as bob, who may not use Reports.");

      await page.getByRole("link", { name: "Sign in as someone else" }).click();
      await page.waitForURL((url) => url.origin === server.url && url.pathname === "/login" && url.searchParams.get("rd") === `${nginxApp}/reports?year=2024`);
      await page.getByLabel("Username").fill("alice");
      await page.getByLabel("Password").fill(PASSWORD);
      await Promise.all([page.waitForURL(`${nginxApp}/reports?year=2024`), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
      const echo = JSON.parse((await page.locator("body").textContent()) ?? "{}") as { remote: Record<string, string> };
      expect(echo.remote["remote-user"]).toBe("alice");
    } finally {
      await context.close();
    }
  });
});
