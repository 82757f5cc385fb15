/** `ssoctl protect` (spawned as a user runs it) guarding an app, with the data directory at hand. */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { runSsoctl } from "./support/cli.js";
import { freePort, startProgram, type RunningProgram } from "./support/processes.js";
import { startUpstream, type Echo, type RunningUpstream } from "./support/upstream.js";

const ALICE = { username: "alice", password: "correct horse", name: "Alice Liddell", email: "alice@example.com", groups: ["staff"] };

describe("ssoctl protect in front of an app", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let upstream: RunningUpstream;
  let protect: RunningProgram;
  let app: string;

  beforeAll(async () => {
    const port = await freePort();
    app = `http://127.0.0.1:${port}`;
    data = await makeDataDir({ users: [ALICE], apps: [app] });
    server = await startServer(data);
    upstream = await startUpstream();
    protect = await startProgram({
      name: "ssoctl protect",
      command: process.execPath,
      args: [
        path.resolve("bin/ssoctl"),
        "protect",
        "--upstream", upstream.url,
        "--login-url", `${server.url}/login`,
        "--port", String(port),
        "--anonymous-parameter", "guest",
        "--logout-parameter", "logout",
        "-d", data.dataDir.dir,
      ],
      url: `${app}/`,
    });
  });
  afterAll(async () => {
    await protect?.stop();
    await upstream?.close();
    await server?.close();
    data?.cleanup();
  });

  async function signedIn(): Promise<string> {
    const result = await signIn(server, ALICE, { app, path: "/docs", qs: "?page=2" });
    expect(result.status).toBe(303);
    expect(result.location).toBe(`${app}/docs?page=2`);
    return `ssoctl=${result.cookie}`;
  }

  it("sends a visitor without a login to the login page with app, path and qs", async () => {
    const before = upstream.received.length;
    const response = await request(`${app}/docs?page=2`, { headers: { "remote-user": "admin" } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(`${server.url}/login?app=${encodeURIComponent(app)}&path=%2Fdocs&qs=${encodeURIComponent("?page=2")}`);
    expect(upstream.received.length).toBe(before);
  });

  it("lets a signed-in user through with the identity headers and strips the client's", async () => {
    const cookie = await signedIn();
    const response = await request(`${app}/docs?page=2`, { headers: { cookie, "remote-user": "admin", "remote-groups": "admins", "remote-anonymous": "0" } });
    expect(response.statusCode).toBe(200);
    const echo = (await response.body.json()) as Echo;
    expect(echo.url).toBe("/docs?page=2");
    expect(echo.remote["remote-user"]).toBe("alice");
    expect(echo.remote["remote-groups"]).toBe("staff");
    expect(echo.remote["remote-anonymous"]).toBeUndefined();
  });

  it("drops a client's look-alike identity headers in any spelling", async () => {
    const cookie = await signedIn();
    const response = await request(`${app}/docs`, {
      headers: { cookie, Remote_User: "root", REMOTE_GROUPS: "wheel", "Remote-Admin": "1", remote_admin: "1", "remote-name": "Mallory" },
    });
    expect(response.statusCode).toBe(200);
    const echo = (await response.body.json()) as Echo;
    expect(echo.remote).toEqual({ "remote-user": "alice", "remote-name": "Alice Liddell", "remote-email": "alice@example.com", "remote-groups": "staff" });
  });

  it("lets a guest in with the anonymous parameter and says so", async () => {
    const response = await request(`${app}/?guest=1`, { headers: { "remote-user": "admin" } });
    expect(response.statusCode).toBe(200);
    const echo = (await response.body.json()) as Echo;
    expect(echo.remote["remote-user"]).toBe("anonymous");
    expect(echo.remote["remote-anonymous"]).toBe("1");
  });

  it("locks a user out at once after `ssoctl session revoke --user`", async () => {
    const cookie = await signedIn();
    const before = await request(`${app}/private`, { headers: { cookie } });
    await before.body.dump();
    expect(before.statusCode).toBe(200);
    const revoke = await runSsoctl(["session", "revoke", "--user", "alice", "-d", data.dataDir.dir]);
    expect(revoke.code).toBe(0);
    const after = await request(`${app}/private`, { headers: { cookie } });
    await after.body.dump();
    expect(after.statusCode).toBe(302);
  });
});
