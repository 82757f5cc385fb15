/**
 * README's nginx and Caddy configurations, as written there, against the real
 * servers: a client's look-alike identity headers (`Remote_User`, which CGI and
 * WSGI read as REMOTE_USER, and other `Remote-*` names) and what reaches the app.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { startCaddy } from "./support/caddy.js";
import { hostPort, startNginx } from "./support/nginx.js";
import { freePort, type RunningProgram } from "./support/processes.js";
import { readmeCaddySite, readmeNginx } from "./support/readme.js";
import { startUpstream, type Echo, type RunningUpstream } from "./support/upstream.js";

const ALICE = { username: "alice", password: "correct horse", name: "Alice Liddell", email: "alice@example.com", groups: ["admins", "staff"] };
const ALICE_HEADERS = { "remote-user": "alice", "remote-name": "Alice Liddell", "remote-email": "alice@example.com", "remote-groups": "admins,staff" };
const BROWSER = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
const LOOK_ALIKES = {
  Remote_User: "root",
  REMOTE_GROUPS: "wheel",
  remote_email: "root@example.com",
  "Remote-Admin": "1",
  "remote-user": "mallory",
  "Remote-Name": "Mallory",
};

describe("README's proxy configurations and a client's identity headers", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let upstream: RunningUpstream;
  let nginx: RunningProgram & { config: string };
  let caddy: RunningProgram & { config: string };
  let nginxApp: string;
  let caddyApp: string;

  beforeAll(async () => {
    const [nginxPort, caddyPort] = [await freePort(), await freePort()];
    nginxApp = `http://127.0.0.1:${nginxPort}`;
    caddyApp = `http://127.0.0.1:${caddyPort}`;
    data = await makeDataDir({ users: [ALICE], apps: [nginxApp, caddyApp] });
    server = await startServer(data);
    upstream = await startUpstream();
    const addresses = { login: hostPort(server.url), upstream: hostPort(upstream.url) };
    nginx = await startNginx({ loginUrl: server.url, upstreamUrl: upstream.url, port: nginxPort, snippet: readmeNginx({ ...addresses, appPort: nginxPort }) });
    caddy = await startCaddy({ loginUrl: server.url, upstreamUrl: upstream.url, port: caddyPort, site: readmeCaddySite(caddyPort, addresses) });
  });
  afterAll(async () => {
    await nginx?.stop();
    await caddy?.stop();
    await upstream?.close();
    await server?.close();
    data?.cleanup();
  });

  async function signedIn(app: string): Promise<string> {
    const result = await signIn(server, ALICE, { rd: `${app}/` });
    expect(result.status).toBe(303);
    return `ssoctl=${result.cookie}`;
  }

  it("Caddy: the app sees only the four headers from the login server", async () => {
    const response = await request(`${caddyApp}/page`, { headers: { ...BROWSER, ...LOOK_ALIKES, cookie: await signedIn(caddyApp) } });
    const echo = (await response.body.json()) as Echo;
    expect(response.statusCode, caddy.config).toBe(200);
    expect(echo.remote).toEqual(ALICE_HEADERS);
  });

  it("nginx: underscore look-alikes are dropped and the four replaced; other Remote-* headers pass, as the README warns", async () => {
    const response = await request(`${nginxApp}/page`, { headers: { ...LOOK_ALIKES, cookie: await signedIn(nginxApp) } });
    const echo = (await response.body.json()) as Echo;
    expect(response.statusCode, nginx.config).toBe(200);
    expect(echo.remote).toEqual({ ...ALICE_HEADERS, "remote-admin": "1" });
  });

  it("neither lets a request without a login reach the app, look-alike headers or not", async () => {
    const before = upstream.received.length;
    for (const app of [nginxApp, caddyApp]) {
      const response = await request(`${app}/page`, { headers: { ...BROWSER, ...LOOK_ALIKES } });
      await response.body.dump();
      expect(response.statusCode).toBe(302);
      expect(String(response.headers.location)).toContain(`${server.url}/login?rd=`);
    }
    expect(upstream.received.length).toBe(before);
  });
});
