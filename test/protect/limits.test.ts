/**
 * What a slow or greedy client can hold of `ssoctl protect`: a visitor without
 * a login is answered without the proxy reading their upload, slow headers run
 * into the header timeout, and connections beyond the cap are closed.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProtect, type ProtectOptions, type ProtectServer } from "../../src/protect/index.js";
import { LOGIN_URL, listen, makeToken, newKey, type Running } from "../guard/support.js";

const KEY = newKey();

/** A connection that has sent `text` and keeps quiet; `answer` is what it received once the proxy closed it. */
function quietClient(baseUrl: string, text: string): { socket: Socket; connected: Promise<void>; answer: Promise<string> } {
  const socket = connect(Number(new URL(baseUrl).port), "127.0.0.1");
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.on("connect", () => socket.write(text));
  let data = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (data += chunk));
  const answer = new Promise<string>((resolve) => {
    socket.on("error", () => {});
    socket.on("close", () => resolve(data));
  });
  return { socket, connected, answer };
}

describe("ssoctl protect limits", () => {
  let upstream: Running;
  let requests = 0;
  const proxies: ProtectServer[] = [];

  async function start(extra: Partial<ProtectOptions> = {}): Promise<ProtectServer> {
    const proxy = await startProtect({ upstream: upstream.url, port: 0, loginUrl: LOGIN_URL, secretKey: KEY, ...extra });
    proxies.push(proxy);
    return proxy;
  }

  beforeAll(async () => {
    upstream = await listen((req, res) => {
      requests++;
      req.resume();
      req.on("end", () => res.end("ok"));
    });
  });
  afterAll(async () => {
    for (const proxy of proxies) await proxy.close({ graceMs: 100 });
    await upstream.close();
  });

  it("answers an upload without a login at once and closes the connection instead of reading the body", async () => {
    const proxy = await start();
    const before = requests;
    // 100 MB announced, 1 KiB sent, then nothing: the proxy must not wait for the rest.
    const client = quietClient(proxy.url, `POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100000000\r\n\r\n${"x".repeat(1024)}`);
    const answer = await client.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 302 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(requests).toBe(before);
  });

  it("answers `Expect: 100-continue` without a login with the redirect, not 100 Continue", async () => {
    const proxy = await start();
    const before = requests;
    const client = quietClient(proxy.url, "PUT /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n");
    const answer = await client.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 302 /);
    expect(answer).not.toContain("100 Continue");
    expect(requests).toBe(before);
  });

  it("says 100 Continue to a signed-in upload that asks, and passes the body on", async () => {
    const proxy = await start();
    const cookie = `ssoctl=${await makeToken(KEY)}`;
    const body = "x".repeat(1000);
    const { port } = new URL(proxy.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(`PUT /upload HTTP/1.1\r\nHost: app.test\r\nCookie: ${cookie}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
      });
      let data = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        // The body goes only after the proxy's go-ahead.
        if (data === "" && chunk.startsWith("HTTP/1.1 100 Continue\r\n")) socket.write(body);
        data += chunk;
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(answer.endsWith("\r\n\r\nok")).toBe(true);
  });

  it("keeps a connection open after answering a request without a body", async () => {
    const proxy = await start();
    const client = quietClient(proxy.url, "GET /a HTTP/1.1\r\nHost: app.test\r\n\r\nGET /b HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
    const answers = (await client.answer).match(/^HTTP\/1\.1 302 /gm) ?? [];
    expect(answers).toHaveLength(2);
  });

  it("answers 408 and closes a connection whose headers do not arrive in time", { timeout: 15_000 }, async () => {
    const proxy = await start({ timeouts: { headersMs: 500, requestMs: 1_000 } });
    const client = quietClient(proxy.url, "GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ");
    expect(await client.answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("closes connections beyond --max-connections unanswered, and accepts again once one closes", async () => {
    const proxy = await start({ maxConnections: 2 });
    const held = [quietClient(proxy.url, "GET / HTTP/1.1\r\nHost: app.test\r\n"), quietClient(proxy.url, "GET / HTTP/1.1\r\nHost: app.test\r\n")];
    await Promise.all(held.map((client) => client.connected));
    // Let the proxy accept both before the third knocks.
    await new Promise((resolve) => setImmediate(resolve));
    const extra = quietClient(proxy.url, "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
    expect(await extra.answer).toBe("");

    held[0]!.socket.destroy();
    await held[0]!.answer;
    let answer = "";
    // The proxy counts the closed connection out when its own side has closed too.
    for (let attempt = 0; attempt < 50 && answer === ""; attempt++) {
      answer = await quietClient(proxy.url, "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n").answer;
      if (answer === "") await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(answer).toMatch(/^HTTP\/1\.1 302 /);
    held[1]!.socket.destroy();
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses maxConnections %s before listening", async (maxConnections) => {
    await expect(start({ maxConnections })).rejects.toThrow(/maxConnections/);
  });
});
