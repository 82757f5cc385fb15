/** Forward auth fails closed: untrusted peers and a failing store never get a 200 (nor a 500). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, startServer, type TestDataDir } from "../support/server.js";
import { ALICE, APP, BROWSER_ACCEPT, loginCookie, startServerWithBreakableStore } from "./support.js";

const REQUEST_HEADERS = { "x-original-url": `${APP}/`, "x-original-method": "GET" };
const FORWARD_HEADERS = { "x-forwarded-proto": "http", "x-forwarded-host": "app.example.test:8443", "x-forwarded-uri": "/", "x-forwarded-method": "GET" };

async function status(url: string, headers: Record<string, string>): Promise<{ status: number; remoteUser: unknown }> {
  const response = await request(url, { headers });
  await response.body.dump();
  return { status: response.statusCode, remoteUser: response.headers["remote-user"] };
}

describe("forward auth from a peer that is not a trusted proxy", () => {
  let data: TestDataDir;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
  });
  afterAll(() => data?.cleanup());

  it("answers 403 on both endpoints, even with a valid login", async () => {
    const server = await startServer(data, { trustedProxies: ["10.0.0.0/8", "fd00::/8"] });
    try {
      const cookie = await loginCookie(server);
      expect(await status(`${server.url}/auth/request`, { cookie, ...REQUEST_HEADERS })).toEqual({ status: 403, remoteUser: undefined });
      expect(await status(`${server.url}/auth/forward`, { cookie, accept: BROWSER_ACCEPT, ...FORWARD_HEADERS })).toEqual({ status: 403, remoteUser: undefined });
    } finally {
      await server.close();
    }
  });
});

describe("forward auth over a failing store", () => {
  let data: TestDataDir;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
  });
  afterAll(() => data?.cleanup());

  it("answers 401 (never 200, never 500) while the store fails, and keeps serving", async () => {
    const server = await startServerWithBreakableStore(data);
    try {
      const cookie = await loginCookie(server);
      expect((await status(`${server.url}/auth/request`, { cookie, ...REQUEST_HEADERS })).status).toBe(200);

      server.breakStore();
      for (let i = 0; i < 3; i += 1) {
        expect(await status(`${server.url}/auth/request`, { cookie, ...REQUEST_HEADERS })).toEqual({ status: 401, remoteUser: undefined });
        expect(await status(`${server.url}/auth/request`, REQUEST_HEADERS)).toEqual({ status: 401, remoteUser: undefined });
        const forward = await status(`${server.url}/auth/forward`, { cookie, ...FORWARD_HEADERS });
        expect(forward).toEqual({ status: 401, remoteUser: undefined });
        const browser = await status(`${server.url}/auth/forward`, { cookie, accept: BROWSER_ACCEPT, ...FORWARD_HEADERS });
        expect(browser.status).not.toBe(200);
        expect(browser.status).toBeLessThan(500);
        expect(browser.remoteUser).toBeUndefined();
      }
    } finally {
      await server.close();
    }
  });
});
