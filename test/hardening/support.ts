/**
 * Helpers for the hardening tests: a browser-like sign-in form session, the
 * built CLI spawned the way an operator runs it, `ssoctl serve` as a child
 * process, forward-auth probes and raw HTTP over a socket.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { resolveDataDir } from "../../src/data-dir.js";
import { cookiesOf, type TestDataDir } from "../support/server.js";
import { showOnFailure } from "../support/output.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(REPO_ROOT, "bin/ssoctl");

/**
 * A copy of a prepared data directory: argon2 at 64 MiB costs about a second
 * here, so users are hashed once per file and each test gets its own copy.
 */
export function cloneDataDir(template: TestDataDir): TestDataDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-hardening-"));
  const dataDir = resolveDataDir(path.join(dir, "data"));
  fs.cpSync(template.dataDir.dir, dataDir.dir, { recursive: true });
  return { dataDir, secret: template.secret, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The CSRF cookie and form token of one GET /login, reusable for many posts. */
export interface FormSession {
  cookie: string;
  csrf: string;
}

export async function formSession(server: { url: string }): Promise<FormSession> {
  const page = await request(`${server.url}/login`);
  const html = await page.body.text();
  const jar = cookiesOf(page.headers);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (csrf === undefined) throw new Error(`no CSRF token on the login page (status ${page.statusCode})`);
  return { cookie: Object.entries(jar).map(([k, v]) => `${k}=${v}`).join("; "), csrf };
}

/** POST /login as the browser's form would, with an optional X-Forwarded-For. */
export async function postLogin(
  server: { url: string },
  form: FormSession,
  credentials: { username: string; password: string },
  options: { forwardedFor?: string; target?: Record<string, string> } = {},
): Promise<HttpAnswer & { token: string | undefined }> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    cookie: form.cookie,
    origin: server.url,
  };
  if (options.forwardedFor !== undefined) headers["x-forwarded-for"] = options.forwardedFor;
  const response = await request(`${server.url}/login`, {
    method: "POST",
    headers,
    body: new URLSearchParams({ ...options.target, csrf: form.csrf, ...credentials }).toString(),
  });
  const body = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body, token: cookiesOf(response.headers).ssoctl };
}

/** nginx's auth subrequest for a GET of `originalUrl`; the status is what nginx acts on. */
export async function authRequest(server: { url: string }, token: string | undefined, originalUrl: string): Promise<number> {
  const headers: Record<string, string> = { "x-original-url": originalUrl, "x-original-method": "GET" };
  if (token !== undefined) headers.cookie = `ssoctl=${token}`;
  const response = await request(`${server.url}/auth/request`, { headers });
  await response.body.dump();
  return response.statusCode;
}

/** GET /login?rd=… with the login cookie: 303 means the login server still recognises the session. */
export async function loginPageStatus(server: { url: string }, token: string, target: string): Promise<number> {
  const response = await request(`${server.url}/login?rd=${encodeURIComponent(target)}`, { headers: { cookie: `ssoctl=${token}` } });
  await response.body.dump();
  return response.statusCode;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `bin/ssoctl` as a separate process, as an operator would. */
export function runCli(args: string[], options: { input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, SSOCTL_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

export interface ServeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  pid: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** SIGKILL if still running; for cleanup. */
  kill(): Promise<void>;
}

/** `ssoctl serve --port 0 -d DIR …` as a child process; resolves once it listens. */
export async function spawnServe(dataDir: string, extraArgs: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "-d", dataDir, ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SSOCTL_DEBUG: "" },
  });
  let stderr = "";
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  showOnFailure(`ssoctl serve (pid ${child.pid})`, () => output);
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssoctl serve did not start:\n${stderr}`)), 15_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      output += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ssoctl serve exited (${code}) before listening:\n${stderr}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    pid: child.pid!,
    stderr: () => stderr,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** Polls `check` until it returns true; throws with `what` if it never does. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RawAnswer {
  /** The status of the first response, or null when the server closed without one. */
  status: number | null;
  raw: string;
}

/**
 * Writes `chunks` to a fresh connection (one after another) and reads until the
 * server closes it or `timeoutMs` passes; `closeEarly` ends the socket after writing.
 */
export function rawRequest(
  port: number,
  chunks: Array<string | Buffer>,
  options: { timeoutMs?: number; closeEarly?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    const received: Buffer[] = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(received).toString("latin1");
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve({ status: match === null ? null : Number(match[1]), raw });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 3000);
    socket.on("data", (chunk) => received.push(chunk));
    socket.on("close", finish);
    socket.on("error", finish);
    socket.on("connect", () => {
      for (const chunk of chunks) socket.write(chunk);
      if (options.closeEarly) socket.destroy();
    });
  });
}

/** The payload of a JWT, without checking it (the test already knows it is ours). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

export function jwtHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")) as Record<string, unknown>;
}
