/** Applies `migrations/sqlite/NNN_name.sql` once each, in order, each inside a transaction. */
import type Database from "better-sqlite3";
import { SsoctlError } from "../../errors.js";
import { loadMigrations, migrationsDir, newerSchemaMessage, type Migration } from "../migrations.js";

export { loadMigrations, type Migration } from "../migrations.js";

export function applyMigrations(db: Database.Database, migrations: Migration[] = loadMigrations(migrationsDir("sqlite"))): number {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = new Set(
    db.prepare<[], { version: number }>("SELECT version FROM schema_migrations").all().map((row) => row.version),
  );
  const newer = newerSchemaMessage(Math.max(0, ...applied), migrations);
  if (newer !== null) throw new SsoctlError(newer);
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
