/**
 * WebSockets through `ssoctl protect`: a real client (undici's WebSocket) and a
 * small upstream that does the RFC 6455 handshake and echoes text frames.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { WebSocket } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProtect, type ProtectServer } from "../../src/protect/index.js";
import { LOGIN_URL, listen, makeToken, newKey } from "../guard/support.js";
import { startWebSocketUpstream, type WebSocketUpstream } from "../support/websocket-upstream.js";

const KEY = newKey();

/** A handshake on a raw socket: everything the proxy answered, once it closes the connection (or `until` cuts it). */
function rawHandshake(
  baseUrl: string,
  options: { path?: string; lines?: string[]; upgrade?: string[]; until?: (answer: string) => boolean } = {},
): Promise<{ status: number; text: string }> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => {
      socket.write(
        [
          `GET ${options.path ?? "/chat"} HTTP/1.1`,
          "Host: app.test",
          ...(options.upgrade ?? ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`]),
          ...(options.lines ?? []),
        ].join("\r\n") +
          "\r\n\r\n",
      );
    });
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      // Cutting the connection here is a client that goes away without a close frame.
      if (options.until?.(text) === true) socket.destroy();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("the WebSocket did not open")), { once: true });
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.addEventListener("message", (event) => resolve(String(event.data)), { once: true }));
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.addEventListener("close", (event) => resolve(event.code), { once: true }));
}

describe("ssoctl protect with WebSockets", () => {
  let upstream: WebSocketUpstream;
  let proxy: ProtectServer;
  let cookie: string;

  beforeAll(async () => {
    upstream = await startWebSocketUpstream();
    proxy = await startProtect({ upstream: `${upstream.url}/base`, port: 0, loginUrl: LOGIN_URL, secretKey: KEY, anonymousParameter: "guest" });
    cookie = `ssoctl=${await makeToken(KEY, { username: "alice" })}`;
  });
  afterAll(async () => {
    await proxy.close({ graceMs: 100 });
    await upstream.close();
  });

  function wsUrl(path: string): string {
    return `${proxy.url.replace(/^http/, "ws")}${path}`;
  }

  it("carries messages both ways for a signed-in user, with the identity on the handshake", async () => {
    const ws = new WebSocket(wsUrl("/chat?room=1"), { headers: { cookie, "remote-user": "root", Remote_User: "root", "Remote-Admin": "1" } });
    await opened(ws);
    const reply = nextMessage(ws);
    ws.send("hello");
    expect(await reply).toBe("echo:hello");
    const again = nextMessage(ws);
    ws.send("x".repeat(300));
    expect(await again).toBe(`echo:${"x".repeat(300)}`);

    const connection = upstream.connections.at(-1)!;
    expect(connection.url).toBe("/base/chat?room=1");
    expect(connection.headers["remote-user"]).toBe("alice");
    expect(Object.keys(connection.headers).filter((name) => /^remote[-_]/.test(name))).toEqual(["remote-user"]);
    // The login token stays at the proxy, as for plain requests.
    expect(connection.headers.cookie).toBeUndefined();
    const done = closed(ws);
    ws.close(1000);
    expect(await done).toBe(1000);
    await connection.closed;
  });

  it("closes the upstream connection when the client goes away without a close frame", async () => {
    const before = upstream.connections.length;
    const answer = await rawHandshake(proxy.url, { lines: [`Cookie: ${cookie}`], until: (text) => text.includes("\r\n\r\n") });
    expect(answer.status).toBe(101);
    expect(upstream.connections.length).toBe(before + 1);
    await upstream.connections.at(-1)!.closed;
  });

  it("closes the client's connection when the upstream closes, cleanly or not", async () => {
    const ws = new WebSocket(wsUrl("/chat"), { headers: { cookie } });
    await opened(ws);
    const clean = closed(ws);
    ws.send("bye");
    expect(await clean).toBe(1000);

    const cut = new WebSocket(wsUrl("/chat"), { headers: { cookie } });
    await opened(cut);
    const abrupt = closed(cut);
    cut.send("drop");
    expect(await abrupt).toBe(1006);
  });

  it("never upgrades without a login: the handshake gets the login redirect and the upstream never sees it", async () => {
    const before = upstream.handshakes;
    const answer = await rawHandshake(proxy.url, { lines: ["Remote-User: alice", "Cookie: ssoctl=forged"] });
    expect(answer.status).toBe(302);
    expect(answer.text).toMatch(/\r\nlocation: http:\/\/127\.0\.0\.1:8081\/login\?app=/i);
    expect(answer.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(upstream.handshakes).toBe(before);

    const ws = new WebSocket(wsUrl("/chat"));
    const refused = closed(ws);
    await expect(opened(ws)).rejects.toThrow();
    expect(await refused).toBe(1006);
    expect(upstream.handshakes).toBe(before);
  });

  it("lets a guest in with the anonymous parameter, setting the anonymous cookie on the 101", async () => {
    const guest = await rawHandshake(proxy.url, { path: "/chat?guest", until: (text) => text.includes("\r\n\r\n") });
    expect(guest.status).toBe(101);
    expect(guest.text).toMatch(/\r\nset-cookie: ssoctl=[^;\r\n]+;/i);
    expect(upstream.connections.at(-1)!.headers["remote-anonymous"]).toBe("1");
  });

  it("passes the upstream's refusal of an upgrade to the client, and closes", async () => {
    const answer = await rawHandshake(proxy.url, { path: "/refuse", lines: [`Cookie: ${cookie}`] });
    expect(answer.status).toBe(403);
    expect(answer.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer.text.endsWith("\r\n\r\nnot for you, bob")).toBe(true);
  });

  it("refuses an upgrade to anything but WebSocket, which would tunnel requests past the guard", async () => {
    const before = upstream.handshakes;
    const { text } = await rawHandshake(proxy.url, {
      path: "/",
      upgrade: ["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA"],
      lines: [`Cookie: ${cookie}`],
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain("WebSocket only");
    expect(upstream.handshakes).toBe(before);
  });

  it("answers a handshake with 502 when the upstream is down", async () => {
    const dead = await listen(() => {});
    const deadUrl = dead.url;
    await dead.close();
    const lines: string[] = [];
    const down = await startProtect({ upstream: deadUrl, port: 0, loginUrl: LOGIN_URL, secretKey: KEY, log: (line) => lines.push(line) });
    try {
      const answer = await rawHandshake(down.url, { lines: [`Cookie: ${cookie}`] });
      expect(answer.status).toBe(502);
      expect(answer.text).toContain("Bad gateway");
      expect(lines.join("\n")).toMatch(/ECONNREFUSED/);
    } finally {
      await down.close({ graceMs: 100 });
    }
  });

  it("keeps a WebSocket open past the request and keep-alive timeouts", { timeout: 15_000 }, async () => {
    const strict = await startProtect({
      upstream: upstream.url,
      port: 0,
      loginUrl: LOGIN_URL,
      secretKey: KEY,
      timeouts: { headersMs: 300, requestMs: 500, keepAliveMs: 300 },
    });
    try {
      const ws = new WebSocket(`${strict.url.replace(/^http/, "ws")}/chat`, { headers: { cookie } });
      await opened(ws);
      // Three seconds: past every timeout above, each checked every second.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const reply = nextMessage(ws);
      ws.send("still here");
      expect(await reply).toBe("echo:still here");
      ws.close(1000);
    } finally {
      await strict.close({ graceMs: 100 });
    }
  });

  it("closes open WebSockets when the proxy stops", async () => {
    const own = await startProtect({ upstream: upstream.url, port: 0, loginUrl: LOGIN_URL, secretKey: KEY });
    const ws = new WebSocket(`${own.url.replace(/^http/, "ws")}/chat`, { headers: { cookie } });
    await opened(ws);
    const done = closed(ws);
    await own.close({ graceMs: 60_000 });
    expect(await done).toBe(1006);
    await upstream.connections.at(-1)!.closed;
  });
});
