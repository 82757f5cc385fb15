import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SsoctlError } from "../../src/errors.js";
import { loadMigrations, migrationsDir } from "../../src/store/migrations.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { testStore } from "./conformance.js";
import { testFactorStore } from "./factors-conformance.js";
import { testSamlStore } from "./saml-conformance.js";

let cluster: TestPostgres;

beforeAll(async () => {
  cluster = await startTestPostgres();
});

afterAll(() => {
  cluster?.destroy();
});

testStore("postgres", async () => {
  const url = await cluster.createDatabase();
  const store = await openPostgresStore(url, { create: true, listen: true });
  const others: PostgresStore[] = [];
  return {
    store,
    connectAgain: async () => {
      const other = await openPostgresStore(url);
      others.push(other);
      return other;
    },
    cleanup: async () => {
      await store.close();
      for (const other of others) await other.close();
    },
  };
});

testFactorStore("postgres", async () => {
  const url = await cluster.createDatabase();
  const store = await openPostgresStore(url, { create: true, listen: true });
  const others: PostgresStore[] = [];
  return {
    store,
    connectAgain: async () => {
      const other = await openPostgresStore(url);
      others.push(other);
      return other;
    },
    cleanup: async () => {
      await store.close();
      for (const other of others) await other.close();
    },
  };
});

testSamlStore("postgres", async () => {
  const url = await cluster.createDatabase();
  const store = await openPostgresStore(url, { create: true, listen: true });
  const others: PostgresStore[] = [];
  return {
    store,
    connectAgain: async () => {
      const other = await openPostgresStore(url);
      others.push(other);
      return other;
    },
    cleanup: async () => {
      await store.close();
      for (const other of others) await other.close();
    },
  };
});

async function errorOf(work: () => Promise<unknown>): Promise<Error> {
  try {
    await work();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("PostgreSQL store", () => {
  it("applies each migration once when several servers start at once, and records the versions", async () => {
    const url = await cluster.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(url, { create: true })));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rows = (await client.query("SELECT version, name FROM schema_migrations ORDER BY version")).rows;
    await client.end();
    expect(rows).toEqual(loadMigrations(migrationsDir("postgres")).map((m) => ({ version: m.version, name: m.name })));
    for (const store of stores) await store.close();
  });

  it("refuses a database without the ssoctl tables unless creating, and says to run init", async () => {
    const url = await cluster.createDatabase();
    const error = await errorOf(() => openPostgresStore(url));
    expect(error).toBeInstanceOf(SsoctlError);
    expect(error.message).toMatch(/has no ssoctl tables; run `ssoctl init`/);
  });

  it("refuses a database newer than this code", async () => {
    const url = await cluster.createDatabase();
    await (await openPostgresStore(url, { create: true })).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    await client.end();
    expect((await errorOf(() => openPostgresStore(url))).message).toMatch(/schema version 999, newer than this ssoctl knows/);
  });

  it("counts failures from several connections at once without losing any", async () => {
    const url = await cluster.createDatabase();
    const first = await openPostgresStore(url, { create: true });
    const stores = [first, await openPostgresStore(url), await openPostgresStore(url)];
    const rule = { limit: 1000, windowSeconds: 600, lockSeconds: 600 };
    await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.recordFailure("user", "alice", rule, 1000)));
    expect((await stores[0]!.getThrottle("user", "alice"))?.failures).toBe(30);
    for (const store of stores) await store.close();
  });

  it("keeps one signing key: never overwritten, replaced only from the key it expects", async () => {
    const url = await cluster.createDatabase();
    const store = await openPostgresStore(url, { create: true });
    expect(await store.signingKey()).toBeNull();
    expect(await store.createSigningKey("first", 1)).toBe(true);
    expect(await store.createSigningKey("second", 2)).toBe(false);
    expect(await store.signingKey()).toBe("first");
    const retired = { kid: "k1", secret: "first", retiredAt: 10, expiresAt: 100 };
    expect(await store.replaceSigningKey("next", { ...retired, secret: "stale" })).toBe(false);
    expect(await store.replaceSigningKey("next", retired)).toBe(true);
    expect(await store.signingKey()).toBe("next");
    expect((await store.liveRetiredKeys(50)).map((k) => k.secret)).toEqual(["first"]);
    await store.close();
  });

  it("iterates users page by page in name order, past the first page", async () => {
    const url = await cluster.createDatabase();
    const store = await openPostgresStore(url, { create: true });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(
      "INSERT INTO users (username, password_hash, created_at) SELECT CASE WHEN n % 2 = 0 THEN 'User' ELSE 'user' END || lpad(n::text, 5, '0'), 'x', 0 FROM generate_series(1, 2500) AS n",
    );
    await client.end();
    const names: string[] = [];
    for await (const user of store.iterateUsers()) names.push(user.username.toLowerCase());
    expect(names).toHaveLength(2500);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(2500);
    await store.close();
  });

  it("changes the counter on every call while not listening, so nothing is cached", async () => {
    const url = await cluster.createDatabase();
    const store = await openPostgresStore(url, { create: true });
    expect(store.changeCounter()).not.toBe(store.changeCounter());
    await store.close();
  });

  it("reports a missing database, a wrong user and a malformed URL as one line without the password", async () => {
    const missing = cluster.url("no_such_db").replace("postgres@", "postgres:hunter2secret@");
    const errors = [
      await errorOf(() => openPostgresStore(missing)),
      await errorOf(() => openPostgresStore(cluster.url("postgres").replace("postgres@", "nobody:hunter2secret@"))),
      await errorOf(() => openPostgresStore("postgres://u:hunter2secret@[::1/db")),
      await errorOf(() => openPostgresStore("mysql://u:hunter2secret@h/db")),
    ];
    expect(errors[0]!.message).toMatch(/the database "no_such_db" does not exist/);
    expect(errors[1]!.message).toMatch(/PostgreSQL refused .*nobody/);
    expect(errors[2]!.message).toMatch(/not a well-formed URL/);
    expect(errors[3]!.message).toMatch(/not a PostgreSQL URL/);
    for (const error of errors) {
      expect(error).toBeInstanceOf(SsoctlError);
      expect(error.message).not.toContain("hunter2secret");
      expect(error.message).not.toContain("\n");
    }
  });
});
