import * as fs from "node:fs";
import * as path from "node:path";
import * as net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyId } from "../../src/token.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { expectError, expectOk, PASSWORD, ssoctl, tempDir } from "./helpers.js";
import { loadMigrations, migrationsDir } from "../../src/store/migrations.js";

let cluster: TestPostgres;
/** Accepts connections and never answers: a host behind a firewall that drops packets looks the same to a client. */
let silent: net.Server;
let silentPort: number;

beforeAll(async () => {
  cluster = await startTestPostgres();
  await cluster.createPasswordRole("carol", "the right password");
  silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});

afterAll(() => {
  silent?.close();
  cluster?.destroy();
});

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** A database made by `ssoctl init` with the URL in the environment, as the README says to. */
async function initDatabase(cwd?: string): Promise<{ url: string; env: Record<string, string> }> {
  const url = await cluster.createDatabase();
  const env = { SSOCTL_DATABASE_URL: url };
  const result = ssoctl(["init"], { env, cwd });
  expectOk(result);
  expect(result.stdout).toMatch(/Created the ssoctl tables and a new signing key in postgres@socket .*\/ssoctl_test_/);
  return { url, env };
}

describe("ssoctl with --database / SSOCTL_DATABASE_URL", () => {
  it("takes libpq's socket forms of the URL: an empty host with ?host=, and a percent-encoded socket directory", async () => {
    const { url } = await initDatabase();
    const name = new URL(url).pathname.slice(1);
    for (const form of [`postgresql://postgres@/${name}?host=${cluster.socketDir}`, `postgresql://${encodeURIComponent(cluster.socketDir)}/${name}?user=postgres`]) {
      expectOk(ssoctl(["user", "add", `u${Math.random().toString(36).slice(2, 8)}`, "--password-stdin", "--database", form], { input: `${PASSWORD}\n` }));
      const listed = ssoctl(["user", "list", "--database", form]);
      expectOk(listed);
    }
  });

  it("init creates the tables and the signing key in the database, and nothing on disk", async () => {
    const cwd = tempDir();
    const { url } = await initDatabase(cwd);
    expect(fs.readdirSync(cwd)).toEqual([]);
    const keys = await sql<{ secret: string }>(url, "SELECT secret FROM signing_key");
    expect(keys).toHaveLength(1);
    expect(keys[0]!.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const versions = await sql<{ version: number }>(url, "SELECT version FROM schema_migrations ORDER BY version");
    // Every migration shipped, whichever they are by now.
    expect(versions).toEqual(loadMigrations(migrationsDir("postgres")).map((m) => ({ version: m.version })));
    // The OpenID provider's signing keys live in the database too (nothing on disk).
    const jwks = await sql<{ jwks: string }>(url, "SELECT jwks FROM oidc_signing_keys");
    expect(JSON.parse(jwks[0]!.jwks).current.map((k: { alg: string }) => k.alg)).toEqual(["RS256", "ES256"]);
  });

  it("init --database advises the variable for what follows", async () => {
    const url = await cluster.createDatabase();
    const result = ssoctl(["init", "--database", url]);
    expectOk(result);
    expect(result.stdout).toMatch(/set SSOCTL_DATABASE_URL to this URL for the commands and every server; an argument shows in ps/);
  });

  it("init refuses a database that has a key already and keeps the key", async () => {
    const { url, env } = await initDatabase();
    const before = await sql(url, "SELECT secret FROM signing_key");
    expectError(ssoctl(["init"], { env }), 1, /is already initialised \(it has a signing key\); ssoctl never overwrites a key/);
    expect(await sql(url, "SELECT secret FROM signing_key")).toEqual(before);
  });

  it("manages users, apps and sessions in the database, with --database as well as the variable", async () => {
    const { url, env } = await initDatabase();
    expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "--groups", "dev"], { env, input: `${PASSWORD}\n` }));
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "--database", url]));
    const users = JSON.parse(ssoctl(["user", "list", "--json"], { env }).stdout) as { username: string; groups: string[] }[];
    expect(users.map((u) => [u.username, u.groups])).toEqual([["alice", ["dev"]]]);
    expect(ssoctl(["app", "list"], { env }).stdout).toContain("https://wiki.example.com");
    const hashes = await sql<{ password_hash: string }>(url, "SELECT password_hash FROM users");
    expect(hashes[0]!.password_hash).toMatch(/^\$argon2id\$/);
    expectOk(ssoctl(["user", "disable", "alice"], { env }));
    expect((await sql<{ disabled: boolean }>(url, "SELECT disabled FROM users"))[0]!.disabled).toBe(true);
  });

  it("key show prints the database's key and key rotate replaces it, keeping the previous one in its grace", async () => {
    const { url, env } = await initDatabase();
    const [{ secret: first }] = (await sql<{ secret: string }>(url, "SELECT secret FROM signing_key")) as [{ secret: string }];
    expect(ssoctl(["key", "show"], { env }).stdout).toBe(`${first}\n`);
    const rotated = ssoctl(["key", "rotate", "--grace", "1h"], { env });
    expectOk(rotated);
    expect(rotated.stdout).toMatch(/Every login server on this database picks the new key up/);
    const [{ secret: next }] = (await sql<{ secret: string }>(url, "SELECT secret FROM signing_key")) as [{ secret: string }];
    expect(next).not.toBe(first);
    expect(rotated.stdout).toContain(keyId(next));
    expect(ssoctl(["key", "show"], { env }).stdout).toBe(`${next}\n`);
    const retired = await sql<{ secret: string; retired_at: number; expires_at: number }>(url, "SELECT secret, retired_at, expires_at FROM retired_keys");
    expect(retired.map((r) => [r.secret, Number(r.expires_at) - Number(r.retired_at)])).toEqual([[first, 3600]]);
  });

  it("connects with the right password of a role that needs one", async () => {
    const url = (await cluster.createDatabase()).replace("postgres@", `carol:${encodeURIComponent("the right password")}@`);
    expectOk(ssoctl(["init"], { env: { SSOCTL_DATABASE_URL: url } }));
    expectOk(ssoctl(["user", "list"], { env: { SSOCTL_DATABASE_URL: url } }));
  });

  it("says to run init on a database without the tables", async () => {
    const url = await cluster.createDatabase();
    expectError(ssoctl(["user", "list"], { env: { SSOCTL_DATABASE_URL: url } }), 1, /has no ssoctl tables; run `ssoctl init` with this database first/);
  });

  it("refuses --data-dir together with a database URL", async () => {
    const url = await cluster.createDatabase();
    expectError(ssoctl(["user", "list", "--data-dir", path.join(tempDir(), "d")], { env: { SSOCTL_DATABASE_URL: url } }), 2, /name two places; give one/);
  });

  describe("bad database URLs: one line saying which and what to do, exit 1 or 2, never the password", () => {
    const secret = "s3cretPassw0rd";
    const cases: [string, () => string, number, RegExp][] = [
      ["a malformed URL", () => `postgres://alice:${secret}@[::1/ssoctl`, 2, /is not a well-formed URL; expected postgres:\/\/USER/],
      ["not a PostgreSQL URL", () => `mysql://alice:${secret}@db/ssoctl`, 2, /is not a PostgreSQL URL/],
      ["a URL without a database", () => `postgres://alice:${secret}@db.example/`, 2, /names no database/],
      ["a missing database", () => cluster.url("nowhere").replace("postgres@", `postgres:${secret}@`), 1, /the database "nowhere" does not exist on socket .*; create it \(createdb nowhere\)/],
      ["an unknown user", () => cluster.url("postgres").replace("postgres@", `mallory:${secret}@`), 1, /PostgreSQL refused mallory@socket/],
      ["a server that is not there", () => `postgres://alice:${secret}@localhost/ssoctl?host=${encodeURIComponent(tempDir())}`, 1, /cannot connect to PostgreSQL at socket .*: no server socket there; is PostgreSQL running\?/],
      ["a closed port", () => `postgres://alice:${secret}@127.0.0.1:1/ssoctl`, 1, /cannot connect to PostgreSQL at 127\.0\.0\.1:1: connection refused/],
      ["an unknown host", () => `postgres://alice:${secret}@no-such-host.invalid/ssoctl`, 1, /the host of no-such-host\.invalid:5432 is unknown/],
      ["a wrong password", () => cluster.url("postgres").replace("postgres@", `carol:${secret}@`), 1, /PostgreSQL refused the password for carol@socket .*; check the password in the URL \(SSOCTL_DATABASE_URL\)/],
      ["a server that never answers", () => `postgres://alice:${secret}@127.0.0.1:${silentPort}/ssoctl`, 1, /no answer from PostgreSQL at 127\.0\.0\.1:\d+ within 5 s; check the host and port/],
    ];
    it.each(cases)("%s", (_what, url, code, message) => {
      for (const result of [ssoctl(["user", "list"], { env: { SSOCTL_DATABASE_URL: url() } }), ssoctl(["app", "list", "--database", url()])]) {
        expectError(result, code, message);
        expect(result.stderr).not.toContain(secret);
      }
    });
  });
});
