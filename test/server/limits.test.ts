/** Limits and malformed requests: refused with 4xx, never 500, and the server keeps serving. Plus load shedding. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { cookieHeader, fetchPage, makeDataDir, openLoginForm, postForm, rawExchange, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };

function statusLine(raw: string): string {
  return raw.split("\r\n", 1)[0]!;
}

describe("request limits", () => {
  let data: TestDataDir;
  let server: RunningServer;
  const stderr: string[] = [];
  const originalWrite = process.stderr.write.bind(process.stderr);

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data, { throttle: { user: { limit: 1000, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 1000, windowSeconds: 600, lockSeconds: 600 } } });
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr.push(String(chunk));
      return (originalWrite as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
  });
  afterAll(async () => {
    process.stderr.write = originalWrite;
    await server.close();
    data.cleanup();
  });

  async function stillServing(): Promise<void> {
    const health = await fetchPage(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const { page } = await openLoginForm(server, { rd: `${APP}/` });
    expect(page.status).toBe(200);
  }

  it("refuses a 17 KiB form with 413", async () => {
    const { csrf, cookies } = await openLoginForm(server);
    const reply = await postForm(server, "/login", { csrf, ...ALICE, filler: "x".repeat(17 * 1024) }, { cookie: cookieHeader(cookies) });
    expect(reply.status).toBe(413);
    expect(reply.body).toContain("Request too large");
    await stillServing();
  });

  it("refuses a 17 KiB form sent chunked (no Content-Length) with 413", async () => {
    const { csrf, cookies } = await openLoginForm(server);
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(new URLSearchParams({ csrf, ...ALICE }).toString());
      for (let i = 0; i < 17; i += 1) yield Buffer.from("&f=" + "y".repeat(1021));
    }
    const response = await request(`${server.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookieHeader(cookies), origin: server.url },
      body: body(),
    }).catch((error: Error) => error);
    // The server may close the connection before the client finishes sending; either way no sign-in and no 500.
    if (!(response instanceof Error)) {
      expect(response.statusCode).toBe(413);
      await response.body.dump();
    }
    await stillServing();
  });

  it("accepts a form just under 16 KiB", async () => {
    const { csrf, cookies } = await openLoginForm(server);
    const base = new URLSearchParams({ csrf, username: "alice", password: "wrong password", filler: "" }).toString();
    const reply = await postForm(server, "/login", base + "z".repeat(16 * 1024 - base.length), { cookie: cookieHeader(cookies) });
    expect(reply.status).toBe(401);
  });

  it.each(["application/json", "multipart/form-data; boundary=x", "text/plain", ""])("refuses content type %j with 415", async (type) => {
    const { csrf, cookies } = await openLoginForm(server);
    const headers: Record<string, string> = { cookie: cookieHeader(cookies), origin: server.url };
    if (type !== "") headers["content-type"] = type;
    const reply = await fetchPage(`${server.url}/login`, { method: "POST", headers, body: new URLSearchParams({ csrf, ...ALICE }).toString() });
    expect(reply.status).toBe(415);
    await stillServing();
  });

  it("takes a content type with parameters and odd case", async () => {
    const { csrf, cookies } = await openLoginForm(server);
    const reply = await fetchPage(`${server.url}/login`, {
      method: "POST",
      headers: { "content-type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8", cookie: cookieHeader(cookies), origin: server.url },
      body: new URLSearchParams({ csrf, username: "alice", password: "wrong password" }).toString(),
    });
    expect(reply.status).toBe(401);
  });

  it.each([
    "/login?rd=%zz",
    "/login?app=%E0%A4%A&path=%&qs=%%",
    "/login?%zz=1",
    "/login?rd=http%3A%2F%2F127.0.0.1%3A9%2F%ff%fe",
    "/logout?rd=%",
    "/login?rd=%00",
  ])("does not fail on malformed percent-encoding in the query: %s", async (pathname) => {
    const reply = await fetchPage(`${server.url}${pathname}`);
    expect(reply.status).toBeLessThan(500);
    expect([200, 303, 400]).toContain(reply.status);
  });

  it("does not fail on malformed percent-encoding in the body", async () => {
    const { csrf, cookies } = await openLoginForm(server);
    const garbage = await postForm(server, "/login", `csrf=${csrf}&username=%zz%&password=%E0%A4%A&%=%`, { cookie: cookieHeader(cookies) });
    expect(garbage.status).toBe(401);
    expect(garbage.body).toContain('value="%zz%"');
    const noCsrf = await postForm(server, "/login", "csrf=%&username=%", { cookie: cookieHeader(cookies) });
    expect(noCsrf.status).toBe(403);
    const badTarget = await postForm(server, "/login", `csrf=${csrf}&username=a&password=b&rd=%`, { cookie: cookieHeader(cookies) });
    expect(badTarget.status).toBe(400);
    const logoutGarbage = await postForm(server, "/logout", "rd=%zz&%=%");
    expect(logoutGarbage.status).toBe(200);
  });

  it.each([
    ["rd in the query", "GET", "/login?rd=http%3A%2F%2F127.0.0.1%3A9%2Fa&rd=https%3A%2F%2Fevil.example%2F"],
    ["app in the query", "GET", "/login?app=http%3A%2F%2F127.0.0.1%3A9&app=https%3A%2F%2Fevil.example"],
    ["rd on logout", "GET", "/logout?rd=a&rd=b"],
  ] as const)("refuses a duplicate %s with 400", async (_label, method, pathname) => {
    const reply = await fetchPage(`${server.url}${pathname}`, { method });
    expect(reply.status).toBe(400);
    expect(reply.headers.location).toBeUndefined();
    expect(reply.body).toContain("was given more than once");
  });

  it.each(["username", "rd", "csrf", "password"])("refuses a post with a duplicate %s with 400 and no session", async (field) => {
    const { csrf, cookies } = await openLoginForm(server);
    const form = new URLSearchParams({ csrf, ...ALICE, rd: `${APP}/` });
    form.append(field, field === "rd" ? "https://evil.example/" : "mallory");
    const before = (await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length;
    const reply = await postForm(server, "/login", form.toString(), { cookie: cookieHeader(cookies) });
    expect(reply.status).toBe(400);
    expect(reply.headers["set-cookie"]).toBeUndefined();
    expect((await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length).toBe(before);
  });

  it.each([
    ["a space in the target", "GET /lo gin HTTP/1.1"],
    ["a control character in the target", "GET /login?rd=\x01 HTTP/1.1"],
    ["a target that is not a path", "GET constructor HTTP/1.1"],
    ["a target of just __proto__", "GET __proto__ HTTP/1.1"],
    ["an unknown HTTP version", "GET /login HTTP/9.9"],
  ])("answers a raw request with %s with 400 and keeps serving", async (_label, line) => {
    const raw = await rawExchange(server.url, `${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(statusLine(raw)).toMatch(/^HTTP\/1\.1 400 /);
    await stillServing();
  });

  it.each([
    ["an absolute-form target", "GET http://evil.example/login HTTP/1.1"],
    ["an asterisk target", "OPTIONS * HTTP/1.1"],
    ["a protocol-relative target", "GET //evil.example/login HTTP/1.1"],
  ])("answers a raw request with %s without a 5xx or a redirect off-site", async (_label, line) => {
    const raw = await rawExchange(server.url, `${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(statusLine(raw)).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(raw).not.toMatch(/\r\nLocation: (https?:)?\/\/evil/i);
  });

  it("answers oversized headers with 431 and keeps serving", async () => {
    const raw = await rawExchange(server.url, `GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(statusLine(raw)).toMatch(/^HTTP\/1\.1 431 /);
    await stillServing();
  });

  it("keeps serving after a body cut short (Content-Length larger than sent, then the socket closed)", async () => {
    const { csrf, cookies } = await openLoginForm(server);
    const start = `csrf=${csrf}&username=alice&password=`;
    const head = [
      "POST /login HTTP/1.1",
      "Host: 127.0.0.1",
      "Content-Type: application/x-www-form-urlencoded",
      `Cookie: ${cookieHeader(cookies)}`,
      `Origin: ${server.url}`,
      "Content-Length: 4000",
    ].join("\r\n");
    const stderrBefore = stderr.length;
    const raw = await rawExchange(server.url, `${head}\r\n\r\n${start}`, { idleMs: 300, endAfterWrite: true });
    expect(raw).not.toMatch(/^HTTP\/1\.1 5/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stillServing();
    // A client that goes away is not a server failure: nothing is logged as an error.
    expect(stderr.slice(stderrBefore).join("")).not.toContain('"event":"error"');
  });

  it("keeps serving after a body cut short by a reset connection", async () => {
    const { hostname, port } = new URL(server.url);
    const net = await import("node:net");
    await new Promise<void>((resolve) => {
      const socket = net.connect({ host: hostname, port: Number(port) }, () => {
        socket.write("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=al");
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, 100);
      });
      socket.on("error", () => undefined);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stillServing();
  });

  it("never answered 500 in any of the above", async () => {
    expect(stderr.join("")).not.toMatch(/\b500\b/);
    await stillServing();
  });
});

describe("sign-in load shedding", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data, {
      hashConcurrency: 1,
      hashQueueLimit: 1,
      throttle: { user: { limit: 1000, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 1000, windowSeconds: 600, lockSeconds: 600 } },
    });
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("answers a burst of sign-ins past the queue with 503 and Retry-After, never 500", async () => {
    const { csrf, cookies } = await openLoginForm(server, { rd: `${APP}/` });
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        postForm(server, "/login", { rd: `${APP}/`, csrf, username: "alice", password: `wrong password ${i}` }, { cookie: cookieHeader(cookies) }),
      ),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(2);
    const busy = replies.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThanOrEqual(5);
    for (const reply of busy) {
      expect(Number(reply.headers["retry-after"])).toBeGreaterThan(0);
      expect(reply.body).toContain("busy");
      expect(reply.body).toContain('value="alice"');
    }
    // Once the burst has passed, sign-in works again.
    const ok = await signIn(server, ALICE, { rd: `${APP}/` });
    expect(ok.status).toBe(303);
  });
});
