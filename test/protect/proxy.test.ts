import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProtect, type ProtectOptions, type ProtectServer } from "../../src/protect/index.js";
import { verifyToken } from "../../src/token.js";
import { LOGIN_URL, cookieValue, listen, makeToken, newKey, setCookies, type Running } from "../guard/support.js";

const KEY = newKey();
const MB = 1024 * 1024;

/** Lets a test hold the upstream mid-response, and see how much of an upload it has received. */
const probes = {
  uploadBytes: 0,
  uploadStarted: deferred(),
  releaseDownload: deferred(),
};

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function upstreamHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://upstream");
  if (url.pathname.endsWith("/upload")) {
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      probes.uploadBytes = bytes;
      probes.uploadStarted.resolve();
      hash.update(chunk);
    });
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ bytes, sha256: hash.digest("hex"), transferEncoding: req.headers["transfer-encoding"] ?? null }));
    });
    return;
  }
  if (url.pathname.endsWith("/download")) {
    const size = Number(url.searchParams.get("mb")) * MB;
    const seed = randomBytes(64 * 1024);
    res.writeHead(200, { "content-type": "application/octet-stream", "x-total": String(size) });
    void (async () => {
      let sent = 0;
      res.write(seed);
      sent += seed.length;
      await probes.releaseDownload.promise;
      while (sent < size) {
        if (!res.write(seed)) await new Promise((r) => res.once("drain", r));
        sent += seed.length;
      }
      res.end();
    })();
    return;
  }
  if (url.pathname.endsWith("/reset")) {
    res.writeHead(200, { "content-length": "1000000" });
    res.write("partial");
    setTimeout(() => req.socket.destroy(), 20);
    return;
  }
  if (url.pathname.endsWith("/hop")) {
    res.setHeader("connection", "x-upstream-secret");
    res.setHeader("x-upstream-secret", "1");
    res.setHeader("keep-alive", "timeout=99");
    res.setHeader("proxy-authenticate", "Basic");
    res.setHeader("set-cookie", ["app=1; Path=/"]);
    res.end("ok");
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ url: req.url, method: req.method, rawHeaders: req.rawHeaders }));
}

interface Echo {
  url: string;
  rawHeaders: string[];
}

function headerValues(echo: Echo, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < echo.rawHeaders.length; i += 2) {
    if (echo.rawHeaders[i]!.toLowerCase() === name) values.push(echo.rawHeaders[i + 1]!);
  }
  return values;
}

describe("ssoctl protect proxy", () => {
  let upstream: Running;
  let proxy: ProtectServer;
  const liveSessions = new Set<string>();
  const checked: string[] = [];

  async function start(extra: Partial<ProtectOptions> = {}): Promise<ProtectServer> {
    return startProtect({
      upstream: `${upstream.url}/base`,
      port: 0,
      loginUrl: LOGIN_URL,
      secretKey: KEY,
      anonymousParameter: "anonymous",
      logoutParameter: "logout",
      checkSession: async (claims) => {
        checked.push(claims.sessionId);
        return liveSessions.has(claims.sessionId);
      },
      ...extra,
    });
  }

  async function signedIn(username = "alice"): Promise<string> {
    const sessionId = randomBytes(16).toString("base64url");
    liveSessions.add(sessionId);
    return `ssoctl=${await makeToken(KEY, { username, sessionId })}`;
  }

  beforeAll(async () => {
    upstream = await listen(upstreamHandler);
    proxy = await start();
  });
  afterAll(async () => {
    await proxy.close({ graceMs: 100 });
    await upstream.close();
  });

  it("sends a visitor without a login to the login page, naming the proxy as the app", async () => {
    const response = await request(`${proxy.url}/page?x=1`);
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    const params = new URL(String(response.headers.location)).searchParams;
    expect(params.get("app")).toBe(proxy.url);
    expect(params.get("path")).toBe("/page");
    expect(params.get("qs")).toBe("?x=1");
  });

  it("passes a signed-in request with Remote-User, never the client's identity headers", async () => {
    const cookie = await signedIn("alice");
    const response = await request(`${proxy.url}/echo?q=1`, {
      headers: [
        "Cookie", `theme=dark; ${cookie}; lang=en`,
        "Remote-User", "root",
        "remote-user", "root2",
        "REMOTE-GROUPS", "admin",
        "Remote-Name", "Root",
        "Remote-Email", "root@example.com",
        "Remote-Anonymous", "1",
        "X-Forwarded-For", "6.6.6.6",
        "X-Custom", "kept",
      ],
    });
    expect(response.statusCode).toBe(200);
    const echo = (await response.body.json()) as Echo;
    expect(echo.url).toBe("/base/echo?q=1");
    expect(headerValues(echo, "remote-user")).toEqual(["alice"]);
    for (const name of ["remote-groups", "remote-name", "remote-email", "remote-anonymous"]) {
      expect(headerValues(echo, name)).toEqual([]);
    }
    expect(headerValues(echo, "x-forwarded-for")).toEqual(["127.0.0.1"]);
    expect(headerValues(echo, "x-forwarded-proto")).toEqual(["http"]);
    expect(headerValues(echo, "x-forwarded-host")).toEqual([new URL(proxy.url).host]);
    expect(headerValues(echo, "x-custom")).toEqual(["kept"]);
    // The login token stays at the proxy; the app's own cookies pass.
    expect(headerValues(echo, "cookie")).toEqual(["theme=dark; lang=en"]);
  });

  it("passes name, email and groups upstream when it can look the user up, replacing the client's", async () => {
    const withProfiles = await start({
      profile: async (username) =>
        username === "zoë" ? { username: "zoë", name: "Zoë Ünal", email: "zoe@example.com", groups: ["staff", "admin"] } : null,
    });
    try {
      const response = await request(`${withProfiles.url}/echo`, {
        headers: { cookie: await signedIn("zoë"), "remote-groups": "root", "remote-name": "Mallory" },
      });
      expect(response.statusCode).toBe(200);
      const echo = (await response.body.json()) as Echo;
      const utf8 = (name: string): string[] => headerValues(echo, name).map((v) => Buffer.from(v, "latin1").toString("utf8"));
      expect(utf8("remote-user")).toEqual(["zoë"]);
      expect(utf8("remote-name")).toEqual(["Zoë Ünal"]);
      expect(headerValues(echo, "remote-email")).toEqual(["zoe@example.com"]);
      expect(headerValues(echo, "remote-groups")).toEqual(["staff,admin"]);
    } finally {
      await withProfiles.close({ graceMs: 100 });
    }
  });

  it("answers 502, and keeps serving, when the profile lookup fails", async () => {
    const failing = await start({ profile: async () => Promise.reject(new Error("database is locked")) });
    try {
      const response = await request(`${failing.url}/echo`, { headers: { cookie: await signedIn("alice") } });
      await response.body.dump();
      expect(response.statusCode).toBe(502);
      const next = await request(`${failing.url}/page`);
      await next.body.dump();
      expect(next.statusCode).toBe(302);
    } finally {
      await failing.close({ graceMs: 100 });
    }
  });

  it("strips hop-by-hop request headers, including those named in Connection", async () => {
    const cookie = await signedIn();
    const raw = await rawExchange(
      proxy.url,
      "GET /echo HTTP/1.1\r\nHost: app.test\r\n" +
        `Cookie: ${cookie}\r\n` +
        "Connection: close, X-Hop-Secret\r\nX-Hop-Secret: s\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n" +
        "Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTrailer: X-T\r\nX-End: e\r\n\r\n",
    );
    expect(raw.status).toBe(200);
    const echo = JSON.parse(raw.body) as Echo;
    for (const name of ["x-hop-secret", "keep-alive", "te", "proxy-authorization", "proxy-connection", "upgrade", "trailer"]) {
      expect(headerValues(echo, name), name).toEqual([]);
    }
    expect(headerValues(echo, "connection")).not.toContain("close, X-Hop-Secret");
    expect(headerValues(echo, "x-end")).toEqual(["e"]);
  });

  it("never passes a look-alike identity header: underscores, any case, any Remote-* name", async () => {
    const cookie = await signedIn("alice");
    const raw = await rawExchange(
      proxy.url,
      "GET /echo HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n" +
        `Cookie: ${cookie}\r\n` +
        "Remote_User: root\r\nREMOTE_USER: root2\r\nremote_groups: admin\r\nRemote-Admin: 1\r\nRemote_Admin: 1\r\n" +
        "Remote-Role: owner\r\nX_Forwarded_For: 6.6.6.6\r\nx_forwarded_host: evil.example\r\nX-Remote-Note: kept\r\n\r\n",
    );
    expect(raw.status).toBe(200);
    const echo = JSON.parse(raw.body) as Echo;
    const names = echo.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
    expect(names.filter((name) => /^remote[-_]/.test(name))).toEqual(["remote-user"]);
    expect(headerValues(echo, "remote-user")).toEqual(["alice"]);
    expect(names.filter((name) => name.startsWith("x_forwarded"))).toEqual([]);
    expect(headerValues(echo, "x-forwarded-for")).toEqual(["127.0.0.1"]);
    expect(headerValues(echo, "x-remote-note")).toEqual(["kept"]);
  });

  it("never passes a method-override header, in any spelling: the upstream acts only on the method that was judged", async () => {
    const cookie = await signedIn("alice");
    const raw = await rawExchange(
      proxy.url,
      "POST /echo HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nContent-Length: 0\r\n" +
        `Cookie: ${cookie}\r\n` +
        "X-HTTP-Method-Override: DELETE\r\nx-http-method: DELETE\r\nX-Method-Override: PUT\r\nX_HTTP_Method_Override: DELETE\r\nX-Other: kept\r\n\r\n",
    );
    expect(raw.status).toBe(200);
    const echo = JSON.parse(raw.body) as Echo & { method: string };
    expect(echo.method).toBe("POST");
    const names = echo.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase().replace(/_/g, "-"));
    expect(names.filter((name) => /method/.test(name))).toEqual([]);
    expect(headerValues(echo, "x-other")).toEqual(["kept"]);
  });

  it("names the app URL's host in X-Forwarded-Host, never the Host the client sent", async () => {
    const withAppUrl = await start({ appUrl: "https://wiki.example.com" });
    try {
      const cookie = await signedIn();
      for (const proxyUrl of [proxy.url, withAppUrl.url]) {
        const raw = await rawExchange(proxyUrl, `GET /echo HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\nCookie: ${cookie}\r\n\r\n`);
        expect(raw.status).toBe(200);
        const echo = JSON.parse(raw.body) as Echo;
        expect(headerValues(echo, "x-forwarded-host")).toEqual([proxyUrl === proxy.url ? new URL(proxy.url).host : "wiki.example.com"]);
      }
    } finally {
      await withAppUrl.close({ graceMs: 100 });
    }
  });

  it.each([
    ["/a/../admin", "/base/admin"],
    ["/a/%2e%2e/admin", "/base/admin"],
    ["/a/.%2E/admin?x=/../y", "/base/admin?x=/../y"],
    ["/a/./b/%2e/c", "/base/a/b/c"],
    ["/a/b/..", "/base/a/"],
    ["/a/%2e", "/base/a/"],
  ])("resolves the dot segments of %s before adding the upstream prefix", async (target, upstreamUrl) => {
    const cookie = await signedIn();
    const raw = await rawExchange(proxy.url, `GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nCookie: ${cookie}\r\n\r\n`);
    expect(raw.status).toBe(200);
    expect((JSON.parse(raw.body) as Echo).url).toBe(upstreamUrl);
  });

  it.each(["/../admin", "/..", "/a/../../admin", "/%2e%2e/admin", "/..%2fadmin", "/a/..%5cadmin", "/a/..\\admin", "/..;/admin", "/a/%2E%2e;x=1/b"])(
    "refuses %s with 400, signed in or not",
    async (target) => {
      for (const cookie of [await signedIn(), ""]) {
        const raw = await rawExchange(proxy.url, `GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nCookie: ${cookie}\r\n\r\n`);
        expect(raw.status).toBe(400);
        expect(raw.body).toContain("Bad request");
      }
    },
  );

  it("sends a visitor without a login to the login page with the resolved path", async () => {
    const raw = await rawExchange(proxy.url, "GET /docs/../admin/./x?y=1 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
    expect(raw.status).toBe(302);
    const params = new URL(/\r\nlocation: ([^\r]*)/i.exec(raw.head)![1]!).searchParams;
    expect(params.get("path")).toBe("/admin/x");
    expect(params.get("qs")).toBe("?y=1");
  });

  it("strips hop-by-hop response headers and keeps the app's cookies", async () => {
    const response = await request(`${proxy.url}/hop`, { headers: { cookie: await signedIn() } });
    expect(await response.body.text()).toBe("ok");
    expect(response.headers["x-upstream-secret"]).toBeUndefined();
    expect(response.headers["proxy-authenticate"]).toBeUndefined();
    expect(String(response.headers["keep-alive"] ?? "")).not.toContain("99");
    expect(setCookies(response.headers)).toEqual(["app=1; Path=/"]);
  });

  it("streams a multi-megabyte request body to the upstream before the client has finished sending", async () => {
    const cookie = await signedIn();
    const chunk = randomBytes(256 * 1024);
    const chunks = 32; // 8 MiB
    const expected = createHash("sha256");
    let sawStreaming = false;
    async function* body(): AsyncGenerator<Buffer> {
      expected.update(chunk);
      yield chunk;
      // The rest is sent only once the upstream has bytes in hand: a buffering proxy would hang here.
      await probes.uploadStarted.promise;
      sawStreaming = probes.uploadBytes > 0 && probes.uploadBytes < chunks * chunk.length;
      for (let i = 1; i < chunks; i++) {
        expected.update(chunk);
        yield chunk;
      }
    }
    const response = await request(`${proxy.url}/upload`, { method: "POST", headers: { cookie }, body: Readable.from(body()) });
    const result = (await response.body.json()) as { bytes: number; sha256: string };
    expect(response.statusCode).toBe(200);
    expect(result.bytes).toBe(chunks * chunk.length);
    expect(result.sha256).toBe(expected.digest("hex"));
    expect(sawStreaming).toBe(true);
  });

  it("forwards a fixed-length upload with its Content-Length", async () => {
    const data = randomBytes(3 * MB);
    const response = await request(`${proxy.url}/upload`, { method: "PUT", headers: { cookie: await signedIn() }, body: data });
    const result = (await response.body.json()) as { bytes: number; sha256: string; transferEncoding: string | null };
    expect(result.bytes).toBe(data.length);
    expect(result.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    expect(result.transferEncoding).toBeNull();
  });

  it("streams a multi-megabyte response back before the upstream has finished writing it", async () => {
    const response = await request(`${proxy.url}/download?mb=8`, { headers: { cookie: await signedIn() } });
    expect(response.statusCode).toBe(200);
    const total = Number(response.headers["x-total"]);
    let received = 0;
    let bytesAtRelease = -1;
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (bytesAtRelease === -1) {
        // The upstream writes the rest only after this release: a buffering proxy would never get here.
        bytesAtRelease = received;
        probes.releaseDownload.resolve();
      }
    }
    expect(bytesAtRelease).toBeGreaterThan(0);
    expect(bytesAtRelease).toBeLessThan(total);
    expect(received).toBe(total);
    expect(total).toBe(8 * MB);
  });

  it("gives an anonymous token for the anonymous parameter and says so upstream, without checking a session", async () => {
    checked.length = 0;
    const response = await request(`${proxy.url}/echo?anonymous`);
    const echo = (await response.body.json()) as Echo;
    expect(headerValues(echo, "remote-user")).toEqual(["anonymous"]);
    expect(headerValues(echo, "remote-anonymous")).toEqual(["1"]);
    const token = cookieValue(setCookies(response.headers)[0]!, "ssoctl")!;
    expect(await verifyToken(token, { secrets: [KEY] })).toMatchObject({ anonymous: true });
    const again = await request(`${proxy.url}/echo`, { headers: { cookie: `ssoctl=${token}` } });
    expect(again.statusCode).toBe(200);
    await again.body.dump();
    expect(checked).toEqual([]);
  });

  it("sends a token whose session the checker refuses to the login page", async () => {
    const sessionId = "revoked-session";
    const cookie = `ssoctl=${await makeToken(KEY, { sessionId })}`;
    const response = await request(`${proxy.url}/echo`, { headers: { cookie } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(String(response.headers.location)).toContain(`${LOGIN_URL}?app=`);
    expect(checked).toContain(sessionId);
  });

  it("logs out through the login server", async () => {
    const response = await request(`${proxy.url}/x?logout`, { headers: { cookie: await signedIn() } });
    await response.body.dump();
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(`http://127.0.0.1:8081/logout?rd=${encodeURIComponent(`${proxy.url}/`)}`);
    // The login server ends the session and clears the cookie; clearing it here first would hide the session from it.
    expect(setCookies(response.headers)).toEqual([]);
    const anonymous = await request(`${proxy.url}/x?logout`, { headers: { cookie: "ssoctl=not-a-token" } });
    await anonymous.body.dump();
    expect(setCookies(anonymous.headers)).toEqual(["ssoctl=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]);
  });

  it("survives an upstream that resets mid-response and a client that aborts mid-download", async () => {
    const cookie = await signedIn();
    await expect(
      request(`${proxy.url}/reset`, { headers: { cookie } }).then((r) => r.body.text()),
    ).rejects.toThrow();

    const controller = new AbortController();
    probes.releaseDownload = deferred();
    const response = await request(`${proxy.url}/download?mb=64`, { headers: { cookie }, signal: controller.signal });
    const reader = response.body[Symbol.asyncIterator]();
    await reader.next();
    probes.releaseDownload.resolve();
    controller.abort();
    await new Promise((r) => setTimeout(r, 50));

    const after = await request(`${proxy.url}/echo`, { headers: { cookie } });
    expect(after.statusCode).toBe(200);
    await after.body.dump();
  });

  it("answers 502 with a small page when the upstream is down", async () => {
    const lines: string[] = [];
    const dead = await listen(() => {});
    const deadUrl = dead.url;
    await dead.close();
    const down = await start({ upstream: `${deadUrl}/<script>`, log: (line) => lines.push(line) });
    try {
      const response = await request(`${down.url}/`, { headers: { cookie: await signedIn() } });
      const text = await response.body.text();
      expect(response.statusCode).toBe(502);
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(text).toContain("Bad gateway");
      expect(text).not.toContain("<script>");
      expect(lines.join("\n")).toMatch(/ECONNREFUSED/);
    } finally {
      await down.close({ graceMs: 100 });
    }
  });

  it.each([
    ["a missing upstream", { upstream: "" }, /upstream is required/],
    ["an upstream that is not http", { upstream: "ftp://x" }, /upstream/],
    ["a bad login URL", { loginUrl: "nope" }, /loginUrl/],
    ["a bad port", { port: 70000 }, /port/],
  ])("refuses %s before listening", async (_name, change, message) => {
    await expect(start(change as Partial<ProtectOptions>)).rejects.toThrow(message);
  });
});

function rawExchange(baseUrl: string, text: string): Promise<{ status: number; head: string; body: string }> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(text));
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const split = data.indexOf("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), head: data.slice(0, split), body: data.slice(split + 4) });
    });
  });
}
