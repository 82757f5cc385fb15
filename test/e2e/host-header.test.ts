/**
 * A client's `Host` header does not choose which app's rules apply. README's nginx server block
 * states its own app origin and a default server refuses other names; Caddy's site address does
 * the same by itself. Through the real proxies, a request naming a `bypass` app's host (or the
 * login server's) never reaches the protected app without a login.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { startCaddy } from "./support/caddy.js";
import { hostPort, startNginx } from "./support/nginx.js";
import { freePort, type RunningProgram } from "./support/processes.js";
import { readmeCaddySite, readmeNginx } from "./support/readme.js";
import { startUpstream, type RunningUpstream } from "./support/upstream.js";

const ALICE = { username: "alice", password: "correct horse" };

describe("a foreign Host header behind README's proxy configurations", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let upstream: RunningUpstream;
  let nginx: RunningProgram & { config: string };
  let caddy: RunningProgram & { config: string };
  let nginxPort: number;
  let caddyPort: number;

  beforeAll(async () => {
    [nginxPort, caddyPort] = [await freePort(), await freePort()];
    data = await makeDataDir({ users: [ALICE], apps: [`http://127.0.0.1:${nginxPort}`, `http://127.0.0.1:${caddyPort}`] });
    server = await startServer(data);
    // Open to anyone: the name an attacker would send to get past the login.
    await server.store.addApp({ name: "public", origin: `http://public.example:${nginxPort}`, policy: "bypass" }, 0);
    await server.store.addApp({ name: "public via caddy", origin: `http://public.example:${caddyPort}`, policy: "bypass" }, 0);
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

  /** The status, and whether the app itself answered (its echo names the path). */
  async function fetchAs(port: number, host: string, cookie?: string): Promise<{ status: number | "closed"; reachedApp: boolean }> {
    try {
      const response = await request(`http://127.0.0.1:${port}/secret`, { headers: { host, accept: "text/html", ...(cookie === undefined ? {} : { cookie }) } });
      const body = await response.body.text();
      return { status: response.statusCode, reachedApp: body.includes('"url":"/secret"') };
    } catch {
      // nginx's `return 444` closes the connection without an answer.
      return { status: "closed", reachedApp: false };
    }
  }

  it("nginx: a bypass app's name or the login server's is refused or gets the app's own rules; the app's own name still works", async () => {
    const bypass = await fetchAs(nginxPort, `public.example:${nginxPort}`);
    expect(bypass, nginx.config).toEqual({ status: "closed", reachedApp: false });
    const loginName = await fetchAs(nginxPort, new URL(server.url).host);
    expect(loginName.reachedApp).toBe(false);
    expect(loginName.status).toBe(302);
    const own = await fetchAs(nginxPort, `127.0.0.1:${nginxPort}`);
    expect(own).toEqual({ status: 302, reachedApp: false });
    const cookie = `ssoctl=${(await signIn(server, ALICE)).cookie}`;
    expect(await fetchAs(nginxPort, `127.0.0.1:${nginxPort}`, cookie)).toEqual({ status: 200, reachedApp: true });
  });

  it("Caddy: a bypass app's name never reaches the app; the site's own name still asks for a login", async () => {
    const bypass = await fetchAs(caddyPort, `public.example:${caddyPort}`);
    expect(bypass.reachedApp, caddy.config).toBe(false);
    const own = await fetchAs(caddyPort, `127.0.0.1:${caddyPort}`);
    expect(own.reachedApp).toBe(false);
    expect(own.status).toBe(302);
  });
});
