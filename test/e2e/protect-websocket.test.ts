/// <reference lib="dom" />
/**
 * A WebSocket app behind `ssoctl protect` (spawned as a user runs it), used
 * from real Chromium: the browser signs in, the app's page opens a WebSocket
 * through the proxy, and the app sees who is on the other end.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { startWebSocketUpstream, type WebSocketUpstream } from "../support/websocket-upstream.js";
import { launchChromium } from "./support/browser.js";
import { freePort, startProgram, type RunningProgram } from "./support/processes.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Liddell", email: "alice@example.com", groups: ["staff"] };

/** Opens a WebSocket to its own origin, sends "hi", and shows the reply and the close code. */
const CHAT_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Chat</title></head><body>
<p id="reply"></p><p id="closed"></p>
<script>
const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
ws.onopen = () => ws.send("hi");
ws.onmessage = (event) => { document.getElementById("reply").textContent = event.data; ws.send("bye"); };
ws.onclose = (event) => { document.getElementById("closed").textContent = String(event.code); };
</script></body></html>`;

describe("a WebSocket app behind ssoctl protect, in Chromium", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let upstream: WebSocketUpstream;
  let protect: RunningProgram;
  let app: string;
  let browser: Browser;

  beforeAll(async () => {
    const port = await freePort();
    app = `http://127.0.0.1:${port}`;
    data = await makeDataDir({ users: [ALICE], apps: [app] });
    server = await startServer(data);
    upstream = await startWebSocketUpstream({ page: CHAT_PAGE });
    protect = await startProgram({
      name: "ssoctl protect",
      command: process.execPath,
      args: [path.resolve("bin/ssoctl"), "protect", "--upstream", upstream.url, "--login-url", `${server.url}/login`, "--port", String(port), "-d", data.dataDir.dir],
      url: `${app}/`,
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await protect?.stop();
    await upstream?.close();
    await server?.close();
    data?.cleanup();
  });

  it("signs in, then talks over a WebSocket that carries the user's identity", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${app}/`);
      expect(new URL(page.url()).origin).toBe(server.url);
      await page.getByLabel("Username").fill(ALICE.username);
      await page.getByLabel("Password").fill(ALICE.password);
      await Promise.all([page.waitForURL(`${app}/`), page.getByRole("button", { name: "Sign in", exact: true }).click()]);

      await expect.poll(() => page.locator("#reply").textContent(), { timeout: 10_000 }).toBe("echo:hi");
      await expect.poll(() => page.locator("#closed").textContent(), { timeout: 10_000 }).toBe("1000");
      const connection = upstream.connections.at(-1)!;
      expect(connection.headers["remote-user"]).toBe("alice");
      expect(connection.headers["remote-name"]).toBe("Alice Liddell");
      // The login server's CSRF cookie may come along (cookies ignore ports); the login token never does.
      expect(connection.headers.cookie ?? "").not.toMatch(/(^|;\s*)ssoctl=/);
      await connection.closed;
    } finally {
      await context.close();
    }
  });

  it("never opens a WebSocket for a browser without a login", async () => {
    const context = await browser.newContext();
    try {
      const before = upstream.handshakes;
      // A blank page, so the WebSocket is the only request to the app.
      const page = await context.newPage();
      const outcome = await page.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(url);
            ws.onopen = () => resolve("open");
            ws.onclose = (event) => resolve(`closed ${event.code}`);
          }),
        `${app.replace(/^http/, "ws")}/chat`,
      );
      expect(outcome).toBe("closed 1006");
      expect(upstream.handshakes).toBe(before);
    } finally {
      await context.close();
    }
  });
});
