import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SsoctlError } from "../../src/errors.js";
import { applyMigrations, loadMigrations, type Migration } from "../../src/store/sqlite/migrate.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { migrationsDir } from "../../src/store/migrations.js";
import { testStore } from "./conformance.js";
import { testFactorStore } from "./factors-conformance.js";
import { testSamlStore } from "./saml-conformance.js";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-store-"));
}

testStore("sqlite", async () => {
  const dir = tempDir();
  const file = path.join(dir, "ssoctl.db");
  const store = openSqliteStore(file, { create: true });
  return {
    store,
    connectAgain: async () => openSqliteStore(file),
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

testFactorStore("sqlite", async () => {
  const dir = tempDir();
  const file = path.join(dir, "ssoctl.db");
  const store = openSqliteStore(file, { create: true });
  return {
    store,
    connectAgain: async () => openSqliteStore(file),
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

testSamlStore("sqlite", async () => {
  const dir = tempDir();
  const file = path.join(dir, "ssoctl.db");
  const store = openSqliteStore(file, { create: true });
  return {
    store,
    connectAgain: async () => openSqliteStore(file),
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("SQLite store on disk", () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, "ssoctl.db");
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("uses WAL, a busy timeout and foreign keys", async () => {
    const store = openSqliteStore(file, { create: true });
    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    expect(store.db.pragma("foreign_keys", { simple: true })).toBe(1);
    await store.close();
  });

  it("keeps data across connections", async () => {
    const first = openSqliteStore(file, { create: true });
    await first.addApp({ name: "wiki", origin: "https://wiki.example.com" }, 1);
    await first.close();
    const second = openSqliteStore(file);
    expect((await second.listApps()).map((a) => a.origin)).toEqual(["https://wiki.example.com"]);
    await second.close();
  });

  it("refuses to create a database unless asked to, and says to run init", () => {
    expect(() => openSqliteStore(file)).toThrow(SsoctlError);
    expect(() => openSqliteStore(file)).toThrow(/ssoctl init/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("reports a file that is not a database as one line, without changing it", () => {
    const garbage = Buffer.from("this is not an sqlite database, just some text that is long enough ".repeat(20));
    fs.writeFileSync(file, garbage);
    let error: unknown;
    try {
      openSqliteStore(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SsoctlError);
    expect((error as Error).message).toMatch(/not an SQLite database or is corrupt/);
    expect((error as Error).message).not.toContain("\n");
    expect(fs.readFileSync(file).equals(garbage)).toBe(true);
  });

  it("keeps answering when the CLI and a server write at once (no SQLITE_BUSY)", async () => {
    const a = openSqliteStore(file, { create: true });
    const b = openSqliteStore(file);
    for (let i = 0; i < 50; i++) {
      await a.audit({ at: i, event: "a" });
      await b.createSession({ id: `s${i}`, username: "x", anonymous: true, createdAt: 0, expiresAt: 10, clientAddr: "", userAgent: "" });
    }
    expect(await a.listAudit(100)).toHaveLength(50);
    expect(await a.listSessions({}, 0)).toHaveLength(50);
    await a.close();
    await b.close();
  });
});

describe("migrations", () => {
  let dir: string;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function versions(db: Database.Database): { version: number; name: string }[] {
    return db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all() as { version: number; name: string }[];
  }

  it("ships 001_initial and records it when a database is created", async () => {
    expect(loadMigrations(migrationsDir("sqlite")).map((m) => [m.version, m.name])[0]).toEqual([1, "initial"]);
    const file = path.join(dir, "ssoctl.db");
    const store = openSqliteStore(file, { create: true });
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(versions(db)).toEqual(loadMigrations(migrationsDir("sqlite")).map((m) => ({ version: m.version, name: m.name })));
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(["users", "apps", "sessions", "throttle", "retired_keys", "audit"]));
    db.close();
  });

  it("applies each migration once, in order", () => {
    const db = new Database(":memory:");
    const migrations: Migration[] = [
      { version: 1, name: "one", sql: "CREATE TABLE log (step TEXT); INSERT INTO log VALUES ('one');" },
      { version: 2, name: "two", sql: "INSERT INTO log VALUES ('two');" },
    ];
    expect(applyMigrations(db, migrations)).toBe(2);
    expect(applyMigrations(db, migrations)).toBe(0);
    const three = [...migrations, { version: 3, name: "three", sql: "INSERT INTO log VALUES ('three');" }];
    expect(applyMigrations(db, three)).toBe(1);
    expect(db.prepare("SELECT step FROM log").all()).toEqual([{ step: "one" }, { step: "two" }, { step: "three" }]);
    expect(versions(db)).toEqual([
      { version: 1, name: "one" },
      { version: 2, name: "two" },
      { version: 3, name: "three" },
    ]);
    db.close();
  });

  it("reads migration files in numeric order and ignores other files", () => {
    fs.writeFileSync(path.join(dir, "002_second.sql"), "SELECT 2;");
    fs.writeFileSync(path.join(dir, "001_first.sql"), "SELECT 1;");
    fs.writeFileSync(path.join(dir, "README.md"), "not a migration");
    fs.writeFileSync(path.join(dir, "3_bad_name.sql"), "SELECT 3;");
    expect(loadMigrations(dir)).toEqual([
      { version: 1, name: "first", sql: "SELECT 1;" },
      { version: 2, name: "second", sql: "SELECT 2;" },
    ]);
  });

  it("rolls back a failing migration entirely and records nothing for it", () => {
    const db = new Database(":memory:");
    const migrations: Migration[] = [
      { version: 1, name: "one", sql: "CREATE TABLE a (x);" },
      { version: 2, name: "broken", sql: "CREATE TABLE b (x); INSERT INTO nowhere VALUES (1);" },
    ];
    expect(() => applyMigrations(db, migrations)).toThrow();
    expect(versions(db)).toEqual([{ version: 1, name: "one" }]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").all()).toEqual([]);
    db.close();
  });

  it("refuses a database newer than this code with a clear error", async () => {
    const file = path.join(dir, "ssoctl.db");
    const store = openSqliteStore(file, { create: true });
    await store.close();
    const db = new Database(file);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();
    let error: unknown;
    try {
      openSqliteStore(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SsoctlError);
    expect((error as Error).message).toMatch(/schema version 999, newer than this ssoctl knows/);
    expect((error as Error).message).toMatch(/upgrade ssoctl/);
  });
});
