/** `ssoctl serve` run as a user runs it: start-up message, graceful SIGTERM, and refusals of bad options. Needs `tsc -p .` first. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { SSOCTL_BIN, cookieHeader, fetchPage, makeDataDir, openLoginForm, runCli, signIn, type TestDataDir } from "../support/server.js";
import { showOnFailure } from "../support/output.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };

interface Serving {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `ssoctl serve --port 0` and waits for "login server listening on http://…". */
async function serve(dataDir: string, extra: string[] = []): Promise<Serving> {
  const child = spawn(process.execPath, [SSOCTL_BIN, "serve", "--port", "0", "-d", dataDir, ...extra], { env: { ...process.env, SSOCTL_DEBUG: "" } });
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  showOnFailure(`ssoctl serve (pid ${child.pid})`, () => `${stderr}${stdout}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 15_000);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /login server listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, stdout: () => stdout, exited };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("ssoctl serve", () => {
  let data: TestDataDir;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
  });
  afterAll(() => data.cleanup());

  it("prints where it listens, serves sign-ins, and writes audit lines to stdout", async () => {
    const running = await serve(data.dataDir.dir);
    try {
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // With --port 0 and no --public-url, the public URL is the address actually bound.
      expect(running.stderr()).toContain(`(public URL ${running.url})`);
      const health = await fetchPage(`${running.url}/healthz`);
      expect(health.status).toBe(200);
      const result = await signIn({ url: running.url }, ALICE, { rd: `${APP}/` });
      expect(result.status).toBe(303);
      await waitFor(() => running.stdout().includes('"login.success"'));
      expect(running.stdout()).not.toContain(ALICE.password);
    } finally {
      running.child.kill("SIGTERM");
      expect((await running.exited).code).toBe(0);
    }
  });

  it("applies --no-redirect, --cookie-name, --session-ttl and --title", async () => {
    const running = await serve(data.dataDir.dir, ["--no-redirect", "--cookie-name", "corp_sso", "--session-ttl", "2h", "--title", "Acme <SSO>"]);
    try {
      const { page, csrf, cookies } = await openLoginForm({ url: running.url }, { rd: `${APP}/x` });
      expect(page.body).toContain('<span class="brand-name">Acme &lt;SSO&gt;</span>');
      expect(Object.keys(cookies)).toEqual(["corp_sso_csrf"]);
      const response = await fetchPage(`${running.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookieHeader(cookies), origin: running.url },
        body: new URLSearchParams({ rd: `${APP}/x`, csrf, ...ALICE }).toString(),
      });
      expect(response.status).toBe(200);
      expect(response.body).toContain(`href="${APP}/x"`);
      const setCookie = [response.headers["set-cookie"]].flat().find((l) => String(l).startsWith("corp_sso="));
      expect(setCookie).toMatch(/; Max-Age=7200(;|$)/);
    } finally {
      running.child.kill("SIGTERM");
      expect((await running.exited).code).toBe(0);
    }
  });

  it("on SIGTERM stops accepting, finishes the request in flight, and exits 0", async () => {
    const running = await serve(data.dataDir.dir);
    const { csrf, cookies } = await openLoginForm({ url: running.url }, { rd: `${APP}/` });
    const body = new URLSearchParams({ rd: `${APP}/`, csrf, ...ALICE }).toString();
    const { port } = new URL(running.url);
    const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
    await new Promise((resolve) => socket.once("connect", resolve));
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    // A slow upload: headers and half the body now, the rest after the signal.
    socket.write(
      [
        "POST /login HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/x-www-form-urlencoded",
        `Content-Length: ${body.length}`,
        `Cookie: ${cookieHeader(cookies)}`,
        `Origin: ${running.url}`,
        "",
        body.slice(0, 10),
      ].join("\r\n"),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalledAt = Date.now();
    running.child.kill("SIGTERM");
    await waitFor(() => running.stderr().includes("SIGTERM received"));
    const refused = await fetchPage(`${running.url}/healthz`).then(
      () => "served",
      (error: NodeJS.ErrnoException) => error.code ?? "error",
    );
    expect(refused).toBe("ECONNREFUSED");
    socket.write(body.slice(10));
    await waitFor(() => answer.includes("\r\n\r\n"), 8000);
    expect(answer).toMatch(/^HTTP\/1\.1 303 /);
    expect(answer).toContain(`Location: ${APP}/`);
    expect(answer).toMatch(/Set-Cookie: ssoctl=ey/);
    // The answer closes the keep-alive connection, so it does not hold the exit back until its 5 s timeout.
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    const answeredAt = Date.now();
    const exit = await running.exited;
    socket.destroy();
    expect(exit.code).toBe(0);
    expect(Date.now() - answeredAt).toBeLessThan(3000);
  });

  it.each([
    [["--port", "abc"], /--port/],
    [["--port", "70000"], /--port/],
    [["--session-ttl", "5x"], /--session-ttl/],
    [["--session-ttl", "30s"], /--session-ttl/],
    [["--public-url", "ftp://x"], /--public-url/],
    [["--public-url", "not a url"], /--public-url/],
    [["--cookie-name", "a b"], /--cookie-name/],
    [["--cookie-domain", "exa mple.com"], /--cookie-domain/],
    [["--public-url", "https://sso.example.net", "--cookie-domain", "example.com"], /^ssoctl: the public URL's host sso\.example\.net is not inside --cookie-domain example\.com: browsers refuse the login cookie; --cookie-domain example\.net/],
    [["--public-url", "https://example.com.evil.org", "--cookie-domain", "example.com"], /is not inside --cookie-domain example\.com/],
    [["--public-url", "http://192.168.1.10:8080", "--cookie-domain", "example.com"], /on an IP address \(192\.168\.1\.10\): browsers refuse the cookie; use a host name in --public-url/],
    [["--trusted-proxy", "300.1.1.1/8"], /--trusted-proxy/],
    [["--trusted-proxy", "10.0.0.0/33"], /--trusted-proxy/],
    [["--no-such-option"], /unknown option/],
  ])("refuses %j with exit 2 and one ssoctl: line", async (args, message) => {
    const result = await runCli(["serve", "-d", data.dataDir.dir, ...args]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("(run with --help"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ssoctl: /);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe("");
  });

  it("exits 1 with a clear message when the port is in use", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const result = await runCli(["serve", "--port", String(port), "-d", data.dataDir.dir]);
      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd()).toBe(`ssoctl: 127.0.0.1:${port} is already in use; choose another --port`);
    } finally {
      blocker.close();
    }
  });

  it("exits 1 and says to run ssoctl init when the data directory was never initialised", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-empty-"));
    try {
      const result = await runCli(["serve", "--port", "0", "-d", path.join(empty, "data")]);
      expect(result.code).toBe(1);
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^ssoctl: .*ssoctl init/);
      expect(fs.existsSync(path.join(empty, "data"))).toBe(false);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
