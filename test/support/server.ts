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
import { resolveServerConfig, type ServerConfigInput } from "../../src/server/config.js";
import { startLoginServer, type LoginServer } from "../../src/server/app.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.js";

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
export async function startServer(data: TestDataDir, config: ServerConfigInput = {}, clock?: () => number): Promise<RunningServer> {
  const serverStore = openSqliteStore(data.dataDir.dbPath);
  const auditLines: string[] = [];
  const resolved = resolveServerConfig({ host: "127.0.0.1", port: 0, ...config });
  const login = await startLoginServer(resolved, {
    store: serverStore,
    dataDir: data.dataDir,
    clock,
    auditWrite: (line) => auditLines.push(line),
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
