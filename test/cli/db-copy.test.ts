/** `ssoctl db copy`: a SQLite installation into PostgreSQL, then served from there. Needs `tsc -p .` first. */
import * as fs from "node:fs";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../src/token.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { startPostgresServer } from "../support/postgres-server.js";
import { fetchPage, signIn } from "../support/server.js";
import { addSession, expectError, expectOk, initDataDir, PASSWORD, query, ssoctl } from "./helpers.js";


const APP = "https://wiki.example.com";
let cluster: TestPostgres;
let dir: string;

beforeAll(async () => {
  cluster = await startTestPostgres();
  dir = initDataDir();
  expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "--name", "Alice", "--groups", "dev,ops", "-d", dir], { input: `${PASSWORD}\n` }));
  expectOk(ssoctl(["user", "add", "Bob", "--password-stdin", "-d", dir], { input: `${PASSWORD}\n` }));
  expectOk(ssoctl(["user", "disable", "bob", "-d", dir]));
  expectOk(ssoctl(["app", "add", APP, "--name", "wiki", "--allow-group", "dev", "-d", dir]));
  expectOk(ssoctl(["rule", "add", "wiki", "--path", "/admin", "--method", "POST", "--policy", "two_factor", "--allow-user", "alice", "-d", dir]));
  expectOk(ssoctl(["key", "rotate", "--grace", "1h", "-d", dir]));
  expectOk(ssoctl(["client", "add", "grafana", "--redirect-uri", "https://grafana.example.com/cb", "-d", dir]));
  query(dir, "INSERT INTO oidc_subjects (user_id, sub) SELECT id, 'alice-subject' FROM users WHERE username = 'alice' RETURNING 1");
  addSession(dir, "live-session", "alice");
  addSession(dir, "old-session", "alice", { expiresAt: 1000 });
  // CAS (issue 14): the ticket of a live session is copied (single logout needs it), an ended session's is not.
  query(dir, "INSERT INTO cas_tickets (id, session_id, username, service, from_sso, created_at, expires_at) VALUES (?, 'live-session', 'alice', ?, 1, 1, 2) RETURNING 1", "ST-" + "a".repeat(40), `${APP}/cas`);
  query(dir, "INSERT INTO cas_tickets (id, session_id, username, service, from_sso, created_at, expires_at) VALUES (?, 'old-session', 'alice', ?, 1, 1, 2) RETURNING 1", "ST-" + "b".repeat(40), `${APP}/cas`);
  query(dir, "INSERT INTO throttle (scope, key, failures, window_start, locked_until) VALUES ('addr', '192.0.2.9', 2, ?, 0) RETURNING 1", Math.floor(Date.now() / 1000));
  // SAML: the SP with its NameID key, and the IdP's signing key (a setting).
  query(dir, "INSERT INTO saml_sps (entity_id, app_origin, metadata, idp_initiated, nameid_secret, created_at) VALUES ('https://wiki.example.com/sp', ?, '<md/>', 1, 'nameid-key', 5) RETURNING 1", APP);
});

afterAll(() => {
  cluster?.destroy();
});

async function rows<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe("ssoctl db copy", () => {
  it("copies everything into an empty database, says what it copied, and the copy serves the same logins", async () => {
    const url = await cluster.createDatabase();
    const secret = fs.readFileSync(path.join(dir, "secret.key"), "utf8").trim();
    const result = ssoctl(["db", "copy", "-d", dir], { env: { SSOCTL_DATABASE_URL: url } });
    expectOk(result);
    expect(result.stdout).toContain(`Copied ${dir} into postgres@socket`);
    expect(result.stdout).toMatch(/2 user\(s\) with their password hashes, 1 app\(s\) with 1 access rule\(s\), 1 live session\(s\),/);
    expect(result.stdout).toMatch(/1 throttling entry, the signing key and 1 retired key\(s\), \d+ audit row\(s\)\./);

    const env = { SSOCTL_DATABASE_URL: url };
    expect(ssoctl(["key", "show"], { env }).stdout).toBe(`${secret}\n`);
    const users = JSON.parse(ssoctl(["user", "list", "--json"], { env }).stdout) as { username: string; groups: string[]; disabled: boolean }[];
    expect(users.map((u) => [u.username, u.groups, u.disabled])).toEqual([
      ["alice", ["dev", "ops"], false],
      ["Bob", [], true],
    ]);
    expect(ssoctl(["app", "list"], { env }).stdout).toMatch(/wiki\s+https:\/\/wiki\.example\.com\s+one_factor\s+group:dev/);
    expect(JSON.parse(ssoctl(["rule", "list", "--json"], { env }).stdout)).toEqual([
      expect.objectContaining({ app: "wiki", path: "/admin", methods: ["POST"], policy: "two_factor", groups: [], users: ["alice"] }),
    ]);
    const audit = await rows<{ event: string }>(url, "SELECT event FROM audit ORDER BY id");
    expect(audit.map((a) => a.event)).toEqual(query<{ event: string }>(dir, "SELECT event FROM audit ORDER BY id").map((a) => a.event));
    expect(await rows(url, "SELECT scope, key, failures FROM throttle")).toEqual([{ scope: "addr", key: "192.0.2.9", failures: 2 }]);
    expect(await rows(url, "SELECT id, session_id, service, used FROM cas_tickets")).toEqual([{ id: "ST-" + "a".repeat(40), session_id: "live-session", service: `${APP}/cas`, used: true }]);
    // OpenID Connect: the client (its secret's hash), alice's subject and the provider's keys.
    expect(await rows(url, "SELECT name, client_id, secret_hash FROM oidc_clients")).toEqual(query(dir, "SELECT name, client_id, secret_hash FROM oidc_clients"));
    expect(await rows(url, "SELECT u.username, s.sub FROM oidc_subjects s JOIN users u ON u.id = s.user_id")).toEqual([{ username: "alice", sub: "alice-subject" }]);
    expect(await rows(url, "SELECT entity_id, app_origin, idp_initiated, nameid_secret FROM saml_sps")).toEqual([{ entity_id: "https://wiki.example.com/sp", app_origin: APP, idp_initiated: true, nameid_secret: "nameid-key" }]);
    expect(await rows(url, "SELECT value FROM settings WHERE key = 'saml_signing_keys'")).toEqual(query(dir, "SELECT value FROM settings WHERE key = 'saml_signing_keys'"));
    const jwks = await rows<{ jwks: string }>(url, "SELECT jwks FROM oidc_signing_keys");
    expect(jwks[0]!.jwks).toBe(fs.readFileSync(path.join(dir, "oidc-keys.json"), "utf8").trim());

    const server = await startPostgresServer(url);
    try {
      // A login made before the move (signed with the same key, its session copied) is still valid.
      const now = Math.floor(Date.now() / 1000);
      const token = await signToken({ username: "alice", sessionId: "live-session", issuedAt: now, expiresAt: now + 600, issuer: server.login.context.config.publicUrl, anonymous: false }, secret);
      const auth = await fetchPage(`${server.url}/auth/request`, { headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP}/`, "x-original-method": "GET" } });
      expect(auth.status).toBe(200);
      expect(auth.headers["remote-user"]).toBe("alice");
      // The password hash moved: alice signs in with her password.
      const signedIn = await signIn({ url: server.url }, { username: "alice", password: PASSWORD }, { rd: `${APP}/` });
      expect(signedIn.cookie).toBeDefined();
    } finally {
      await server.close();
    }
  });

  it("refuses a database that is not empty, and changes nothing in it", async () => {
    const url = await cluster.createDatabase();
    expectOk(ssoctl(["init"], { env: { SSOCTL_DATABASE_URL: url } }));
    const before = await rows(url, "SELECT secret FROM signing_key");
    expectError(ssoctl(["db", "copy", "-d", dir], { env: { SSOCTL_DATABASE_URL: url } }), 1, /is not empty; db copy only writes into an empty database/);
    expect(await rows(url, "SELECT secret FROM signing_key")).toEqual(before);
    expect(await rows(url, "SELECT * FROM users")).toEqual([]);
  });

  it("says where the database should come from when none is given", () => {
    expectError(ssoctl(["db", "copy", "-d", dir]), 2, /db copy needs the PostgreSQL database: set SSOCTL_DATABASE_URL/);
  });

  it("reports a malformed --to in one line without its password, and reads nothing", () => {
    const result = ssoctl(["db", "copy", "-d", dir, "--to", "postgres://u:TopSecret9@[bad/db"]);
    expectError(result, 2, /--to postgres:.* is not a well-formed URL/);
    expect(result.stderr).not.toContain("TopSecret9");
  });
});
