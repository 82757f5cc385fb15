/** `ssoctl protect` with its key and sessions from a PostgreSQL database. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProtect, type ProtectCliOptions } from "../../src/cli/commands/protect.js";
import { rotateKey } from "../../src/keyring.js";
import { DatabaseSigningKeys } from "../../src/signing-keys.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { initPostgresDatabase } from "../support/postgres-server.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { LOGIN_URL, listen, makeToken, type Running } from "../guard/support.js";

let upstream: Running;
let cluster: TestPostgres;
let url: string;
let store: PostgresStore;

beforeAll(async () => {
  upstream = await listen((req, res) => res.end(`hello ${req.headers["remote-user"]}`));
  cluster = await startTestPostgres();
  url = await cluster.createDatabase();
  await initPostgresDatabase(url, { users: [{ username: "erin", password: "erin's long password" }] });
  store = await openPostgresStore(url);
});

afterAll(async () => {
  await store?.close();
  await upstream?.close();
  cluster?.destroy();
});

async function startProtect(options: Partial<ProtectCliOptions>, env: NodeJS.ProcessEnv): Promise<{ url: string; lines: string[]; stop: () => Promise<void> }> {
  const controller = new AbortController();
  const lines: string[] = [];
  let listening!: (url: string) => void;
  const started = new Promise<string>((resolve) => (listening = resolve));
  const done = runProtect(
    { upstream: upstream.url, loginUrl: LOGIN_URL, host: "127.0.0.1", port: "0", logoutUrl: "/", cookieName: "ssoctl", ...options },
    { stopSignal: controller.signal, env, stderr: (line) => lines.push(line), onListening: listening },
  );
  const proxyUrl = await Promise.race([started, done.then(() => "")]);
  return {
    url: proxyUrl,
    lines,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

async function statusWith(proxyUrl: string, token: string): Promise<number> {
  const response = await request(`${proxyUrl}/`, { headers: { cookie: `ssoctl=${token}` } });
  await response.body.dump();
  return response.statusCode;
}

describe("ssoctl protect with a PostgreSQL database", () => {
  it.each([
    ["--database", (u: string) => ({ options: { database: u }, env: {} })],
    ["SSOCTL_DATABASE_URL", (u: string) => ({ options: {}, env: { SSOCTL_DATABASE_URL: u, SSOCTL_DATA_DIR: path.join(os.tmpdir(), "ssoctl-none") } })],
  ])("takes the key from the database given by %s and refuses a revoked session at once", async (_how, given) => {
    const { options, env } = given(url);
    const keys = new DatabaseSigningKeys(store);
    const now = Math.floor(Date.now() / 1000);
    const id = `session-${Math.random().toString(36).slice(2)}`;
    expect(await store.createSession({ id, username: "erin", anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "", userAgent: "" })).toBe(true);
    const proxy = await startProtect(options, env);
    try {
      expect(proxy.lines[0]).toContain("(checking sessions)");
      const token = await makeToken(await keys.current(), { username: "erin", sessionId: id });
      expect(await statusWith(proxy.url, token)).toBe(200);
      await store.deleteSession(id);
      await expect.poll(() => statusWith(proxy.url, token), { timeout: 5000, interval: 20 }).toBe(302);
    } finally {
      await proxy.stop();
    }
  });

  it("follows a key rotation in the database", async () => {
    const keys = new DatabaseSigningKeys(store);
    const proxy = await startProtect({ database: url }, {});
    try {
      const now = Math.floor(Date.now() / 1000);
      await rotateKey(keys, store, 3600, now);
      const id = `session-${Math.random().toString(36).slice(2)}`;
      await store.createSession({ id, username: "erin", anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "", userAgent: "" });
      const token = await makeToken(await keys.current(), { username: "erin", sessionId: id });
      // The proxy rereads its keys every 5 s.
      await expect.poll(() => statusWith(proxy.url, token), { timeout: 15_000, interval: 100 }).toBe(200);
    } finally {
      await proxy.stop();
    }
  });

  it("refuses --database together with --key-file", async () => {
    const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-protect-pg-")), "key");
    await expect(startProtect({ database: url, keyFile }, {})).rejects.toThrow(/--database and --data-dir \/ --key-file all name a key/);
  });
});
