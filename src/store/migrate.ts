/** Applies `migrations/NNN_name.sql` once each, in order, each inside a transaction. */
import type Database from "better-sqlite3";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { SsoctlError } from "../errors.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: fs.readFileSync(`${dir}/${file}`, "utf8"),
    }));
}

export function applyMigrations(db: Database.Database, migrations: Migration[] = loadMigrations()): number {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = new Set(
    db.prepare<[], { version: number }>("SELECT version FROM schema_migrations").all().map((row) => row.version),
  );
  const newest = Math.max(0, ...migrations.map((m) => m.version));
  const databaseNewest = Math.max(0, ...applied);
  if (databaseNewest > newest) {
    throw new SsoctlError(
      `the database has schema version ${databaseNewest}, newer than this ssoctl knows (${newest}); upgrade ssoctl`,
    );
  }
  let count = 0;
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    const apply = db.transaction(() => {
      // Another process may have applied it since we looked: check again under the write lock.
      if (db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(migration.version) !== undefined) return;
      db.exec(migration.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        Math.floor(Date.now() / 1000),
      );
    });
    apply.immediate();
    count += 1;
  }
  return count;
}
