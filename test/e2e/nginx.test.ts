/** nginx `auth_request` in front of an app, with the configuration INTEGRATIONS.md documents. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { runSsoctl } from "./support/cli.js";
import { startNginx } from "./support/nginx.js";
import { freePort, type RunningProgram } from "./support/processes.js";
import { startUpstream, type Echo, type RunningUpstream } from "./support/upstream.js";

const ALICE = { username: "alice", password: "correct horse", name: "Alice Liddell", email: "alice@example.com", groups: ["admins", "staff"] };

describe("nginx auth_request in front of an app", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let upstream: RunningUpstream;
  let nginx: RunningProgram & { port: number };
  let app: string;

  beforeAll(async () => {
    const port = await freePort();
    app = `http://127.0.0.1:${port}`;
    data = await makeDataDir({ users: [ALICE, { username: "bob", password: "bob's password" }], apps: [app] });
    server = await startServer(data);
    upstream = await startUpstream();
    nginx = await startNginx({ loginUrl: server.url, upstreamUrl: upstream.url, port });
  });
  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
    await server?.close();
    data?.cleanup();
  });

  async function signedIn(username: string, password: string): Promise<string> {
    const result = await signIn(server, { username, password }, { rd: `${app}/docs?page=2` });
    expect(result.status).toBe(303);
    expect(result.location).toBe(`${app}/docs?page=2`);
    return `ssoctl=${result.cookie}`;
  }

  it("sends a visitor without a login to the login page with rd = the original URL", async () => {
    const before = upstream.received.length;
    const response = await request(`${app}/docs?page=2`);
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(`${app}/docs?page=2`)}`);
    expect(upstream.received.length).toBe(before);
  });

  it("sends a form post without a login to the login page, and the app never sees it", async () => {
    const before = upstream.received.length;
    const response = await request(`${app}/comments`, { method: "POST", body: "text=hi", headers: { "content-type": "application/x-www-form-urlencoded" } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(`${app}/comments`)}`);
    expect(upstream.received.length).toBe(before);
  });

  it("lets a signed-in user through and tells the app who it is", async () => {
    const cookie = await signedIn("alice", ALICE.password);
    const response = await request(`${app}/docs?page=2`, { headers: { cookie } });
    expect(response.statusCode).toBe(200);
    const echo = (await response.body.json()) as Echo;
    expect(echo.url).toBe("/docs?page=2");
    expect(echo.remote).toEqual({ "remote-user": "alice", "remote-name": "Alice Liddell", "remote-email": "alice@example.com", "remote-groups": "admins,staff" });
  });

  it("checks many requests, signed in or not, over one kept-alive connection to the login server", async () => {
    const cookie = await signedIn("alice", ALICE.password);
    let opened = 0;
    const count = (): void => {
      opened += 1;
    };
    server.login.server.on("connection", count);
    try {
      for (let i = 0; i < 20; i += 1) {
        const signedInVisit = await request(`${app}/page/${i}`, { headers: { cookie } });
        await signedInVisit.body.dump();
        expect(signedInVisit.statusCode).toBe(200);
        const anonymousVisit = await request(`${app}/page/${i}`);
        await anonymousVisit.body.dump();
        expect(anonymousVisit.statusCode).toBe(302);
      }
    } finally {
      server.login.server.off("connection", count);
    }
    // One per check (40) when an answer has a body, or nginx speaks HTTP/1.0; nginx keeps at most one idle here.
    expect(opened).toBeLessThanOrEqual(1);
  });

  it("never passes a client-sent Remote-User to the app without a login", async () => {
    const before = upstream.received.length;
    const response = await request(`${app}/`, { headers: { "remote-user": "admin", "remote-groups": "admins" } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(upstream.received.length).toBe(before);
  });

  it("replaces client-sent identity headers with the signed-in user's", async () => {
    const cookie = await signedIn("bob", "bob's password");
    const response = await request(`${app}/`, {
      headers: { cookie, "remote-user": "admin", "remote-name": "The Admin", "remote-email": "root@example.com", "remote-groups": "admins" },
    });
    expect(response.statusCode).toBe(200);
    const echo = (await response.body.json()) as Echo;
    // bob has no name, email or groups: nginx sends none rather than the client's.
    expect(echo.remote).toEqual({ "remote-user": "bob" });
  });

  it("does not let a request naming an unregistered host through, and says why", async () => {
    const cookie = await signedIn("alice", ALICE.password);
    const before = upstream.received.length;
    const response = await request(`${app}/`, { headers: { cookie, host: "evil.example" } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent("http://evil.example/")}`);
    expect(upstream.received.length).toBe(before);
    const page = await request(response.headers.location as string);
    expect(page.statusCode).toBe(400);
    expect(await page.body.text()).toContain("ssoctl app add http://evil.example");
  });

  it("locks a user out at once after `ssoctl session revoke --user`", async () => {
    const cookie = await signedIn("alice", ALICE.password);
    const before = await request(`${app}/private`, { headers: { cookie } });
    await before.body.dump();
    expect(before.statusCode).toBe(200);

    const revoke = await runSsoctl(["session", "revoke", "--user", "alice", "-d", data.dataDir.dir]);
    expect(revoke.stderr).toBe("");
    expect(revoke.code).toBe(0);

    const after = await request(`${app}/private`, { headers: { cookie } });
    await after.body.dump();
    expect(after.statusCode).toBe(302);
    expect(after.headers.location).toBe(`${server.url}/login?rd=${encodeURIComponent(`${app}/private`)}`);
  });
});
