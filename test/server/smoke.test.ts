import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

describe("the login server", () => {
  let data: TestDataDir;
  let server: RunningServer;
  const app = "http://127.0.0.1:9";

  beforeAll(async () => {
    data = await makeDataDir({ users: [{ username: "alice", password: "correct horse" }], apps: [app] });
    server = await startServer(data);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("signs a user in and sends them back to the app at the original path and query", async () => {
    const result = await signIn(server, { username: "alice", password: "correct horse" }, { app, path: "/docs", qs: "?page=2" });
    expect(result.status).toBe(303);
    expect(result.location).toBe(`${app}/docs?page=2`);
    expect(result.cookie).toMatch(/^ey/);
    const again = await request(`${server.url}/login?rd=${encodeURIComponent(app + "/other")}`, { headers: { cookie: `ssoctl=${result.cookie}` } });
    expect(again.statusCode).toBe(303);
    expect(again.headers.location).toBe(`${app}/other`);
  });
});
