/**
 * Test fixtures: a real data directory (real SQLite file, real key) and the real
 * login server on an ephemeral 127.0.0.1 port, stopped by the test.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { createPrivateFile, generateSecret, readSecret, resolveDataDir, type DataDir } from "../../src/data-dir.js";
import { hashPassword } from "../../src/passwords.js";
import type { PasswordHasher } from "../../src/password-hasher.js";
import type { ClientAccessCheck } from "../../src/protocols/oidc/provider.js";
import { resolveServerConfig, type ServerConfigInput } from "../../src/server/config.js";
import { startLoginServer, type LoginServer } from "../../src/server/app.js";
import type { MailSettings } from "../../src/mail/settings.js";
import type { NotifierOptions } from "../../src/mail/notifier.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.js";

export interface TestUser {
  username: string;
  password: string;
  name?: string;
  email?: string;
  groups?: string[];
  disabled?: boolean;
}

export interface TestDataDir {
  dataDir: DataDir;
  secret: string;
  cleanup(): void;
}

/** `ssoctl init` in a temporary directory, plus users and apps added directly. */
export async function makeDataDir(options: { users?: TestUser[]; apps?: string[] } = {}): Promise<TestDataDir> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-test-"));
  const dataDir = resolveDataDir(path.join(dir, "data"));
  fs.mkdirSync(dataDir.dir, { mode: 0o700 });
  createPrivateFile(dataDir.dbPath, "");
  createPrivateFile(dataDir.keyPath, generateSecret() + "\n");
  const store = openSqliteStore(dataDir.dbPath, { create: true });
  const now = Math.floor(Date.now() / 1000);
  for (const user of options.users ?? []) {
    await store.createUser(
      {
        username: user.username,
        name: user.name ?? "",
        email: user.email ?? "",
        groups: user.groups ?? [],
        passwordHash: await hashPassword(user.password),
      },
      now,
    );
    if (user.disabled) await store.setDisabled(user.username, true);
  }
  for (const origin of options.apps ?? []) await store.addApp({ name: new URL(origin).host, origin }, now);
  await store.close();
  return { dataDir, secret: readSecret(dataDir), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningServer {
  url: string;
  login: LoginServer;
  /** A second connection to the same database, as the CLI would have. */
  store: SqliteStore;
  auditLines: string[];
  close(): Promise<void>;
}

/** The real login server on 127.0.0.1:0 over the data directory. */
export async function startServer(
  data: TestDataDir,
  config: ServerConfigInput = {},
  clock?: () => number,
  deps: { hasher?: PasswordHasher; oidcAccess?: ClientAccessCheck; mail?: MailSettings | null; mailOutbox?: NotifierOptions["outbox"] } = {},
): Promise<RunningServer> {
  const serverStore = openSqliteStore(data.dataDir.dbPath);
  const auditLines: string[] = [];
  const resolved = resolveServerConfig({ host: "127.0.0.1", port: 0, ...config });
  const login = await startLoginServer(resolved, {
    store: serverStore,
    dataDir: data.dataDir,
    clock,
    auditWrite: (line) => auditLines.push(line),
    ...deps,
  });
  const store = openSqliteStore(data.dataDir.dbPath);
  return {
    url: login.url,
    login,
    store,
    auditLines,
    close: async () => {
      await login.close(2000);
      await serverStore.close();
      await store.close();
    },
  };
}

/** Cookies of a response as name → value. */
export function cookiesOf(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const raw = headers["set-cookie"];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const jar: Record<string, string> = {};
  for (const line of list) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    jar[pair!.slice(0, eq)] = pair!.slice(eq + 1);
  }
  return jar;
}

/** GET /login, then POST the form as a browser would; returns the response and the login cookie. */
export async function signIn(
  server: { url: string },
  credentials: { username: string; password: string },
  target: Record<string, string> = {},
): Promise<{ status: number; location: string | undefined; cookie: string | undefined; body: string }> {
  const query = new URLSearchParams(target).toString();
  const page = await request(`${server.url}/login${query ? `?${query}` : ""}`);
  const html = await page.body.text();
  const csrfCookies = cookiesOf(page.headers);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  const form = new URLSearchParams({ ...target, csrf, username: credentials.username, password: credentials.password });
  const response = await request(`${server.url}/login`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: Object.entries(csrfCookies).map(([k, v]) => `${k}=${v}`).join("; "),
      origin: server.url,
    },
    body: form.toString(),
  });
  const body = await response.body.text();
  const location = response.headers.location as string | undefined;
  return { status: response.statusCode, location, cookie: cookiesOf(response.headers).ssoctl, body };
}

export type Headers = Record<string, string | string[] | undefined>;

export interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

/** A `Cookie` header from name → value pairs (undefined values are left out). */
export function cookieHeader(jar: Record<string, string | undefined>): string {
  return Object.entries(jar)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
}

/** One HTTP request with undici; the body read as text. */
export async function fetchPage(
  url: string,
  options: { method?: "GET" | "POST" | "HEAD" | "PUT" | "DELETE"; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const response = await request(url, { method: options.method ?? "GET", headers: options.headers, body: options.body });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

/** GET /login with a target, as a browser arriving from an app: the page, its CSRF token and the cookies it set. */
export async function openLoginForm(
  server: { url: string },
  target: Record<string, string> = {},
  options: { cookie?: string } = {},
): Promise<{ page: Reply; csrf: string; cookies: Record<string, string> }> {
  const query = new URLSearchParams(target).toString();
  const page = await fetchPage(`${server.url}/login${query ? `?${query}` : ""}`, {
    headers: options.cookie === undefined ? {} : { cookie: options.cookie },
  });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? "";
  return { page, csrf, cookies: cookiesOf(page.headers) };
}

/** POST an urlencoded form the way a browser submits one from the login server's own page. */
export async function postForm(
  server: { url: string },
  pathname: string,
  form: Record<string, string> | string,
  options: { cookie?: string; origin?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", ...options.headers };
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  const origin = options.origin === undefined ? server.url : options.origin;
  if (origin !== null) headers.origin = origin;
  const body = typeof form === "string" ? form : new URLSearchParams(form).toString();
  return fetchPage(`${server.url}${pathname}`, { method: "POST", headers, body });
}

/** Sends raw bytes over a TCP socket and collects everything the server answers until it closes or `idleMs` passes. */
export async function rawExchange(url: string, data: string | Buffer, options: { idleMs?: number; endAfterWrite?: boolean } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(finish, options.idleMs ?? 1000);
    };
    socket.on("connect", () => {
      socket.write(data);
      if (options.endAfterWrite) socket.end();
      arm();
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      arm();
    });
    socket.on("close", finish);
    socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" ? finish() : reject(error)));
  });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The built `ssoctl` binary (bin/ssoctl over dist/), run as a user would; needs `tsc -p .` first. */
export const SSOCTL_BIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../bin/ssoctl");

export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SSOCTL_BIN, ...args], {
      env: { ...process.env, SSOCTL_DEBUG: "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}
