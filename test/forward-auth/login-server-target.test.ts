/**
 * Forward auth never lets a proxied request through to the login server's own origin: a proxy
 * that builds the target from the client's `Host` (nginx's `$http_host`, a default server that
 * answers every name) would otherwise pass any signed-in user by sending the login server's name.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { ALICE, APP, loginCookie } from "./support.js";

describe("forward auth and the login server's own origin", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let cookie: string;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data);
    cookie = await loginCookie(server);
  });
  afterAll(async () => {
    await server?.close();
    data?.cleanup();
  });

  it("refuses it with 403 at /auth/request and /auth/forward, signed in or not, twice (the cached path too)", async () => {
    const own = new URL(server.url);
    for (let round = 0; round < 2; round++) {
      for (const headers of [{ cookie }, {}]) {
        const nginx = await request(`${server.url}/auth/request`, { headers: { ...headers, "x-original-url": `${server.url}/anything`, "x-original-method": "GET" } });
        await nginx.body.text();
        expect(nginx.statusCode).toBe(403);
        const caddy = await request(`${server.url}/auth/forward`, {
          headers: { ...headers, "x-forwarded-proto": "http", "x-forwarded-host": own.host, "x-forwarded-uri": "/anything", "x-forwarded-method": "GET" },
        });
        await caddy.body.text();
        expect(caddy.statusCode).toBe(403);
      }
    }
    // The control: the registered app still passes.
    const app = await request(`${server.url}/auth/request`, { headers: { cookie, "x-original-url": `${APP}/`, "x-original-method": "GET" } });
    await app.body.text();
    expect(app.statusCode).toBe(200);
    expect(server.auditLines.some((line) => line.includes('"reason":"login_server_target"'))).toBe(true);
  });
});
